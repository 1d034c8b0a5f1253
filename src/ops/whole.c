/*
 * whole.c - running an operation to its end and rendering its whole result,
 * for front ends that answer each call in one message (MCP) rather than in a
 * stream (REST). The result is rendered by the same functions REST streams
 * with (eg_json_credential, eg_op_list_render), so both surfaces give the same
 * JSON; only the waiting and the buffering differ.
 */
#include <stdbool.h>

#include "core/pool.h"
#include "ops/ops.h"

static void wake(struct eg_call *call)
{
    eg_waiter_wake(call->ctx);
}

int eg_op_run_sync(struct eg_call *call)
{
    struct eg_waiter wt;
    eg_waiter_init(&wt);
    call->suspend = NULL;
    call->done = wake;
    call->ctx = &wt;
    if (eg_op_run(call) != EG_OP_ASYNC)
        eg_waiter_wake(&wt);
    eg_waiter_wait(&wt);
    call->done = NULL;
    call->ctx = NULL;
    return 0;
}

static int render_list(struct eg_call *call, struct eg_buf *b, size_t max,
                       struct eg_error *err)
{
    bool started = false;
    for (;;) {
        int rc = eg_op_list_render(call, b, &started);
        if (rc < 0)
            return eg_error_set(err, rc, NULL);
        if (rc == 0)
            return 0;
        if (b->len > max)
            return eg_error_set(err, EG_ETOOLARGE,
                                "The list is longer than %zu bytes, too long "
                                "for one answer: narrow it (userId, status) "
                                "or page it (limit).",
                                max);
    }
}

int eg_op_render(struct eg_call *call, struct eg_buf *b, size_t max,
                 struct eg_error *err)
{
    const struct eg_op *op = call->op;
    if (op->result == EG_RES_CRED_LIST || op->result == EG_RES_DEVICE_LIST)
        return render_list(call, b, max, err);
    if (op->result == EG_RES_NONE && !op->credential)
        return eg_buf_addstr(b, "{}") == 0
                   ? 0
                   : eg_error_set(err, EG_EINTERNAL, NULL);
    /* EG_RES_CREDENTIAL, or the credential an empty answer left as it is. */
    json_t *v = eg_json_credential(&call->cred, call->now);
    int rc = eg_json_append(b, v);
    json_decref(v);
    if (rc != 0 || b->len > max)
        return eg_error_set(err, EG_EINTERNAL, NULL);
    return 0;
}
