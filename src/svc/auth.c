/*
 * auth.c - the verified-pair cache and Argon2id verification (C6-C8).
 *
 * Invariants:
 *  - the cache holds no secret: an entry is found by a BLAKE2b hash of the
 *    header pair keyed with a per-process random key, compared in constant
 *    time;
 *  - an entry is used only while the store's auth generation is not newer
 *    than the one read before the entry's key and account were read, and
 *    only for the cache lifetime;
 *  - every wrong-secret case costs one Argon2id verification (against a dummy
 *    hash when there is nothing to verify against) and ends in the same
 *    message, so neither timing nor text tells which secret was wrong.
 */
#include "svc/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/time.h"
#include "core/util.h"

#define CACHE_SLOTS 4096 /* direct-mapped; a collision only costs a hash */
#define THROTTLE_SLOTS 4096
#define WATCH_MS 200
#define VERIFYING_MAX 16 /* pairs being checked at once, one slot each */
/* After the generation moves, a pair verified before is still served this
 * long while it is verified again in the background, so no request waits
 * for an Argon2id check because another tenant's key or account changed. A
 * revoked key or a changed password is still refused within 1 s (C8): no
 * answer from the cache later than the watcher's 200 ms and then this; the
 * background check, which has run since the first request in this window,
 * refuses it as soon as it fails and drops the pair, and a request after
 * the window waits for that check rather than run one of its own. 300 ms
 * until the seventh session: on two cores under full load the check took
 * longer, and the requests after the window each waited for a second one
 * (the bench's auth row: 2 checks, max 230 ms). */
#define STALE_MS 500

struct entry {
    bool used;
    bool refreshing; /* a renewal was handed out (guarded by lock) */
    uint8_t tag[32];
    int64_t gen;
    int64_t expires; /* ms, eg_time_now() clock */
    struct eg_principal principal;
};

struct eg_auth {
    struct eg_store *store;
    unsigned ttl_s;
    uint8_t tag_key[crypto_generichash_KEYBYTES];
    pthread_rwlock_t lock; /* guards cache: every request reads it, a
                              verification writes one entry */
    struct entry *cache;
    _Atomic int64_t gen; /* the newest generation the watcher read */
    _Atomic int64_t gen_read_at; /* when the watcher last read it (ms) */
    _Atomic int64_t gen_prev;       /* the generation before gen ... */
    _Atomic int64_t gen_changed_at; /* ... and when the watcher saw it move */
    atomic_uint_fast64_t hits, misses, verifications, failures, stale_hits;
    pthread_t watcher;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping; /* guarded by stop_lock */
    /* C9: failure counts per address and per key, in fixed windows */
    pthread_mutex_t tlock;
    struct tslot {
        uint64_t tag;
        int64_t start;
        unsigned count;
    } * throttle;
    unsigned tlimit, twindow_s;
    /* C9: per-key token buckets (guarded by tlock) */
    struct bucket {
        uint64_t tag;
        double tokens;
        int64_t last;
    } * buckets;
    unsigned rps, burst;
    uint8_t tkey[crypto_shorthash_KEYBYTES];
    pthread_mutex_t dummy_lock;
    char dummy[EG_PWHASH_MAX]; /* an Argon2id hash nobody knows the input of;
                                  made on first need, guarded by dummy_lock */
    /* The pairs whose Argon2id check is running (guarded by vlock; vcond is
     * signalled when one ends). */
    pthread_mutex_t vlock;
    pthread_cond_t vcond;
    bool vused[VERIFYING_MAX];
    uint8_t vtag[VERIFYING_MAX][32];
};

/* The dummy hash, made the first time a wrong secret has nothing to be
 * verified against (not at start-up, which must stay fast). */
static const char *dummy_hash(struct eg_auth *a)
{
    pthread_mutex_lock(&a->dummy_lock);
    if (a->dummy[0] == '\0') {
        char pw[32];
        eg_random_id(pw, sizeof(pw), "", 16);
        if (eg_auth_password_hash(pw, a->dummy) != 0)
            abort();
        sodium_memzero(pw, sizeof(pw));
    }
    pthread_mutex_unlock(&a->dummy_lock);
    return a->dummy;
}

void eg_auth_key_hash(const char *key, size_t len, uint8_t out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)key, len, NULL, 0);
}

int eg_auth_password_hash(const char *password, char out[EG_PWHASH_MAX])
{
    if (crypto_pwhash_str(out, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return EG_EINTERNAL;
    return 0;
}

int eg_auth_denied(struct eg_error *err)
{
    return eg_error_set(err, EG_EUNAUTHORIZED,
                        "The subscription key or the Basic Auth credentials "
                        "are not valid.");
}

static int read_gen(struct eg_store *s, int64_t *gen)
{
    struct eg_store_conn *c = eg_store_conn(s);
    if (c == NULL)
        return EG_EUNAVAILABLE;
    return eg_store_auth_generation(c, gen);
}

static void *watch_main(void *arg)
{
    struct eg_auth *a = arg;
    pthread_mutex_lock(&a->stop_lock);
    while (!a->stopping) {
        pthread_mutex_unlock(&a->stop_lock);
        int64_t gen;
        if (read_gen(a->store, &gen) == 0) {
            int64_t cur = atomic_load(&a->gen);
            if (gen != cur) {
                /* Before gen: a reader that sees the new gen sees these. */
                atomic_store(&a->gen_prev, cur);
                atomic_store(&a->gen_changed_at, eg_time_now());
            }
            atomic_store(&a->gen, gen);
            atomic_store(&a->gen_read_at, eg_time_now());
        }
        pthread_mutex_lock(&a->stop_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!a->stopping)
            pthread_cond_timedwait(&a->stop_cond, &a->stop_lock, &ts);
    }
    pthread_mutex_unlock(&a->stop_lock);
    return NULL;
}

int eg_auth_new(struct eg_store *s, unsigned cache_ttl_s, struct eg_auth **out)
{
    struct eg_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        abort();
    a->cache = calloc(CACHE_SLOTS, sizeof(*a->cache));
    if (a->cache == NULL)
        abort();
    a->store = s;
    a->ttl_s = cache_ttl_s;
    crypto_generichash_keygen(a->tag_key);
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->stop_lock, NULL);
    pthread_cond_init(&a->stop_cond, NULL);
    pthread_mutex_init(&a->dummy_lock, NULL);
    pthread_mutex_init(&a->tlock, NULL);
    pthread_mutex_init(&a->vlock, NULL);
    pthread_cond_init(&a->vcond, NULL);
    a->throttle = calloc(THROTTLE_SLOTS, sizeof(*a->throttle));
    if (a->throttle == NULL)
        abort();
    crypto_shorthash_keygen(a->tkey);
    a->tlimit = 20;
    a->twindow_s = 60;
    a->buckets = calloc(THROTTLE_SLOTS, sizeof(*a->buckets));
    if (a->buckets == NULL)
        abort();
    int64_t gen = 0;
    int rc = read_gen(s, &gen);
    if (rc != 0)
        goto fail;
    atomic_store(&a->gen, gen);
    atomic_store(&a->gen_prev, gen);
    atomic_store(&a->gen_read_at, eg_time_now());
    if (pthread_create(&a->watcher, NULL, watch_main, a) != 0) {
        rc = EG_EINTERNAL;
        goto fail;
    }
    pthread_setname_np(a->watcher, "eg-auth-watch");
    *out = a;
    return 0;
fail:
    pthread_mutex_destroy(&a->tlock);
    pthread_cond_destroy(&a->vcond);
    pthread_mutex_destroy(&a->vlock);
    free(a->throttle);
    free(a->buckets);
    pthread_mutex_destroy(&a->dummy_lock);
    pthread_cond_destroy(&a->stop_cond);
    pthread_mutex_destroy(&a->stop_lock);
    pthread_rwlock_destroy(&a->lock);
    free(a->cache);
    free(a);
    return rc;
}

void eg_auth_free(struct eg_auth *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->stop_lock);
    a->stopping = true;
    pthread_cond_signal(&a->stop_cond);
    pthread_mutex_unlock(&a->stop_lock);
    pthread_join(a->watcher, NULL);
    pthread_mutex_destroy(&a->tlock);
    pthread_cond_destroy(&a->vcond);
    pthread_mutex_destroy(&a->vlock);
    free(a->throttle);
    free(a->buckets);
    pthread_mutex_destroy(&a->dummy_lock);
    pthread_cond_destroy(&a->stop_cond);
    pthread_mutex_destroy(&a->stop_lock);
    pthread_rwlock_destroy(&a->lock);
    sodium_memzero(a->cache, CACHE_SLOTS * sizeof(*a->cache));
    free(a->cache);
    sodium_memzero(a->tag_key, sizeof(a->tag_key));
    free(a);
}

void eg_auth_set_throttle(struct eg_auth *a, unsigned limit, unsigned window_s)
{
    a->tlimit = limit;
    a->twindow_s = window_s > 0 ? window_s : 1;
}

/* The throttle slot of (kind, text); its tag tells it from a colliding one.
 * Addresses ('a') and keys ('k') have a half of the table each, so the two
 * counts one failure adds never take each other's slot (were they to, each
 * would reset the other and neither would ever reach the limit). */
static struct tslot *tslot(struct eg_auth *a, char kind, const char *text,
                           uint64_t *tag)
{
    unsigned char h[crypto_shorthash_BYTES];
    char buf[EG_SUBKEY_MAX + 2];
    int n = snprintf(buf, sizeof(buf), "%c%s", kind, text);
    crypto_shorthash(h, (const unsigned char *)buf,
                     (unsigned long long)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1),
                     a->tkey);
    memcpy(tag, h, sizeof(*tag));
    size_t half = THROTTLE_SLOTS / 2;
    return &a->throttle[(kind == 'a' ? 0 : half) + *tag % half];
}

/* Seconds until (kind, text) may fail again; 0 if it may now. Caller holds
 * tlock. */
static unsigned over(struct eg_auth *a, char kind, const char *text,
                     int64_t now)
{
    uint64_t tag;
    struct tslot *t = tslot(a, kind, text, &tag);
    int64_t end = t->start + (int64_t)a->twindow_s * 1000;
    if (t->tag != tag || now >= end || t->count < a->tlimit)
        return 0;
    return (unsigned)((end - now + 999) / 1000);
}

unsigned eg_auth_throttled(struct eg_auth *a, const char *client,
                           const char *key_hdr)
{
    if (a->tlimit == 0)
        return 0;
    int64_t now = eg_time_now();
    pthread_mutex_lock(&a->tlock);
    unsigned by_addr = client != NULL ? over(a, 'a', client, now) : 0;
    unsigned by_key = key_hdr != NULL ? over(a, 'k', key_hdr, now) : 0;
    pthread_mutex_unlock(&a->tlock);
    return by_addr > by_key ? by_addr : by_key;
}

void eg_auth_set_rate(struct eg_auth *a, unsigned rps, unsigned burst)
{
    a->rps = rps;
    a->burst = burst > 0 ? burst : rps;
}

unsigned eg_auth_rate_take(struct eg_auth *a, const char *key_id)
{
    if (a->rps == 0)
        return 0;
    int64_t now = eg_time_now();
    uint64_t tag;
    unsigned wait = 0;
    pthread_mutex_lock(&a->tlock);
    struct tslot *unused = tslot(a, 'r', key_id, &tag);
    (void)unused;
    struct bucket *b = &a->buckets[tag % THROTTLE_SLOTS];
    if (b->tag != tag) {
        b->tag = tag;
        b->tokens = a->burst;
        b->last = now;
    }
    b->tokens += (double)(now - b->last) * a->rps / 1000.0;
    if (b->tokens > a->burst)
        b->tokens = a->burst;
    b->last = now;
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        wait = (unsigned)((1.0 - b->tokens) / a->rps) + 1;
    pthread_mutex_unlock(&a->tlock);
    return wait;
}

static void count_failure(struct eg_auth *a, char kind, const char *text,
                          int64_t now)
{
    uint64_t tag;
    struct tslot *t = tslot(a, kind, text, &tag);
    if (t->tag != tag || now >= t->start + (int64_t)a->twindow_s * 1000) {
        t->tag = tag;
        t->start = now;
        t->count = 0;
    }
    t->count++;
}

void eg_auth_failed(struct eg_auth *a, const char *client, const char *key_hdr)
{
    if (a->tlimit == 0)
        return;
    int64_t now = eg_time_now();
    pthread_mutex_lock(&a->tlock);
    if (client != NULL)
        count_failure(a, 'a', client, now);
    if (key_hdr != NULL && key_hdr[0] != '\0')
        count_failure(a, 'k', key_hdr, now);
    pthread_mutex_unlock(&a->tlock);
}

static size_t slot_of(const uint8_t tag[32])
{
    uint32_t v;
    memcpy(&v, tag, sizeof(v));
    return v % CACHE_SLOTS;
}

/* Whether tag is a pair the cache may answer for, with *p. With renew (a
 * request's own lookup), *renew is set when this caller is to have the pair
 * verified again in the background: in the last fifth of its life, or
 * verified before the generation last moved, which is answered for STALE_MS
 * after the watcher saw it move. */
static bool cached(struct eg_auth *a, const uint8_t tag[32],
                   struct eg_principal *p, bool *renew)
{
    int64_t gen = atomic_load(&a->gen);
    int64_t prev = atomic_load(&a->gen_prev);
    int64_t changed = atomic_load(&a->gen_changed_at);
    int64_t now = eg_time_now();
    bool hit = false;
    bool old = false;
    struct entry *e = &a->cache[slot_of(tag)];
    pthread_rwlock_rdlock(&a->lock);
    if (e->used && sodium_memcmp(e->tag, tag, 32) == 0 && now < e->expires) {
        if (e->gen >= gen) {
            hit = true;
            /* In the last fifth of its life, and nobody renewing it yet. */
            old = !e->refreshing &&
                  e->expires - now < (int64_t)a->ttl_s * 1000 / 5;
        } else if (renew != NULL && e->gen >= prev &&
                   now - changed < STALE_MS) {
            /* Verified at or after the generation the watcher held before
             * it last saw the generation move: the change that makes it
             * stale is one the watcher saw at `changed`, at most one
             * watcher period after it was made. */
            hit = true;
            old = !e->refreshing;
            atomic_fetch_add(&a->stale_hits, 1);
        }
        if (hit)
            *p = e->principal;
    }
    pthread_rwlock_unlock(&a->lock);
    if (old && renew != NULL) {
        pthread_rwlock_wrlock(&a->lock);
        if (e->used && sodium_memcmp(e->tag, tag, 32) == 0 &&
            !e->refreshing) {
            e->refreshing = true;
            *renew = true;
        }
        pthread_rwlock_unlock(&a->lock);
    }
    return hit;
}

/* After a renewal of tag's entry: with drop, its pair failed the check and
 * the entry goes; without, the renewal was left to another check of the
 * pair, and the entry may be handed out for renewal again. */
static void renewal_over(struct eg_auth *a, const uint8_t tag[32], bool drop)
{
    struct entry *e = &a->cache[slot_of(tag)];
    pthread_rwlock_wrlock(&a->lock);
    if (e->used && sodium_memcmp(e->tag, tag, 32) == 0) {
        if (drop)
            e->used = false;
        else
            e->refreshing = false;
    }
    pthread_rwlock_unlock(&a->lock);
}

static int unauthorized(struct eg_error *err, const char *msg)
{
    return eg_error_set(err, EG_EUNAUTHORIZED, "%s", msg);
}

/* Decode "Basic base64(user:pass)" into pend. Returns 0 or EG_EUNAUTHORIZED
 * with the message of C6 for a malformed header (or the wrong-secret one
 * for credentials too long to be any account's). */
static int parse_basic(const char *authz, struct eg_auth_pending *pend,
                       struct eg_error *err)
{
    static const char malformed[] =
        "The Authorization header must be Basic credentials: "
        "'Basic ' followed by base64 of username:password.";
    if (strncasecmp(authz, "Basic ", 6) != 0)
        return unauthorized(err, malformed);
    const char *b64 = authz + 6;
    while (*b64 == ' ')
        b64++;
    size_t n = strlen(b64);
    while (n > 0 && b64[n - 1] == ' ')
        n--;
    unsigned char raw[EG_USERNAME_MAX + EG_PASSWORD_MAX + 1];
    size_t rawlen = 0;
    if (n == 0 || n > 4 * ((sizeof(raw) + 2) / 3))
        return n == 0 ? unauthorized(err, malformed) : eg_auth_denied(err);
    if (sodium_base642bin(raw, sizeof(raw), b64, n, NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        sodium_memzero(raw, sizeof(raw));
        return unauthorized(err, malformed);
    }
    unsigned char *colon = memchr(raw, ':', rawlen);
    if (colon == NULL || colon == raw) {
        sodium_memzero(raw, sizeof(raw));
        return unauthorized(err, malformed);
    }
    size_t ulen = (size_t)(colon - raw);
    size_t plen = rawlen - ulen - 1;
    int rc = 0;
    if (ulen >= sizeof(pend->username) || plen >= sizeof(pend->password) ||
        memchr(raw, '\0', rawlen) != NULL) {
        rc = eg_auth_denied(err);
    } else {
        memcpy(pend->username, raw, ulen);
        pend->username[ulen] = '\0';
        memcpy(pend->password, colon + 1, plen);
        pend->password[plen] = '\0';
    }
    sodium_memzero(raw, sizeof(raw));
    return rc;
}

int eg_auth_check(struct eg_auth *a, const char *key_hdr, const char *authz_hdr,
                  struct eg_principal *p, struct eg_auth_pending *pend,
                  struct eg_error *err)
{
    if (key_hdr == NULL || key_hdr[0] == '\0')
        return unauthorized(err,
                            "The alle-subscription-key header is missing.");
    if (authz_hdr == NULL || authz_hdr[0] == '\0')
        return unauthorized(err, "The Authorization header is missing.");

    crypto_generichash_state st;
    crypto_generichash_init(&st, a->tag_key, sizeof(a->tag_key), 32);
    crypto_generichash_update(&st, (const unsigned char *)key_hdr,
                              strlen(key_hdr) + 1);
    crypto_generichash_update(&st, (const unsigned char *)authz_hdr,
                              strlen(authz_hdr));
    uint8_t tag[32];
    crypto_generichash_final(&st, tag, sizeof(tag));

    bool renew = false;
    if (cached(a, tag, p, &renew)) {
        atomic_fetch_add(&a->hits, 1);
        if (!renew)
            return 0;
    } else {
        atomic_fetch_add(&a->misses, 1);
    }

    memset(pend, 0, sizeof(*pend));
    int rc = parse_basic(authz_hdr, pend, err);
    if (rc != 0) {
        atomic_fetch_add(&a->failures, 1);
        return rc;
    }
    if (!eg_strlcpy(pend->key, key_hdr, sizeof(pend->key))) {
        /* Longer than any key we issue: it cannot match. Still verify, so
         * the time taken does not tell. */
        pend->key[0] = '\0';
    }
    memcpy(pend->tag, tag, sizeof(tag));
    if (renew) {
        pend->refresh = true;
        return EG_AUTH_OK_REFRESH;
    }
    return EG_AUTH_NEED_VERIFY;
}

int eg_auth_verify(struct eg_auth *a, struct eg_auth_pending *pend)
{
    const char *hash = NULL;
    struct eg_key key;
    struct eg_account acct;
    int64_t gen = 0;
    int rc;

    int vslot = -1;

    pend->result = EG_EUNAUTHORIZED;
    /* Many requests with one new pair (a client opening its connections, or
     * all of them when the pair's cache entry has expired) queue up behind
     * the first verification, which caches the pair; the rest need no hash
     * of their own. A worker that finds the same pair's check still running
     * on another worker waits for it rather than run a second Argon2id
     * beside it (two at once took both cores here for ~100 ms); that check
     * may be a background renewal. A failed check caches nothing, so each
     * waiter then runs its own, as every wrong secret costs one. A renewal
     * that finds a check of its pair running leaves the entry to it. */
    pthread_mutex_lock(&a->vlock);
    for (;;) {
        if (!pend->refresh &&
            cached(a, pend->tag, &pend->principal, NULL)) {
            pthread_mutex_unlock(&a->vlock);
            pend->result = 0;
            goto out;
        }
        int running = -1;
        for (int i = 0; i < VERIFYING_MAX && running < 0; i++)
            if (a->vused[i] && sodium_memcmp(a->vtag[i], pend->tag, 32) == 0)
                running = i;
        if (running < 0)
            break;
        if (pend->refresh) {
            pthread_mutex_unlock(&a->vlock);
            renewal_over(a, pend->tag, false);
            pend->result = 0;
            goto out;
        }
        pthread_cond_wait(&a->vcond, &a->vlock);
    }
    for (int i = 0; i < VERIFYING_MAX && vslot < 0; i++)
        if (!a->vused[i])
            vslot = i;
    if (vslot >= 0) {
        a->vused[vslot] = true;
        memcpy(a->vtag[vslot], pend->tag, 32);
    }
    pthread_mutex_unlock(&a->vlock);
    struct eg_store_conn *c = eg_store_conn(a->store);
    if (c == NULL) {
        pend->result = EG_EUNAVAILABLE;
        goto out;
    }
    rc = eg_store_auth_generation(c, &gen);
    if (rc != 0) {
        pend->result = rc;
        goto out;
    }
    if (pend->key[0] != '\0') {
        uint8_t kh[32];
        eg_auth_key_hash(pend->key, strlen(pend->key), kh);
        rc = eg_store_key_by_hash(c, kh, &key);
        if (rc == 0 && key.revoked_at == EG_TIME_NONE &&
            sodium_memcmp(kh, key.hash, sizeof(kh)) == 0) {
            rc = eg_store_account_get(c, key.tenant_id, pend->username, &acct);
            if (rc == 0)
                hash = acct.pwhash;
        }
        if (rc != 0 && rc != EG_ENOTFOUND) {
            pend->result = rc;
            goto out;
        }
    }
    bool ok;
    atomic_fetch_add(&a->verifications, 1);
    if (hash != NULL) {
        ok = crypto_pwhash_str_verify(hash, pend->password,
                                      strlen(pend->password)) == 0;
    } else {
        /* Spend the same time as a real check, then refuse. */
        int same_cost = crypto_pwhash_str_verify(dummy_hash(a), pend->password,
                                                 strlen(pend->password));
        (void)same_cost;
        ok = false;
    }
    if (!ok) {
        atomic_fetch_add(&a->failures, 1);
        if (pend->refresh)
            renewal_over(a, pend->tag, true); /* revoked, removed or changed */
        goto out;
    }
    struct eg_principal *p = &pend->principal;
    eg_strlcpy(p->tenant_id, key.tenant_id, sizeof(p->tenant_id));
    eg_strlcpy(p->key_id, key.key_id, sizeof(p->key_id));
    eg_strlcpy(p->username, acct.username, sizeof(p->username));
    pend->result = 0;

    struct entry *e = &a->cache[slot_of(pend->tag)];
    pthread_rwlock_wrlock(&a->lock);
    e->used = true;
    memcpy(e->tag, pend->tag, sizeof(e->tag));
    e->gen = gen;
    e->expires = eg_time_now() + (int64_t)a->ttl_s * 1000;
    e->principal = *p;
    e->refreshing = false;
    pthread_rwlock_unlock(&a->lock);
out:
    if (vslot >= 0) {
        pthread_mutex_lock(&a->vlock);
        a->vused[vslot] = false;
        pthread_cond_broadcast(&a->vcond);
        pthread_mutex_unlock(&a->vlock);
    }
    sodium_memzero(pend->key, sizeof(pend->key));
    sodium_memzero(pend->password, sizeof(pend->password));
    return pend->result;
}

bool eg_auth_store_ok(struct eg_auth *a)
{
    return eg_time_now() - atomic_load(&a->gen_read_at) < 2000;
}

void eg_auth_get_stats(struct eg_auth *a, struct eg_auth_stats *st)
{
    st->cache_hits = atomic_load(&a->hits);
    st->cache_misses = atomic_load(&a->misses);
    st->argon2_verifications = atomic_load(&a->verifications);
    st->failures = atomic_load(&a->failures);
    st->stale_hits = atomic_load(&a->stale_hits);
    st->generation = atomic_load(&a->gen);
}
