/*
 * common.c - the fuzz drivers' temporary store and checks (see common.h).
 */
#include "common.h"

#include <ftw.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

void fz_fail(const char *file, int line, const char *cond, const char *fmt,
             ...)
{
    va_list ap;
    fprintf(stderr, "\n==== fuzz check failed at %s:%d: %s\n", file, line,
            cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

bool fz_c24_code(const char *code)
{
    static const char *const codes[] = {
        "BadRequest",    "UnknownAccessProfile",   "Unauthorized",
        "NotFound",      "MethodNotAllowed",       "IdempotencyKeyInFlight",
        "PayloadTooLarge", "UnsupportedMediaType", "IdempotencyKeyReused",
        "TooManyRequests", "InternalError",        "ServiceUnavailable",
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

static struct eg_str S(const char *s)
{
    struct eg_str v = {.present = s != NULL, .s = s, .len = s ? strlen(s) : 0};
    return v;
}

static void make_cred(struct fz_fixture *f, const char *user,
                      const char *from, const char *to, char out[EG_ID_MAX])
{
    struct eg_cred_input in = {.user_id = S(user),
                               .access_profile = S("P1"),
                               .user_email = S("ann@example.com"),
                               .user_name = S("Ann"),
                               .valid_from = S(from),
                               .valid_to = S(to)};
    struct eg_write w;
    struct eg_error e;
    memset(&w, 0, sizeof(w));
    FZ_CHECK(eg_svc_cred_prepare_create(&f->svc, &f->p, &in, "fuzz-init", &w,
                                        &e) == 0,
             "prepare create: %s", e.message);
    FZ_CHECK(eg_svc_write_sync(&f->svc, &w) == 0, "create: %d", w.rc);
    memcpy(out, w.u.cred.credential_id, EG_ID_MAX);
}

void fz_fixture_init(struct fz_fixture *f)
{
    memset(f, 0, sizeof(*f));
    FZ_CHECK(sodium_init() >= 0, "sodium_init");
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(f->dir, sizeof(f->dir), "%s/engage-fuzz-XXXXXX", tmp);
    FZ_CHECK(mkdtemp(f->dir) != NULL, "mkdtemp %s", f->dir);
    char url[320], err[512];
    snprintf(url, sizeof(url), "sqlite:%s/fuzz.db", f->dir);
    FZ_CHECK(eg_store_open(url, &f->store, err, sizeof(err)) == 0,
             "open the store: %s", err);
    f->svc.store = f->store;

    struct eg_error e;
    struct eg_tenant t;
    struct eg_key k;
    FZ_CHECK(eg_svc_tenant_create(&f->svc, "fuzz", &t, &e) == 0, "%s",
             e.message);
    FZ_CHECK(eg_svc_key_create(&f->svc, t.tenant_id, &k, f->key, &e) == 0,
             "%s", e.message);
    char pw_out[EG_PASSWORD_MAX];
    FZ_CHECK(eg_svc_account_create(&f->svc, t.tenant_id, FZ_USERNAME,
                                   FZ_PASSWORD, pw_out, &e) == 0,
             "%s", e.message);
    FZ_CHECK(eg_svc_profile_create(&f->svc, t.tenant_id, "P1", "Staff", &e) ==
                 0,
             "%s", e.message);
    FZ_CHECK(eg_svc_profile_create(&f->svc, t.tenant_id, "visitor", NULL,
                                   &e) == 0,
             "%s", e.message);
    static const char *const models[] = {"NDEB", "LEBMS", "CTE"};
    for (size_t i = 0; i < 3; i++) {
        struct eg_device d;
        memset(&d, 0, sizeof(d));
        snprintf(d.tenant_id, sizeof(d.tenant_id), "%s", t.tenant_id);
        snprintf(d.name, sizeof(d.name), "Door %zu", i);
        snprintf(d.model, sizeof(d.model), "%s", models[i]);
        if (i == 0)
            snprintf(d.site_id, sizeof(d.site_id), "site-1");
        FZ_CHECK(eg_svc_device_add(&f->svc, &d, &e) == 0, "%s", e.message);
    }
    snprintf(f->p.tenant_id, sizeof(f->p.tenant_id), "%s", t.tenant_id);
    snprintf(f->p.key_id, sizeof(f->p.key_id), "%s", k.key_id);
    snprintf(f->p.username, sizeof(f->p.username), "%s", FZ_USERNAME);

    char b64[sizeof(f->authz)];
    const char up[] = FZ_USERNAME ":" FZ_PASSWORD;
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)up,
                      sizeof(up) - 1, sodium_base64_VARIANT_ORIGINAL);
    snprintf(f->authz, sizeof(f->authz), "Basic %s", b64);

    /* More expired credentials than one page of a list, so that
     * status=Expired is a streamed (chunked) list while the default list
     * of active ones stays short. */
    for (int i = 0; i < FZ_EXPIRED_BULK; i++) {
        char id[EG_ID_MAX];
        make_cred(f, "bulk", "2000-01-01T00:00:00Z", "2001-01-01T00:00:00Z",
                  id);
    }
    make_cred(f, "user-1", NULL, "2999-01-01T00:00:00Z", f->cred_active);
    make_cred(f, "user-2", "2000-01-01T00:00:00Z", "2001-01-01T00:00:00Z",
              f->cred_expired);
    make_cred(f, "user-1", NULL, NULL, f->cred_revoked);
    struct eg_write w;
    memset(&w, 0, sizeof(w));
    FZ_CHECK(eg_svc_cred_prepare_revoke(&f->p, f->cred_revoked, "fuzz-init",
                                        &w, &e) == 0,
             "%s", e.message);
    FZ_CHECK(eg_svc_write_sync(&f->svc, &w) == 0, "revoke: %d", w.rc);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fz_fixture_free(struct fz_fixture *f)
{
    if (f->store != NULL)
        eg_store_close(f->store);
    f->store = NULL;
    if (f->dir[0] != '\0')
        nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    sodium_memzero(f->key, sizeof(f->key));
}
