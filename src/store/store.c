/*
 * store.c - the backend-independent part of the store: choosing a backend by
 * URL scheme, one connection per thread, and the eg_store_* wrappers.
 *
 * Each thread that touches a store gets its own backend connection, opened
 * lazily and remembered in a thread-local slot; the store keeps a list of
 * them so eg_store_close can close them all once the threads are done.
 */
#include "store/store.h"
#include "store/cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eg_store_conn {
    const struct eg_store_backend *be;
    struct eg_bconn *bc;
    struct eg_store *store;
    struct eg_store_conn *next;
    int64_t data_version; /* eg_store_watch's last reading */
    bool watched;         /* data_version holds one */
    int64_t audit_head;   /* the newest audit seq the cache is known to
                             reflect (see eg_store_watch) */
    bool head_known;      /* audit_head holds one */
};

struct eg_store {
    const struct eg_store_backend *be;
    struct eg_bstore *bs;
    pthread_mutex_t lock; /* guards conns */
    struct eg_store_conn *conns;
    unsigned long serial; /* tells a thread's slot from an older store's */
    struct eg_ccache *cache; /* NULL: no read cache (C32) */
};

/* pgsql.c: "postgres://..." and "postgresql://..." */
extern const struct eg_store_backend eg_store_pgsql;
extern const struct eg_store_backend eg_store_postgresql;

static const struct eg_store_backend *const backends[] = {
    &eg_store_sqlite, &eg_store_pgsql, &eg_store_postgresql};

static _Thread_local struct eg_store_conn *tl_conn;
static _Thread_local unsigned long tl_serial;
static unsigned long next_serial = 1; /* guarded by serial_lock */
static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;

int eg_store_open(const char *url, struct eg_store **out, char *err,
                  size_t errlen)
{
    const char *colon = strchr(url, ':');
    if (colon == NULL) {
        snprintf(err, errlen,
                 "store URL '%s' has no scheme (expected sqlite:PATH or "
                 "postgres://USER@HOST:PORT/DB)",
                 url);
        return EG_EBADREQUEST;
    }
    size_t n = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i]->scheme) != n ||
            strncmp(backends[i]->scheme, url, n) != 0)
            continue;
        struct eg_bstore *bs;
        int rc = backends[i]->open(colon + 1, &bs, err, errlen);
        if (rc != 0)
            return rc;
        struct eg_store *s = calloc(1, sizeof(*s));
        if (s == NULL)
            abort();
        s->be = backends[i];
        s->bs = bs;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_lock(&serial_lock);
        s->serial = next_serial++;
        pthread_mutex_unlock(&serial_lock);
        *out = s;
        return 0;
    }
    snprintf(err, errlen,
             "store URL scheme '%.*s' is not supported (use sqlite:PATH or "
             "postgres://USER@HOST:PORT/DB)",
             (int)n, url);
    return EG_EBADREQUEST;
}

void eg_store_close(struct eg_store *s)
{
    if (s == NULL)
        return;
    struct eg_store_conn *c = s->conns;
    while (c != NULL) {
        struct eg_store_conn *next = c->next;
        s->be->conn_close(c->bc);
        free(c);
        c = next;
    }
    if (tl_serial == s->serial)
        tl_conn = NULL;
    s->be->close(s->bs);
    eg_ccache_free(s->cache);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool eg_write_guarded(const struct eg_write *w)
{
    if (w->kind == EG_W_CRED_REVOKE)
        return false;
    return !(w->kind == EG_W_CRED_CREATE && w->idem == NULL);
}

bool eg_store_remote(const struct eg_store *s)
{
    return s->be->remote;
}

int eg_store_chown(struct eg_store *s, unsigned uid, unsigned gid)
{
    return s->be->chown != NULL ? s->be->chown(s->bs, uid, gid) : 0;
}

struct eg_store_conn *eg_store_conn(struct eg_store *s)
{
    if (tl_conn != NULL && tl_serial == s->serial)
        return tl_conn;
    struct eg_bconn *bc;
    if (s->be->conn_open(s->bs, &bc) != 0)
        return NULL;
    struct eg_store_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->be = s->be;
    c->bc = bc;
    c->store = s;
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    tl_conn = c;
    tl_serial = s->serial;
    return c;
}

bool eg_store_cache_enable(struct eg_store *s, size_t bytes)
{
    if (s->cache != NULL)
        return true; /* a second server on the same store shares it */
    if (s->be->data_version == NULL || bytes == 0)
        return false;
    s->cache = eg_ccache_new(bytes);
    return true;
}

void eg_store_cache_off(struct eg_store *s)
{
    if (s->cache != NULL)
        eg_ccache_off(s->cache);
}

bool eg_store_cache_stats(struct eg_store *s, struct eg_ccache_stats *out)
{
    if (s->cache == NULL)
        return false;
    eg_ccache_stats(s->cache, out);
    return true;
}

bool eg_store_watch(struct eg_store_conn *c)
{
    struct eg_ccache *k = c->store->cache;
    if (k == NULL)
        return false;
    int64_t v;
    if (c->be->data_version(c->bc, &v) != 0) {
        eg_ccache_flush(k); /* cannot tell: assume the worst */
        c->watched = false;
        c->head_known = false;
        return true;
    }
    if (!c->watched || v != c->data_version) {
        /* Another connection committed (or this is the first look, which
         * has nothing to compare with). Only a credential change can make a
         * cached copy stale, and each appends an audit record (C28): the
         * audit head, read after data_version, covers every commit that
         * reading saw. Anything unreadable or unknown flushes. */
        int64_t h;
        if (c->be->audit_head == NULL || c->be->audit_head(c->bc, &h) != 0) {
            eg_ccache_flush(k);
            c->head_known = false;
        } else {
            if (!c->head_known || h != c->audit_head)
                eg_ccache_flush(k);
            c->audit_head = h;
            c->head_known = true;
        }
    }
    c->data_version = v;
    c->watched = true;
    return true;
}

/* After c's own commit of credential changes, which moved the audit head:
 * take the new head as known, so that a later commit of another process
 * that changes no credential does not empty the cache. Only when no other
 * connection has committed since c last looked: the head is read first and
 * data_version after it, so an unchanged data_version means every audit
 * record up to that head is c's own (already dropped from the cache by
 * eg_store_apply). Otherwise the next eg_store_watch decides. */
static void own_head(struct eg_store_conn *c)
{
    int64_t h, v;
    if (!c->watched || !c->head_known ||
        c->be->audit_head(c->bc, &h) != 0 ||
        c->be->data_version(c->bc, &v) != 0 || v != c->data_version)
        return;
    c->audit_head = h;
}

int eg_store_apply(struct eg_store_conn *c, struct eg_write *w, size_t n)
{
    int rc = c->be->apply(c->bc, w, n);
    struct eg_ccache *k = c->store->cache;
    if (k == NULL)
        return rc;
    /* Whatever rc says: a failed apply may still have committed (a lost
     * answer from the disk), and dropping more than needed is harmless. */
    bool creds = false;
    for (size_t i = 0; i < n; i++)
        if (w[i].kind == EG_W_CRED_CREATE || w[i].kind == EG_W_CRED_REVOKE) {
            eg_ccache_drop(k, w[i].u.cred.tenant_id, w[i].u.cred.credential_id);
            creds = true;
        }
    if (creds && c->be->audit_head != NULL)
        own_head(c);
    return rc;
}

int eg_store_auth_generation(struct eg_store_conn *c, int64_t *out)
{
    return c->be->auth_generation(c->bc, out);
}

int eg_store_key_by_hash(struct eg_store_conn *c,
                         const uint8_t hash[EG_KEY_HASH_LEN], struct eg_key *out)
{
    return c->be->key_by_hash(c->bc, hash, out);
}

int eg_store_key_scan(struct eg_store_conn *c, const char *tenant_id,
                      eg_key_cb cb, void *ctx)
{
    return c->be->key_scan(c->bc, tenant_id, cb, ctx);
}

int eg_store_account_get(struct eg_store_conn *c, const char *tenant_id,
                         const char *username, struct eg_account *out)
{
    return c->be->account_get(c->bc, tenant_id, username, out);
}

int eg_store_tenant_get(struct eg_store_conn *c, const char *tenant_id,
                        struct eg_tenant *out)
{
    return c->be->tenant_get(c->bc, tenant_id, out);
}

int eg_store_tenant_scan(struct eg_store_conn *c, eg_tenant_cb cb, void *ctx)
{
    return c->be->tenant_scan(c->bc, cb, ctx);
}

int eg_store_profile_get(struct eg_store_conn *c, const char *tenant_id,
                         const char *profile_id, struct eg_profile *out)
{
    return c->be->profile_get(c->bc, tenant_id, profile_id, out);
}

int eg_store_cred_get(struct eg_store_conn *c, const char *tenant_id,
                      const char *credential_id, struct eg_credential *out)
{
    struct eg_ccache *k = c->store->cache;
    if (k == NULL)
        return c->be->cred_get(c->bc, tenant_id, credential_id, out);
    if (eg_ccache_get(k, tenant_id, credential_id, out))
        return 0;
    uint64_t token = eg_ccache_begin(k);
    int rc = c->be->cred_get(c->bc, tenant_id, credential_id, out);
    if (rc == 0)
        eg_ccache_put(k, token, out);
    return rc;
}

int eg_store_cred_scan(struct eg_store_conn *c, const struct eg_cred_filter *f,
                       const struct eg_cursor *after, size_t limit,
                       eg_cred_cb cb, void *ctx)
{
    return c->be->cred_scan(c->bc, f, after, limit, cb, ctx);
}

int eg_store_device_scan(struct eg_store_conn *c, const char *tenant_id,
                         const struct eg_cursor *after, size_t limit,
                         eg_device_cb cb, void *ctx)
{
    return c->be->device_scan(c->bc, tenant_id, after, limit, cb, ctx);
}

int eg_store_audit_scan(struct eg_store_conn *c, const char *tenant_id,
                        const char *credential_id, int64_t since,
                        int64_t after_seq, size_t limit, eg_audit_cb cb,
                        void *ctx)
{
    return c->be->audit_scan(c->bc, tenant_id, credential_id, since, after_seq,
                             limit, cb, ctx);
}

int eg_store_idem_get(struct eg_store_conn *c, const char *tenant_id,
                      const char *key, struct eg_idem *out)
{
    return c->be->idem_get(c->bc, tenant_id, key, out);
}

int eg_store_ping(struct eg_store_conn *c)
{
    return c->be->ping(c->bc);
}
