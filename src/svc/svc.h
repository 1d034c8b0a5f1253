/*
 * svc.h - the service layer: the rules of every operation (validation, status,
 * lifecycle, auth, audit), in plain C. No HTTP, no SQL, no JSON here: front
 * ends turn their input into the structs below, call these functions, and
 * render what comes back (CONTRACT C31).
 *
 * Reads run on the calling thread's own store connection. Writes are prepared
 * here (validated, ids and times assigned, audit actor attached) as a struct
 * eg_write, and then submitted with eg_svc_submit: to the group-commit writer
 * when the service runs one (the server), else applied at once (the CLI).
 */
#ifndef EG_SVC_SVC_H
#define EG_SVC_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "store/store.h"
#include "store/writer.h"

/* Who is calling: the tenant, and the key and account that proved it. */
struct eg_principal {
    char tenant_id[EG_ID_MAX];
    char key_id[EG_ID_MAX];
    char username[EG_USERNAME_MAX];
};

struct eg_auth;
struct eg_flights;

struct eg_svc {
    struct eg_store *store;
    struct eg_writer *writer; /* NULL: writes are applied on the caller */
    struct eg_auth *auth;     /* NULL outside the server */
    struct eg_flights *flights; /* idempotency keys in flight (C22); NULL
                                   where there is no Idempotency-Key */
    int64_t idem_ttl_ms;        /* how long a 201 is replayed (C22) */
};

/* ---- idempotent create (svc/idem.c, C22) ---- */

#define EG_IDEM_REPLAY 1

/* Start tracking idempotency keys in flight for svc, with records kept for
 * ttl_s seconds. */
void eg_svc_idem_init(struct eg_svc *svc, unsigned ttl_s);
void eg_svc_idem_free(struct eg_svc *svc);

/*
 * Judge an Idempotency-Key for a create by p with the raw body bytes. Returns
 * EG_IDEM_REPLAY with *rec filled (the original answer) when an unexpired
 * record of the key has the same body; 0 when the create is new: the key is
 * then claimed (rec has key and body hash set) until eg_svc_idem_release;
 * or an error: EG_EBADREQUEST (a key that is not 1..255 printable ASCII
 * characters), EG_EIDEMREUSED (other body bytes), EG_EINFLIGHT (a request
 * with the key is in flight). May block on a store read.
 */
int eg_svc_idem_begin(struct eg_svc *svc, const struct eg_principal *p,
                      const char *key, const char *body, size_t len,
                      struct eg_idem *rec, struct eg_error *err);

/* Release the claim of eg_svc_idem_begin (after the create is answered). */
void eg_svc_idem_release(struct eg_svc *svc, const struct eg_principal *p,
                         const char *key);

/* Submit a prepared write. With a writer, w->done(w) runs on the writer's
 * completer thread once durable; without, the write is applied and w->done(w) called before
 * this returns. */
void eg_svc_submit(struct eg_svc *svc, struct eg_write *w);

/* Submit w and wait until it is durable; returns w->rc. For callers that may
 * block (CLI, MCP). Overwrites w->done and w->ctx. */
int eg_svc_write_sync(struct eg_svc *svc, struct eg_write *w);

/* ---- credentials (svc/credentials.c) ---- */

/* A field of the create body: absent, or a string (already checked to be a
 * string by the front end; any other JSON type is the front end's 400). */
struct eg_str {
    bool present;
    const char *s;
    size_t len;
};

struct eg_cred_input {
    struct eg_str user_id, user_email, user_name, access_profile, valid_from,
        valid_to;
};

/* The status of c at instant now (C17). */
enum eg_cred_status eg_cred_status(const struct eg_credential *c, int64_t now);
const char *eg_cred_status_name(enum eg_cred_status s);

/* Validate in (C13, C14) for principal p and fill w as an EG_W_CRED_CREATE
 * with a new id and the creation time. Returns 0 or an error in err
 * (EG_EBADREQUEST naming the field, EG_EUNKNOWNPROFILE). May block on a
 * store read. */
int eg_svc_cred_prepare_create(struct eg_svc *svc, const struct eg_principal *p,
                               const struct eg_cred_input *in,
                               const char *request_id, struct eg_write *w,
                               struct eg_error *err);

/* Fill w as an EG_W_CRED_REVOKE of credential `id` (C19). Returns 0, or
 * EG_ENOTFOUND when id cannot be a credential id (C12). */
int eg_svc_cred_prepare_revoke(const struct eg_principal *p, const char *id,
                               const char *request_id, struct eg_write *w,
                               struct eg_error *err);

/* Read credential `id` of p's tenant into out. EG_ENOTFOUND for an id of the
 * wrong shape, of another tenant or unknown (C11, C12). */
int eg_svc_cred_get(struct eg_svc *svc, const struct eg_principal *p,
                    const char *id, struct eg_credential *out,
                    struct eg_error *err);

/* True when id has the shape of a credential id (C12). */
bool eg_cred_id_valid(const char *id);

/* A list in progress: filter and position. Lists are read page by page, each
 * page its own short read, so a long list never pins the store (C20). */
struct eg_list {
    char tenant_id[EG_ID_MAX];
    enum eg_cred_status status;
    bool has_user;
    char user_id[EG_USER_ID_MAX];
    int64_t now;
    struct eg_cursor after;
    bool done;
    bool paged;       /* a limit was given (C21) */
    size_t remaining; /* items still to return; SIZE_MAX without a limit */
    bool has_more;    /* paged, done, and more items remain after `after` */
    size_t delivered; /* items passed to callbacks so far */
};

#define EG_LIST_LIMIT_MAX 1000
#define EG_CURSOR_TEXT_MAX 128

/* Begin listing p's credentials (C20, C21). status NULL = Active; a status
 * other than Active, Revoked, Expired is EG_EBADREQUEST naming it. limit
 * (NULL = the whole list) is 1..EG_LIST_LIMIT_MAX; cursor (NULL = from the
 * start) is a nextCursor of an earlier page; either malformed is
 * EG_EBADREQUEST naming it. */
int eg_svc_cred_list_begin(const struct eg_principal *p, const char *status,
                           const char *user_id, const char *limit,
                           const char *cursor, struct eg_list *l,
                           struct eg_error *err);

/* The nextCursor of a finished page (l->has_more), as opaque URL-safe text. */
void eg_svc_list_cursor(const struct eg_list *l, char out[EG_CURSOR_TEXT_MAX]);

/* Pass up to `max` next credentials of l to cb, in order. Returns 0 (l->done
 * set at the end) or an error. */
int eg_svc_cred_list_next(struct eg_svc *svc, struct eg_list *l, size_t max,
                          eg_cred_cb cb, void *ctx);

/* The same for devices (C23). */
void eg_svc_device_list_begin(const struct eg_principal *p, struct eg_list *l);
int eg_svc_device_list_next(struct eg_svc *svc, struct eg_list *l, size_t max,
                            eg_device_cb cb, void *ctx);

/* ---- the admin surface (svc/admin.c) ---- */

#define EG_SUBKEY_MAX 72  /* a subscription key as text, NUL included */
#define EG_PASSWORD_MAX 129

/* Each returns 0 or an EG_E* with a message for a person in err, and leaves
 * nothing half-made. Secrets come back in caller buffers, to be shown once and
 * wiped by the caller. */
int eg_svc_tenant_create(struct eg_svc *svc, const char *name,
                         struct eg_tenant *out, struct eg_error *err);
int eg_svc_key_create(struct eg_svc *svc, const char *tenant_id,
                      struct eg_key *out, char secret[EG_SUBKEY_MAX],
                      struct eg_error *err);
int eg_svc_key_revoke(struct eg_svc *svc, const char *key_id,
                      struct eg_error *err);
/* Give the active key key_id a new secret (C10), shown once. */
int eg_svc_key_rotate(struct eg_svc *svc, const char *key_id,
                      struct eg_key *out, char secret[EG_SUBKEY_MAX],
                      struct eg_error *err);
/* The keys of a tenant (never a secret), oldest first. */
int eg_svc_key_list(struct eg_svc *svc, const char *tenant_id, eg_key_cb cb,
                    void *ctx, struct eg_error *err);
/* password NULL: generate one into password_out. */
int eg_svc_account_create(struct eg_svc *svc, const char *tenant_id,
                          const char *username, const char *password,
                          char password_out[EG_PASSWORD_MAX],
                          struct eg_error *err);
int eg_svc_account_remove(struct eg_svc *svc, const char *tenant_id,
                          const char *username, struct eg_error *err);
/* A new password for an account (C10): password NULL = generate one into
 * password_out. */
int eg_svc_account_passwd(struct eg_svc *svc, const char *tenant_id,
                          const char *username, const char *password,
                          char password_out[EG_PASSWORD_MAX],
                          struct eg_error *err);
int eg_svc_profile_create(struct eg_svc *svc, const char *tenant_id,
                          const char *profile_id, const char *name,
                          struct eg_error *err);
int eg_svc_device_add(struct eg_svc *svc, struct eg_device *d,
                      struct eg_error *err);
int eg_svc_device_remove(struct eg_svc *svc, const char *tenant_id,
                         const char *device_id, struct eg_error *err);

/* Pass the audit records of a tenant to cb, oldest first (C28): of one
 * credential when credential_id is not NULL, at or after `since` (RFC 3339,
 * NULL = all), at most `limit` (decimal text, NULL = all). A malformed since
 * or limit is EG_EBADREQUEST naming it; an unknown tenant EG_ENOTFOUND. */
int eg_svc_audit_list(struct eg_svc *svc, const char *tenant_id,
                      const char *credential_id, const char *since,
                      const char *limit, eg_audit_cb cb, void *ctx,
                      struct eg_error *err);

/* The bulk loader (C31): create `count` credentials in the tenant through the
 * same validation and store writes as the API, audit records included, in
 * transactions of `batch` writes. User ids are "<prefix>-<n mod users>"
 * (users >= 1), every credential grants `profile`. progress (may be NULL)
 * is called after each committed batch. Returns 0 or an error; *made says
 * how many were committed. */
int eg_svc_seed(struct eg_svc *svc, const char *tenant_id, const char *profile,
                const char *prefix, size_t count, size_t users, size_t batch,
                void (*progress)(size_t made, size_t count), size_t *made,
                struct eg_error *err);

/* True when model is one of the spec's EngageDevice models. */
bool eg_device_model_valid(const char *model);
extern const char *const eg_device_models[];

#endif
