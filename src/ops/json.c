/*
 * json.c - the one JSON form of every resource and error, and the parsing of
 * the create body (C13, C15, C16, C24, C25). REST and MCP both render through
 * these functions; nothing else in engage builds a credential's JSON.
 */
#include <string.h>

#include "core/time.h"
#include "ops/ops.h"

#define LIST_PAGE 256

/* The nesting depth of v: 0 for a scalar, 1 + the deepest child for an
 * object or array. */
static size_t depth_of(json_t *v)
{
    size_t max = 0;
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it != NULL;
             it = json_object_iter_next(v, it)) {
            size_t d = depth_of(json_object_iter_value(it));
            max = d > max ? d : max;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t d = depth_of(json_array_get(v, i));
            max = d > max ? d : max;
        }
    } else {
        return 0;
    }
    return max + 1;
}

int eg_json_parse_body(const char *buf, size_t len, json_t **out,
                       struct eg_error *err)
{
    json_error_t je;
    *out = NULL;
    if (len == 0)
        return eg_error_set(err, EG_EBADREQUEST,
                            "The request body is empty; a JSON object is "
                            "required.");
    /* \u0000 is let through here so that the field's own check names it
     * (C13: no control characters). */
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &je);
    if (v == NULL) {
        if (json_error_code(&je) == json_error_duplicate_key)
            return eg_error_set(err, EG_EBADREQUEST,
                                "The request body has a duplicate key (%s).",
                                je.text);
        return eg_error_set(err, EG_EBADREQUEST,
                            "The request body is not valid JSON: %s at "
                            "line %d, column %d.",
                            je.text, je.line, je.column);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return eg_error_set(err, EG_EBADREQUEST,
                            "The request body must be a JSON object.");
    }
    if (depth_of(v) > EG_JSON_MAX_DEPTH) {
        json_decref(v);
        return eg_error_set(err, EG_EBADREQUEST,
                            "The request body is nested deeper than %d levels.",
                            EG_JSON_MAX_DEPTH);
    }
    *out = v;
    return 0;
}

static int field(json_t *body, const char *name, struct eg_str *out,
                 struct eg_error *err)
{
    json_t *v = json_object_get(body, name);
    out->present = v != NULL;
    out->s = NULL;
    out->len = 0;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return eg_error_set(err, EG_EBADREQUEST, "%s must be a string.", name);
    out->s = json_string_value(v);
    out->len = json_string_length(v);
    return 0;
}

int eg_json_cred_input(json_t *body, struct eg_cred_input *in,
                       struct eg_error *err)
{
    if (field(body, "userId", &in->user_id, err) != 0 ||
        field(body, "userEmail", &in->user_email, err) != 0 ||
        field(body, "userName", &in->user_name, err) != 0 ||
        field(body, "accessProfile", &in->access_profile, err) != 0 ||
        field(body, "validFrom", &in->valid_from, err) != 0 ||
        field(body, "validTo", &in->valid_to, err) != 0)
        return err->err;
    return 0;
}

static void set_time(json_t *o, const char *key, int64_t t)
{
    char buf[EG_TIME_TEXT_MAX];
    json_object_set_new(o, key, json_string(eg_time_format(t, buf)));
}

json_t *eg_json_credential(const struct eg_credential *c, int64_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "credentialId", json_string(c->credential_id));
    json_object_set_new(o, "userId", json_string(c->user_id));
    if (c->has_user_email)
        json_object_set_new(o, "userEmail", json_string(c->user_email));
    if (c->has_user_name)
        json_object_set_new(o, "userName", json_string(c->user_name));
    json_object_set_new(o, "status",
                        json_string(eg_cred_status_name(eg_cred_status(c, now))));
    json_object_set_new(o, "accessProfile", json_string(c->access_profile));
    set_time(o, "validFrom", c->valid_from);
    if (c->valid_to != EG_TIME_NONE)
        set_time(o, "validTo", c->valid_to);
    set_time(o, "createdAt", c->created_at);
    if (c->revoked_at != EG_TIME_NONE)
        set_time(o, "revokedAt", c->revoked_at);
    else
        json_object_set_new(o, "revokedAt", json_null());
    return o;
}

json_t *eg_json_device(const struct eg_device *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "deviceId", json_string(d->device_id));
    json_object_set_new(o, "name", json_string(d->name));
    json_object_set_new(o, "model", json_string(d->model));
    if (d->firmware_version[0] != '\0')
        json_object_set_new(o, "firmwareVersion",
                            json_string(d->firmware_version));
    if (d->site_id[0] != '\0')
        json_object_set_new(o, "siteId", json_string(d->site_id));
    return o;
}

json_t *eg_json_error(const struct eg_error *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(eg_err_code(e->err)));
    json_object_set_new(o, "message",
                        json_string(e->message[0] ? e->message
                                                  : eg_err_message(e->err)));
    return o;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return eg_buf_add(data, buf, size);
}

int eg_json_append(struct eg_buf *b, json_t *v)
{
    return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

struct render {
    struct eg_call *call;
    struct eg_buf *b;
    bool first;
    int rc;
};

static int render_cred(void *ctx, const struct eg_credential *c)
{
    struct render *r = ctx;
    json_t *o = eg_json_credential(c, r->call->now);
    if (!r->first)
        eg_buf_add(r->b, ",", 1);
    r->first = false;
    if (eg_json_append(r->b, o) != 0)
        r->rc = EG_EINTERNAL;
    json_decref(o);
    return 0;
}

static int render_dev(void *ctx, const struct eg_device *d)
{
    struct render *r = ctx;
    json_t *o = eg_json_device(d);
    if (!r->first)
        eg_buf_add(r->b, ",", 1);
    r->first = false;
    if (eg_json_append(r->b, o) != 0)
        r->rc = EG_EINTERNAL;
    json_decref(o);
    return 0;
}

int eg_op_list_render(struct eg_call *call, struct eg_buf *b, bool *started)
{
    bool creds = call->op->result == EG_RES_CRED_LIST;
    struct render r = {.call = call, .b = b, .first = !*started};
    if (!*started) {
        eg_buf_addstr(b, creds ? "{\"credentials\":[" : "{\"devices\":[");
        *started = true;
    } else if (call->list.done) {
        return 0;
    }
    /* Every item but the first of the whole answer follows a comma. */
    r.first = call->list.delivered == 0;
    int rc = creds ? eg_svc_cred_list_next(call->svc, &call->list, LIST_PAGE,
                                           render_cred, &r)
                   : eg_svc_device_list_next(call->svc, &call->list, LIST_PAGE,
                                             render_dev, &r);
    if (rc != 0)
        return rc;
    if (r.rc != 0)
        return r.rc;
    if (call->list.done) {
        if (call->list.has_more) {
            char cur[EG_CURSOR_TEXT_MAX];
            eg_svc_list_cursor(&call->list, cur);
            eg_buf_addstr(b, "],\"nextCursor\":\"");
            eg_buf_addstr(b, cur);
            eg_buf_addstr(b, "\"}");
        } else {
            eg_buf_addstr(b, "]}");
        }
        return 0;
    }
    return 1;
}
