/*
 * credentials.c - the rules of mobile credentials: create validation (C13,
 * C14), derived status (C17), revoke (C19), get (C11, C12) and the active
 * list with its filters and order (C20).
 *
 * Nothing here formats a reply: errors come back as struct eg_error with a
 * message that names the offending field; results as store structs.
 */
#include "svc/svc.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"

/* A credential id is 6 bytes of the creation time (ms, big-endian) and 16
 * random bytes (128 bits: C12), as 30 characters of unpadded base64url.
 * The time prefix keeps a tenant's new ids together at the end of the
 * primary-key index, so an insert dirties the same few pages as the one
 * before it instead of a random page each (bulk loads and group commits
 * write far less). */
#define CRED_ID_TIME_BYTES 6
#define CRED_ID_RANDOM_BYTES 16
#define CRED_ID_LEN 30
#define LIST_PAGE 256

enum eg_cred_status eg_cred_status(const struct eg_credential *c, int64_t now)
{
    if (c->revoked_at != EG_TIME_NONE)
        return EG_STATUS_REVOKED;
    if (c->valid_to != EG_TIME_NONE && now >= c->valid_to)
        return EG_STATUS_EXPIRED;
    return EG_STATUS_ACTIVE;
}

const char *eg_cred_status_name(enum eg_cred_status s)
{
    switch (s) {
    case EG_STATUS_REVOKED:
        return "Revoked";
    case EG_STATUS_EXPIRED:
        return "Expired";
    case EG_STATUS_ACTIVE:
        break;
    }
    return "Active";
}

bool eg_cred_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        char ch = id[n];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok || n >= CRED_ID_LEN)
            return false;
    }
    return n == CRED_ID_LEN;
}

static void new_credential_id(char out[EG_ID_MAX], int64_t now)
{
    unsigned char raw[CRED_ID_TIME_BYTES + CRED_ID_RANDOM_BYTES];
    uint64_t t = (uint64_t)now;
    for (int i = CRED_ID_TIME_BYTES - 1; i >= 0; i--) {
        raw[i] = (unsigned char)(t & 0xff);
        t >>= 8;
    }
    eg_random_bytes(raw + CRED_ID_TIME_BYTES, CRED_ID_RANDOM_BYTES);
    sodium_bin2base64(out, EG_ID_MAX, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static bool has_control(const struct eg_str *v)
{
    for (size_t i = 0; i < v->len; i++) {
        unsigned char ch = (unsigned char)v->s[i];
        if (ch < 0x20 || ch == 0x7f)
            return true;
    }
    return false;
}

/* A text field: present-ness, non-emptiness, length and characters. */
static int check_text(const char *field, const struct eg_str *v, bool required,
                      size_t max, struct eg_error *err)
{
    if (!v->present) {
        if (required)
            return eg_error_set(err, EG_EBADREQUEST, "%s is required.", field);
        return 0;
    }
    if (required && v->len == 0)
        return eg_error_set(err, EG_EBADREQUEST, "%s must not be empty.",
                            field);
    if (v->len > max)
        return eg_error_set(err, EG_EBADREQUEST,
                            "%s must be at most %zu bytes long.", field, max);
    if (has_control(v))
        return eg_error_set(err, EG_EBADREQUEST,
                            "%s must not contain control characters.", field);
    return 0;
}

static bool email_local_char(char ch)
{
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+/=?^_`{|}~.-", ch) != NULL;
}

static bool label_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-';
}

/* The e-mail shape of C13: local@domain, ASCII, at least one dot in the
 * domain, no label beginning or ending with a hyphen, at most 254 bytes. */
static bool email_valid(const char *s, size_t len)
{
    if (len == 0 || len > 254)
        return false;
    const char *at = memchr(s, '@', len);
    if (at == NULL || at == s)
        return false;
    for (const char *p = s; p < at; p++)
        if (!email_local_char(*p))
            return false;
    const char *d = at + 1, *end = s + len;
    if (d >= end)
        return false;
    size_t labels = 0;
    while (d <= end) {
        const char *dot = memchr(d, '.', (size_t)(end - d));
        const char *lend = dot ? dot : end;
        if (lend == d || lend - d > 63 || d[0] == '-' || lend[-1] == '-')
            return false;
        for (const char *p = d; p < lend; p++)
            if (!label_char(*p))
                return false;
        labels++;
        if (dot == NULL)
            break;
        d = dot + 1;
    }
    return labels >= 2;
}

static int check_time(const char *field, const struct eg_str *v, int64_t *out,
                      struct eg_error *err)
{
    *out = EG_TIME_NONE;
    if (!v->present)
        return 0;
    if (!eg_time_parse(v->s, v->len, out))
        return eg_error_set(err, EG_EBADREQUEST,
                            "%s must be an RFC 3339 date-time with an offset, "
                            "such as 2030-01-01T00:00:00Z.",
                            field);
    return 0;
}

static void copy_str(char *dst, const struct eg_str *v)
{
    memcpy(dst, v->s, v->len);
    dst[v->len] = '\0';
}

/* Profiles are never removed, so a profile once found exists for good: the
 * positive answers are remembered (C14 costs no store read on the hot path).
 * A miss asks the store, so a profile made by the CLI is found at once. */
#define PROFILE_SLOTS 1024

struct profile_slot {
    const struct eg_store *store; /* one process may open several */
    char tenant_id[EG_ID_MAX];
    char profile_id[EG_TEXT_MAX];
};

static struct profile_slot profile_cache[PROFILE_SLOTS];
static pthread_rwlock_t profile_lock = PTHREAD_RWLOCK_INITIALIZER;

static int profile_exists(struct eg_svc *svc, const char *tenant_id,
                          const char *profile_id)
{
    unsigned char h[4];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)tenant_id,
                              strlen(tenant_id) + 1);
    crypto_generichash_update(&st, (const unsigned char *)profile_id,
                              strlen(profile_id));
    crypto_generichash_final(&st, h, sizeof(h));
    uint32_t v;
    memcpy(&v, h, sizeof(v));
    struct profile_slot *slot = &profile_cache[v % PROFILE_SLOTS];
    pthread_rwlock_rdlock(&profile_lock);
    bool hit = slot->store == svc->store &&
               strcmp(slot->tenant_id, tenant_id) == 0 &&
               strcmp(slot->profile_id, profile_id) == 0;
    pthread_rwlock_unlock(&profile_lock);
    if (hit)
        return 0;
    struct eg_store_conn *conn = eg_store_conn(svc->store);
    if (conn == NULL)
        return EG_EUNAVAILABLE;
    struct eg_profile prof;
    int rc = eg_store_profile_get(conn, tenant_id, profile_id, &prof);
    if (rc == 0) {
        pthread_rwlock_wrlock(&profile_lock);
        slot->store = svc->store;
        eg_strlcpy(slot->tenant_id, tenant_id, sizeof(slot->tenant_id));
        eg_strlcpy(slot->profile_id, profile_id, sizeof(slot->profile_id));
        pthread_rwlock_unlock(&profile_lock);
    }
    return rc;
}

int eg_svc_cred_prepare_create(struct eg_svc *svc, const struct eg_principal *p,
                               const struct eg_cred_input *in,
                               const char *request_id, struct eg_write *w,
                               struct eg_error *err)
{
    int rc;
    int64_t from, to;

    rc = check_text("userId", &in->user_id, true, EG_USER_ID_MAX - 1, err);
    if (rc != 0)
        return rc;
    rc = check_text("accessProfile", &in->access_profile, true,
                    EG_TEXT_MAX - 1, err);
    if (rc != 0)
        return rc;
    rc = check_text("userName", &in->user_name, false, EG_TEXT_MAX - 1, err);
    if (rc != 0)
        return rc;
    if (in->user_email.present &&
        !email_valid(in->user_email.s, in->user_email.len))
        return eg_error_set(err, EG_EBADREQUEST,
                            "userEmail must be an e-mail address such as "
                            "name@example.com (ASCII, at most 254 bytes).");
    rc = check_time("validFrom", &in->valid_from, &from, err);
    if (rc != 0)
        return rc;
    rc = check_time("validTo", &in->valid_to, &to, err);
    if (rc != 0)
        return rc;

    int64_t now = eg_time_now();
    if (to != EG_TIME_NONE && from != EG_TIME_NONE && to <= from)
        return eg_error_set(err, EG_EBADREQUEST,
                            "validTo must be after validFrom.");
    if (to != EG_TIME_NONE && from == EG_TIME_NONE && to <= now)
        return eg_error_set(err, EG_EBADREQUEST,
                            "validTo must be in the future when validFrom is "
                            "not given.");

    struct eg_credential *c = &w->u.cred;
    memset(w, 0, sizeof(*w));
    w->kind = EG_W_CRED_CREATE;
    copy_str(c->access_profile, &in->access_profile);

    rc = profile_exists(svc, p->tenant_id, c->access_profile);
    if (rc == EG_ENOTFOUND)
        return eg_error_set(err, EG_EUNKNOWNPROFILE,
                            "accessProfile '%s' is not an access profile of "
                            "this tenant.",
                            c->access_profile);
    if (rc != 0)
        return eg_error_set(err, rc, NULL);

    eg_strlcpy(c->tenant_id, p->tenant_id, sizeof(c->tenant_id));
    new_credential_id(c->credential_id, now);
    copy_str(c->user_id, &in->user_id);
    c->has_user_email = in->user_email.present;
    if (c->has_user_email)
        copy_str(c->user_email, &in->user_email);
    c->has_user_name = in->user_name.present;
    if (c->has_user_name)
        copy_str(c->user_name, &in->user_name);
    c->created_at = now;
    c->valid_from = from != EG_TIME_NONE ? from : now;
    c->valid_to = to;
    c->revoked_at = EG_TIME_NONE;
    eg_strlcpy(w->actor.key_id, p->key_id, sizeof(w->actor.key_id));
    eg_strlcpy(w->actor.username, p->username, sizeof(w->actor.username));
    eg_strlcpy(w->actor.request_id, request_id, sizeof(w->actor.request_id));
    return 0;
}

int eg_svc_cred_prepare_revoke(const struct eg_principal *p, const char *id,
                               const char *request_id, struct eg_write *w,
                               struct eg_error *err)
{
    if (!eg_cred_id_valid(id))
        return eg_error_set(err, EG_ENOTFOUND, "Credential not found.");
    memset(w, 0, sizeof(*w));
    w->kind = EG_W_CRED_REVOKE;
    eg_strlcpy(w->u.cred.tenant_id, p->tenant_id, sizeof(w->u.cred.tenant_id));
    eg_strlcpy(w->u.cred.credential_id, id, sizeof(w->u.cred.credential_id));
    w->u.cred.revoked_at = eg_time_now();
    eg_strlcpy(w->actor.key_id, p->key_id, sizeof(w->actor.key_id));
    eg_strlcpy(w->actor.username, p->username, sizeof(w->actor.username));
    eg_strlcpy(w->actor.request_id, request_id, sizeof(w->actor.request_id));
    return 0;
}

int eg_svc_cred_get(struct eg_svc *svc, const struct eg_principal *p,
                    const char *id, struct eg_credential *out,
                    struct eg_error *err)
{
    if (!eg_cred_id_valid(id))
        return eg_error_set(err, EG_ENOTFOUND, "Credential not found.");
    struct eg_store_conn *conn = eg_store_conn(svc->store);
    if (conn == NULL)
        return eg_error_set(err, EG_EUNAVAILABLE, NULL);
    int rc = eg_store_cred_get(conn, p->tenant_id, id, out);
    if (rc == EG_ENOTFOUND)
        return eg_error_set(err, EG_ENOTFOUND, "Credential not found.");
    if (rc != 0)
        return eg_error_set(err, rc, NULL);
    return 0;
}

/* A cursor is base64url("c1:" created_at ":" credential_id): opaque to
 * clients, a keyset position to us (C21). */
void eg_svc_list_cursor(const struct eg_list *l, char out[EG_CURSOR_TEXT_MAX])
{
    char raw[EG_CURSOR_TEXT_MAX / 2];
    int n = snprintf(raw, sizeof(raw), "c1:%lld:%s", (long long)l->after.time,
                     l->after.id);
    sodium_bin2base64(out, EG_CURSOR_TEXT_MAX, (const unsigned char *)raw,
                      (size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static bool cursor_parse(const char *text, struct eg_cursor *c)
{
    char raw[EG_CURSOR_TEXT_MAX];
    size_t len = 0;
    size_t tl = strlen(text);
    if (tl == 0 || tl >= EG_CURSOR_TEXT_MAX ||
        sodium_base642bin((unsigned char *)raw, sizeof(raw) - 1, text, tl, NULL,
                          &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    raw[len] = '\0';
    if (strlen(raw) != len || strncmp(raw, "c1:", 3) != 0)
        return false;
    char *end;
    errno = 0;
    long long t = strtoll(raw + 3, &end, 10);
    if (errno != 0 || end == raw + 3 || *end != ':')
        return false;
    if (!eg_cred_id_valid(end + 1))
        return false;
    c->valid = true;
    c->time = t;
    eg_strlcpy(c->id, end + 1, sizeof(c->id));
    return true;
}

int eg_svc_cred_list_begin(const struct eg_principal *p, const char *status,
                           const char *user_id, const char *limit,
                           const char *cursor, struct eg_list *l,
                           struct eg_error *err)
{
    memset(l, 0, sizeof(*l));
    l->remaining = SIZE_MAX;
    if (limit != NULL) {
        char *end;
        errno = 0;
        long v = strtol(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || errno != 0 ||
            v < 1 || v > EG_LIST_LIMIT_MAX)
            return eg_error_set(err, EG_EBADREQUEST,
                                "limit must be a whole number from 1 to %d.",
                                EG_LIST_LIMIT_MAX);
        l->paged = true;
        l->remaining = (size_t)v;
    }
    if (cursor != NULL && !cursor_parse(cursor, &l->after))
        return eg_error_set(err, EG_EBADREQUEST,
                            "cursor is not valid: pass back the nextCursor of "
                            "an earlier page.");
    if (status == NULL || strcmp(status, "Active") == 0)
        l->status = EG_STATUS_ACTIVE;
    else if (strcmp(status, "Revoked") == 0)
        l->status = EG_STATUS_REVOKED;
    else if (strcmp(status, "Expired") == 0)
        l->status = EG_STATUS_EXPIRED;
    else
        return eg_error_set(err, EG_EBADREQUEST,
                            "status must be one of Active, Revoked, Expired.");
    if (user_id != NULL) {
        if (!eg_strlcpy(l->user_id, user_id, sizeof(l->user_id))) {
            /* No stored userId is this long: the list is empty. */
            l->done = true;
        }
        l->has_user = true;
    }
    eg_strlcpy(l->tenant_id, p->tenant_id, sizeof(l->tenant_id));
    l->now = eg_time_now();
    return 0;
}

struct page {
    struct eg_list *l;
    eg_cred_cb cred_cb;
    eg_device_cb dev_cb;
    void *ctx;
    size_t n;
};

static int page_cred(void *ctx, const struct eg_credential *c)
{
    struct page *pg = ctx;
    pg->n++;
    pg->l->delivered++;
    pg->l->after.valid = true;
    pg->l->after.time = c->created_at;
    eg_strlcpy(pg->l->after.id, c->credential_id, sizeof(pg->l->after.id));
    return pg->cred_cb(pg->ctx, c);
}

static int count_one(void *ctx, const struct eg_credential *c)
{
    (void)c;
    *(bool *)ctx = true;
    return 0;
}

int eg_svc_cred_list_next(struct eg_svc *svc, struct eg_list *l, size_t max,
                          eg_cred_cb cb, void *ctx)
{
    if (l->done)
        return 0;
    struct eg_store_conn *conn = eg_store_conn(svc->store);
    if (conn == NULL)
        return EG_EUNAVAILABLE;
    struct eg_cred_filter f = {
        .tenant_id = l->tenant_id,
        .status = l->status,
        .user_id = l->has_user ? l->user_id : NULL,
        .now = l->now,
    };
    size_t want = max < LIST_PAGE ? max : LIST_PAGE;
    if (want > l->remaining)
        want = l->remaining;
    struct page pg = {.l = l, .cred_cb = cb, .ctx = ctx};
    int rc = eg_store_cred_scan(conn, &f, &l->after, want, page_cred, &pg);
    if (rc != 0)
        return rc;
    l->remaining -= pg.n;
    if (pg.n < want) {
        l->done = true;
    } else if (l->remaining == 0) {
        /* The page is full: does anything follow it? */
        l->done = true;
        rc = eg_store_cred_scan(conn, &f, &l->after, 1, count_one, &l->has_more);
    }
    return rc;
}

void eg_svc_device_list_begin(const struct eg_principal *p, struct eg_list *l)
{
    memset(l, 0, sizeof(*l));
    eg_strlcpy(l->tenant_id, p->tenant_id, sizeof(l->tenant_id));
}

static int page_dev(void *ctx, const struct eg_device *d)
{
    struct page *pg = ctx;
    pg->n++;
    pg->l->delivered++;
    pg->l->after.valid = true;
    eg_strlcpy(pg->l->after.text, d->name, sizeof(pg->l->after.text));
    eg_strlcpy(pg->l->after.id, d->device_id, sizeof(pg->l->after.id));
    return pg->dev_cb(pg->ctx, d);
}

int eg_svc_device_list_next(struct eg_svc *svc, struct eg_list *l, size_t max,
                            eg_device_cb cb, void *ctx)
{
    if (l->done)
        return 0;
    struct eg_store_conn *conn = eg_store_conn(svc->store);
    if (conn == NULL)
        return EG_EUNAVAILABLE;
    size_t want = max < LIST_PAGE ? max : LIST_PAGE;
    struct page pg = {.l = l, .dev_cb = cb, .ctx = ctx};
    int rc = eg_store_device_scan(conn, l->tenant_id, &l->after, want, page_dev,
                                  &pg);
    if (rc != 0)
        return rc;
    if (pg.n < want)
        l->done = true;
    return 0;
}
