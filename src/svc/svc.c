/*
 * svc.c - submitting prepared writes: to the group-commit writer when the
 * service has one, else applied at once on the caller's connection.
 */
#include "svc/svc.h"

#include "core/pool.h"

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

static void wake(struct eg_write *w)
{
    eg_waiter_wake(w->ctx);
}

int eg_svc_write_sync(struct eg_svc *svc, struct eg_write *w)
{
    struct eg_waiter wt;
    eg_waiter_init(&wt);
    w->done = wake;
    w->ctx = &wt;
    eg_svc_submit(svc, w);
    eg_waiter_wait(&wt);
    return w->rc;
}
