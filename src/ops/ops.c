/*
 * ops.c - the rows of the operation table and the functions that run them
 * through the service layer. The table is the single source the HTTP router
 * (and the MCP tool list) derive from.
 */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"

static const char *const status_enum[] = {"Active", "Revoked", "Expired",
                                          NULL};

static int run_list(struct eg_call *call)
{
    const struct eg_op *op = call->op;
    const char *const *a = call->args;
    call->now = eg_time_now();
    if (eg_svc_cred_list_begin(&call->principal,
                               a[eg_op_param_index(op, "status")],
                               a[eg_op_param_index(op, "userId")],
                               a[eg_op_param_index(op, "limit")],
                               a[eg_op_param_index(op, "cursor")], &call->list,
                               &call->err) != 0)
        return 0;
    call->now = call->list.now;
    return 0;
}

static void write_done(struct eg_write *w)
{
    struct eg_call *call = w->ctx;
    if (call->idem_claimed) {
        eg_svc_idem_release(call->svc, &call->principal, call->idem_key);
        call->idem_claimed = false;
    }
    if (w->rc == EG_ECONFLICT && call->idem != NULL)
        /* Another node kept a record of the key first (C22). */
        eg_error_set(&call->err, EG_EINFLIGHT, NULL);
    else if (w->rc == EG_ENOTFOUND)
        eg_error_set(&call->err, EG_ENOTFOUND, "Credential not found.");
    else if (w->rc != 0)
        eg_error_set(&call->err, w->rc, NULL);
    else
        call->cred = w->u.cred;
    call->now = eg_time_now();
    call->done(call);
}

static int submit(struct eg_call *call)
{
    call->write.done = write_done;
    call->write.ctx = call;
    if (call->suspend != NULL)
        call->suspend(call);
    eg_svc_submit(call->svc, &call->write);
    return EG_OP_ASYNC;
}

void eg_call_cleanup(struct eg_call *call)
{
    if (call->idem_claimed) {
        eg_svc_idem_release(call->svc, &call->principal, call->idem_key);
        call->idem_claimed = false;
    }
    free(call->idem);
    call->idem = NULL;
}

/* Keep the exact 201 body of a new credential in its idempotency record. */
static int render_first_answer(struct eg_call *call)
{
    struct eg_idem *rec = call->idem;
    const struct eg_credential *c = &call->write.u.cred;
    struct eg_buf b;
    eg_buf_init(&b, sizeof(rec->response));
    int rc = eg_json_credential_append(&b, c, c->created_at);
    if (rc == 0) {
        memcpy(rec->response, b.data, b.len);
        rec->response_len = b.len;
        eg_strlcpy(rec->credential_id, c->credential_id,
                   sizeof(rec->credential_id));
        rec->created_at = c->created_at;
        call->write.idem = rec;
    }
    eg_buf_free(&b);
    return rc == 0 ? 0 : eg_error_set(&call->err, EG_EINTERNAL, NULL);
}

static int run_upload(struct eg_call *call)
{
    struct eg_cred_input in;
    if (call->idem_key != NULL) {
        call->idem = malloc(sizeof(*call->idem));
        if (call->idem == NULL)
            abort();
        int rc = eg_svc_idem_begin(call->svc, &call->principal,
                                   call->idem_key, call->raw_body,
                                   call->raw_len, call->idem, &call->err);
        if (rc == EG_IDEM_REPLAY) {
            call->replayed = true;
            eg_strlcpy(call->cred.credential_id, call->idem->credential_id,
                       sizeof(call->cred.credential_id));
            return 0;
        }
        if (rc != 0)
            return 0;
        call->idem_claimed = true;
    }
    if (eg_json_cred_input(call->body, &in, &call->err) != 0 ||
        eg_svc_cred_prepare_create(call->svc, &call->principal, &in,
                                   call->request_id, &call->write,
                                   &call->err) != 0 ||
        (call->idem != NULL && render_first_answer(call) != 0)) {
        eg_call_cleanup(call);
        return 0;
    }
    return submit(call);
}

static int run_get(struct eg_call *call)
{
    call->now = eg_time_now();
    eg_svc_cred_get(call->svc, &call->principal, call->args[0], &call->cred,
                    &call->err);
    return 0;
}

static int run_delete(struct eg_call *call)
{
    if (eg_svc_cred_prepare_revoke(&call->principal, call->args[0],
                                   call->request_id, &call->write,
                                   &call->err) != 0)
        return 0;
    return submit(call);
}

static int run_devices(struct eg_call *call)
{
    eg_svc_device_list_begin(&call->principal, &call->list);
    return 0;
}

#define CRED_ID_PARAM                                                          \
    {"credentialId", EG_IN_PATH, "The credential's id.", NULL }

const struct eg_op eg_ops[] = {
    {
        .name = "listCredentials",
        .method = "GET",
        .path = "/credentials",
        .summary = "List Active Mobile Credentials",
        .description = "Returns the active mobile credentials in the "
                       "integrator's ENGAGE tenant.",
        .params = {{"userId", EG_IN_QUERY, "Filter by ACS user identifier.",
                    NULL},
                   {"status", EG_IN_QUERY,
                    "Active (the default), Revoked or Expired.", status_enum},
                   {"limit", EG_IN_QUERY,
                    "At most this many items (1-1000); the answer then has "
                    "nextCursor when more remain (C21).",
                    NULL, true},
                   {"cursor", EG_IN_QUERY,
                    "The nextCursor of the previous page.", NULL}},
        .nparams = 4,
        .read_only = true,
        .idempotent = true,
        .credential = true,
        .success_status = 200,
        .result = EG_RES_CRED_LIST,
        .run = run_list,
    },
    {
        .name = "uploadCredential",
        .method = "POST",
        .path = "/credentials",
        .summary = "Upload Mobile Credential",
        .description = "Create (upload) a mobile credential for an ACS user.",
        .has_body = true,
        .body_schema = eg_schema_credential_create,
        .credential = true,
        .success_status = 201,
        .result = EG_RES_CREDENTIAL,
        .run = run_upload,
    },
    {
        .name = "getCredential",
        .method = "GET",
        .path = "/credentials/{credentialId}",
        .summary = "Get Mobile Credential",
        .description = "Returns one mobile credential of the tenant.",
        .params = {CRED_ID_PARAM},
        .nparams = 1,
        .read_only = true,
        .idempotent = true,
        .credential = true,
        .success_status = 200,
        .result = EG_RES_CREDENTIAL,
        .run = run_get,
    },
    {
        .name = "deleteCredential",
        .method = "DELETE",
        .path = "/credentials/{credentialId}",
        .summary = "Delete Mobile Credential",
        .description = "Revoke (delete) a mobile credential. Subsequent unlock "
                       "attempts using the credential will be denied.",
        .params = {CRED_ID_PARAM},
        .nparams = 1,
        .destructive = true,
        .idempotent = true,
        .credential = true,
        .success_status = 204,
        .result = EG_RES_NONE,
        .run = run_delete,
    },
    {
        .name = "listEngageDevices",
        .method = "GET",
        .path = "/devices",
        .summary = "List ENGAGE Devices",
        .description = "List ENGAGE hardware enrolled in the integrator's "
                       "tenant.",
        .read_only = true,
        .idempotent = true,
        .success_status = 200,
        .result = EG_RES_DEVICE_LIST,
        .run = run_devices,
    },
};
const size_t eg_ops_count = sizeof(eg_ops) / sizeof(eg_ops[0]);

int eg_op_run(struct eg_call *call)
{
    memset(&call->err, 0, sizeof(call->err));
    return call->op->run(call);
}

int eg_op_param_index(const struct eg_op *op, const char *name)
{
    for (size_t i = 0; i < op->nparams; i++)
        if (strcmp(op->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Match path against pattern segment by segment; a "{x}" segment takes any
 * non-empty segment, copied into idbuf. */
static bool match(const char *pattern, const char *path, const char **id,
                  char *idbuf, size_t idlen)
{
    *id = NULL;
    while (*pattern != '\0' && *path != '\0') {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        const char *pend = strchr(pattern, '/');
        size_t plen = pend ? (size_t)(pend - pattern) : strlen(pattern);
        const char *send = strchr(path, '/');
        size_t slen = send ? (size_t)(send - path) : strlen(path);
        if (plen > 0 && pattern[0] == '{') {
            if (slen == 0)
                return false;
            /* An overlong id cannot be one; keep a marker that no valid id
             * matches (C12). */
            size_t n = slen < idlen - 1 ? slen : 0;
            memcpy(idbuf, path, n);
            idbuf[n] = '\0';
            *id = idbuf;
        } else if (plen != slen || strncmp(pattern, path, plen) != 0) {
            return false;
        }
        pattern += plen;
        path += slen;
    }
    return *pattern == '\0' && *path == '\0';
}

const struct eg_op *eg_op_route(const char *method, const char *path,
                                const char **args, char *idbuf, size_t idlen,
                                bool *path_known, char *allow, size_t allowlen)
{
    const struct eg_op *found = NULL;
    *path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < eg_ops_count; i++) {
        const struct eg_op *op = &eg_ops[i];
        const char *id;
        if (!match(op->path, path, &id, idbuf, idlen))
            continue;
        *path_known = true;
        size_t used = strlen(allow);
        snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "",
                 op->method);
        if (strcmp(op->method, method) == 0) {
            found = op;
            for (size_t k = 0; k < EG_OP_MAX_PARAMS; k++)
                args[k] = NULL;
            if (id != NULL)
                args[0] = id;
        }
    }
    return found;
}
