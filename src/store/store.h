/*
 * store.h - the storage interface of engage (DESIGN "Storage is an interface").
 *
 * A backend (sqlite.c now, pgsql.c later) fills a struct
 * eg_store_backend with function pointers, as curl's struct Curl_ssl backends
 * do. Everything above this layer calls the eg_store_* wrappers below and
 * never sees SQL.
 *
 * Invariants every backend keeps:
 *  - tenant_id leads every key and index; no read ever crosses tenants.
 *  - every write is a struct eg_write; eg_store_apply() applies an array of
 *    them in ONE durable transaction (group commit), each in its own savepoint
 *    so one failing write (say, a duplicate) fails alone. It returns only once
 *    the transaction is durable (C27).
 *  - every credential write appends its audit record in the same
 *    transaction (C28); every key or account write bumps the auth generation
 *    in the same transaction (C8).
 *  - times are int64 milliseconds UTC (core/time.h); lists come in the order
 *    of C20/C23 and resume from a keyset position (struct eg_cursor), so a
 *    caller can stream a long list page by page with short read transactions.
 *  - a struct eg_store_conn is used by one thread at a time.
 *
 * Return values: 0 (EG_OK), or a negative EG_E* (core/error.h):
 * EG_ENOTFOUND, EG_ECONFLICT (a unique key exists already), EG_EUNAVAILABLE
 * (store busy or unreachable), EG_EINTERNAL (anything else; logged).
 */
#ifndef EG_STORE_STORE_H
#define EG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Sizes of text fields, each including the terminating NUL. */
#define EG_ID_MAX 48          /* tenant, key, credential, device ids */
#define EG_USER_ID_MAX 129    /* userId: 128 bytes (C13) */
#define EG_EMAIL_MAX 255      /* userEmail: 254 bytes (C13) */
#define EG_TEXT_MAX 257       /* userName, accessProfile, names: 256 bytes */
#define EG_USERNAME_MAX 129   /* account usernames */
#define EG_PWHASH_MAX 128     /* crypto_pwhash_STRBYTES */
#define EG_REQUEST_ID_MAX 129 /* X-Request-Id (C4) */
#define EG_KEY_HASH_LEN 32    /* BLAKE2b-256 of a subscription key */

enum eg_cred_status { EG_STATUS_ACTIVE, EG_STATUS_REVOKED, EG_STATUS_EXPIRED };

struct eg_credential {
    char tenant_id[EG_ID_MAX];
    char credential_id[EG_ID_MAX];
    char user_id[EG_USER_ID_MAX];
    char user_email[EG_EMAIL_MAX]; /* "" when has_user_email is false */
    char user_name[EG_TEXT_MAX];   /* "" when has_user_name is false */
    char access_profile[EG_TEXT_MAX];
    bool has_user_email;
    bool has_user_name;
    int64_t valid_from; /* always set (C16) */
    int64_t valid_to;   /* EG_TIME_NONE when absent */
    int64_t created_at;
    int64_t revoked_at; /* EG_TIME_NONE until revoked */
};

struct eg_device {
    char tenant_id[EG_ID_MAX];
    char device_id[EG_ID_MAX];
    char name[EG_TEXT_MAX];
    char model[32];               /* one of the spec's enum (C23) */
    char firmware_version[EG_TEXT_MAX]; /* "" = absent */
    char site_id[EG_TEXT_MAX];          /* "" = absent */
};

struct eg_tenant {
    char tenant_id[EG_ID_MAX];
    char name[EG_TEXT_MAX];
    int64_t created_at;
};

struct eg_key {
    char tenant_id[EG_ID_MAX];
    char key_id[EG_ID_MAX];
    uint8_t hash[EG_KEY_HASH_LEN];
    int64_t created_at;
    int64_t revoked_at; /* EG_TIME_NONE while active */
};

struct eg_account {
    char tenant_id[EG_ID_MAX];
    char username[EG_USERNAME_MAX];
    char pwhash[EG_PWHASH_MAX]; /* Argon2id string (libsodium crypto_pwhash_str) */
    int64_t created_at;
};

struct eg_profile {
    char tenant_id[EG_ID_MAX];
    char profile_id[EG_TEXT_MAX];
    char name[EG_TEXT_MAX]; /* "" = absent */
};

/* An idempotency record (C22): the first 201 of (tenant, key), byte for
 * byte, with a hash of the request body it answered. */
#define EG_IDEM_KEY_MAX 256       /* 255 printable ASCII characters */
#define EG_IDEM_RESPONSE_MAX 4096 /* a MobileCredential as JSON fits */
struct eg_idem {
    char key[EG_IDEM_KEY_MAX];
    uint8_t body_hash[32];
    char credential_id[EG_ID_MAX];
    int64_t created_at;
    /* On a write: a record of the same key created before this instant has
     * expired and is replaced; a newer one makes the write EG_ECONFLICT. */
    int64_t expired_before;
    size_t response_len;
    char response[EG_IDEM_RESPONSE_MAX];
};

/* Who did a credential write, for its audit record (C28). */
struct eg_actor {
    char key_id[EG_ID_MAX];
    char username[EG_USERNAME_MAX];
    char request_id[EG_REQUEST_ID_MAX];
};

/* A keyset position: the last item already returned. `valid` false = start.
 * Credentials are ordered by (created_at, credential_id), devices by
 * (name, device_id), tenants by tenant_id; `time` and `text` hold the first
 * component, `id` the second. */
struct eg_cursor {
    bool valid;
    int64_t time;
    char text[EG_TEXT_MAX];
    char id[EG_ID_MAX];
};

struct eg_cred_filter {
    const char *tenant_id;
    enum eg_cred_status status; /* C20: Active by default */
    const char *user_id;        /* NULL = any user; else exact match */
    int64_t now;                /* the instant Expired is judged at (C17) */
};

enum eg_write_kind {
    EG_W_TENANT_CREATE,  /* u.tenant */
    EG_W_KEY_CREATE,     /* u.key; bumps auth generation */
    EG_W_KEY_REVOKE,     /* u.key (key_id, revoked_at); ENOTFOUND if none */
    EG_W_ACCOUNT_CREATE, /* u.account; bumps auth generation; ECONFLICT */
    EG_W_ACCOUNT_REMOVE, /* u.account (tenant_id, username); bumps; ENOTFOUND */
    EG_W_PROFILE_CREATE, /* u.profile; ECONFLICT if it exists */
    EG_W_DEVICE_ADD,     /* u.device */
    EG_W_DEVICE_REMOVE,  /* u.device (tenant_id, device_id); ENOTFOUND */
    EG_W_KEY_ROTATE,     /* u.key (key_id, hash): a new secret for an active
                            key; fills u.key; bumps; ENOTFOUND if no active
                            key has that id */
    EG_W_ACCOUNT_PASSWD, /* u.account (tenant_id, username, pwhash); bumps;
                            ENOTFOUND */
    EG_W_CRED_CREATE,    /* u.cred + actor; audit "credential.create"; with
                            idem, the idempotency record too (ECONFLICT when
                            an unexpired one holds the key) */
    EG_W_CRED_REVOKE,    /* u.cred (tenant_id, credential_id, revoked_at) +
                            actor: sets revoked_at when not yet revoked and
                            audits "credential.revoke"; when already revoked
                            changes nothing. Either way u.cred is filled with
                            the credential as it stands. ENOTFOUND if none. */
};

/* One write. The caller fills kind and u (and actor for credential writes);
 * eg_store_apply sets rc. The next/done/ctx fields belong to whoever queues
 * the write (the group-commit writer); backends do not touch them. */
struct eg_write {
    enum eg_write_kind kind;
    int rc;
    struct eg_actor actor;
    union {
        struct eg_tenant tenant;
        struct eg_key key;
        struct eg_account account;
        struct eg_profile profile;
        struct eg_device device;
        struct eg_credential cred;
    } u;
    const struct eg_idem *idem; /* EG_W_CRED_CREATE: NULL, or the record to
                                   keep with it (owned by the caller) */
    struct eg_write *next;
    void (*done)(struct eg_write *w);
    void *ctx;
};

/* Whether a backend must give w a savepoint of its own for it to fail
 * alone. A plain credential create or a revoke fails cleanly (EG_ENOTFOUND,
 * EG_ECONFLICT) only on its first statement, before it has changed anything,
 * and otherwise only in ways not expected to happen (the disk, the network, a
 * bad value); backends run such writes without a savepoint on the group-
 * commit hot path and, should one fail midway anyway, apply the batch again
 * with a savepoint for every write. */
bool eg_write_guarded(const struct eg_write *w);

/* One row of the audit trail, as stored. */
struct eg_audit {
    int64_t seq;
    int64_t time;
    char tenant_id[EG_ID_MAX];
    char action[32]; /* "credential.create", "credential.revoke" */
    char credential_id[EG_ID_MAX];
    struct eg_actor actor;
};

struct eg_store;      /* one per process and store URL */
struct eg_store_conn; /* one per thread */
struct eg_bstore;     /* a backend's own store handle (defined by it) */
struct eg_bconn;      /* a backend's own connection (defined by it) */

/* Scan callbacks return 0 to go on, non-zero to stop the scan early (the scan
 * then returns 0). */
typedef int (*eg_cred_cb)(void *ctx, const struct eg_credential *c);
typedef int (*eg_device_cb)(void *ctx, const struct eg_device *d);
typedef int (*eg_tenant_cb)(void *ctx, const struct eg_tenant *t);
typedef int (*eg_key_cb)(void *ctx, const struct eg_key *k);
typedef int (*eg_audit_cb)(void *ctx, const struct eg_audit *a);

struct eg_store_backend {
    const char *scheme; /* the URL scheme, "sqlite" */
    /* Every call may wait on a network round trip: front ends must not make
     * an event thread wait for one (the server runs such reads on worker
     * threads). False for an embedded store. */
    bool remote;
    /* Open (creating when absent) and migrate the store named by target (the
     * URL after "scheme:"). On failure, writes a message to err. */
    int (*open)(const char *target, struct eg_bstore **out, char *err,
                size_t errlen);
    void (*close)(struct eg_bstore *s);
    int (*conn_open)(struct eg_bstore *s, struct eg_bconn **out);
    void (*conn_close)(struct eg_bconn *c);

    int (*apply)(struct eg_bconn *c, struct eg_write *w, size_t n);

    /* A number that changes whenever a key or account changes, in any process
     * using the store (C8). */
    int (*auth_generation)(struct eg_bconn *c, int64_t *out);
    /* The key whose hash is `hash` (active or revoked); ENOTFOUND if none. */
    int (*key_by_hash)(struct eg_bconn *c,
                       const uint8_t hash[EG_KEY_HASH_LEN], struct eg_key *out);
    int (*key_scan)(struct eg_bconn *c, const char *tenant_id,
                    eg_key_cb cb, void *ctx);
    int (*account_get)(struct eg_bconn *c, const char *tenant_id,
                       const char *username, struct eg_account *out);
    int (*tenant_get)(struct eg_bconn *c, const char *tenant_id,
                      struct eg_tenant *out);
    int (*tenant_scan)(struct eg_bconn *c, eg_tenant_cb cb, void *ctx);
    int (*profile_get)(struct eg_bconn *c, const char *tenant_id,
                       const char *profile_id, struct eg_profile *out);

    int (*cred_get)(struct eg_bconn *c, const char *tenant_id,
                    const char *credential_id, struct eg_credential *out);
    /* A number that changes whenever a connection other than c has
     * committed a change since c last called this. NULL for a backend that
     * cannot tell (then the store keeps no read cache, C32). */
    int (*data_version)(struct eg_bconn *c, int64_t *out);
    /* The newest audit record's seq, 0 when there is none. Every credential
     * change appends an audit record in its own transaction (C28), and
     * nothing else does and none is ever deleted, so this number changes
     * exactly when some credential did: the read cache uses it to tell
     * another process's credential writes from its other writes (keys,
     * accounts), which leave the cache alone. NULL: every change of
     * data_version empties the cache. */
    int (*audit_head)(struct eg_bconn *c, int64_t *out);
    /* Up to `limit` credentials matching f after position `after`, in order,
     * each passed to cb, in one read transaction. */
    int (*cred_scan)(struct eg_bconn *c, const struct eg_cred_filter *f,
                     const struct eg_cursor *after, size_t limit, eg_cred_cb cb,
                     void *ctx);
    int (*device_scan)(struct eg_bconn *c, const char *tenant_id,
                       const struct eg_cursor *after, size_t limit,
                       eg_device_cb cb, void *ctx);
    /* Audit records of a tenant oldest first, from seq > after_seq, of one
     * credential when credential_id is not NULL, at or after `since`. */
    int (*audit_scan)(struct eg_bconn *c, const char *tenant_id,
                      const char *credential_id, int64_t since,
                      int64_t after_seq, size_t limit, eg_audit_cb cb,
                      void *ctx);
    /* The idempotency record of (tenant, key), however old; ENOTFOUND. */
    int (*idem_get)(struct eg_bconn *c, const char *tenant_id,
                    const char *key, struct eg_idem *out);
    /* 0 when the store answers (readiness). */
    int (*ping)(struct eg_bconn *c);
    /* Give the store's local files (if any) to uid:gid, for a server that
     * drops root. May be NULL (nothing local). */
    int (*chown)(struct eg_bstore *s, unsigned uid, unsigned gid);
};

/* Open the store named by url ("sqlite:PATH"). Returns 0 or an EG_E*, with a
 * message for a person in err. */
int eg_store_open(const char *url, struct eg_store **out, char *err,
                  size_t errlen);

/* Close the store and every thread connection opened on it. Call only when
 * no other thread uses it. */
void eg_store_close(struct eg_store *s);

/* Give the store's local files to uid:gid (see the backend's chown).
 * Returns 0 or -1 with errno. */
int eg_store_chown(struct eg_store *s, unsigned uid, unsigned gid);

/* The calling thread's own connection to s, opened on first use and closed by
 * eg_store_close. NULL when it cannot be opened. */
struct eg_store_conn *eg_store_conn(struct eg_store *s);

/* Wrappers over the backend of s (see struct eg_store_backend). */
int eg_store_apply(struct eg_store_conn *c, struct eg_write *w, size_t n);
int eg_store_auth_generation(struct eg_store_conn *c, int64_t *out);
int eg_store_key_by_hash(struct eg_store_conn *c,
                         const uint8_t hash[EG_KEY_HASH_LEN],
                         struct eg_key *out);
int eg_store_key_scan(struct eg_store_conn *c, const char *tenant_id,
                      eg_key_cb cb, void *ctx);
int eg_store_account_get(struct eg_store_conn *c, const char *tenant_id,
                         const char *username, struct eg_account *out);
int eg_store_tenant_get(struct eg_store_conn *c, const char *tenant_id,
                        struct eg_tenant *out);
int eg_store_tenant_scan(struct eg_store_conn *c, eg_tenant_cb cb, void *ctx);
int eg_store_profile_get(struct eg_store_conn *c, const char *tenant_id,
                         const char *profile_id, struct eg_profile *out);
int eg_store_cred_get(struct eg_store_conn *c, const char *tenant_id,
                      const char *credential_id, struct eg_credential *out);
int eg_store_cred_scan(struct eg_store_conn *c, const struct eg_cred_filter *f,
                       const struct eg_cursor *after, size_t limit,
                       eg_cred_cb cb, void *ctx);
int eg_store_device_scan(struct eg_store_conn *c, const char *tenant_id,
                         const struct eg_cursor *after, size_t limit,
                         eg_device_cb cb, void *ctx);
int eg_store_audit_scan(struct eg_store_conn *c, const char *tenant_id,
                        const char *credential_id, int64_t since,
                        int64_t after_seq, size_t limit, eg_audit_cb cb,
                        void *ctx);
int eg_store_idem_get(struct eg_store_conn *c, const char *tenant_id,
                      const char *key, struct eg_idem *out);
int eg_store_ping(struct eg_store_conn *c);

/* The read cache of single credentials (C32, store/cache.h): gives s a
 * table of about `bytes` that eg_store_cred_get reads first. Call before any
 * other thread uses s. Returns false, and keeps no cache, when bytes is 0 or
 * the backend cannot tell other processes' changes (PostgreSQL, where other
 * nodes write too: C29). */
bool eg_store_cache_enable(struct eg_store *s, size_t bytes);

/* Flush the read cache of c's store when a connection other than c changed
 * a credential since c last looked (a new audit record, see audit_head), or
 * when that cannot be read; other changes (keys, accounts, profiles) leave
 * it alone. The one thread that applies the writes of a process with a
 * cache (the group-commit writer) calls it at least every
 * EG_STORE_WATCH_MS; its own commits do not count. */
#define EG_STORE_WATCH_MS 20
/* Returns false when the store keeps no cache, so there is nothing to watch. */
bool eg_store_watch(struct eg_store_conn *c);

/* Stop using the read cache of s (the writer has no connection to watch
 * the store with); does nothing when s has none. */
void eg_store_cache_off(struct eg_store *s);

/* The read cache's counters; false when s has no cache. */
struct eg_ccache_stats;
bool eg_store_cache_stats(struct eg_store *s, struct eg_ccache_stats *out);

/* True when calls on s may wait on the network (see the backend's remote). */
bool eg_store_remote(const struct eg_store *s);

/* The backends linked into this binary. */
extern const struct eg_store_backend eg_store_sqlite;

#endif
