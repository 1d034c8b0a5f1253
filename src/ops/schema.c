/*
 * schema.c - the JSON Schemas of the operations' input and output, for the
 * surfaces that describe operations to their callers (the MCP tool list).
 *
 * They follow docs/openapi.yaml: MobileCredentialCreate, MobileCredential
 * and EngageDevice with the spec's field names, types, formats and enums
 * (the enums taken from the tables the service validates against, so each
 * list exists once), and the spec's `nullable` as a "null" type. Like the
 * spec, the output schemas require no field, so the Error object a failed
 * call answers with never contradicts them. The input of an operation is
 * derived from its row in eg_ops: parameters (strings, or integers where the
 * row says so), then the body's fields.
 */
#include "ops/ops.h"

#include <string.h>

/* {"type": type[, "format": format][, "description": desc]} */
static json_t *prop(const char *type, const char *format, const char *desc)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    if (format != NULL)
        json_object_set_new(o, "format", json_string(format));
    if (desc != NULL)
        json_object_set_new(o, "description", json_string(desc));
    return o;
}

/* A JSON array of the NULL-terminated list of strings v. */
static json_t *string_array(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v[i] != NULL; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *object_schema(json_t *properties)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("object"));
    json_object_set_new(o, "properties", properties);
    return o;
}

json_t *eg_schema_credential_create(void)
{
    static const char *const required[] = {"userId", "accessProfile", NULL};
    json_t *p = json_object();
    json_object_set_new(p, "userId",
                        prop("string", NULL,
                             "External (ACS) user identifier (1-128 bytes)."));
    json_object_set_new(p, "userEmail",
                        prop("string", "email", "The user's email address."));
    json_object_set_new(p, "userName",
                        prop("string", NULL, "The user's name, for people."));
    json_object_set_new(p, "accessProfile",
                        prop("string", NULL,
                             "Identifier of the ENGAGE access profile granted "
                             "by this credential; it must exist in the "
                             "tenant."));
    json_object_set_new(p, "validFrom",
                        prop("string", "date-time",
                             "Start of validity, RFC 3339 with an offset; the "
                             "creation time when absent."));
    json_object_set_new(p, "validTo",
                        prop("string", "date-time",
                             "End of validity (exclusive), RFC 3339 with an "
                             "offset; after validFrom."));
    json_t *o = object_schema(p);
    json_object_set_new(o, "required", string_array(required));
    return o;
}

json_t *eg_schema_credential(void)
{
    const char *status[] = {eg_cred_status_name(EG_STATUS_ACTIVE),
                            eg_cred_status_name(EG_STATUS_REVOKED),
                            eg_cred_status_name(EG_STATUS_EXPIRED), NULL};
    json_t *p = json_object();
    json_object_set_new(p, "credentialId", prop("string", NULL, NULL));
    json_object_set_new(p, "userId",
                        prop("string", NULL, "External (ACS) user identifier."));
    json_object_set_new(p, "userEmail", prop("string", "email", NULL));
    json_object_set_new(p, "userName", prop("string", NULL, NULL));
    json_t *st = prop("string", NULL, NULL);
    json_object_set_new(st, "enum", string_array(status));
    json_object_set_new(p, "status", st);
    json_object_set_new(p, "accessProfile",
                        prop("string", NULL,
                             "Identifier of the ENGAGE access profile granted "
                             "by this credential."));
    json_object_set_new(p, "validFrom", prop("string", "date-time", NULL));
    json_object_set_new(p, "validTo", prop("string", "date-time", NULL));
    json_object_set_new(p, "createdAt", prop("string", "date-time", NULL));
    json_t *revoked = json_object();
    json_object_set_new(revoked, "type", json_pack("[s,s]", "string", "null"));
    json_object_set_new(revoked, "format", json_string("date-time"));
    json_object_set_new(p, "revokedAt", revoked);
    return object_schema(p);
}

json_t *eg_schema_device(void)
{
    json_t *p = json_object();
    json_object_set_new(p, "deviceId", prop("string", NULL, NULL));
    json_object_set_new(p, "name", prop("string", NULL, NULL));
    json_t *model = prop("string", NULL, NULL);
    json_object_set_new(model, "enum", string_array(eg_device_models));
    json_object_set_new(p, "model", model);
    json_object_set_new(p, "firmwareVersion", prop("string", NULL, NULL));
    json_object_set_new(p, "siteId", prop("string", NULL, NULL));
    return object_schema(p);
}

json_t *eg_op_input_schema(const struct eg_op *op)
{
    json_t *props = json_object();
    json_t *required = json_array();
    for (size_t i = 0; i < op->nparams; i++) {
        const struct eg_param *p = &op->params[i];
        json_t *s = prop(p->integer ? "integer" : "string", NULL,
                         p->description);
        if (p->enum_values != NULL)
            json_object_set_new(s, "enum", string_array(p->enum_values));
        json_object_set_new(props, p->name, s);
        if (p->in == EG_IN_PATH)
            json_array_append_new(required, json_string(p->name));
    }
    if (op->has_body && op->body_schema != NULL) {
        json_t *body = op->body_schema();
        json_object_update(props, json_object_get(body, "properties"));
        json_t *breq = json_object_get(body, "required");
        for (size_t i = 0; i < json_array_size(breq); i++)
            json_array_append(required, json_array_get(breq, i));
        json_decref(body);
    }
    json_t *o = object_schema(props);
    if (json_array_size(required) > 0)
        json_object_set_new(o, "required", required);
    else
        json_decref(required);
    return o;
}

/* {"type":"object","properties":{name: {"type":"array","items": item}}}, with
 * nextCursor when op pages (C21). */
static json_t *list_schema(const struct eg_op *op, const char *name,
                           json_t *item)
{
    json_t *arr = json_object();
    json_object_set_new(arr, "type", json_string("array"));
    json_object_set_new(arr, "items", item);
    json_t *p = json_object();
    json_object_set_new(p, name, arr);
    if (eg_op_param_index(op, "cursor") >= 0)
        json_object_set_new(p, "nextCursor",
                            prop("string", NULL,
                                 "Present when more items remain: pass it "
                                 "back as cursor for the next page."));
    return object_schema(p);
}

json_t *eg_op_output_schema(const struct eg_op *op)
{
    switch (op->result) {
    case EG_RES_CRED_LIST:
        return list_schema(op, "credentials", eg_schema_credential());
    case EG_RES_DEVICE_LIST:
        return list_schema(op, "devices", eg_schema_device());
    case EG_RES_CREDENTIAL:
        return eg_schema_credential();
    case EG_RES_NONE:
        break;
    }
    /* An empty REST answer: eg_op_render gives the credential as it stands
     * after the call, or an empty object. */
    return op->credential ? eg_schema_credential() : object_schema(json_object());
}
