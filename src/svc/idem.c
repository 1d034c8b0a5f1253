/*
 * idem.c - idempotent create (C22).
 *
 * A record of the first 201 of (tenant, Idempotency-Key) is kept with the
 * credential, in the same transaction, so a replay is as durable as the
 * create. Keys whose first request is still in flight are claimed in a set in
 * this process; a second request with a claimed key gets 409
 * IdempotencyKeyInFlight. Across processes (several nodes on one database)
 * the store's unique key settles a race: the loser's write fails whole.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"
#include "svc/svc.h"

struct flight {
    char tenant_id[EG_ID_MAX];
    char key[EG_IDEM_KEY_MAX];
    struct flight *next;
};

struct eg_flights {
    pthread_mutex_t lock;
    struct flight *head; /* guarded by lock */
};

void eg_svc_idem_init(struct eg_svc *svc, unsigned ttl_s)
{
    struct eg_flights *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    pthread_mutex_init(&f->lock, NULL);
    svc->flights = f;
    svc->idem_ttl_ms = (int64_t)ttl_s * 1000;
}

void eg_svc_idem_free(struct eg_svc *svc)
{
    struct eg_flights *f = svc->flights;
    if (f == NULL)
        return;
    while (f->head != NULL) {
        struct flight *next = f->head->next;
        free(f->head);
        f->head = next;
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
    svc->flights = NULL;
}

static bool key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n >= EG_IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x20 || key[i] > 0x7e)
            return false;
    return true;
}

static bool claim(struct eg_flights *f, const char *tenant_id, const char *key)
{
    bool ok = true;
    pthread_mutex_lock(&f->lock);
    for (struct flight *x = f->head; x != NULL; x = x->next)
        if (strcmp(x->tenant_id, tenant_id) == 0 && strcmp(x->key, key) == 0)
            ok = false;
    if (ok) {
        struct flight *x = calloc(1, sizeof(*x));
        if (x == NULL)
            abort();
        eg_strlcpy(x->tenant_id, tenant_id, sizeof(x->tenant_id));
        eg_strlcpy(x->key, key, sizeof(x->key));
        x->next = f->head;
        f->head = x;
    }
    pthread_mutex_unlock(&f->lock);
    return ok;
}

void eg_svc_idem_release(struct eg_svc *svc, const struct eg_principal *p,
                         const char *key)
{
    struct eg_flights *f = svc->flights;
    pthread_mutex_lock(&f->lock);
    for (struct flight **pp = &f->head; *pp != NULL; pp = &(*pp)->next) {
        struct flight *x = *pp;
        if (strcmp(x->tenant_id, p->tenant_id) == 0 &&
            strcmp(x->key, key) == 0) {
            *pp = x->next;
            free(x);
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

int eg_svc_idem_begin(struct eg_svc *svc, const struct eg_principal *p,
                      const char *key, const char *body, size_t len,
                      struct eg_idem *rec, struct eg_error *err)
{
    if (!key_valid(key))
        return eg_error_set(err, EG_EBADREQUEST,
                            "Idempotency-Key must be 1 to 255 printable ASCII "
                            "characters.");
    uint8_t hash[32];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)body, len,
                       NULL, 0);
    struct eg_store_conn *c = eg_store_conn(svc->store);
    if (c == NULL)
        return eg_error_set(err, EG_EUNAVAILABLE, NULL);
    int64_t now = eg_time_now();
    int rc = eg_store_idem_get(c, p->tenant_id, key, rec);
    if (rc == 0 && rec->created_at >= now - svc->idem_ttl_ms) {
        if (sodium_memcmp(rec->body_hash, hash, sizeof(hash)) != 0)
            return eg_error_set(err, EG_EIDEMREUSED, NULL);
        return EG_IDEM_REPLAY;
    }
    if (rc != 0 && rc != EG_ENOTFOUND)
        return eg_error_set(err, rc, NULL);
    if (!claim(svc->flights, p->tenant_id, key))
        return eg_error_set(err, EG_EINFLIGHT, NULL);
    memset(rec, 0, sizeof(*rec));
    eg_strlcpy(rec->key, key, sizeof(rec->key));
    memcpy(rec->body_hash, hash, sizeof(hash));
    rec->expired_before = now - svc->idem_ttl_ms;
    return 0;
}
