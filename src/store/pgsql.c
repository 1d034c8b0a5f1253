/*
 * pgsql.c - the PostgreSQL backend of the store interface (store.h).
 *
 * The store is one PostgreSQL database named by a libpq connection URI
 * ("postgres://USER@HOST:PORT/DB?..."); any number of engage processes may
 * share it (C29). open() refuses a database that would acknowledge commits
 * before they are durable (synchronous_commit off, C27) unless told
 * otherwise, then applies the numbered migrations compiled into the binary
 * (eg_pg_migrations[i] is schema version i + 1), each in its own transaction
 * under a transaction-level advisory lock, so nodes starting at once apply
 * each migration exactly once; a database whose schema is newer than the
 * binary is refused.
 *
 * Each thread's connection is its own PGconn with its own prepared
 * statements, prepared on first use and again after a reconnect. Every
 * statement goes out with binary parameters of declared types and comes back
 * in binary, and waits for its answer at most STMT_DEADLINE_MS: a store that
 * stops answering makes a call fail with EG_EUNAVAILABLE, never hang it. A
 * lost connection is dropped and opened again by the next call (at most one
 * attempt every RECONNECT_MS); a statement outside a transaction that meets
 * a connection which died while idle is retried once on a new one. apply()
 * runs a batch in one transaction, each write in a savepoint exactly as
 * sqlite.c does, so a failing write fails alone; a write that meets an
 * unavailable store (lock timeout, deadlock, lost connection) fails the whole
 * batch. Reads are single statements outside any transaction; a scan of more
 * than PAGE_MAX rows is several such statements, each resuming from the
 * keyset position of the last row, so none holds a snapshot or a large result
 * for long. Ids and names are COLLATE "C" in the schema, so order is byte
 * order as with SQLite's BINARY, and times are BIGINT milliseconds.
 */
#include "store/store.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/time.h"

extern const char *const eg_pg_migrations[];
extern const size_t eg_pg_migrations_count;

#define PAGE_MAX 256            /* rows a scan statement asks for at most */
#define STMT_DEADLINE_MS 15000  /* the longest wait for one statement */
#define RECONNECT_MS 250        /* between reconnection attempts */
#define LOG_EVERY_MS 5000       /* between two "store unreachable" lines */
#define MIGRATION_LOCK "111524855244645" /* "engage" */
#define ASYNC_PARAM "engage_allow_async_commit"

/* Type OIDs of the parameters (pg_type.h, stable across releases). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

struct eg_bstore {
    char *conninfo;       /* the URI for libpq, engage's own parameter removed */
    char *shown;          /* the URI without its password, for messages */
    _Atomic int64_t logged_at; /* when "unreachable" was last logged (ms) */
    atomic_bool down;          /* "unreachable" logged, "reachable" not yet */
    _Atomic int64_t up_at;     /* when a connection last (re)connected (ms) */
};

/* The statements of a connection, by index into stmts[]. */
enum {
    ST_PING,
    ST_GEN_GET,
    ST_GEN_BUMP,
    ST_TENANT_INSERT,
    ST_TENANT_GET,
    ST_TENANT_SCAN,
    ST_TENANT_SCAN_AFTER,
    ST_KEY_INSERT,
    ST_KEY_REVOKE,
    ST_KEY_BY_ID,
    ST_KEY_BY_HASH,
    ST_KEY_SCAN,
    ST_KEY_SCAN_AFTER,
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
    ST_CRED_INSERT_BATCH,
    ST_CRED_SCAN, /* 12 statements: see CRED_SCAN_ID */
    ST_COUNT = ST_CRED_SCAN + 12
};

/* The cred_scan statement for a status, with or without a user filter and a
 * keyset position, as in sqlite.c: each walks an index in order. */
#define CRED_SCAN_ID(status, user, after)                                      \
    (ST_CRED_SCAN + 4 * (status) + 2 * (user) + (after))

struct eg_bconn {
    struct eg_bstore *s;
    PGconn *pg;         /* NULL while disconnected */
    bool in_tx;         /* inside apply()'s transaction */
    bool timed_out;     /* the last statement got no answer in time */
    int64_t next_try;   /* no reconnection attempt before (monotonic ms) */
    int64_t failed_at;  /* when the last attempt failed (monotonic ms) */
    bool prepared[ST_COUNT];
};

/* A statement: its SQL and the types of $1..$n, one letter each: t text,
 * i int8, b bytea. A statement need not use every parameter it declares. */
struct stmt {
    const char *sql;
    const char *types;
};

#define CRED_COLS                                                              \
    "tenant_id, credential_id, user_id, user_email, user_name, "               \
    "access_profile, valid_from, valid_to, created_at, revoked_at"
#define KEY_COLS "tenant_id, key_id, key_hash, created_at, revoked_at"
#define DEVICE_COLS                                                            \
    "tenant_id, device_id, name, model, firmware_version, site_id"
#define AUDIT_COLS                                                             \
    "seq, time, tenant_id, action, credential_id, key_id, username, "          \
    "request_id"

/* cred_scan parameters: $1 tenant, $2 now, $3 user, $4 cursor time,
 * $5 cursor id, $6 limit. */
#define CRED_SCAN_SQL(status, user, after)                                     \
    "SELECT " CRED_COLS " FROM credentials WHERE tenant_id = $1" status user  \
        after " ORDER BY created_at, credential_id LIMIT $6"
#define S_ACTIVE " AND revoked_at IS NULL AND (valid_to IS NULL OR valid_to > $2)"
#define S_EXPIRED " AND revoked_at IS NULL AND valid_to <= $2"
#define S_REVOKED " AND revoked_at IS NOT NULL"
#define U_ANY ""
#define U_ONE " AND user_id = $3"
#define A_START ""
#define A_AFTER                                                                \
    " AND created_at >= $4 AND (created_at > $4 OR credential_id > $5)"
#define CRED_SCAN_TYPES "tititi"

static const struct stmt stmts[ST_COUNT] = {
    [ST_PING] = {"SELECT 1", ""},
    [ST_GEN_GET] = {"SELECT gen FROM auth_generation WHERE id = 1", ""},
    [ST_GEN_BUMP] = {"UPDATE auth_generation SET gen = gen + 1 WHERE id = 1",
                     ""},
    [ST_TENANT_INSERT] = {"INSERT INTO tenants (tenant_id, name, created_at) "
                          "VALUES ($1, $2, $3)",
                          "tti"},
    [ST_TENANT_GET] = {"SELECT tenant_id, name, created_at FROM tenants "
                       "WHERE tenant_id = $1",
                       "t"},
    [ST_TENANT_SCAN] = {"SELECT tenant_id, name, created_at FROM tenants "
                        "ORDER BY tenant_id LIMIT $1",
                        "i"},
    [ST_TENANT_SCAN_AFTER] = {"SELECT tenant_id, name, created_at FROM "
                              "tenants WHERE tenant_id > $2 "
                              "ORDER BY tenant_id LIMIT $1",
                              "it"},
    [ST_KEY_INSERT] = {"INSERT INTO api_keys (" KEY_COLS
                       ") VALUES ($1, $2, $3, $4, $5)",
                       "ttbii"},
    [ST_KEY_REVOKE] = {"UPDATE api_keys SET revoked_at = $2 "
                       "WHERE key_id = $1 AND revoked_at IS NULL",
                       "ti"},
    [ST_KEY_BY_ID] = {"SELECT " KEY_COLS " FROM api_keys WHERE key_id = $1",
                      "t"},
    [ST_KEY_BY_HASH] = {"SELECT " KEY_COLS
                        " FROM api_keys WHERE key_hash = $1",
                        "b"},
    [ST_KEY_SCAN] = {"SELECT " KEY_COLS " FROM api_keys WHERE tenant_id = $1 "
                     "ORDER BY created_at, key_id LIMIT $2",
                     "ti"},
    [ST_KEY_SCAN_AFTER] = {"SELECT " KEY_COLS
                           " FROM api_keys WHERE tenant_id = $1 "
                           "AND created_at >= $3 "
                           "AND (created_at > $3 OR key_id > $4) "
                           "ORDER BY created_at, key_id LIMIT $2",
                           "tiit"},
    [ST_ACCOUNT_INSERT] = {"INSERT INTO accounts "
                           "(tenant_id, username, pwhash, created_at) "
                           "VALUES ($1, $2, $3, $4)",
                           "ttti"},
    [ST_ACCOUNT_DELETE] = {"DELETE FROM accounts "
                           "WHERE tenant_id = $1 AND username = $2",
                           "tt"},
    [ST_ACCOUNT_GET] = {"SELECT tenant_id, username, pwhash, created_at "
                        "FROM accounts WHERE tenant_id = $1 AND username = $2",
                        "tt"},
    [ST_PROFILE_INSERT] = {"INSERT INTO access_profiles "
                           "(tenant_id, profile_id, name) VALUES ($1, $2, $3)",
                           "ttt"},
    [ST_PROFILE_GET] = {"SELECT tenant_id, profile_id, name "
                        "FROM access_profiles "
                        "WHERE tenant_id = $1 AND profile_id = $2",
                        "tt"},
    [ST_DEVICE_INSERT] = {"INSERT INTO devices (" DEVICE_COLS
                          ") VALUES ($1, $2, $3, $4, $5, $6)",
                          "tttttt"},
    [ST_DEVICE_DELETE] = {"DELETE FROM devices "
                          "WHERE tenant_id = $1 AND device_id = $2",
                          "tt"},
    [ST_DEVICE_SCAN] = {"SELECT " DEVICE_COLS " FROM devices "
                        "WHERE tenant_id = $1 "
                        "ORDER BY name, device_id LIMIT $4",
                        "ttti"},
    [ST_DEVICE_SCAN_AFTER] = {"SELECT " DEVICE_COLS
                              " FROM devices WHERE tenant_id = $1 "
                              "AND name >= $2 AND (name > $2 OR device_id > $3) "
                              "ORDER BY name, device_id LIMIT $4",
                              "ttti"},
    [ST_CRED_INSERT] = {"INSERT INTO credentials (" CRED_COLS ") VALUES "
                        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        "ttttttiiii"},
    [ST_CRED_REVOKE] = {"UPDATE credentials SET revoked_at = $3 "
                        "WHERE tenant_id = $1 AND credential_id = $2 "
                        "AND revoked_at IS NULL",
                        "tti"},
    [ST_CRED_GET] = {"SELECT " CRED_COLS " FROM credentials "
                     "WHERE tenant_id = $1 AND credential_id = $2",
                     "tt"},
    /* A batch of plain creates as one statement, so one round trip and one
     * implicit transaction: $1 is a JSON array of rows, each a credential,
     * its actor and its place in the batch (audit rows keep that order). */
    [ST_CRED_INSERT_BATCH] =
        {"WITH r AS (SELECT * FROM json_to_recordset($1::json) AS x("
         "ord int, tenant_id text, credential_id text, user_id text, "
         "user_email text, user_name text, access_profile text, "
         "valid_from bigint, valid_to bigint, created_at bigint, "
         "revoked_at bigint, key_id text, username text, request_id text)), "
         "c AS (INSERT INTO credentials (" CRED_COLS ") SELECT " CRED_COLS
         " FROM r) "
         "INSERT INTO audit (tenant_id, time, action, credential_id, key_id, "
         "username, request_id) SELECT tenant_id, created_at, "
         "'credential.create', credential_id, key_id, username, request_id "
         "FROM r ORDER BY ord",
         "t"},
    [ST_AUDIT_INSERT] = {"INSERT INTO audit (tenant_id, time, action, "
                         "credential_id, key_id, username, request_id) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                         "tittttt"},
    [ST_AUDIT_SCAN] = {"SELECT " AUDIT_COLS " FROM audit "
                       "WHERE tenant_id = $1 AND seq > $2 AND time >= $3 "
                       "ORDER BY seq LIMIT $5",
                       "tiiti"},
    [ST_AUDIT_SCAN_CRED] = {"SELECT " AUDIT_COLS " FROM audit "
                            "WHERE tenant_id = $1 AND credential_id = $4 "
                            "AND seq > $2 AND time >= $3 "
                            "ORDER BY seq LIMIT $5",
                            "tiiti"},
    [ST_KEY_ROTATE] = {"UPDATE api_keys SET key_hash = $2 "
                       "WHERE key_id = $1 AND revoked_at IS NULL",
                       "tb"},
    [ST_ACCOUNT_PASSWD] = {"UPDATE accounts SET pwhash = $3 "
                           "WHERE tenant_id = $1 AND username = $2",
                           "ttt"},
    [ST_IDEM_PUT] = {"INSERT INTO idempotency (tenant_id, idem_key, "
                     "body_hash, credential_id, response, created_at) "
                     "VALUES ($1, $2, $3, $4, $5, $6) "
                     "ON CONFLICT (tenant_id, idem_key) DO UPDATE SET "
                     "body_hash = excluded.body_hash, "
                     "credential_id = excluded.credential_id, "
                     "response = excluded.response, "
                     "created_at = excluded.created_at "
                     "WHERE idempotency.created_at < $7",
                     "ttbtbii"},
    [ST_IDEM_GET] = {"SELECT body_hash, credential_id, response, created_at "
                     "FROM idempotency WHERE tenant_id = $1 AND idem_key = $2",
                     "tt"},
#define CRED_SCAN_ROW(status, S)                                               \
    [CRED_SCAN_ID(status, 0, 0)] = {CRED_SCAN_SQL(S, U_ANY, A_START),          \
                                    CRED_SCAN_TYPES},                          \
    [CRED_SCAN_ID(status, 0, 1)] = {CRED_SCAN_SQL(S, U_ANY, A_AFTER),          \
                                    CRED_SCAN_TYPES},                          \
    [CRED_SCAN_ID(status, 1, 0)] = {CRED_SCAN_SQL(S, U_ONE, A_START),          \
                                    CRED_SCAN_TYPES},                          \
    [CRED_SCAN_ID(status, 1, 1)] = {CRED_SCAN_SQL(S, U_ONE, A_AFTER),          \
                                    CRED_SCAN_TYPES}
    CRED_SCAN_ROW(EG_STATUS_ACTIVE, S_ACTIVE),
    CRED_SCAN_ROW(EG_STATUS_EXPIRED, S_EXPIRED),
    CRED_SCAN_ROW(EG_STATUS_REVOKED, S_REVOKED),
#undef CRED_SCAN_ROW
};

/* ---- time and messages ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int internal(const char *what)
{
    fprintf(stderr, "engage: store: %s\n", what);
    return EG_EINTERNAL;
}

/* libpq's message without its trailing newlines, in buf. */
static const char *one_line(const char *msg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", msg != NULL && msg[0] != '\0' ? msg : "no message");
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            buf[i] = ' ';
    }
    return buf;
}

/* Logs that the store cannot be reached, at most once every LOG_EVERY_MS
 * over all the connections of the store. */
static void log_down(struct eg_bconn *c, const char *msg)
{
    int64_t now = mono_ms();
    int64_t last = atomic_load(&c->s->logged_at);
    atomic_store(&c->s->down, true);
    if (last != 0 && now - last < LOG_EVERY_MS)
        return;
    if (!atomic_compare_exchange_strong(&c->s->logged_at, &last, now))
        return;
    char line[512];
    fprintf(stderr, "engage: store: PostgreSQL %s unreachable: %s\n",
            c->s->shown, one_line(msg, line, sizeof(line)));
}

/* ---- connections ---- */

/* Drops the connection; the next call opens a new one. */
static void drop(struct eg_bconn *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
    memset(c->prepared, 0, sizeof(c->prepared));
}

/* Passes PostgreSQL's warnings on to the log; drops its notices (such as
 * "relation already exists, skipping"). */
static void notice_rx(void *arg, const PGresult *r)
{
    (void)arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev == NULL || strcmp(sev, "WARNING") != 0)
        return;
    char line[512];
    fprintf(stderr, "engage: store: PostgreSQL: %s\n",
            one_line(PQresultErrorMessage(r), line, sizeof(line)));
}

/* Opens a connection to conninfo: the URI's own settings override the
 * defaults (connect_timeout, keepalives) but not the client encoding.
 * *pg is set even on failure (for its message); the caller PQfinishes it. */
static bool connect_db(const char *conninfo, PGconn **pg)
{
    static const char *const keys[] = {
        "connect_timeout", "keepalives",       "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "application_name", "dbname",          "client_encoding",
        NULL};
    const char *vals[] = {"2",      "1",      "5",  "2",    "2",
                          "5000",   "engage", conninfo, "UTF8", NULL};
    *pg = PQconnectdbParams(keys, vals, 1);
    if (*pg == NULL)
        abort(); /* out of memory */
    PQsetNoticeReceiver(*pg, notice_rx, NULL);
    return PQstatus(*pg) == CONNECTION_OK;
}

static int await(struct eg_bconn *c, PGresult **out);

/* Connects c when it is not connected (or its connection was lost), at most
 * once every RECONNECT_MS unless `now` is true. Inside a transaction a lost
 * connection stays lost: the transaction is gone with it. */
static int conn_ready(struct eg_bconn *c, bool now)
{
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    if (c->in_tx)
        return EG_EUNAVAILABLE;
    /* Wait between attempts, unless another connection of the store has
     * come back since this one failed: the server is up again. */
    if (!now && mono_ms() < c->next_try &&
        atomic_load(&c->s->up_at) <= c->failed_at)
        return EG_EUNAVAILABLE;
    drop(c);
    PGconn *pg = NULL;
    if (!connect_db(c->s->conninfo, &pg)) {
        log_down(c, PQerrorMessage(pg));
        PQfinish(pg);
        c->failed_at = mono_ms();
        c->next_try = c->failed_at + RECONNECT_MS;
        return EG_EUNAVAILABLE;
    }
    c->pg = pg;
    /* Session settings: a row lock held longer than 5 s (SQLite's busy
     * timeout) makes a write EG_EUNAVAILABLE, and a statement the server runs too long is
     * cancelled before the client's own deadline drops the connection. */
    PGresult *r = NULL;
    int rc = 0;
    if (!PQsendQuery(pg, "SET lock_timeout = 5000; "
                         "SET statement_timeout = 10000"))
        rc = EG_EUNAVAILABLE;
    if (rc == 0)
        rc = await(c, &r);
    if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = EG_EUNAVAILABLE;
    if (rc != 0) {
        log_down(c, r != NULL ? PQresultErrorMessage(r)
                              : c->pg != NULL ? PQerrorMessage(c->pg) : NULL);
        drop(c);
        c->failed_at = mono_ms();
        c->next_try = c->failed_at + RECONNECT_MS;
    } else {
        atomic_store(&c->s->up_at, mono_ms());
        if (atomic_exchange(&c->s->down, false))
            fprintf(stderr, "engage: store: PostgreSQL %s reachable again\n",
                    c->s->shown);
    }
    PQclear(r);
    return rc;
}

static bool failed(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
           st == PGRES_NONFATAL_ERROR;
}

/* Waits for every result of the command just sent, at most
 * STMT_DEADLINE_MS, and keeps the first failed one, else the last, in *out
 * (NULL when there was none). Returns 0, or EG_EUNAVAILABLE when the store
 * did not answer in time or the connection failed; the connection is then
 * dropped. */
static int await(struct eg_bconn *c, PGresult **out)
{
    PGresult *keep = NULL;
    int64_t deadline = mono_ms() + STMT_DEADLINE_MS;
    int rc = 0;
    *out = NULL;
    for (;;) {
        while (PQisBusy(c->pg)) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                log_down(c, "no answer within the deadline");
                c->timed_out = true;
                rc = EG_EUNAVAILABLE;
                goto out;
            }
            if (PQsocket(c->pg) < 0)
                break; /* no socket: PQgetResult reports the failure */
            struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
            int n = poll(&p, 1, (int)left);
            if (n < 0 && errno != EINTR) {
                log_down(c, strerror(errno));
                rc = EG_EUNAVAILABLE;
                goto out;
            }
            if (n > 0 && !PQconsumeInput(c->pg))
                break; /* PQgetResult reports the failure */
        }
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL)
            break;
        if (keep == NULL || !failed(keep)) {
            PQclear(keep);
            keep = r;
        } else {
            PQclear(r);
        }
        if (PQstatus(c->pg) == CONNECTION_BAD)
            break;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        log_down(c, keep != NULL ? PQresultErrorMessage(keep)
                                 : PQerrorMessage(c->pg));
        rc = EG_EUNAVAILABLE;
    }
out:
    if (rc != 0) {
        PQclear(keep);
        keep = NULL;
        drop(c);
    }
    *out = keep;
    return rc;
}

/* The EG_E* for a failed statement: unique key ECONFLICT, foreign key
 * ENOTFOUND, anything transient (lost connection, shutdown, lock timeout,
 * deadlock, too many connections, a read-only standby) EUNAVAILABLE, the rest
 * EINTERNAL, logged. */
static int map_err(const PGresult *r)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                  : NULL;
    char line[512];
    if (state == NULL)
        state = "";
    if (strcmp(state, "23505") == 0)
        return EG_ECONFLICT;
    if (strcmp(state, "23503") == 0)
        return EG_ENOTFOUND;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57P", 3) == 0 || strcmp(state, "40001") == 0 ||
        strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0 || strcmp(state, "25006") == 0) {
        fprintf(stderr, "engage: store: unavailable: %s\n",
                one_line(r != NULL ? PQresultErrorMessage(r) : NULL, line,
                         sizeof(line)));
        return EG_EUNAVAILABLE;
    }
    fprintf(stderr, "engage: store: %s (SQLSTATE %s)\n",
            one_line(r != NULL ? PQresultErrorMessage(r) : NULL, line,
                     sizeof(line)),
            state[0] != '\0' ? state : "none");
    return EG_EINTERNAL;
}

/* ---- parameters ---- */

#define P_MAX 10

/* The parameters of one statement, all sent in binary. */
struct params {
    int n;
    bool bad;
    const char *v[P_MAX];
    int len[P_MAX];
    int fmt[P_MAX];
    char num[P_MAX][8];
};

static void p_add(struct params *p, const char *v, size_t len)
{
    if (p->n >= P_MAX || len > INT32_MAX) {
        p->bad = true;
        return;
    }
    p->v[p->n] = v;
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

static void p_null(struct params *p)
{
    p_add(p, NULL, 0);
}

/* A NUL-terminated text held in a field of cap bytes (0: no limit); marks
 * the parameters bad (instead of reading past the field) without a NUL. */
static void p_text(struct params *p, const char *s, size_t cap)
{
    if (s == NULL) {
        p_null(p);
        return;
    }
    size_t n = cap != 0 ? strnlen(s, cap) : strlen(s);
    if (cap != 0 && n == cap) {
        p->bad = true;
        n = 0;
    }
    p_add(p, s, n);
}

#define P_FIELD(p, f) p_text((p), (f), sizeof(f))

/* A field as NULL when it is "" (an absent optional text). */
static void p_opt(struct params *p, const char *s, size_t cap)
{
    if (s[0] == '\0')
        p_null(p);
    else
        p_text(p, s, cap);
}

#define P_OPT(p, f) p_opt((p), (f), sizeof(f))

static void p_int(struct params *p, int64_t v)
{
    if (p->n >= P_MAX) {
        p->bad = true;
        return;
    }
    uint64_t u = (uint64_t)v;
    char *b = p->num[p->n];
    for (int i = 7; i >= 0; i--) {
        b[i] = (char)(u & 0xff);
        u >>= 8;
    }
    p_add(p, b, 8);
}

/* A time, NULL when it is EG_TIME_NONE. */
static void p_time(struct params *p, int64_t t)
{
    if (t == EG_TIME_NONE)
        p_null(p);
    else
        p_int(p, t);
}

static void p_limit(struct params *p, size_t limit)
{
    p_int(p, limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit);
}

static void p_bytes(struct params *p, const void *b, size_t n)
{
    p_add(p, b, n);
}

/* ---- running statements ---- */

/* Whether a failed result ends the session: a FATAL or PANIC error, or a
 * connection exception. */
static bool session_over(const PGresult *r)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return (sev != NULL &&
            (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) ||
           (state != NULL && strncmp(state, "08", 2) == 0);
}

/* The EG_E* for the failed result r of a statement on c. A result that
 * ends the session (a shutdown, an administrator) drops the connection:
 * libpq may not have seen its end yet. */
static int result_err(struct eg_bconn *c, const PGresult *r)
{
    if (session_over(r)) {
        log_down(c, PQresultErrorMessage(r));
        drop(c);
        return EG_EUNAVAILABLE;
    }
    return map_err(r);
}

/* Prepares statement id on c's connection unless it is already. */
static int prepare(struct eg_bconn *c, int id)
{
    if (c->prepared[id])
        return 0;
    Oid types[P_MAX];
    size_t n = strlen(stmts[id].types);
    if (n > P_MAX)
        return internal("a statement declares too many parameters");
    for (size_t i = 0; i < n; i++) {
        char t = stmts[id].types[i];
        types[i] = t == 'i' ? OID_INT8 : t == 'b' ? OID_BYTEA : OID_TEXT;
    }
    char name[16];
    snprintf(name, sizeof(name), "eg%d", id);
    PGresult *r = NULL;
    if (!PQsendPrepare(c->pg, name, stmts[id].sql, (int)n, types)) {
        log_down(c, PQerrorMessage(c->pg));
        drop(c);
        return EG_EUNAVAILABLE;
    }
    int rc = await(c, &r);
    if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = result_err(c, r);
    if (rc == 0)
        c->prepared[id] = true;
    PQclear(r);
    return rc;
}

/* Sends statement id (or, with id < 0, the parameterless `sql`) and waits
 * for its result. */
static int send_once(struct eg_bconn *c, int id, const char *sql,
                     const struct params *p, PGresult **out)
{
    int ok;
    *out = NULL;
    c->timed_out = false;
    if (id >= 0) {
        int rc = prepare(c, id);
        if (rc != 0)
            return rc;
        char name[16];
        snprintf(name, sizeof(name), "eg%d", id);
        ok = PQsendQueryPrepared(c->pg, name, p->n, p->v, p->len, p->fmt, 1);
    } else {
        ok = PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 1);
    }
    if (!ok) {
        log_down(c, PQerrorMessage(c->pg));
        drop(c);
        return EG_EUNAVAILABLE;
    }
    int rc = await(c, out);
    if (rc != 0)
        return rc;
    ExecStatusType st = PQresultStatus(*out);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    rc = result_err(c, *out);
    PQclear(*out);
    *out = NULL;
    return rc;
}

/* Runs statement id (or the text sql when id < 0) with parameters p; *out
 * gets the result, which the caller PQclears. Outside a transaction, a
 * statement that finds its idle connection dead is tried once more on a new
 * one: nothing of it has taken effect. (One that got no answer in time is
 * not: the store is not answering.) */
static int exec_st(struct eg_bconn *c, int id, const char *sql,
                   const struct params *p, PGresult **out)
{
    static const struct params none = {0};
    *out = NULL;
    if (p == NULL)
        p = &none;
    if (p->bad)
        return internal("cannot bind a statement parameter (text too long?)");
    bool had = c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
    int rc = conn_ready(c, false);
    if (rc != 0)
        return rc;
    bool tx = c->in_tx;
    rc = send_once(c, id, sql, p, out);
    if (rc == EG_EUNAVAILABLE && had && !tx && c->pg == NULL &&
        !c->timed_out) {
        rc = conn_ready(c, true);
        if (rc == 0)
            rc = send_once(c, id, sql, p, out);
    }
    return rc;
}

/* Runs a statement that returns no rows; *changes (when not NULL) gets the
 * rows it changed. */
static int run(struct eg_bconn *c, int id, const struct params *p,
               int64_t *changes)
{
    PGresult *r = NULL;
    int rc = exec_st(c, id, NULL, p, &r);
    if (rc == 0 && changes != NULL)
        *changes = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

/* Runs a transaction-control statement. */
static int run_sql(struct eg_bconn *c, const char *sql)
{
    PGresult *r = NULL;
    int rc = exec_st(c, -1, sql, NULL, &r);
    PQclear(r);
    return rc;
}

/* ---- columns ---- */

/* Copies text column i of row `row` into dst (cap bytes). A NULL column gives
 * "" and *present false (present may be NULL only for a NOT NULL column). */
static int col_text(const PGresult *r, int row, int i, char *dst, size_t cap,
                    bool *present)
{
    if (PQgetisnull(r, row, i)) {
        dst[0] = '\0';
        if (present == NULL)
            return internal("a required column is NULL");
        *present = false;
        return 0;
    }
    const char *s = PQgetvalue(r, row, i);
    int n = PQgetlength(r, row, i);
    if (n < 0 || (size_t)n >= cap || memchr(s, '\0', (size_t)n) != NULL) {
        fprintf(stderr,
                "engage: store: stored %s is longer than %zu bytes\n",
                PQfname(r, i), cap - 1);
        return EG_EINTERNAL;
    }
    memcpy(dst, s, (size_t)n);
    dst[n] = '\0';
    if (present != NULL)
        *present = true;
    return 0;
}

#define COL_TEXT(r, row, i, f) col_text((r), (row), (i), (f), sizeof(f), NULL)

/* An optional text column: NULL reads as "". */
static int col_opt(const PGresult *r, int row, int i, char *dst, size_t cap)
{
    bool present;
    return col_text(r, row, i, dst, cap, &present);
}

#define COL_OPT(r, row, i, f) col_opt((r), (row), (i), (f), sizeof(f))

/* An int8 column; EG_TIME_NONE when NULL (or not an int8). */
static int64_t col_int(const PGresult *r, int row, int i)
{
    if (PQgetisnull(r, row, i) || PQgetlength(r, row, i) != 8)
        return EG_TIME_NONE;
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, i);
    uint64_t u = 0;
    for (int k = 0; k < 8; k++)
        u = (u << 8) | b[k];
    return (int64_t)u;
}

/* ---- rows ---- */

static int read_cred(const PGresult *r, int row, struct eg_credential *c)
{
    int rc = COL_TEXT(r, row, 0, c->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 1, c->credential_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 2, c->user_id);
    if (rc == 0)
        rc = col_text(r, row, 3, c->user_email, sizeof(c->user_email),
                      &c->has_user_email);
    if (rc == 0)
        rc = col_text(r, row, 4, c->user_name, sizeof(c->user_name),
                      &c->has_user_name);
    if (rc == 0)
        rc = COL_TEXT(r, row, 5, c->access_profile);
    c->valid_from = col_int(r, row, 6);
    c->valid_to = col_int(r, row, 7);
    c->created_at = col_int(r, row, 8);
    c->revoked_at = col_int(r, row, 9);
    return rc;
}

static int read_key(const PGresult *r, int row, struct eg_key *k)
{
    int rc = COL_TEXT(r, row, 0, k->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 1, k->key_id);
    if (rc != 0)
        return rc;
    if (PQgetisnull(r, row, 2) || PQgetlength(r, row, 2) != EG_KEY_HASH_LEN)
        return internal("a stored key hash has the wrong length");
    memcpy(k->hash, PQgetvalue(r, row, 2), EG_KEY_HASH_LEN);
    k->created_at = col_int(r, row, 3);
    k->revoked_at = col_int(r, row, 4);
    return 0;
}

static int read_device(const PGresult *r, int row, struct eg_device *d)
{
    int rc = COL_TEXT(r, row, 0, d->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 1, d->device_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 2, d->name);
    if (rc == 0)
        rc = COL_TEXT(r, row, 3, d->model);
    if (rc == 0)
        rc = COL_OPT(r, row, 4, d->firmware_version);
    if (rc == 0)
        rc = COL_OPT(r, row, 5, d->site_id);
    return rc;
}

static int read_tenant(const PGresult *r, int row, struct eg_tenant *t)
{
    int rc = COL_TEXT(r, row, 0, t->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 1, t->name);
    t->created_at = col_int(r, row, 2);
    return rc;
}

static int read_audit(const PGresult *r, int row, struct eg_audit *a)
{
    a->seq = col_int(r, row, 0);
    a->time = col_int(r, row, 1);
    int rc = COL_TEXT(r, row, 2, a->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 3, a->action);
    if (rc == 0)
        rc = COL_TEXT(r, row, 4, a->credential_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 5, a->actor.key_id);
    if (rc == 0)
        rc = COL_TEXT(r, row, 6, a->actor.username);
    if (rc == 0)
        rc = COL_TEXT(r, row, 7, a->actor.request_id);
    return rc;
}

/* Runs a statement expected to return at most one row: 0 with the row in
 * *out (the caller PQclears it), or ENOTFOUND, or an error. */
static int one_row(struct eg_bconn *c, int id, const struct params *p,
                   PGresult **out)
{
    int rc = exec_st(c, id, NULL, p, out);
    if (rc != 0)
        return rc;
    if (PQntuples(*out) < 1) {
        PQclear(*out);
        *out = NULL;
        return EG_ENOTFOUND;
    }
    return 0;
}

/* ---- writes ---- */

static int bump_generation(struct eg_bconn *c)
{
    return run(c, ST_GEN_BUMP, NULL, NULL);
}

static int audit_append(struct eg_bconn *c, const struct eg_credential *cr,
                        const struct eg_actor *a, const char *action,
                        int64_t time)
{
    struct params p = {0};
    P_FIELD(&p, cr->tenant_id);
    p_int(&p, time);
    p_text(&p, action, 0);
    P_FIELD(&p, cr->credential_id);
    P_FIELD(&p, a->key_id);
    P_FIELD(&p, a->username);
    P_FIELD(&p, a->request_id);
    return run(c, ST_AUDIT_INSERT, &p, NULL);
}

static int w_tenant_create(struct eg_bconn *c, const struct eg_tenant *t)
{
    struct params p = {0};
    P_FIELD(&p, t->tenant_id);
    P_FIELD(&p, t->name);
    p_int(&p, t->created_at);
    return run(c, ST_TENANT_INSERT, &p, NULL);
}

static int w_key_create(struct eg_bconn *c, const struct eg_key *k)
{
    struct params p = {0};
    P_FIELD(&p, k->tenant_id);
    P_FIELD(&p, k->key_id);
    p_bytes(&p, k->hash, EG_KEY_HASH_LEN);
    p_int(&p, k->created_at);
    p_time(&p, k->revoked_at);
    int rc = run(c, ST_KEY_INSERT, &p, NULL);
    if (rc != 0)
        return rc;
    return bump_generation(c);
}

/* Fills k with the key whose key_id is k->key_id. */
static int key_reload(struct eg_bconn *c, struct eg_key *k)
{
    struct params p = {0};
    P_FIELD(&p, k->key_id);
    PGresult *r = NULL;
    int rc = one_row(c, ST_KEY_BY_ID, &p, &r);
    if (rc != 0)
        return rc;
    struct eg_key got;
    rc = read_key(r, 0, &got);
    PQclear(r);
    if (rc == 0)
        *k = got;
    return rc;
}

/* Revokes by key_id alone, keeping the first revoked_at, then fills k with
 * the key as it stands (its tenant_id above all). */
static int w_key_revoke(struct eg_bconn *c, struct eg_key *k)
{
    struct params p = {0};
    P_FIELD(&p, k->key_id);
    p_int(&p, k->revoked_at);
    int rc = run(c, ST_KEY_REVOKE, &p, NULL);
    if (rc == 0)
        rc = key_reload(c, k);
    if (rc != 0)
        return rc;
    return bump_generation(c);
}

static int w_account_create(struct eg_bconn *c, const struct eg_account *a)
{
    struct params p = {0};
    P_FIELD(&p, a->tenant_id);
    P_FIELD(&p, a->username);
    P_FIELD(&p, a->pwhash);
    p_int(&p, a->created_at);
    int rc = run(c, ST_ACCOUNT_INSERT, &p, NULL);
    if (rc != 0)
        return rc;
    return bump_generation(c);
}

static int w_account_remove(struct eg_bconn *c, const struct eg_account *a)
{
    struct params p = {0};
    P_FIELD(&p, a->tenant_id);
    P_FIELD(&p, a->username);
    int64_t changes = 0;
    int rc = run(c, ST_ACCOUNT_DELETE, &p, &changes);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return EG_ENOTFOUND;
    return bump_generation(c);
}

static int w_profile_create(struct eg_bconn *c, const struct eg_profile *pr)
{
    struct params p = {0};
    P_FIELD(&p, pr->tenant_id);
    P_FIELD(&p, pr->profile_id);
    P_OPT(&p, pr->name);
    return run(c, ST_PROFILE_INSERT, &p, NULL);
}

static int w_device_add(struct eg_bconn *c, const struct eg_device *d)
{
    struct params p = {0};
    P_FIELD(&p, d->tenant_id);
    P_FIELD(&p, d->device_id);
    P_FIELD(&p, d->name);
    P_FIELD(&p, d->model);
    P_OPT(&p, d->firmware_version);
    P_OPT(&p, d->site_id);
    return run(c, ST_DEVICE_INSERT, &p, NULL);
}

static int w_device_remove(struct eg_bconn *c, const struct eg_device *d)
{
    struct params p = {0};
    P_FIELD(&p, d->tenant_id);
    P_FIELD(&p, d->device_id);
    int64_t changes = 0;
    int rc = run(c, ST_DEVICE_DELETE, &p, &changes);
    if (rc != 0)
        return rc;
    return changes == 0 ? EG_ENOTFOUND : 0;
}

static int w_cred_create(struct eg_bconn *c, const struct eg_credential *cr,
                         const struct eg_actor *a)
{
    struct params p = {0};
    P_FIELD(&p, cr->tenant_id);
    P_FIELD(&p, cr->credential_id);
    P_FIELD(&p, cr->user_id);
    if (cr->has_user_email)
        P_FIELD(&p, cr->user_email);
    else
        p_null(&p);
    if (cr->has_user_name)
        P_FIELD(&p, cr->user_name);
    else
        p_null(&p);
    P_FIELD(&p, cr->access_profile);
    p_int(&p, cr->valid_from);
    p_time(&p, cr->valid_to);
    p_int(&p, cr->created_at);
    p_time(&p, cr->revoked_at);
    int rc = run(c, ST_CRED_INSERT, &p, NULL);
    if (rc != 0)
        return rc;
    return audit_append(c, cr, a, "credential.create", cr->created_at);
}

static int pg_cred_get(struct eg_bconn *c, const char *tenant_id,
                       const char *credential_id, struct eg_credential *out);

/* Sets revoked_at unless already set (auditing only a real change), then
 * fills cr with the credential as it stands. */
static int w_cred_revoke(struct eg_bconn *c, struct eg_credential *cr,
                         const struct eg_actor *a)
{
    struct params p = {0};
    P_FIELD(&p, cr->tenant_id);
    P_FIELD(&p, cr->credential_id);
    p_int(&p, cr->revoked_at);
    int64_t changes = 0;
    int rc = run(c, ST_CRED_REVOKE, &p, &changes);
    if (rc != 0)
        return rc;
    if (changes > 0) {
        rc = audit_append(c, cr, a, "credential.revoke", cr->revoked_at);
        if (rc != 0)
            return rc;
    }
    struct eg_credential got;
    rc = pg_cred_get(c, cr->tenant_id, cr->credential_id, &got);
    if (rc != 0)
        return rc;
    *cr = got;
    return 0;
}

/* A new secret for an active key; fills k with the key as it stands. */
static int w_key_rotate(struct eg_bconn *c, struct eg_key *k)
{
    struct params p = {0};
    P_FIELD(&p, k->key_id);
    p_bytes(&p, k->hash, EG_KEY_HASH_LEN);
    int64_t changes = 0;
    int rc = run(c, ST_KEY_ROTATE, &p, &changes);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return EG_ENOTFOUND;
    rc = key_reload(c, k);
    if (rc != 0)
        return rc;
    return bump_generation(c);
}

static int w_account_passwd(struct eg_bconn *c, const struct eg_account *a)
{
    struct params p = {0};
    P_FIELD(&p, a->tenant_id);
    P_FIELD(&p, a->username);
    P_FIELD(&p, a->pwhash);
    int64_t changes = 0;
    int rc = run(c, ST_ACCOUNT_PASSWD, &p, &changes);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return EG_ENOTFOUND;
    return bump_generation(c);
}

/* Keeps the idempotency record of a create; ECONFLICT when an unexpired
 * record holds the key (the upsert's WHERE leaves it and changes nothing). */
static int w_idem_put(struct eg_bconn *c, const char *tenant_id,
                      const struct eg_idem *r)
{
    struct params p = {0};
    p_text(&p, tenant_id, 0);
    P_FIELD(&p, r->key);
    p_bytes(&p, r->body_hash, sizeof(r->body_hash));
    P_FIELD(&p, r->credential_id);
    if (r->response_len > sizeof(r->response))
        return internal("an idempotency response is too long");
    p_bytes(&p, r->response, r->response_len);
    p_int(&p, r->created_at);
    p_int(&p, r->expired_before);
    int64_t changes = 0;
    int rc = run(c, ST_IDEM_PUT, &p, &changes);
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

/* Applies w[0..n) in one transaction, each in a savepoint; sets every
 * w[i].rc. Returns 0 once the transaction is committed (some writes may have
 * failed alone), else the error, which every rc then holds too: a write that
 * finds the store unavailable fails the batch, as a busy SQLite does. */
#define APPLY_RETRY 1 /* an unguarded write failed midway: apply again */

/* One attempt at the batch: BEGIN, each write (in a savepoint when
 * eg_write_guarded says so, or when all is set), COMMIT. */
static int apply_once(struct eg_bconn *c, struct eg_write *w, size_t n,
                      bool all)
{
    int rc = run_sql(c, "BEGIN");
    if (rc != 0)
        goto out;
    c->in_tx = true;
    for (size_t i = 0; i < n; i++) {
        bool sp = all || eg_write_guarded(&w[i]);
        if (sp) {
            rc = run_sql(c, "SAVEPOINT w");
            if (rc != 0)
                goto out;
        }
        int wrc = write_one(c, &w[i]);
        if (wrc == EG_EUNAVAILABLE) {
            rc = wrc;
            goto out;
        }
        if (wrc != 0 && !sp &&
            (PQtransactionStatus(c->pg) == PQTRANS_INERROR ||
             (wrc != EG_ENOTFOUND && wrc != EG_ECONFLICT))) {
            /* The transaction is spoilt, or maybe half of the write is in:
             * apply the batch again with every write in a savepoint. */
            run_sql(c, "ROLLBACK");
            c->in_tx = false;
            return APPLY_RETRY;
        }
        if (wrc != 0 && sp) {
            rc = run_sql(c, "ROLLBACK TO SAVEPOINT w");
            if (rc != 0)
                goto out;
        }
        if (sp) {
            rc = run_sql(c, "RELEASE SAVEPOINT w");
            if (rc != 0)
                goto out;
        }
        w[i].rc = wrc;
    }
    PGresult *r = NULL;
    rc = exec_st(c, -1, "COMMIT", NULL, &r);
    if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = internal("the transaction was rolled back at commit");
    PQclear(r);
    if (rc == 0) {
        c->in_tx = false;
        return 0;
    }
out:
    if (c->in_tx && c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        run_sql(c, "ROLLBACK");
    c->in_tx = false;
    if (rc != EG_EUNAVAILABLE)
        rc = EG_EINTERNAL;
    for (size_t i = 0; i < n; i++)
        w[i].rc = rc;
    return rc;
}

/* Whether every write of the batch is a plain credential create (no
 * Idempotency-Key): the hot path, applied by batch_create. */
static bool all_plain_creates(const struct eg_write *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].kind != EG_W_CRED_CREATE || w[i].idem != NULL)
            return false;
    return true;
}

static json_t *json_time(int64_t t)
{
    return t == EG_TIME_NONE ? json_null() : json_integer(t);
}

/* Applies a batch of plain creates, with their audit rows, in one statement
 * (ST_CRED_INSERT_BATCH): all of them or, on any error, none. */
static int batch_create(struct eg_bconn *c, const struct eg_write *w, size_t n)
{
    json_t *rows = json_array();
    if (rows == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        const struct eg_credential *cr = &w[i].u.cred;
        const struct eg_actor *a = &w[i].actor;
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(rows, o) != 0 ||
            json_object_set_new(o, "ord", json_integer((json_int_t)i)) ||
            json_object_set_new(o, "tenant_id", json_string(cr->tenant_id)) ||
            json_object_set_new(o, "credential_id",
                                json_string(cr->credential_id)) ||
            json_object_set_new(o, "user_id", json_string(cr->user_id)) ||
            json_object_set_new(o, "user_email",
                                cr->has_user_email
                                    ? json_string(cr->user_email)
                                    : json_null()) ||
            json_object_set_new(o, "user_name",
                                cr->has_user_name ? json_string(cr->user_name)
                                                  : json_null()) ||
            json_object_set_new(o, "access_profile",
                                json_string(cr->access_profile)) ||
            json_object_set_new(o, "valid_from",
                                json_integer(cr->valid_from)) ||
            json_object_set_new(o, "valid_to", json_time(cr->valid_to)) ||
            json_object_set_new(o, "created_at",
                                json_integer(cr->created_at)) ||
            json_object_set_new(o, "revoked_at", json_time(cr->revoked_at)) ||
            json_object_set_new(o, "key_id", json_string(a->key_id)) ||
            json_object_set_new(o, "username", json_string(a->username)) ||
            json_object_set_new(o, "request_id", json_string(a->request_id))) {
            json_decref(rows);
            /* json_string refuses text that is not UTF-8: let the write
             * path of each write say which. */
            return EG_EBADREQUEST;
        }
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    if (text == NULL)
        abort();
    struct params p = {0};
    p_text(&p, text, 0);
    int rc = run(c, ST_CRED_INSERT_BATCH, &p, NULL);
    free(text);
    return rc;
}

static int pg_apply(struct eg_bconn *c, struct eg_write *w, size_t n)
{
    if (n == 0)
        return 0;
    if (all_plain_creates(w, n)) {
        /* Outside a transaction: the statement is its own, durable when it
         * returns (synchronous_commit is on, C27). Should it fail, nothing
         * of it is in, and the batch takes the path below, where a write
         * that cannot be applied fails alone. */
        int rc = batch_create(c, w, n);
        if (rc == 0 || rc == EG_EUNAVAILABLE) {
            for (size_t i = 0; i < n; i++)
                w[i].rc = rc;
            return rc;
        }
        return apply_once(c, w, n, true);
    }
    int rc = apply_once(c, w, n, false);
    if (rc == APPLY_RETRY)
        rc = apply_once(c, w, n, true);
    return rc;
}

/* ---- reads ---- */

static int pg_auth_generation(struct eg_bconn *c, int64_t *out)
{
    PGresult *r = NULL;
    int rc = one_row(c, ST_GEN_GET, NULL, &r);
    if (rc == EG_ENOTFOUND)
        return internal("auth_generation has no row");
    if (rc != 0)
        return rc;
    *out = col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_key_by_hash(struct eg_bconn *c,
                          const uint8_t hash[EG_KEY_HASH_LEN],
                          struct eg_key *out)
{
    struct params p = {0};
    p_bytes(&p, hash, EG_KEY_HASH_LEN);
    PGresult *r = NULL;
    int rc = one_row(c, ST_KEY_BY_HASH, &p, &r);
    if (rc != 0)
        return rc;
    rc = read_key(r, 0, out);
    PQclear(r);
    return rc;
}

/* Every key of a tenant, oldest first, PAGE_MAX at a time. */
static int pg_key_scan(struct eg_bconn *c, const char *tenant_id,
                       eg_key_cb cb, void *ctx)
{
    struct eg_key last;
    bool from = false;
    for (;;) {
        struct params p = {0};
        p_text(&p, tenant_id, 0);
        p_limit(&p, PAGE_MAX);
        if (from) {
            p_int(&p, last.created_at);
            P_FIELD(&p, last.key_id);
        }
        PGresult *r = NULL;
        int rc = exec_st(c, from ? ST_KEY_SCAN_AFTER : ST_KEY_SCAN, NULL, &p,
                         &r);
        if (rc != 0)
            return rc;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            rc = read_key(r, i, &last);
            if (rc != 0 || cb(ctx, &last) != 0) {
                PQclear(r);
                return rc;
            }
        }
        PQclear(r);
        if (rows < PAGE_MAX)
            return 0;
        from = true;
    }
}

static int pg_account_get(struct eg_bconn *c, const char *tenant_id,
                          const char *username, struct eg_account *out)
{
    struct params p = {0};
    p_text(&p, tenant_id, 0);
    p_text(&p, username, 0);
    PGresult *r = NULL;
    int rc = one_row(c, ST_ACCOUNT_GET, &p, &r);
    if (rc != 0)
        return rc;
    rc = COL_TEXT(r, 0, 0, out->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, 0, 1, out->username);
    if (rc == 0)
        rc = COL_TEXT(r, 0, 2, out->pwhash);
    out->created_at = col_int(r, 0, 3);
    PQclear(r);
    return rc;
}

static int pg_tenant_get(struct eg_bconn *c, const char *tenant_id,
                         struct eg_tenant *out)
{
    struct params p = {0};
    p_text(&p, tenant_id, 0);
    PGresult *r = NULL;
    int rc = one_row(c, ST_TENANT_GET, &p, &r);
    if (rc != 0)
        return rc;
    rc = read_tenant(r, 0, out);
    PQclear(r);
    return rc;
}

/* Every tenant in id order, PAGE_MAX at a time. */
static int pg_tenant_scan(struct eg_bconn *c, eg_tenant_cb cb, void *ctx)
{
    struct eg_tenant last;
    bool from = false;
    for (;;) {
        struct params p = {0};
        p_limit(&p, PAGE_MAX);
        if (from)
            P_FIELD(&p, last.tenant_id);
        PGresult *r = NULL;
        int rc = exec_st(c, from ? ST_TENANT_SCAN_AFTER : ST_TENANT_SCAN,
                         NULL, &p, &r);
        if (rc != 0)
            return rc;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            rc = read_tenant(r, i, &last);
            if (rc != 0 || cb(ctx, &last) != 0) {
                PQclear(r);
                return rc;
            }
        }
        PQclear(r);
        if (rows < PAGE_MAX)
            return 0;
        from = true;
    }
}

static int pg_profile_get(struct eg_bconn *c, const char *tenant_id,
                          const char *profile_id, struct eg_profile *out)
{
    struct params p = {0};
    p_text(&p, tenant_id, 0);
    p_text(&p, profile_id, 0);
    PGresult *r = NULL;
    int rc = one_row(c, ST_PROFILE_GET, &p, &r);
    if (rc != 0)
        return rc;
    rc = COL_TEXT(r, 0, 0, out->tenant_id);
    if (rc == 0)
        rc = COL_TEXT(r, 0, 1, out->profile_id);
    if (rc == 0)
        rc = COL_OPT(r, 0, 2, out->name);
    PQclear(r);
    return rc;
}

static int pg_cred_get(struct eg_bconn *c, const char *tenant_id,
                       const char *credential_id, struct eg_credential *out)
{
    struct params p = {0};
    p_text(&p, tenant_id, 0);
    p_text(&p, credential_id, 0);
    PGresult *r = NULL;
    int rc = one_row(c, ST_CRED_GET, &p, &r);
    if (rc != 0)
        return rc;
    rc = read_cred(r, 0, out);
    PQclear(r);
    return rc;
}

/* Up to `limit` credentials after `after`, PAGE_MAX per statement, each
 * statement resuming from the last row of the one before. */
static int pg_cred_scan(struct eg_bconn *c, const struct eg_cred_filter *f,
                        const struct eg_cursor *after, size_t limit,
                        eg_cred_cb cb, void *ctx)
{
    if (f->status != EG_STATUS_ACTIVE && f->status != EG_STATUS_EXPIRED &&
        f->status != EG_STATUS_REVOKED)
        return internal("cred_scan: unknown status filter");
    bool user = f->user_id != NULL;
    struct eg_cursor pos = {.valid = false};
    if (after != NULL && after->valid)
        pos = *after;
    while (limit > 0) {
        size_t want = limit < PAGE_MAX ? limit : PAGE_MAX;
        struct params p = {0};
        p_text(&p, f->tenant_id, 0);
        p_int(&p, f->now);
        p_text(&p, f->user_id, 0);
        if (pos.valid) {
            p_int(&p, pos.time);
            P_FIELD(&p, pos.id);
        } else {
            p_null(&p);
            p_null(&p);
        }
        p_limit(&p, want);
        PGresult *r = NULL;
        int rc = exec_st(c, CRED_SCAN_ID((int)f->status, user, pos.valid),
                         NULL, &p, &r);
        if (rc != 0)
            return rc;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            struct eg_credential cr;
            rc = read_cred(r, i, &cr);
            if (rc != 0 || cb(ctx, &cr) != 0) {
                PQclear(r);
                return rc;
            }
            pos.valid = true;
            pos.time = cr.created_at;
            memcpy(pos.id, cr.credential_id, sizeof(pos.id));
        }
        PQclear(r);
        if ((size_t)rows < want)
            break;
        limit -= want;
    }
    return 0;
}

/* Up to `limit` devices after `after`, as pg_cred_scan. */
static int pg_device_scan(struct eg_bconn *c, const char *tenant_id,
                          const struct eg_cursor *after, size_t limit,
                          eg_device_cb cb, void *ctx)
{
    struct eg_cursor pos = {.valid = false};
    if (after != NULL && after->valid)
        pos = *after;
    while (limit > 0) {
        size_t want = limit < PAGE_MAX ? limit : PAGE_MAX;
        struct params p = {0};
        p_text(&p, tenant_id, 0);
        if (pos.valid) {
            P_FIELD(&p, pos.text);
            P_FIELD(&p, pos.id);
        } else {
            p_null(&p);
            p_null(&p);
        }
        p_limit(&p, want);
        PGresult *r = NULL;
        int rc = exec_st(c, pos.valid ? ST_DEVICE_SCAN_AFTER : ST_DEVICE_SCAN,
                         NULL, &p, &r);
        if (rc != 0)
            return rc;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            struct eg_device d;
            rc = read_device(r, i, &d);
            if (rc != 0 || cb(ctx, &d) != 0) {
                PQclear(r);
                return rc;
            }
            pos.valid = true;
            memcpy(pos.text, d.name, sizeof(pos.text));
            memcpy(pos.id, d.device_id, sizeof(pos.id));
        }
        PQclear(r);
        if ((size_t)rows < want)
            break;
        limit -= want;
    }
    return 0;
}

static int pg_audit_scan(struct eg_bconn *c, const char *tenant_id,
                         const char *credential_id, int64_t since,
                         int64_t after_seq, size_t limit, eg_audit_cb cb,
                         void *ctx)
{
    while (limit > 0) {
        size_t want = limit < PAGE_MAX ? limit : PAGE_MAX;
        struct params p = {0};
        p_text(&p, tenant_id, 0);
        p_int(&p, after_seq);
        p_int(&p, since);
        p_text(&p, credential_id, 0);
        p_limit(&p, want);
        PGresult *r = NULL;
        int rc = exec_st(c, credential_id != NULL ? ST_AUDIT_SCAN_CRED
                                                  : ST_AUDIT_SCAN,
                         NULL, &p, &r);
        if (rc != 0)
            return rc;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            struct eg_audit a;
            rc = read_audit(r, i, &a);
            if (rc != 0 || cb(ctx, &a) != 0) {
                PQclear(r);
                return rc;
            }
            after_seq = a.seq;
        }
        PQclear(r);
        if ((size_t)rows < want)
            break;
        limit -= want;
    }
    return 0;
}

static int pg_idem_get(struct eg_bconn *c, const char *tenant_id,
                       const char *key, struct eg_idem *out)
{
    struct params p = {0};
    p_text(&p, tenant_id, 0);
    p_text(&p, key, 0);
    PGresult *r = NULL;
    int rc = one_row(c, ST_IDEM_GET, &p, &r);
    if (rc != 0)
        return rc;
    int hlen = PQgetlength(r, 0, 0);
    int rlen = PQgetlength(r, 0, 2);
    if (PQgetisnull(r, 0, 0) || hlen != (int)sizeof(out->body_hash) ||
        PQgetisnull(r, 0, 2) || rlen <= 0 ||
        (size_t)rlen > sizeof(out->response) ||
        strlen(key) >= sizeof(out->key)) {
        rc = internal("an idempotency record is malformed");
        goto out;
    }
    memcpy(out->body_hash, PQgetvalue(r, 0, 0), sizeof(out->body_hash));
    memcpy(out->response, PQgetvalue(r, 0, 2), (size_t)rlen);
    out->response_len = (size_t)rlen;
    strcpy(out->key, key);
    rc = COL_TEXT(r, 0, 1, out->credential_id);
    out->created_at = col_int(r, 0, 3);
out:
    PQclear(r);
    return rc;
}

static int pg_ping(struct eg_bconn *c)
{
    PGresult *r = NULL;
    int rc = one_row(c, ST_PING, NULL, &r);
    PQclear(r);
    return rc == EG_ENOTFOUND ? EG_EINTERNAL : rc;
}

/* ---- opening ---- */

/* Runs sql (one or more statements, no parameters) on a connection of its
 * own, without a deadline (migrations may wait on another node's lock).
 * Returns the libpq result for the caller to PQclear, or NULL with msg set. */
static PGresult *mig_exec(PGconn *pg, const char *sql, char *msg, size_t cap)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    one_line(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(pg), msg,
             cap);
    PQclear(r);
    return NULL;
}

/* The one value of a one-row, one-column text result. */
static const char *mig_value(PGresult *r)
{
    if (r == NULL || PQntuples(r) < 1 || PQnfields(r) < 1)
        return NULL;
    return PQgetvalue(r, 0, 0);
}

/* Applies migration `version` (1-based) unless recorded, in its own
 * transaction holding the migration lock, so of several nodes starting at
 * once only one applies it and the others wait for it. *newer gets the
 * highest version recorded when it exceeds what this binary knows. */
static int migrate_one(PGconn *pg, long version, const char *text,
                       long *newer, char *msg, size_t cap)
{
    char q[160];
    int rc = EG_EINTERNAL;
    PGresult *r = mig_exec(pg, "BEGIN", msg, cap);
    if (r == NULL)
        return EG_EUNAVAILABLE;
    PQclear(r);
    r = mig_exec(pg,
                 "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK "); "
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL); "
                 "SELECT coalesce(max(version), 0) FROM schema_migrations",
                 msg, cap);
    const char *v = mig_value(r);
    long have = v != NULL ? strtol(v, NULL, 10) : -1;
    PQclear(r);
    if (have < 0)
        goto out;
    if (have > (long)eg_pg_migrations_count) {
        *newer = have;
        goto out;
    }
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM schema_migrations WHERE version = %ld",
             version);
    r = mig_exec(pg, q, msg, cap);
    v = mig_value(r);
    bool done = v != NULL && strcmp(v, "0") != 0;
    PQclear(r);
    if (v == NULL)
        goto out;
    if (!done) {
        r = mig_exec(pg, text, msg, cap);
        if (r == NULL)
            goto out;
        PQclear(r);
        snprintf(q, sizeof(q),
                 "INSERT INTO schema_migrations (version, applied_at) "
                 "VALUES (%ld, %lld)",
                 version, (long long)eg_time_now());
        r = mig_exec(pg, q, msg, cap);
        if (r == NULL)
            goto out;
        PQclear(r);
    }
    r = mig_exec(pg, "COMMIT", msg, cap);
    if (r != NULL && strcmp(PQcmdStatus(r), "COMMIT") == 0)
        rc = 0;
    PQclear(r);
out:
    if (rc != 0 && PQtransactionStatus(pg) != PQTRANS_IDLE)
        PQclear(PQexec(pg, "ROLLBACK"));
    if (rc != 0 && PQstatus(pg) != CONNECTION_OK)
        rc = EG_EUNAVAILABLE;
    return rc;
}

/* Refuses a database that acknowledges commits before they are durable
 * (C27), unless allowed; warns when fsync is off. */
static int check_durable(PGconn *pg, const char *shown, bool allow, char *err,
                         size_t errlen)
{
    char msg[256];
    PGresult *r = mig_exec(pg, "SHOW synchronous_commit", msg, sizeof(msg));
    const char *v = mig_value(r);
    int rc = 0;
    if (v == NULL) {
        snprintf(err, errlen, "cannot read synchronous_commit of %s: %s",
                 shown, r == NULL ? msg : "no value");
        rc = EG_EUNAVAILABLE;
    } else if (strcmp(v, "off") == 0 && !allow) {
        snprintf(err, errlen,
                 "PostgreSQL store %s has synchronous_commit off: a commit "
                 "could be answered and then lost (C27). Turn it on, or "
                 "accept that with ENGAGE_PG_ALLOW_ASYNC_COMMIT=1 or "
                 "?" ASYNC_PARAM "=1 in the store URL",
                 shown);
        rc = EG_EINTERNAL;
    }
    PQclear(r);
    if (rc != 0)
        return rc;
    r = mig_exec(pg, "SHOW fsync", msg, sizeof(msg));
    v = mig_value(r);
    if (v != NULL && strcmp(v, "off") == 0)
        fprintf(stderr, "engage: store: warning: PostgreSQL %s runs with "
                        "fsync off: a crash of its machine can lose "
                        "answered writes\n",
                shown);
    PQclear(r);
    return 0;
}

static int migrate(PGconn *pg, const char *shown, char *err, size_t errlen)
{
    char msg[256] = "";
    for (size_t i = 0; i < eg_pg_migrations_count; i++) {
        long newer = 0;
        int rc = migrate_one(pg, (long)i + 1, eg_pg_migrations[i], &newer,
                             msg, sizeof(msg));
        if (newer > 0) {
            snprintf(err, errlen,
                     "store %s has schema version %ld, newer than this "
                     "engage knows (%zu): use a newer engage",
                     shown, newer, eg_pg_migrations_count);
            return EG_EINTERNAL;
        }
        if (rc != 0) {
            snprintf(err, errlen,
                     "cannot apply migration %zu to store %s: %s", i + 1,
                     shown, msg);
            return rc;
        }
    }
    return 0;
}

/* Whether the query string parameter `name` of uri is "1", "true", "on" or
 * "yes"; removes it from uri (in place) either way. */
static bool take_param(char *uri, const char *name)
{
    char *q = strchr(uri, '?');
    if (q == NULL)
        return false;
    size_t nlen = strlen(name);
    bool yes = false;
    char *p = q + 1;
    while (*p != '\0') {
        char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = len - nlen - 1;
            yes = (vlen == 1 && (v[0] == '1')) ||
                  (vlen == 4 && strncmp(v, "true", 4) == 0) ||
                  (vlen == 2 && strncmp(v, "on", 2) == 0) ||
                  (vlen == 3 && strncmp(v, "yes", 3) == 0);
            /* drop "name=v" and the '&' after it, if any */
            memmove(p, end != NULL ? end + 1 : p + len,
                    strlen(end != NULL ? end + 1 : p + len) + 1);
            continue;
        }
        p = end != NULL ? end + 1 : p + len;
    }
    size_t n = strlen(uri);
    while (n > 0 && (uri[n - 1] == '&' || uri[n - 1] == '?'))
        uri[--n] = '\0';
    return yes;
}

/* The URI with its password (in the user part, or a password= parameter)
 * replaced by "***", for messages. */
static char *redact(const char *uri)
{
    size_t n = strlen(uri);
    char *out = malloc(n + 8);
    if (out == NULL)
        abort();
    size_t o = 0;
    const char *p = uri;
    const char *auth = strstr(uri, "//");
    if (auth != NULL) {
        auth += 2;
        size_t span = strcspn(auth, "/?");
        const char *at = memchr(auth, '@', span);
        const char *colon =
            at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL) {
            o = (size_t)(colon - uri) + 1;
            memcpy(out, uri, o);
            memcpy(out + o, "***", 3);
            o += 3;
            p = at;
        }
    }
    const char *pw = strstr(p, "password=");
    if (pw != NULL && pw > uri && (pw[-1] == '?' || pw[-1] == '&')) {
        size_t head = (size_t)(pw - p) + strlen("password=");
        memcpy(out + o, p, head);
        o += head;
        memcpy(out + o, "***", 3);
        o += 3;
        p = pw + strlen("password=");
        p += strcspn(p, "&");
    }
    memcpy(out + o, p, strlen(p) + 1);
    return out;
}

/* Opens the database named by the URI "postgres:" + target and migrates it.
 * Returns 0 and the handle in *out, or an EG_E* with a message in err:
 * EG_EUNAVAILABLE when PostgreSQL cannot be reached. May wait for another
 * node's migration. */
static int pg_open(const char *target, struct eg_bstore **out, char *err,
                   size_t errlen)
{
    if (strncmp(target, "//", 2) != 0) {
        snprintf(err, errlen, "a PostgreSQL store URL is "
                              "postgres://USER@HOST:PORT/DATABASE");
        return EG_EBADREQUEST;
    }
    struct eg_bstore *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    size_t n = strlen("postgresql:") + strlen(target) + 1;
    s->conninfo = malloc(n);
    if (s->conninfo == NULL)
        abort();
    snprintf(s->conninfo, n, "postgresql:%s", target);
    bool allow = take_param(s->conninfo, ASYNC_PARAM);
    const char *env = getenv("ENGAGE_PG_ALLOW_ASYNC_COMMIT");
    if (env != NULL && strcmp(env, "1") == 0)
        allow = true;
    s->shown = redact(s->conninfo);

    PGconn *pg = NULL;
    int rc = 0;
    if (!connect_db(s->conninfo, &pg)) {
        char line[256];
        snprintf(err, errlen, "cannot connect to PostgreSQL store %s: %s",
                 s->shown, one_line(PQerrorMessage(pg), line, sizeof(line)));
        rc = EG_EUNAVAILABLE;
        goto out;
    }
    rc = check_durable(pg, s->shown, allow, err, errlen);
    if (rc == 0)
        rc = migrate(pg, s->shown, err, errlen);
out:
    PQfinish(pg);
    if (rc != 0) {
        free(s->conninfo);
        free(s->shown);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void pg_close(struct eg_bstore *s)
{
    if (s == NULL)
        return;
    free(s->conninfo);
    free(s->shown);
    free(s);
}

/* Opens one thread's connection. It never fails for want of the database:
 * a connection that cannot be made now is made by a later call. */
static int pg_conn_open(struct eg_bstore *s, struct eg_bconn **out)
{
    struct eg_bconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->s = s;
    conn_ready(c, true);
    *out = c;
    return 0;
}

static void pg_conn_close(struct eg_bconn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->pg);
    free(c);
}

/* The PostgreSQL backend, for store URLs "postgres://..." and
 * "postgresql://..." (any libpq connection URI; see struct eg_store_backend
 * for each function's contract). Every call waits on the network: at most
 * connect_timeout (2 s) to connect, 5 s on a row lock, STMT_DEADLINE_MS for
 * any one answer; then it returns EG_EUNAVAILABLE. */
const struct eg_store_backend eg_store_pgsql = {
    .scheme = "postgres",
    .remote = true,
    .open = pg_open,
    .close = pg_close,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .apply = pg_apply,
    .auth_generation = pg_auth_generation,
    .key_by_hash = pg_key_by_hash,
    .key_scan = pg_key_scan,
    .account_get = pg_account_get,
    .tenant_get = pg_tenant_get,
    .tenant_scan = pg_tenant_scan,
    .profile_get = pg_profile_get,
    .cred_get = pg_cred_get,
    .cred_scan = pg_cred_scan,
    .device_scan = pg_device_scan,
    .audit_scan = pg_audit_scan,
    .idem_get = pg_idem_get,
    .ping = pg_ping,
    .chown = NULL,
};

/* The same backend under the scheme "postgresql". */
const struct eg_store_backend eg_store_postgresql = {
    .scheme = "postgresql",
    .remote = true,
    .open = pg_open,
    .close = pg_close,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .apply = pg_apply,
    .auth_generation = pg_auth_generation,
    .key_by_hash = pg_key_by_hash,
    .key_scan = pg_key_scan,
    .account_get = pg_account_get,
    .tenant_get = pg_tenant_get,
    .tenant_scan = pg_tenant_scan,
    .profile_get = pg_profile_get,
    .cred_get = pg_cred_get,
    .cred_scan = pg_cred_scan,
    .device_scan = pg_device_scan,
    .audit_scan = pg_audit_scan,
    .idem_get = pg_idem_get,
    .ping = pg_ping,
    .chown = NULL,
};
