/*
 * pool.h - a fixed pool of worker threads running queued jobs in order.
 *
 * For work that must not run on an event thread: an Argon2id hash, a round
 * trip to a remote store.
 */
#ifndef EG_CORE_POOL_H
#define EG_CORE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct eg_pool;

/* Start n threads, named name (at most 15 characters, as top -H shows
 * them). Aborts when threads cannot be made. */
struct eg_pool *eg_pool_start(size_t n, const char *name);

/* Queue fn(arg) to run on one of the threads. Never blocks for long. */
void eg_pool_submit(struct eg_pool *p, void (*fn)(void *arg), void *arg);

/* Run what is queued, stop the threads and free p. NULL is fine. */
void eg_pool_stop(struct eg_pool *p);

/* A one-shot wait for work finished on another thread. */

struct eg_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done; /* guarded by lock */
};

void eg_waiter_init(struct eg_waiter *w);
/* Mark it done and wake the thread in eg_waiter_wait. */
void eg_waiter_wake(struct eg_waiter *w);
/* Block until eg_waiter_wake, then release w's resources. */
void eg_waiter_wait(struct eg_waiter *w);

#endif
