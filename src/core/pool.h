/*
 * pool.h - a fixed pool of worker threads running queued jobs in order.
 *
 * For work that must not run on an event thread: an Argon2id hash, a round
 * trip to a remote store.
 */
#ifndef EG_CORE_POOL_H
#define EG_CORE_POOL_H

#include <stddef.h>

struct eg_pool;

/* Start n threads. Aborts when threads cannot be made. */
struct eg_pool *eg_pool_start(size_t n);

/* Queue fn(arg) to run on one of the threads. Never blocks for long. */
void eg_pool_submit(struct eg_pool *p, void (*fn)(void *arg), void *arg);

/* Run what is queued, stop the threads and free p. NULL is fine. */
void eg_pool_stop(struct eg_pool *p);

#endif
