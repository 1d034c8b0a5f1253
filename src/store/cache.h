/*
 * cache.h - the read cache of single credentials (C32).
 *
 * A fixed table of sets of slots, each slot holding one credential packed
 * into at most a few hundred bytes, the set chosen by a keyed hash (SipHash)
 * of tenant id and credential id; a full set gives up a random slot.
 * The table is the store's (store.c): eg_store_cred_get looks here first,
 * eg_store_apply drops every credential it wrote before it returns, and the
 * writer thread flushes the whole table when another process has changed the
 * store (eg_store_watch).
 *
 * Why a read that raced a write never leaves a stale entry: `seq` counts
 * invalidations. A reader loads seq BEFORE it reads the store and fills the
 * slot only if no invalidation of that set (its stamp) and no flush
 * (flush_seq) came after that load. An invalidation takes a new seq after the
 * commit it follows is visible, so a reader whose load is not older than it
 * read the committed data; and one whose load is older either finds the
 * stamp and gives up, or filled the slot before the stamp and sees its entry
 * dropped by it (the stamp and the drop happen under the set's lock).
 */
#ifndef EG_STORE_CACHE_H
#define EG_STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct eg_ccache;

/* A table of about `bytes` (at least one stripe of slots). NULL when bytes
 * is 0. Aborts when out of memory, as the rest of engage does. */
struct eg_ccache *eg_ccache_new(size_t bytes);
void eg_ccache_free(struct eg_ccache *k);

/* The token a reader takes before it reads the store, for eg_ccache_put. */
uint64_t eg_ccache_begin(struct eg_ccache *k);

/* Copy the cached credential (tenant_id, credential_id) into out; false when
 * it is not cached. */
bool eg_ccache_get(struct eg_ccache *k, const char *tenant_id,
                   const char *credential_id, struct eg_credential *out);

/* Remember c, read from the store after eg_ccache_begin returned token;
 * does nothing when c changed since (or may have). */
void eg_ccache_put(struct eg_ccache *k, uint64_t token,
                   const struct eg_credential *c);

/* Drop (tenant_id, credential_id): called after a commit that changed it
 * became visible, before the write is answered. */
void eg_ccache_drop(struct eg_ccache *k, const char *tenant_id,
                    const char *credential_id);

/* Drop everything: another process changed the store. */
void eg_ccache_flush(struct eg_ccache *k);

/* Drop everything and answer every later get with a miss: nothing can
 * watch the store for other processes' changes any more. */
void eg_ccache_off(struct eg_ccache *k);

struct eg_ccache_stats {
    uint64_t hits, misses, fills, drops, flushes;
    size_t slots, slot_bytes;
};
void eg_ccache_stats(struct eg_ccache *k, struct eg_ccache_stats *out);

#endif
