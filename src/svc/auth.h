/*
 * auth.h - authentication of a request (C6-C8).
 *
 * A request proves itself with a subscription key AND a Basic Auth account of
 * the same tenant. Verifying a password costs an Argon2id hash, so a verified
 * (key, Authorization) pair is cached in memory under a keyed hash of the
 * pair; an entry is trusted only while the store's auth generation is the one
 * it was verified under (a key or account change anywhere bumps it), and for
 * at most the cache lifetime. A watcher thread reads the generation every
 * 200 ms, so a key revoked by the CLI in another process is refused within 1 s.
 *
 * eg_auth_check answers from the cache without blocking; on a miss the caller
 * runs eg_auth_verify (which blocks for the hash) where it stalls no other
 * client, then checks again.
 */
#ifndef EG_SVC_AUTH_H
#define EG_SVC_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "svc/svc.h"

#define EG_AUTH_NEED_VERIFY 1
#define EG_AUTH_OK_REFRESH 2

/* What a verification needs, copied out of the request. Wiped after use. */
struct eg_auth_pending {
    uint8_t tag[32]; /* the cache key: keyed hash of the header pair */
    char key[EG_SUBKEY_MAX];
    char username[EG_USERNAME_MAX];
    char password[EG_PASSWORD_MAX];
    bool refresh;                  /* verify even though the pair is cached */
    int result;                    /* set by eg_auth_verify */
    struct eg_principal principal; /* set by eg_auth_verify on success */
};

struct eg_auth_stats {
    uint64_t cache_hits, cache_misses, argon2_verifications, failures;
    uint64_t stale_hits; /* of cache_hits: served while verified again after
                            the generation moved */
    int64_t generation;  /* the auth generation the watcher last read */
};

/* Create the auth state of a server on store s, with the cache lifetime in
 * seconds, and start the generation watcher. Returns 0 or an EG_E*. */
int eg_auth_new(struct eg_store *s, unsigned cache_ttl_s, struct eg_auth **out);
void eg_auth_free(struct eg_auth *a);

/*
 * Judge the two header values (either may be NULL when absent). Returns 0 with
 * *p filled (a cached pair), EG_EUNAUTHORIZED with a message in err, or
 * EG_AUTH_NEED_VERIFY with *pend filled: then call eg_auth_verify(pend).
 * EG_AUTH_OK_REFRESH is a cache hit (*p filled) whose entry is near the end
 * of its lifetime, or was verified before the auth generation last moved
 * (answered so for 500 ms at most): *pend is filled too, for eg_auth_verify
 * to check the pair again in the background, so that no request waits for
 * the expiry or for another tenant's change (only one request per entry is
 * asked to; a failed check drops the entry). Never blocks.
 */
int eg_auth_check(struct eg_auth *a, const char *key_hdr, const char *authz_hdr,
                  struct eg_principal *p, struct eg_auth_pending *pend,
                  struct eg_error *err);

/* Verify pend against the store (blocks for an Argon2id hash, on a thread
 * where that stalls nobody), cache the pair on success, wipe the secrets in
 * pend, and return pend->result: 0 with pend->principal, or
 * EG_EUNAUTHORIZED. */
int eg_auth_verify(struct eg_auth *a, struct eg_auth_pending *pend);

/* Throttling of failed authentication (C9): at most `limit` failed
 * verifications per client address, and per subscription key, in a window of
 * `window_s` seconds; past that, further verifications are refused until the
 * window ends. limit 0 turns throttling off. */
void eg_auth_set_throttle(struct eg_auth *a, unsigned limit, unsigned window_s);

/* 0 when a verification for (client, key_hdr) may run, else the seconds
 * until it may (for Retry-After). Never blocks. */
unsigned eg_auth_throttled(struct eg_auth *a, const char *client,
                           const char *key_hdr);

/* Count a failed verification against client and key_hdr. */
void eg_auth_failed(struct eg_auth *a, const char *client, const char *key_hdr);

/* Per-key request rate limits (C9, off by default): a token bucket of `burst`
 * requests refilled at `rps` a second for each key. rps 0 turns it off. */
void eg_auth_set_rate(struct eg_auth *a, unsigned rps, unsigned burst);

/* Take one request from key_id's bucket: 0 when allowed, else the seconds
 * until one is (for Retry-After). Never blocks. */
unsigned eg_auth_rate_take(struct eg_auth *a, const char *key_id);

/* Fill err with the one message of every wrong-secret case (C6). */
int eg_auth_denied(struct eg_error *err);

void eg_auth_get_stats(struct eg_auth *a, struct eg_auth_stats *st);

/* True when the store answered the watcher's last read, less than 2 s ago
 * (readiness, without a round trip on the caller's thread). */
bool eg_auth_store_ok(struct eg_auth *a);

/* BLAKE2b-256 of a subscription key, as the store keeps it (C7). */
void eg_auth_key_hash(const char *key, size_t len, uint8_t out[32]);

/* Argon2id hash of a password (at least libsodium's INTERACTIVE limits) into
 * out (EG_PWHASH_MAX bytes). Returns 0 or EG_EINTERNAL. */
int eg_auth_password_hash(const char *password, char out[EG_PWHASH_MAX]);

#endif
