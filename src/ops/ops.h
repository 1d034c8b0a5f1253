/*
 * ops.h - the operation table: one row per API operation, and the one JSON
 * form of each resource and error (DESIGN "One operation table").
 *
 * The HTTP router and the MCP tool list are derived from eg_ops[]: a
 * row names the operation (the spec's operationId), its method and path, its
 * parameters, whether it takes a body, what it answers, and the function that
 * runs it through the service layer. Front ends fill a struct eg_call, call
 * eg_op_run, and render the outcome with the helpers below; none of them
 * builds a credential's JSON itself.
 */
#ifndef EG_OPS_OPS_H
#define EG_OPS_OPS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/util.h"
#include "svc/svc.h"

#define EG_OP_MAX_PARAMS 4
#define EG_OP_ASYNC 1 /* eg_op_run went asynchronous: wait for call->done */
#define EG_BODY_MAX 65536 /* C13 */
#define EG_JSON_MAX_DEPTH 32

enum eg_op_result {
    EG_RES_NONE,        /* an empty answer (204) */
    EG_RES_CREDENTIAL,  /* call->cred */
    EG_RES_CRED_LIST,   /* streamed from call->list: {"credentials": [...]} */
    EG_RES_DEVICE_LIST, /* streamed from call->list: {"devices": [...]} */
};

enum eg_param_in { EG_IN_PATH, EG_IN_QUERY };

struct eg_param {
    const char *name;
    enum eg_param_in in;
    const char *description;
    const char *const *enum_values; /* NULL-terminated, or NULL */
    bool integer; /* a whole number (decimal text in a query); else a string */
};

struct eg_call;

struct eg_op {
    const char *name;   /* operationId */
    const char *method; /* "GET", "POST", "DELETE" */
    const char *path;   /* under the base path, "{name}" for a path param */
    const char *summary;
    const char *description;
    struct eg_param params[EG_OP_MAX_PARAMS];
    size_t nparams;
    bool has_body;    /* a JSON body (MobileCredentialCreate) */
    /* has_body: the JSON Schema of the body (new reference), for front ends
     * that describe their input (the MCP tool list). */
    json_t *(*body_schema)(void);
    bool read_only;   /* changes nothing */
    bool destructive; /* revokes */
    bool idempotent;  /* repeating it changes nothing more */
    bool credential;  /* a credential operation (Cache-Control, C4) */
    int success_status;
    enum eg_op_result result;
    /* Run the call; 0 when finished (result or call->err), or EG_OP_ASYNC. */
    int (*run)(struct eg_call *call);
};

extern const struct eg_op eg_ops[];
extern const size_t eg_ops_count;

struct eg_call {
    /* in: filled by the front end */
    const struct eg_op *op;
    struct eg_svc *svc;
    struct eg_principal principal;
    const char *args[EG_OP_MAX_PARAMS]; /* by index of op->params; NULL=absent */
    json_t *body;                       /* borrowed; ops with has_body */
    const char *request_id;
    const char *idem_key; /* Idempotency-Key (C22), NULL = none */
    const char *raw_body; /* the body bytes, for the idempotency hash */
    size_t raw_len;
    /* Called (when set) right before the call goes asynchronous, so a front
     * end can park its connection before another thread may finish it. */
    void (*suspend)(struct eg_call *call);
    /* Called on another thread when an asynchronous call has finished. */
    void (*done)(struct eg_call *call);
    void *ctx;
    /* out */
    struct eg_error err;       /* err.err != 0: the call failed */
    struct eg_credential cred; /* EG_RES_CREDENTIAL */
    struct eg_list list;       /* the list results */
    int64_t now;               /* the instant status is derived at */
    /* With an Idempotency-Key: the 201 body to send, byte for byte (the
     * first answer and every replay), and whether this is a replay. */
    struct eg_idem *idem;
    bool replayed;
    /* private */
    bool idem_claimed;
    struct eg_write write;
};

/* Free what a call holds (its idempotency record). Front ends call it once
 * the answer is sent. */
void eg_call_cleanup(struct eg_call *call);

/* Run call->op. Returns 0 when finished or EG_OP_ASYNC (then call->done will
 * be called exactly once, from another thread). */
int eg_op_run(struct eg_call *call);

/* The operation of `method` at `path` (relative to the base path, no query).
 * Returns it and fills call args of path parameters (pointing into idbuf, of
 * idlen bytes), or NULL. *path_known says whether any operation has that path
 * (for 405), and allow gets the allowed methods ("GET, POST"). */
const struct eg_op *eg_op_route(const char *method, const char *path,
                                const char **args, char *idbuf, size_t idlen,
                                bool *path_known, char *allow, size_t allowlen);

/* The index of the parameter `name` of op, or -1. */
int eg_op_param_index(const struct eg_op *op, const char *name);

/* ---- JSON forms (ops/json.c) ---- */

/* Parse a request body: a JSON object with no duplicate keys, valid UTF-8,
 * nesting at most EG_JSON_MAX_DEPTH (C13, C25). Returns 0 with *out (owned)
 * or EG_EBADREQUEST with a message. */
int eg_json_parse_body(const char *buf, size_t len, json_t **out,
                       struct eg_error *err);

/* The fields of a MobileCredentialCreate; a field of the wrong type (null
 * included) is EG_EBADREQUEST naming it. The strings point into body. */
int eg_json_cred_input(json_t *body, struct eg_cred_input *in,
                       struct eg_error *err);

/* Append the MobileCredential form of c at instant now (C15-C17) to b, as
 * compact JSON text. Returns 0 or -1 when b is full. */
int eg_json_credential_append(struct eg_buf *b, const struct eg_credential *c,
                              int64_t now);
/* Append the EngageDevice form of d (C16, C23). Returns 0 or -1. */
int eg_json_device_append(struct eg_buf *b, const struct eg_device *d);

/* The same forms as jansson values. New reference. */
/* The MobileCredential form of c at instant now (C15-C17). New reference. */
json_t *eg_json_credential(const struct eg_credential *c, int64_t now);
/* The EngageDevice form of d (C16, C23). New reference. */
json_t *eg_json_device(const struct eg_device *d);
/* The Error form {"code", "message"} of e (C24). New reference. */
json_t *eg_json_error(const struct eg_error *e);

/* Append the serialized JSON value v to b (compact). Returns 0 or -1 when b
 * is full. */
int eg_json_append(struct eg_buf *b, json_t *v);

/* Render the next part of a list result of call into b: the head on the first
 * call, then items (at most one page), then the tail. Returns 1 when more is
 * to come, 0 when the list is complete, or an EG_E* when the store failed. */
int eg_op_list_render(struct eg_call *call, struct eg_buf *b, bool *started);

/* ---- JSON Schemas (ops/schema.c), for surfaces that describe operations
 * (the MCP tool list). Each returns a new reference. ---- */

/* MobileCredentialCreate, the body of uploadCredential. */
json_t *eg_schema_credential_create(void);
/* MobileCredential, as eg_json_credential renders it. */
json_t *eg_schema_credential(void);
/* EngageDevice, as eg_json_device renders it. */
json_t *eg_schema_device(void);

/* The input of op as one JSON object: its path and query parameters as
 * string (or integer) properties (enum when the parameter has enum_values;
 * path parameters required), and for has_body ops the properties and
 * required fields of its body schema. */
json_t *eg_op_input_schema(const struct eg_op *op);

/* The schema of what eg_op_render gives for op. */
json_t *eg_op_output_schema(const struct eg_op *op);

/* ---- whole calls (ops/whole.c), for front ends that answer in one
 * message rather than a stream ---- */

/* Run call to its end on the calling thread: like eg_op_run, but waits (may
 * block until the write is durable) when the call goes asynchronous.
 * Overwrites call->suspend, call->done and call->ctx. Returns 0; the outcome
 * is in call->err or the result fields. */
int eg_op_run_sync(struct eg_call *call);

/* Render the whole result of a finished, successful call into b as JSON
 * text: the body REST answers (lists read to the end, nextCursor included),
 * or, for an operation whose REST answer is empty (204) on a credential, the
 * credential as it stands after the call. Returns 0, or an EG_E* with a
 * message in err: the store failed mid-list, or the text passed `max`
 * bytes (EG_ETOOLARGE). */
int eg_op_render(struct eg_call *call, struct eg_buf *b, size_t max,
                 struct eg_error *err);

#endif
