/*
 * fuzz_query.c - libFuzzer driver: the parsing of paths, query parameters,
 * cursors, credential ids and times: eg_op_route (C5, C12),
 * eg_svc_cred_list_begin with status, userId, limit and cursor (C20, C21)
 * and the first page of that list read from a provisioned temporary store,
 * eg_cred_id_valid with eg_svc_cred_get (C12), and eg_time_parse (C15).
 *
 * The input: byte 0 says which optional fields are present (bit 0 status,
 * 1 userId, 2 limit, 3 cursor); the rest are fields split at '\n':
 *   METHOD \n PATH \n STATUS \n USERID \n LIMIT \n CURSOR \n ID \n TIME
 * (missing fields are empty). In PATH, CURSOR and ID, "$ID" becomes the id
 * of a stored credential. Checks, beyond the sanitizers':
 *   - the route found is the method's, on a path the table has, its id
 *     argument the path's last segment (or empty when overlong);
 *   - a refused list is BadRequest; an accepted one pages in order
 *     (createdAt, credentialId) strictly after the cursor, within the limit,
 *     of the tenant, status and user asked for; its nextCursor reads back
 *     to the same position;
 *   - an id eg_cred_id_valid accepts is 22+ URL-safe characters, and any
 *     other is NotFound before the store;
 *   - a time that parses formats as YYYY-MM-DDTHH:MM:SS.sssZ and parses
 *     back to the same instant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/time.h"
#include "core/util.h"
#include "ops/ops.h"

static struct fz_fixture fx;

static void at_exit(void)
{
    fz_fixture_free(&fx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    eg_log_min = EG_LOG_WARN;
    fz_fixture_init(&fx);
    atexit(at_exit);
    return 0;
}

#define NFIELDS 8
#define FIELD_MAX 1024

/* Copy field text (NUL bytes end it, as they end a C string in the server),
 * with "$ID" replaced by the stored credential's id when subst is set. */
static void copy_field(char *out, const uint8_t *p, size_t n, bool subst)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w + 1 < FIELD_MAX; i++) {
        if (p[i] == '\0')
            break;
        if (subst && n - i >= 3 && memcmp(p + i, "$ID", 3) == 0 &&
            w + strlen(fx.cred_active) + 1 < FIELD_MAX) {
            memcpy(out + w, fx.cred_active, strlen(fx.cred_active));
            w += strlen(fx.cred_active);
            i += 2;
            continue;
        }
        out[w++] = (char)p[i];
    }
    out[w] = '\0';
}

struct page {
    const struct eg_list *l;
    int64_t last_time;
    char last_id[EG_ID_MAX];
    bool have_last;
    size_t n;
};

static int on_cred(void *ctx, const struct eg_credential *c)
{
    struct page *pg = ctx;
    const struct eg_list *l = pg->l;
    pg->n++;
    FZ_CHECK(strcmp(c->tenant_id, fx.p.tenant_id) == 0, "another tenant");
    FZ_CHECK(eg_cred_status(c, l->now) == l->status,
             "status %d listed under %d", (int)eg_cred_status(c, l->now),
             (int)l->status);
    if (l->has_user)
        FZ_CHECK(strcmp(c->user_id, l->user_id) == 0, "userId filter");
    if (pg->have_last)
        FZ_CHECK(c->created_at > pg->last_time ||
                     (c->created_at == pg->last_time &&
                      strcmp(c->credential_id, pg->last_id) > 0),
                 "list out of order");
    pg->have_last = true;
    pg->last_time = c->created_at;
    snprintf(pg->last_id, sizeof(pg->last_id), "%s", c->credential_id);
    return 0;
}

static void check_route(const char *method, const char *path)
{
    const char *args[EG_OP_MAX_PARAMS] = {0};
    char idbuf[EG_ID_MAX + 1];
    char allow[64];
    bool known = true;
    const struct eg_op *op = eg_op_route(method, path, args, idbuf,
                                         sizeof(idbuf), &known, allow,
                                         sizeof(allow));
    if (!known) {
        FZ_CHECK(op == NULL, "a route on an unknown path");
        FZ_CHECK(allow[0] == '\0', "Allow on an unknown path");
        return;
    }
    FZ_CHECK(allow[0] != '\0', "no Allow on a known path");
    if (op == NULL)
        return;
    FZ_CHECK(strcmp(op->method, method) == 0, "route %s for method %s",
             op->name, method);
    FZ_CHECK(strstr(allow, op->method) != NULL, "Allow '%s' without %s", allow,
             op->method);
    const char *brace = strchr(op->path, '{');
    if (brace == NULL) {
        FZ_CHECK(strcmp(op->path, path) == 0, "route %s for path '%s'",
                 op->path, path);
        return;
    }
    size_t pre = (size_t)(brace - op->path);
    FZ_CHECK(args[0] != NULL, "no id argument");
    FZ_CHECK(strncmp(path, op->path, pre) == 0, "route prefix");
    const char *seg = path + pre;
    FZ_CHECK(strchr(seg, '/') == NULL && seg[0] != '\0', "id segment");
    FZ_CHECK(strlen(args[0]) < sizeof(idbuf), "id overflows");
    FZ_CHECK(args[0][0] == '\0' || strcmp(args[0], seg) == 0,
             "id argument '%s' for segment '%s'", args[0], seg);
    struct eg_credential c;
    struct eg_error e;
    int rc = eg_svc_cred_get(&fx.svc, &fx.p, args[0], &c, &e);
    FZ_CHECK(rc == 0 || rc == EG_ENOTFOUND, "get gave %d", rc);
}

static void check_list(const char *status, const char *user,
                       const char *limit, const char *cursor)
{
    struct eg_list l;
    struct eg_error e;
    memset(&e, 0, sizeof(e));
    if (eg_svc_cred_list_begin(&fx.p, status, user, limit, cursor, &l, &e) !=
        0) {
        FZ_CHECK(e.err == EG_EBADREQUEST && e.message[0] != '\0',
                 "list refused with %d", e.err);
        return;
    }
    if (cursor != NULL) {
        FZ_CHECK(l.after.valid, "cursor accepted but no position");
        char text[EG_CURSOR_TEXT_MAX];
        eg_svc_list_cursor(&l, text);
        struct eg_list again;
        FZ_CHECK(eg_svc_cred_list_begin(&fx.p, NULL, NULL, NULL, text,
                                        &again, &e) == 0,
                 "our own cursor '%s' refused", text);
        FZ_CHECK(again.after.time == l.after.time &&
                     strcmp(again.after.id, l.after.id) == 0,
                 "cursor does not read back");
    }
    struct page pg = {.l = &l};
    if (cursor != NULL) {
        pg.have_last = true;
        pg.last_time = l.after.time;
        snprintf(pg.last_id, sizeof(pg.last_id), "%s", l.after.id);
    }
    size_t limit_n = l.remaining;
    int rc = eg_svc_cred_list_next(&fx.svc, &l, 16, on_cred, &pg);
    FZ_CHECK(rc == 0, "list_next gave %d", rc);
    FZ_CHECK(pg.n <= 16 && pg.n <= limit_n, "%zu items, limit %zu", pg.n,
             limit_n);
}

static void check_id(const char *id)
{
    bool ok = eg_cred_id_valid(id);
    if (ok) {
        /* C12: at least 128 random bits as URL-safe text */
        FZ_CHECK(strlen(id) >= 22 && strlen(id) < EG_ID_MAX,
                 "id of length %zu valid", strlen(id));
        for (const char *p = id; *p; p++)
            FZ_CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                         (*p >= '0' && *p <= '9') || *p == '-' || *p == '_',
                     "id byte 0x%02x valid", (unsigned char)*p);
    }
    struct eg_credential c;
    struct eg_error e;
    int rc = eg_svc_cred_get(&fx.svc, &fx.p, id, &c, &e);
    if (!ok)
        FZ_CHECK(rc == EG_ENOTFOUND, "invalid id gave %d", rc);
    else
        FZ_CHECK(rc == 0 || rc == EG_ENOTFOUND, "get gave %d", rc);
    struct eg_write w;
    rc = eg_svc_cred_prepare_revoke(&fx.p, id, "fuzz", &w, &e);
    FZ_CHECK((rc == 0) == ok, "revoke of id judged %d, valid %d", rc, ok);
}

static void check_time(const uint8_t *s, size_t n)
{
    int64_t t;
    if (!eg_time_parse((const char *)s, n, &t))
        return;
    char buf[EG_TIME_TEXT_MAX];
    eg_time_format(t, buf);
    FZ_CHECK(strlen(buf) == 24 && buf[4] == '-' && buf[10] == 'T' &&
                 buf[19] == '.' && buf[23] == 'Z',
             "'%.*s' formats as '%s'", (int)n, (const char *)s, buf);
    int64_t back;
    FZ_CHECK(eg_time_parse(buf, strlen(buf), &back) && back == t,
             "'%s' does not parse back to %lld", buf, (long long)t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *f[NFIELDS];
    size_t len[NFIELDS];
    size_t i = 0, start = 1;
    for (size_t k = 0; k < NFIELDS; k++) {
        f[k] = data + size;
        len[k] = 0;
    }
    for (size_t p = 1; p <= size && i < NFIELDS; p++) {
        if (i == NFIELDS - 1) { /* the time: the rest, raw */
            f[i] = data + start;
            len[i] = size - start;
            break;
        }
        if (p == size || data[p] == '\n') {
            f[i] = data + start;
            len[i] = p - start;
            i++;
            start = p + 1;
        }
    }
    static char method[FIELD_MAX], path[FIELD_MAX], status[FIELD_MAX],
        user[FIELD_MAX], limit[FIELD_MAX], cursor[FIELD_MAX], id[FIELD_MAX];
    copy_field(method, f[0], len[0], false);
    copy_field(path, f[1], len[1], true);
    copy_field(status, f[2], len[2], false);
    copy_field(user, f[3], len[3], false);
    copy_field(limit, f[4], len[4], false);
    copy_field(cursor, f[5], len[5], true);
    copy_field(id, f[6], len[6], true);

    check_route(method[0] ? method : "GET", path);
    check_list(flags & 1 ? status : NULL, flags & 2 ? user : NULL,
               flags & 4 ? limit : NULL, flags & 8 ? cursor : NULL);
    check_id(id);
    check_time(f[7], len[7]);
    return 0;
}
