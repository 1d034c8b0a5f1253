/*
 * admin.c - the admin surface's rules: tenants, subscription keys, accounts,
 * access profiles and devices (C6, C7, C14, C23, C30).
 *
 * Secrets are made here and leave only through the caller's buffer, to be
 * shown once: the store keeps a BLAKE2b hash of a subscription key (a 256-bit
 * random value needs no slow hash) and an Argon2id hash of a password (C7).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"
#include "svc/auth.h"
#include "svc/svc.h"

#define KEY_SECRET_BYTES 32

const char *const eg_device_models[] = {
    "BE467B", "FE410B", "NDEB", "LEBMS",       "LEBMD",
    "MTKB",   "XE360",  "CTE",  "VonDuprinRU", "VonDuprinRM", NULL};

bool eg_device_model_valid(const char *model)
{
    for (size_t i = 0; eg_device_models[i] != NULL; i++)
        if (strcmp(model, eg_device_models[i]) == 0)
            return true;
    return false;
}

/* A name given on the admin surface: 1..max bytes, no control characters. */
static int check_name(const char *what, const char *s, size_t max,
                      struct eg_error *err)
{
    size_t n = strlen(s);
    if (n == 0)
        return eg_error_set(err, EG_EBADREQUEST, "%s must not be empty.", what);
    if (n > max)
        return eg_error_set(err, EG_EBADREQUEST,
                            "%s must be at most %zu bytes long.", what, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return eg_error_set(err, EG_EBADREQUEST,
                                "%s must not contain control characters.",
                                what);
    }
    return 0;
}

static int write_one(struct eg_svc *svc, struct eg_write *w,
                     struct eg_error *err, const char *notfound,
                     const char *conflict)
{
    int rc = eg_svc_write_sync(svc, w);
    if (rc == 0)
        return 0;
    if (rc == EG_ENOTFOUND && notfound != NULL)
        return eg_error_set(err, rc, "%s", notfound);
    if (rc == EG_ECONFLICT && conflict != NULL)
        return eg_error_set(err, rc, "%s", conflict);
    return eg_error_set(err, rc, NULL);
}

static int tenant_must_exist(struct eg_svc *svc, const char *tenant_id,
                             struct eg_error *err)
{
    struct eg_store_conn *c = eg_store_conn(svc->store);
    if (c == NULL)
        return eg_error_set(err, EG_EUNAVAILABLE, NULL);
    struct eg_tenant t;
    if (strlen(tenant_id) >= EG_ID_MAX)
        return eg_error_set(err, EG_ENOTFOUND, "no tenant with id '%.64s'.",
                            tenant_id);
    int rc = eg_store_tenant_get(c, tenant_id, &t);
    if (rc == EG_ENOTFOUND)
        return eg_error_set(err, rc, "no tenant with id '%s'.", tenant_id);
    if (rc != 0)
        return eg_error_set(err, rc, NULL);
    return 0;
}

int eg_svc_tenant_create(struct eg_svc *svc, const char *name,
                         struct eg_tenant *out, struct eg_error *err)
{
    int rc = check_name("the tenant name", name, EG_TEXT_MAX - 1, err);
    if (rc != 0)
        return rc;
    struct eg_write w = {.kind = EG_W_TENANT_CREATE};
    eg_random_id(w.u.tenant.tenant_id, sizeof(w.u.tenant.tenant_id), "tn_", 12);
    eg_strlcpy(w.u.tenant.name, name, sizeof(w.u.tenant.name));
    w.u.tenant.created_at = eg_time_now();
    rc = write_one(svc, &w, err, NULL, NULL);
    if (rc == 0)
        *out = w.u.tenant;
    return rc;
}

/* A new subscription key secret as hex, and its hash for the store. */
static void new_secret(char secret[EG_SUBKEY_MAX], uint8_t hash[EG_KEY_HASH_LEN])
{
    unsigned char raw[KEY_SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(secret, EG_SUBKEY_MAX, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    eg_auth_key_hash(secret, strlen(secret), hash);
}

int eg_svc_key_create(struct eg_svc *svc, const char *tenant_id,
                      struct eg_key *out, char secret[EG_SUBKEY_MAX],
                      struct eg_error *err)
{
    int rc = tenant_must_exist(svc, tenant_id, err);
    if (rc != 0)
        return rc;
    struct eg_write w = {.kind = EG_W_KEY_CREATE};
    new_secret(secret, w.u.key.hash);
    eg_strlcpy(w.u.key.tenant_id, tenant_id, sizeof(w.u.key.tenant_id));
    eg_random_id(w.u.key.key_id, sizeof(w.u.key.key_id), "key_", 12);
    w.u.key.created_at = eg_time_now();
    w.u.key.revoked_at = EG_TIME_NONE;
    rc = write_one(svc, &w, err, "the tenant does not exist.", NULL);
    if (rc == 0)
        *out = w.u.key;
    else
        sodium_memzero(secret, EG_SUBKEY_MAX);
    return rc;
}

int eg_svc_key_revoke(struct eg_svc *svc, const char *key_id,
                      struct eg_error *err)
{
    struct eg_write w = {.kind = EG_W_KEY_REVOKE};
    if (!eg_strlcpy(w.u.key.key_id, key_id, sizeof(w.u.key.key_id)))
        return eg_error_set(err, EG_ENOTFOUND, "no key with id '%.64s'.",
                            key_id);
    w.u.key.revoked_at = eg_time_now();
    char msg[128];
    snprintf(msg, sizeof(msg), "no key with id '%s'.", key_id);
    return write_one(svc, &w, err, msg, NULL);
}

int eg_svc_key_rotate(struct eg_svc *svc, const char *key_id,
                      struct eg_key *out, char secret[EG_SUBKEY_MAX],
                      struct eg_error *err)
{
    struct eg_write w = {.kind = EG_W_KEY_ROTATE};
    char msg[128];
    snprintf(msg, sizeof(msg), "no active key with id '%.64s'.", key_id);
    if (!eg_strlcpy(w.u.key.key_id, key_id, sizeof(w.u.key.key_id)))
        return eg_error_set(err, EG_ENOTFOUND, "%s", msg);
    new_secret(secret, w.u.key.hash);
    int rc = write_one(svc, &w, err, msg, NULL);
    if (rc == 0)
        *out = w.u.key;
    else
        sodium_memzero(secret, EG_SUBKEY_MAX);
    return rc;
}

int eg_svc_key_list(struct eg_svc *svc, const char *tenant_id, eg_key_cb cb,
                    void *ctx, struct eg_error *err)
{
    int rc = tenant_must_exist(svc, tenant_id, err);
    if (rc != 0)
        return rc;
    rc = eg_store_key_scan(eg_store_conn(svc->store), tenant_id, cb, ctx);
    if (rc != 0)
        return eg_error_set(err, rc, NULL);
    return 0;
}

static int check_username(const char *username, struct eg_error *err)
{
    int rc = check_name("the username", username, EG_USERNAME_MAX - 1, err);
    if (rc != 0)
        return rc;
    if (strchr(username, ':') != NULL)
        return eg_error_set(err, EG_EBADREQUEST,
                            "the username must not contain ':' (Basic Auth "
                            "cannot carry it).");
    return 0;
}

/* The account write w for (tenant, username) with the given password (or a
 * generated one, into password_out) hashed with Argon2id. */
static int account_write(struct eg_svc *svc, struct eg_write *w,
                         const char *tenant_id, const char *username,
                         const char *password,
                         char password_out[EG_PASSWORD_MAX],
                         struct eg_error *err)
{
    int rc = check_username(username, err);
    if (rc != 0)
        return rc;
    if (password != NULL) {
        size_t n = strlen(password);
        if (n < 8 || n >= EG_PASSWORD_MAX)
            return eg_error_set(err, EG_EBADREQUEST,
                                "the password must be 8 to %d bytes long.",
                                EG_PASSWORD_MAX - 1);
        eg_strlcpy(password_out, password, EG_PASSWORD_MAX);
    } else {
        eg_random_id(password_out, EG_PASSWORD_MAX, "", 18);
    }
    rc = tenant_must_exist(svc, tenant_id, err);
    if (rc != 0)
        return rc;
    eg_strlcpy(w->u.account.tenant_id, tenant_id,
               sizeof(w->u.account.tenant_id));
    eg_strlcpy(w->u.account.username, username, sizeof(w->u.account.username));
    w->u.account.created_at = eg_time_now();
    rc = eg_auth_password_hash(password_out, w->u.account.pwhash);
    if (rc != 0)
        return eg_error_set(err, rc, "the password could not be hashed.");
    return 0;
}

int eg_svc_account_create(struct eg_svc *svc, const char *tenant_id,
                          const char *username, const char *password,
                          char password_out[EG_PASSWORD_MAX],
                          struct eg_error *err)
{
    struct eg_write w = {.kind = EG_W_ACCOUNT_CREATE};
    int rc = account_write(svc, &w, tenant_id, username, password,
                           password_out, err);
    if (rc == 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the account '%s' exists already.",
                 username);
        rc = write_one(svc, &w, err, "the tenant does not exist.", msg);
    }
    if (rc != 0)
        sodium_memzero(password_out, EG_PASSWORD_MAX);
    return rc;
}

int eg_svc_account_passwd(struct eg_svc *svc, const char *tenant_id,
                          const char *username, const char *password,
                          char password_out[EG_PASSWORD_MAX],
                          struct eg_error *err)
{
    struct eg_write w = {.kind = EG_W_ACCOUNT_PASSWD};
    int rc = account_write(svc, &w, tenant_id, username, password,
                           password_out, err);
    if (rc == 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "no account '%.128s' in tenant '%.47s'.",
                 username, tenant_id);
        rc = write_one(svc, &w, err, msg, NULL);
    }
    if (rc != 0)
        sodium_memzero(password_out, EG_PASSWORD_MAX);
    return rc;
}

int eg_svc_account_remove(struct eg_svc *svc, const char *tenant_id,
                          const char *username, struct eg_error *err)
{
    struct eg_write w = {.kind = EG_W_ACCOUNT_REMOVE};
    char msg[256];
    snprintf(msg, sizeof(msg), "no account '%.128s' in tenant '%.47s'.",
             username, tenant_id);
    if (!eg_strlcpy(w.u.account.tenant_id, tenant_id,
                    sizeof(w.u.account.tenant_id)) ||
        !eg_strlcpy(w.u.account.username, username,
                    sizeof(w.u.account.username)))
        return eg_error_set(err, EG_ENOTFOUND, "%s", msg);
    return write_one(svc, &w, err, msg, NULL);
}

int eg_svc_profile_create(struct eg_svc *svc, const char *tenant_id,
                          const char *profile_id, const char *name,
                          struct eg_error *err)
{
    int rc = check_name("the access profile id", profile_id, EG_TEXT_MAX - 1,
                        err);
    if (rc == 0 && name != NULL)
        rc = check_name("the access profile name", name, EG_TEXT_MAX - 1, err);
    if (rc == 0)
        rc = tenant_must_exist(svc, tenant_id, err);
    if (rc != 0)
        return rc;
    struct eg_write w = {.kind = EG_W_PROFILE_CREATE};
    eg_strlcpy(w.u.profile.tenant_id, tenant_id, sizeof(w.u.profile.tenant_id));
    eg_strlcpy(w.u.profile.profile_id, profile_id,
               sizeof(w.u.profile.profile_id));
    if (name != NULL)
        eg_strlcpy(w.u.profile.name, name, sizeof(w.u.profile.name));
    char msg[400];
    snprintf(msg, sizeof(msg), "the access profile '%s' exists already.",
             profile_id);
    return write_one(svc, &w, err, "the tenant does not exist.", msg);
}

int eg_svc_device_add(struct eg_svc *svc, struct eg_device *d,
                      struct eg_error *err)
{
    int rc = check_name("the device name", d->name, EG_TEXT_MAX - 1, err);
    if (rc != 0)
        return rc;
    if (!eg_device_model_valid(d->model))
        return eg_error_set(err, EG_EBADREQUEST,
                            "the model must be one of BE467B, FE410B, NDEB, "
                            "LEBMS, LEBMD, MTKB, XE360, CTE, VonDuprinRU, "
                            "VonDuprinRM.");
    if (d->site_id[0] != '\0')
        rc = check_name("the site", d->site_id, EG_TEXT_MAX - 1, err);
    if (rc == 0 && d->firmware_version[0] != '\0')
        rc = check_name("the firmware version", d->firmware_version,
                        EG_TEXT_MAX - 1, err);
    if (rc == 0)
        rc = tenant_must_exist(svc, d->tenant_id, err);
    if (rc != 0)
        return rc;
    struct eg_write w = {.kind = EG_W_DEVICE_ADD};
    eg_random_id(d->device_id, sizeof(d->device_id), "dev_", 12);
    w.u.device = *d;
    return write_one(svc, &w, err, "the tenant does not exist.", NULL);
}

int eg_svc_device_remove(struct eg_svc *svc, const char *tenant_id,
                         const char *device_id, struct eg_error *err)
{
    struct eg_write w = {.kind = EG_W_DEVICE_REMOVE};
    char msg[160];
    snprintf(msg, sizeof(msg), "no device '%.64s' in tenant '%.47s'.",
             device_id, tenant_id);
    if (!eg_strlcpy(w.u.device.tenant_id, tenant_id,
                    sizeof(w.u.device.tenant_id)) ||
        !eg_strlcpy(w.u.device.device_id, device_id,
                    sizeof(w.u.device.device_id)))
        return eg_error_set(err, EG_ENOTFOUND, "%s", msg);
    return write_one(svc, &w, err, msg, NULL);
}

struct audit_walk {
    eg_audit_cb cb;
    void *ctx;
    int64_t last;
    size_t n;
};

static int audit_step(void *ctx, const struct eg_audit *a)
{
    struct audit_walk *w = ctx;
    w->last = a->seq;
    w->n++;
    return w->cb(w->ctx, a);
}

int eg_svc_audit_list(struct eg_svc *svc, const char *tenant_id,
                      const char *credential_id, const char *since,
                      const char *limit, eg_audit_cb cb, void *ctx,
                      struct eg_error *err)
{
    int64_t from = INT64_MIN;
    size_t max = SIZE_MAX;
    if (since != NULL && !eg_time_parse(since, strlen(since), &from))
        return eg_error_set(err, EG_EBADREQUEST,
                            "--since must be an RFC 3339 date-time with an "
                            "offset, such as 2030-01-01T00:00:00Z.");
    if (limit != NULL) {
        char *end;
        unsigned long long v = strtoull(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || v == 0)
            return eg_error_set(err, EG_EBADREQUEST,
                                "--limit must be a whole number of at least 1.");
        max = (size_t)v;
    }
    int rc = tenant_must_exist(svc, tenant_id, err);
    if (rc != 0)
        return rc;
    struct eg_store_conn *c = eg_store_conn(svc->store);
    /* Page through in short reads, as lists do. */
    struct audit_walk w = {.cb = cb, .ctx = ctx, .last = 0};
    while (max > 0) {
        size_t want = max < 1000 ? max : 1000;
        w.n = 0;
        rc = eg_store_audit_scan(c, tenant_id, credential_id, from, w.last,
                                 want, audit_step, &w);
        if (rc != 0)
            return eg_error_set(err, rc, NULL);
        max -= w.n;
        if (w.n < want)
            break;
    }
    return 0;
}

int eg_svc_seed(struct eg_svc *svc, const char *tenant_id, const char *profile,
                const char *prefix, size_t count, size_t users, size_t batch,
                void (*progress)(size_t made, size_t count), size_t *made,
                struct eg_error *err)
{
    *made = 0;
    int rc = tenant_must_exist(svc, tenant_id, err);
    if (rc != 0)
        return rc;
    if (users == 0 || batch == 0)
        return eg_error_set(err, EG_EBADREQUEST,
                            "--users and --batch must be at least 1.");
    struct eg_principal p = {.key_id = "admin", .username = "seed"};
    eg_strlcpy(p.tenant_id, tenant_id, sizeof(p.tenant_id));
    char request_id[EG_REQUEST_ID_MAX];
    eg_random_id(request_id, sizeof(request_id), "seed-", 12);
    struct eg_write *w = calloc(batch, sizeof(*w));
    if (w == NULL)
        abort();
    struct eg_store_conn *c = eg_store_conn(svc->store);
    char user[EG_USER_ID_MAX];
    while (*made < count) {
        size_t n = count - *made < batch ? count - *made : batch;
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(user, sizeof(user), "%.64s-%zu", prefix,
                               (*made + i) % users);
            struct eg_cred_input in = {
                .user_id = {.present = true, .s = user, .len = (size_t)len},
                .access_profile = {.present = true, .s = profile,
                                   .len = strlen(profile)},
            };
            rc = eg_svc_cred_prepare_create(svc, &p, &in, request_id, &w[i],
                                            err);
            if (rc != 0)
                goto out;
        }
        rc = eg_store_apply(c, w, n);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = w[i].rc;
        if (rc != 0) {
            eg_error_set(err, rc, "the store refused a batch: %s",
                         eg_err_message(rc));
            goto out;
        }
        *made += n;
        if (progress != NULL)
            progress(*made, count);
    }
out:
    free(w);
    return rc;
}
