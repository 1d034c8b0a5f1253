/*
 * writer.c - group commit: one thread drains the queue into one transaction.
 *
 * Invariant: a write's done callback runs only after eg_store_apply returned
 * for the batch holding it, i.e. after the commit is durable. The queue is a
 * singly linked list guarded by `lock`; the writer swaps the whole list out
 * and applies it in submission order.
 *
 * The done callbacks run on a second thread, the completer: a callback
 * resumes an HTTP connection, which costs a system call that wakes the HTTP
 * thread, and a batch of 30 of them is time the single writer would
 * otherwise not spend committing the next batch (bench/README.md).
 */
#include "store/writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/util.h"

#define BATCH_MAX 512

struct eg_writer {
    struct eg_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct eg_write *head, *tail; /* guarded by lock */
    bool stopping;                /* guarded by lock */
    pthread_t completer;
    pthread_cond_t done_cond;
    struct eg_write *done_head, *done_tail; /* guarded by lock */
    bool writer_gone;                        /* guarded by lock */
    uint64_t batches, writes, commit_us; /* guarded by lock */
    struct eg_write batch[BATCH_MAX];    /* the writer thread's own */
    struct eg_write *orig[BATCH_MAX];
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void run_batch(struct eg_writer *wr, struct eg_store_conn *c,
                      struct eg_write *list)
{
    struct eg_write *batch = wr->batch;
    struct eg_write **orig = wr->orig;

    while (list != NULL) {
        size_t n = 0;
        while (list != NULL && n < BATCH_MAX) {
            orig[n] = list;
            batch[n] = *list;
            list = list->next;
            n++;
        }
        uint64_t t0 = now_us();
        int rc = c ? eg_store_apply(c, batch, n) : EG_EUNAVAILABLE;
        uint64_t t1 = now_us();
        for (size_t i = 0; i < n; i++) {
            struct eg_write *w = orig[i];
            w->u = batch[i].u;
            w->rc = rc != 0 ? rc : batch[i].rc;
            w->next = i + 1 < n ? orig[i + 1] : NULL;
        }
        pthread_mutex_lock(&wr->lock);
        wr->batches++;
        wr->writes += n;
        wr->commit_us += t1 - t0;
        if (wr->done_tail != NULL)
            wr->done_tail->next = orig[0];
        else
            wr->done_head = orig[0];
        wr->done_tail = orig[n - 1];
        pthread_cond_signal(&wr->done_cond);
        pthread_mutex_unlock(&wr->lock);
    }
}

/* The completer: calls the done callbacks of committed batches, in order. */
static void *completer_main(void *arg)
{
    struct eg_writer *wr = arg;
    pthread_mutex_lock(&wr->lock);
    for (;;) {
        while (wr->done_head == NULL && !wr->writer_gone)
            pthread_cond_wait(&wr->done_cond, &wr->lock);
        if (wr->done_head == NULL)
            break;
        struct eg_write *list = wr->done_head;
        wr->done_head = wr->done_tail = NULL;
        pthread_mutex_unlock(&wr->lock);
        while (list != NULL) {
            struct eg_write *w = list;
            list = w->next; /* w is the callback's once it is called */
            w->done(w);
        }
        pthread_mutex_lock(&wr->lock);
    }
    pthread_mutex_unlock(&wr->lock);
    return NULL;
}

/* Wait on cond until the monotonic time `until_us` (0: no deadline). */
static void wait_until(pthread_cond_t *cond, pthread_mutex_t *lock,
                       uint64_t until_us)
{
    if (until_us == 0) {
        pthread_cond_wait(cond, lock);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(until_us / 1000000u),
                          .tv_nsec = (long)(until_us % 1000000u) * 1000};
    pthread_cond_timedwait(cond, lock, &ts);
}

/* The writer. With a read cache (C32) it also watches the store for other
 * processes' commits every EG_STORE_WATCH_MS, busy or idle. */
static void *writer_main(void *arg)
{
    struct eg_writer *wr = arg;
    struct eg_store_conn *c = eg_store_conn(wr->store);
    if (c == NULL) {
        eg_log(EG_LOG_ERROR, "store: the writer cannot open a connection");
        eg_store_cache_off(wr->store); /* nothing can watch it (C32) */
    }
    bool watching = c != NULL;
    uint64_t next_watch = 0;
    pthread_mutex_lock(&wr->lock);
    for (;;) {
        if (watching && now_us() >= next_watch) {
            pthread_mutex_unlock(&wr->lock);
            watching = eg_store_watch(c);
            next_watch = now_us() + EG_STORE_WATCH_MS * 1000u;
            pthread_mutex_lock(&wr->lock);
        }
        if (wr->head == NULL && !wr->stopping) {
            wait_until(&wr->cond, &wr->lock, watching ? next_watch : 0);
            continue;
        }
        if (wr->head == NULL)
            break;
        struct eg_write *list = wr->head;
        wr->head = wr->tail = NULL;
        pthread_mutex_unlock(&wr->lock);
        run_batch(wr, c, list);
        pthread_mutex_lock(&wr->lock);
    }
    pthread_mutex_unlock(&wr->lock);
    return NULL;
}

int eg_writer_start(struct eg_store *s, struct eg_writer **out)
{
    struct eg_writer *wr = calloc(1, sizeof(*wr));
    if (wr == NULL)
        abort();
    wr->store = s;
    pthread_mutex_init(&wr->lock, NULL);
    pthread_condattr_t ca; /* the watch deadline is on CLOCK_MONOTONIC */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wr->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&wr->done_cond, NULL);
    if (pthread_create(&wr->completer, NULL, completer_main, wr) != 0)
        goto fail;
    if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
        pthread_mutex_lock(&wr->lock);
        wr->writer_gone = true;
        pthread_cond_signal(&wr->done_cond);
        pthread_mutex_unlock(&wr->lock);
        pthread_join(wr->completer, NULL);
        goto fail;
    }
    pthread_setname_np(wr->thread, "eg-writer");
    pthread_setname_np(wr->completer, "eg-completer");
    *out = wr;
    return 0;
fail:
    pthread_cond_destroy(&wr->done_cond);
    pthread_cond_destroy(&wr->cond);
    pthread_mutex_destroy(&wr->lock);
    free(wr);
    return EG_EINTERNAL;
}

void eg_writer_submit(struct eg_writer *wr, struct eg_write *w)
{
    w->next = NULL;
    pthread_mutex_lock(&wr->lock);
    if (wr->tail != NULL)
        wr->tail->next = w;
    else
        wr->head = w;
    wr->tail = w;
    pthread_cond_signal(&wr->cond);
    pthread_mutex_unlock(&wr->lock);
}

void eg_writer_stop(struct eg_writer *wr)
{
    if (wr == NULL)
        return;
    pthread_mutex_lock(&wr->lock);
    wr->stopping = true;
    pthread_cond_signal(&wr->cond);
    pthread_mutex_unlock(&wr->lock);
    pthread_join(wr->thread, NULL);
    pthread_mutex_lock(&wr->lock);
    wr->writer_gone = true;
    pthread_cond_signal(&wr->done_cond);
    pthread_mutex_unlock(&wr->lock);
    pthread_join(wr->completer, NULL);
    pthread_cond_destroy(&wr->done_cond);
    pthread_cond_destroy(&wr->cond);
    pthread_mutex_destroy(&wr->lock);
    free(wr);
}

void eg_writer_stats(struct eg_writer *wr, uint64_t *batches, uint64_t *writes,
                     uint64_t *commit_us)
{
    pthread_mutex_lock(&wr->lock);
    *batches = wr->batches;
    *writes = wr->writes;
    *commit_us = wr->commit_us;
    pthread_mutex_unlock(&wr->lock);
}
