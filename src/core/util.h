/*
 * util.h - small shared helpers: random identifiers and secrets, bounded
 * string copies, a capped growable buffer, and logging to stderr.
 *
 * Nothing here logs or keeps a secret; callers wipe secret buffers with
 * sodium_memzero themselves.
 */
#ifndef EG_CORE_UTIL_H
#define EG_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Write prefix followed by `nbytes` random bytes as unpadded base64url into
 * out (outlen bytes). Aborts if it does not fit (a programming error). */
void eg_random_id(char *out, size_t outlen, const char *prefix, size_t nbytes);

/* n (at most 64) bytes from the kernel's CSPRNG, drawn 4 KiB at a time into
 * a buffer of the calling thread, so an id on the request path costs no
 * system call; bytes handed out are wiped from the buffer. For ids, not for
 * keys or passwords (those call randombytes_buf). The process must not
 * fork after drawing. */
void eg_random_bytes(void *out, size_t n);

/* Copy the NUL-terminated src into dst of size dstlen. Returns false (and
 * leaves dst empty) when it does not fit. */
bool eg_strlcpy(char *dst, const char *src, size_t dstlen);

/* A growable byte buffer with a hard cap: appends fail cleanly past `cap`
 * (curl's dynbuf). Small allocations abort on failure. */
struct eg_buf {
    char *data;
    size_t len;
    size_t size;
    size_t cap;
};

void eg_buf_init(struct eg_buf *b, size_t cap);
/* Append n bytes. Returns 0, or -1 when the result would exceed the cap. */
int eg_buf_add(struct eg_buf *b, const void *p, size_t n);
int eg_buf_addstr(struct eg_buf *b, const char *s);
void eg_buf_reset(struct eg_buf *b);
void eg_buf_free(struct eg_buf *b);

enum eg_log_level { EG_LOG_DEBUG, EG_LOG_INFO, EG_LOG_WARN, EG_LOG_ERROR };
extern enum eg_log_level eg_log_min;

/* Log one line to stderr as "engage: LEVEL: message". Never pass a secret. */
void eg_log(enum eg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
