/*
 * whole.c - running an operation to its end and rendering its whole result,
 * for front ends that answer each call in one message (MCP) rather than in a
 * stream (REST). The result is rendered by the same functions REST streams
 * with (eg_json_credential, eg_op_list_render), so both surfaces give the same
 * JSON; only the waiting and the buffering differ.
 */
#include <pthread.h>
#include <stdbool.h>

#include "ops/ops.h"

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void wake(struct eg_call *call)
{
    struct waiter *wt = call->ctx;
    pthread_mutex_lock(&wt->lock);
    wt->done = true;
    pthread_cond_signal(&wt->cond);
    pthread_mutex_unlock(&wt->lock);
}

int eg_op_run_sync(struct eg_call *call)
{
    struct waiter wt = {.done = false};
    pthread_mutex_init(&wt.lock, NULL);
    pthread_cond_init(&wt.cond, NULL);
    call->suspend = NULL;
    call->done = wake;
    call->ctx = &wt;
    int rc = eg_op_run(call);
    if (rc == EG_OP_ASYNC) {
        pthread_mutex_lock(&wt.lock);
        while (!wt.done)
            pthread_cond_wait(&wt.cond, &wt.lock);
        pthread_mutex_unlock(&wt.lock);
    }
    pthread_cond_destroy(&wt.cond);
    pthread_mutex_destroy(&wt.lock);
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
