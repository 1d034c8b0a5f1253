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
};

/* Serve until SIGINT or SIGTERM, then stop gracefully: stop accepting, finish
 * what is in flight, commit. Blocks. Returns 0, or an EG_E* when the server
 * could not start (a message is logged). */
int eg_http_serve(struct eg_store *store, const struct eg_http_config *cfg);

#endif
