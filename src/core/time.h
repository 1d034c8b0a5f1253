/*
 * time.h - engage's one representation of time (CONTRACT C15).
 *
 * A time is an int64_t count of milliseconds since 1970-01-01T00:00:00Z (UTC).
 * EG_TIME_NONE marks an absent time. Text is RFC 3339: input with any offset
 * and any fraction (truncated to milliseconds), output always
 * YYYY-MM-DDTHH:MM:SS.sssZ.
 */
#ifndef EG_CORE_TIME_H
#define EG_CORE_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EG_TIME_NONE INT64_MIN
#define EG_TIME_TEXT_MAX 64 /* buffer size for eg_time_format */

/* The current wall-clock time in milliseconds. */
int64_t eg_time_now(void);

/* Parse an RFC 3339 date-time with an offset ("Z" or +hh:mm). Returns true and
 * stores the instant in *out, or false when s (of length len) is not one. */
bool eg_time_parse(const char *s, size_t len, int64_t *out);

/* Format t as YYYY-MM-DDTHH:MM:SS.sssZ into buf (EG_TIME_TEXT_MAX bytes).
 * Returns buf. */
char *eg_time_format(int64_t t, char buf[EG_TIME_TEXT_MAX]);

#endif
