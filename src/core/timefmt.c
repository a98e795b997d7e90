/* RFC 3339 times (see timefmt.h). The calendar arithmetic is Howard Hinnant's days_from_civil
 * and civil_from_days, which are exact for every proleptic Gregorian date. */
#include <stdio.h>
#include <string.h>

#include "core/timefmt.h"

#define DAY_MS ((int64_t)86400000)

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at *p (a moving cursor) worth at most max; -1 if not. */
static int64_t digits(const char **p, const char *end, int n, int64_t max)
{
    int64_t v = 0;
    if (end - *p < n)
        return -1;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    return v <= max ? v : -1;
}

static int expect(const char **p, const char *end, char ch)
{
    if (*p >= end || **p != ch)
        return 0;
    (*p)++;
    return 1;
}

int64_t td__time_parse(const char *text, size_t len, int allow_offset)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!text || len > 48)
        return -1;
    const char *p = text, *end = text + len;
    int64_t y = digits(&p, end, 4, 9999), mo, d, h, mi, s, ms = 0;
    if (y < 1970 || !expect(&p, end, '-') || (mo = digits(&p, end, 2, 12)) < 1 ||
        !expect(&p, end, '-') || (d = digits(&p, end, 2, 31)) < 1 || !expect(&p, end, 'T') ||
        (h = digits(&p, end, 2, 23)) < 0 || !expect(&p, end, ':') ||
        (mi = digits(&p, end, 2, 59)) < 0 || !expect(&p, end, ':') ||
        (s = digits(&p, end, 2, 59)) < 0)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if ((unsigned)d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    if (expect(&p, end, '.')) {
        int n = 0;
        int64_t scale = 100;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++n > 9)
                return -1;
            ms += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
        if (n == 0)
            return -1;
    }
    int64_t offset_min = 0;
    if (!expect(&p, end, 'Z')) {
        int sign = !allow_offset ? 0 : expect(&p, end, '+') ? 1 : expect(&p, end, '-') ? -1 : 0;
        int64_t oh, om;
        if (!sign || (oh = digits(&p, end, 2, 14)) < 0 || !expect(&p, end, ':') ||
            (om = digits(&p, end, 2, 59)) < 0)
            return -1;
        offset_min = sign * (oh * 60 + om);
    }
    if (p != end)
        return -1;
    int64_t t = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000 +
                s * 1000 + ms - offset_min * 60000;
    return t >= 0 ? t : -1;
}

size_t td__time_format(int64_t ms, td__time_style style, char *out, size_t cap)
{
    int64_t days = ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
    int64_t rem = ms - days * DAY_MS, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    char buf[96];
    int n;
    if (style == TD__TIME_MICROS)
        n = snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03d000Z", (long long)y, m,
                     d, h, mi, s, frac);
    else if (style == TD__TIME_MILLIS || frac)
        n = snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                     h, mi, s, frac);
    else
        n = snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d, h, mi,
                     s);
    /* Years past 9999 do not fit: the parser never gives them, a sane clock never reaches them. */
    size_t len = n > 0 && (size_t)n < cap && y >= 0 && y <= 9999 ? (size_t)n : 0;
    if (cap) {
        memcpy(out, buf, len);
        out[len] = '\0';
    }
    return len;
}
