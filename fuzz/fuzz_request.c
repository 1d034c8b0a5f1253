/*
 * fuzz_request.c - libFuzzer driver: one whole HTTP request through the
 * REST front end (routing, auth, validation, the service, a temporary SQLite
 * store) and the check of its rendered answer.
 *
 * LLVMFuzzerInitialize provisions a store (common.c) and starts the server
 * with no listening socket (eg_http_start, cfg.listen = NULL), the failed-
 * auth throttle off so no input is ever refused for an earlier one. Each
 * input is turned into request bytes, written to one end of a socketpair
 * whose other end is handed to the server (eg_http_add_connection), and the
 * answer is read back and checked:
 *
 *   - it is well-formed HTTP/1.x (status line, headers, body framed by
 *     Content-Length, chunked or the close);
 *   - an answer of engage itself (it has X-Request-Id) is never 5xx, and
 *     every 4xx is the Error JSON {"code","message"} with a C24 code whose
 *     status is the answer's; 2xx JSON bodies parse;
 *   - an answer of libmicrohttpd itself (no X-Request-Id) is < 500 or 505
 *     (CONTRACT C24);
 *   - nothing follows the answer to a HEAD (no body, not even a chunked
 *     end);
 *   - a complete request (structured mode, framed by the driver) is
 *     answered in time, or at least the connection closed once the write
 *     side is shut.
 * A failed check abort()s, so libFuzzer keeps the input.
 *
 * The input: byte 0 is a set of flags, the rest fields split at NUL bytes:
 *   METHOD \0 PATH \0 QUERY \0 HEADERS \0 BODY
 *   flags & 7 == 7: raw mode: bytes 1.. are sent as they are (then the
 *                   write side is shut, as every raw request may be partial)
 *   0x08: leave out the valid alle-subscription-key and Authorization
 *         headers (sent first otherwise, so they win over fuzzed copies)
 *   0x10: keep-alive (no "Connection: close" is added)
 *   0x20: no Content-Length from the driver: the fuzzed headers frame the
 *         body (Content-Length, Transfer-Encoding: chunked); write side shut
 *   0x40: no "Content-Type: application/json" from the driver
 * METHOD empty = GET; PATH empty = /engage/credentials, a PATH not starting
 * with '/' is under /engage/; in PATH and QUERY "$ID", "$RID" and "$XID"
 * become the ids of an active, a revoked and an expired credential; bytes
 * that would break the request line are percent-encoded. HEADERS are lines
 * "Name: value" split at '\n' ('\r' dropped); fuzzed Content-Length and
 * Transfer-Encoding lines are dropped unless flag 0x20 is set.
 *
 * Every FZ_RESET_EVERY inputs the server is stopped (eg_http_stop) and
 * started again on a fresh store, so lists stay short.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "core/util.h"
#include "http/server.h"

#define FZ_RESET_EVERY 4000
#define FIRST_WAIT_MS 1500 /* a complete request must be answered by then */
#define LAST_WAIT_MS 5000  /* ... or closed this long after the write side
                              is shut */
#define PARTIAL_WAIT_MS 40 /* a request that may be partial, sent with its
                               write side shut: libmicrohttpd 0.9.75 may keep
                               such a connection until its idle timeout */
#define QUIET_MS 20        /* raw mode: more answers may follow; after a
                              HEAD answer, no body may follow */

static struct fz_fixture fx;
static struct eg_http *srv;
static unsigned long execs;
/* Defects already reported, tolerated when FUZZ_TOLERATE (a comma list)
 * names them, so an exploratory run can look past them (make test never
 * sets it): "error-no-message" (an Error without "message" when it would
 * echo bytes that are not UTF-8), "head-chunked" (HEAD of a list sends the
 * chunked end "0\r\n\r\n" as a body). */
static bool tolerate_no_message, tolerate_head_chunked;
/* how the inputs ended, printed at exit */
static unsigned long n_answered, n_closed, n_unanswered, n_raw;
static unsigned long n_closed_complete; /* a complete request, no answer */

static void start_server(void)
{
    fz_fixture_init(&fx);
    struct eg_http_config cfg = {
        .listen = NULL,
        .base_path = "/engage",
        .threads = 1,
        .auth_cache_ttl_s = 3600,
        .idempotency_ttl_s = 86400,
        .auth_fail_limit = 0,
        .auth_fail_window_s = 60,
        .access_log_fd = -1,
    };
    FZ_CHECK(eg_http_start(fx.store, &cfg, &srv) == 0, "eg_http_start");
}

static void stop_server(void)
{
    eg_http_stop(srv);
    srv = NULL;
    fz_fixture_free(&fx);
}

static void at_exit(void)
{
    fprintf(stderr,
            "fuzz_request: %lu inputs (%lu raw): %lu answered, %lu closed "
            "without an answer (%lu of them complete requests), %lu partial "
            "and unanswered\n",
            execs, n_raw, n_answered, n_closed, n_closed_complete,
            n_unanswered);
    if (srv != NULL)
        stop_server();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    eg_log_min = EG_LOG_WARN;
    const char *tol = getenv("FUZZ_TOLERATE");
    tolerate_no_message = tol != NULL && strstr(tol, "error-no-message");
    tolerate_head_chunked = tol != NULL && strstr(tol, "head-chunked");
    start_server();
    atexit(at_exit);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- building the request ---- */

static void add(struct eg_buf *b, const void *p, size_t n)
{
    FZ_CHECK(eg_buf_add(b, p, n) == 0, "request buffer full");
}

static void adds(struct eg_buf *b, const char *s)
{
    add(b, s, strlen(s));
}

/* A path or query field: substitute the credential ids, percent-encode what
 * would break the request line. */
static void add_url_part(struct eg_buf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        const char *subst = NULL;
        size_t skip = 0;
        if (p[i] == '$') {
            if (n - i >= 3 && memcmp(p + i, "$ID", 3) == 0)
                subst = fx.cred_active, skip = 3;
            if (n - i >= 4 && memcmp(p + i, "$RID", 4) == 0)
                subst = fx.cred_revoked, skip = 4;
            if (n - i >= 4 && memcmp(p + i, "$XID", 4) == 0)
                subst = fx.cred_expired, skip = 4;
        }
        if (subst != NULL) {
            adds(b, subst);
            i += skip - 1;
        } else if (p[i] <= 0x20 || p[i] == 0x7f || p[i] == '#') {
            char enc[3] = {'%', hex[p[i] >> 4], hex[p[i] & 15]};
            add(b, enc, 3);
        } else {
            add(b, &p[i], 1);
        }
    }
}

static bool header_is(const uint8_t *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && strncasecmp((const char *)line, name, k) == 0 &&
           (line[k] == ':' || line[k] == ' ');
}

/* Split the fields; returns the start and length of field i (0..4). */
static void fields(const uint8_t *d, size_t n, const uint8_t *f[5],
                   size_t len[5])
{
    size_t i = 0, start = 0;
    for (size_t k = 0; k < 5; k++) {
        f[k] = d + n;
        len[k] = 0;
    }
    for (size_t p = 0; p <= n && i < 5; p++) {
        if (i == 4) { /* the body: everything left */
            f[4] = d + start;
            len[4] = n - start;
            break;
        }
        if (p == n || d[p] == '\0') {
            f[i] = d + start;
            len[i] = p - start;
            i++;
            start = p + 1;
        }
    }
}

struct request {
    struct eg_buf bytes;
    bool raw;
    bool shut_at_once;
    bool head;      /* the first request is a HEAD */
    size_t known;   /* raw mode: the requests whose method is known */
    uint64_t heads; /* raw mode: bit k, the k-th request is a HEAD */
};

/* Raw mode: the methods of the requests in data, in order, so that the
 * answer to a HEAD that is not the first is read without a body. Each
 * request is split the way libmicrohttpd 0.9.75 reads it: lines end at
 * CRLF or a bare LF, and a line is empty when it has no bytes or starts
 * with a NUL (it sees each line as a C string); empty lines before the
 * request line are skipped, the head ends at an empty line, and a body of
 * its Content-Length follows. Counting stops where that reading is not
 * sure (Transfer-Encoding, a Content-Length that is not plain digits or
 * comes twice, bytes missing), and the answers after the last known
 * request are not judged. */
static void raw_methods(const uint8_t *d, size_t n, struct request *rq)
{
    size_t p = 0;
    rq->known = 0;
    rq->heads = 0;
    while (rq->known < 64) {
        size_t start = n, len = 0;
        bool framed = true, has_len = false;
        for (;;) {
            size_t eol = p;
            while (eol < n && d[eol] != '\n')
                eol++;
            if (eol == n) {
                framed = false; /* a line without its end */
                break;
            }
            size_t w = eol - p;
            if (w > 0 && d[eol - 1] == '\r')
                w--;
            const uint8_t *line = d + p;
            p = eol + 1;
            bool empty = w == 0 || line[0] == '\0';
            if (start == n) { /* before the request line */
                if (!empty)
                    start = (size_t)(line - d);
                continue;
            }
            if (empty)
                break; /* the end of the head */
            static const char cl[] = "content-length:";
            static const char te[] = "transfer-encoding:";
            if (w >= sizeof(cl) - 1 &&
                strncasecmp((const char *)line, cl, sizeof(cl) - 1) == 0) {
                size_t k = sizeof(cl) - 1;
                while (k < w && line[k] == ' ')
                    k++;
                if (k == w || w - k > 9 || has_len)
                    framed = false;
                has_len = true;
                for (; k < w && framed; k++) {
                    if (line[k] < '0' || line[k] > '9')
                        framed = false;
                    else
                        len = len * 10 + (size_t)(line[k] - '0');
                }
            } else if (w >= sizeof(te) - 1 &&
                       strncasecmp((const char *)line, te, sizeof(te) - 1) ==
                           0) {
                framed = false;
            }
        }
        if (start == n)
            return; /* no request line */
        if (n - start >= 5 && memcmp(d + start, "HEAD ", 5) == 0)
            rq->heads |= (uint64_t)1 << rq->known;
        rq->known++;
        if (!framed || len > n - p)
            return;
        p += len;
    }
}

static void build(const uint8_t *data, size_t size, struct request *rq)
{
    eg_buf_init(&rq->bytes, 1 << 20);
    uint8_t flags = data[0];
    data++;
    size--;
    rq->raw = (flags & 7) == 7;
    if (rq->raw) {
        rq->shut_at_once = true;
        raw_methods(data, size, rq);
        rq->head = rq->known > 0 && (rq->heads & 1) != 0;
        add(&rq->bytes, data, size);
        return;
    }
    rq->shut_at_once = (flags & 0x20) != 0;
    const uint8_t *f[5];
    size_t len[5];
    fields(data, size, f, len);

    /* request line */
    if (len[0] == 0) {
        adds(&rq->bytes, "GET");
    } else {
        for (size_t i = 0; i < len[0]; i++) {
            uint8_t c = f[0][i];
            if (c == ' ' || c == '\r' || c == '\n')
                c = '_';
            add(&rq->bytes, &c, 1);
        }
    }
    rq->head = len[0] == 4 && memcmp(f[0], "HEAD", 4) == 0;
    adds(&rq->bytes, " ");
    if (len[1] == 0)
        adds(&rq->bytes, "/engage/credentials");
    else if (f[1][0] != '/')
        adds(&rq->bytes, "/engage/");
    add_url_part(&rq->bytes, f[1], len[1]);
    if (len[2] > 0) {
        adds(&rq->bytes, "?");
        add_url_part(&rq->bytes, f[2], len[2]);
    }
    adds(&rq->bytes, " HTTP/1.1\r\nHost: engage.test\r\n");

    /* headers: the valid auth first (the first of a name wins) */
    if (!(flags & 0x08)) {
        adds(&rq->bytes, "alle-subscription-key: ");
        adds(&rq->bytes, fx.key);
        adds(&rq->bytes, "\r\nAuthorization: ");
        adds(&rq->bytes, fx.authz);
        adds(&rq->bytes, "\r\n");
    }
    const uint8_t *h = f[3];
    size_t hn = len[3];
    while (hn > 0) {
        const uint8_t *nl = memchr(h, '\n', hn);
        size_t ln = nl ? (size_t)(nl - h) : hn;
        /* drop CRs: a header line never ends early */
        uint8_t line[4096];
        size_t w = 0;
        for (size_t i = 0; i < ln && w < sizeof(line); i++)
            if (h[i] != '\r')
                line[w++] = h[i];
        bool framing = header_is(line, w, "Content-Length") ||
                       header_is(line, w, "Transfer-Encoding");
        if (w > 0 && (!framing || (flags & 0x20))) {
            add(&rq->bytes, line, w);
            adds(&rq->bytes, "\r\n");
        }
        h += ln + (nl ? 1 : 0);
        hn -= ln + (nl ? 1 : 0);
    }
    if (!(flags & 0x40))
        adds(&rq->bytes, "Content-Type: application/json\r\n");
    if (!(flags & 0x10))
        adds(&rq->bytes, "Connection: close\r\n");
    if (!(flags & 0x20)) {
        char cl[64];
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", len[4]);
        adds(&rq->bytes, cl);
    }
    adds(&rq->bytes, "\r\n");
    add(&rq->bytes, f[4], len[4]);
}

/* ---- checking the answer ---- */

struct resp {
    int status;
    bool engage; /* has X-Request-Id: engage answered, not the library */
    const char *ctype;
    size_t ctype_len;
    bool has_allow, has_www_auth, has_retry_after;
    struct eg_buf body;
};

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static bool hname(const char *line, size_t n, const char *name,
                  const char **val, size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return false;
    const char *v = line + k + 1;
    const char *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return true;
}

/* Parse one answer at *pp. Returns 1 when complete (then *pp is past it),
 * 0 when more bytes are needed, -1 when the bytes are not an HTTP answer. */
static int parse_one(const char **pp, const char *end, bool eof, bool head,
                     struct resp *r, char *why, size_t whylen)
{
    const char *p = *pp;
    memset(r, 0, sizeof(*r));
    eg_buf_init(&r->body, SIZE_MAX);
    const char *eol = find_crlf(p, end);
    if (eol == NULL) {
        if (end - p >= 9 && memcmp(p, "HTTP/1.", 7) != 0) {
            snprintf(why, whylen, "no status line");
            return -1;
        }
        return 0;
    }
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ' || p[9] < '1' ||
        p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
        p[11] > '9' || (eol - p > 12 && p[12] != ' ')) {
        snprintf(why, whylen, "malformed status line '%.*s'",
                 (int)(eol - p > 80 ? 80 : eol - p), p);
        return -1;
    }
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    p = eol + 2;
    bool chunked = false, has_len = false;
    unsigned long long clen = 0;
    for (;;) {
        eol = find_crlf(p, end);
        if (eol == NULL)
            return 0;
        if (eol == p) {
            p += 2;
            break;
        }
        size_t n = (size_t)(eol - p);
        const char *colon = memchr(p, ':', n);
        if (colon == NULL || colon == p) {
            snprintf(why, whylen, "malformed header line '%.*s'",
                     (int)(n > 80 ? 80 : n), p);
            return -1;
        }
        for (const char *c = p; c < colon; c++)
            if (*c <= ' ' || *c >= 0x7f) {
                snprintf(why, whylen, "bad header name '%.*s'",
                         (int)(colon - p), p);
                return -1;
            }
        const char *v;
        size_t vl;
        if (hname(p, n, "X-Request-Id", &v, &vl))
            r->engage = true;
        if (hname(p, n, "Content-Type", &v, &vl)) {
            r->ctype = v;
            r->ctype_len = vl;
        }
        if (hname(p, n, "Allow", &v, &vl))
            r->has_allow = true;
        if (hname(p, n, "WWW-Authenticate", &v, &vl))
            r->has_www_auth = true;
        if (hname(p, n, "Retry-After", &v, &vl))
            r->has_retry_after = vl > 0;
        if (hname(p, n, "Transfer-Encoding", &v, &vl))
            chunked = vl == 7 && strncasecmp(v, "chunked", 7) == 0;
        if (hname(p, n, "Content-Length", &v, &vl)) {
            char tmp[32];
            if (vl == 0 || vl >= sizeof(tmp)) {
                snprintf(why, whylen, "bad Content-Length");
                return -1;
            }
            memcpy(tmp, v, vl);
            tmp[vl] = '\0';
            char *e;
            clen = strtoull(tmp, &e, 10);
            if (*e != '\0') {
                snprintf(why, whylen, "bad Content-Length '%s'", tmp);
                return -1;
            }
            has_len = true;
        }
        p = eol + 2;
    }
    if (head || r->status < 200 || r->status == 204 || r->status == 304) {
        *pp = p;
        return 1;
    }
    if (chunked) {
        for (;;) {
            eol = find_crlf(p, end);
            if (eol == NULL)
                return eof ? (snprintf(why, whylen, "chunked body cut off"), -1)
                           : 0;
            char *e;
            char tmp[32];
            size_t n = (size_t)(eol - p);
            if (n == 0 || n >= sizeof(tmp)) {
                snprintf(why, whylen, "bad chunk size line");
                return -1;
            }
            memcpy(tmp, p, n);
            tmp[n] = '\0';
            unsigned long long sz = strtoull(tmp, &e, 16);
            if (e == tmp || (*e != '\0' && *e != ';')) {
                snprintf(why, whylen, "bad chunk size '%s'", tmp);
                return -1;
            }
            p = eol + 2;
            if (sz == 0) {
                /* trailers, then the empty line */
                for (;;) {
                    eol = find_crlf(p, end);
                    if (eol == NULL)
                        return eof ? (snprintf(why, whylen,
                                               "chunked end cut off"),
                                      -1)
                                   : 0;
                    bool last = eol == p;
                    p = eol + 2;
                    if (last)
                        break;
                }
                *pp = p;
                return 1;
            }
            if ((unsigned long long)(end - p) < sz + 2)
                return eof ? (snprintf(why, whylen, "chunk cut off"), -1) : 0;
            if (p[sz] != '\r' || p[sz + 1] != '\n') {
                snprintf(why, whylen, "chunk not followed by CRLF");
                return -1;
            }
            eg_buf_add(&r->body, p, sz);
            p += sz + 2;
        }
    }
    if (has_len) {
        if (eof && end == p && !r->engage && r->status >= 400) {
            /* libmicrohttpd's own error page, its head alone, then the
             * close: its answer to what it read as a HEAD, which in raw
             * bytes the driver cannot always tell (regression
             * head-after-garbage). */
            *pp = p;
            return 1;
        }
        if ((unsigned long long)(end - p) < clen)
            return eof ? (snprintf(why, whylen, "body cut off"), -1) : 0;
        eg_buf_add(&r->body, p, clen);
        *pp = p + clen;
        return 1;
    }
    /* delimited by the close */
    if (!eof)
        return 0;
    eg_buf_add(&r->body, p, (size_t)(end - p));
    *pp = end;
    return 1;
}

static bool ctype_is(const struct resp *r, const char *t)
{
    size_t k = strlen(t);
    return r->ctype != NULL && r->ctype_len >= k &&
           strncasecmp(r->ctype, t, k) == 0;
}

/* The checks of one complete answer; returns NULL or what is wrong. */
static const char *judge(const struct resp *r, bool head, char *why,
                         size_t whylen)
{
    if (!r->engage) {
        /* libmicrohttpd's own answer to what it cannot parse (C24) */
        if (r->status >= 500 && r->status != 505)
            return snprintf(why, whylen, "library answer %d", r->status), why;
        return NULL;
    }
    if (r->status >= 500)
        return snprintf(why, whylen, "engage answered %d", r->status), why;
    if (r->status == 401 && !r->has_www_auth)
        return "401 without WWW-Authenticate";
    if (r->status == 405 && !r->has_allow)
        return "405 without Allow";
    if (r->status == 429 && !r->has_retry_after)
        return "429 without Retry-After";
    if (head || r->status == 204 || r->status < 200)
        return NULL;
    if (r->status >= 400 && !ctype_is(r, "application/json; charset=utf-8"))
        return "an error answer that is not application/json";
    if (!ctype_is(r, "application/json"))
        return NULL; /* the spec (yaml), metrics (text) */
    json_error_t je;
    json_t *v = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0,
                           &je);
    if (v == NULL)
        return snprintf(why, whylen, "body is not JSON: %s", je.text), why;
    const char *bad = NULL;
    if (!json_is_object(v)) {
        bad = "body is not a JSON object";
    } else if (r->status >= 400) {
        json_t *code = json_object_get(v, "code");
        json_t *msg = json_object_get(v, "message");
        if (tolerate_no_message && msg == NULL && json_object_size(v) == 1)
            ;
        else if (json_object_size(v) != 2 || !json_is_string(code) ||
                 !json_is_string(msg) || json_string_length(msg) == 0)
            bad = "error body is not {\"code\",\"message\"}";
        else if (!fz_c24_code(json_string_value(code)))
            bad = (snprintf(why, whylen, "code %s is not one of C24",
                            json_string_value(code)),
                   why);
        else if (r->status != 400 || strcmp(json_string_value(code),
                                            "UnknownAccessProfile") != 0) {
            /* the code's status is the answer's */
            static const struct {
                const char *code;
                int status;
            } st[] = {{"BadRequest", 400},
                      {"Unauthorized", 401},
                      {"NotFound", 404},
                      {"MethodNotAllowed", 405},
                      {"IdempotencyKeyInFlight", 409},
                      {"PayloadTooLarge", 413},
                      {"UnsupportedMediaType", 415},
                      {"IdempotencyKeyReused", 422},
                      {"TooManyRequests", 429}};
            for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
                if (strcmp(st[i].code, json_string_value(code)) == 0 &&
                    st[i].status != r->status)
                    bad = (snprintf(why, whylen, "code %s with status %d",
                                    st[i].code, r->status),
                           why);
        }
    }
    json_decref(v);
    return bad;
}

static void dump_and_abort(const struct request *rq, const char *got,
                           size_t gotlen, const char *what)
{
    fprintf(stderr, "\n==== fuzz_request: %s\n---- request (%zu bytes):\n",
            what, rq->bytes.len);
    fwrite(rq->bytes.data, 1, rq->bytes.len > 4096 ? 4096 : rq->bytes.len,
           stderr);
    fprintf(stderr, "\n---- answer (%zu bytes):\n", gotlen);
    fwrite(got, 1, gotlen > 4096 ? 4096 : gotlen, stderr);
    fprintf(stderr, "\n----\n");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (++execs % FZ_RESET_EVERY == 0) {
        stop_server();
        start_server();
    }
    struct request rq;
    memset(&rq, 0, sizeof(rq));
    build(data, size, &rq);

    /* At the connection limit (connections the library keeps until their
     * idle timeout), wait for room. A refused socket has been closed by the
     * library (MHD_add_connection closes it in any case), so each try takes
     * a new pair: retrying the old descriptor would close it twice, which
     * libmicrohttpd 0.9.75 answers with an abort (or closes whatever file
     * reused the number). */
    int sv[2];
    int tries = 0;
    for (;;) {
        FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
                 "socketpair: %s", strerror(errno));
        if (eg_http_add_connection(srv, sv[1]) == 0)
            break;
        close(sv[0]);
        FZ_CHECK(++tries < 1000, "add_connection refused for 100 s");
        usleep(100000);
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    size_t off = 0;
    while (off < rq.bytes.len) {
        ssize_t n = send(sv[0], rq.bytes.data + off, rq.bytes.len - off,
                         MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server answered early and closed: fine */
        off += (size_t)n;
    }
    bool shut = false;
    if (rq.shut_at_once) {
        shutdown(sv[0], SHUT_WR);
        shut = true;
    }

    struct eg_buf got;
    eg_buf_init(&got, 64 << 20);
    bool eof = false;
    size_t answers = 0;
    size_t parsed = 0; /* bytes of got judged */
    bool stop_judging = false;
    uint64_t t0 = now_ms();
    uint64_t deadline = t0 + (shut ? PARTIAL_WAIT_MS : FIRST_WAIT_MS);
    char why[256];
    for (;;) {
        /* judge every complete answer received so far */
        while (!stop_judging && parsed < got.len) {
            if (rq.head && answers == 1 && tolerate_head_chunked) {
                size_t left = got.len - parsed;
                size_t k = left < 5 ? left : 5;
                if (memcmp(got.data + parsed, "0\r\n\r\n", k) == 0) {
                    if (k < 5)
                        break; /* wait for the rest */
                    parsed += 5;
                    continue;
                }
            }
            /* Whether this answer is to a HEAD: no body. */
            bool to_head = rq.head && answers == 0;
            if (rq.raw && answers > 0) {
                if (answers >= rq.known) {
                    stop_judging = true; /* its request is not known */
                    break;
                }
                to_head = (rq.heads >> answers & 1) != 0;
            }
            const char *p = got.data + parsed;
            struct resp r;
            int rc = parse_one(&p, got.data + got.len, eof, to_head, &r, why,
                               sizeof(why));
            if (rc == 0) {
                eg_buf_free(&r.body);
                break;
            }
            if (rc < 0) {
                eg_buf_free(&r.body);
                if (rq.raw && answers > 0) {
                    /* After a library error page the connection is closed;
                     * libmicrohttpd 0.9.75 may repeat its head (C24). */
                    stop_judging = true;
                    break;
                }
                if (rq.head && answers > 0)
                    snprintf(why, sizeof(why),
                             "bytes after the answer to HEAD (a body?): '%.20s'",
                             got.data + parsed);
                dump_and_abort(&rq, got.data, got.len, why);
            }
            const char *bad = judge(&r, to_head, why, sizeof(why));
            bool lib = !r.engage;
            eg_buf_free(&r.body);
            if (bad != NULL)
                dump_and_abort(&rq, got.data, got.len, bad);
            parsed = (size_t)(p - got.data);
            if (r.status >= 200)
                answers++;
            if (lib && r.status >= 200)
                stop_judging = true; /* the library's page ends it */
        }
        if (eof)
            break;
        if (!rq.raw && !rq.head && answers > 0)
            break; /* one request, one answer (after HEAD: nothing more) */
        uint64_t now = now_ms();
        int wait;
        if ((rq.raw || rq.head) && answers > 0)
            wait = QUIET_MS;
        else
            wait = now >= deadline ? 0 : (int)(deadline - now);
        struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
        int pr = poll(&pfd, 1, wait);
        if (pr > 0) {
            char buf[65536];
            ssize_t n = read(sv[0], buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                eof = true; /* judge what is left with eof set */
                continue;
            }
            if (eg_buf_add(&got, buf, (size_t)n) != 0)
                dump_and_abort(&rq, got.data, got.len, "answer over 64 MiB");
            continue;
        }
        if ((rq.raw || rq.head) && answers > 0)
            break; /* quiet after an answer */
        if (rq.shut_at_once)
            break; /* possibly partial: no answer due */
        if (!shut) {
            shutdown(sv[0], SHUT_WR);
            shut = true;
            if (!rq.raw && !rq.shut_at_once && got.len == 0)
                fprintf(stderr, "fuzz_request: no answer within %d ms to a "
                                "complete request; shutting the write side\n",
                        FIRST_WAIT_MS);
            deadline = now_ms() + LAST_WAIT_MS;
            continue;
        }
        dump_and_abort(&rq, got.data, got.len,
                       "neither an answer nor a close within the time "
                       "allowed (a stuck connection)");
    }
    if (rq.raw)
        n_raw++;
    if (answers > 0)
        n_answered++;
    else if (eof)
        n_closed++;
    else
        n_unanswered++;
    if (answers == 0 && eof && !rq.shut_at_once) {
        /* Complete by construction, closed unanswered: libmicrohttpd's
         * refusal of what it cannot parse (a method or header it rejects)
         * closes without an answer. Shown with FUZZ_VERBOSE. */
        if (n_closed_complete++ < 20 && getenv("FUZZ_VERBOSE") != NULL) {
            fprintf(stderr, "fuzz_request: closed unanswered:\n");
            fwrite(rq.bytes.data, 1, rq.bytes.len > 600 ? 600 : rq.bytes.len,
                   stderr);
            fprintf(stderr, "\n---- received (%zu bytes):\n", got.len);
            fwrite(got.data, 1, got.len > 600 ? 600 : got.len, stderr);
            fprintf(stderr, "\n----\n");
        }
    }
    close(sv[0]);
    eg_buf_free(&got);
    eg_buf_free(&rq.bytes);
    return 0;
}
