/*
 * cache.c - the read cache of single credentials (see cache.h for the
 * protocol that keeps it exact for this process's own writes).
 *
 * The table is a power of two of sets of WAYS slots; a key's hash picks
 * its set. Each slot is SLOT_BYTES: a tag, a length, the fill token and the
 * packed credential (four times, a flags byte, then six NUL-terminated
 * strings). A credential too long to fit is simply not cached. Sets are
 * guarded by STRIPES mutexes, set i by stripe i % STRIPES; each stripe also
 * counts its hits and misses, so no counter is shared between threads.
 */
#include "store/cache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define SLOT_BYTES 512
#define WAYS 8
#define STRIPES 1024
#define TIMES_BYTES (4 * sizeof(int64_t))
#define FLAG_EMAIL 1u
#define FLAG_NAME 2u

struct slot {
    uint32_t tag; /* the high half of the key's hash */
    uint32_t len; /* bytes used in data; 0 when empty */
    uint64_t fill; /* the token of the read that filled it */
    char data[SLOT_BYTES - 2 * sizeof(uint32_t) - sizeof(uint64_t)];
};

/* WAYS slots that one key may use; a new entry takes an empty one or else
 * one picked at random (a fixed order would miss every time on a loop over
 * one more key than the set holds). */
struct set {
    struct slot slot[WAYS];
};

struct stripe {
    alignas(64) pthread_mutex_t lock;
    uint64_t hits, misses, fills, drops; /* guarded by lock */
    uint64_t rng;                        /* guarded by lock: xorshift64 */
};

struct eg_ccache {
    struct set *sets;
    uint64_t *stamps; /* per set: seq of the last drop that hashed there */
    size_t mask;      /* sets - 1, a power of two less one */
    struct stripe *stripes;
    size_t nstripes;
    unsigned char key[crypto_shorthash_KEYBYTES];
    _Atomic uint64_t seq;       /* the newest drop or flush */
    _Atomic uint64_t flush_seq; /* the newest flush */
    _Atomic uint64_t flushes;
    atomic_bool off; /* nothing watches the store any more: never hit */
};

struct eg_ccache *eg_ccache_new(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    size_t n = 1;
    while (n * 2 * sizeof(struct set) <= bytes)
        n *= 2;
    struct eg_ccache *k = calloc(1, sizeof(*k));
    if (k == NULL)
        abort();
    k->sets = calloc(n, sizeof(struct set));
    k->stamps = calloc(n, sizeof(uint64_t));
    k->nstripes = n < STRIPES ? n : STRIPES;
    k->stripes = aligned_alloc(64, k->nstripes * sizeof(struct stripe));
    if (k->sets == NULL || k->stamps == NULL || k->stripes == NULL)
        abort();
    memset(k->stripes, 0, k->nstripes * sizeof(struct stripe));
    for (size_t i = 0; i < k->nstripes; i++) {
        pthread_mutex_init(&k->stripes[i].lock, NULL);
        k->stripes[i].rng = 0x9e3779b97f4a7c15u * (i + 1);
    }
    k->mask = n - 1;
    eg_random_bytes(k->key, sizeof(k->key));
    atomic_init(&k->seq, 1);
    atomic_init(&k->flush_seq, 0);
    atomic_init(&k->flushes, 0);
    atomic_init(&k->off, false);
    return k;
}

void eg_ccache_free(struct eg_ccache *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->nstripes; i++)
        pthread_mutex_destroy(&k->stripes[i].lock);
    free(k->stripes);
    free(k->stamps);
    free(k->sets);
    free(k);
}

/* The hash of (tenant, id): SipHash-2-4 under a key drawn at start-up, so
 * no client can aim many credentials at one set. The low bits pick the set,
 * the high half is the tag. */
static uint64_t hash_of(const struct eg_ccache *k, const char *tenant_id,
                        const char *credential_id)
{
    unsigned char in[2 * EG_ID_MAX];
    size_t t = strnlen(tenant_id, EG_ID_MAX - 1);
    size_t c = strnlen(credential_id, EG_ID_MAX - 1);
    memcpy(in, tenant_id, t);
    in[t] = '\0';
    memcpy(in + t + 1, credential_id, c);
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, in, t + 1 + c, k->key);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return v;
}

static struct stripe *stripe_of(struct eg_ccache *k, size_t set)
{
    return &k->stripes[set % k->nstripes];
}

uint64_t eg_ccache_begin(struct eg_ccache *k)
{
    return atomic_load(&k->seq);
}

/* Append s and its NUL at *off; false when it does not fit. */
static bool pack_str(char *data, size_t *off, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > sizeof(((struct slot *)0)->data) - *off)
        return false;
    memcpy(data + *off, s, n);
    *off += n;
    return true;
}

static size_t pack(const struct eg_credential *c, char *data)
{
    int64_t times[4] = {c->valid_from, c->valid_to, c->created_at,
                        c->revoked_at};
    memcpy(data, times, TIMES_BYTES);
    data[TIMES_BYTES] = (char)((c->has_user_email ? FLAG_EMAIL : 0) |
                               (c->has_user_name ? FLAG_NAME : 0));
    size_t off = TIMES_BYTES + 1;
    if (!pack_str(data, &off, c->tenant_id) ||
        !pack_str(data, &off, c->credential_id) ||
        !pack_str(data, &off, c->user_id) ||
        !pack_str(data, &off, c->user_email) ||
        !pack_str(data, &off, c->user_name) ||
        !pack_str(data, &off, c->access_profile))
        return 0;
    return off;
}

/* Copy the next packed string into dst (size cap) and step past it. */
static const char *unpack_str(const char *p, char *dst, size_t cap)
{
    size_t n = strlen(p) + 1;
    eg_strlcpy(dst, p, cap);
    return p + n;
}

static void unpack(const char *data, struct eg_credential *c)
{
    int64_t times[4];
    memcpy(times, data, TIMES_BYTES);
    c->valid_from = times[0];
    c->valid_to = times[1];
    c->created_at = times[2];
    c->revoked_at = times[3];
    unsigned flags = (unsigned char)data[TIMES_BYTES];
    c->has_user_email = (flags & FLAG_EMAIL) != 0;
    c->has_user_name = (flags & FLAG_NAME) != 0;
    const char *p = data + TIMES_BYTES + 1;
    p = unpack_str(p, c->tenant_id, sizeof(c->tenant_id));
    p = unpack_str(p, c->credential_id, sizeof(c->credential_id));
    p = unpack_str(p, c->user_id, sizeof(c->user_id));
    p = unpack_str(p, c->user_email, sizeof(c->user_email));
    p = unpack_str(p, c->user_name, sizeof(c->user_name));
    unpack_str(p, c->access_profile, sizeof(c->access_profile));
}

/* The slot of set i holding (tenant, id), or NULL; the caller holds the
 * set's stripe. */
static struct slot *find(struct eg_ccache *k, size_t i, uint32_t tag,
                         const char *tenant_id, const char *credential_id)
{
    for (int w = 0; w < WAYS; w++) {
        struct slot *s = &k->sets[i].slot[w];
        if (s->len == 0 || s->tag != tag)
            continue;
        const char *t = s->data + TIMES_BYTES + 1;
        if (strcmp(t, tenant_id) == 0 &&
            strcmp(t + strlen(t) + 1, credential_id) == 0)
            return s;
    }
    return NULL;
}

bool eg_ccache_get(struct eg_ccache *k, const char *tenant_id,
                   const char *credential_id, struct eg_credential *out)
{
    uint64_t h = hash_of(k, tenant_id, credential_id);
    size_t i = (size_t)h & k->mask;
    struct stripe *st = stripe_of(k, i);
    if (atomic_load_explicit(&k->off, memory_order_relaxed))
        return false;
    uint64_t flushed = atomic_load(&k->flush_seq);
    pthread_mutex_lock(&st->lock);
    struct slot *s = find(k, i, (uint32_t)(h >> 32), tenant_id, credential_id);
    bool hit = s != NULL && s->fill >= flushed;
    if (hit) {
        unpack(s->data, out);
        st->hits++;
    } else {
        st->misses++;
    }
    pthread_mutex_unlock(&st->lock);
    return hit;
}

void eg_ccache_put(struct eg_ccache *k, uint64_t token,
                   const struct eg_credential *c)
{
    char data[sizeof(((struct slot *)0)->data)];
    size_t len = pack(c, data);
    if (len == 0)
        return;
    uint64_t h = hash_of(k, c->tenant_id, c->credential_id);
    size_t i = (size_t)h & k->mask;
    uint32_t tag = (uint32_t)(h >> 32);
    struct stripe *st = stripe_of(k, i);
    pthread_mutex_lock(&st->lock);
    if (token >= k->stamps[i] && token >= atomic_load(&k->flush_seq)) {
        struct slot *s = find(k, i, tag, c->tenant_id, c->credential_id);
        for (int w = 0; s == NULL && w < WAYS; w++)
            if (k->sets[i].slot[w].len == 0)
                s = &k->sets[i].slot[w];
        if (s == NULL) {
            st->rng ^= st->rng << 13;
            st->rng ^= st->rng >> 7;
            st->rng ^= st->rng << 17;
            s = &k->sets[i].slot[st->rng % WAYS];
        }
        memcpy(s->data, data, len);
        s->len = (uint32_t)len;
        s->tag = tag;
        s->fill = token;
        st->fills++;
    }
    pthread_mutex_unlock(&st->lock);
}

void eg_ccache_drop(struct eg_ccache *k, const char *tenant_id,
                    const char *credential_id)
{
    uint64_t g = atomic_fetch_add(&k->seq, 1) + 1;
    uint64_t h = hash_of(k, tenant_id, credential_id);
    size_t i = (size_t)h & k->mask;
    struct stripe *st = stripe_of(k, i);
    pthread_mutex_lock(&st->lock);
    k->stamps[i] = g;
    struct slot *s = find(k, i, (uint32_t)(h >> 32), tenant_id, credential_id);
    if (s != NULL) {
        s->len = 0;
        st->drops++;
    }
    pthread_mutex_unlock(&st->lock);
}

void eg_ccache_flush(struct eg_ccache *k)
{
    uint64_t g = atomic_fetch_add(&k->seq, 1) + 1;
    /* Only ever raise flush_seq (two flushes may race). */
    uint64_t cur = atomic_load(&k->flush_seq);
    while (cur < g && !atomic_compare_exchange_weak(&k->flush_seq, &cur, g))
        ;
    atomic_fetch_add_explicit(&k->flushes, 1, memory_order_relaxed);
}

void eg_ccache_off(struct eg_ccache *k)
{
    atomic_store(&k->off, true);
    eg_ccache_flush(k);
}

void eg_ccache_stats(struct eg_ccache *k, struct eg_ccache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < k->nstripes; i++) {
        struct stripe *st = &k->stripes[i];
        pthread_mutex_lock(&st->lock);
        out->hits += st->hits;
        out->misses += st->misses;
        out->fills += st->fills;
        out->drops += st->drops;
        pthread_mutex_unlock(&st->lock);
    }
    out->flushes = atomic_load(&k->flushes);
    out->slots = (k->mask + 1) * WAYS;
    out->slot_bytes = SLOT_BYTES;
}
