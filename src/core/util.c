/*
 * util.c - random ids, bounded copies, capped buffers, stderr logging.
 */
#include "core/util.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum eg_log_level eg_log_min = EG_LOG_INFO;

void eg_random_id(char *out, size_t outlen, const char *prefix, size_t nbytes)
{
    unsigned char raw[64];
    size_t plen = strlen(prefix);
    size_t need = plen + sodium_base64_ENCODED_LEN(nbytes,
                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (nbytes > sizeof(raw) || need > outlen)
        abort();
    randombytes_buf(raw, nbytes);
    memcpy(out, prefix, plen);
    sodium_bin2base64(out + plen, outlen - plen, raw, nbytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void eg_random_bytes(void *out, size_t n)
{
    static _Thread_local unsigned char buf[4096];
    static _Thread_local size_t left;
    if (n > 64)
        abort();
    if (left < n) {
        randombytes_buf(buf, sizeof(buf));
        left = sizeof(buf);
    }
    unsigned char *p = buf + sizeof(buf) - left;
    memcpy(out, p, n);
    sodium_memzero(p, n);
    left -= n;
}

bool eg_strlcpy(char *dst, const char *src, size_t dstlen)
{
    size_t n = strlen(src);
    if (n >= dstlen) {
        if (dstlen > 0)
            dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

void eg_buf_init(struct eg_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->cap = cap;
}

int eg_buf_add(struct eg_buf *b, const void *p, size_t n)
{
    if (n > b->cap - b->len)
        return -1;
    if (b->len + n + 1 > b->size) {
        size_t size = b->size ? b->size : 256;
        while (size < b->len + n + 1)
            size *= 2;
        char *d = realloc(b->data, size);
        if (d == NULL)
            abort();
        b->data = d;
        b->size = size;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int eg_buf_addstr(struct eg_buf *b, const char *s)
{
    return eg_buf_add(b, s, strlen(s));
}

void eg_buf_reset(struct eg_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void eg_buf_free(struct eg_buf *b)
{
    free(b->data);
    eg_buf_init(b, b->cap);
}

void eg_log(enum eg_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    if (level < eg_log_min)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "engage: %s: %s\n", names[level], line);
}
