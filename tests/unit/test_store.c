/*
 * test_store.c - the store backends, through the eg_store_* API.
 *
 * The generic tests run on SQLite, or, when ENGAGE_TEST_STORE_URL names a
 * PostgreSQL server ("postgres://postgres@127.0.0.1:PORT/postgres", a
 * database to connect to for CREATE DATABASE), on PostgreSQL; then the
 * PostgreSQL-only tests run too, else the SQLite-only ones. Each test runs on
 * a fresh store (a file in its own mkdtemp directory, or a database of its
 * own), removed afterwards. Raw SQL is used only to stage what the API cannot
 * make (a store from a newer engage, an over-long stored value, a writer from
 * another process holding a lock) and to count what is stored.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/error.h"
#include "core/time.h"
#include "store/cache.h"
#include "store/store.h"
#include "store/writer.h"

/* ENGAGE_TEST_STORE_URL: the PostgreSQL server to test on, or NULL. */
static const char *pg_base;

struct fx {
    char dir[64];
    char path[128]; /* the SQLite file */
    char db[64];    /* the PostgreSQL database */
    char url[512];
    const char *raw; /* where raw SQL goes: path or url */
    bool pg;
    struct eg_store *s;
    struct eg_store_conn *c;
};

extern const size_t eg_migrations_count;
extern const size_t eg_pg_migrations_count;

/* How many numbered migrations the store of f has applied: all of them. */
static long migrations(const struct fx *f)
{
    return (long)(f->pg ? eg_pg_migrations_count : eg_migrations_count);
}

/* pg_base with its database replaced by db. */
static void pg_url(const char *db, char *out, size_t cap)
{
    const char *host = strstr(pg_base, "//");
    assert_non_null(host);
    const char *query = strchr(host + 2, '?');
    const char *slash = strchr(host + 2, '/');
    if (slash != NULL && query != NULL && slash > query)
        slash = NULL; /* a '/' in the query, not the path */
    size_t head = slash != NULL ? (size_t)(slash - pg_base)
                  : query != NULL ? (size_t)(query - pg_base)
                                  : strlen(pg_base);
    int n = snprintf(out, cap, "%.*s/%s%s", (int)head, pg_base, db,
                     query != NULL ? query : "");
    assert_true(n > 0 && (size_t)n < cap);
}

/* Runs q on the maintenance database of pg_base. */
static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void pg_admin(const char *q)
{
    PGconn *pg = PQconnectdb(pg_base);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PQsetNoticeProcessor(pg, quiet, NULL);
    PGresult *r = PQexec(pg, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
}

/* A new, empty database; its URL in url. */
static void pg_fresh(char *db, size_t dbcap, char *url, size_t urlcap)
{
    static int serial;
    snprintf(db, dbcap, "eg_t_%ld_%d", (long)getpid(), serial++);
    char q[160];
    snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", db);
    pg_admin(q);
    snprintf(q, sizeof(q), "CREATE DATABASE %s", db);
    pg_admin(q);
    pg_url(db, url, urlcap);
}

static void pg_drop(const char *db)
{
    char q[160];
    snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    pg_admin(q);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/eg-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/engage.db", f->dir);
    f->pg = pg_base != NULL;
    if (f->pg) {
        pg_fresh(f->db, sizeof(f->db), f->url, sizeof(f->url));
        f->raw = f->url;
    } else {
        snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
        f->raw = f->path;
    }
    char err[256] = "";
    int rc = eg_store_open(f->url, &f->s, err, sizeof(err));
    if (rc != 0)
        fail_msg("cannot open %s: %s", f->url, err);
    f->c = eg_store_conn(f->s);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    eg_store_close(f->s);
    if (f->pg)
        pg_drop(f->db);
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        char p[512];
        for (e = readdir(d); e != NULL; e = readdir(d)) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- building writes ---- */

static void cp(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    assert_true(n < cap);
    memcpy(dst, s, n + 1);
}

#define CP(field, s) cp((field), sizeof(field), (s))

static struct eg_write tenant_w(const char *id, int64_t at)
{
    struct eg_write w = {.kind = EG_W_TENANT_CREATE};
    CP(w.u.tenant.tenant_id, id);
    CP(w.u.tenant.name, "Tenant name");
    w.u.tenant.created_at = at;
    return w;
}

static void fill_hash(uint8_t h[EG_KEY_HASH_LEN], uint8_t seed)
{
    for (size_t i = 0; i < EG_KEY_HASH_LEN; i++)
        h[i] = (uint8_t)(seed + i);
}

static struct eg_write key_w(const char *tenant, const char *key_id,
                             uint8_t seed, int64_t at)
{
    struct eg_write w = {.kind = EG_W_KEY_CREATE};
    CP(w.u.key.tenant_id, tenant);
    CP(w.u.key.key_id, key_id);
    fill_hash(w.u.key.hash, seed);
    w.u.key.created_at = at;
    w.u.key.revoked_at = EG_TIME_NONE;
    return w;
}

static struct eg_write key_revoke_w(const char *key_id, int64_t at)
{
    struct eg_write w = {.kind = EG_W_KEY_REVOKE};
    CP(w.u.key.key_id, key_id);
    w.u.key.revoked_at = at;
    return w;
}

static struct eg_write account_w(enum eg_write_kind kind, const char *tenant,
                                 const char *user)
{
    struct eg_write w = {.kind = kind};
    CP(w.u.account.tenant_id, tenant);
    CP(w.u.account.username, user);
    CP(w.u.account.pwhash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
    w.u.account.created_at = 42;
    return w;
}

static struct eg_write profile_w(const char *tenant, const char *id,
                                 const char *name)
{
    struct eg_write w = {.kind = EG_W_PROFILE_CREATE};
    CP(w.u.profile.tenant_id, tenant);
    CP(w.u.profile.profile_id, id);
    CP(w.u.profile.name, name);
    return w;
}

static struct eg_write device_w(enum eg_write_kind kind, const char *tenant,
                                const char *id, const char *name)
{
    struct eg_write w = {.kind = kind};
    CP(w.u.device.tenant_id, tenant);
    CP(w.u.device.device_id, id);
    CP(w.u.device.name, name);
    CP(w.u.device.model, "NDE");
    return w;
}

static void set_actor(struct eg_write *w, const char *key, const char *user,
                      const char *req)
{
    CP(w->actor.key_id, key);
    CP(w->actor.username, user);
    CP(w->actor.request_id, req);
}

static struct eg_write cred_w(const char *tenant, const char *id,
                              const char *user, int64_t created,
                              int64_t valid_to)
{
    struct eg_write w = {.kind = EG_W_CRED_CREATE};
    CP(w.u.cred.tenant_id, tenant);
    CP(w.u.cred.credential_id, id);
    CP(w.u.cred.user_id, user);
    CP(w.u.cred.access_profile, "staff");
    w.u.cred.valid_from = created;
    w.u.cred.valid_to = valid_to;
    w.u.cred.created_at = created;
    w.u.cred.revoked_at = EG_TIME_NONE;
    set_actor(&w, "key-1", "alice", "req-create");
    return w;
}

/* t1's credential "full": every optional field set, non-ASCII text. */
static struct eg_write full_cred_w(void)
{
    struct eg_write w = cred_w("t1", "full", "user-2", 2000, 9000);
    CP(w.u.cred.user_email, "a.b@example.com");
    w.u.cred.has_user_email = true;
    CP(w.u.cred.user_name, "Zoë Ünicode");
    w.u.cred.has_user_name = true;
    w.u.cred.valid_from = 1500;
    return w;
}

static struct eg_write revoke_w(const char *tenant, const char *id,
                                int64_t at)
{
    struct eg_write w = {.kind = EG_W_CRED_REVOKE};
    CP(w.u.cred.tenant_id, tenant);
    CP(w.u.cred.credential_id, id);
    w.u.cred.revoked_at = at;
    set_actor(&w, "key-2", "bob", "req-revoke");
    return w;
}

/* Applies one write (the batch must commit) and returns its own rc. */
static int apply1(struct eg_store_conn *c, struct eg_write w)
{
    w.rc = 12345;
    assert_int_equal(eg_store_apply(c, &w, 1), 0);
    return w.rc;
}

static void ok1(struct eg_store_conn *c, struct eg_write w)
{
    assert_int_equal(apply1(c, w), 0);
}

static int64_t gen(struct eg_store_conn *c)
{
    int64_t g = -1;
    assert_int_equal(eg_store_auth_generation(c, &g), 0);
    return g;
}

/* ---- collecting scans ---- */

#define MAXROWS 32

struct rows {
    int n;
    int stop_at; /* stop the scan after this many rows; 0 = never */
    char id[MAXROWS][EG_TEXT_MAX];
    char text[MAXROWS][EG_TEXT_MAX];
    int64_t t[MAXROWS];
    struct eg_audit audit[MAXROWS];
};

static int add_row(struct rows *r, const char *id, const char *text,
                   int64_t t)
{
    assert_true(r->n < MAXROWS);
    CP(r->id[r->n], id);
    CP(r->text[r->n], text);
    r->t[r->n] = t;
    r->n++;
    return r->stop_at != 0 && r->n >= r->stop_at;
}

static int cred_cb(void *ctx, const struct eg_credential *c)
{
    return add_row(ctx, c->credential_id, c->user_id, c->created_at);
}

static int device_cb(void *ctx, const struct eg_device *d)
{
    return add_row(ctx, d->device_id, d->name, 0);
}

static int tenant_cb(void *ctx, const struct eg_tenant *t)
{
    return add_row(ctx, t->tenant_id, t->name, t->created_at);
}

static int key_cb(void *ctx, const struct eg_key *k)
{
    return add_row(ctx, k->key_id, k->tenant_id, k->created_at);
}

static int audit_cb(void *ctx, const struct eg_audit *a)
{
    struct rows *r = ctx;
    assert_true(r->n < MAXROWS);
    r->audit[r->n] = *a;
    return add_row(r, a->credential_id, a->action, a->time);
}

static struct rows *rows_new(void)
{
    struct rows *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    return r;
}

/* The ids of r joined with ",". */
static const char *joined(const struct rows *r)
{
    static char buf[4096];
    buf[0] = '\0';
    for (int i = 0; i < r->n; i++) {
        if (i > 0)
            strcat(buf, ",");
        strcat(buf, r->id[i]);
    }
    return buf;
}

static const char *cred_list(struct eg_store_conn *c, const char *tenant,
                             enum eg_cred_status status, const char *user,
                             int64_t now)
{
    struct eg_cred_filter f = {
        .tenant_id = tenant, .status = status, .user_id = user, .now = now};
    struct rows *r = rows_new();
    assert_int_equal(eg_store_cred_scan(c, &f, NULL, SIZE_MAX, cred_cb, r), 0);
    static char out[4096];
    snprintf(out, sizeof(out), "%s", joined(r));
    free(r);
    return out;
}

static int64_t audit_count(struct eg_store_conn *c, const char *tenant)
{
    struct rows *r = rows_new();
    assert_int_equal(
        eg_store_audit_scan(c, tenant, NULL, INT64_MIN, 0, SIZE_MAX, audit_cb, r),
        0);
    int n = r->n;
    free(r);
    return n;
}

/* ---- raw SQL, for staging only ---- */

/* where: an SQLite file, or a PostgreSQL URL. */
static bool is_pg(const char *where)
{
    return strncmp(where, "postgres", 8) == 0;
}

static void raw_exec(const char *where, const char *q)
{
    if (is_pg(where)) {
        PGconn *pg = PQconnectdb(where);
        assert_int_equal(PQstatus(pg), CONNECTION_OK);
        PGresult *r = PQexec(pg, q);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("%s: %s", q, PQerrorMessage(pg));
        PQclear(r);
        PQfinish(pg);
        return;
    }
    sqlite3 *db;
    assert_int_equal(sqlite3_open(where, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t raw_int(const char *where, const char *q)
{
    if (is_pg(where)) {
        PGconn *pg = PQconnectdb(where);
        assert_int_equal(PQstatus(pg), CONNECTION_OK);
        PGresult *r = PQexec(pg, q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
            fail_msg("%s: %s", q, PQerrorMessage(pg));
        int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(pg);
        return v;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(where, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* ---- opening ---- */

static void test_migrations_once(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eg_store_ping(f->c), 0);
    assert_int_equal(gen(f->c), 0);
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, key_w("t1", "k1", 1, 1));
    assert_int_equal(gen(f->c), 1);
    eg_store_close(f->s);
    f->s = NULL;

    /* Re-opening applies nothing again: a re-run of 001 would fail on its
     * CREATE TABLE, and would reset the generation. */
    char err[256] = "";
    for (int i = 0; i < 3; i++) {
        struct eg_store *s;
        assert_int_equal(eg_store_open(f->url, &s, err, sizeof(err)), 0);
        struct eg_store_conn *c = eg_store_conn(s);
        assert_non_null(c);
        assert_int_equal(gen(c), 1);
        struct eg_tenant t;
        assert_int_equal(eg_store_tenant_get(c, "t1", &t), 0);
        assert_int_equal(t.created_at, 1);
        eg_store_close(s);
    }
    assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM schema_migrations"),
                     migrations(f));
    assert_int_equal(
        raw_int(f->raw, "SELECT max(version) FROM schema_migrations"),
        migrations(f));
    if (!f->pg)
        assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM pragma_journal_mode "
                                          "WHERE journal_mode = 'wal'"),
                         1);
    assert_int_equal(eg_store_open(f->url, &f->s, err, sizeof(err)), 0);
}

static void test_refuses_newer_schema(void **state)
{
    struct fx *f = *state;
    eg_store_close(f->s);
    f->s = NULL;
    raw_exec(f->raw, "INSERT INTO schema_migrations VALUES (999, 0)");
    char err[256] = "";
    struct eg_store *s = NULL;
    assert_int_equal(eg_store_open(f->url, &s, err, sizeof(err)), EG_EINTERNAL);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
    assert_non_null(strstr(err, "999"));
    raw_exec(f->raw, "DELETE FROM schema_migrations WHERE version = 999");
    assert_int_equal(eg_store_open(f->url, &f->s, err, sizeof(err)), 0);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct eg_store *s = NULL;
    err[0] = '\0';
    assert_int_equal(eg_store_open("sqlite:", &s, err, sizeof(err)),
                     EG_EBADREQUEST);
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_int_equal(
        eg_store_open("sqlite:/nonexistent-dir-eg/x.db", &s, err, sizeof(err)),
        EG_EUNAVAILABLE);
    assert_non_null(strstr(err, "/nonexistent-dir-eg/x.db"));

    char junk[200];
    snprintf(junk, sizeof(junk), "%s/junk", f->dir);
    FILE *fp = fopen(junk, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database. ", fp);
    fclose(fp);
    char url[256];
    snprintf(url, sizeof(url), "sqlite:%s", junk);
    err[0] = '\0';
    assert_int_equal(eg_store_open(url, &s, err, sizeof(err)), EG_EINTERNAL);
    assert_non_null(strstr(err, "not a database"));
    assert_null(s);
}

static void test_file_mode(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* 0600 comes from engage, not from a restrictive umask. */
    char path[200], url[220], err[256];
    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    mode_t old = umask(0);
    struct eg_store *s;
    int rc = eg_store_open(url, &s, err, sizeof(err));
    struct eg_store_conn *c = rc == 0 ? eg_store_conn(s) : NULL;
    if (c != NULL)
        rc = apply1(c, tenant_w("t1", 1));
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char wal[220];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    eg_store_close(s);
}

/* ---- tenants, keys, accounts, profiles, devices ---- */

static void test_tenants(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("b", 3));
    ok1(f->c, tenant_w("a", 2));
    ok1(f->c, tenant_w("B", 1));
    assert_int_equal(apply1(f->c, tenant_w("a", 9)), EG_ECONFLICT);

    struct eg_tenant t;
    assert_int_equal(eg_store_tenant_get(f->c, "a", &t), 0);
    assert_string_equal(t.tenant_id, "a");
    assert_string_equal(t.name, "Tenant name");
    assert_int_equal(t.created_at, 2);
    assert_int_equal(eg_store_tenant_get(f->c, "A", &t), EG_ENOTFOUND);

    struct rows *r = rows_new();
    assert_int_equal(eg_store_tenant_scan(f->c, tenant_cb, r), 0);
    assert_string_equal(joined(r), "B,a,b");
    memset(r, 0, sizeof(*r));
    r->stop_at = 2;
    assert_int_equal(eg_store_tenant_scan(f->c, tenant_cb, r), 0);
    assert_string_equal(joined(r), "B,a");
    free(r);
}

static void test_keys(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    ok1(f->c, key_w("t1", "kb", 10, 200));
    ok1(f->c, key_w("t1", "ka", 20, 200));
    ok1(f->c, key_w("t1", "kc", 30, 100));
    ok1(f->c, key_w("t2", "kz", 40, 50));
    /* key ids are unique across tenants, and so are hashes */
    assert_int_equal(apply1(f->c, key_w("t1", "ka", 50, 1)), EG_ECONFLICT);
    assert_int_equal(apply1(f->c, key_w("t2", "ka", 51, 1)), EG_ECONFLICT);
    assert_int_equal(apply1(f->c, key_w("t2", "new", 10, 1)), EG_ECONFLICT);
    assert_int_equal(apply1(f->c, key_w("nope", "k9", 60, 1)), EG_ENOTFOUND);

    uint8_t h[EG_KEY_HASH_LEN];
    struct eg_key k;
    fill_hash(h, 20);
    assert_int_equal(eg_store_key_by_hash(f->c, h, &k), 0);
    assert_string_equal(k.tenant_id, "t1");
    assert_string_equal(k.key_id, "ka");
    assert_memory_equal(k.hash, h, EG_KEY_HASH_LEN);
    assert_int_equal(k.created_at, 200);
    assert_true(k.revoked_at == EG_TIME_NONE);
    fill_hash(h, 60);
    assert_int_equal(eg_store_key_by_hash(f->c, h, &k), EG_ENOTFOUND);

    struct rows *r = rows_new();
    assert_int_equal(eg_store_key_scan(f->c, "t1", key_cb, r), 0);
    assert_string_equal(joined(r), "kc,ka,kb");
    memset(r, 0, sizeof(*r));
    assert_int_equal(eg_store_key_scan(f->c, "t2", key_cb, r), 0);
    assert_string_equal(joined(r), "kz");
    free(r);

    /* Revoke by key id alone: fills the tenant, keeps the first time. */
    struct eg_write w = key_revoke_w("ka", 500);
    assert_int_equal(eg_store_apply(f->c, &w, 1), 0);
    assert_int_equal(w.rc, 0);
    assert_string_equal(w.u.key.tenant_id, "t1");
    assert_int_equal(w.u.key.revoked_at, 500);
    w = key_revoke_w("ka", 900);
    assert_int_equal(eg_store_apply(f->c, &w, 1), 0);
    assert_int_equal(w.rc, 0);
    assert_string_equal(w.u.key.tenant_id, "t1");
    assert_int_equal(w.u.key.revoked_at, 500);
    fill_hash(h, 20);
    assert_int_equal(eg_store_key_by_hash(f->c, h, &k), 0);
    assert_int_equal(k.revoked_at, 500);
    assert_int_equal(apply1(f->c, key_revoke_w("unknown", 1)), EG_ENOTFOUND);
}

static void test_accounts(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    ok1(f->c, account_w(EG_W_ACCOUNT_CREATE, "t1", "alice"));
    ok1(f->c, account_w(EG_W_ACCOUNT_CREATE, "t2", "alice"));
    assert_int_equal(apply1(f->c, account_w(EG_W_ACCOUNT_CREATE, "t1", "alice")),
                     EG_ECONFLICT);
    assert_int_equal(apply1(f->c, account_w(EG_W_ACCOUNT_CREATE, "t9", "bob")),
                     EG_ENOTFOUND);

    struct eg_account a;
    assert_int_equal(eg_store_account_get(f->c, "t1", "alice", &a), 0);
    assert_string_equal(a.tenant_id, "t1");
    assert_string_equal(a.username, "alice");
    assert_string_equal(a.pwhash,
                        "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
    assert_int_equal(a.created_at, 42);
    assert_int_equal(eg_store_account_get(f->c, "t1", "Alice", &a),
                     EG_ENOTFOUND);

    ok1(f->c, account_w(EG_W_ACCOUNT_REMOVE, "t1", "alice"));
    assert_int_equal(eg_store_account_get(f->c, "t1", "alice", &a),
                     EG_ENOTFOUND);
    assert_int_equal(eg_store_account_get(f->c, "t2", "alice", &a), 0);
    assert_int_equal(apply1(f->c, account_w(EG_W_ACCOUNT_REMOVE, "t1", "alice")),
                     EG_ENOTFOUND);
}

static void test_profiles(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, profile_w("t1", "staff", ""));
    ok1(f->c, profile_w("t1", "admin", "Administrators"));
    assert_int_equal(apply1(f->c, profile_w("t1", "staff", "x")), EG_ECONFLICT);
    assert_int_equal(apply1(f->c, profile_w("t9", "staff", "")), EG_ENOTFOUND);

    struct eg_profile p;
    memset(&p, 'x', sizeof(p));
    assert_int_equal(eg_store_profile_get(f->c, "t1", "staff", &p), 0);
    assert_string_equal(p.tenant_id, "t1");
    assert_string_equal(p.profile_id, "staff");
    assert_string_equal(p.name, "");
    assert_int_equal(eg_store_profile_get(f->c, "t1", "admin", &p), 0);
    assert_string_equal(p.name, "Administrators");
    assert_int_equal(eg_store_profile_get(f->c, "t1", "Staff", &p),
                     EG_ENOTFOUND);
    assert_int_equal(eg_store_profile_get(f->c, "t2", "staff", &p),
                     EG_ENOTFOUND);
    /* absent is NULL in the store, not "" */
    assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM access_profiles "
                                      "WHERE name IS NULL"),
                     1);
}

static void test_devices(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    struct eg_write w = device_w(EG_W_DEVICE_ADD, "t1", "d1", "Door");
    CP(w.u.device.firmware_version, "1.2.3");
    CP(w.u.device.site_id, "site-9");
    ok1(f->c, w);
    ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d2", "Door"));
    ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d0", "door"));
    ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d9", "Annex"));
    ok1(f->c, device_w(EG_W_DEVICE_ADD, "t2", "d5", "Back"));
    assert_int_equal(
        apply1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d1", "Other")),
        EG_ECONFLICT);
    assert_int_equal(apply1(f->c, device_w(EG_W_DEVICE_ADD, "t9", "d1", "X")),
                     EG_ENOTFOUND);

    struct rows *r = rows_new();
    assert_int_equal(
        eg_store_device_scan(f->c, "t1", NULL, SIZE_MAX, device_cb, r), 0);
    assert_string_equal(joined(r), "d9,d1,d2,d0");
    assert_string_equal(r->text[3], "door");

    /* one at a time from a keyset position, with an insert in between */
    struct eg_cursor cur = {.valid = false};
    memset(r, 0, sizeof(*r));
    for (int page = 0; page < 10; page++) {
        int before = r->n;
        assert_int_equal(
            eg_store_device_scan(f->c, "t1", &cur, 1, device_cb, r), 0);
        if (r->n == before)
            break;
        assert_int_equal(r->n, before + 1);
        cur.valid = true;
        CP(cur.text, r->text[r->n - 1]);
        CP(cur.id, r->id[r->n - 1]);
        if (page == 1) {
            ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d3", "Door")); /* after */
            ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d00", "Door")); /* before */
        }
    }
    assert_string_equal(joined(r), "d9,d1,d2,d3,d0");

    ok1(f->c, device_w(EG_W_DEVICE_REMOVE, "t1", "d2", ""));
    assert_int_equal(apply1(f->c, device_w(EG_W_DEVICE_REMOVE, "t1", "d2", "")),
                     EG_ENOTFOUND);
    assert_int_equal(apply1(f->c, device_w(EG_W_DEVICE_REMOVE, "t1", "d5", "")),
                     EG_ENOTFOUND);
    memset(r, 0, sizeof(*r));
    assert_int_equal(eg_store_device_scan(f->c, "t1", NULL, 3, device_cb, r), 0);
    assert_string_equal(joined(r), "d9,d00,d1");
    free(r);
}

/* The optional device fields round-trip: absent "" and present text. */
static struct eg_device got_dev;
static int dev_grab(void *ctx, const struct eg_device *d)
{
    if (strcmp(d->device_id, ctx) == 0)
        got_dev = *d;
    return 0;
}

static void test_device_fields(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    struct eg_write w = device_w(EG_W_DEVICE_ADD, "t1", "full", "A");
    CP(w.u.device.firmware_version, "fw-2");
    CP(w.u.device.site_id, "s1");
    ok1(f->c, w);
    ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "bare", "B"));
    memset(&got_dev, 'x', sizeof(got_dev));
    assert_int_equal(
        eg_store_device_scan(f->c, "t1", NULL, SIZE_MAX, dev_grab, "full"), 0);
    assert_string_equal(got_dev.name, "A");
    assert_string_equal(got_dev.model, "NDE");
    assert_string_equal(got_dev.firmware_version, "fw-2");
    assert_string_equal(got_dev.site_id, "s1");
    memset(&got_dev, 'x', sizeof(got_dev));
    assert_int_equal(
        eg_store_device_scan(f->c, "t1", NULL, SIZE_MAX, dev_grab, "bare"), 0);
    assert_string_equal(got_dev.tenant_id, "t1");
    assert_string_equal(got_dev.firmware_version, "");
    assert_string_equal(got_dev.site_id, "");
    assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM devices WHERE "
                                      "firmware_version IS NULL AND "
                                      "site_id IS NULL"),
                     1);
}

static void test_auth_generation(void **state)
{
    struct fx *f = *state;
    int64_t g = gen(f->c);
    assert_int_equal(g, 0);
    ok1(f->c, tenant_w("t1", 1));
    assert_int_equal(gen(f->c), g);
    ok1(f->c, profile_w("t1", "staff", ""));
    ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", "d1", "Door"));
    ok1(f->c, cred_w("t1", "c1", "u1", 10, EG_TIME_NONE));
    ok1(f->c, revoke_w("t1", "c1", 20));
    ok1(f->c, device_w(EG_W_DEVICE_REMOVE, "t1", "d1", ""));
    assert_int_equal(gen(f->c), g);

    ok1(f->c, key_w("t1", "k1", 1, 1));
    assert_int_equal(gen(f->c), g + 1);
    ok1(f->c, key_revoke_w("k1", 5));
    assert_int_equal(gen(f->c), g + 2);
    ok1(f->c, account_w(EG_W_ACCOUNT_CREATE, "t1", "alice"));
    assert_int_equal(gen(f->c), g + 3);
    ok1(f->c, account_w(EG_W_ACCOUNT_REMOVE, "t1", "alice"));
    assert_int_equal(gen(f->c), g + 4);

    /* failed writes leave it alone */
    assert_int_equal(apply1(f->c, key_w("t1", "k1", 9, 1)), EG_ECONFLICT);
    assert_int_equal(apply1(f->c, key_revoke_w("zz", 5)), EG_ENOTFOUND);
    assert_int_equal(apply1(f->c, account_w(EG_W_ACCOUNT_REMOVE, "t1", "x")),
                     EG_ENOTFOUND);
    assert_int_equal(gen(f->c), g + 4);

    /* one bump per write, also within one batch */
    struct eg_write b[2] = {key_w("t1", "k2", 2, 1),
                            account_w(EG_W_ACCOUNT_CREATE, "t1", "bob")};
    assert_int_equal(eg_store_apply(f->c, b, 2), 0);
    assert_int_equal(b[0].rc, 0);
    assert_int_equal(b[1].rc, 0);
    assert_int_equal(gen(f->c), g + 6);
}

/* ---- credentials ---- */

static void test_cred_roundtrip(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    ok1(f->c, cred_w("t1", "bare", "user-1", 1000, EG_TIME_NONE));
    ok1(f->c, full_cred_w());
    assert_int_equal(apply1(f->c, cred_w("t1", "bare", "u", 1, EG_TIME_NONE)),
                     EG_ECONFLICT);
    assert_int_equal(apply1(f->c, cred_w("t9", "x", "u", 1, EG_TIME_NONE)),
                     EG_ENOTFOUND);
    /* the same id in another tenant is another credential */
    ok1(f->c, cred_w("t2", "bare", "other", 5, EG_TIME_NONE));

    struct eg_credential c;
    memset(&c, 'x', sizeof(c));
    assert_int_equal(eg_store_cred_get(f->c, "t1", "bare", &c), 0);
    assert_string_equal(c.tenant_id, "t1");
    assert_string_equal(c.credential_id, "bare");
    assert_string_equal(c.user_id, "user-1");
    assert_false(c.has_user_email);
    assert_false(c.has_user_name);
    assert_string_equal(c.user_email, "");
    assert_string_equal(c.user_name, "");
    assert_string_equal(c.access_profile, "staff");
    assert_int_equal(c.valid_from, 1000);
    assert_true(c.valid_to == EG_TIME_NONE);
    assert_int_equal(c.created_at, 1000);
    assert_true(c.revoked_at == EG_TIME_NONE);

    memset(&c, 'x', sizeof(c));
    assert_int_equal(eg_store_cred_get(f->c, "t1", "full", &c), 0);
    assert_true(c.has_user_email);
    assert_true(c.has_user_name);
    assert_string_equal(c.user_email, "a.b@example.com");
    assert_string_equal(c.user_name, "Zoë Ünicode");
    assert_int_equal(c.valid_from, 1500);
    assert_int_equal(c.valid_to, 9000);
    assert_int_equal(c.created_at, 2000);

    assert_int_equal(eg_store_cred_get(f->c, "t2", "bare", &c), 0);
    assert_string_equal(c.user_id, "other");
    assert_int_equal(eg_store_cred_get(f->c, "t2", "full", &c), EG_ENOTFOUND);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "nope", &c), EG_ENOTFOUND);
    assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM credentials WHERE "
                                      "user_email IS NULL AND user_name IS "
                                      "NULL AND valid_to IS NULL"),
                     2);
}

static void test_cred_revoke_audit(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    struct eg_write w = cred_w("t1", "c1", "u1", 1000, EG_TIME_NONE);
    set_actor(&w, "key-A", "alice", "req-1");
    ok1(f->c, w);

    w = revoke_w("t1", "c1", 2000);
    set_actor(&w, "key-B", "bob", "req-2");
    assert_int_equal(eg_store_apply(f->c, &w, 1), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.u.cred.revoked_at, 2000);
    assert_string_equal(w.u.cred.user_id, "u1");
    assert_int_equal(w.u.cred.created_at, 1000);

    /* a second revoke succeeds, keeps the first time, audits nothing */
    w = revoke_w("t1", "c1", 3000);
    set_actor(&w, "key-C", "carol", "req-3");
    assert_int_equal(eg_store_apply(f->c, &w, 1), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.u.cred.revoked_at, 2000);
    assert_string_equal(w.u.cred.access_profile, "staff");

    assert_int_equal(apply1(f->c, revoke_w("t1", "nope", 4000)), EG_ENOTFOUND);
    assert_int_equal(apply1(f->c, revoke_w("t2", "c1", 4000)), EG_ENOTFOUND);

    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(c.revoked_at, 2000);

    struct rows *r = rows_new();
    assert_int_equal(eg_store_audit_scan(f->c, "t1", NULL, INT64_MIN, 0,
                                         SIZE_MAX, audit_cb, r),
                     0);
    assert_int_equal(r->n, 2);
    const struct eg_audit *a = &r->audit[0];
    assert_string_equal(a->tenant_id, "t1");
    assert_string_equal(a->action, "credential.create");
    assert_string_equal(a->credential_id, "c1");
    assert_int_equal(a->time, 1000);
    assert_string_equal(a->actor.key_id, "key-A");
    assert_string_equal(a->actor.username, "alice");
    assert_string_equal(a->actor.request_id, "req-1");
    a = &r->audit[1];
    assert_true(a->seq > r->audit[0].seq);
    assert_string_equal(a->tenant_id, "t1");
    assert_string_equal(a->action, "credential.revoke");
    assert_string_equal(a->credential_id, "c1");
    assert_int_equal(a->time, 2000);
    assert_string_equal(a->actor.key_id, "key-B");
    assert_string_equal(a->actor.username, "bob");
    assert_string_equal(a->actor.request_id, "req-2");
    free(r);
    assert_int_equal(audit_count(f->c, "t2"), 0);
}

static void test_batch_partial_failure(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    int64_t g = gen(f->c);
    struct eg_write b[6] = {
        cred_w("t1", "x", "u", 10, EG_TIME_NONE),
        cred_w("t1", "x", "u", 11, EG_TIME_NONE), /* duplicate */
        cred_w("t1", "y", "u", 12, EG_TIME_NONE),
        key_w("t9", "k1", 1, 1),                  /* unknown tenant */
        revoke_w("t1", "x", 20),                  /* sees x of this batch */
        key_w("t1", "k2", 2, 1),
    };
    for (int i = 0; i < 6; i++)
        b[i].rc = 777;
    assert_int_equal(eg_store_apply(f->c, b, 6), 0);
    assert_int_equal(b[0].rc, 0);
    assert_int_equal(b[1].rc, EG_ECONFLICT);
    assert_int_equal(b[2].rc, 0);
    assert_int_equal(b[3].rc, EG_ENOTFOUND);
    assert_int_equal(b[4].rc, 0);
    assert_int_equal(b[4].u.cred.revoked_at, 20);
    assert_int_equal(b[5].rc, 0);

    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "x", &c), 0);
    assert_int_equal(c.created_at, 10);
    assert_int_equal(c.revoked_at, 20);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "y", &c), 0);
    assert_int_equal(audit_count(f->c, "t1"), 3);
    assert_int_equal(gen(f->c), g + 1);

    /* a batch whose first write fails */
    struct eg_write b2[2] = {tenant_w("t1", 5), tenant_w("t3", 5)};
    assert_int_equal(eg_store_apply(f->c, b2, 2), 0);
    assert_int_equal(b2[0].rc, EG_ECONFLICT);
    assert_int_equal(b2[1].rc, 0);
    struct eg_tenant t;
    assert_int_equal(eg_store_tenant_get(f->c, "t3", &t), 0);
    assert_int_equal(eg_store_tenant_get(f->c, "t1", &t), 0);
    assert_int_equal(t.created_at, 1);
}

/* A batch of plain creates only (one statement on PostgreSQL): all in, with
 * their audit rows in batch order; and when one of them cannot be applied,
 * it fails alone and the others are in. */
static void test_batch_of_creates(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    struct eg_write b[3] = {
        cred_w("t1", "c3", "u1", 30, EG_TIME_NONE),
        cred_w("t1", "c1", "u2", 10, 99),
        cred_w("t1", "c2", "u\"q\\1", 20, EG_TIME_NONE),
    };
    CP(b[1].u.cred.user_email, "e@x");
    b[1].u.cred.has_user_email = true;
    assert_int_equal(eg_store_apply(f->c, b, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(b[i].rc, 0);
    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_true(c.has_user_email);
    assert_string_equal(c.user_email, "e@x");
    assert_false(c.has_user_name);
    assert_int_equal(c.valid_to, 99);
    assert_int_equal(c.revoked_at, EG_TIME_NONE);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c2", &c), 0);
    assert_string_equal(c.user_id, "u\"q\\1");
    assert_int_equal(c.valid_to, EG_TIME_NONE);
    struct rows *r = rows_new();
    assert_int_equal(eg_store_audit_scan(f->c, "t1", NULL, INT64_MIN, 0,
                                         SIZE_MAX, audit_cb, r),
                     0);
    assert_int_equal(r->n, 3);
    assert_string_equal(r->audit[0].credential_id, "c3");
    assert_string_equal(r->audit[1].credential_id, "c1");
    assert_string_equal(r->audit[2].credential_id, "c2");
    assert_string_equal(r->audit[1].action, "credential.create");
    assert_int_equal(r->audit[1].time, 10);
    assert_string_equal(r->audit[1].actor.request_id, "req-create");
    free(r);

    struct eg_write b2[3] = {
        cred_w("t1", "c4", "u", 40, EG_TIME_NONE),
        cred_w("t1", "c1", "u", 41, EG_TIME_NONE), /* duplicate */
        cred_w("t1", "c5", "u", 42, EG_TIME_NONE),
    };
    assert_int_equal(eg_store_apply(f->c, b2, 3), 0);
    assert_int_equal(b2[0].rc, 0);
    assert_int_equal(b2[1].rc, EG_ECONFLICT);
    assert_int_equal(b2[2].rc, 0);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c4", &c), 0);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c5", &c), 0);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(c.created_at, 10);
    assert_int_equal(audit_count(f->c, "t1"), 5);
}

static void test_cred_scan_order(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    static const char *const ids[] = {"b", "zz", "\xc3\xa9", "B", "a0",
                                      "_", "a",  "0"};
    static const int64_t at[] = {100, 150, 100, 100, 100, 100, 100, 50};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        ok1(f->c, cred_w("t1", ids[i], "u", at[i], EG_TIME_NONE));
    ok1(f->c, cred_w("t2", "other", "u", 120, EG_TIME_NONE));
    /* a negative time (before 1970) sorts first */
    ok1(f->c, cred_w("t1", "old", "u", -5, EG_TIME_NONE));
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, NULL, 0),
                        "old,0,B,_,a,a0,b,\xc3\xa9,zz");
    assert_string_equal(cred_list(f->c, "t2", EG_STATUS_ACTIVE, NULL, 0),
                        "other");
    assert_string_equal(cred_list(f->c, "t3", EG_STATUS_ACTIVE, NULL, 0), "");

    /* limit, and a callback that stops early */
    struct eg_cred_filter flt = {.tenant_id = "t1", .now = 0};
    struct rows *r = rows_new();
    assert_int_equal(eg_store_cred_scan(f->c, &flt, NULL, 3, cred_cb, r), 0);
    assert_string_equal(joined(r), "old,0,B");
    memset(r, 0, sizeof(*r));
    r->stop_at = 2;
    assert_int_equal(eg_store_cred_scan(f->c, &flt, NULL, SIZE_MAX, cred_cb, r),
                     0);
    assert_string_equal(joined(r), "old,0");
    free(r);
}

static void test_cred_scan_status(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, cred_w("t1", "a", "u", 1, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "b", "u", 2, 1001));
    ok1(f->c, cred_w("t1", "c", "u", 3, 1000)); /* expires exactly at now */
    ok1(f->c, cred_w("t1", "d", "u", 4, 999));
    ok1(f->c, cred_w("t1", "e", "u", 5, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "f", "u", 6, 500));
    struct eg_write w = cred_w("t1", "g", "u", 7, 6000);
    w.u.cred.valid_from = 5000; /* not yet valid: still Active (C17) */
    ok1(f->c, w);
    ok1(f->c, revoke_w("t1", "e", 10));
    ok1(f->c, revoke_w("t1", "f", 10));

    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, NULL, 1000),
                        "a,b,g");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_EXPIRED, NULL, 1000),
                        "c,d");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_REVOKED, NULL, 1000),
                        "e,f");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, NULL, 999),
                        "a,b,c,g");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_EXPIRED, NULL, 999),
                        "d");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, NULL, 1001),
                        "a,g");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_EXPIRED, NULL, 1001),
                        "b,c,d");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_EXPIRED, NULL, 10000),
                        "b,c,d,g");
}

static void test_cred_scan_user(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, cred_w("t1", "c1", "u1", 30, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "c2", "u2", 20, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "c3", "U1", 10, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "c4", "u1", 10, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "c5", "u1", 10, 100));
    ok1(f->c, cred_w("t1", "c6", "u1", 5, EG_TIME_NONE));
    ok1(f->c, revoke_w("t1", "c6", 50));

    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, "u1", 0),
                        "c4,c5,c1");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, "U1", 0), "c3");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_ACTIVE, "u", 0), "");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_EXPIRED, "u1", 200),
                        "c5");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_REVOKED, "u1", 0), "c6");
    assert_string_equal(cred_list(f->c, "t1", EG_STATUS_REVOKED, "u2", 0), "");

    /* user filter with a keyset position */
    struct eg_cred_filter flt = {
        .tenant_id = "t1", .status = EG_STATUS_ACTIVE, .user_id = "u1"};
    struct eg_cursor cur = {.valid = true, .time = 10};
    CP(cur.id, "c4");
    struct rows *r = rows_new();
    assert_int_equal(eg_store_cred_scan(f->c, &flt, &cur, SIZE_MAX, cred_cb, r),
                     0);
    assert_string_equal(joined(r), "c5,c1");
    free(r);
}

/* Pages of `size` over the tenant's Active list; before page `hook_page`,
 * `hook` runs. Returns the ids seen, in order. */
static const char *page_through(struct fx *f, size_t size, int hook_page,
                                void (*hook)(struct fx *))
{
    struct eg_cred_filter flt = {
        .tenant_id = "t1", .status = EG_STATUS_ACTIVE, .now = 0};
    struct eg_cursor cur = {.valid = false};
    struct rows *r = rows_new();
    for (int page = 0; page < 20; page++) {
        if (page == hook_page)
            hook(f);
        int before = r->n;
        assert_int_equal(eg_store_cred_scan(f->c, &flt, &cur, size, cred_cb, r),
                         0);
        assert_true((size_t)(r->n - before) <= size);
        if (r->n == before)
            break;
        cur.valid = true;
        cur.time = r->t[r->n - 1];
        CP(cur.id, r->id[r->n - 1]);
    }
    static char out[4096];
    snprintf(out, sizeof(out), "%s", joined(r));
    free(r);
    return out;
}

static void no_hook(struct fx *f)
{
    (void)f;
}

static void insert_hook(struct fx *f)
{
    /* Pages 0 and 1 gave b,k,m,p: the cursor sits at (20, "p"). */
    ok1(f->c, cred_w("t1", "a", "u", 10, EG_TIME_NONE));  /* before: unseen */
    ok1(f->c, cred_w("t1", "o", "u", 20, EG_TIME_NONE));  /* before: unseen */
    ok1(f->c, cred_w("t1", "pz", "u", 20, EG_TIME_NONE)); /* after: seen */
    ok1(f->c, cred_w("t1", "e0", "u", 5, EG_TIME_NONE));  /* before: unseen */
    ok1(f->c, cred_w("t1", "z9", "u", 99, EG_TIME_NONE)); /* after: seen */
    ok1(f->c, revoke_w("t1", "q", 1));                    /* dropped */
}

static void test_cred_scan_paging(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    static const char *const ids[] = {"k", "m", "b", "q", "p", "r", "s"};
    static const int64_t at[] = {10, 10, 10, 20, 20, 30, 40};
    for (size_t i = 0; i < 7; i++)
        ok1(f->c, cred_w("t1", ids[i], "u", at[i], EG_TIME_NONE));
    assert_string_equal(page_through(f, 2, -1, no_hook), "b,k,m,p,q,r,s");
    assert_string_equal(page_through(f, 1, -1, no_hook), "b,k,m,p,q,r,s");
    assert_string_equal(page_through(f, 7, -1, no_hook), "b,k,m,p,q,r,s");
    assert_string_equal(page_through(f, 2, 2, insert_hook),
                        "b,k,m,p,pz,r,s,z9");
}

static void test_audit_scan(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    ok1(f->c, cred_w("t1", "A", "u", 100, EG_TIME_NONE));
    ok1(f->c, cred_w("t2", "D", "u", 150, EG_TIME_NONE));
    ok1(f->c, cred_w("t1", "B", "u", 200, EG_TIME_NONE));
    ok1(f->c, revoke_w("t1", "A", 300));
    ok1(f->c, cred_w("t1", "C", "u", 400, EG_TIME_NONE));

    struct rows *r = rows_new();
    assert_int_equal(eg_store_audit_scan(f->c, "t1", NULL, INT64_MIN, 0,
                                         SIZE_MAX, audit_cb, r),
                     0);
    assert_string_equal(joined(r), "A,B,A,C");
    assert_string_equal(r->text[2], "credential.revoke");
    int64_t seq2 = r->audit[1].seq;

    memset(r, 0, sizeof(*r));
    assert_int_equal(
        eg_store_audit_scan(f->c, "t1", "A", INT64_MIN, 0, SIZE_MAX, audit_cb, r),
        0);
    assert_string_equal(joined(r), "A,A");
    assert_string_equal(r->text[0], "credential.create");
    assert_string_equal(r->text[1], "credential.revoke");

    memset(r, 0, sizeof(*r));
    assert_int_equal(
        eg_store_audit_scan(f->c, "t1", NULL, 200, 0, SIZE_MAX, audit_cb, r), 0);
    assert_string_equal(joined(r), "B,A,C");

    memset(r, 0, sizeof(*r));
    assert_int_equal(eg_store_audit_scan(f->c, "t1", NULL, INT64_MIN, seq2,
                                         SIZE_MAX, audit_cb, r),
                     0);
    assert_string_equal(joined(r), "A,C");

    memset(r, 0, sizeof(*r));
    assert_int_equal(
        eg_store_audit_scan(f->c, "t1", NULL, INT64_MIN, 0, 2, audit_cb, r), 0);
    assert_string_equal(joined(r), "A,B");

    memset(r, 0, sizeof(*r));
    assert_int_equal(
        eg_store_audit_scan(f->c, "t1", "A", 250, 0, SIZE_MAX, audit_cb, r), 0);
    assert_string_equal(joined(r), "A");
    assert_int_equal(r->t[0], 300);

    memset(r, 0, sizeof(*r));
    assert_int_equal(
        eg_store_audit_scan(f->c, "t1", "D", INT64_MIN, 0, SIZE_MAX, audit_cb, r),
        0);
    assert_int_equal(r->n, 0);

    memset(r, 0, sizeof(*r));
    assert_int_equal(eg_store_audit_scan(f->c, "t2", NULL, INT64_MIN, 0,
                                         SIZE_MAX, audit_cb, r),
                     0);
    assert_string_equal(joined(r), "D");
    assert_string_equal(r->audit[0].tenant_id, "t2");
    free(r);
}

/* ---- several connections ---- */

static void test_two_stores_one_file(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct eg_store *s2;
    assert_int_equal(eg_store_open(f->url, &s2, err, sizeof(err)), 0);
    struct eg_store_conn *c2 = eg_store_conn(s2);
    assert_non_null(c2);

    ok1(f->c, tenant_w("t1", 1));
    int64_t g = gen(c2);
    ok1(f->c, key_w("t1", "k1", 7, 1));
    assert_int_equal(gen(c2), g + 1);
    uint8_t h[EG_KEY_HASH_LEN];
    fill_hash(h, 7);
    struct eg_key k;
    assert_int_equal(eg_store_key_by_hash(c2, h, &k), 0);
    assert_string_equal(k.key_id, "k1");

    ok1(c2, account_w(EG_W_ACCOUNT_CREATE, "t1", "alice"));
    assert_int_equal(gen(f->c), g + 2);
    struct eg_account a;
    assert_int_equal(eg_store_account_get(f->c, "t1", "alice", &a), 0);
    eg_store_close(s2);
}

/* Several processes opening one new file at once: every open succeeds and
 * the migration is applied exactly once. */
static void test_concurrent_open(void **state)
{
    struct fx *f = *state;
    for (int round = 0; round < 3; round++) {
        char path[600], url[620], db[64];
        if (f->pg) {
            pg_fresh(db, sizeof(db), path, sizeof(path));
            snprintf(url, sizeof(url), "%s", path);
        } else {
            snprintf(path, sizeof(path), "%s/race%d.db", f->dir, round);
            snprintf(url, sizeof(url), "sqlite:%s", path);
        }
        pid_t kids[6];
        for (int i = 0; i < 6; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                char err[256];
                struct eg_store *s;
                if (eg_store_open(url, &s, err, sizeof(err)) != 0)
                    _exit(1);
                struct eg_store_conn *c = eg_store_conn(s);
                int64_t g = -1;
                int rc = c != NULL ? eg_store_auth_generation(c, &g) : -1;
                eg_store_close(s);
                _exit(rc == 0 && g == 0 ? 0 : 2);
            }
        }
        for (int i = 0; i < 6; i++) {
            int st;
            assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
        }
        assert_int_equal(
            raw_int(path, "SELECT count(*) FROM schema_migrations"),
            migrations(f));
        if (f->pg)
            pg_drop(db);
    }
}

/* A raw connection holding a lock that keeps writers of tenants out (but
 * not readers) until lock_release. */
struct lock {
    sqlite3 *db;
    PGconn *pg;
};

static void lock_take(struct fx *f, struct lock *l)
{
    memset(l, 0, sizeof(*l));
    if (f->pg) {
        l->pg = PQconnectdb(f->url);
        assert_int_equal(PQstatus(l->pg), CONNECTION_OK);
        PGresult *r = PQexec(l->pg, "BEGIN; LOCK TABLE tenants IN SHARE ROW "
                                    "EXCLUSIVE MODE");
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        return;
    }
    assert_int_equal(sqlite3_open(f->path, &l->db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
}

static void lock_release(struct lock *l)
{
    if (l->pg != NULL) {
        PQclear(PQexec(l->pg, "ROLLBACK"));
        PQfinish(l->pg);
        return;
    }
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(l->db);
}

/* Another writer holds a lock past the busy (lock) timeout: the batch is
 * EG_EUNAVAILABLE as a whole, while reads go on. */
static void test_busy_is_unavailable(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    struct lock l;
    lock_take(f, &l);
    struct eg_write b[2] = {tenant_w("t2", 1), tenant_w("t1", 1)};
    int rc = eg_store_apply(f->c, b, 2);
    struct eg_tenant t;
    int get_rc = eg_store_tenant_get(f->c, "t1", &t);
    lock_release(&l);
    assert_int_equal(rc, EG_EUNAVAILABLE);
    assert_int_equal(b[0].rc, EG_EUNAVAILABLE);
    assert_int_equal(b[1].rc, EG_EUNAVAILABLE);
    assert_int_equal(get_rc, 0);
    assert_int_equal(eg_store_tenant_get(f->c, "t2", &t), EG_ENOTFOUND);
    ok1(f->c, tenant_w("t2", 1));
}

/* stderr into a file of the test's directory, while the store logs. */
struct capture {
    int saved;
    char path[200];
};

static void capture_begin(struct fx *f, struct capture *cap)
{
    snprintf(cap->path, sizeof(cap->path), "%s/stderr.txt", f->dir);
    fflush(stderr);
    cap->saved = dup(2);
    int fd = open(cap->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(cap->saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr and returns what was written (static storage). */
static const char *capture_end(struct capture *cap)
{
    static char buf[2048];
    fflush(stderr);
    dup2(cap->saved, 2);
    close(cap->saved);
    FILE *fp = fopen(cap->path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

/* A write that fails after its first statement leaves nothing behind (C26):
 * here the audit row cannot be written (an actor field without its NUL), so
 * the credential insert or the revoke before it is rolled back too. */
static void test_write_atomic(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, cred_w("t1", "r", "u", 1, EG_TIME_NONE));
    struct eg_write b[3] = {
        cred_w("t1", "bad", "u", 2, EG_TIME_NONE),
        revoke_w("t1", "r", 5),
        cred_w("t1", "good", "u", 3, EG_TIME_NONE),
    };
    memset(b[0].actor.request_id, 'x', sizeof(b[0].actor.request_id));
    memset(b[1].actor.username, 'x', sizeof(b[1].actor.username));
    struct capture cap;
    capture_begin(f, &cap);
    int rc = eg_store_apply(f->c, b, 3);
    const char *log = capture_end(&cap);
    assert_int_equal(rc, 0);
    assert_int_equal(b[0].rc, EG_EINTERNAL);
    assert_int_equal(b[1].rc, EG_EINTERNAL);
    assert_int_equal(b[2].rc, 0);
    assert_int_equal(strncmp(log, "engage: store: ", 15), 0);

    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "bad", &c), EG_ENOTFOUND);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "r", &c), 0);
    assert_true(c.revoked_at == EG_TIME_NONE);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "good", &c), 0);
    assert_int_equal(audit_count(f->c, "t1"), 2); /* r and good */
}

/* The read cache's counters (C32); the store must have one. */
static struct eg_ccache_stats cache_stats(struct eg_store *s)
{
    struct eg_ccache_stats st;
    assert_true(eg_store_cache_stats(s, &st));
    return st;
}

/* Values of the largest size each field holds round-trip. */
static void test_max_lengths(void **state)
{
    struct fx *f = *state;
    char id[EG_ID_MAX], user[EG_USER_ID_MAX], email[EG_EMAIL_MAX],
        text[EG_TEXT_MAX];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    memset(email, 'e', sizeof(email) - 1);
    email[sizeof(email) - 1] = '\0';
    memset(text, 't', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    ok1(f->c, tenant_w(id, 1));
    struct eg_write w = cred_w(id, id, user, 1, EG_TIME_NONE);
    CP(w.u.cred.user_email, email);
    w.u.cred.has_user_email = true;
    CP(w.u.cred.user_name, text);
    w.u.cred.has_user_name = true;
    CP(w.u.cred.access_profile, text);
    ok1(f->c, w);
    /* on SQLite, read twice through the read cache (C32), which such a
     * credential does not fit: both reads come from the store, whole */
    bool cached = eg_store_cache_enable(f->s, 1 << 20);
    for (int i = 0; i < 2; i++) {
        struct eg_credential c;
        assert_int_equal(eg_store_cred_get(f->c, id, id, &c), 0);
        assert_string_equal(c.tenant_id, id);
        assert_string_equal(c.credential_id, id);
        assert_string_equal(c.user_id, user);
        assert_string_equal(c.user_email, email);
        assert_string_equal(c.user_name, text);
        assert_string_equal(c.access_profile, text);
    }
    if (cached) {
        assert_int_equal(cache_stats(f->s).fills, 0);
        assert_int_equal(cache_stats(f->s).hits, 0);
    }
}

/* A stored value longer than its struct field is an internal error, logged
 * on stderr, never an overflow. */
static void test_overlong_value(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, cred_w("t1", "c1", "u", 1, EG_TIME_NONE));
    struct eg_cred_filter flt = {.tenant_id = "t1"};
    static const int lens[] = {EG_USER_ID_MAX - 1, EG_USER_ID_MAX, 200};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char q[512];
        snprintf(q, sizeof(q),
                 "UPDATE credentials SET user_id = '%0*d' "
                 "WHERE credential_id = 'c1'",
                 lens[i], 0);
        raw_exec(f->raw, q);

        struct capture cap;
        capture_begin(f, &cap);
        struct eg_credential c;
        int get_rc = eg_store_cred_get(f->c, "t1", "c1", &c);
        struct rows *r = rows_new();
        int scan_rc =
            eg_store_cred_scan(f->c, &flt, NULL, SIZE_MAX, cred_cb, r);
        int n = r->n;
        free(r);
        const char *log = capture_end(&cap);
        if (lens[i] < EG_USER_ID_MAX) {
            assert_int_equal(get_rc, 0);
            assert_int_equal(strlen(c.user_id), lens[i]);
            assert_int_equal(scan_rc, 0);
            assert_int_equal(n, 1);
            assert_string_equal(log, "");
        } else {
            assert_int_equal(get_rc, EG_EINTERNAL);
            assert_int_equal(scan_rc, EG_EINTERNAL);
            assert_int_equal(n, 0);
            assert_int_equal(strncmp(log, "engage: store: ", 15), 0);
            assert_non_null(strstr(log, "user_id"));
        }
    }
    /* the connection is still usable */
    assert_int_equal(eg_store_ping(f->c), 0);
}

/* ---- PostgreSQL only ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A malformed URL is EG_EBADREQUEST; a server that is not there, or a
 * database that does not exist, EG_EUNAVAILABLE at once; no message shows
 * the password. */
static void test_pg_open_errors(void **state)
{
    struct fx *f = *state;
    char err[512];
    struct eg_store *s = NULL;
    err[0] = '\0';
    assert_int_equal(eg_store_open("postgres:", &s, err, sizeof(err)),
                     EG_EBADREQUEST);
    assert_non_null(strstr(err, "postgres://"));
    assert_int_equal(eg_store_open("postgresql:db", &s, err, sizeof(err)),
                     EG_EBADREQUEST);

    /* a loopback port nobody listens on: refused at once */
    int64_t t0 = mono_ms();
    err[0] = '\0';
    assert_int_equal(eg_store_open("postgres://postgres:s3cret-pw@127.0.0.1:1/x",
                                   &s, err, sizeof(err)),
                     EG_EUNAVAILABLE);
    assert_true(mono_ms() - t0 < 3000);
    assert_null(s);
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_null(strstr(err, "s3cret-pw"));
    assert_int_equal(eg_store_open("postgres://u@127.0.0.1:1/x?password=pw-2nd",
                                   &s, err, sizeof(err)),
                     EG_EUNAVAILABLE);
    assert_null(strstr(err, "pw-2nd"));

    char url[600];
    snprintf(url, sizeof(url), "%s", f->url);
    char *db = strstr(url, f->db);
    assert_non_null(db);
    memcpy(db, "eg_no_such", 10);
    err[0] = '\0';
    assert_int_equal(eg_store_open(url, &s, err, sizeof(err)), EG_EUNAVAILABLE);
    assert_non_null(strstr(err, "does not exist"));
}

/* C27: a database that acknowledges commits before they are durable is
 * refused, unless the URL or the environment accepts it. */
static void test_pg_async_commit(void **state)
{
    struct fx *f = *state;
    char q[200], err[512], url[600];
    struct eg_store *s = NULL;
    snprintf(q, sizeof(q), "ALTER DATABASE %s SET synchronous_commit = off",
             f->db);
    pg_admin(q);
    err[0] = '\0';
    assert_int_equal(eg_store_open(f->url, &s, err, sizeof(err)),
                     EG_EINTERNAL);
    assert_null(s);
    assert_non_null(strstr(err, "synchronous_commit"));
    assert_non_null(strstr(err, "ENGAGE_PG_ALLOW_ASYNC_COMMIT"));

    snprintf(url, sizeof(url), "%s%sengage_allow_async_commit=1", f->url,
             strchr(f->url, '?') != NULL ? "&" : "?");
    assert_int_equal(eg_store_open(url, &s, err, sizeof(err)), 0);
    struct eg_store_conn *c = eg_store_conn(s);
    assert_non_null(c);
    ok1(c, tenant_w("t1", 1));
    eg_store_close(s);

    setenv("ENGAGE_PG_ALLOW_ASYNC_COMMIT", "1", 1);
    int rc = eg_store_open(f->url, &s, err, sizeof(err));
    unsetenv("ENGAGE_PG_ALLOW_ASYNC_COMMIT");
    assert_int_equal(rc, 0);
    eg_store_close(s);

    /* synchronous_commit on (or local, or remote_*) is fine */
    snprintf(q, sizeof(q), "ALTER DATABASE %s SET synchronous_commit = local",
             f->db);
    pg_admin(q);
    assert_int_equal(eg_store_open(f->url, &s, err, sizeof(err)), 0);
    eg_store_close(s);
}

/* The server ends every connection (as a restart does): the next read and
 * the next batch go through on new connections, with statements prepared
 * again; the loss is logged. */
static void test_pg_reconnect(void **state)
{
    struct fx *f = *state;
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, cred_w("t1", "c1", "u", 1, EG_TIME_NONE));
    char q[300];
    snprintf(q, sizeof(q),
             "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
             "WHERE datname = '%s' AND pid <> pg_backend_pid()",
             f->db);
    for (int round = 0; round < 2; round++) {
        pg_admin(q); /* returns once the backends have exited (5 s at most) */
        struct capture cap;
        capture_begin(f, &cap);
        struct eg_credential c;
        int get_rc = eg_store_cred_get(f->c, "t1", "c1", &c);
        const char *log = capture_end(&cap);
        assert_int_equal(get_rc, 0);
        assert_string_equal(c.user_id, "u");
        if (round == 0)
            assert_non_null(strstr(log, "terminating connection"));

        pg_admin(q); /* returns once the backends have exited (5 s at most) */
        capture_begin(f, &cap);
        struct eg_write w = cred_w("t1", round == 0 ? "c2" : "c3", "u", 2,
                                   EG_TIME_NONE);
        int apply_rc = eg_store_apply(f->c, &w, 1);
        capture_end(&cap);
        assert_int_equal(apply_rc, 0);
        assert_int_equal(w.rc, 0);
    }
    assert_int_equal(audit_count(f->c, "t1"), 3);
}

/* Counts the rows of a scan and checks each comes after the one before. */
struct order {
    int n;
    int64_t t;
    char id[EG_TEXT_MAX + EG_ID_MAX];
};

static int count_cb(void *ctx, int64_t t, const char *id)
{
    struct order *o = ctx;
    if (o->n > 0)
        assert_true(t > o->t || (t == o->t && strcmp(id, o->id) > 0));
    o->n++;
    o->t = t;
    snprintf(o->id, sizeof(o->id), "%s", id);
    return 0;
}

static int order_cred(void *ctx, const struct eg_credential *c)
{
    return count_cb(ctx, c->created_at, c->credential_id);
}

static int order_dev(void *ctx, const struct eg_device *d)
{
    char key[EG_TEXT_MAX + EG_ID_MAX]; /* names here are all 4 bytes long */
    snprintf(key, sizeof(key), "%s/%s", d->name, d->device_id);
    return count_cb(ctx, 0, key);
}

static int order_tenant(void *ctx, const struct eg_tenant *t)
{
    return count_cb(ctx, 0, t->tenant_id);
}

static int order_key(void *ctx, const struct eg_key *k)
{
    return count_cb(ctx, k->created_at, k->key_id);
}

static int order_audit(void *ctx, const struct eg_audit *a)
{
    return count_cb(ctx, a->seq, "");
}

/* Scans longer than one statement's page (256 rows) come whole, in order,
 * and stop where the caller's limit says. */
#define LONG_N 600
static void test_pg_long_scans(void **state)
{
    struct fx *f = *state;
    struct eg_write *w = calloc(LONG_N, sizeof(*w));
    assert_non_null(w);
    for (int i = 0; i < LONG_N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "t%04d", (i * 7) % LONG_N);
        w[i] = tenant_w(id, i);
    }
    assert_int_equal(eg_store_apply(f->c, w, LONG_N), 0);
    for (int i = 0; i < LONG_N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "c%04d", (i * 7) % LONG_N);
        w[i] = cred_w("t0000", id, "u", i % 10, EG_TIME_NONE);
    }
    assert_int_equal(eg_store_apply(f->c, w, LONG_N), 0);
    for (int i = 0; i < LONG_N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "k%04d", i);
        w[i] = key_w("t0000", id, 0, i % 3);
        for (size_t k = 0; k < EG_KEY_HASH_LEN; k++)
            w[i].u.key.hash[k] = (uint8_t)(i * 31 + (int)k * 7 + (i >> 8));
        w[i].u.key.hash[0] = (uint8_t)i;
        w[i].u.key.hash[1] = (uint8_t)(i >> 8);
    }
    assert_int_equal(eg_store_apply(f->c, w, LONG_N), 0);
    for (int i = 0; i < LONG_N; i++) {
        assert_int_equal(w[i].rc, 0);
        char id[32], name[32];
        snprintf(id, sizeof(id), "d%04d", i);
        snprintf(name, sizeof(name), "n%03d", i % 50);
        w[i] = device_w(EG_W_DEVICE_ADD, "t0000", id, name);
    }
    assert_int_equal(eg_store_apply(f->c, w, LONG_N), 0);
    free(w);

    struct order o = {0};
    assert_int_equal(eg_store_tenant_scan(f->c, order_tenant, &o), 0);
    assert_int_equal(o.n, LONG_N);
    memset(&o, 0, sizeof(o));
    assert_int_equal(eg_store_key_scan(f->c, "t0000", order_key, &o), 0);
    assert_int_equal(o.n, LONG_N);
    struct eg_cred_filter flt = {.tenant_id = "t0000", .now = 1};
    memset(&o, 0, sizeof(o));
    assert_int_equal(
        eg_store_cred_scan(f->c, &flt, NULL, SIZE_MAX, order_cred, &o), 0);
    assert_int_equal(o.n, LONG_N);
    memset(&o, 0, sizeof(o));
    assert_int_equal(eg_store_cred_scan(f->c, &flt, NULL, 300, order_cred, &o),
                     0);
    assert_int_equal(o.n, 300);
    memset(&o, 0, sizeof(o));
    assert_int_equal(eg_store_cred_scan(f->c, &flt, NULL, 512, order_cred, &o),
                     0);
    assert_int_equal(o.n, 512);
    memset(&o, 0, sizeof(o));
    assert_int_equal(
        eg_store_device_scan(f->c, "t0000", NULL, SIZE_MAX, order_dev, &o), 0);
    assert_int_equal(o.n, LONG_N);
    memset(&o, 0, sizeof(o));
    assert_int_equal(eg_store_audit_scan(f->c, "t0000", NULL, INT64_MIN, 0,
                                         SIZE_MAX, order_audit, &o),
                     0);
    assert_int_equal(o.n, LONG_N);
}

/* Order is byte order whatever the database's collation (COLLATE "C"). */
static void test_pg_byte_order(void **state)
{
    struct fx *f = *state;
    static const char *const names[] = {"b", "_x", "Zed", "a", "\xc3\xa9t\xc3\xa9",
                                        "B", "a b", "ab"};
    ok1(f->c, tenant_w("t1", 1));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char id[16];
        snprintf(id, sizeof(id), "d%zu", i);
        ok1(f->c, device_w(EG_W_DEVICE_ADD, "t1", id, names[i]));
        ok1(f->c, tenant_w(names[i], 1));
    }
    struct rows *r = rows_new();
    assert_int_equal(
        eg_store_device_scan(f->c, "t1", NULL, SIZE_MAX, device_cb, r), 0);
    char got[256] = "";
    for (int i = 0; i < r->n; i++) {
        strcat(got, r->text[i]);
        strcat(got, "|");
    }
    assert_string_equal(got, "B|Zed|_x|a|a b|ab|b|\xc3\xa9t\xc3\xa9|");
    memset(r, 0, sizeof(*r));
    assert_int_equal(eg_store_tenant_scan(f->c, tenant_cb, r), 0);
    assert_string_equal(joined(r), "B,Zed,_x,a,a b,ab,b,t1,\xc3\xa9t\xc3\xa9");
    free(r);
}

/* ---- the read cache of single credentials (C32) ---- */


/* A store with a read cache, tenant t1 and its credential c1. */
static void cache_with_c1(struct fx *f)
{
    assert_true(eg_store_cache_enable(f->s, 1 << 20));
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, cred_w("t1", "c1", "u1", 1000, EG_TIME_NONE));
}

/* Apply w through a second store on the same file: to the first, another
 * process's write. */
static void apply_elsewhere(struct fx *f, struct eg_write w)
{
    char err[256];
    struct eg_store *s2;
    assert_int_equal(eg_store_open(f->url, &s2, err, sizeof(err)), 0);
    struct eg_store_conn *c2 = eg_store_conn(s2);
    assert_non_null(c2);
    ok1(c2, w);
    eg_store_close(s2);
}

/* Revoke t1/c1 at `at` elsewhere. */
static void revoke_elsewhere(struct fx *f, int64_t at)
{
    apply_elsewhere(f, revoke_w("t1", "c1", at));
}

/* The cache is kept only where the backend can see other writers' commits:
 * SQLite yes, PostgreSQL (other nodes, C29) no. */
static void test_read_cache_backend(void **state)
{
    struct fx *f = *state;
    assert_false(eg_store_cache_enable(f->s, 0));
    assert_int_equal(eg_store_cache_enable(f->s, 1 << 20), !f->pg);
    struct eg_ccache_stats st;
    assert_int_equal(eg_store_cache_stats(f->s, &st), !f->pg);
    /* without a cache there is nothing to watch */
    assert_int_equal(eg_store_watch(f->c), !f->pg);
}

/* A credential read twice is read from the store once, and comes back from
 * the cache field for field, whatever its fields hold. */
static void test_read_cache_hits(void **state)
{
    struct fx *f = *state;
    assert_true(eg_store_cache_enable(f->s, 1 << 20));
    ok1(f->c, tenant_w("t1", 1));
    ok1(f->c, tenant_w("t2", 1));
    ok1(f->c, full_cred_w());
    ok1(f->c, cred_w("t1", "bare", "user-1", 1000, EG_TIME_NONE));
    /* the same id in another tenant is another credential (C10) */
    ok1(f->c, cred_w("t2", "bare", "other", 5, EG_TIME_NONE));

    struct eg_credential a, b;
    const char *const ids[][2] = {{"t1", "full"}, {"t1", "bare"},
                                  {"t2", "bare"}};
    for (size_t i = 0; i < 3; i++) {
        memset(&a, 'x', sizeof(a));
        memset(&b, 'y', sizeof(b));
        assert_int_equal(eg_store_cred_get(f->c, ids[i][0], ids[i][1], &a), 0);
        assert_int_equal(eg_store_cred_get(f->c, ids[i][0], ids[i][1], &b), 0);
        assert_string_equal(b.tenant_id, ids[i][0]);
        assert_string_equal(b.credential_id, ids[i][1]);
        assert_string_equal(b.user_id, a.user_id);
        assert_string_equal(b.user_email, a.user_email);
        assert_string_equal(b.user_name, a.user_name);
        assert_string_equal(b.access_profile, a.access_profile);
        assert_int_equal(b.has_user_email, a.has_user_email);
        assert_int_equal(b.has_user_name, a.has_user_name);
        assert_int_equal(b.valid_from, a.valid_from);
        assert_int_equal(b.valid_to, a.valid_to);
        assert_int_equal(b.created_at, a.created_at);
        assert_int_equal(b.revoked_at, a.revoked_at);
    }
    assert_string_equal(b.user_id, "other");
    assert_int_equal(eg_store_cred_get(f->c, "t1", "full", &a), 0);
    assert_string_equal(a.user_name, "Zoë Ünicode");
    assert_true(a.has_user_email);
    assert_int_equal(a.valid_from, 1500);
    assert_int_equal(a.valid_to, 9000);
    struct eg_ccache_stats st = cache_stats(f->s);
    assert_int_equal(st.misses, 3);
    assert_int_equal(st.fills, 3);
    assert_int_equal(st.hits, 4);
    /* a miss is never cached, and another tenant never sees a hit */
    assert_int_equal(eg_store_cred_get(f->c, "t2", "full", &a), EG_ENOTFOUND);
    assert_int_equal(eg_store_cred_get(f->c, "t2", "full", &a), EG_ENOTFOUND);
    assert_int_equal(cache_stats(f->s).fills, 3);
}

/* A revoke through this process is seen by the next read: eg_store_apply
 * drops the credential before it returns. */
static void test_read_cache_own_revoke(void **state)
{
    struct fx *f = *state;
    cache_with_c1(f);
    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_true(c.revoked_at == EG_TIME_NONE);
    assert_int_equal(cache_stats(f->s).hits, 1);
    ok1(f->c, revoke_w("t1", "c1", 2000));
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(c.revoked_at, 2000);
    struct eg_ccache_stats st = cache_stats(f->s);
    assert_int_equal(st.drops, 1);
    assert_int_equal(st.hits, 1);
    /* this process's own commits are not another writer's */
    eg_store_watch(f->c); /* the first look flushes: no reading to compare */
    uint64_t flushes = cache_stats(f->s).flushes;
    ok1(f->c, cred_w("t1", "c2", "u2", 3000, EG_TIME_NONE));
    eg_store_watch(f->c);
    assert_int_equal(cache_stats(f->s).flushes, flushes);
}

/* The cache on t1/c1, past the first look, and c1 read twice: one hit. */
static void cache_c1_watched_and_hit(struct fx *f)
{
    cache_with_c1(f);
    eg_store_watch(f->c);
    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(cache_stats(f->s).hits, 1);
}

/* Another process's revoke (here: a second store on the file, as `engage
 * mcp` would be) flushes the cache at the writer's next look. */
static void test_read_cache_other_writer(void **state)
{
    struct fx *f = *state;
    cache_c1_watched_and_hit(f);
    struct eg_credential c;

    revoke_elsewhere(f, 2000);
    uint64_t flushes = cache_stats(f->s).flushes;
    eg_store_watch(f->c);
    assert_int_equal(cache_stats(f->s).flushes, flushes + 1);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(c.revoked_at, 2000);
}

/* Another process's commits that change no credential (a tenant here; keys
 * and accounts alike) leave the cache alone, also after this process's own
 * credential writes moved the audit head; a credential change of another
 * process that lands between this process's commit and its next look still
 * empties it. */
static void test_read_cache_foreign_non_credential_writes(void **state)
{
    struct fx *f = *state;
    cache_c1_watched_and_hit(f);
    struct eg_credential c;
    uint64_t flushes = cache_stats(f->s).flushes;

    apply_elsewhere(f, tenant_w("t2", 2));
    eg_store_watch(f->c);
    assert_int_equal(cache_stats(f->s).flushes, flushes);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(cache_stats(f->s).hits, 2);

    /* own credential write, then a foreign non-credential one */
    ok1(f->c, cred_w("t1", "c2", "u2", 1001, EG_TIME_NONE));
    apply_elsewhere(f, tenant_w("t3", 3));
    eg_store_watch(f->c);
    assert_int_equal(cache_stats(f->s).flushes, flushes);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(cache_stats(f->s).hits, 3);

    /* a foreign revoke, then an own write before the next look */
    revoke_elsewhere(f, 2000);
    ok1(f->c, cred_w("t1", "c3", "u3", 1002, EG_TIME_NONE));
    eg_store_watch(f->c);
    assert_int_equal(cache_stats(f->s).flushes, flushes + 1);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(c.revoked_at, 2000);
}

/* The same with the group-commit writer watching on its own: the revoke of
 * another process is read within EG_STORE_WATCH_MS and a little. */
static void test_read_cache_writer_watches(void **state)
{
    struct fx *f = *state;
    cache_with_c1(f);
    uint64_t flushes0 = cache_stats(f->s).flushes;
    struct eg_writer *wr;
    assert_int_equal(eg_writer_start(f->s, &wr), 0);
    /* Past the writer's first look, which flushes (it has nothing to
     * compare with): polled, not a fixed sleep a slow machine can outrun. */
    int64_t t_start = eg_time_now();
    while (cache_stats(f->s).flushes == flushes0) {
        assert_true(eg_time_now() - t_start < 5000);
        struct timespec pause = {0, 1000000L};
        nanosleep(&pause, NULL);
    }
    struct eg_credential c;
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
    assert_true(c.revoked_at == EG_TIME_NONE);
    assert_true(cache_stats(f->s).hits >= 1);

    revoke_elsewhere(f, 2000);
    int64_t t0 = eg_time_now();
    for (;;) {
        assert_int_equal(eg_store_cred_get(f->c, "t1", "c1", &c), 0);
        if (c.revoked_at == 2000)
            break;
        assert_true(eg_time_now() - t0 < 2000);
        struct timespec tick = {0, 1000000L};
        nanosleep(&tick, NULL);
    }
    print_message("another process's revoke read after %lld ms\n",
                  (long long)(eg_time_now() - t0));
    eg_writer_stop(wr);
}

/* The protocol of cache.h, step by step: a read that began before a drop
 * or a flush cannot fill the cache afterwards; one that began after can. */
static void test_read_cache_tokens(void **state)
{
    (void)state;
    struct eg_ccache *k = eg_ccache_new(1 << 20);
    struct eg_credential c = {.valid_to = EG_TIME_NONE,
                              .revoked_at = EG_TIME_NONE};
    CP(c.tenant_id, "t1");
    CP(c.credential_id, "c1");
    CP(c.user_id, "u1");
    CP(c.access_profile, "staff");
    struct eg_credential out;

    uint64_t before = eg_ccache_begin(k);
    eg_ccache_drop(k, "t1", "c1"); /* a commit landed during the read */
    eg_ccache_put(k, before, &c);
    assert_false(eg_ccache_get(k, "t1", "c1", &out));
    uint64_t after = eg_ccache_begin(k);
    eg_ccache_put(k, after, &c);
    assert_true(eg_ccache_get(k, "t1", "c1", &out));
    assert_string_equal(out.user_id, "u1");

    /* filled before the drop: the drop removes it */
    eg_ccache_drop(k, "t1", "c1");
    assert_false(eg_ccache_get(k, "t1", "c1", &out));

    /* a flush: everything goes, and older reads cannot fill */
    eg_ccache_put(k, eg_ccache_begin(k), &c);
    assert_true(eg_ccache_get(k, "t1", "c1", &out));
    before = eg_ccache_begin(k);
    eg_ccache_flush(k);
    assert_false(eg_ccache_get(k, "t1", "c1", &out));
    eg_ccache_put(k, before, &c);
    assert_false(eg_ccache_get(k, "t1", "c1", &out));
    eg_ccache_put(k, eg_ccache_begin(k), &c);
    assert_true(eg_ccache_get(k, "t1", "c1", &out));
    /* the key is the pair: same id, other tenant, no hit */
    assert_false(eg_ccache_get(k, "t2", "c1", &out));
    /* off (nothing watches the store): nothing is answered any more */
    eg_ccache_off(k);
    assert_false(eg_ccache_get(k, "t1", "c1", &out));
    eg_ccache_put(k, eg_ccache_begin(k), &c);
    assert_false(eg_ccache_get(k, "t1", "c1", &out));
    eg_ccache_free(k);
}

/* Readers racing revokes through the writer: once a revoke is answered, no
 * read that starts afterwards returns the credential unrevoked. */
#define RACE_CREDS 300

struct race {
    struct fx *f;
    _Atomic int acked[RACE_CREDS];
    _Atomic int stop;
    _Atomic long stale, reads;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void race_done(struct eg_write *w)
{
    struct race *r = w->ctx;
    pthread_mutex_lock(&r->lock);
    r->done++;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void *race_reader(void *arg)
{
    struct race *r = arg;
    struct eg_store_conn *c = eg_store_conn(r->f->s);
    assert_non_null(c);
    unsigned seed = (unsigned)(uintptr_t)&seed;
    while (!atomic_load(&r->stop)) {
        int i = (int)(rand_r(&seed) % RACE_CREDS);
        int acked = atomic_load(&r->acked[i]);
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        struct eg_credential got;
        if (eg_store_cred_get(c, "t1", id, &got) != 0)
            continue;
        if (acked && got.revoked_at == EG_TIME_NONE)
            atomic_fetch_add(&r->stale, 1);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_read_cache_race(void **state)
{
    struct fx *f = *state;
    assert_true(eg_store_cache_enable(f->s, 1 << 20));
    ok1(f->c, tenant_w("t1", 1));
    for (int i = 0; i < RACE_CREDS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        ok1(f->c, cred_w("t1", id, "u", 1000 + i, EG_TIME_NONE));
    }
    struct race *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->f = f;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    struct eg_writer *wr;
    assert_int_equal(eg_writer_start(f->s, &wr), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_reader, r), 0);
    static struct eg_write w[RACE_CREDS];
    for (int i = 0; i < RACE_CREDS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        w[i] = revoke_w("t1", id, 5000 + i);
        w[i].done = race_done;
        w[i].ctx = r;
        eg_writer_submit(wr, &w[i]);
        pthread_mutex_lock(&r->lock);
        while (r->done <= i)
            pthread_cond_wait(&r->cond, &r->lock);
        pthread_mutex_unlock(&r->lock);
        assert_int_equal(w[i].rc, 0);
        atomic_store(&r->acked[i], 1);
    }
    atomic_store(&r->stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    eg_writer_stop(wr);
    struct eg_ccache_stats st = cache_stats(f->s);
    print_message("%ld reads, %llu cache hits, %llu drops\n",
                  (long)atomic_load(&r->reads), (unsigned long long)st.hits,
                  (unsigned long long)st.drops);
    assert_int_equal(atomic_load(&r->stale), 0);
    assert_true(st.hits > 0);
    assert_true(st.drops > 0);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest common[] = {
        T(test_migrations_once),
        T(test_refuses_newer_schema),
        T(test_tenants),
        T(test_keys),
        T(test_accounts),
        T(test_profiles),
        T(test_devices),
        T(test_device_fields),
        T(test_auth_generation),
        T(test_cred_roundtrip),
        T(test_cred_revoke_audit),
        T(test_batch_partial_failure),
        T(test_batch_of_creates),
        T(test_write_atomic),
        T(test_max_lengths),
        T(test_cred_scan_order),
        T(test_cred_scan_status),
        T(test_cred_scan_user),
        T(test_cred_scan_paging),
        T(test_audit_scan),
        T(test_two_stores_one_file),
        T(test_concurrent_open),
        T(test_busy_is_unavailable),
        T(test_overlong_value),
        T(test_read_cache_backend),
    };
    const struct CMUnitTest sqlite_only[] = {
        T(test_open_errors),
        T(test_file_mode),
        T(test_read_cache_hits),
        T(test_read_cache_own_revoke),
        T(test_read_cache_other_writer),
        T(test_read_cache_foreign_non_credential_writes),
        T(test_read_cache_writer_watches),
        T(test_read_cache_tokens),
        T(test_read_cache_race),
    };
    const struct CMUnitTest pg_only[] = {
        T(test_pg_open_errors),
        T(test_pg_async_commit),
        T(test_pg_reconnect),
        T(test_pg_long_scans),
        T(test_pg_byte_order),
    };
    pg_base = getenv("ENGAGE_TEST_STORE_URL");
    if (pg_base != NULL && pg_base[0] == '\0')
        pg_base = NULL;
    if (pg_base != NULL) {
        int failed = cmocka_run_group_tests_name("store on PostgreSQL", common,
                                                 NULL, NULL);
        return failed + cmocka_run_group_tests_name("PostgreSQL only",
                                                    pg_only, NULL, NULL);
    }
    int failed =
        cmocka_run_group_tests_name("store on SQLite", common, NULL, NULL);
    return failed + cmocka_run_group_tests_name("SQLite only", sqlite_only,
                                                NULL, NULL);
}
