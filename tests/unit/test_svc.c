/*
 * test_svc.c - unit tests of the service layer (svc/) and core/time, on a
 * real SQLite store in a temporary directory. Each test cites the CONTRACT
 * decision it checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "svc/auth.h"
#include "svc/svc.h"

struct fx {
    char dir[64];
    struct eg_store *store;
    struct eg_svc svc;
    struct eg_principal p;
    char key[EG_SUBKEY_MAX];
    char password[EG_PASSWORD_MAX];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/engage-svc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char url[128], err[256];
    snprintf(url, sizeof(url), "sqlite:%s/s.db", f->dir);
    assert_int_equal(eg_store_open(url, &f->store, err, sizeof(err)), 0);
    f->svc.store = f->store;
    struct eg_error e;
    struct eg_tenant t;
    struct eg_key k;
    assert_int_equal(eg_svc_tenant_create(&f->svc, "T", &t, &e), 0);
    assert_int_equal(eg_svc_key_create(&f->svc, t.tenant_id, &k, f->key, &e), 0);
    assert_int_equal(eg_svc_account_create(&f->svc, t.tenant_id, "ann", NULL,
                                           f->password, &e),
                     0);
    assert_int_equal(eg_svc_profile_create(&f->svc, t.tenant_id, "P1", NULL, &e),
                     0);
    strcpy(f->p.tenant_id, t.tenant_id);
    strcpy(f->p.key_id, k.key_id);
    strcpy(f->p.username, "ann");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    eg_store_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct eg_str S(const char *s)
{
    struct eg_str v = {.present = true, .s = s, .len = strlen(s)};
    return v;
}

static int create(struct fx *f, struct eg_cred_input *in, struct eg_write *w,
                  struct eg_error *e)
{
    int rc = eg_svc_cred_prepare_create(&f->svc, &f->p, in, "rid-1", w, e);
    if (rc != 0)
        return rc;
    return eg_svc_write_sync(&f->svc, w);
}

/* C15: offsets converted to UTC, fractions truncated to ms, output shape. */
static void test_time(void **state)
{
    (void)state;
    int64_t t;
    char buf[EG_TIME_TEXT_MAX];
    const char *s = "2030-01-01T10:00:00.123999+02:00";
    assert_true(eg_time_parse(s, strlen(s), &t));
    assert_string_equal(eg_time_format(t, buf), "2030-01-01T08:00:00.123Z");
    s = "1999-12-31T23:59:59Z";
    assert_true(eg_time_parse(s, strlen(s), &t));
    assert_string_equal(eg_time_format(t, buf), "1999-12-31T23:59:59.000Z");
    s = "2024-02-29T00:00:00-00:30";
    assert_true(eg_time_parse(s, strlen(s), &t));
    assert_string_equal(eg_time_format(t, buf), "2024-02-29T00:30:00.000Z");
    const char *bad[] = {"2030-01-01T00:00:00", "2030-01-01", "2023-02-29T00:00:00Z",
                         "2030-13-01T00:00:00Z", "2030-01-01T24:00:00Z",
                         "2030-01-01T00:00:00.Z", "2030-01-01T00:00:00+0200",
                         "2030-01-01 00:00:00Z", "x030-01-01T00:00:00Z",
                         "0000-01-01T00:00:00+01:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(eg_time_parse(bad[i], strlen(bad[i]), &t));
    assert_string_equal(eg_time_format(-1, buf), "1969-12-31T23:59:59.999Z");
}

/* C13: every rule names its field. */
static void test_create_validation(void **state)
{
    struct fx *f = *state;
    struct eg_write w;
    struct eg_error e;
    char big[300];
    memset(big, 'x', sizeof(big));
    big[129] = '\0';
    struct {
        struct eg_cred_input in;
        const char *field;
    } cases[] = {
        {{.access_profile = S("P1")}, "userId"},
        {{.user_id = S("u")}, "accessProfile"},
        {{.user_id = S(""), .access_profile = S("P1")}, "userId"},
        {{.user_id = S(big), .access_profile = S("P1")}, "userId"},
        {{.user_id = S("a\x01"), .access_profile = S("P1")}, "userId"},
        {{.user_id = S("a\x7f"), .access_profile = S("P1")}, "userId"},
        {{.user_id = S("u"), .access_profile = S("P1"), .user_name = S("\n")},
         "userName"},
        {{.user_id = S("u"), .access_profile = S("P1"), .user_email = S("a@b")},
         "userEmail"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .user_email = S("a@-b.co")},
         "userEmail"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .user_email = S("\xc3\xa9@b.co")},
         "userEmail"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .valid_from = S("2030-01-01")},
         "validFrom"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .valid_to = S("2030-01-01T00:00:00")},
         "validTo"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .valid_from = S("2030-01-02T00:00:00Z"),
          .valid_to = S("2030-01-01T00:00:00Z")},
         "validTo"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .valid_from = S("2030-01-01T00:00:00Z"),
          .valid_to = S("2030-01-01T00:00:00Z")},
         "validTo"},
        {{.user_id = S("u"), .access_profile = S("P1"),
          .valid_to = S("2001-01-01T00:00:00Z")},
         "validTo"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(create(f, &cases[i].in, &w, &e), EG_EBADREQUEST);
        assert_int_equal(e.err, EG_EBADREQUEST);
        assert_non_null(strstr(e.message, cases[i].field));
    }
    /* 128 bytes of userId and a past validFrom with a future validTo pass. */
    big[128] = '\0';
    struct eg_cred_input ok = {.user_id = S(big), .access_profile = S("P1"),
                               .user_email = S("o'neil+x@sub.example.com"),
                               .valid_from = S("2001-01-01T00:00:00Z"),
                               .valid_to = S("2999-01-01T00:00:00Z")};
    assert_int_equal(create(f, &ok, &w, &e), 0);
    assert_true(eg_cred_id_valid(w.u.cred.credential_id));
}

/* C14: an unknown access profile has its own code. */
static void test_unknown_profile(void **state)
{
    struct fx *f = *state;
    struct eg_write w;
    struct eg_error e;
    struct eg_cred_input in = {.user_id = S("u"), .access_profile = S("P9")};
    assert_int_equal(create(f, &in, &w, &e), EG_EUNKNOWNPROFILE);
    assert_string_equal(eg_err_code(e.err), "UnknownAccessProfile");
}

/* C16, C17, C19: defaults, derived status, revoke keeps the first time. */
static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    struct eg_write w, r1, r2;
    struct eg_error e;
    struct eg_cred_input in = {.user_id = S("u"), .access_profile = S("P1")};
    assert_int_equal(create(f, &in, &w, &e), 0);
    struct eg_credential c = w.u.cred;
    assert_int_equal(c.valid_from, c.created_at);
    assert_int_equal(c.valid_to, EG_TIME_NONE);
    assert_int_equal(eg_cred_status(&c, c.created_at), EG_STATUS_ACTIVE);
    c.valid_to = c.created_at + 10;
    assert_int_equal(eg_cred_status(&c, c.created_at + 9), EG_STATUS_ACTIVE);
    assert_int_equal(eg_cred_status(&c, c.created_at + 10), EG_STATUS_EXPIRED);

    assert_int_equal(eg_svc_cred_prepare_revoke(&f->p, c.credential_id, "r",
                                                &r1, &e),
                     0);
    assert_int_equal(eg_svc_write_sync(&f->svc, &r1), 0);
    assert_int_not_equal(r1.u.cred.revoked_at, EG_TIME_NONE);
    usleep(5000);
    assert_int_equal(eg_svc_cred_prepare_revoke(&f->p, c.credential_id, "r",
                                                &r2, &e),
                     0);
    assert_int_equal(eg_svc_write_sync(&f->svc, &r2), 0);
    assert_int_equal(r2.u.cred.revoked_at, r1.u.cred.revoked_at);
    struct eg_credential got;
    assert_int_equal(eg_svc_cred_get(&f->svc, &f->p, c.credential_id, &got, &e),
                     0);
    assert_int_equal(eg_cred_status(&got, eg_time_now()), EG_STATUS_REVOKED);
}

/* C11, C12: ids of the wrong shape and other tenants' ids are not found. */
static void test_not_found(void **state)
{
    struct fx *f = *state;
    struct eg_credential c;
    struct eg_error e;
    const char *bad[] = {"", "short", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA.",
                         "../AAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(eg_svc_cred_get(&f->svc, &f->p, bad[i], &c, &e),
                         EG_ENOTFOUND);
    struct eg_write w;
    struct eg_cred_input in = {.user_id = S("u"), .access_profile = S("P1")};
    assert_int_equal(create(f, &in, &w, &e), 0);
    struct eg_principal other = f->p;
    strcpy(other.tenant_id, "tn_other");
    assert_int_equal(eg_svc_cred_get(&f->svc, &other, w.u.cred.credential_id,
                                     &c, &e),
                     EG_ENOTFOUND);
    struct eg_write rv;
    assert_int_equal(eg_svc_cred_prepare_revoke(&other, w.u.cred.credential_id,
                                                "r", &rv, &e),
                     0);
    assert_int_equal(eg_svc_write_sync(&f->svc, &rv), EG_ENOTFOUND);
}

static int collect(void *ctx, const struct eg_credential *c)
{
    int *n = ctx;
    (*n)++;
    (void)c;
    return 0;
}

/* C20: status values, the default, and the user filter. */
static void test_list(void **state)
{
    struct fx *f = *state;
    struct eg_write w;
    struct eg_error e;
    struct eg_list l;
    for (int i = 0; i < 600; i++) {
        struct eg_cred_input in = {.user_id = S(i % 2 ? "odd" : "even"),
                                   .access_profile = S("P1")};
        assert_int_equal(create(f, &in, &w, &e), 0);
    }
    assert_int_equal(eg_svc_cred_list_begin(&f->p, "Bogus", NULL, NULL, NULL, &l, &e),
                     EG_EBADREQUEST);
    assert_non_null(strstr(e.message, "status"));
    int n = 0;
    assert_int_equal(eg_svc_cred_list_begin(&f->p, NULL, NULL, NULL, NULL, &l, &e), 0);
    while (!l.done)
        assert_int_equal(eg_svc_cred_list_next(&f->svc, &l, 1000, collect, &n),
                         0);
    assert_int_equal(n, 600);
    n = 0;
    assert_int_equal(eg_svc_cred_list_begin(&f->p, "Active", "odd", NULL, NULL, &l, &e), 0);
    while (!l.done)
        assert_int_equal(eg_svc_cred_list_next(&f->svc, &l, 1000, collect, &n),
                         0);
    assert_int_equal(n, 300);
    n = 0;
    assert_int_equal(eg_svc_cred_list_begin(&f->p, "Revoked", NULL, NULL, NULL, &l, &e), 0);
    while (!l.done)
        assert_int_equal(eg_svc_cred_list_next(&f->svc, &l, 1000, collect, &n),
                         0);
    assert_int_equal(n, 0);
}

struct seen {
    char ids[64][EG_ID_MAX];
    int n;
};

static int remember(void *ctx, const struct eg_credential *c)
{
    struct seen *s = ctx;
    strcpy(s->ids[s->n++], c->credential_id);
    return 0;
}

/* C21: limit and cursor validation, and keyset pages that neither skip nor
 * repeat while others are inserted and revoked between pages. */
static void test_paging(void **state)
{
    struct fx *f = *state;
    struct eg_write w;
    struct eg_error e;
    struct eg_list l;
    char ids[10][EG_ID_MAX];
    for (int i = 0; i < 10; i++) {
        struct eg_cred_input in = {.user_id = S("u"), .access_profile = S("P1")};
        assert_int_equal(create(f, &in, &w, &e), 0);
        strcpy(ids[i], w.u.cred.credential_id);
    }
    const char *bad_limits[] = {"0", "1001", "-1", "abc", "", "1.5", " 5"};
    for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
        assert_int_equal(eg_svc_cred_list_begin(&f->p, NULL, NULL, bad_limits[i],
                                                NULL, &l, &e),
                         EG_EBADREQUEST);
        assert_non_null(strstr(e.message, "limit"));
    }
    const char *bad_cursors[] = {"", "!!", "YWJj", "c1:5:x"};
    for (size_t i = 0; i < sizeof(bad_cursors) / sizeof(bad_cursors[0]); i++) {
        assert_int_equal(eg_svc_cred_list_begin(&f->p, NULL, NULL, "3",
                                                bad_cursors[i], &l, &e),
                         EG_EBADREQUEST);
        assert_non_null(strstr(e.message, "cursor"));
    }
    struct seen seen = {.n = 0};
    char cursor[EG_CURSOR_TEXT_MAX] = "";
    int pages = 0;
    for (;;) {
        assert_int_equal(eg_svc_cred_list_begin(&f->p, NULL, NULL, "3",
                                                cursor[0] ? cursor : NULL, &l,
                                                &e),
                         0);
        while (!l.done)
            assert_int_equal(
                eg_svc_cred_list_next(&f->svc, &l, 1000, remember, &seen), 0);
        pages++;
        if (pages == 1) {
            /* Between pages: revoke one not yet seen (ids made in one
             * millisecond list in id order, not creation order), add one. */
            const char *victim = NULL;
            for (int i = 9; i >= 0 && victim == NULL; i--) {
                bool was_seen = false;
                for (int k = 0; k < seen.n; k++)
                    was_seen |= strcmp(seen.ids[k], ids[i]) == 0;
                if (!was_seen)
                    victim = ids[i];
            }
            assert_non_null(victim);
            struct eg_write rv;
            assert_int_equal(eg_svc_cred_prepare_revoke(&f->p, victim, "r", &rv,
                                                        &e),
                             0);
            assert_int_equal(eg_svc_write_sync(&f->svc, &rv), 0);
            struct eg_cred_input in = {.user_id = S("u"),
                                       .access_profile = S("P1")};
            assert_int_equal(create(f, &in, &w, &e), 0);
        }
        if (!l.has_more)
            break;
        eg_svc_list_cursor(&l, cursor);
    }
    /* 10 - 1 revoked + 1 new, each once, in order. */
    assert_int_equal(seen.n, 10);
    assert_int_equal(pages, 4);
    for (int i = 0; i < seen.n; i++)
        for (int k = i + 1; k < seen.n; k++)
            assert_string_not_equal(seen.ids[i], seen.ids[k]);
    bool found_new = false;
    for (int i = 0; i < seen.n; i++)
        found_new |= strcmp(seen.ids[i], w.u.cred.credential_id) == 0;
    assert_true(found_new); /* the one made between pages */
}

static void basic(char *out, size_t len, const char *user, const char *pw)
{
    char raw[300];
    snprintf(raw, sizeof(raw), "%s:%s", user, pw);
    strcpy(out, "Basic ");
    sodium_bin2base64(out + 6, len - 6, (unsigned char *)raw, strlen(raw),
                      sodium_base64_VARIANT_ORIGINAL);
}

/* C6, C8: malformed headers, one message for wrong secrets, the cache, and
 * invalidation by the store's generation. */
struct verify_arg {
    struct eg_auth *a;
    struct eg_auth_pending *pend;
    int rc;
};

static void *verify_thread(void *arg)
{
    struct verify_arg *v = arg;
    v->rc = eg_auth_verify(v->a, v->pend);
    return NULL;
}

/* C8: a request after the stale window, while the background check of its
 * pair still runs, waits for that check rather than hash beside it (until
 * the seventh session it ran a second one, and waited for it). */
static void test_auth_joins_renewal(void **state)
{
    struct fx *f = *state;
    struct eg_auth *a;
    struct eg_principal p;
    struct eg_auth_pending pend, renewal;
    struct eg_error e;
    char authz[400];
    basic(authz, sizeof(authz), "ann", f->password);
    assert_int_equal(eg_auth_new(f->store, 60, &a), 0);
    assert_int_equal(eg_auth_check(a, f->key, authz, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);
    assert_int_equal(eg_auth_verify(a, &pend), 0);

    /* Another key of the tenant: the generation moves, the pair holds. */
    struct eg_key k;
    char secret[EG_SUBKEY_MAX];
    assert_int_equal(
        eg_svc_key_create(&f->svc, f->p.tenant_id, &k, secret, &e), 0);
    int rc = 0;
    for (int i = 0; i < 300; i++) {
        rc = eg_auth_check(a, f->key, authz, &p, &pend, &e);
        if (rc != 0)
            break;
        usleep(5000); /* until the watcher sees the move */
    }
    assert_int_equal(rc, EG_AUTH_OK_REFRESH);
    renewal = pend;
    usleep(700 * 1000); /* past the stale window (500 ms) */
    assert_int_equal(eg_auth_check(a, f->key, authz, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);

    struct eg_auth_stats st0, st1;
    eg_auth_get_stats(a, &st0);
    struct verify_arg v = {.a = a, .pend = &renewal, .rc = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, verify_thread, &v), 0);
    for (int i = 0; i < 5000; i++) { /* until the renewal is hashing */
        eg_auth_get_stats(a, &st1);
        if (st1.argon2_verifications > st0.argon2_verifications)
            break;
        usleep(1000);
    }
    assert_int_equal(st1.argon2_verifications, st0.argon2_verifications + 1);
    assert_int_equal(eg_auth_verify(a, &pend), 0);
    assert_string_equal(pend.principal.username, "ann");
    pthread_join(th, NULL);
    assert_int_equal(v.rc, 0);
    eg_auth_get_stats(a, &st1);
    assert_int_equal(st1.argon2_verifications, st0.argon2_verifications + 1);
    assert_int_equal(eg_auth_check(a, f->key, authz, &p, &pend, &e), 0);
    eg_auth_free(a);
}

static void test_auth(void **state)
{
    struct fx *f = *state;
    struct eg_auth *a;
    struct eg_principal p;
    struct eg_auth_pending pend;
    struct eg_error e;
    char authz[400], wrong[400];
    assert_int_equal(eg_auth_new(f->store, 60, &a), 0);
    basic(authz, sizeof(authz), "ann", f->password);
    basic(wrong, sizeof(wrong), "ann", "not-the-password");

    assert_int_equal(eg_auth_check(a, NULL, authz, &p, &pend, &e),
                     EG_EUNAUTHORIZED);
    assert_non_null(strstr(e.message, "alle-subscription-key"));
    assert_int_equal(eg_auth_check(a, f->key, NULL, &p, &pend, &e),
                     EG_EUNAUTHORIZED);
    assert_non_null(strstr(e.message, "Authorization"));
    assert_int_equal(eg_auth_check(a, f->key, "Bearer x", &p, &pend, &e),
                     EG_EUNAUTHORIZED);
    assert_non_null(strstr(e.message, "Authorization"));
    assert_int_equal(eg_auth_check(a, f->key, "Basic !!!", &p, &pend, &e),
                     EG_EUNAUTHORIZED);

    /* A wrong password: verified, refused, not cached. */
    assert_int_equal(eg_auth_check(a, f->key, wrong, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);
    assert_int_equal(eg_auth_verify(a, &pend), EG_EUNAUTHORIZED);
    assert_int_equal(eg_auth_check(a, f->key, wrong, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);
    /* An unknown key costs a verification too. */
    assert_int_equal(eg_auth_check(a, "nope", authz, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);
    assert_int_equal(eg_auth_verify(a, &pend), EG_EUNAUTHORIZED);

    /* The right pair: verified once, then a cache hit. */
    struct eg_auth_stats st0, st1;
    assert_int_equal(eg_auth_check(a, f->key, authz, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);
    assert_int_equal(eg_auth_verify(a, &pend), 0);
    assert_string_equal(pend.principal.tenant_id, f->p.tenant_id);
    eg_auth_get_stats(a, &st0);
    assert_int_equal(eg_auth_check(a, f->key, authz, &p, &pend, &e), 0);
    assert_string_equal(p.username, "ann");
    eg_auth_get_stats(a, &st1);
    assert_int_equal(st1.argon2_verifications, st0.argon2_verifications);
    assert_int_equal(st1.cache_hits, st0.cache_hits + 1);

    /* C8: near the end of its lifetime a hit asks for one renewal in the
     * background; nobody waits for the expiry. */
    struct eg_auth *short_lived;
    /* A 4 s lifetime: the last fifth is [3.2 s, 4 s), so the check at 3.6 s
     * has 400 ms of slack either side on a slow machine. */
    assert_int_equal(eg_auth_new(f->store, 4, &short_lived), 0);
    assert_int_equal(eg_auth_check(short_lived, f->key, authz, &p, &pend, &e),
                     EG_AUTH_NEED_VERIFY);
    assert_int_equal(eg_auth_verify(short_lived, &pend), 0);
    usleep(3600 * 1000);
    assert_int_equal(eg_auth_check(short_lived, f->key, authz, &p, &pend, &e),
                     EG_AUTH_OK_REFRESH);
    assert_string_equal(p.username, "ann");
    struct eg_auth_pending renewal = pend;
    assert_int_equal(eg_auth_check(short_lived, f->key, authz, &p, &pend, &e),
                     0); /* one renewal per entry */
    assert_int_equal(eg_auth_verify(short_lived, &renewal), 0);
    usleep(600 * 1000); /* past the first expiry: the renewed entry holds */
    assert_int_equal(eg_auth_check(short_lived, f->key, authz, &p, &pend, &e),
                     0);
    eg_auth_free(short_lived);

    /* Revoking the key bumps the generation. Once the watcher sees it, the
     * pair is answered at most a moment longer while it is checked again
     * (EG_AUTH_OK_REFRESH hands that check to this caller); the check fails
     * and drops the pair, which then misses, and verification fails: all
     * within 1 s. */
    assert_int_equal(eg_svc_key_revoke(&f->svc, f->p.key_id, &e), 0);
    int64_t t0 = eg_time_now();
    int rc = 0;
    bool rechecked = false;
    for (int i = 0; i < 100; i++) {
        rc = eg_auth_check(a, f->key, authz, &p, &pend, &e);
        if (rc == EG_AUTH_OK_REFRESH) {
            assert_false(rechecked); /* one check per entry */
            assert_int_equal(eg_auth_verify(a, &pend), EG_EUNAUTHORIZED);
            rechecked = true;
            rc = eg_auth_check(a, f->key, authz, &p, &pend, &e);
            assert_int_equal(rc, EG_AUTH_NEED_VERIFY); /* dropped at once */
        }
        if (rc != 0)
            break;
        usleep(10000);
    }
    assert_int_equal(rc, EG_AUTH_NEED_VERIFY);
    assert_int_equal(eg_auth_verify(a, &pend), EG_EUNAUTHORIZED);
    assert_true(eg_time_now() - t0 < 1000);
    eg_auth_free(a);
}

/* C30: admin rules: unknown tenant, duplicates, bad model. */
static void test_admin(void **state)
{
    struct fx *f = *state;
    struct eg_error e;
    char pw[EG_PASSWORD_MAX];
    struct eg_key k;
    char secret[EG_SUBKEY_MAX];
    assert_int_equal(eg_svc_key_create(&f->svc, "tn_nope", &k, secret, &e),
                     EG_ENOTFOUND);
    assert_int_equal(eg_svc_account_create(&f->svc, f->p.tenant_id, "ann", NULL,
                                           pw, &e),
                     EG_ECONFLICT);
    assert_int_equal(eg_svc_account_create(&f->svc, f->p.tenant_id, "a:b",
                                           NULL, pw, &e),
                     EG_EBADREQUEST);
    assert_int_equal(eg_svc_profile_create(&f->svc, f->p.tenant_id, "P1", NULL,
                                           &e),
                     EG_ECONFLICT);
    struct eg_device d = {0};
    strcpy(d.tenant_id, f->p.tenant_id);
    strcpy(d.name, "Door");
    strcpy(d.model, "NOPE");
    assert_int_equal(eg_svc_device_add(&f->svc, &d, &e), EG_EBADREQUEST);
    strcpy(d.model, "NDEB");
    assert_int_equal(eg_svc_device_add(&f->svc, &d, &e), 0);
    assert_int_equal(eg_svc_device_remove(&f->svc, f->p.tenant_id, d.device_id,
                                          &e),
                     0);
    assert_int_equal(eg_svc_device_remove(&f->svc, f->p.tenant_id, d.device_id,
                                          &e),
                     EG_ENOTFOUND);
    assert_int_equal(eg_svc_account_remove(&f->svc, f->p.tenant_id, "ann", &e),
                     0);
    assert_int_equal(eg_svc_account_remove(&f->svc, f->p.tenant_id, "ann", &e),
                     EG_ENOTFOUND);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_joins_renewal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
