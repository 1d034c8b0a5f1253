/*
 * server.h - the REST front end: libmicrohttpd with an epoll thread pool.
 *
 * It routes by the operation table, authenticates (C5-C8), reads bodies
 * within the limits, and renders results and errors as the spec's JSON. It
 * never talks SQL and never builds a resource's JSON itself (ops/ does).
 */
#ifndef EG_HTTP_SERVER_H
#define EG_HTTP_SERVER_H

#include <stdint.h>

#include "svc/svc.h"

struct eg_http_config {
    const char *listen;    /* "HOST:PORT" */
    const char *base_path; /* "/engage" */
    unsigned threads;      /* pool threads; 0 = one per core */
    unsigned auth_cache_ttl_s;
    unsigned idempotency_ttl_s; /* C22: how long a 201 is replayed */
    unsigned auth_fail_limit;   /* C9: failures per address or key ... */
    unsigned auth_fail_window_s; /* ... in this window; 0 limit = off */
    int access_log_fd; /* JSON-lines access log; -1 = none */
    const char *tls_cert; /* PEM files: both set = HTTPS only (C2) */
    const char *tls_key;
    unsigned rate_limit_rps;   /* per-key requests/s (C9); 0 = off */
    unsigned rate_limit_burst; /* bucket size; 0 = rate_limit_rps */
    unsigned max_connections;  /* 0 = 4096 */
    unsigned idle_timeout_s;   /* close a connection idle this long; 0 = 60 */
    const char *user;          /* drop root to this user after binding */
    int io_threads; /* store reads on this many workers; -1 = auto (16 for a
                       remote store, 0 = on the event threads otherwise) */
    int read_cache_mib; /* the credential read cache (C32): 0 = 128 MiB,
                           -1 = none; kept only on a SQLite store */
};

struct eg_http;

/* Start serving on cfg->listen (NULL: no listening socket; connections come
 * only through eg_http_add_connection). Returns 0 with *out, or an EG_E*
 * (a message is logged). Does not block. */
int eg_http_start(struct eg_store *store, const struct eg_http_config *cfg,
                  struct eg_http **out);

/* Serve the connected socket fd (ownership passes to the server), as if it
 * had been accepted. Returns 0 or EG_EINTERNAL; fd is closed in either case
 * (by libmicrohttpd when it refuses it). */
int eg_http_add_connection(struct eg_http *h, int fd);

/* Stop gracefully: answer new requests 503, let requests in flight finish
 * (5 s at most for answers being sent, 25 s for work on the store), stop
 * listening, commit, free h. */
void eg_http_stop(struct eg_http *h);

/* Start, drop privileges when cfg->user is set, serve until SIGINT or SIGTERM,
 * then stop gracefully. Blocks. Returns 0, or an EG_E* when the server could
 * not start. */
int eg_http_serve(struct eg_store *store, const struct eg_http_config *cfg);

#endif
