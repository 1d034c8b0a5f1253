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

/* ---- the credential and device forms, written as bytes ----
 *
 * These writers are the one JSON form of a credential and of a device: lists
 * stream their bytes as they are, and eg_json_credential/eg_json_device give
 * the same text as a jansson value for the surfaces that want one. */

static int put(struct eg_buf *b, const char *s, size_t n)
{
    return eg_buf_add(b, s, n);
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* A JSON string: quotes, and the escapes RFC 8259 requires. The text is
 * valid UTF-8 (checked on the way in), so bytes >= 0x80 pass as they are. */
static int put_str(struct eg_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (PUT_LIT(b, "\"") != 0)
        return -1;
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch != '\0' && ch != '"' && ch != '\\' && ch >= 0x20)
            continue;
        if (put(b, run, (size_t)(p - run)) != 0)
            return -1;
        if (ch == '\0')
            break;
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t n = 2;
        if (ch < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        if (put(b, esc, n) != 0)
            return -1;
        run = p + 1;
    }
    return PUT_LIT(b, "\"");
}

static int put_time(struct eg_buf *b, int64_t t)
{
    char buf[EG_TIME_TEXT_MAX];
    eg_time_format(t, buf);
    if (PUT_LIT(b, "\"") != 0 || put(b, buf, strlen(buf)) != 0)
        return -1;
    return PUT_LIT(b, "\"");
}

/* ,"key": */
static int put_key(struct eg_buf *b, const char *key, bool first)
{
    if (!first && PUT_LIT(b, ",") != 0)
        return -1;
    if (put_str(b, key) != 0)
        return -1;
    return PUT_LIT(b, ":");
}

int eg_json_credential_append(struct eg_buf *b, const struct eg_credential *c,
                              int64_t now)
{
    int rc = PUT_LIT(b, "{");
    rc |= put_key(b, "credentialId", true) | put_str(b, c->credential_id);
    rc |= put_key(b, "userId", false) | put_str(b, c->user_id);
    if (c->has_user_email)
        rc |= put_key(b, "userEmail", false) | put_str(b, c->user_email);
    if (c->has_user_name)
        rc |= put_key(b, "userName", false) | put_str(b, c->user_name);
    rc |= put_key(b, "status", false) |
          put_str(b, eg_cred_status_name(eg_cred_status(c, now)));
    rc |= put_key(b, "accessProfile", false) | put_str(b, c->access_profile);
    rc |= put_key(b, "validFrom", false) | put_time(b, c->valid_from);
    if (c->valid_to != EG_TIME_NONE)
        rc |= put_key(b, "validTo", false) | put_time(b, c->valid_to);
    rc |= put_key(b, "createdAt", false) | put_time(b, c->created_at);
    rc |= put_key(b, "revokedAt", false);
    if (c->revoked_at != EG_TIME_NONE)
        rc |= put_time(b, c->revoked_at);
    else
        rc |= PUT_LIT(b, "null");
    rc |= PUT_LIT(b, "}");
    return rc != 0 ? -1 : 0;
}

int eg_json_device_append(struct eg_buf *b, const struct eg_device *d)
{
    int rc = PUT_LIT(b, "{");
    rc |= put_key(b, "deviceId", true) | put_str(b, d->device_id);
    rc |= put_key(b, "name", false) | put_str(b, d->name);
    rc |= put_key(b, "model", false) | put_str(b, d->model);
    if (d->firmware_version[0] != '\0')
        rc |= put_key(b, "firmwareVersion", false) |
              put_str(b, d->firmware_version);
    if (d->site_id[0] != '\0')
        rc |= put_key(b, "siteId", false) | put_str(b, d->site_id);
    rc |= PUT_LIT(b, "}");
    return rc != 0 ? -1 : 0;
}

/* The jansson value of bytes a writer above produced. */
static json_t *as_value(struct eg_buf *b, int rc)
{
    json_t *v = NULL;
    if (rc == 0)
        v = json_loadb(b->data, b->len, JSON_ALLOW_NUL, NULL);
    eg_buf_free(b);
    if (v == NULL)
        abort(); /* our own output always parses */
    return v;
}

json_t *eg_json_credential(const struct eg_credential *c, int64_t now)
{
    struct eg_buf b;
    eg_buf_init(&b, SIZE_MAX);
    return as_value(&b, eg_json_credential_append(&b, c, now));
}

json_t *eg_json_device(const struct eg_device *d)
{
    struct eg_buf b;
    eg_buf_init(&b, SIZE_MAX);
    return as_value(&b, eg_json_device_append(&b, d));
}

json_t *eg_json_error(const struct eg_error *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(eg_err_code(e->err)));
    const char *msg = e->message[0] ? e->message : eg_err_message(e->err);
    json_t *m = json_string(msg);
    if (m == NULL) {
        /* A message quoting a client's bytes that are not UTF-8 (or cut in
         * the middle of a character): keep the message, in ASCII. */
        char ascii[sizeof(e->message)];
        size_t i = 0;
        for (; msg[i] != '\0' && i < sizeof(ascii) - 1; i++) {
            unsigned char ch = (unsigned char)msg[i];
            ascii[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        ascii[i] = '\0';
        m = json_string(ascii);
    }
    json_object_set_new(o, "message", m);
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
    if ((!r->first && eg_buf_add(r->b, ",", 1) != 0) ||
        eg_json_credential_append(r->b, c, r->call->now) != 0)
        r->rc = EG_EINTERNAL;
    r->first = false;
    return 0;
}

static int render_dev(void *ctx, const struct eg_device *d)
{
    struct render *r = ctx;
    if ((!r->first && eg_buf_add(r->b, ",", 1) != 0) ||
        eg_json_device_append(r->b, d) != 0)
        r->rc = EG_EINTERNAL;
    r->first = false;
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
