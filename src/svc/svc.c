/*
 * svc.c - submitting prepared writes: to the group-commit writer when the
 * service has one, else applied at once on the caller's connection.
 */
#include "svc/svc.h"

#include <pthread.h>
#include <stdbool.h>

void eg_svc_submit(struct eg_svc *svc, struct eg_write *w)
{
    if (svc->writer != NULL) {
        eg_writer_submit(svc->writer, w);
        return;
    }
    struct eg_store_conn *c = eg_store_conn(svc->store);
    int rc = c == NULL ? EG_EUNAVAILABLE : eg_store_apply(c, w, 1);
    if (rc != 0)
        w->rc = rc;
    w->done(w);
}

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void wake(struct eg_write *w)
{
    struct waiter *wt = w->ctx;
    pthread_mutex_lock(&wt->lock);
    wt->done = true;
    pthread_cond_signal(&wt->cond);
    pthread_mutex_unlock(&wt->lock);
}

int eg_svc_write_sync(struct eg_svc *svc, struct eg_write *w)
{
    struct waiter wt = {.done = false};
    pthread_mutex_init(&wt.lock, NULL);
    pthread_cond_init(&wt.cond, NULL);
    w->done = wake;
    w->ctx = &wt;
    eg_svc_submit(svc, w);
    pthread_mutex_lock(&wt.lock);
    while (!wt.done)
        pthread_cond_wait(&wt.cond, &wt.lock);
    pthread_mutex_unlock(&wt.lock);
    pthread_cond_destroy(&wt.cond);
    pthread_mutex_destroy(&wt.lock);
    return w->rc;
}
