/*
 * mcp.c - the MCP front end: JSON-RPC 2.0, one message a line, on a pair of
 * file descriptors (MCP's stdio transport).
 *
 * The tools are the rows of eg_ops, described from the table (name, summary,
 * description, input and output schemas from ops/schema.c, annotations from
 * the row's flags) and run as REST runs them: the arguments become a struct
 * eg_call (parameters as args, the body through eg_json_parse_body with the
 * REST body limit; integer parameters as the decimal text a query would
 * carry), eg_op_run_sync runs it through the service layer, and
 * the result is the JSON REST answers, rendered by ops/ (eg_op_render). A
 * failed call is a tool result with isError and the spec's Error object;
 * only faults of the protocol itself are JSON-RPC errors.
 *
 * Requests are answered before `initialize` too (the protocol asks clients,
 * not servers, to keep the order), and batches (2025-03-26) are taken.
 *
 * Invariants: stdout carries nothing but protocol messages, each one line
 * (logs go to stderr); requests are handled one at a time, in order; the
 * session's principal is re-checked through the auth cache before every
 * call, so a key revoked or an account removed meanwhile is refused as it is
 * by REST (C8); the secrets are kept only as the header pair the auth
 * service takes, wiped at the end.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "ops/ops.h"
#include "svc/auth.h"

#define LINE_MAX_BYTES (4 * 1024 * 1024) /* one JSON-RPC message */
#define RESULT_MAX (16 * 1024 * 1024)    /* one tool result's JSON */
#define READ_CHUNK (64 * 1024)

/* JSON-RPC 2.0 error codes. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603

/* The protocol versions spoken, newest first: a client asking for another
 * one is offered the newest. */
static const char *const versions[] = {"2025-06-18", "2025-03-26",
                                       "2024-11-05", NULL};

#define SERVER_VERSION "0.1.0"
#define AUTHZ_MAX                                                              \
    (6 + sodium_base64_ENCODED_LEN(EG_USERNAME_MAX + EG_PASSWORD_MAX,          \
                                   sodium_base64_VARIANT_ORIGINAL))

struct session {
    struct eg_svc svc;
    FILE *out;
    const char *key;       /* the subscription key, as REST's header */
    char authz[AUTHZ_MAX]; /* "Basic base64(username:password)" */
    struct eg_principal principal;
    json_t *tools; /* the tools/list answer's array, made once */
};

struct reader {
    int fd;
    bool eof;
    size_t start, end;
    char buf[READ_CHUNK];
};

/* ---- JSON-RPC messages ---- */

static json_t *rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result",
                     result);
}

/* An error answer; id NULL when the request's id is unknown (null). */
static json_t *rpc_error(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *rpc_error(json_t *id, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *msg = json_vsprintf(fmt, ap);
    va_end(ap);
    if (msg == NULL) /* the text was not UTF-8: say less */
        msg = json_string(code == RPC_PARSE_ERROR ? "Parse error"
                                                  : "Invalid Request");
    json_t *err = json_object();
    json_object_set_new(err, "code", json_integer(code));
    json_object_set_new(err, "message", msg);
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id",
                     id != NULL ? id : json_null(), "error", err);
}

/* ---- auth ---- */

/* The Authorization header REST would get from username and password. */
static int basic_header(const char *username, const char *password, char *out,
                        size_t outlen)
{
    unsigned char raw[EG_USERNAME_MAX + EG_PASSWORD_MAX];
    size_t ul = strlen(username), pl = strlen(password);
    if (ul >= EG_USERNAME_MAX || pl >= EG_PASSWORD_MAX)
        return EG_EUNAUTHORIZED; /* longer than any account's */
    memcpy(raw, username, ul);
    raw[ul] = ':';
    memcpy(raw + ul + 1, password, pl);
    memcpy(out, "Basic ", 6);
    sodium_bin2base64(out + 6, outlen - 6, raw, ul + 1 + pl,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
    return 0;
}

/* Authenticate the session's secrets as REST authenticates a request: from
 * the cache, else with an Argon2id verification (blocking here is fine: the
 * session is this thread's only client). Returns 0 with *p, or an EG_E*
 * with err filled. */
static int authenticate(struct session *s, struct eg_principal *p,
                        struct eg_error *err)
{
    struct eg_auth_pending pend;
    int rc = eg_auth_check(s->svc.auth, s->key, s->authz, p, &pend, err);
    if (rc == EG_AUTH_OK_REFRESH) {
        /* A hit near the end of its life: renew it now (MCP may wait). */
        if (eg_auth_verify(s->svc.auth, &pend) == 0)
            *p = pend.principal;
        rc = 0;
    } else if (rc == EG_AUTH_NEED_VERIFY) {
        rc = eg_auth_verify(s->svc.auth, &pend);
        if (rc == 0)
            *p = pend.principal;
        else if (rc == EG_EUNAUTHORIZED)
            eg_auth_denied(err);
        else
            eg_error_set(err, rc, NULL);
    }
    sodium_memzero(&pend, sizeof(pend));
    return rc;
}

/* ---- tools ---- */

static json_t *tool_of(const struct eg_op *op)
{
    json_t *desc = op->description != NULL
                       ? json_sprintf("%s. %s", op->summary, op->description)
                       : json_string(op->summary);
    json_t *ann = json_pack("{s:s,s:b,s:b,s:b,s:b}", "title", op->summary,
                            "readOnlyHint", op->read_only, "destructiveHint",
                            op->destructive, "idempotentHint", op->idempotent,
                            "openWorldHint", 0);
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "name", op->name, "title",
                     op->summary, "description", desc, "inputSchema",
                     eg_op_input_schema(op), "outputSchema",
                     eg_op_output_schema(op), "annotations", ann);
}

static json_t *tool_list(void)
{
    json_t *tools = json_array();
    for (size_t i = 0; i < eg_ops_count; i++)
        json_array_append_new(tools, tool_of(&eg_ops[i]));
    return tools;
}

/* A tool result: the JSON text as a text item, and parsed as
 * structuredContent. Takes text (len bytes of JSON). */
static json_t *tool_result(const char *text, size_t len, bool is_error)
{
    json_error_t je;
    json_t *structured = json_loadb(text, len, 0, &je);
    if (structured == NULL)
        return NULL;
    json_t *content = json_array();
    json_array_append_new(content, json_pack("{s:s,s:s%}", "type", "text",
                                             "text", text, len));
    return json_pack("{s:o,s:o,s:b}", "content", content, "structuredContent",
                     structured, "isError", is_error);
}

/* The tool result of a failed call: the spec's Error object (C24). */
static json_t *tool_error(const struct eg_error *e, const char *request_id)
{
    if (eg_err_status(e->err) >= 500)
        eg_log(EG_LOG_ERROR, "mcp: request %s: %s (%d)", request_id,
               eg_err_code(e->err), e->err);
    json_t *v = eg_json_error(e);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    json_t *r = tool_result(text, strlen(text), true);
    free(text);
    return r;
}

/* The body of a has_body op: the arguments but the parameters, held to the
 * rules of a REST body (size, nesting, duplicates: C13, C25). */
static int body_of(const struct eg_op *op, json_t *args, json_t **body,
                   struct eg_error *err)
{
    json_t *copy = json_copy(args);
    for (size_t i = 0; i < op->nparams; i++)
        json_object_del(copy, op->params[i].name);
    char *text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    size_t n = strlen(text);
    int rc = n > EG_BODY_MAX ? eg_error_set(err, EG_ETOOLARGE, NULL)
                             : eg_json_parse_body(text, n, body, err);
    free(text);
    return rc;
}

/* Run op with args (an object) as the session's principal; returns the
 * tool result (never NULL). */
static json_t *call_tool(struct session *s, const struct eg_op *op,
                         json_t *args)
{
    struct eg_call call;
    struct eg_error err;
    struct eg_buf out;
    json_t *body = NULL, *res = NULL;
    char rid[EG_REQUEST_ID_MAX];
    char numbers[EG_OP_MAX_PARAMS][32]; /* integer arguments as query text */

    memset(&call, 0, sizeof(call));
    memset(&err, 0, sizeof(err));
    eg_buf_init(&out, SIZE_MAX);
    eg_random_id(rid, sizeof(rid), "mcp-", 16);
    if (authenticate(s, &call.principal, &err) != 0)
        goto out;
    for (size_t i = 0; i < op->nparams; i++) {
        const struct eg_param *p = &op->params[i];
        json_t *v = json_object_get(args, p->name);
        if (v == NULL && p->in == EG_IN_PATH) {
            eg_error_set(&err, EG_EBADREQUEST, "%s is required.", p->name);
            goto out;
        }
        if (v != NULL && p->integer) {
            if (!json_is_integer(v)) {
                eg_error_set(&err, EG_EBADREQUEST, "%s must be an integer.",
                             p->name);
                goto out;
            }
            snprintf(numbers[i], sizeof(numbers[i]), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            call.args[i] = numbers[i];
            continue;
        }
        if (v != NULL && !json_is_string(v)) {
            eg_error_set(&err, EG_EBADREQUEST, "%s must be a string.", p->name);
            goto out;
        }
        call.args[i] = json_string_value(v);
    }
    if (op->has_body && body_of(op, args, &body, &err) != 0)
        goto out;
    call.op = op;
    call.svc = &s->svc;
    call.body = body;
    call.request_id = rid;
    eg_op_run_sync(&call);
    if (call.err.err != 0) {
        err = call.err;
        goto out;
    }
    if (eg_op_render(&call, &out, RESULT_MAX, &err) != 0)
        goto out;
    res = tool_result(out.data, out.len, false);
    if (res == NULL)
        eg_error_set(&err, EG_EINTERNAL, NULL);
out:
    if (res == NULL)
        res = tool_error(&err, rid);
    eg_call_cleanup(&call);
    json_decref(body);
    eg_buf_free(&out);
    return res;
}

/* ---- methods ---- */

static json_t *initialize(json_t *id, json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    if (asked == NULL)
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "initialize needs params.protocolVersion (a "
                         "string).");
    const char *version = versions[0];
    for (size_t i = 0; versions[i] != NULL; i++)
        if (strcmp(asked, versions[i]) == 0)
            version = versions[i];
    eg_log(EG_LOG_INFO, "mcp: initialized, protocol %s", version);
    json_t *result = json_pack(
        "{s:s,s:{s:{s:b}},s:{s:s,s:s,s:s},s:s}", "protocolVersion", version,
        "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
        "engage", "title", "ENGAGE Cloud Credentialing API", "version",
        SERVER_VERSION, "instructions",
        "Upload, list, get and revoke the BLE mobile credentials of one "
        "ENGAGE tenant, and list its devices. Every tool acts as the tenant "
        "account this server was started with, and every change is audited "
        "under it. A failed call answers isError with the API's Error object "
        "{code, message}.");
    return rpc_result(id, result);
}

static json_t *tools_list(struct session *s, json_t *id, json_t *params)
{
    json_t *cursor = json_object_get(params, "cursor");
    if (cursor != NULL && !json_is_null(cursor))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid cursor: the tool list has one page.");
    return rpc_result(id, json_pack("{s:O}", "tools", s->tools));
}

static json_t *tools_call(struct session *s, json_t *id, json_t *params)
{
    json_t *name = json_object_get(params, "name");
    if (!json_is_string(name))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "tools/call needs params.name, the tool's name.");
    const struct eg_op *op = NULL;
    for (size_t i = 0; i < eg_ops_count && op == NULL; i++)
        if (strcmp(eg_ops[i].name, json_string_value(name)) == 0)
            op = &eg_ops[i];
    if (op == NULL)
        return rpc_error(id, RPC_INVALID_PARAMS, "Unknown tool: %s",
                         json_string_value(name));
    json_t *args = json_object_get(params, "arguments");
    if (args != NULL && !json_is_null(args) && !json_is_object(args))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "params.arguments must be an object.");
    json_t *empty = NULL;
    if (!json_is_object(args)) {
        empty = json_object();
        args = empty;
    }
    json_t *result = call_tool(s, op, args);
    json_decref(empty);
    return rpc_result(id, result);
}

/* Answer one message: a response, or NULL for a notification (or a
 * response from the client, which is never asked anything). */
static json_t *handle(struct session *s, json_t *msg)
{
    if (!json_is_object(msg))
        return rpc_error(NULL, RPC_INVALID_REQUEST,
                         "Invalid Request: a message is a JSON object.");
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    json_t *params = json_object_get(msg, "params");
    bool id_ok = json_is_string(id) || json_is_number(id);
    json_t *reply_id = id_ok ? id : NULL;
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));

    if (jsonrpc == NULL || strcmp(jsonrpc, "2.0") != 0)
        return rpc_error(reply_id, RPC_INVALID_REQUEST,
                         "Invalid Request: jsonrpc must be \"2.0\".");
    if (id != NULL && !id_ok)
        return rpc_error(NULL, RPC_INVALID_REQUEST,
                         "Invalid Request: id must be a string or a number.");
    if (method == NULL) {
        if (id != NULL && (json_object_get(msg, "result") != NULL ||
                           json_object_get(msg, "error") != NULL))
            return NULL;
        return rpc_error(reply_id, RPC_INVALID_REQUEST,
                         "Invalid Request: method is missing.");
    }
    if (!json_is_string(method))
        return rpc_error(reply_id, RPC_INVALID_REQUEST,
                         "Invalid Request: method must be a string.");
    const char *m = json_string_value(method);
    if (id == NULL) {
        /* A notification: never answered. notifications/initialized and
         * notifications/cancelled need nothing (calls run one at a time). */
        if (strncmp(m, "notifications/", 14) != 0)
            eg_log(EG_LOG_WARN, "mcp: a request without an id was ignored");
        return NULL;
    }
    if (params != NULL && !json_is_object(params))
        return rpc_error(id, json_is_array(params) ? RPC_INVALID_PARAMS
                                                   : RPC_INVALID_REQUEST,
                         "params must be an object.");
    if (strcmp(m, "initialize") == 0)
        return initialize(id, params);
    if (strcmp(m, "ping") == 0)
        return rpc_result(id, json_object());
    if (strcmp(m, "tools/list") == 0)
        return tools_list(s, id, params);
    if (strcmp(m, "tools/call") == 0)
        return tools_call(s, id, params);
    return rpc_error(id, RPC_METHOD_NOT_FOUND, "Method not found: %s", m);
}

/* Answer one line: a message, or a batch of them (2025-03-26). */
static json_t *handle_line(struct session *s, struct eg_buf *line)
{
    size_t n = line->len;
    while (n > 0 && (line->data[n - 1] == '\r' || line->data[n - 1] == ' ' ||
                     line->data[n - 1] == '\t'))
        n--;
    if (n == 0)
        return NULL;
    json_error_t je;
    json_t *msg = json_loadb(line->data, n,
                             JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (msg == NULL)
        return rpc_error(NULL, RPC_PARSE_ERROR, "Parse error: %s", je.text);
    json_t *answer;
    if (!json_is_array(msg)) {
        answer = handle(s, msg);
    } else if (json_array_size(msg) == 0) {
        answer = rpc_error(NULL, RPC_INVALID_REQUEST,
                           "Invalid Request: an empty batch.");
    } else {
        answer = json_array();
        for (size_t i = 0; i < json_array_size(msg); i++) {
            json_t *a = handle(s, json_array_get(msg, i));
            if (a != NULL)
                json_array_append_new(answer, a);
        }
        if (json_array_size(answer) == 0) {
            json_decref(answer);
            answer = NULL;
        }
    }
    json_decref(msg);
    return answer;
}

/* ---- the transport ---- */

/* Read the next line (without its newline) into line, whose cap is the
 * longest message taken. Returns 1 for a line, 2 for a line over the cap
 * (read and dropped), 0 at the end of input, -1 when reading failed. */
static int read_line(struct reader *r, struct eg_buf *line)
{
    bool over = false, any = false;
    eg_buf_reset(line);
    for (;;) {
        if (r->start < r->end) {
            char *p = r->buf + r->start;
            size_t n = r->end - r->start;
            char *nl = memchr(p, '\n', n);
            size_t take = nl != NULL ? (size_t)(nl - p) : n;
            any = true;
            if (!over && eg_buf_add(line, p, take) != 0)
                over = true;
            r->start += take;
            if (nl != NULL) {
                r->start++;
                return over ? 2 : 1;
            }
            continue;
        }
        if (r->eof)
            return any ? (over ? 2 : 1) : 0;
        ssize_t got = read(r->fd, r->buf, sizeof(r->buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        r->start = 0;
        r->end = (size_t)got;
        r->eof = got == 0;
    }
}

/* Write v (taken) as one line. Returns 0 or -1 when out is gone. */
static int emit(struct session *s, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (text == NULL) {
        eg_log(EG_LOG_ERROR, "mcp: an answer could not be serialized");
        return 0;
    }
    bool ok = fputs(text, s->out) >= 0 && fputc('\n', s->out) != EOF &&
              fflush(s->out) == 0;
    free(text);
    return ok ? 0 : -1;
}

static void serve_loop(struct session *s, int fd)
{
    struct reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->fd = fd;
    struct eg_buf line;
    eg_buf_init(&line, LINE_MAX_BYTES);
    for (;;) {
        int got = read_line(r, &line);
        if (got == 0)
            break;
        if (got < 0) {
            eg_log(EG_LOG_ERROR, "mcp: cannot read the input: %s",
                   strerror(errno));
            break;
        }
        json_t *answer =
            got == 2 ? rpc_error(NULL, RPC_INVALID_REQUEST,
                                 "Invalid Request: a message longer than %d "
                                 "bytes.",
                                 LINE_MAX_BYTES)
                     : handle_line(s, &line);
        if (answer != NULL && emit(s, answer) != 0) {
            eg_log(EG_LOG_ERROR, "mcp: cannot write an answer: %s",
                   strerror(errno));
            break;
        }
    }
    eg_buf_free(&line);
    free(r);
}

int eg_mcp_serve(struct eg_store *store, const struct eg_mcp_config *cfg)
{
    struct session s;
    struct eg_error err;
    memset(&s, 0, sizeof(s));
    memset(&err, 0, sizeof(err));
    s.svc.store = store;
    s.out = cfg->out;
    s.key = cfg->subscription_key;

    int rc = eg_auth_new(store, cfg->auth_cache_ttl_s, &s.svc.auth);
    if (rc != 0) {
        eg_log(EG_LOG_ERROR, "mcp: cannot read the store's auth state: %s",
               eg_err_message(rc));
        return rc;
    }
    rc = basic_header(cfg->username, cfg->password, s.authz, sizeof(s.authz));
    if (rc != 0)
        eg_auth_denied(&err);
    else
        rc = authenticate(&s, &s.principal, &err);
    if (rc != 0) {
        eg_log(EG_LOG_ERROR,
               "mcp: %s Check ENGAGE_SUBSCRIPTION_KEY, ENGAGE_USERNAME and "
               "ENGAGE_PASSWORD.",
               err.message);
        goto out;
    }
    rc = eg_writer_start(store, &s.svc.writer);
    if (rc != 0) {
        eg_log(EG_LOG_ERROR, "mcp: cannot start the store's writer");
        goto out;
    }
    /* A client that goes away is a failed write, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    s.tools = tool_list();
    eg_log(EG_LOG_INFO,
           "mcp: serving %zu tools on stdin/stdout for tenant %s as %s",
           eg_ops_count, s.principal.tenant_id, s.principal.username);
    serve_loop(&s, cfg->in_fd);
    json_decref(s.tools);
    eg_writer_stop(s.svc.writer);
out:
    eg_auth_free(s.svc.auth);
    sodium_memzero(s.authz, sizeof(s.authz));
    return rc;
}
