/*
 * common.h - what the libFuzzer drivers of fuzz/ share: a temporary SQLite
 * store provisioned through the service functions (one tenant, one key, one
 * account, access profiles, devices, a few credentials and 300 expired ones
 * of user "bulk"), and a check that
 * aborts with a message.
 *
 * The store lives in a fresh directory under $TMPDIR (default /dev/shm when
 * it exists, so group commits cost no disk flush); fz_fixture_free removes
 * it. Nothing here is used by engage itself.
 */
#ifndef EG_FUZZ_COMMON_H
#define EG_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "svc/svc.h"

#define FZ_PASSWORD "fuzz-password-0123"
#define FZ_EXPIRED_BULK 300 /* expired credentials of user "bulk" */
#define FZ_USERNAME "fuzzer"

struct fz_fixture {
    char dir[256];
    struct eg_store *store;
    struct eg_svc svc; /* no writer: writes are applied at once */
    struct eg_principal p;
    char key[EG_SUBKEY_MAX];  /* the subscription key */
    char authz[256];          /* "Basic base64(user:password)" */
    char cred_active[EG_ID_MAX];
    char cred_revoked[EG_ID_MAX];
    char cred_expired[EG_ID_MAX];
};

/* Make a fresh store in a new temporary directory and provision it. Aborts
 * on any failure (the driver cannot run without it). */
void fz_fixture_init(struct fz_fixture *f);

/* Close the store and remove its directory. */
void fz_fixture_free(struct fz_fixture *f);

/* Abort with a message on stderr when cond is false. */
#define FZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                   \
    } while (0)

_Noreturn void fz_fail(const char *file, int line, const char *cond,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True when code is one of the Error codes of CONTRACT C24. */
bool fz_c24_code(const char *code);

#endif
