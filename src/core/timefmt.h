/* RFC 3339 times in UTC: the one reader and writer of the library's time texts (orders, evidence
 * orders, the e-Evidence transport), on the proleptic Gregorian calendar, in milliseconds since
 * the epoch. */
#ifndef TD_CORE_TIMEFMT_H
#define TD_CORE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (years 1970..9999, a real calendar day; fractions beyond
 * milliseconds are cut), and with allow_offset also "+hh:mm" / "-hh:mm" instead of "Z" (the
 * result in UTC). -1 for anything else, or a time before the epoch. */
int64_t td__time_parse(const char *text, size_t len, int allow_offset);

typedef enum td__time_style {
    TD__TIME_MILLIS = 0, /* "2026-12-01T09:00:00.000Z": always three decimals */
    TD__TIME_SHORT = 1,  /* "2026-12-01T09:00:00Z", with ".fff" only when not zero */
    TD__TIME_MICROS = 2  /* "2026-12-01T09:00:00.000000Z" */
} td__time_style;

/* ms as text in out (cap bytes, at least 32 for MILLIS and SHORT, 40 for MICROS); "" when the
 * year does not fit four digits. Returns the length written. */
size_t td__time_format(int64_t ms, td__time_style style, char *out, size_t cap);

#endif
