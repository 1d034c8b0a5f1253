/*
 * error.c - lookups into the error table of error.h.
 */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct row {
    int err;
    const char *code;
    int status;
    const char *msg;
};

static const struct row rows[] = {
#define EG_X(name, code, status, msg) {EG_E##name, code, status, msg},
    EG_ERROR_MAP(EG_X)
#undef EG_X
};

static const struct row *find(int err)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].err == err)
            return &rows[i];
    return NULL;
}

const char *eg_err_code(int err)
{
    const struct row *r = find(err);
    return r ? r->code : "InternalError";
}

int eg_err_status(int err)
{
    const struct row *r = find(err);
    return r ? r->status : 500;
}

const char *eg_err_message(int err)
{
    const struct row *r = find(err);
    return r ? r->msg : "An internal error occurred.";
}

int eg_error_set(struct eg_error *e, int err, const char *fmt, ...)
{
    e->err = err;
    if (fmt == NULL) {
        snprintf(e->message, sizeof(e->message), "%s", eg_err_message(err));
        return err;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return err;
}
