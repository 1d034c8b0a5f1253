/*
 * error.h - the one error table of engage (CONTRACT C24).
 *
 * Every failure a layer can report is a negative EG_E* value. The table maps
 * each to the stable API code, the HTTP status and a default message, like
 * libuv's UV_ERRNO_MAP. Layers below the front ends only ever return these
 * numbers; the front ends render them (REST as the spec's Error JSON, the CLI
 * as a line on stderr).
 */
#ifndef EG_CORE_ERROR_H
#define EG_CORE_ERROR_H

#include <stddef.h>

/* X(name, code, http status, default message) */
#define EG_ERROR_MAP(X)                                                        \
    X(BADREQUEST, "BadRequest", 400, "The request is not valid.")              \
    X(UNKNOWNPROFILE, "UnknownAccessProfile", 400,                             \
      "accessProfile does not name an access profile of this tenant.")         \
    X(UNAUTHORIZED, "Unauthorized", 401,                                       \
      "The subscription key or the Basic Auth credentials are not valid.")     \
    X(NOTFOUND, "NotFound", 404, "Not found.")                                 \
    X(METHOD, "MethodNotAllowed", 405, "Method not allowed on this path.")     \
    X(INFLIGHT, "IdempotencyKeyInFlight", 409,                                 \
      "A request with this Idempotency-Key is still in flight.")               \
    X(CONFLICT, "Conflict", 409, "It exists already.")                         \
    X(TOOLARGE, "PayloadTooLarge", 413,                                        \
      "The request body is larger than 65536 bytes.")                          \
    X(MEDIATYPE, "UnsupportedMediaType", 415,                                  \
      "The request body must be sent as Content-Type: application/json.")     \
    X(IDEMREUSED, "IdempotencyKeyReused", 422,                                 \
      "This Idempotency-Key was used with a different request body.")          \
    X(TOOMANY, "TooManyRequests", 429, "Too many requests; retry later.")      \
    X(INTERNAL, "InternalError", 500, "An internal error occurred.")           \
    X(UNAVAILABLE, "ServiceUnavailable", 503,                                  \
      "The store is unavailable; retry later.")

enum eg_err {
    EG_OK = 0,
#define EG_X(name, code, status, msg) EG_E##name,
    EG__ERR_FIRST = -100,
    EG_ERROR_MAP(EG_X)
#undef EG_X
        EG__ERR_LAST
};

/* The API code of an EG_E* value ("BadRequest"); "InternalError" for any
 * value outside the table. Never NULL; static storage. */
const char *eg_err_code(int err);

/* The HTTP status of an EG_E* value; 500 for any value outside the table. */
int eg_err_status(int err);

/* The default message of an EG_E* value. Never NULL; static storage. */
const char *eg_err_message(int err);

/*
 * An error with its own message, filled by the layer that finds it and read
 * by the front end that renders it. The message is plain text for a person;
 * it never holds a secret or an internal detail.
 */
struct eg_error {
    int err;          /* EG_E* value, or EG_OK */
    char message[256];
};

/* Set e to err with a printf-style message (the default one when fmt is NULL).
 * Returns err, so a caller can `return eg_error_set(e, EG_EBADREQUEST, ...)`. */
int eg_error_set(struct eg_error *e, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
