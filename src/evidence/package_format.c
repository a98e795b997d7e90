/* What the package writer and reader share: the rules for names and text, the set of names taken,
 * the time format, whole reads and writes, the recipient's keys and the report's vocabulary. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "evidence/package_int.h"

td_status td__pkg_sodium(td_error *err)
{
    if (sodium_init() < 0) /* idempotent and safe from any thread */
        return td__error_set(err, TD_ERR_INTERNAL, "package: libsodium does not initialise");
    return TD_OK;
}

static int name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

/* A deliberately small alphabet: no separator, no control or non-ASCII character, nothing a shell
 * or another file system reads specially; with no leading dot and no "..", a name is never ".",
 * "..", hidden, or one of the reader's ".partial-" files. */
int td__pkg_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > TD_PACKAGE_NAME_MAX || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!name_char((unsigned char)s[i]))
            return 0;
        if (s[i] == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

int td__pkg_text_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

#define NAMES_CAP ((size_t)32768) /* a power of two over twice TD_PACKAGE_RECORDS_MAX */

td_status td__pkg_names_init(td__pkg_names *set, td_error *err)
{
    set->cap = NAMES_CAP;
    set->slots = td__calloc(set->cap, sizeof *set->slots);
    if (!set->slots)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    return TD_OK;
}

void td__pkg_names_free(td__pkg_names *set)
{
    td__free(set->slots);
    set->slots = NULL;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* The slot holding name (ignoring case), or the empty slot where it would go. */
static size_t slot_of(const td__pkg_names *set, const td_package_record *records, const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a of the lowercase name */
    for (const char *p = name; *p; p++)
        h = (h ^ (uint32_t)lower((unsigned char)*p)) * 16777619u;
    size_t i = h & (set->cap - 1);
    while (set->slots[i] && strcasecmp(records[set->slots[i] - 1].name, name) != 0)
        i = (i + 1) & (set->cap - 1);
    return i;
}

int td__pkg_names_add(td__pkg_names *set, const td_package_record *records, uint32_t index)
{
    size_t i = slot_of(set, records, records[index].name);
    if (set->slots[i])
        return 1;
    set->slots[i] = index + 1;
    return 0;
}

long td__pkg_names_find(const td__pkg_names *set, const td_package_record *records,
                        const char *name)
{
    size_t i = slot_of(set, records, name);
    return set->slots[i] ? (long)set->slots[i] - 1 : -1;
}

void td__pkg_format_time(int64_t ms, char out[TD_PACKAGE_CREATED_LEN + 1])
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, TD_PACKAGE_CREATED_LEN + 1, "1970-01-01T00:00:00.000Z");
        return;
    }
    char text[96]; /* wide enough for any int the compiler imagines */
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    memcpy(out, text, TD_PACKAGE_CREATED_LEN); /* years 0..9999: exactly this long */
    out[TD_PACKAGE_CREATED_LEN] = '\0';
}

int td__pkg_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int td__pkg_read_full(int fd, uint8_t *p, size_t n, size_t *got)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = read(fd, p + have, n - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *got = have;
            return -1;
        }
        if (r == 0)
            break;
        have += (size_t)r;
    }
    *got = have;
    if (have < n) {
        errno = 0;
        return -1;
    }
    return 0;
}

td_status td_package_keygen(uint8_t pk[TD_PACKAGE_X25519_KEY_LEN],
                            uint8_t sk[TD_PACKAGE_X25519_KEY_LEN], td_error *err)
{
    td_status st = td__pkg_sodium(err);
    if (st)
        return st;
    if (crypto_box_keypair(pk, sk) != 0)
        return td__error_set(err, TD_ERR_INTERNAL, "package: key generation failed");
    return TD_OK;
}

void td_package_public_key(const uint8_t sk[TD_PACKAGE_X25519_KEY_LEN],
                           uint8_t pk[TD_PACKAGE_X25519_KEY_LEN])
{
    if (sodium_init() < 0 || crypto_scalarmult_base(pk, sk) != 0)
        memset(pk, 0, TD_PACKAGE_X25519_KEY_LEN);
}

const char *td_package_problem_name(td_package_problem problem)
{
    switch (problem) {
    case TD_PACKAGE_VERIFIED: return "verified";
    case TD_PACKAGE_NOT_PACKAGE: return "not_a_package";
    case TD_PACKAGE_UNSUPPORTED: return "unsupported";
    case TD_PACKAGE_WRONG_KEY: return "wrong_key";
    case TD_PACKAGE_ALTERED: return "altered";
    case TD_PACKAGE_TRUNCATED: return "truncated";
    case TD_PACKAGE_NO_FINAL: return "missing_final";
    case TD_PACKAGE_TRAILING_DATA: return "trailing_data";
    case TD_PACKAGE_MALFORMED: return "malformed";
    case TD_PACKAGE_BAD_MANIFEST: return "bad_manifest";
    case TD_PACKAGE_SIGNATURE_INVALID: return "signature_invalid";
    case TD_PACKAGE_HASH_MISMATCH: return "hash_mismatch";
    case TD_PACKAGE_RECORD_MISSING: return "record_missing";
    case TD_PACKAGE_RECORD_EXTRA: return "record_extra";
    case TD_PACKAGE_UNSAFE_NAME: return "unsafe_name";
    case TD_PACKAGE_LIMIT: return "limit";
    case TD_PACKAGE_IO_FAILED: return "io_failed";
    }
    return "unknown";
}

void td_package_report_clear(td_package_report *report)
{
    if (!report)
        return;
    td__free(report->records);
    td__free(report->manifest);
    memset(report, 0, sizeof *report);
    report->message = -1;
    report->record = -1;
}
