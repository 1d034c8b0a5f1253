/*
 * sqlite.c - the SQLite backend of the store interface (store.h).
 *
 * The store is one database file in WAL mode with synchronous=FULL, so a
 * committed transaction survives a crash of the process or the machine
 * (C27). open() creates the file (mode 0600) when absent and applies the
 * numbered migrations compiled into the binary (eg_migrations[i] is schema
 * version i + 1), each in its own BEGIN IMMEDIATE transaction recorded in
 * schema_migrations, so two processes starting at once apply each migration
 * exactly once; a store whose schema is newer than the binary is refused.
 *
 * Each thread's connection is its own sqlite3 handle with the same pragmas
 * and its own cache of prepared statements, prepared on first use and
 * finalized when the connection closes. apply() runs a batch of writes in
 * one IMMEDIATE transaction, each write in a savepoint so a failing write
 * leaves no trace and fails alone; credential writes append their audit row
 * and key/account writes bump auth_generation inside that same savepoint
 * (C8, C28). Every read is one statement, hence one implicit read
 * transaction, reset before returning so no read pins the WAL. Lists walk an
 * index in the order of C20/C23 and resume from a keyset position. Text is
 * compared with SQLite's BINARY collation (byte order), and nothing read from
 * the database is copied into a struct field that cannot hold it.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/time.h"

extern const char *const eg_migrations[];
extern const size_t eg_migrations_count;

#define BUSY_TIMEOUT_MS 5000

/* Checkpoints run on a thread of their own, not in the commit that crossed
 * SQLite's threshold (wal_autocheckpoint): a checkpoint copies the WAL into
 * the database file and fsyncs it, 2 ms every 1000 frames on the bench
 * machine, a tenth of the single writer's time under a stream of creates
 * (bench/README.md). A commit that takes the WAL CKPT_STEP frames past the
 * last request wakes the checkpointer; a PASSIVE checkpoint never waits for
 * the writer or for readers. The WAL can only start over from its beginning
 * once everything in it is checkpointed, which a stream of commits racing
 * the checkpointer rarely allows, so at CKPT_INLINE frames the committing
 * connection checkpoints the little that is left itself, and the next write
 * transaction restarts the WAL: that bounds it to CKPT_INLINE frames
 * (32 MiB with 4 KiB pages). */
#define CKPT_STEP 4000 /* 1000 until the fourth session: 4000 gave 4 % more
                          POSTs (57.3k vs 55.0k/s, 6 interleaved rounds of
                          wrk -c64 each), fewer and larger checkpoints
                          syncing the file less often next to the commits'
                          own syncs */
#define CKPT_INLINE 8000

struct eg_bstore {
    char *path;
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
    pthread_t ckpt_thread;
    /* guarded by ckpt_lock: */
    bool ckpt_started, ckpt_wanted, ckpt_stopping;
    int ckpt_next;   /* the WAL size in frames that wakes the checkpointer */
    int ckpt_frames; /* the WAL size after the last commit */
};

/* The prepared statements of a connection, by index into sql[]. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_PING,
    ST_GEN_GET,
    ST_GEN_BUMP,
    ST_DATA_VERSION,
    ST_AUDIT_HEAD,
    ST_TENANT_INSERT,
    ST_TENANT_GET,
    ST_TENANT_SCAN,
    ST_KEY_INSERT,
    ST_KEY_REVOKE,
    ST_KEY_BY_ID,
    ST_KEY_BY_HASH,
    ST_KEY_SCAN,
    ST_ACCOUNT_INSERT,
    ST_ACCOUNT_DELETE,
    ST_ACCOUNT_GET,
    ST_PROFILE_INSERT,
    ST_PROFILE_GET,
    ST_DEVICE_INSERT,
    ST_DEVICE_DELETE,
    ST_DEVICE_SCAN,
    ST_DEVICE_SCAN_AFTER,
    ST_CRED_INSERT,
    ST_CRED_REVOKE,
    ST_CRED_GET,
    ST_AUDIT_INSERT,
    ST_AUDIT_SCAN,
    ST_AUDIT_SCAN_CRED,
    ST_KEY_ROTATE,
    ST_ACCOUNT_PASSWD,
    ST_IDEM_PUT,
    ST_IDEM_GET,
    ST_CRED_SCAN, /* 12 statements: see CRED_SCAN_ID */
    ST_COUNT = ST_CRED_SCAN + 12
};

/* The cred_scan statement for a status, with or without a user filter and a
 * keyset position: each combination has its own SQL so each walks an index
 * in order (credentials_order, or credentials_user when filtered by user). */
#define CRED_SCAN_ID(status, user, after)                                      \
    (ST_CRED_SCAN + 4 * (status) + 2 * (user) + (after))

struct eg_bconn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

#define CRED_COLS                                                              \
    "tenant_id, credential_id, user_id, user_email, user_name, "               \
    "access_profile, valid_from, valid_to, created_at, revoked_at"
#define KEY_COLS "tenant_id, key_id, key_hash, created_at, revoked_at"
#define DEVICE_COLS                                                            \
    "tenant_id, device_id, name, model, firmware_version, site_id"

/* cred_scan parameters: ?1 tenant, ?2 now, ?3 user, ?4 cursor time,
 * ?5 cursor id, ?6 limit. Every statement names ?6, so binding any of the
 * six is valid even when a statement does not use it. */
#define CRED_SCAN_SQL(status, user, after)                                     \
    "SELECT " CRED_COLS " FROM credentials WHERE tenant_id = ?1" status user  \
        after " ORDER BY created_at, credential_id LIMIT ?6"
#define S_ACTIVE " AND revoked_at IS NULL AND (valid_to IS NULL OR valid_to > ?2)"
#define S_EXPIRED " AND revoked_at IS NULL AND valid_to <= ?2"
#define S_REVOKED " AND revoked_at IS NOT NULL"
#define U_ANY ""
#define U_ONE " AND user_id = ?3"
#define A_START ""
/* The range on created_at lets the index seek; the OR settles ties. */
#define A_AFTER                                                                \
    " AND created_at >= ?4 AND (created_at > ?4 OR credential_id > ?5)"

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT w",
    [ST_RELEASE] = "RELEASE w",
    [ST_ROLLBACK_TO] = "ROLLBACK TO w",
    [ST_PING] = "SELECT 1",
    [ST_GEN_GET] = "SELECT gen FROM auth_generation WHERE id = 1",
    [ST_GEN_BUMP] = "UPDATE auth_generation SET gen = gen + 1 WHERE id = 1",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    [ST_AUDIT_HEAD] = "SELECT coalesce(max(seq), 0) FROM audit",
    [ST_TENANT_INSERT] =
        "INSERT INTO tenants (tenant_id, name, created_at) VALUES (?1, ?2, ?3)",
    [ST_TENANT_GET] =
        "SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = ?1",
    [ST_TENANT_SCAN] =
        "SELECT tenant_id, name, created_at FROM tenants ORDER BY tenant_id",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (" KEY_COLS
                      ") VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?2 "
                      "WHERE key_id = ?1 AND revoked_at IS NULL",
    [ST_KEY_BY_ID] = "SELECT " KEY_COLS " FROM api_keys WHERE key_id = ?1",
    [ST_KEY_BY_HASH] = "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?1",
    [ST_KEY_SCAN] = "SELECT " KEY_COLS " FROM api_keys WHERE tenant_id = ?1 "
                    "ORDER BY created_at, key_id",
    [ST_ACCOUNT_INSERT] = "INSERT INTO accounts "
                          "(tenant_id, username, pwhash, created_at) "
                          "VALUES (?1, ?2, ?3, ?4)",
    [ST_ACCOUNT_DELETE] =
        "DELETE FROM accounts WHERE tenant_id = ?1 AND username = ?2",
    [ST_ACCOUNT_GET] = "SELECT tenant_id, username, pwhash, created_at "
                       "FROM accounts WHERE tenant_id = ?1 AND username = ?2",
    [ST_PROFILE_INSERT] = "INSERT INTO access_profiles "
                          "(tenant_id, profile_id, name) VALUES (?1, ?2, ?3)",
    [ST_PROFILE_GET] =
        "SELECT tenant_id, profile_id, name FROM access_profiles "
        "WHERE tenant_id = ?1 AND profile_id = ?2",
    [ST_DEVICE_INSERT] = "INSERT INTO devices (" DEVICE_COLS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_DEVICE_DELETE] =
        "DELETE FROM devices WHERE tenant_id = ?1 AND device_id = ?2",
    [ST_DEVICE_SCAN] = "SELECT " DEVICE_COLS " FROM devices "
                       "WHERE tenant_id = ?1 "
                       "ORDER BY name, device_id LIMIT ?4",
    [ST_DEVICE_SCAN_AFTER] =
        "SELECT " DEVICE_COLS " FROM devices WHERE tenant_id = ?1 "
        "AND name >= ?2 AND (name > ?2 OR device_id > ?3) "
        "ORDER BY name, device_id LIMIT ?4",
    [ST_CRED_INSERT] = "INSERT INTO credentials (" CRED_COLS ") VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_CRED_REVOKE] = "UPDATE credentials SET revoked_at = ?3 "
                       "WHERE tenant_id = ?1 AND credential_id = ?2 "
                       "AND revoked_at IS NULL",
    [ST_CRED_GET] = "SELECT " CRED_COLS " FROM credentials "
                    "WHERE tenant_id = ?1 AND credential_id = ?2",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (tenant_id, time, action, "
                        "credential_id, key_id, username, request_id) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_AUDIT_SCAN] = "SELECT seq, time, tenant_id, action, credential_id, "
                      "key_id, username, request_id FROM audit "
                      "WHERE tenant_id = ?1 AND seq > ?2 AND time >= ?3 "
                      "ORDER BY seq LIMIT ?5",
    [ST_AUDIT_SCAN_CRED] =
        "SELECT seq, time, tenant_id, action, credential_id, key_id, "
        "username, request_id FROM audit WHERE tenant_id = ?1 "
        "AND credential_id = ?4 AND seq > ?2 AND time >= ?3 "
        "ORDER BY seq LIMIT ?5",
    [ST_KEY_ROTATE] = "UPDATE api_keys SET key_hash = ?2 "
                      "WHERE key_id = ?1 AND revoked_at IS NULL",
    [ST_ACCOUNT_PASSWD] = "UPDATE accounts SET pwhash = ?3 "
                          "WHERE tenant_id = ?1 AND username = ?2",
    [ST_IDEM_PUT] =
        "INSERT INTO idempotency (tenant_id, idem_key, body_hash, "
        "credential_id, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT (tenant_id, idem_key) DO UPDATE SET "
        "body_hash = excluded.body_hash, credential_id = excluded.credential_id, "
        "response = excluded.response, created_at = excluded.created_at "
        "WHERE idempotency.created_at < ?7",
    [ST_IDEM_GET] = "SELECT body_hash, credential_id, response, created_at "
                    "FROM idempotency WHERE tenant_id = ?1 AND idem_key = ?2",
#define CRED_SCAN_ROW(status, S)                                               \
    [CRED_SCAN_ID(status, 0, 0)] = CRED_SCAN_SQL(S, U_ANY, A_START),           \
    [CRED_SCAN_ID(status, 0, 1)] = CRED_SCAN_SQL(S, U_ANY, A_AFTER),           \
    [CRED_SCAN_ID(status, 1, 0)] = CRED_SCAN_SQL(S, U_ONE, A_START),           \
    [CRED_SCAN_ID(status, 1, 1)] = CRED_SCAN_SQL(S, U_ONE, A_AFTER)
    CRED_SCAN_ROW(EG_STATUS_ACTIVE, S_ACTIVE),
    CRED_SCAN_ROW(EG_STATUS_EXPIRED, S_EXPIRED),
    CRED_SCAN_ROW(EG_STATUS_REVOKED, S_REVOKED),
#undef CRED_SCAN_ROW
};

/* ---- errors ---- */

/* The EG_E* for a failed SQLite call; logs the ones that are EG_EINTERNAL. */
static int map_err(sqlite3 *db, int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return EG_ECONFLICT;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return EG_ENOTFOUND;
    default:
        break;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return EG_EUNAVAILABLE;
    fprintf(stderr, "engage: store: %s (%s)\n",
            db != NULL ? sqlite3_errmsg(db) : "out of memory",
            sqlite3_errstr(rc));
    return EG_EINTERNAL;
}

static int internal(const char *what)
{
    fprintf(stderr, "engage: store: %s\n", what);
    return EG_EINTERNAL;
}

/* ---- statements, binding and columns ---- */

static int get_stmt(struct eg_bconn *c, int id, sqlite3_stmt **out)
{
    if (c->st[id] == NULL) {
        int rc = sqlite3_prepare_v3(c->db, sql[id], -1,
                                    SQLITE_PREPARE_PERSISTENT, &c->st[id],
                                    NULL);
        if (rc != SQLITE_OK) {
            c->st[id] = NULL;
            return map_err(c->db, rc);
        }
    }
    *out = c->st[id];
    return 0;
}

/* Ends a use of a cached statement: closes its read transaction, if any, and
 * drops the bindings, which point into the caller's memory. */
static void finish(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binds a NUL-terminated text held in a field of cap bytes; fails (instead of
 * reading past the field) when it has no NUL. */
static int bind_field(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return SQLITE_TOOBIG;
    return sqlite3_bind_text(st, i, s, (int)n, SQLITE_STATIC);
}

#define BIND_FIELD(st, i, f) bind_field((st), (i), (f), sizeof(f))

/* Binds a field as NULL when it is "" (an absent optional text). */
static int bind_opt(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
    if (s[0] == '\0')
        return sqlite3_bind_null(st, i);
    return bind_field(st, i, s, cap);
}

#define BIND_OPT(st, i, f) bind_opt((st), (i), (f), sizeof(f))

static int bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Binds a time, NULL when it is EG_TIME_NONE. */
static int bind_time(sqlite3_stmt *st, int i, int64_t t)
{
    if (t == EG_TIME_NONE)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_int64(st, i, t);
}

static int bind_limit(sqlite3_stmt *st, int i, size_t limit)
{
    int64_t n = limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    return sqlite3_bind_int64(st, i, n);
}

static int bind_failed(sqlite3_stmt *st)
{
    finish(st);
    return internal("cannot bind a statement parameter (text too long?)");
}

/* Copies text column i into dst (cap bytes). A NULL column gives "" and
 * *present false (present may be NULL only for a NOT NULL column). */
static int col_text(sqlite3_stmt *st, int i, char *dst, size_t cap,
                    bool *present)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        dst[0] = '\0';
        if (present == NULL)
            return internal("a required column is NULL");
        *present = false;
        return 0;
    }
    const unsigned char *s = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (s == NULL)
        return internal("out of memory reading a column");
    if ((size_t)n >= cap || memchr(s, '\0', (size_t)n) != NULL) {
        fprintf(stderr,
                "engage: store: stored %s is longer than %zu bytes\n",
                sqlite3_column_name(st, i), cap - 1);
        return EG_EINTERNAL;
    }
    memcpy(dst, s, (size_t)n);
    dst[n] = '\0';
    if (present != NULL)
        *present = true;
    return 0;
}

#define COL_TEXT(st, i, f) col_text((st), (i), (f), sizeof(f), NULL)

/* An optional text column: NULL reads as "". */
static int col_opt(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    bool present;
    return col_text(st, i, dst, cap, &present);
}

#define COL_OPT(st, i, f) col_opt((st), (i), (f), sizeof(f))

static int64_t col_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return EG_TIME_NONE;
    return sqlite3_column_int64(st, i);
}

/* ---- rows ---- */

static int read_cred(sqlite3_stmt *st, struct eg_credential *c)
{
    int rc = COL_TEXT(st, 0, c->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 1, c->credential_id);
    if (rc == 0)
        rc = COL_TEXT(st, 2, c->user_id);
    if (rc == 0)
        rc = col_text(st, 3, c->user_email, sizeof(c->user_email),
                      &c->has_user_email);
    if (rc == 0)
        rc = col_text(st, 4, c->user_name, sizeof(c->user_name),
                      &c->has_user_name);
    if (rc == 0)
        rc = COL_TEXT(st, 5, c->access_profile);
    c->valid_from = sqlite3_column_int64(st, 6);
    c->valid_to = col_time(st, 7);
    c->created_at = sqlite3_column_int64(st, 8);
    c->revoked_at = col_time(st, 9);
    return rc;
}

static int read_key(sqlite3_stmt *st, struct eg_key *k)
{
    int rc = COL_TEXT(st, 0, k->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 1, k->key_id);
    if (rc != 0)
        return rc;
    const void *h = sqlite3_column_blob(st, 2);
    if (h == NULL || sqlite3_column_bytes(st, 2) != EG_KEY_HASH_LEN)
        return internal("a stored key hash has the wrong length");
    memcpy(k->hash, h, EG_KEY_HASH_LEN);
    k->created_at = sqlite3_column_int64(st, 3);
    k->revoked_at = col_time(st, 4);
    return 0;
}

static int read_device(sqlite3_stmt *st, struct eg_device *d)
{
    int rc = COL_TEXT(st, 0, d->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 1, d->device_id);
    if (rc == 0)
        rc = COL_TEXT(st, 2, d->name);
    if (rc == 0)
        rc = COL_TEXT(st, 3, d->model);
    if (rc == 0)
        rc = COL_OPT(st, 4, d->firmware_version);
    if (rc == 0)
        rc = COL_OPT(st, 5, d->site_id);
    return rc;
}

static int read_tenant(sqlite3_stmt *st, struct eg_tenant *t)
{
    int rc = COL_TEXT(st, 0, t->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 1, t->name);
    t->created_at = sqlite3_column_int64(st, 2);
    return rc;
}

static int read_audit(sqlite3_stmt *st, struct eg_audit *a)
{
    a->seq = sqlite3_column_int64(st, 0);
    a->time = sqlite3_column_int64(st, 1);
    int rc = COL_TEXT(st, 2, a->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 3, a->action);
    if (rc == 0)
        rc = COL_TEXT(st, 4, a->credential_id);
    if (rc == 0)
        rc = COL_TEXT(st, 5, a->actor.key_id);
    if (rc == 0)
        rc = COL_TEXT(st, 6, a->actor.username);
    if (rc == 0)
        rc = COL_TEXT(st, 7, a->actor.request_id);
    return rc;
}

/* The row loop of every scan: NAME(c, st, cb, ctx) steps st to its end,
 * reads each row with READ into a T and hands it to cb, which ends the scan
 * early by returning non-zero. It finishes st and returns 0 or the first
 * error. One function per row type keeps the callbacks' types. */
#define DEFINE_ROW_LOOP(NAME, T, READ, CB)                                   \
    static int NAME(struct eg_bconn *c, sqlite3_stmt *st, CB cb, void *ctx)  \
    {                                                                        \
        int rc = 0;                                                          \
        for (;;) {                                                           \
            int s = sqlite3_step(st);                                        \
            if (s == SQLITE_DONE)                                            \
                break;                                                       \
            if (s != SQLITE_ROW) {                                           \
                rc = map_err(c->db, s);                                      \
                break;                                                       \
            }                                                                \
            T row;                                                           \
            rc = READ(st, &row);                                             \
            if (rc != 0 || cb(ctx, &row) != 0)                               \
                break;                                                       \
        }                                                                    \
        finish(st);                                                          \
        return rc;                                                           \
    }

DEFINE_ROW_LOOP(each_key, struct eg_key, read_key, eg_key_cb)
DEFINE_ROW_LOOP(each_tenant, struct eg_tenant, read_tenant, eg_tenant_cb)
DEFINE_ROW_LOOP(each_cred, struct eg_credential, read_cred, eg_cred_cb)
DEFINE_ROW_LOOP(each_device, struct eg_device, read_device, eg_device_cb)
DEFINE_ROW_LOOP(each_audit, struct eg_audit, read_audit, eg_audit_cb)

/* ---- running statements ---- */

/* Runs a bound statement that returns no rows; *changes (when not NULL)
 * gets the rows it changed. */
static int run(struct eg_bconn *c, sqlite3_stmt *st, int64_t *changes)
{
    int s = sqlite3_step(st);
    int rc = 0;
    if (s == SQLITE_DONE || s == SQLITE_ROW) {
        if (changes != NULL)
            *changes = sqlite3_changes64(c->db);
    } else {
        rc = map_err(c->db, s);
    }
    finish(st);
    return rc;
}

/* Runs the unbound statement id. */
static int run_id(struct eg_bconn *c, int id)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, id, &st);
    if (rc != 0)
        return rc;
    return run(c, st, NULL);
}

/* Steps a bound statement to its first row: 0 with the row ready (the
 * caller reads it and calls finish), or an error (finished already). */
static int first_row(struct eg_bconn *c, sqlite3_stmt *st)
{
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        return 0;
    int rc = s == SQLITE_DONE ? EG_ENOTFOUND : map_err(c->db, s);
    finish(st);
    return rc;
}

/* ---- writes ---- */

static int bump_generation(struct eg_bconn *c)
{
    return run_id(c, ST_GEN_BUMP);
}

static int audit_append(struct eg_bconn *c, const struct eg_credential *cr,
                        const struct eg_actor *a, const char *action,
                        int64_t time)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_AUDIT_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, cr->tenant_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, time) != SQLITE_OK ||
        bind_str(st, 3, action) != SQLITE_OK ||
        BIND_FIELD(st, 4, cr->credential_id) != SQLITE_OK ||
        BIND_FIELD(st, 5, a->key_id) != SQLITE_OK ||
        BIND_FIELD(st, 6, a->username) != SQLITE_OK ||
        BIND_FIELD(st, 7, a->request_id) != SQLITE_OK)
        return bind_failed(st);
    return run(c, st, NULL);
}

static int w_tenant_create(struct eg_bconn *c, const struct eg_tenant *t)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_TENANT_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, t->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, t->name) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, t->created_at) != SQLITE_OK)
        return bind_failed(st);
    return run(c, st, NULL);
}

static int w_key_create(struct eg_bconn *c, const struct eg_key *k)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_KEY_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, k->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, k->key_id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 3, k->hash, EG_KEY_HASH_LEN, SQLITE_STATIC) !=
            SQLITE_OK ||
        sqlite3_bind_int64(st, 4, k->created_at) != SQLITE_OK ||
        bind_time(st, 5, k->revoked_at) != SQLITE_OK)
        return bind_failed(st);
    rc = run(c, st, NULL);
    if (rc != 0)
        return rc;
    return bump_generation(c);
}

/* Revokes by key_id alone, keeping the first revoked_at, then fills k with
 * the key as it stands (its tenant_id above all). */
static int w_key_revoke(struct eg_bconn *c, struct eg_key *k)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_KEY_REVOKE, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, k->key_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, k->revoked_at) != SQLITE_OK)
        return bind_failed(st);
    rc = run(c, st, NULL);
    if (rc != 0)
        return rc;
    rc = get_stmt(c, ST_KEY_BY_ID, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, k->key_id) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    struct eg_key got;
    rc = read_key(st, &got);
    finish(st);
    if (rc != 0)
        return rc;
    *k = got;
    return bump_generation(c);
}

static int w_account_create(struct eg_bconn *c, const struct eg_account *a)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_ACCOUNT_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, a->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, a->username) != SQLITE_OK ||
        BIND_FIELD(st, 3, a->pwhash) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, a->created_at) != SQLITE_OK)
        return bind_failed(st);
    rc = run(c, st, NULL);
    if (rc != 0)
        return rc;
    return bump_generation(c);
}

static int w_account_remove(struct eg_bconn *c, const struct eg_account *a)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_ACCOUNT_DELETE, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, a->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, a->username) != SQLITE_OK)
        return bind_failed(st);
    int64_t changes = 0;
    rc = run(c, st, &changes);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return EG_ENOTFOUND;
    return bump_generation(c);
}

static int w_profile_create(struct eg_bconn *c, const struct eg_profile *p)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_PROFILE_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, p->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, p->profile_id) != SQLITE_OK ||
        BIND_OPT(st, 3, p->name) != SQLITE_OK)
        return bind_failed(st);
    return run(c, st, NULL);
}

static int w_device_add(struct eg_bconn *c, const struct eg_device *d)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_DEVICE_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, d->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, d->device_id) != SQLITE_OK ||
        BIND_FIELD(st, 3, d->name) != SQLITE_OK ||
        BIND_FIELD(st, 4, d->model) != SQLITE_OK ||
        BIND_OPT(st, 5, d->firmware_version) != SQLITE_OK ||
        BIND_OPT(st, 6, d->site_id) != SQLITE_OK)
        return bind_failed(st);
    return run(c, st, NULL);
}

static int w_device_remove(struct eg_bconn *c, const struct eg_device *d)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_DEVICE_DELETE, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, d->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, d->device_id) != SQLITE_OK)
        return bind_failed(st);
    int64_t changes = 0;
    rc = run(c, st, &changes);
    if (rc != 0)
        return rc;
    return changes == 0 ? EG_ENOTFOUND : 0;
}

static int w_cred_create(struct eg_bconn *c, const struct eg_credential *cr,
                         const struct eg_actor *a)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_CRED_INSERT, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, cr->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, cr->credential_id) != SQLITE_OK ||
        BIND_FIELD(st, 3, cr->user_id) != SQLITE_OK ||
        (cr->has_user_email ? BIND_FIELD(st, 4, cr->user_email)
                            : sqlite3_bind_null(st, 4)) != SQLITE_OK ||
        (cr->has_user_name ? BIND_FIELD(st, 5, cr->user_name)
                           : sqlite3_bind_null(st, 5)) != SQLITE_OK ||
        BIND_FIELD(st, 6, cr->access_profile) != SQLITE_OK ||
        sqlite3_bind_int64(st, 7, cr->valid_from) != SQLITE_OK ||
        bind_time(st, 8, cr->valid_to) != SQLITE_OK ||
        sqlite3_bind_int64(st, 9, cr->created_at) != SQLITE_OK ||
        bind_time(st, 10, cr->revoked_at) != SQLITE_OK)
        return bind_failed(st);
    rc = run(c, st, NULL);
    if (rc != 0)
        return rc;
    return audit_append(c, cr, a, "credential.create", cr->created_at);
}

static int sqlite_cred_get(struct eg_bconn *c, const char *tenant_id,
                    const char *credential_id, struct eg_credential *out);

/* Sets revoked_at unless already set (auditing only a real change), then
 * fills cr with the credential as it stands. */
static int w_cred_revoke(struct eg_bconn *c, struct eg_credential *cr,
                         const struct eg_actor *a)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_CRED_REVOKE, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, cr->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, cr->credential_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, cr->revoked_at) != SQLITE_OK)
        return bind_failed(st);
    int64_t changes = 0;
    rc = run(c, st, &changes);
    if (rc != 0)
        return rc;
    if (changes > 0) {
        rc = audit_append(c, cr, a, "credential.revoke", cr->revoked_at);
        if (rc != 0)
            return rc;
    }
    struct eg_credential got;
    rc = sqlite_cred_get(c, cr->tenant_id, cr->credential_id, &got);
    if (rc != 0)
        return rc;
    *cr = got;
    return 0;
}

/* A new secret for an active key; fills k with the key as it stands. */
static int w_key_rotate(struct eg_bconn *c, struct eg_key *k)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_KEY_ROTATE, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, k->key_id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, k->hash, EG_KEY_HASH_LEN, SQLITE_STATIC) !=
            SQLITE_OK)
        return bind_failed(st);
    int64_t changes = 0;
    rc = run(c, st, &changes);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return EG_ENOTFOUND;
    rc = get_stmt(c, ST_KEY_BY_ID, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, k->key_id) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    struct eg_key got;
    rc = read_key(st, &got);
    finish(st);
    if (rc != 0)
        return rc;
    *k = got;
    return bump_generation(c);
}

static int w_account_passwd(struct eg_bconn *c, const struct eg_account *a)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_ACCOUNT_PASSWD, &st);
    if (rc != 0)
        return rc;
    if (BIND_FIELD(st, 1, a->tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, a->username) != SQLITE_OK ||
        BIND_FIELD(st, 3, a->pwhash) != SQLITE_OK)
        return bind_failed(st);
    int64_t changes = 0;
    rc = run(c, st, &changes);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return EG_ENOTFOUND;
    return bump_generation(c);
}

/* Keeps the idempotency record of a create; ECONFLICT when an unexpired
 * record holds the key. */
static int w_idem_put(struct eg_bconn *c, const char *tenant_id,
                      const struct eg_idem *r)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_IDEM_PUT, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        BIND_FIELD(st, 2, r->key) != SQLITE_OK ||
        sqlite3_bind_blob(st, 3, r->body_hash, sizeof(r->body_hash),
                          SQLITE_STATIC) != SQLITE_OK ||
        BIND_FIELD(st, 4, r->credential_id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 5, r->response, (int)r->response_len,
                          SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, r->created_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 7, r->expired_before) != SQLITE_OK)
        return bind_failed(st);
    int64_t changes = 0;
    rc = run(c, st, &changes);
    if (rc != 0)
        return rc;
    return changes == 0 ? EG_ECONFLICT : 0;
}

static int write_one(struct eg_bconn *c, struct eg_write *w)
{
    switch (w->kind) {
    case EG_W_TENANT_CREATE:
        return w_tenant_create(c, &w->u.tenant);
    case EG_W_KEY_CREATE:
        return w_key_create(c, &w->u.key);
    case EG_W_KEY_REVOKE:
        return w_key_revoke(c, &w->u.key);
    case EG_W_ACCOUNT_CREATE:
        return w_account_create(c, &w->u.account);
    case EG_W_ACCOUNT_REMOVE:
        return w_account_remove(c, &w->u.account);
    case EG_W_PROFILE_CREATE:
        return w_profile_create(c, &w->u.profile);
    case EG_W_DEVICE_ADD:
        return w_device_add(c, &w->u.device);
    case EG_W_DEVICE_REMOVE:
        return w_device_remove(c, &w->u.device);
    case EG_W_KEY_ROTATE:
        return w_key_rotate(c, &w->u.key);
    case EG_W_ACCOUNT_PASSWD:
        return w_account_passwd(c, &w->u.account);
    case EG_W_CRED_CREATE: {
        int rc = w_cred_create(c, &w->u.cred, &w->actor);
        if (rc == 0 && w->idem != NULL)
            rc = w_idem_put(c, w->u.cred.tenant_id, w->idem);
        return rc;
    }
    case EG_W_CRED_REVOKE:
        return w_cred_revoke(c, &w->u.cred, &w->actor);
    }
    return internal("unknown write kind");
}

/* Applies w[0..n) in one IMMEDIATE transaction, each in a savepoint; sets
 * every w[i].rc. Returns 0 once the transaction is committed (some writes
 * may have failed alone), else the error, which every rc then holds too. */
#define APPLY_RETRY 1 /* an unguarded write failed midway: apply again */

/* One attempt at the batch: BEGIN, each write (in a savepoint when guarded,
 * or when all is set), COMMIT. */
static int apply_once(struct eg_bconn *c, struct eg_write *w, size_t n,
                      bool all)
{
    int rc = run_id(c, ST_BEGIN);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        bool sp = all || eg_write_guarded(&w[i]);
        if (sp) {
            rc = run_id(c, ST_SAVEPOINT);
            if (rc != 0)
                goto out;
        }
        int wrc = write_one(c, &w[i]);
        if (wrc != 0 && sqlite3_get_autocommit(c->db)) {
            /* SQLite rolled the whole transaction back (I/O error, full
             * disk): nothing of the batch is left. */
            rc = wrc == EG_EUNAVAILABLE ? wrc : EG_EINTERNAL;
            goto out;
        }
        if (wrc != 0 && !sp && wrc != EG_ENOTFOUND && wrc != EG_ECONFLICT) {
            /* Maybe half of it is in: drop the attempt, and apply the
             * batch again with every write in its own savepoint. */
            run_id(c, ST_ROLLBACK);
            return APPLY_RETRY;
        }
        if (wrc != 0 && sp) {
            rc = run_id(c, ST_ROLLBACK_TO);
            if (rc != 0)
                goto out;
        }
        if (sp) {
            rc = run_id(c, ST_RELEASE);
            if (rc != 0)
                goto out;
        }
        w[i].rc = wrc;
    }
    rc = run_id(c, ST_COMMIT);
    if (rc == 0)
        return 0;
out:
    if (!sqlite3_get_autocommit(c->db))
        run_id(c, ST_ROLLBACK);
    if (rc != EG_EUNAVAILABLE)
        rc = EG_EINTERNAL;
    for (size_t i = 0; i < n; i++)
        w[i].rc = rc;
    return rc;
}

static int sqlite_apply(struct eg_bconn *c, struct eg_write *w, size_t n)
{
    if (n == 0)
        return 0;
    int rc = apply_once(c, w, n, false);
    if (rc == APPLY_RETRY)
        rc = apply_once(c, w, n, true);
    return rc;
}

/* ---- reads ---- */

/* The one integer of a one-row statement (`what` names it in errors). */
static int one_int(struct eg_bconn *c, int id, const char *what, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, id, &st);
    if (rc != 0)
        return rc;
    rc = first_row(c, st);
    if (rc == EG_ENOTFOUND)
        return internal(what);
    if (rc != 0)
        return rc;
    *out = sqlite3_column_int64(st, 0);
    finish(st);
    return 0;
}

/* SQLite's data_version: it changes when another connection, in this
 * process or another, has committed since this connection last looked. */
static int sqlite_data_version(struct eg_bconn *c, int64_t *out)
{
    return one_int(c, ST_DATA_VERSION, "PRAGMA data_version returned no row",
                   out);
}

/* The newest audit record's seq: a seek to the end of its rowid B-tree. */
static int sqlite_audit_head(struct eg_bconn *c, int64_t *out)
{
    return one_int(c, ST_AUDIT_HEAD, "max(seq) of audit returned no row", out);
}

static int sqlite_auth_generation(struct eg_bconn *c, int64_t *out)
{
    return one_int(c, ST_GEN_GET, "auth_generation has no row", out);
}

static int sqlite_key_by_hash(struct eg_bconn *c,
                              const uint8_t hash[EG_KEY_HASH_LEN],
                              struct eg_key *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_KEY_BY_HASH, &st);
    if (rc != 0)
        return rc;
    if (sqlite3_bind_blob(st, 1, hash, EG_KEY_HASH_LEN, SQLITE_STATIC) !=
        SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    rc = read_key(st, out);
    finish(st);
    return rc;
}

static int sqlite_key_scan(struct eg_bconn *c, const char *tenant_id,
                           eg_key_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_KEY_SCAN, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK)
        return bind_failed(st);
    return each_key(c, st, cb, ctx);
}

static int sqlite_account_get(struct eg_bconn *c, const char *tenant_id,
                              const char *username, struct eg_account *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_ACCOUNT_GET, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        bind_str(st, 2, username) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    rc = COL_TEXT(st, 0, out->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 1, out->username);
    if (rc == 0)
        rc = COL_TEXT(st, 2, out->pwhash);
    out->created_at = sqlite3_column_int64(st, 3);
    finish(st);
    return rc;
}

static int sqlite_tenant_get(struct eg_bconn *c, const char *tenant_id,
                             struct eg_tenant *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_TENANT_GET, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    rc = read_tenant(st, out);
    finish(st);
    return rc;
}

static int sqlite_tenant_scan(struct eg_bconn *c, eg_tenant_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_TENANT_SCAN, &st);
    if (rc != 0)
        return rc;
    return each_tenant(c, st, cb, ctx);
}

static int sqlite_profile_get(struct eg_bconn *c, const char *tenant_id,
                              const char *profile_id, struct eg_profile *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_PROFILE_GET, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        bind_str(st, 2, profile_id) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    rc = COL_TEXT(st, 0, out->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(st, 1, out->profile_id);
    if (rc == 0)
        rc = COL_OPT(st, 2, out->name);
    finish(st);
    return rc;
}

static int sqlite_cred_get(struct eg_bconn *c, const char *tenant_id,
                    const char *credential_id, struct eg_credential *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_CRED_GET, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        bind_str(st, 2, credential_id) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    rc = read_cred(st, out);
    finish(st);
    return rc;
}

static int sqlite_cred_scan(struct eg_bconn *c, const struct eg_cred_filter *f,
                            const struct eg_cursor *after, size_t limit,
                            eg_cred_cb cb, void *ctx)
{
    if (f->status != EG_STATUS_ACTIVE && f->status != EG_STATUS_EXPIRED &&
        f->status != EG_STATUS_REVOKED)
        return internal("cred_scan: unknown status filter");
    bool user = f->user_id != NULL;
    bool from = after != NULL && after->valid;
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, CRED_SCAN_ID((int)f->status, user, from), &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, f->tenant_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, f->now) != SQLITE_OK ||
        bind_str(st, 3, f->user_id) != SQLITE_OK ||
        bind_limit(st, 6, limit) != SQLITE_OK)
        return bind_failed(st);
    if (from && (sqlite3_bind_int64(st, 4, after->time) != SQLITE_OK ||
                 BIND_FIELD(st, 5, after->id) != SQLITE_OK))
        return bind_failed(st);
    return each_cred(c, st, cb, ctx);
}

static int sqlite_device_scan(struct eg_bconn *c, const char *tenant_id,
                              const struct eg_cursor *after, size_t limit,
                              eg_device_cb cb, void *ctx)
{
    bool from = after != NULL && after->valid;
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, from ? ST_DEVICE_SCAN_AFTER : ST_DEVICE_SCAN, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        bind_limit(st, 4, limit) != SQLITE_OK)
        return bind_failed(st);
    if (from && (BIND_FIELD(st, 2, after->text) != SQLITE_OK ||
                 BIND_FIELD(st, 3, after->id) != SQLITE_OK))
        return bind_failed(st);
    return each_device(c, st, cb, ctx);
}

static int sqlite_audit_scan(struct eg_bconn *c, const char *tenant_id,
                             const char *credential_id, int64_t since,
                             int64_t after_seq, size_t limit, eg_audit_cb cb,
                             void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, credential_id != NULL ? ST_AUDIT_SCAN_CRED
                                               : ST_AUDIT_SCAN,
                      &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, after_seq) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, since) != SQLITE_OK ||
        bind_limit(st, 5, limit) != SQLITE_OK)
        return bind_failed(st);
    if (credential_id != NULL && bind_str(st, 4, credential_id) != SQLITE_OK)
        return bind_failed(st);
    return each_audit(c, st, cb, ctx);
}

static int sqlite_ping(struct eg_bconn *c)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_PING, &st);
    if (rc != 0)
        return rc;
    rc = first_row(c, st);
    if (rc == EG_ENOTFOUND)
        return EG_EINTERNAL;
    if (rc != 0)
        return rc;
    finish(st);
    return 0;
}

/* ---- opening ---- */

/* The EG_E* for a failure to open or migrate: busy or unreachable is
 * EG_EUNAVAILABLE, anything else EG_EINTERNAL. */
static int open_err(int s)
{
    int p = s & 0xff;
    if (p == SQLITE_BUSY || p == SQLITE_LOCKED || p == SQLITE_CANTOPEN)
        return EG_EUNAVAILABLE;
    return EG_EINTERNAL;
}

/* Steps st, retrying for up to the busy timeout while it is SQLITE_BUSY.
 * For the switch to WAL: SQLite does not call the busy handler when waiting
 * could deadlock, as when several processes convert a new file at once. */
static int step_retry(sqlite3_stmt *st)
{
    const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
    int s = sqlite3_step(st);
    for (int waited = 0; (s & 0xff) == SQLITE_BUSY && waited < BUSY_TIMEOUT_MS;
         waited += 10) {
        sqlite3_reset(st);
        nanosleep(&pause, NULL);
        s = sqlite3_step(st);
    }
    return s;
}

/* Opens path (which must exist) and sets the connection's pragmas. On
 * failure, *out is NULL and msg says why. */
static int db_open(const char *path, sqlite3 **out, char *msg, size_t msglen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    int s = sqlite3_open_v2(path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            NULL);
    if (s == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        s = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    }
    if (s == SQLITE_OK)
        s = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (s == SQLITE_OK)
        s = step_retry(st);
    if (s != SQLITE_ROW) {
        snprintf(msg, msglen, "cannot open store %s: %s", path,
                 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(s));
        rc = open_err(s);
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcasecmp(mode, "wal") != 0) {
        snprintf(msg, msglen, "cannot put store %s in WAL mode (it is in %s)",
                 path, mode != NULL ? mode : "an unknown mode");
        rc = EG_EINTERNAL;
        goto out;
    }
    /* temp_store=MEMORY keeps the savepoint sub-journals of a batch off the
     * disk. Reads use mmap: without it, lists on a large store run at half
     * the speed (bench/README.md: whole list 0.73M vs 0.36M/s, userId list
     * 0.46 vs 0.30 x nginx). The price: SQLite drops a reader's map when
     * another connection has committed, so under heavy writes reads that
     * miss the read cache (C32) fault pages in again. */
    s = sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                         "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192; "
                         "PRAGMA mmap_size=1073741824;",
                     NULL, NULL, NULL);
    if (s != SQLITE_OK) {
        snprintf(msg, msglen, "cannot open store %s: %s", path,
                 sqlite3_errmsg(db));
        rc = open_err(s);
    }
out:
    sqlite3_finalize(st);
    if (rc != 0) {
        sqlite3_close(db);
        db = NULL;
    }
    *out = db;
    return rc;
}

/* The newest schema version recorded in db, 0 when none. */
static int schema_version(sqlite3 *db, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(
        db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
        &st, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        s = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return s;
}

/* Whether migration `version` is recorded in db. */
static int schema_has(sqlite3 *db, int64_t version, bool *out)
{
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(
        db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &st,
        NULL);
    if (s == SQLITE_OK)
        s = sqlite3_bind_int64(st, 1, version);
    if (s == SQLITE_OK)
        s = sqlite3_step(st);
    if (s == SQLITE_ROW || s == SQLITE_DONE) {
        *out = s == SQLITE_ROW;
        s = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return s;
}

static int schema_record(sqlite3 *db, int64_t version)
{
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(db,
                               "INSERT INTO schema_migrations "
                               "(version, applied_at) VALUES (?1, ?2)",
                               -1, &st, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_bind_int64(st, 1, version);
    if (s == SQLITE_OK)
        s = sqlite3_bind_int64(st, 2, eg_time_now());
    if (s == SQLITE_OK)
        s = sqlite3_step(st);
    if (s == SQLITE_DONE)
        s = SQLITE_OK;
    sqlite3_finalize(st);
    return s;
}

/* Applies migration `version` (1-based) unless recorded, in its own
 * IMMEDIATE transaction, so of two processes only one applies it. */
static int migrate_one(sqlite3 *db, int64_t version, const char *text)
{
    int s = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (s != SQLITE_OK)
        return s;
    bool done = false;
    s = schema_has(db, version, &done);
    if (s == SQLITE_OK && !done)
        s = sqlite3_exec(db, text, NULL, NULL, NULL);
    if (s == SQLITE_OK && !done)
        s = schema_record(db, version);
    if (s == SQLITE_OK)
        s = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (s != SQLITE_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    /* IMMEDIATE: a deferred read-then-write could fail with BUSY_SNAPSHOT
     * when another process creates the table first. */
    int s = sqlite3_exec(db,
                         "BEGIN IMMEDIATE; "
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER PRIMARY KEY, applied_at INTEGER); "
                         "COMMIT",
                         NULL, NULL, NULL);
    if (s != SQLITE_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    int64_t have = 0;
    if (s == SQLITE_OK)
        s = schema_version(db, &have);
    if (s == SQLITE_OK && have > (int64_t)eg_migrations_count) {
        snprintf(err, errlen,
                 "store %s has schema version %lld, newer than this engage "
                 "knows (%zu): use a newer engage",
                 path, (long long)have, eg_migrations_count);
        return EG_EINTERNAL;
    }
    for (size_t i = 0; s == SQLITE_OK && i < eg_migrations_count; i++) {
        s = migrate_one(db, (int64_t)i + 1, eg_migrations[i]);
        if (s != SQLITE_OK) {
            snprintf(err, errlen, "cannot apply migration %zu to store %s: %s",
                     i + 1, path, sqlite3_errmsg(db));
            return open_err(s);
        }
    }
    if (s != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the schema of store %s: %s", path,
                 sqlite3_errmsg(db));
        return open_err(s);
    }
    return 0;
}

/* The checkpointer (see CKPT_STEP): its own connection, one PASSIVE
 * checkpoint per request. */
static void *ckpt_main(void *arg)
{
    struct eg_bstore *s = arg;
    char msg[512];
    sqlite3 *db = NULL;
    if (db_open(s->path, &db, msg, sizeof(msg)) != 0)
        fprintf(stderr, "engage: store: checkpointer: %s\n", msg);
    pthread_mutex_lock(&s->ckpt_lock);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_stopping)
            pthread_cond_wait(&s->ckpt_cond, &s->ckpt_lock);
        if (s->ckpt_stopping)
            break;
        s->ckpt_wanted = false;
        pthread_mutex_unlock(&s->ckpt_lock);
        if (db != NULL &&
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      NULL, NULL) != SQLITE_OK &&
            sqlite3_errcode(db) != SQLITE_BUSY)
            fprintf(stderr, "engage: store: checkpoint: %s\n",
                    sqlite3_errmsg(db));
        pthread_mutex_lock(&s->ckpt_lock);
    }
    pthread_mutex_unlock(&s->ckpt_lock);
    sqlite3_close(db);
    return NULL;
}

/* Called by SQLite after each commit with the WAL's size in frames. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct eg_bstore *s = arg;
    if (frames >= CKPT_INLINE) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
        return SQLITE_OK;
    }
    pthread_mutex_lock(&s->ckpt_lock);
    if (frames < s->ckpt_frames) /* the WAL started over */
        s->ckpt_next = CKPT_STEP;
    s->ckpt_frames = frames;
    if (frames >= s->ckpt_next && !s->ckpt_stopping) {
        s->ckpt_next = frames + CKPT_STEP;
        if (!s->ckpt_started) {
            s->ckpt_started =
                pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) == 0;
            if (s->ckpt_started)
                pthread_setname_np(s->ckpt_thread, "eg-checkpoint");
        }
        s->ckpt_wanted = true;
        pthread_cond_signal(&s->ckpt_cond);
    }
    pthread_mutex_unlock(&s->ckpt_lock);
    return SQLITE_OK;
}

/* Once per process, before SQLite starts: no memory statistics, whose
 * global mutex every allocation of every thread would take. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Opens (creating with mode 0600 when absent) and migrates the database file
 * at target. Returns 0 and the handle in *out, or an EG_E* with a message in
 * err. May block on another process's migration (up to the busy timeout). */
static int sqlite_open(const char *target, struct eg_bstore **out, char *err,
                       size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    sqlite3 *db = NULL;
    struct eg_bstore *s = NULL;
    int rc;
    if (target[0] == '\0') {
        snprintf(err, errlen, "the store URL has no path (sqlite:PATH)");
        return EG_EBADREQUEST;
    }
    int fd = open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open store %s: %s", target,
                 strerror(errno));
        return EG_EUNAVAILABLE;
    }
    close(fd);
    rc = db_open(target, &db, err, errlen);
    if (rc != 0)
        goto out;
    rc = migrate(db, target, err, errlen);
    if (rc != 0)
        goto out;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->path = strdup(target);
    if (s->path == NULL)
        abort();
    pthread_mutex_init(&s->ckpt_lock, NULL);
    pthread_cond_init(&s->ckpt_cond, NULL);
    s->ckpt_next = CKPT_STEP;
    *out = s;
out:
    sqlite3_close(db);
    return rc;
}

static void sqlite_close(struct eg_bstore *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->ckpt_lock);
    bool started = s->ckpt_started;
    s->ckpt_stopping = true;
    pthread_cond_signal(&s->ckpt_cond);
    pthread_mutex_unlock(&s->ckpt_lock);
    if (started)
        pthread_join(s->ckpt_thread, NULL);
    pthread_cond_destroy(&s->ckpt_cond);
    pthread_mutex_destroy(&s->ckpt_lock);
    free(s->path);
    free(s);
}

/* Opens one thread's connection: its own sqlite3 handle. */
static int sqlite_conn_open(struct eg_bstore *s, struct eg_bconn **out)
{
    char msg[512];
    sqlite3 *db;
    int rc = db_open(s->path, &db, msg, sizeof(msg));
    if (rc != 0) {
        fprintf(stderr, "engage: store: %s\n", msg);
        return rc;
    }
    struct eg_bconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->db = db;
    sqlite3_wal_hook(db, wal_hook, s); /* replaces wal_autocheckpoint */
    *out = c;
    return 0;
}

static void sqlite_conn_close(struct eg_bconn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    if (sqlite3_close(c->db) != SQLITE_OK)
        fprintf(stderr, "engage: store: closing: %s\n", sqlite3_errmsg(c->db));
    free(c);
}

static int sqlite_idem_get(struct eg_bconn *c, const char *tenant_id,
                           const char *key, struct eg_idem *out)
{
    sqlite3_stmt *st = NULL;
    int rc = get_stmt(c, ST_IDEM_GET, &st);
    if (rc != 0)
        return rc;
    if (bind_str(st, 1, tenant_id) != SQLITE_OK ||
        bind_str(st, 2, key) != SQLITE_OK)
        return bind_failed(st);
    rc = first_row(c, st);
    if (rc != 0)
        return rc;
    const void *hash = sqlite3_column_blob(st, 0);
    int hlen = sqlite3_column_bytes(st, 0);
    const void *resp = sqlite3_column_blob(st, 2);
    int rlen = sqlite3_column_bytes(st, 2);
    if (hash == NULL || hlen != (int)sizeof(out->body_hash) || resp == NULL ||
        rlen <= 0 || (size_t)rlen > sizeof(out->response) ||
        strlen(key) >= sizeof(out->key)) {
        finish(st);
        return internal("an idempotency record is malformed");
    }
    memcpy(out->body_hash, hash, sizeof(out->body_hash));
    memcpy(out->response, resp, (size_t)rlen);
    out->response_len = (size_t)rlen;
    strcpy(out->key, key);
    rc = COL_TEXT(st, 1, out->credential_id);
    out->created_at = sqlite3_column_int64(st, 3);
    finish(st);
    return rc;
}

/* The database and its -wal and -shm files, where they exist. */
static int sqlite_chown(struct eg_bstore *s, unsigned uid, unsigned gid)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char path[4096];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", s->path, suffix[i]);
        if (chown(path, (uid_t)uid, (gid_t)gid) != 0 && errno != ENOENT)
            return -1;
    }
    /* The directory stays as it is: the server's own connections keep the
     * -wal and -shm files open for its whole life. */
    return 0;
}

/* The SQLite backend, for store URLs "sqlite:PATH" (see struct
 * eg_store_backend for each function's contract). Every call may block:
 * up to the busy timeout (5 s) on another process's write lock, then it
 * returns EG_EUNAVAILABLE; apply() also waits for its commit's fsync. */
const struct eg_store_backend eg_store_sqlite = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .conn_open = sqlite_conn_open,
    .conn_close = sqlite_conn_close,
    .apply = sqlite_apply,
    .auth_generation = sqlite_auth_generation,
    .data_version = sqlite_data_version,
    .audit_head = sqlite_audit_head,
    .key_by_hash = sqlite_key_by_hash,
    .key_scan = sqlite_key_scan,
    .account_get = sqlite_account_get,
    .tenant_get = sqlite_tenant_get,
    .tenant_scan = sqlite_tenant_scan,
    .profile_get = sqlite_profile_get,
    .cred_get = sqlite_cred_get,
    .cred_scan = sqlite_cred_scan,
    .device_scan = sqlite_device_scan,
    .audit_scan = sqlite_audit_scan,
    .idem_get = sqlite_idem_get,
    .ping = sqlite_ping,
    .chown = sqlite_chown,
};
