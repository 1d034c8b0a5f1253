/*
 * cli.c - the `engage` command line: global options, the admin commands on
 * the store (no server needed, safe beside a running `serve`), and `serve`.
 *
 * Commands are rows of one table (group, verb, usage, help, handler). Output
 * follows C30: a person's text by default; with --json exactly one JSON
 * object on stdout. Errors go to stderr with a non-zero exit; a command never
 * leaves a half-made record (each is one store write).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "core/util.h"
#include "http/server.h"
#include "mcp/mcp.h"
#include "svc/auth.h"
#include "svc/svc.h"

#define EXIT_USAGE 2

struct opts {
    const char *store_url;
    bool json;
};

/* Options of one command after its positional arguments. */
struct cmd_args {
    int npos;
    const char *pos[4];
    const char *model, *name, *site, *firmware;
    const char *listen, *base_path, *threads, *cache_ttl;
    const char *credential, *since, *limit;
    const char *access_log, *log_level, *idem_ttl, *fail_limit, *fail_window;
    const char *count, *users, *batch, *profile, *prefix;
    const char *tls_cert, *tls_key, *rate_limit, *max_conns, *user, *io_threads;
    const char *idle_timeout, *read_cache;
    bool password_stdin;
    bool help;
};

struct cmd {
    const char *group;
    const char *verb; /* NULL for one-word commands */
    int npos;         /* positional arguments required */
    const char *usage;
    const char *help;
    const char *const *options; /* accepted --options; "=" suffix takes value */
    int (*run)(struct eg_svc *svc, const struct opts *o, struct cmd_args *a);
};

static int fail(const struct eg_error *e)
{
    fprintf(stderr, "engage: %s\n", e->message);
    return 1;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(v);
}

/* ---- the commands ---- */

static int cmd_tenant_create(struct eg_svc *svc, const struct opts *o,
                             struct cmd_args *a)
{
    struct eg_tenant t;
    struct eg_error e;
    if (eg_svc_tenant_create(svc, a->pos[0], &t, &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s}", "tenantId", t.tenant_id));
    else
        printf("tenantId: %s\n", t.tenant_id);
    return 0;
}

static int add_tenant(void *ctx, const struct eg_tenant *t)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s}", "tenantId", t->tenant_id,
                                         "name", t->name));
    return 0;
}

static int cmd_tenant_list(struct eg_svc *svc, const struct opts *o,
                           struct cmd_args *a)
{
    (void)a;
    struct eg_store_conn *c = eg_store_conn(svc->store);
    json_t *arr = json_array();
    struct eg_error e;
    int rc = c ? eg_store_tenant_scan(c, add_tenant, arr) : EG_EUNAVAILABLE;
    if (rc != 0) {
        json_decref(arr);
        eg_error_set(&e, rc, "cannot list tenants: %s", eg_err_message(rc));
        return fail(&e);
    }
    if (o->json) {
        print_json(json_pack("{s:o}", "tenants", arr));
        return 0;
    }
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t)
    {
        printf("%s\t%s\n", json_string_value(json_object_get(t, "tenantId")),
               json_string_value(json_object_get(t, "name")));
    }
    json_decref(arr);
    return 0;
}

static int cmd_key_create(struct eg_svc *svc, const struct opts *o,
                          struct cmd_args *a)
{
    struct eg_key k;
    char secret[EG_SUBKEY_MAX];
    struct eg_error e;
    if (eg_svc_key_create(svc, a->pos[0], &k, secret, &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s,s:s}", "keyId", k.key_id, "subscriptionKey",
                             secret));
    else
        printf("keyId: %s\nsubscriptionKey: %s\n"
               "(the subscription key is shown only this once)\n",
               k.key_id, secret);
    sodium_memzero(secret, sizeof(secret));
    return 0;
}

static int cmd_key_revoke(struct eg_svc *svc, const struct opts *o,
                          struct cmd_args *a)
{
    struct eg_error e;
    if (eg_svc_key_revoke(svc, a->pos[0], &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s,s:b}", "keyId", a->pos[0], "revoked", 1));
    else
        printf("keyId: %s revoked\n", a->pos[0]);
    return 0;
}

static int cmd_key_rotate(struct eg_svc *svc, const struct opts *o,
                          struct cmd_args *a)
{
    struct eg_key k;
    char secret[EG_SUBKEY_MAX];
    struct eg_error e;
    if (eg_svc_key_rotate(svc, a->pos[0], &k, secret, &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s,s:s}", "keyId", k.key_id, "subscriptionKey",
                             secret));
    else
        printf("keyId: %s\nsubscriptionKey: %s\n"
               "(the new subscription key is shown only this once; the old "
               "one is refused within 1 s)\n",
               k.key_id, secret);
    sodium_memzero(secret, sizeof(secret));
    return 0;
}

static int add_key(void *ctx, const struct eg_key *k)
{
    char t[EG_TIME_TEXT_MAX];
    json_t *v = json_pack("{s:s,s:s,s:s}", "keyId", k->key_id, "createdAt",
                          eg_time_format(k->created_at, t), "state",
                          k->revoked_at == EG_TIME_NONE ? "active" : "revoked");
    if (k->revoked_at != EG_TIME_NONE)
        json_object_set_new(v, "revokedAt",
                            json_string(eg_time_format(k->revoked_at, t)));
    json_array_append_new(ctx, v);
    return 0;
}

static int cmd_key_list(struct eg_svc *svc, const struct opts *o,
                        struct cmd_args *a)
{
    struct eg_error e;
    json_t *arr = json_array();
    if (eg_svc_key_list(svc, a->pos[0], add_key, arr, &e) != 0) {
        json_decref(arr);
        return fail(&e);
    }
    if (o->json) {
        print_json(json_pack("{s:o}", "keys", arr));
        return 0;
    }
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k)
    {
        printf("%s\t%s\t%s\n",
               json_string_value(json_object_get(k, "keyId")),
               json_string_value(json_object_get(k, "createdAt")),
               json_string_value(json_object_get(k, "state")));
    }
    json_decref(arr);
    return 0;
}

/* Read the first line of stdin into buf (without its newline). */
static int read_password(char *buf, size_t len)
{
    if (fgets(buf, (int)len, stdin) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(stdin))
        return -1; /* longer than any password we take */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

typedef int (*account_fn)(struct eg_svc *svc, const char *tenant_id,
                          const char *username, const char *password,
                          char password_out[EG_PASSWORD_MAX],
                          struct eg_error *err);

/* account create and account passwd: the password from stdin or generated,
 * printed once when generated. */
static int account_cmd(struct eg_svc *svc, const struct opts *o,
                       struct cmd_args *a, account_fn fn)
{
    char given[EG_PASSWORD_MAX + 2] = "";
    char password[EG_PASSWORD_MAX];
    struct eg_error e;
    const char *pw = NULL;
    if (a->password_stdin) {
        if (read_password(given, sizeof(given)) != 0) {
            sodium_memzero(given, sizeof(given));
            fprintf(stderr, "engage: --password-stdin: no password of at "
                            "most %d bytes on standard input\n",
                    EG_PASSWORD_MAX - 1);
            return 1;
        }
        pw = given;
    }
    int rc = fn(svc, a->pos[0], a->pos[1], pw, password, &e);
    sodium_memzero(given, sizeof(given));
    if (rc != 0)
        return fail(&e);
    if (o->json && pw == NULL)
        print_json(json_pack("{s:s,s:s}", "username", a->pos[1], "password",
                             password));
    else if (o->json)
        print_json(json_pack("{s:s}", "username", a->pos[1]));
    else if (pw == NULL)
        printf("username: %s\npassword: %s\n"
               "(the password is shown only this once)\n",
               a->pos[1], password);
    else
        printf("username: %s\n", a->pos[1]);
    sodium_memzero(password, sizeof(password));
    return 0;
}

static int cmd_account_create(struct eg_svc *svc, const struct opts *o,
                              struct cmd_args *a)
{
    return account_cmd(svc, o, a, eg_svc_account_create);
}

static int cmd_account_passwd(struct eg_svc *svc, const struct opts *o,
                              struct cmd_args *a)
{
    return account_cmd(svc, o, a, eg_svc_account_passwd);
}

static int cmd_account_remove(struct eg_svc *svc, const struct opts *o,
                              struct cmd_args *a)
{
    struct eg_error e;
    if (eg_svc_account_remove(svc, a->pos[0], a->pos[1], &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s,s:b}", "username", a->pos[1], "removed", 1));
    else
        printf("username: %s removed\n", a->pos[1]);
    return 0;
}

static int cmd_profile_create(struct eg_svc *svc, const struct opts *o,
                              struct cmd_args *a)
{
    struct eg_error e;
    if (eg_svc_profile_create(svc, a->pos[0], a->pos[1], a->name, &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s}", "accessProfile", a->pos[1]));
    else
        printf("accessProfile: %s\n", a->pos[1]);
    return 0;
}

static int fill_device(struct eg_device *d, const char *tenant,
                       const char *model, const char *name, const char *site,
                       const char *firmware, struct eg_error *e)
{
    memset(d, 0, sizeof(*d));
    if (!eg_strlcpy(d->tenant_id, tenant, sizeof(d->tenant_id)))
        return eg_error_set(e, EG_ENOTFOUND, "no tenant with id '%.64s'.",
                            tenant);
    if (!eg_strlcpy(d->model, model, sizeof(d->model)))
        return eg_error_set(e, EG_EBADREQUEST, "the model '%.40s' is unknown.",
                            model);
    if (!eg_strlcpy(d->name, name, sizeof(d->name)) ||
        (site && !eg_strlcpy(d->site_id, site, sizeof(d->site_id))) ||
        (firmware &&
         !eg_strlcpy(d->firmware_version, firmware, sizeof(d->firmware_version))))
        return eg_error_set(e, EG_EBADREQUEST,
                            "the name, site and firmware must be at most 256 "
                            "bytes long.");
    if ((site && site[0] == '\0') || (firmware && firmware[0] == '\0'))
        return eg_error_set(e, EG_EBADREQUEST,
                            "--site and --firmware must not be empty.");
    return 0;
}

static int cmd_device_add(struct eg_svc *svc, const struct opts *o,
                          struct cmd_args *a)
{
    struct eg_error e;
    struct eg_device d;
    if (a->model == NULL || a->name == NULL) {
        fprintf(stderr, "engage: device add needs --model MODEL and --name "
                        "NAME (see engage device add --help)\n");
        return EXIT_USAGE;
    }
    if (fill_device(&d, a->pos[0], a->model, a->name, a->site, a->firmware,
                    &e) != 0 ||
        eg_svc_device_add(svc, &d, &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s}", "deviceId", d.device_id));
    else
        printf("deviceId: %s\n", d.device_id);
    return 0;
}

static int cmd_device_remove(struct eg_svc *svc, const struct opts *o,
                             struct cmd_args *a)
{
    struct eg_error e;
    if (eg_svc_device_remove(svc, a->pos[0], a->pos[1], &e) != 0)
        return fail(&e);
    if (o->json)
        print_json(json_pack("{s:s,s:b}", "deviceId", a->pos[1], "removed", 1));
    else
        printf("deviceId: %s removed\n", a->pos[1]);
    return 0;
}

static int parse_uint(const char *what, const char *s, unsigned max,
                      unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] == '\0' || s[0] == '-' || *end != '\0' || v > max) {
        fprintf(stderr, "engage: %s must be a whole number from 0 to %u\n",
                what, max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* A progress bar on stderr, drawn only when it is a terminal. */
static void seed_progress(size_t made, size_t count)
{
    int width = 40;
    int done = count ? (int)((double)made / (double)count * width) : width;
    fprintf(stderr, "\r[%-*.*s] %zu/%zu", width, done,
            "########################################", made, count);
    if (made == count)
        fputc('\n', stderr);
    fflush(stderr);
}

static int cmd_seed(struct eg_svc *svc, const struct opts *o,
                    struct cmd_args *a)
{
    unsigned count, users = 1000, batch = 10000;
    if (a->count == NULL) {
        fprintf(stderr, "engage: seed needs --credentials N\n");
        return EXIT_USAGE;
    }
    if (parse_uint("--credentials", a->count, 100000000, &count) != 0 ||
        (a->users && parse_uint("--users", a->users, 100000000, &users) != 0) ||
        (a->batch && parse_uint("--batch", a->batch, 1000000, &batch) != 0))
        return EXIT_USAGE;
    struct eg_error e;
    size_t made = 0;
    int rc = eg_svc_seed(svc, a->pos[0], a->profile ? a->profile : "staff",
                         a->prefix ? a->prefix : "seed", count, users, batch,
                         isatty(STDERR_FILENO) ? seed_progress : NULL, &made,
                         &e);
    if (o->json)
        print_json(json_pack("{s:I}", "created", (json_int_t)made));
    else
        printf("created: %zu\n", made);
    return rc != 0 ? fail(&e) : 0;
}

static int cmd_demo(struct eg_svc *svc, const struct opts *o,
                    struct cmd_args *a)
{
    (void)a;
    static const struct {
        const char *id, *name;
    } profiles[] = {{"staff", "Staff, all doors"}, {"visitor", "Visitors, lobby"}};
    static const struct {
        const char *model, *name, *site, *fw;
    } devices[] = {{"NDEB", "Front door", "hq", "3.2.1"},
                   {"LEBMS", "Server room", "hq", "3.1.0"},
                   {"MTKB", "Lobby reader", "hq", NULL}};
    struct eg_tenant t;
    struct eg_key k;
    char secret[EG_SUBKEY_MAX], password[EG_PASSWORD_MAX];
    struct eg_error e;
    json_t *jp = json_array(), *jd = json_array();
    int rc = eg_svc_tenant_create(svc, "Demo tenant", &t, &e);
    if (rc == 0)
        rc = eg_svc_key_create(svc, t.tenant_id, &k, secret, &e);
    if (rc == 0)
        rc = eg_svc_account_create(svc, t.tenant_id, "demo", NULL, password,
                                   &e);
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        rc = eg_svc_profile_create(svc, t.tenant_id, profiles[i].id,
                                   profiles[i].name, &e);
        json_array_append_new(jp, json_string(profiles[i].id));
    }
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        struct eg_device d;
        rc = fill_device(&d, t.tenant_id, devices[i].model, devices[i].name,
                         devices[i].site, devices[i].fw, &e);
        if (rc == 0)
            rc = eg_svc_device_add(svc, &d, &e);
        json_array_append_new(jd, json_string(d.device_id));
    }
    if (rc != 0) {
        json_decref(jp);
        json_decref(jd);
        return fail(&e);
    }
    if (o->json) {
        print_json(json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "tenantId",
                             t.tenant_id, "subscriptionKey", secret, "username",
                             "demo", "password", password, "accessProfiles", jp,
                             "deviceIds", jd));
    } else {
        printf("tenantId: %s\nsubscriptionKey: %s\nusername: demo\n"
               "password: %s\naccessProfiles: staff, visitor\n"
               "(the key and password are shown only this once)\n",
               t.tenant_id, secret, password);
        json_decref(jp);
        json_decref(jd);
    }
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(password, sizeof(password));
    return 0;
}

static int print_audit(void *ctx, const struct eg_audit *a)
{
    const struct opts *o = ctx;
    char t[EG_TIME_TEXT_MAX];
    eg_time_format(a->time, t);
    if (o->json) {
        json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "time", t, "action",
                              a->action, "credentialId", a->credential_id,
                              "requestId", a->actor.request_id, "keyId",
                              a->actor.key_id, "username", a->actor.username);
        char *line = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(line);
        free(line);
        json_decref(v);
    } else {
        printf("%s  %-17s  %s  key=%s user=%s request=%s\n", t, a->action,
               a->credential_id, a->actor.key_id, a->actor.username,
               a->actor.request_id);
    }
    return 0;
}

static int cmd_audit(struct eg_svc *svc, const struct opts *o,
                     struct cmd_args *a)
{
    struct eg_error e;
    if (eg_svc_audit_list(svc, a->pos[0], a->credential, a->since, a->limit,
                          print_audit, (void *)o, &e) != 0)
        return fail(&e);
    return 0;
}

static const char *env_or(const char *v, const char *env, const char *def)
{
    if (v != NULL)
        return v;
    const char *e = getenv(env);
    return e != NULL && e[0] != '\0' ? e : def;
}


static int cmd_serve(struct eg_svc *svc, const struct opts *o,
                     struct cmd_args *a)
{
    (void)o;
    struct eg_http_config cfg = {
        .listen = env_or(a->listen, "ENGAGE_LISTEN", "127.0.0.1:8080"),
        .base_path = env_or(a->base_path, "ENGAGE_BASE_PATH", "/engage"),
    };
    const char *threads = env_or(a->threads, "ENGAGE_THREADS", "0");
    const char *ttl = env_or(a->cache_ttl, "ENGAGE_AUTH_CACHE_TTL", "60");
    const char *ittl =
        env_or(a->idem_ttl, "ENGAGE_IDEMPOTENCY_TTL", "86400");
    if (parse_uint("--threads", threads, 256, &cfg.threads) != 0 ||
        parse_uint("--auth-cache-ttl", ttl, 86400, &cfg.auth_cache_ttl_s) != 0 ||
        parse_uint("--idempotency-ttl", ittl, 30 * 86400,
                   &cfg.idempotency_ttl_s) != 0 ||
        parse_uint("--auth-fail-limit",
                   env_or(a->fail_limit, "ENGAGE_AUTH_FAIL_LIMIT", "20"),
                   1000000, &cfg.auth_fail_limit) != 0 ||
        parse_uint("--auth-fail-window",
                   env_or(a->fail_window, "ENGAGE_AUTH_FAIL_WINDOW", "60"),
                   86400, &cfg.auth_fail_window_s) != 0)
        return EXIT_USAGE;
    const char *level = env_or(a->log_level, "ENGAGE_LOG_LEVEL", "info");
    static const char *const levels[] = {"debug", "info", "warning", "error"};
    bool level_ok = false;
    for (int i = 0; i < 4; i++)
        if (strcmp(level, levels[i]) == 0) {
            eg_log_min = (enum eg_log_level)i;
            level_ok = true;
        }
    if (!level_ok) {
        fprintf(stderr,
                "engage: --log-level (ENGAGE_LOG_LEVEL) must be debug, info, "
                "warning or error\n");
        return EXIT_USAGE;
    }
    cfg.tls_cert = env_or(a->tls_cert, "ENGAGE_TLS_CERT", NULL);
    cfg.tls_key = env_or(a->tls_key, "ENGAGE_TLS_KEY", NULL);
    cfg.user = env_or(a->user, "ENGAGE_USER", NULL);
    cfg.io_threads = -1;
    const char *io = env_or(a->io_threads, "ENGAGE_IO_THREADS", NULL);
    unsigned io_n;
    if (io != NULL) {
        if (parse_uint("--io-threads", io, 1024, &io_n) != 0)
            return EXIT_USAGE;
        cfg.io_threads = (int)io_n;
    }
    if (parse_uint("--max-connections",
                   env_or(a->max_conns, "ENGAGE_MAX_CONNECTIONS", "4096"),
                   1000000, &cfg.max_connections) != 0 ||
        parse_uint("--idle-timeout",
                   env_or(a->idle_timeout, "ENGAGE_IDLE_TIMEOUT", "60"), 86400,
                   &cfg.idle_timeout_s) != 0)
        return EXIT_USAGE;
    if (cfg.idle_timeout_s == 0) {
        fprintf(stderr, "engage: --idle-timeout must be at least 1\n");
        return EXIT_USAGE;
    }
    unsigned cache_mib;
    if (parse_uint("--read-cache",
                   env_or(a->read_cache, "ENGAGE_READ_CACHE", "128"), 65536,
                   &cache_mib) != 0)
        return EXIT_USAGE;
    cfg.read_cache_mib = cache_mib == 0 ? -1 : (int)cache_mib;
    const char *rate = env_or(a->rate_limit, "ENGAGE_RATE_LIMIT", NULL);
    if (rate != NULL) {
        char rps[32];
        const char *colon = strchr(rate, ':');
        snprintf(rps, sizeof(rps), "%.*s",
                 colon ? (int)(colon - rate) : (int)strlen(rate), rate);
        if (parse_uint("--rate-limit RPS", rps, 1000000,
                       &cfg.rate_limit_rps) != 0 ||
            (colon != NULL && parse_uint("--rate-limit BURST", colon + 1,
                                         1000000, &cfg.rate_limit_burst) != 0))
            return EXIT_USAGE;
    }
    const char *alog = env_or(a->access_log, "ENGAGE_ACCESS_LOG", NULL);
    cfg.access_log_fd = -1;
    if (alog != NULL && strcmp(alog, "-") == 0) {
        cfg.access_log_fd = STDOUT_FILENO;
    } else if (alog != NULL) {
        cfg.access_log_fd =
            open(alog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (cfg.access_log_fd < 0) {
            fprintf(stderr, "engage: --access-log %s: %s\n", alog,
                    strerror(errno));
            return 1;
        }
    }
    if (cfg.base_path[0] != '/') {
        fprintf(stderr, "engage: --base-path must begin with '/'\n");
        return EXIT_USAGE;
    }
    int rc = eg_http_serve(svc->store, &cfg);
    if (cfg.access_log_fd > STDOUT_FILENO)
        close(cfg.access_log_fd);
    return rc == 0 ? 0 : 1;
}

/* `mcp`: the tenant's secrets come from the environment, never argv (which
 * any local user may read). */
static int cmd_mcp(struct eg_svc *svc, const struct opts *o,
                   struct cmd_args *a)
{
    (void)o;
    (void)a;
    static const char *const names[] = {"ENGAGE_SUBSCRIPTION_KEY",
                                        "ENGAGE_USERNAME", "ENGAGE_PASSWORD"};
    const char *v[3];
    bool missing = false;
    for (size_t i = 0; i < 3; i++) {
        v[i] = env_or(NULL, names[i], NULL);
        if (v[i] == NULL) {
            fprintf(stderr, "engage: mcp: %s is not set\n", names[i]);
            missing = true;
        }
    }
    if (missing) {
        fprintf(stderr, "engage: mcp needs the tenant's subscription key and "
                        "account in ENGAGE_SUBSCRIPTION_KEY, ENGAGE_USERNAME "
                        "and ENGAGE_PASSWORD (see engage mcp --help)\n");
        return 1;
    }
    struct eg_mcp_config cfg = {.subscription_key = v[0],
                                .username = v[1],
                                .password = v[2],
                                .in_fd = fileno(stdin),
                                .out = stdout};
    const char *ttl = env_or(NULL, "ENGAGE_AUTH_CACHE_TTL", "60");
    if (parse_uint("ENGAGE_AUTH_CACHE_TTL", ttl, 86400,
                   &cfg.auth_cache_ttl_s) != 0)
        return EXIT_USAGE;
    return eg_mcp_serve(svc->store, &cfg) == 0 ? 0 : 1;
}

/* ---- the table ---- */

static const char *const no_opts[] = {NULL};
static const char *const pw_opts[] = {"--password-stdin", NULL};
static const char *const profile_opts[] = {"--name=", NULL};
static const char *const device_opts[] = {"--model=", "--name=", "--site=",
                                          "--firmware=", NULL};
static const char *const audit_opts[] = {"--credential=", "--since=",
                                         "--limit=", NULL};
static const char *const seed_opts[] = {"--credentials=", "--users=",
                                        "--batch=", "--profile=", "--prefix=",
                                        NULL};
static const char *const serve_opts[] = {
    "--listen=",     "--base-path=", "--threads=", "--auth-cache-ttl=",
    "--access-log=", "--log-level=", "--idempotency-ttl=",
    "--auth-fail-limit=", "--auth-fail-window=", "--tls-cert=", "--tls-key=",
    "--rate-limit=", "--max-connections=", "--user=", "--io-threads=",
    "--idle-timeout=", "--read-cache=", NULL};

static const struct cmd cmds[] = {
    {"serve", NULL, 0,
     "serve [--listen HOST:PORT] [--base-path PATH] [--threads N] "
     "[--auth-cache-ttl SECONDS] [--auth-fail-limit N] "
     "[--auth-fail-window SECONDS] [--idempotency-ttl SECONDS] "
     "[--access-log FILE|-] [--log-level LEVEL] [--tls-cert FILE --tls-key FILE] "
     "[--rate-limit RPS[:BURST]] [--max-connections N] [--idle-timeout SECONDS] "
     "[--io-threads N] [--read-cache MIB] "
     "[--user NAME]",
     "Serve the ENGAGE Credentialing API over HTTP until SIGINT or SIGTERM.\n"
     "Then it answers new requests 503, lets the ones in flight finish\n"
     "(25 s at most; 5 s for an answer still being sent), commits and\n"
     "exits 0.\n"
     "\n"
     "  --listen HOST:PORT        address to listen on [ENGAGE_LISTEN]\n"
     "                            (default 127.0.0.1:8080)\n"
     "  --base-path PATH          prefix of every API path [ENGAGE_BASE_PATH]\n"
     "                            (default /engage)\n"
     "  --threads N               HTTP threads, 0 = one per core\n"
     "                            [ENGAGE_THREADS] (default 0)\n"
     "  --auth-cache-ttl SECONDS  longest a verified key and password pair\n"
     "                            is trusted without a new Argon2id check\n"
     "                            [ENGAGE_AUTH_CACHE_TTL] (default 60)\n"
     "  --auth-fail-limit N       failed authentications allowed per client\n"
     "                            address and per subscription key in a\n"
     "                            window; more get 429 with Retry-After\n"
     "                            until it ends; 0 = off\n"
     "                            [ENGAGE_AUTH_FAIL_LIMIT] (default 20)\n"
     "  --auth-fail-window SECONDS the window [ENGAGE_AUTH_FAIL_WINDOW]\n"
     "                            (default 60)\n"
     "  --idempotency-ttl SECONDS how long the 201 of a create with an\n"
     "                            Idempotency-Key is replayed\n"
     "                            [ENGAGE_IDEMPOTENCY_TTL] (default 86400)\n"
     "  --access-log FILE|-       a JSON line per answer (time, requestId,\n"
     "                            method, path, operation, tenant, status,\n"
     "                            durationMs), appended to FILE or, for -,\n"
     "                            written to stdout [ENGAGE_ACCESS_LOG]\n"
     "                            (default: none)\n"
     "  --tls-cert FILE           serve HTTPS only (TLS 1.2 and 1.3) with\n"
     "  --tls-key FILE            this PEM certificate chain and key\n"
     "                            [ENGAGE_TLS_CERT, ENGAGE_TLS_KEY] (default:\n"
     "                            plain HTTP)\n"
     "  --rate-limit RPS[:BURST]  requests per second allowed per\n"
     "                            subscription key (BURST at once, default\n"
     "                            RPS); more get 429 with Retry-After\n"
     "                            [ENGAGE_RATE_LIMIT] (default: off)\n"
     "  --max-connections N       open connections at most\n"
     "                            [ENGAGE_MAX_CONNECTIONS] (default 4096)\n"
     "  --idle-timeout SECONDS    close a connection that has been idle (or\n"
     "                            has sent nothing) this long\n"
     "                            [ENGAGE_IDLE_TIMEOUT] (default 60)\n"
     "  --io-threads N            run store calls on N worker threads, so no\n"
     "                            HTTP thread waits on a round trip\n"
     "                            [ENGAGE_IO_THREADS] (default: 8 for a\n"
     "                            remote store, 0 = on the HTTP threads for\n"
     "                            SQLite)\n"
     "  --read-cache MIB          keep recently read credentials in this\n"
     "                            much memory, so a repeated GET of one is\n"
     "                            answered without the store; SQLite only,\n"
     "                            0 = off [ENGAGE_READ_CACHE] (default 128)\n"
     "  --user NAME               after binding, give the store's files to\n"
     "                            NAME and drop root to it [ENGAGE_USER]\n"
     "                            (default: stay as started)\n"
     "  --log-level LEVEL         debug, info, warning or error; the log\n"
     "                            goes to stderr [ENGAGE_LOG_LEVEL]\n"
     "                            (default info)\n"
     "\n"
     "/healthz, /readyz and /metrics are served outside the base path,\n"
     "and the OpenAPI document at BASE/openapi.yaml.\n",
     serve_opts, cmd_serve},
    {"tenant", "create", 1, "tenant create NAME",
     "Create a tenant; prints its tenantId.\n", no_opts, cmd_tenant_create},
    {"tenant", "list", 0, "tenant list",
     "List the tenants (tenantId and name).\n", no_opts, cmd_tenant_list},
    {"key", "create", 1, "key create TENANT_ID",
     "Create a subscription key for the tenant; prints keyId and the\n"
     "subscriptionKey, which is shown only this once (only its hash is kept).\n",
     no_opts, cmd_key_create},
    {"key", "revoke", 1, "key revoke KEY_ID",
     "Revoke a subscription key; a running server refuses it within 1 s.\n",
     no_opts, cmd_key_revoke},
    {"key", "list", 1, "key list TENANT_ID",
     "List the tenant's subscription keys: keyId, createdAt and state\n"
     "(active or revoked). Never a secret.\n",
     no_opts, cmd_key_list},
    {"key", "rotate", 1, "key rotate KEY_ID",
     "Give an active key a new secret, printed once as subscriptionKey; the\n"
     "old secret is refused within 1 s. To rotate without downtime, create a\n"
     "second key, move clients to it, then rotate or revoke the first (C10).\n",
     no_opts, cmd_key_rotate},
    {"account", "create", 2, "account create TENANT_ID USERNAME [--password-stdin]",
     "Create an ENGAGE account (Basic Auth username and password).\n"
     "The password is generated and printed once, unless --password-stdin\n"
     "reads it (8 to 128 bytes) from the first line of standard input.\n",
     pw_opts, cmd_account_create},
    {"account", "passwd", 2,
     "account passwd TENANT_ID USERNAME [--password-stdin]",
     "Give an account a new password: generated and printed once, unless\n"
     "--password-stdin reads it from the first line of standard input. The\n"
     "old password is refused within 1 s.\n",
     pw_opts, cmd_account_passwd},
    {"account", "remove", 2, "account remove TENANT_ID USERNAME",
     "Remove an account; a running server refuses it within 1 s.\n", no_opts,
     cmd_account_remove},
    {"profile", "create", 2, "profile create TENANT_ID PROFILE_ID [--name NAME]",
     "Create an access profile that credentials may grant (C14).\n",
     profile_opts, cmd_profile_create},
    {"device", "add", 1,
     "device add TENANT_ID --model MODEL --name NAME [--site SITE] "
     "[--firmware VERSION]",
     "Enroll a device. MODEL is one of BE467B, FE410B, NDEB, LEBMS, LEBMD,\n"
     "MTKB, XE360, CTE, VonDuprinRU, VonDuprinRM. Prints its deviceId.\n",
     device_opts, cmd_device_add},
    {"device", "remove", 2, "device remove TENANT_ID DEVICE_ID",
     "Remove an enrolled device.\n", no_opts, cmd_device_remove},
    {"audit", NULL, 1,
     "audit TENANT_ID [--credential ID] [--since RFC3339] [--limit N]",
     "Print the tenant's audit trail, oldest first: every credential create\n"
     "and revoke with its time, credential, request id and actor (key id and\n"
     "username). With --json, one JSON object a line (JSON Lines).\n"
     "\n"
     "  --credential ID   only the records of this credential\n"
     "  --since RFC3339   only records at or after this instant\n"
     "  --limit N         at most N records\n",
     audit_opts, cmd_audit},
    {"demo", NULL, 0, "demo",
     "Create a demo tenant with one subscription key, one account (demo),\n"
     "two access profiles (staff, visitor) and three devices, and print the\n"
     "key and password (shown only this once).\n",
     no_opts, cmd_demo},
    {"seed", NULL, 1,
     "seed TENANT_ID --credentials N [--users U] [--profile ID] [--prefix P] "
     "[--batch B]",
     "Bulk-load N credentials into a tenant (for benchmarks and trials),\n"
     "through the same validation and store writes as the API, audit records\n"
     "included (C31), B per transaction (default 10000). User ids are\n"
     "P-0 .. P-(U-1) in turn (P defaults to seed: seed-0, seed-1, ...; U\n"
     "to 1000); every credential grants the access profile ID (default\n"
     "staff), which must exist.\n",
     seed_opts, cmd_seed},
    {"mcp", NULL, 0, "mcp",
     "Serve the API's operations as MCP tools (Model Context Protocol) on\n"
     "stdin and stdout: JSON-RPC 2.0, one message a line; logs go to stderr.\n"
     "The session is one tenant's: it authenticates once at start, as REST\n"
     "does, with the subscription key and account in the environment, and\n"
     "every tool call is audited as that key and account.\n"
     "\n"
     "  ENGAGE_SUBSCRIPTION_KEY   the tenant's subscription key (required)\n"
     "  ENGAGE_USERNAME           the account's username (required)\n"
     "  ENGAGE_PASSWORD           the account's password (required)\n"
     "  ENGAGE_AUTH_CACHE_TTL     as serve --auth-cache-ttl (default 60)\n"
     "\n"
     "One tool per API operation, named by the spec's operationId.\n",
     no_opts, cmd_mcp},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
    fprintf(f,
            "usage: engage [--store URL] [--json] COMMAND ...\n"
            "\n"
            "The ENGAGE Cloud Credentialing API server and its admin commands.\n"
            "\n"
            "  --store URL   the store [ENGAGE_STORE]: sqlite:PATH, or a\n"
            "                PostgreSQL URI postgres://USER@HOST:PORT/DB\n"
            "                (default sqlite:engage.db)\n"
            "  --json        print one JSON object on stdout (before or after\n"
            "                the command name)\n"
            "  --help        this text; COMMAND --help for a command's\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(f, "  %s\n", cmds[i].usage);
}

static void cmd_help(const struct cmd *c)
{
    printf("usage: engage [--store URL] [--json] %s\n\n%s", c->usage, c->help);
}

/* Where each option's value goes in struct cmd_args. */
static const struct {
    const char *name;
    size_t off;
} fields[] = {
#define F(name, field) {name, offsetof(struct cmd_args, field)}
    F("--model", model),
    F("--name", name),
    F("--site", site),
    F("--firmware", firmware),
    F("--listen", listen),
    F("--base-path", base_path),
    F("--threads", threads),
    F("--auth-cache-ttl", cache_ttl),
    F("--auth-fail-limit", fail_limit),
    F("--auth-fail-window", fail_window),
    F("--idempotency-ttl", idem_ttl),
    F("--access-log", access_log),
    F("--log-level", log_level),
    F("--credential", credential),
    F("--since", since),
    F("--limit", limit),
    F("--credentials", count),
    F("--users", users),
    F("--batch", batch),
    F("--profile", profile),
    F("--prefix", prefix),
    F("--tls-cert", tls_cert),
    F("--tls-key", tls_key),
    F("--rate-limit", rate_limit),
    F("--max-connections", max_conns),
    F("--user", user),
    F("--io-threads", io_threads),
    F("--idle-timeout", idle_timeout),
    F("--read-cache", read_cache),
#undef F
};

/* Take the options of c out of argv[from..argc). */
static int parse_cmd(const struct cmd *c, int argc, char **argv, int from,
                     struct cmd_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = from; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0 || strcmp(arg, "--") == 0) {
            if (a->npos >= 4 || a->npos >= c->npos) {
                fprintf(stderr, "engage: %s: unexpected argument '%s'\n",
                        c->usage, arg);
                return -1;
            }
            a->pos[a->npos++] = arg;
            continue;
        }
        const char *opt = NULL;
        size_t arglen = strcspn(arg, "=");
        for (size_t k = 0; c->options[k] != NULL; k++) {
            size_t ol = strcspn(c->options[k], "=");
            if (ol == arglen && strncmp(c->options[k], arg, ol) == 0)
                opt = c->options[k];
        }
        if (opt == NULL) {
            fprintf(stderr, "engage: unknown option '%s' (usage: engage %s)\n",
                    arg, c->usage);
            return -1;
        }
        const char *val = NULL;
        bool takes = opt[strlen(opt) - 1] == '=';
        if (takes) {
            if (arg[arglen] == '=') {
                val = arg + arglen + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                fprintf(stderr, "engage: option %.*s needs a value\n",
                        (int)arglen, arg);
                return -1;
            }
        } else if (arg[arglen] == '=') {
            fprintf(stderr, "engage: option %.*s takes no value\n", (int)arglen,
                    arg);
            return -1;
        }
        if (!takes) {
            a->password_stdin = true; /* the one flag without a value */
            continue;
        }
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
            if (strlen(fields[k].name) == arglen &&
                strncmp(fields[k].name, arg, arglen) == 0)
                *(const char **)((char *)a + fields[k].off) = val;
    }
    if (a->npos < c->npos) {
        fprintf(stderr, "engage: missing argument (usage: engage %s)\n",
                c->usage);
        return -1;
    }
    return 0;
}

int eg_cli_main(int argc, char **argv)
{
    struct opts o = {.store_url = NULL, .json = false};
    /* Global options may stand anywhere; take them out of argv. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o.json = true;
        } else if (strcmp(argv[i], "--store") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "engage: --store needs a URL\n");
                return EXIT_USAGE;
            }
            o.store_url = argv[++i];
        } else if (strncmp(argv[i], "--store=", 8) == 0) {
            o.store_url = argv[i] + 8;
        } else {
            argv[n++] = argv[i];
        }
    }
    argc = n;
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    const struct cmd *c = NULL;
    int from = 2;
    bool group_known = false;
    for (size_t i = 0; i < NCMDS && c == NULL; i++) {
        if (strcmp(cmds[i].group, argv[1]) != 0)
            continue;
        group_known = true;
        if (cmds[i].verb == NULL) {
            c = &cmds[i];
        } else if (argc > 2 && strcmp(cmds[i].verb, argv[2]) == 0) {
            c = &cmds[i];
            from = 3;
        }
    }
    if (c == NULL) {
        if (group_known && argc > 2 && strcmp(argv[2], "--help") == 0) {
            printf("usage:\n");
            for (size_t i = 0; i < NCMDS; i++)
                if (strcmp(cmds[i].group, argv[1]) == 0)
                    printf("  engage %s\n", cmds[i].usage);
            return 0;
        }
        if (group_known)
            fprintf(stderr, "engage: '%s' needs a subcommand:\n", argv[1]);
        else
            fprintf(stderr, "engage: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct cmd_args a;
    if (parse_cmd(c, argc, argv, from, &a) != 0)
        return EXIT_USAGE;
    if (a.help) {
        cmd_help(c);
        return 0;
    }

    const char *url = env_or(o.store_url, "ENGAGE_STORE", "sqlite:engage.db");
    if (c->run == cmd_serve) {
        /* Signals are taken by the serving thread with sigwait: block them
         * before any thread starts, so every thread inherits the mask. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
    }
    struct eg_store *store;
    char err[512];
    if (eg_store_open(url, &store, err, sizeof(err)) != 0) {
        fprintf(stderr, "engage: cannot open the store: %s\n", err);
        return 1;
    }
    struct eg_svc svc = {.store = store};
    int rc = c->run(&svc, &o, &a);
    eg_store_close(store);
    return rc;
}
