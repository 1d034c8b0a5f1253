/*
 * server.c - the REST front end on libmicrohttpd (C1-C5, C18, C24).
 *
 * A request lives in a struct req from its first handler call to the
 * completion callback. Its path through the handler:
 *
 *   first call: route (404, 405) and authenticate (from the cache, or by an
 *   Argon2id check on an auth worker, after which libmicrohttpd calls us
 *   again in the same first-call state). With a body on the way, whatever
 *   the head decides (401, 413 by Content-Length, 415) is answered before the
 *   body is read: libmicrohttpd then closes the connection, so an unread body
 *   never poisons keep-alive (C5). Other answers wait for the final call,
 *   since libmicrohttpd 0.9.75 closes any connection answered earlier.
 *   body calls: keep at most EG_BODY_MAX bytes, count and drop the rest.
 *   final call: the rest of C5 in order (413 by size, 400), then the
 *   operation.
 *
 * Work that must wait never blocks a pool thread: an Argon2id verification
 * runs on an auth worker, a write goes to the group-commit writer, and with a
 * remote store every store call runs on an I/O worker; the connection is
 * suspended first and resumed by the thread that finishes the work (DESIGN
 * "libmicrohttpd 0.9.75"). `inflight` counts suspended connections and
 * `busy` the requests being answered, so a stop can wait for both.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/pool.h"
#include "core/time.h"
#include "core/util.h"
#include "ops/ops.h"
#include "store/cache.h"
#include "svc/auth.h"

extern const unsigned char eg_spec[];
extern const size_t eg_spec_len;

#define JSON_TYPE "application/json; charset=utf-8"
#define AUTH_WORKERS 2
#define IO_WORKERS 8
#define STREAM_BLOCK (32 * 1024)

/* The statuses counted in /metrics, and latency buckets in seconds. */
static const int statuses[] = {200, 201, 204, 400, 401, 404, 405, 409,
                               413, 415, 422, 429, 500, 503};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,  0.1,    0.25,  0.5, 1, 2.5};
#define NBUCKET (sizeof(buckets) / sizeof(buckets[0]))
#define NOPS 8 /* >= eg_ops_count + 1 (the "other" row) */

struct server {
    struct eg_svc svc;
    struct MHD_Daemon *daemon;
    char base[256];
    size_t baselen;
    atomic_int inflight; /* suspended connections not yet resumed */
    atomic_int resumers; /* threads inside MHD_resume_connection */
    atomic_int busy;     /* requests in engage's hands that may still
                            suspend (see enter_busy): a stop waits for
                            these, so it never meets a suspended connection */
    atomic_int answering; /* answers queued, not yet sent: a stop gives
                             them STOP_ANSWER_MS */
    atomic_bool stopping; /* set by eg_http_stop: new requests get 503 */
    char *tls_cert, *tls_key;
    struct eg_pool *auth_pool; /* Argon2id verifications */
    struct eg_pool *io_pool;   /* a remote store's round trips; NULL for an
                                  embedded one, whose reads run inline */
    /* metrics */
    atomic_uint_fast64_t requests[NOPS][NSTATUS];
    atomic_uint_fast64_t latency[NOPS][NBUCKET + 1];
    atomic_uint_fast64_t latency_us_sum[NOPS];
    int access_log_fd;
};

enum state {
    ST_BODY,      /* reading a body */
    ST_DECIDED,   /* no body: waiting for the final call */
    ST_AUTH_WAIT, /* suspended for an Argon2id verification */
    ST_OP_WAIT,   /* suspended for the writer */
    ST_DONE,      /* answered, or answering */
};

struct req {
    struct server *srv;
    struct MHD_Connection *conn;
    enum state state;
    const struct eg_op *op;
    int opidx;
    bool body_expected;
    bool auth_ok;
    struct eg_error auth_err;
    bool busy;        /* counted in server.busy */
    bool answering;   /* counted in server.answering */
    bool has_pending; /* an answer decided in the first call */
    struct eg_error pending;
    char allow[64];
    bool operational;
    char url[64];
    char method[16];
    char client[64];      /* the peer's address, for throttling (C9) */
    unsigned retry_after; /* seconds, for 429 and 503 */
    char method_seen[16]; /* for the access log */
    char path_seen[160];
    char request_id[EG_REQUEST_ID_MAX];
    char idbuf[EG_ID_MAX + 1];
    struct eg_buf body;
    bool too_large;
    uint64_t start_us;
    struct eg_auth_pending pend;
    struct eg_call call;
    json_t *json_body;     /* the parsed body, for the call's lifetime */
    struct stream *stream; /* a list's first page, made on an I/O worker */
};

/* The state of a streamed list, owned by its response. */
struct stream {
    struct eg_call call;
    struct eg_buf out;
    size_t off;
    bool started;
    bool finished;
    int rc; /* of the last page rendered: < 0 = the store failed */
    char request_id[EG_REQUEST_ID_MAX];
    /* A remote store's pages are rendered on an I/O worker while the
     * connection is suspended. */
    struct server *srv;
    struct MHD_Connection *conn;
};

static const char *header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- request ids (C4) ---- */

static bool request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char ch = s[n];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                  ch == '-';
        if (!ok || n >= EG_REQUEST_ID_MAX - 1)
            return false;
    }
    return n > 0;
}

/* A new request id (C4): 9 random bytes drawn once per thread and a 64-bit
 * per-thread counter, as 22 URL-safe characters: unique without a system
 * call per request. */
static void new_request_id(char out[EG_REQUEST_ID_MAX])
{
    static _Thread_local unsigned char seed[9];
    static _Thread_local uint64_t counter;
    if (counter == 0)
        randombytes_buf(seed, sizeof(seed));
    counter++;
    unsigned char raw[16];
    memcpy(raw, seed, sizeof(seed));
    uint64_t c = counter;
    for (int i = 15; i >= 9; i--) {
        raw[i] = (unsigned char)(c & 0xff);
        c >>= 8;
    }
    sodium_bin2base64(out, EG_REQUEST_ID_MAX, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- metrics and the access log ---- */

/* One JSON line per answer. No header value but the (validated) request id
 * is written, so no secret can reach the log (C7). One write(2) per line, on
 * a descriptor opened with O_APPEND: lines of concurrent threads never mix. */
static void access_log(struct req *r, int status, uint64_t us)
{
    char t[EG_TIME_TEXT_MAX];
    json_t *v = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s?,s:i,s:f}", "time",
        eg_time_format(eg_time_now(), t), "requestId", r->request_id, "method",
        r->method_seen, "path", r->path_seen,
        "operation", r->op ? r->op->name : "other",
        "tenant", r->call.principal.tenant_id[0] ? r->call.principal.tenant_id : NULL,
        "status", status, "durationMs", (double)us / 1000.0);
    if (v == NULL)
        return;
    char *line = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                   JSON_REAL_PRECISION(6));
    json_decref(v);
    if (line == NULL)
        return;
    size_t n = strlen(line);
    line[n] = '\n';
    ssize_t w = write(r->srv->access_log_fd, line, n + 1);
    (void)w;
    free(line);
}

static void count(struct req *r, int status)
{
    struct server *srv = r->srv;
    size_t op = r->op ? (size_t)r->opidx : eg_ops_count;
    for (size_t i = 0; i < NSTATUS; i++)
        if (statuses[i] == status)
            atomic_fetch_add(&srv->requests[op][i], 1);
    uint64_t us = mono_us() - r->start_us;
    double s = (double)us / 1e6;
    size_t b = 0;
    while (b < NBUCKET && s > buckets[b])
        b++;
    atomic_fetch_add(&srv->latency[op][b], 1);
    atomic_fetch_add(&srv->latency_us_sum[op], us);
    if (srv->access_log_fd >= 0)
        access_log(r, status, us);
}

/* ---- answering ---- */

static void leave_busy(struct req *r);

static enum MHD_Result queue(struct req *r, int status,
                             struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    count(r, status);
    /* Answered: only a stream still suspends, and it guards that itself. */
    if (!r->answering) {
        r->answering = true;
        atomic_fetch_add(&r->srv->answering, 1);
    }
    leave_busy(r);
    return ret;
}

static enum MHD_Result answer_buf(struct req *r, int status, struct eg_buf *b,
                                  const char *type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        b->len, b->data ? b->data : "", MHD_RESPMEM_MUST_COPY);
    eg_buf_free(b);
    if (resp == NULL)
        return MHD_NO;
    if (type != NULL)
        MHD_add_response_header(resp, "Content-Type", type);
    return queue(r, status, resp);
}

/* Answer JSON text held in b (taken over: freed here), with the headers of
 * C4 and C18. */
static enum MHD_Result answer_bytes(struct req *r, int status,
                                    struct eg_buf *b, const char *extra_name,
                                    const char *extra_value)
{
    struct MHD_Response *resp;
    if (b->data == NULL)
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(b->len, b->data,
                                               MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        eg_buf_free(b);
        return MHD_NO;
    }
    eg_buf_init(b, b->cap); /* the response owns the bytes now */
    MHD_add_response_header(resp, "Content-Type", JSON_TYPE);
    if (extra_name != NULL)
        MHD_add_response_header(resp, extra_name, extra_value);
    if (r->op != NULL && r->op->credential && (status == 200 || status == 201))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == 201) {
        char loc[512];
        snprintf(loc, sizeof(loc), "%s/credentials/%s", r->srv->base,
                 r->call.cred.credential_id);
        MHD_add_response_header(resp, "Location", loc);
    }
    return queue(r, status, resp);
}

static enum MHD_Result answer_json(struct req *r, int status, json_t *v,
                                   const char *extra_name,
                                   const char *extra_value)
{
    struct eg_buf b;
    eg_buf_init(&b, SIZE_MAX);
    eg_json_append(&b, v);
    json_decref(v);
    return answer_bytes(r, status, &b, extra_name, extra_value);
}

static enum MHD_Result answer_error(struct req *r, const struct eg_error *e,
                                    const char *allow)
{
    int status = eg_err_status(e->err);
    if (status == 500)
        eg_log(EG_LOG_ERROR, "request %s: internal error (%d)", r->request_id,
               e->err);
    json_t *v = eg_json_error(e);
    if (status == 401)
        return answer_json(r, status, v, "WWW-Authenticate",
                           "Basic realm=\"ENGAGE\"");
    if (status == 405)
        return answer_json(r, status, v, "Allow", allow);
    if (status == 503 || status == 429) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", r->retry_after ? r->retry_after : 1);
        return answer_json(r, status, v, "Retry-After", ra);
    }
    return answer_json(r, status, v, NULL, NULL);
}

static enum MHD_Result answer_err(struct req *r, int err, const char *msg)
{
    struct eg_error e;
    if (msg != NULL)
        eg_error_set(&e, err, "%s", msg);
    else
        eg_error_set(&e, err, NULL);
    return answer_error(r, &e, NULL);
}

/* A stop waits this long for answers being sent (a slow reader must not
 * hold it), and this long for requests in engage's hands or suspended
 * (bounded by the store's deadlines: SQLite's busy timeout, PostgreSQL's
 * statement one; under the 30 s a supervisor such as Kubernetes gives by
 * default before SIGKILL). */
#define STOP_ANSWER_MS 5000
#define STOP_SUSPENDED_MS 25000

/* ---- suspension ----
 *
 * libmicrohttpd 0.9.75 aborts the process when MHD_stop_daemon meets a
 * suspended connection, and MHD_resume_connection still reads the daemon
 * after it has released the connection to its worker. So `inflight` counts
 * the connections suspended and not yet resumed, `resumers` the threads
 * still inside a resume, and eg_http_stop stops the daemon only when both
 * are 0. */

static void suspend(struct server *srv, struct MHD_Connection *conn)
{
    atomic_fetch_add(&srv->inflight, 1);
    MHD_suspend_connection(conn);
}

/* srv is passed, not read through the request: once resumed, the request
 * may complete and be freed before MHD_resume_connection returns. */
static void resume(struct server *srv, struct MHD_Connection *conn)
{
    atomic_fetch_add(&srv->resumers, 1);
    atomic_fetch_sub(&srv->inflight, 1);
    MHD_resume_connection(conn);
    atomic_fetch_sub(&srv->resumers, 1);
}

/* Render the next page of st into its (drained) buffer. */
static void stream_fill(struct stream *st)
{
    eg_buf_reset(&st->out);
    st->off = 0;
    st->rc = eg_op_list_render(&st->call, &st->out, &st->started);
    if (st->rc == 0)
        st->finished = true;
}

static void stream_fill_job(void *arg)
{
    struct stream *st = arg;
    struct server *srv = st->srv;
    stream_fill(st);
    resume(srv, st->conn);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    if (st->rc < 0) {
        /* C20: cut the body off, so the client never takes a partial list
         * for a whole one. */
        eg_log(EG_LOG_ERROR, "request %s: list failed mid-stream (%d)",
               st->request_id, st->rc);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (st->off >= st->out.len) {
        if (st->finished)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->srv->io_pool != NULL) {
            /* No event thread waits on a remote store: park the connection
             * until a worker has the page. Not once the server is stopping,
             * which waits for suspended connections: the list is cut off
             * instead (C20), as when the store fails. */
            struct server *srv = st->srv;
            atomic_fetch_add(&srv->busy, 1); /* see enter_busy */
            if (atomic_load(&srv->stopping)) {
                atomic_fetch_sub(&srv->busy, 1);
                eg_log(EG_LOG_WARN, "request %s: list cut off: stopping",
                       st->request_id);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            suspend(srv, st->conn);
            atomic_fetch_sub(&srv->busy, 1);
            eg_pool_submit(st->srv->io_pool, stream_fill_job, st);
            return 0;
        }
        stream_fill(st);
        return stream_read(cls, pos, buf, max);
    }
    size_t n = st->out.len - st->off;
    if (n > max)
        n = max;
    memcpy(buf, st->out.data + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    eg_buf_free(&st->out);
    free(st);
}

/* The 201 of an idempotent create, first or replayed: the kept bytes (C22). */
static enum MHD_Result answer_idem(struct req *r)
{
    const struct eg_idem *rec = r->call.idem;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        rec->response_len, (void *)rec->response, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    char loc[512];
    snprintf(loc, sizeof(loc), "%s/credentials/%s", r->srv->base,
             rec->credential_id);
    MHD_add_response_header(resp, "Content-Type", JSON_TYPE);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Location", loc);
    if (r->call.replayed)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    return queue(r, 201, resp);
}

/* A stream for the list result of r, its first page rendered already, so a
 * failing store still gets a clean error answer rather than a cut-off body. */
static struct stream *stream_new(struct req *r)
{
    struct stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        abort();
    st->call = r->call;
    st->call.request_id = NULL; /* points into r, which may go first */
    eg_strlcpy(st->request_id, r->request_id, sizeof(st->request_id));
    st->srv = r->srv;
    st->conn = r->conn;
    eg_buf_init(&st->out, SIZE_MAX);
    stream_fill(st);
    return st;
}

/* Answer a finished call: its error, or its result in the op's form. */
static enum MHD_Result answer_call(struct req *r)
{
    struct eg_call *call = &r->call;
    if (call->err.err != 0)
        return answer_error(r, &call->err, NULL);
    switch (r->op->result) {
    case EG_RES_NONE: {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        return queue(r, r->op->success_status, resp);
    }
    case EG_RES_CREDENTIAL:
        if (call->idem != NULL)
            return answer_idem(r);
    {
        struct eg_buf b;
        eg_buf_init(&b, SIZE_MAX);
        eg_json_credential_append(&b, &call->cred, call->now);
        return answer_bytes(r, r->op->success_status, &b, NULL, NULL);
    }
    case EG_RES_CRED_LIST:
    case EG_RES_DEVICE_LIST: {
        struct stream *st = r->stream;
        r->stream = NULL;
        if (st == NULL)
            st = stream_new(r);
        if (st->rc < 0) {
            int rc = st->rc;
            stream_free(st);
            return answer_err(r, rc, NULL);
        }
        if (st->finished) {
            /* It all fit in the first page: one plain answer, no chunks. */
            struct eg_buf b = st->out;
            eg_buf_init(&st->out, SIZE_MAX);
            stream_free(st);
            return answer_bytes(r, r->op->success_status, &b, NULL, NULL);
        }
        struct MHD_Response *resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st, stream_free);
        if (resp == NULL) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", JSON_TYPE);
        if (r->op->credential)
            MHD_add_response_header(resp, "Cache-Control", "no-store");
        return queue(r, r->op->success_status, resp);
    }
    }
    return MHD_NO;
}

static void park(struct req *r, enum state st)
{
    r->state = st;
    suspend(r->srv, r->conn);
}

static void unpark(struct req *r)
{
    resume(r->srv, r->conn);
}

static void call_suspend(struct eg_call *call)
{
    park(call->ctx, ST_OP_WAIT);
}

static void call_done(struct eg_call *call)
{
    struct req *r = call->ctx;
    unpark(r);
}

/* ---- auth workers ---- */

static void verify_job(void *arg)
{
    struct req *r = arg;
    struct server *srv = r->srv;
    if (atomic_load(&srv->stopping)) {
        /* Verifications queued behind a burst must not hold the stop. */
        sodium_memzero(&r->pend, sizeof(r->pend));
        r->pend.result = EG_EUNAVAILABLE;
    }
    else if (eg_auth_verify(srv->svc.auth, &r->pend) == EG_EUNAUTHORIZED)
        eg_auth_failed(srv->svc.auth, r->client,
                       header(r, "alle-subscription-key"));
    resume(srv, r->conn);
}

static void verify_async(struct req *r)
{
    park(r, ST_AUTH_WAIT);
    eg_pool_submit(r->srv->auth_pool, verify_job, r);
}

/* ---- the checks ---- */

static bool json_content_type(const char *ct)
{
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return false;
    char next = ct[16];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}


/* The body checks of C5 that need only the headers: 413 by Content-Length,
 * 415 by Content-Type. Fills e and returns true when one fails. */
static bool header_body_checks(struct req *r, struct eg_error *e)
{
    const char *cl = header(r, "Content-Length");
    if (cl != NULL) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && *end == '\0' && n > EG_BODY_MAX) {
            eg_error_set(e, EG_ETOOLARGE, NULL);
            return true;
        }
    }
    if (r->op->has_body && !json_content_type(header(r, "Content-Type"))) {
        eg_error_set(e, EG_EMEDIATYPE, NULL);
        return true;
    }
    return false;
}

/* Run the operation now that auth and body are settled. */
/* An I/O worker runs the call of a remote store (and a list's first page),
 * then resumes the connection; a write resumes it from the writer instead. */
static void run_job(void *arg)
{
    struct req *r = arg;
    if (eg_op_run(&r->call) == EG_OP_ASYNC)
        return;
    if (r->call.err.err == 0 && (r->op->result == EG_RES_CRED_LIST ||
                                 r->op->result == EG_RES_DEVICE_LIST))
        r->stream = stream_new(r);
    unpark(r);
}

static enum MHD_Result run_op(struct req *r)
{
    struct eg_call *call = &r->call;
    if (r->op->has_body) {
        struct eg_error e;
        if (r->too_large || header_body_checks(r, &e)) {
            if (r->too_large)
                eg_error_set(&e, EG_ETOOLARGE, NULL);
            return answer_error(r, &e, NULL);
        }
        if (eg_json_parse_body(r->body.data, r->body.len, &r->json_body,
                               &e) != 0)
            return answer_error(r, &e, NULL);
    }
    call->op = r->op;
    call->svc = &r->srv->svc;
    call->body = r->json_body;
    call->request_id = r->request_id;
    call->idem_key = header(r, "Idempotency-Key");
    call->raw_body = r->body.data ? r->body.data : "";
    call->raw_len = r->body.len;
    call->suspend = call_suspend;
    call->done = call_done;
    call->ctx = r;
    for (size_t i = 0; i < r->op->nparams; i++)
        if (r->op->params[i].in == EG_IN_QUERY)
            call->args[i] = MHD_lookup_connection_value(
                r->conn, MHD_GET_ARGUMENT_KIND, r->op->params[i].name);
    if (r->srv->io_pool != NULL) {
        call->suspend = NULL; /* parked here already */
        park(r, ST_OP_WAIT);
        eg_pool_submit(r->srv->io_pool, run_job, r);
        return MHD_YES;
    }
    if (eg_op_run(call) == EG_OP_ASYNC)
        return MHD_YES;
    return answer_call(r);
}

/* Authenticated (or decided) after the auth step: go on. */
static enum MHD_Result after_auth(struct req *r)
{
    if (!r->auth_ok)
        return answer_error(r, &r->auth_err, NULL);
    /* C9: the optional per-key rate limit. */
    r->retry_after = eg_auth_rate_take(r->srv->svc.auth,
                                       r->call.principal.key_id);
    if (r->retry_after > 0) {
        struct eg_error e;
        eg_error_set(&e, EG_ETOOMANY,
                     "This subscription key is over its rate limit; retry in "
                     "%u s.",
                     r->retry_after);
        return answer_error(r, &e, NULL);
    }
    return run_op(r);
}

static enum MHD_Result operational(struct req *r, const char *url,
                                   const char *method)
{
    struct server *srv = r->srv;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    struct eg_buf b;
    eg_buf_init(&b, SIZE_MAX);
    if (!get) {
        struct eg_error e;
        eg_error_set(&e, EG_EMETHOD, NULL);
        return answer_error(r, &e, "GET");
    }
    if (strcmp(url, "/healthz") == 0) {
        eg_buf_addstr(&b, "{\"status\":\"ok\"}");
        return answer_buf(r, 200, &b, JSON_TYPE);
    }
    if (strcmp(url, "/readyz") == 0) {
        if (!eg_auth_store_ok(srv->svc.auth))
            return answer_err(r, EG_EUNAVAILABLE, NULL);
        eg_buf_addstr(&b, "{\"status\":\"ready\"}");
        return answer_buf(r, 200, &b, JSON_TYPE);
    }
    if (strcmp(url, "/metrics") == 0) {
        char line[256];
        eg_buf_addstr(&b, "# HELP engage_requests_total Requests answered, "
                          "by operation and status.\n"
                          "# TYPE engage_requests_total counter\n");
        for (size_t op = 0; op <= eg_ops_count; op++)
            for (size_t i = 0; i < NSTATUS; i++) {
                uint64_t v = atomic_load(&srv->requests[op][i]);
                if (v == 0)
                    continue;
                snprintf(line, sizeof(line),
                         "engage_requests_total{operation=\"%s\",status=\"%d\"}"
                         " %llu\n",
                         op < eg_ops_count ? eg_ops[op].name : "other",
                         statuses[i], (unsigned long long)v);
                eg_buf_addstr(&b, line);
            }
        eg_buf_addstr(&b, "# HELP engage_request_duration_seconds Time from "
                          "the first byte read to the answer queued.\n"
                          "# TYPE engage_request_duration_seconds histogram\n");
        for (size_t op = 0; op <= eg_ops_count; op++) {
            const char *name = op < eg_ops_count ? eg_ops[op].name : "other";
            uint64_t cum = 0;
            for (size_t i = 0; i <= NBUCKET; i++) {
                cum += atomic_load(&srv->latency[op][i]);
                if (i < NBUCKET)
                    snprintf(line, sizeof(line),
                             "engage_request_duration_seconds_bucket{operation"
                             "=\"%s\",le=\"%g\"} %llu\n",
                             name, buckets[i], (unsigned long long)cum);
                else
                    snprintf(line, sizeof(line),
                             "engage_request_duration_seconds_bucket{operation"
                             "=\"%s\",le=\"+Inf\"} %llu\n"
                             "engage_request_duration_seconds_count{operation"
                             "=\"%s\"} %llu\n",
                             name, (unsigned long long)cum, name,
                             (unsigned long long)cum);
                eg_buf_addstr(&b, line);
            }
            snprintf(line, sizeof(line),
                     "engage_request_duration_seconds_sum{operation=\"%s\"} "
                     "%.6f\n",
                     name, (double)atomic_load(&srv->latency_us_sum[op]) / 1e6);
            eg_buf_addstr(&b, line);
        }
        struct eg_auth_stats as;
        eg_auth_get_stats(srv->svc.auth, &as);
        uint64_t batches, writes, commit_us;
        eg_writer_stats(srv->svc.writer, &batches, &writes, &commit_us);
        struct eg_ccache_stats cs = {0};
        eg_store_cache_stats(srv->svc.store, &cs);
        /* With a thread pool, libmicrohttpd 0.9.75 sums the workers' counts
         * into the daemon's own field without a lock: one scrape at a
         * time. */
        static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&info_lock);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(
            srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        unsigned open_connections = info != NULL ? info->num_connections : 0;
        pthread_mutex_unlock(&info_lock);
        const struct {
            const char *name, *type;
            double value;
        } plain[] = {
            {"engage_auth_cache_hits_total", "counter", (double)as.cache_hits},
            {"engage_auth_cache_misses_total", "counter",
             (double)as.cache_misses},
            {"engage_auth_argon2_verifications_total", "counter",
             (double)as.argon2_verifications},
            {"engage_auth_failures_total", "counter", (double)as.failures},
            {"engage_auth_cache_stale_hits_total", "counter",
             (double)as.stale_hits},
            {"engage_auth_generation", "gauge", (double)as.generation},
            {"engage_store_commit_batches_total", "counter", (double)batches},
            {"engage_store_commit_writes_total", "counter", (double)writes},
            {"engage_store_commit_seconds_total", "counter",
             (double)commit_us / 1e6},
            {"engage_read_cache_hits_total", "counter", (double)cs.hits},
            {"engage_read_cache_misses_total", "counter", (double)cs.misses},
            {"engage_read_cache_flushes_total", "counter",
             (double)cs.flushes},
            {"engage_read_cache_bytes", "gauge",
             (double)(cs.slots * cs.slot_bytes)},
            {"engage_open_connections", "gauge",
             (double)open_connections},
        };
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
            snprintf(line, sizeof(line), "# TYPE %s %s\n%s %.15g\n",
                     plain[i].name, plain[i].type, plain[i].name,
                     plain[i].value);
            eg_buf_addstr(&b, line);
        }
        return answer_buf(r, 200, &b, "text/plain; version=0.0.4");
    }
    /* {base}/openapi.yaml (C1) */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        eg_spec_len, (void *)eg_spec, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/yaml");
    return queue(r, 200, resp);
}

static bool is_operational(struct server *srv, const char *url)
{
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
        strcmp(url, "/metrics") == 0)
        return true;
    return strncmp(url, srv->base, srv->baselen) == 0 &&
           strcmp(url + srv->baselen, "/openapi.yaml") == 0;
}

static bool expects_body(struct req *r)
{
    const char *te = header(r, "Transfer-Encoding");
    if (te != NULL)
        return true;
    const char *cl = header(r, "Content-Length");
    return cl != NULL && strcmp(cl, "0") != 0;
}

static void client_address(struct req *r)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    r->client[0] = '\0';
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  r->client, sizeof(r->client));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  r->client, sizeof(r->client));
}

/* Authenticate from the cache. Returns 0 when decided (auth_ok or auth_err
 * set), or EG_AUTH_NEED_VERIFY with r->pend filled. */
struct renew {
    struct eg_auth *auth;
    struct eg_auth_pending pend;
};

static void renew_job(void *arg)
{
    struct renew *job = arg;
    eg_auth_verify(job->auth, &job->pend); /* wipes the secrets */
    free(job);
}

static int auth_from_cache(struct req *r)
{
    struct eg_auth *a = r->srv->svc.auth;
    const char *key = header(r, "alle-subscription-key");
    int rc = eg_auth_check(a, key, header(r, "Authorization"),
                           &r->call.principal, &r->pend, &r->auth_err);
    if (rc == EG_AUTH_OK_REFRESH) {
        /* Served from the cache; the entry is renewed in the background
         * before it expires, so no request waits for an Argon2id check. */
        struct renew *job = malloc(sizeof(*job));
        if (job == NULL)
            abort();
        job->auth = a;
        job->pend = r->pend;
        memset(&r->pend, 0, sizeof(r->pend));
        eg_pool_submit(r->srv->auth_pool, renew_job, job);
        rc = 0;
    }
    if (rc == EG_AUTH_NEED_VERIFY) {
        /* C9: a client or key with too many recent failures waits. */
        client_address(r);
        r->retry_after = eg_auth_throttled(a, r->client, key);
        if (r->retry_after == 0)
            return rc;
        memset(&r->pend, 0, sizeof(r->pend));
        eg_error_set(&r->auth_err, EG_ETOOMANY,
                     "Too many failed authentications; retry in %u s.",
                     r->retry_after);
        rc = EG_ETOOMANY;
    }
    r->auth_ok = rc == 0;
    return 0;
}

/* A request is busy while it is in engage's hands and may still suspend its
 * connection: from its head until its client is waited on (for a body, or
 * to ask for the answer), and again from the final call until its answer is
 * queued. Busy is entered before `stopping` is read (both sequentially
 * consistent), so eg_http_stop, which sets stopping and then waits for busy
 * and inflight to drain, never meets a request that is about to suspend its
 * connection; a stream that fetches its next page does the same (stream_read).
 */
static void enter_busy(struct req *r)
{
    if (!r->busy) {
        r->busy = true;
        atomic_fetch_add(&r->srv->busy, 1);
    }
}

static void leave_busy(struct req *r)
{
    if (r->busy) {
        r->busy = false;
        atomic_fetch_sub(&r->srv->busy, 1);
    }
}

/* Auth is decided, still in the first call. Without a body, the answer
 * waits for the final call. With one, whatever can be decided from the head
 * is answered before the body is read (libmicrohttpd then closes the
 * connection, so the unread body never reaches the next request: C5). */
static enum MHD_Result authenticated(struct req *r)
{
    if (!r->body_expected) {
        r->state = ST_DECIDED;
        leave_busy(r);
        return MHD_YES;
    }
    r->state = ST_BODY;
    leave_busy(r);
    if (!r->auth_ok)
        return answer_error(r, &r->auth_err, NULL);
    struct eg_error e;
    if (header_body_checks(r, &e))
        return answer_error(r, &e, NULL);
    return MHD_YES;
}

/* The first call: route and authenticate. Nothing is queued here unless
 * the connection is to be closed: libmicrohttpd 0.9.75 closes any connection
 * whose answer is queued before the request is complete, so answers that keep
 * the connection alive wait for the final call (ST_DECIDED). */
static enum MHD_Result first_call(struct req *r, const char *url,
                                  const char *method)
{
    struct server *srv = r->srv;
    const char *rid = header(r, "X-Request-Id");
    if (rid != NULL && request_id_ok(rid))
        eg_strlcpy(r->request_id, rid, sizeof(r->request_id));
    else
        new_request_id(r->request_id);
    r->body_expected = expects_body(r);
    r->state = r->body_expected ? ST_BODY : ST_DECIDED;
    enter_busy(r);
    if (atomic_load(&srv->stopping)) {
        /* Not busy: this request will not suspend, and eg_http_stop need not
         * wait for its 503 while new connections keep arriving. */
        leave_busy(r);
        struct eg_error e;
        eg_error_set(&e, EG_EUNAVAILABLE, "The server is stopping.");
        return answer_error(r, &e, NULL); /* and libmicrohttpd closes */
    }
    if (srv->access_log_fd >= 0) {
        snprintf(r->method_seen, sizeof(r->method_seen), "%s", method);
        snprintf(r->path_seen, sizeof(r->path_seen), "%s", url);
    }

    if (is_operational(srv, url)) {
        eg_strlcpy(r->url, url, sizeof(r->url));
        eg_strlcpy(r->method, method, sizeof(r->method));
        r->operational = true;
        leave_busy(r);
        return MHD_YES;
    }

    /* C5: unknown path 404, then method 405. */
    bool known = false;
    /* HEAD is not an operation of the API: libmicrohttpd 0.9.75 would end a
     * streamed (chunked) list with a body on a HEAD, corrupting keep-alive,
     * so API paths answer it 405 like any other method they lack. */
    const char *route_method = method;
    if (strncmp(url, srv->base, srv->baselen) == 0 &&
        url[srv->baselen] == '/') {
        r->op = eg_op_route(route_method, url + srv->baselen, r->call.args,
                            r->idbuf, sizeof(r->idbuf), &known, r->allow,
                            sizeof(r->allow));
    }
    if (!known) {
        r->has_pending = true;
        eg_error_set(&r->pending, EG_ENOTFOUND, "No such path.");
    } else if (r->op == NULL) {
        r->has_pending = true;
        eg_error_set(&r->pending, EG_EMETHOD,
                     "Method %.16s is not allowed here; use %s.", method,
                     r->allow);
    }
    if (r->has_pending) {
        /* With a body on the way, answer now and close (C5). */
        if (r->body_expected)
            return answer_error(r, &r->pending, r->allow);
        leave_busy(r);
        return MHD_YES;
    }
    r->opidx = (int)(r->op - eg_ops);

    if (auth_from_cache(r) == EG_AUTH_NEED_VERIFY) {
        /* Verified before any body is read; the handler is called again in
         * this same first-call state once the worker resumes us. */
        verify_async(r);
        return MHD_YES;
    }
    return authenticated(r);
}

/* The final call: the request is complete, answers keep the connection. */
static enum MHD_Result final_call(struct req *r)
{
    enter_busy(r);
    if (atomic_load(&r->srv->stopping)) {
        leave_busy(r);
        struct eg_error e;
        eg_error_set(&e, EG_EUNAVAILABLE, "The server is stopping.");
        return answer_error(r, &e, NULL);
    }
    if (r->operational)
        return operational(r, r->url, r->method);
    if (r->has_pending)
        return answer_error(r, &r->pending, r->allow);
    return after_auth(r);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    struct req *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            abort();
        r->srv = srv;
        r->conn = conn;
        r->start_us = mono_us();
        r->opidx = -1;
        eg_buf_init(&r->body, EG_BODY_MAX);
        *con_cls = r;
        return first_call(r, url, method);
    }
    switch (r->state) {
    case ST_AUTH_WAIT:
        /* Resumed by an auth worker. */
        r->auth_ok = r->pend.result == 0;
        if (r->auth_ok)
            r->call.principal = r->pend.principal;
        else if (r->pend.result == EG_EUNAUTHORIZED)
            eg_auth_denied(&r->auth_err);
        else
            eg_error_set(&r->auth_err, r->pend.result, NULL);
        memset(&r->pend, 0, sizeof(r->pend));
        return authenticated(r);
    case ST_OP_WAIT:
        r->state = ST_DONE;
        return answer_call(r);
    case ST_BODY:
        if (*upload_data_size > 0) {
            if (!r->too_large &&
                eg_buf_add(&r->body, upload_data, *upload_data_size) != 0)
                r->too_large = true;
            *upload_data_size = 0;
            return MHD_YES;
        }
        r->state = ST_DONE;
        return final_call(r);
    case ST_DECIDED:
        if (*upload_data_size > 0) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        r->state = ST_DONE;
        return final_call(r);
    case ST_DONE:
        break;
    }
    /* Called again with nothing left to do (an answer is pending). */
    *upload_data_size = 0;
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *r = *con_cls;
    if (r == NULL)
        return;
    leave_busy(r);
    if (r->answering)
        atomic_fetch_sub(&r->srv->answering, 1);
    eg_call_cleanup(&r->call);
    json_decref(r->json_body);
    if (r->stream != NULL)
        stream_free(r->stream);
    eg_buf_free(&r->body);
    memset(&r->pend, 0, sizeof(r->pend));
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's own unescaping, except that %00 stays as it is: a NUL
 * must never cut a path id or a query value short (C12). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (char *p = s; *p != '\0';) {
        if (p[0] == '%' && p[1] != '\0' && p[2] != '\0') {
            char hex[3] = {p[1], p[2], '\0'};
            char *end;
            unsigned long v = strtoul(hex, &end, 16);
            if (*end == '\0' && v != 0 && hex[0] != '-' && hex[0] != '+' &&
                hex[0] != ' ') {
                *w++ = (char)v;
                p += 3;
                continue;
            }
        }
        *w++ = *p++;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    eg_log(EG_LOG_DEBUG, "http: %s", line);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss,
                        bool *loopback)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0' ||
        (size_t)(colon - listen) >= sizeof(host))
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
        return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ai->ai_addr;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    freeaddrinfo(ai);
    return 0;
}

/* Read a whole (small) file into a NUL-terminated buffer for libmicrohttpd's
 * in-memory TLS options. Returns NULL (errno set) on failure. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct eg_buf b;
    eg_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = eg_buf_add(&b, chunk, n);
    fclose(f);
    if (rc != 0 || b.len == 0) {
        eg_buf_free(&b);
        errno = rc != 0 ? EFBIG : EINVAL;
        return NULL;
    }
    return b.data;
}

static void stop_workers(struct server *srv)
{
    eg_pool_stop(srv->auth_pool);
    eg_pool_stop(srv->io_pool);
    srv->auth_pool = srv->io_pool = NULL;
}

static void free_server(struct server *srv)
{
    eg_auth_free(srv->svc.auth);
    eg_writer_stop(srv->svc.writer);
    eg_svc_idem_free(&srv->svc);
    if (srv->tls_key != NULL)
        sodium_memzero(srv->tls_key, strlen(srv->tls_key));
    free(srv->tls_key);
    free(srv->tls_cert);
    free(srv);
}

int eg_http_start(struct eg_store *store, const struct eg_http_config *cfg,
                  struct eg_http **out)
{
    struct server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        abort();
    int rc = 0;
    srv->svc.store = store;
    srv->access_log_fd = cfg->access_log_fd;
    if (!eg_strlcpy(srv->base, cfg->base_path, sizeof(srv->base))) {
        eg_log(EG_LOG_ERROR, "the base path is too long");
        free(srv);
        return EG_EBADREQUEST;
    }
    srv->baselen = strlen(srv->base);
    while (srv->baselen > 0 && srv->base[srv->baselen - 1] == '/')
        srv->base[--srv->baselen] = '\0';

    bool tls = cfg->tls_cert != NULL || cfg->tls_key != NULL;
    if (tls && (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
        eg_log(EG_LOG_ERROR, "--tls-cert and --tls-key go together");
        free(srv);
        return EG_EBADREQUEST;
    }
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        eg_log(EG_LOG_ERROR, "this libmicrohttpd was built without TLS");
        free(srv);
        return EG_EBADREQUEST;
    }
    if (tls) {
        srv->tls_cert = read_file(cfg->tls_cert);
        srv->tls_key = read_file(cfg->tls_key);
        if (srv->tls_cert == NULL || srv->tls_key == NULL) {
            eg_log(EG_LOG_ERROR, "cannot read --tls-cert %s or --tls-key %s: %s",
                   cfg->tls_cert, cfg->tls_key, strerror(errno));
            free(srv->tls_cert);
            free(srv->tls_key);
            free(srv);
            return EG_EBADREQUEST;
        }
    }

    struct sockaddr_storage ss = {.ss_family = AF_INET};
    bool loopback = true;
    if (cfg->listen != NULL && parse_listen(cfg->listen, &ss, &loopback) != 0) {
        eg_log(EG_LOG_ERROR, "--listen '%s' is not HOST:PORT", cfg->listen);
        free(srv->tls_cert);
        free(srv->tls_key);
        free(srv);
        return EG_EBADREQUEST;
    }
    if (!loopback && !tls)
        eg_log(EG_LOG_WARN,
               "listening on %s without TLS: Basic Auth passwords travel in "
               "clear (C2)",
               cfg->listen);

    /* Many idle keep-alive clients must not run us out of descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    eg_svc_idem_init(&srv->svc, cfg->idempotency_ttl_s);
    /* Before the writer and the HTTP threads: they read s->cache unlocked. */
    if (cfg->read_cache_mib >= 0)
        eg_store_cache_enable(store, (size_t)(cfg->read_cache_mib
                                                  ? cfg->read_cache_mib
                                                  : 128) << 20);
    rc = eg_writer_start(store, &srv->svc.writer);
    if (rc != 0) {
        free_server(srv);
        return rc;
    }
    rc = eg_auth_new(store, cfg->auth_cache_ttl_s, &srv->svc.auth);
    if (rc != 0) {
        eg_log(EG_LOG_ERROR, "cannot read the store's auth state");
        free_server(srv);
        return rc;
    }
    eg_auth_set_throttle(srv->svc.auth, cfg->auth_fail_limit,
                         cfg->auth_fail_window_s);
    eg_auth_set_rate(srv->svc.auth, cfg->rate_limit_rps, cfg->rate_limit_burst);
    srv->auth_pool = eg_pool_start(AUTH_WORKERS, "eg-auth");
    int io = cfg->io_threads >= 0 ? cfg->io_threads
                                  : (eg_store_remote(store) ? IO_WORKERS : 0);
    if (io > 0)
        srv->io_pool = eg_pool_start((size_t)io, "eg-io");

    unsigned threads = cfg->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    unsigned conn_limit = cfg->max_connections ? cfg->max_connections : 4096;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < conn_limit + 64)
        conn_limit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
    /* MHD_USE_TURBO: libmicrohttpd reads and writes a socket as soon as it
     * can instead of waiting for epoll to report it ready (a system call
     * and a loop turn saved a request: point reads went from ~0.55 to
     * ~0.75 x nginx in bench/README.md), and closes without shutdown(). */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (cfg->listen == NULL)
        flags |= MHD_USE_NO_LISTEN_SOCKET;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        /* First: libmicrohttpd applies options in order, and a message
         * about any later one goes through this logger. */
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log_mhd, srv},
        {MHD_OPTION_THREAD_POOL_SIZE, threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, conn_limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT,
         cfg->idle_timeout_s ? cfg->idle_timeout_s : 60, NULL},
        /* Per connection: the request head and the send buffer. 0.9.75
         * zeroes the whole pool after every request, so it is kept small;
         * 16 KiB still holds any head a client of this API sends. */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, srv},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, srv},
        {cfg->listen ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, 0, &ss},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->tls_cert},
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->tls_key},
        /* C2: TLS 1.2 and 1.3 only. */
        {tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0,
         "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    /* Compact the list: an option turned off above ends it early otherwise. */
    size_t n = 0;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]) - 1; i++)
        if (opts[i].option != MHD_OPTION_END)
            opts[n++] = opts[i];
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, srv,
                                   MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        eg_log(EG_LOG_ERROR, "cannot listen on %s: %s",
               cfg->listen ? cfg->listen : "(no socket)", strerror(errno));
        stop_workers(srv);
        free_server(srv);
        return EG_EUNAVAILABLE;
    }
    if (cfg->listen != NULL)
        eg_log(EG_LOG_INFO, "serving %s://%s%s/ (%u threads)",
               tls ? "https" : "http", cfg->listen, srv->base, threads);
    *out = (struct eg_http *)srv;
    return 0;
}

int eg_http_add_connection(struct eg_http *h, int fd)
{
    struct server *srv = (struct server *)h;
    struct sockaddr_in peer = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (MHD_add_connection(srv->daemon, fd, (struct sockaddr *)&peer,
                           sizeof(peer)) != MHD_YES)
        return EG_EINTERNAL;
    return 0;
}

void eg_http_stop(struct eg_http *h)
{
    struct server *srv = (struct server *)h;
    /* Answer new requests 503 (closing their connections) and let requests
     * in flight (suspended for a hash or a commit, or still being answered)
     * finish, then stop. The listening socket stays open until
     * MHD_stop_daemon: MHD_quiesce_daemon races the epoll workers in
     * libmicrohttpd 0.9.75 (both remove the socket from a worker's epoll set;
     * the loser's epoll_ctl fails with ENOENT and the library aborts the
     * process, "Failed to remove listen FD from epoll set"). */
    atomic_store(&srv->stopping, true);
    /* Until nothing may still suspend and nothing is suspended (a commit, a
     * store call or a hash, bounded by the store's own deadlines), and
     * answers being sent had their time (a slow reader must not hold the
     * stop). busy is read before inflight, and inflight before resumers:
     * each is raised before the next is lowered. */
    uint64_t t0 = mono_us(), ms = 0;
    bool must = true, soft = true;
    for (; ms < STOP_SUSPENDED_MS; ms = (mono_us() - t0) / 1000) {
        must = atomic_load(&srv->busy) > 0 ||
               atomic_load(&srv->inflight) > 0 ||
               atomic_load(&srv->resumers) > 0;
        soft = atomic_load(&srv->answering) > 0 && ms < STOP_ANSWER_MS;
        if (!must && !soft)
            break;
        usleep(10000);
    }
    if (must) {
        /* Every answered write is already durable (C27). */
        eg_log(EG_LOG_ERROR,
               "%d requests still in hand or waiting on the store after %d s: "
               "exiting without stopping the HTTP threads",
               atomic_load(&srv->busy) + atomic_load(&srv->inflight),
               STOP_SUSPENDED_MS / 1000);
        _exit(EXIT_FAILURE);
    }
    if (atomic_load(&srv->answering) > 0)
        eg_log(EG_LOG_WARN,
               "stopping with %d answers still being sent after %d s",
               atomic_load(&srv->answering), STOP_ANSWER_MS / 1000);
    MHD_stop_daemon(srv->daemon);
    stop_workers(srv);
    free_server(srv);
}

/* Give the store's files to user and become that user (after binding). */
static int drop_privileges(struct eg_store *store, const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        eg_log(EG_LOG_ERROR, "--user %s: no such user", user);
        return EG_EBADREQUEST;
    }
    if (eg_store_chown(store, pw->pw_uid, pw->pw_gid) != 0 ||
        setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        eg_log(EG_LOG_ERROR, "--user %s: cannot become that user: %s", user,
               strerror(errno));
        return EG_EINTERNAL;
    }
    if (setuid(0) == 0) {
        eg_log(EG_LOG_ERROR, "--user %s: root could be regained", user);
        return EG_EINTERNAL;
    }
    eg_log(EG_LOG_INFO, "running as %s", user);
    return 0;
}

int eg_http_serve(struct eg_store *store, const struct eg_http_config *cfg)
{
    struct eg_http *h;
    int rc = eg_http_start(store, cfg, &h);
    if (rc != 0)
        return rc;
    if (cfg->user != NULL) {
        rc = drop_privileges(store, cfg->user);
        if (rc != 0) {
            eg_http_stop(h);
            return rc;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    eg_log(EG_LOG_INFO, "stopping (signal %d)", sig);
    eg_http_stop(h);
    return 0;
}
