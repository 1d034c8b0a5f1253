/*
 * time.c - RFC 3339 parsing and formatting in UTC milliseconds (C15).
 *
 * Calendar arithmetic is done on proleptic Gregorian days so that any year
 * 0000-9999 works without the process's time zone or libc's time_t range.
 */
#include "core/time.h"

#include <stdio.h>
#include <time.h>

int64_t eg_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool eg_time_parse(const char *s, size_t len, int64_t *out)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, se, ms = 0;

    /* YYYY-MM-DDTHH:MM:SS is 19 bytes, and an offset follows. */
    if (len < 20)
        return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
        return false;
    unsigned maxd = mdays[mo - 1] + (mo == 2 && leap(y));
    if (d > maxd)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        unsigned scale = 100;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            ms += (unsigned)(s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
    }
    if (i >= len)
        return false;
    int64_t offset_min = 0;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        offset_min = 0;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len) {
        unsigned oh, om;
        if (!digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = (int64_t)oh * 60 + om;
        if (s[i] == '-')
            offset_min = -offset_min;
    } else {
        return false;
    }
    /* A leap second is folded onto the next second. */
    int64_t days = days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se -
                   offset_min * 60;
    /* The instant, in UTC, must still be a year 0000-9999 (C15 output). */
    if (secs < days_from_civil(0, 1, 1) * 86400 ||
        secs >= days_from_civil(10000, 1, 1) * 86400)
        return false;
    *out = secs * 1000 + ms;
    return true;
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

char *eg_time_format(int64_t t, char buf[EG_TIME_TEXT_MAX])
{
    int64_t secs = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
    unsigned ms = (unsigned)(t - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        /* Outside what eg_time_parse accepts: never stored, but stay safe. */
        snprintf(buf, EG_TIME_TEXT_MAX, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                 (long long)y, m, d, sod / 3600, sod / 60 % 60, sod % 60, ms);
        return buf;
    }
    /* The hot path of every list: no printf. */
    char *p = put_digits(buf, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, ms, 3);
    *p++ = 'Z';
    *p = '\0';
    return buf;
}
