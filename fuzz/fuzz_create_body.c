/*
 * fuzz_create_body.c - libFuzzer driver: the body of uploadCredential
 * through the create validation: eg_json_parse_body (C13, C25), then
 * eg_json_cred_input, then the service's eg_svc_cred_prepare_create on a
 * provisioned temporary store (C13, C14).
 *
 * The input is the body bytes. Checks, beyond the sanitizers':
 *   - every refusal is BadRequest or UnknownAccessProfile with a message;
 *   - an accepted body gives a credential whose fields keep the limits of
 *     C13 (lengths, no control characters), whose times are ordered
 *     (validTo after validFrom), and whose JSON form (eg_json_credential)
 *     parses back with the same userId and accessProfile.
 */
#include <jansson.h>
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

static void no_controls(const char *name, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        FZ_CHECK(*p >= 0x20 && *p != 0x7f, "%s holds control byte 0x%02x",
                 name, *p);
}

static void refused(const struct eg_error *e)
{
    FZ_CHECK(e->err == EG_EBADREQUEST || e->err == EG_EUNKNOWNPROFILE,
             "refused with %d (%s)", e->err, e->message);
    FZ_CHECK(e->message[0] != '\0', "a refusal without a message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > EG_BODY_MAX)
        return 0; /* 413 before any parsing */
    json_t *body = NULL;
    struct eg_error e;
    memset(&e, 0, sizeof(e));
    if (eg_json_parse_body((const char *)data, size, &body, &e) != 0) {
        FZ_CHECK(body == NULL, "a body returned with an error");
        FZ_CHECK(e.err == EG_EBADREQUEST, "parse refused with %d", e.err);
        return 0;
    }
    FZ_CHECK(json_is_object(body), "parse gave a non-object");
    struct eg_cred_input in;
    memset(&in, 0, sizeof(in));
    if (eg_json_cred_input(body, &in, &e) != 0) {
        refused(&e);
        json_decref(body);
        return 0;
    }
    struct eg_write w;
    memset(&w, 0, sizeof(w));
    if (eg_svc_cred_prepare_create(&fx.svc, &fx.p, &in, "fuzz", &w, &e) != 0) {
        refused(&e);
        json_decref(body);
        return 0;
    }
    FZ_CHECK(w.kind == EG_W_CRED_CREATE, "kind %d", (int)w.kind);
    const struct eg_credential *c = &w.u.cred;
    FZ_CHECK(eg_cred_id_valid(c->credential_id), "new id '%s' not valid",
             c->credential_id);
    FZ_CHECK(strcmp(c->tenant_id, fx.p.tenant_id) == 0, "tenant");
    size_t ul = strlen(c->user_id);
    FZ_CHECK(ul > 0 && ul <= 128, "userId length %zu", ul);
    FZ_CHECK(in.user_id.len == ul, "userId with a NUL inside accepted");
    FZ_CHECK(strlen(c->access_profile) > 0 &&
                 strlen(c->access_profile) <= 256,
             "accessProfile length");
    FZ_CHECK(strcmp(c->access_profile, "P1") == 0 ||
                 strcmp(c->access_profile, "visitor") == 0,
             "accessProfile '%s' is not one of the tenant's (C14)",
             c->access_profile);
    no_controls("userId", c->user_id);
    no_controls("accessProfile", c->access_profile);
    if (c->has_user_name) {
        FZ_CHECK(strlen(c->user_name) <= 256, "userName length");
        FZ_CHECK(in.user_name.len == strlen(c->user_name),
                 "userName with a NUL inside accepted");
        no_controls("userName", c->user_name);
    }
    if (c->has_user_email) {
        FZ_CHECK(strlen(c->user_email) <= 254, "userEmail length");
        FZ_CHECK(strchr(c->user_email, '@') != NULL, "userEmail without @");
        for (const unsigned char *p = (const unsigned char *)c->user_email;
             *p; p++)
            FZ_CHECK(*p > 0x20 && *p < 0x7f, "userEmail byte 0x%02x", *p);
    }
    FZ_CHECK(c->valid_from != EG_TIME_NONE, "validFrom absent (C16)");
    FZ_CHECK(c->revoked_at == EG_TIME_NONE, "revoked at creation");
    if (c->valid_to != EG_TIME_NONE)
        FZ_CHECK(c->valid_to > c->valid_from, "validTo not after validFrom");

    /* the one JSON form parses back (C15, C16) */
    json_t *v = eg_json_credential(c, c->created_at);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    FZ_CHECK(text != NULL, "credential does not serialize");
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    FZ_CHECK(back != NULL, "credential JSON does not parse: %s", je.text);
    FZ_CHECK(strcmp(json_string_value(json_object_get(back, "userId")),
                    c->user_id) == 0,
             "userId changed on the way out");
    const char *vf = json_string_value(json_object_get(back, "validFrom"));
    int64_t t;
    FZ_CHECK(vf != NULL && eg_time_parse(vf, strlen(vf), &t) &&
                 t == c->valid_from,
             "validFrom '%s' does not read back", vf ? vf : "(null)");
    json_decref(back);
    free(text);
    json_decref(body);
    return 0;
}
