/* URL signals: canonical form (the `url` signal), url_md5 as python-threatexchange computes it,
 * and rules that cover a whole domain or a path prefix (a channel, a file-sharing folder).
 *
 * Canonical form (docs/text_url.md): defanged forms restored (hxxp, [h]ttp, [.], (.), [dot],
 * [:]); missing scheme taken as http; scheme and host lower-cased; user info, default ports and
 * the fragment dropped; percent-encoding normalised (unreserved characters decoded, other escapes
 * upper-cased, unsafe bytes encoded); dot segments resolved; a trailing slash dropped except for
 * the root; tracking parameters (utm_*, fbclid, gclid, ...) removed, the others kept in order.
 * Parsing is bounded: at most TD_URL_MAX bytes. */
#ifndef TAKEDOWN_URL_H
#define TAKEDOWN_URL_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_URL_MAX 8192     /* bytes of input */
#define TD_URL_HOST_MAX 253 /* bytes of host name */

/* The canonical URL, NUL-terminated; *out is freed with td_free. */
__attribute__((warn_unused_result)) td_status td_url_canonicalize(const char *url, size_t len,
                                                                  char **out, td_error *err);

/* python-threatexchange's url_md5: MD5 of the URL lower-cased (Unicode) with the first
 * "scheme://" removed (urlparse's scheme; "://" when there is none), empty '?' and '#' dropped.
 * Applied to the bytes given: pass the canonical form for takedown's own signals. */
__attribute__((warn_unused_result)) td_status
td_url_md5(const char *url, size_t len, char out[TD_MD5_HEX_LEN + 1], td_error *err);

/* The URLs a text mentions (a message's links), in canonical form, each once, in the order they
 * first appear, at most max (0 or over TD_URL_EXTRACT_MAX: TD_URL_EXTRACT_MAX; the rest are not
 * read). Taken: a web scheme, also defanged (http, https, hxxp, hxxps, h**p, "[://]"), "www.",
 * or a bare host with a path ("t.me/channel"), from a word boundary to a space, control byte or
 * one of <>"`, without trailing punctuation or unbalanced closing brackets; a candidate the
 * canonicaliser refuses or longer than TD_URL_MAX is skipped. *urls (NULL when none) is freed
 * with td_url_list_free. Linear in len. */
#define TD_URL_EXTRACT_MAX 256
__attribute__((warn_unused_result)) td_status td_url_extract(const char *text, size_t len,
                                                             size_t max, char ***urls,
                                                             size_t *count, td_error *err);
void td_url_list_free(char **urls, size_t count);

typedef enum td_url_rule_kind {
    TD_URL_RULE_DOMAIN = 1, /* the host and all its subdomains */
    TD_URL_RULE_PREFIX = 2  /* one host, paths equal to or below a prefix (segment boundary) */
} td_url_rule_kind;

typedef struct td_url_rules td_url_rules;

__attribute__((warn_unused_result)) td_status td_url_rules_new(td_url_rules **out, td_error *err);
void td_url_rules_free(td_url_rules *rules);

/* DOMAIN: pattern is a host ("example.com") or any URL on it; PREFIX: a URL, whose canonical
 * host and path are the prefix (scheme, query and fragment are ignored). */
__attribute__((warn_unused_result)) td_status td_url_rules_add(td_url_rules *rules,
                                                               td_url_rule_kind kind,
                                                               const char *pattern, uint64_t id,
                                                               td_error *err);

/* Removes every rule added under id; returns how many. */
size_t td_url_rules_remove(td_url_rules *rules, uint64_t id);
/* Rules held. */
size_t td_url_rules_count(const td_url_rules *rules);

/* Ids of the rules covering url (canonicalised first): up to cap into ids, *count the total.
 * Cost: one map lookup per host label and per path segment. */
__attribute__((warn_unused_result)) td_status td_url_rules_match(const td_url_rules *rules,
                                                                 const char *url, size_t len,
                                                                 uint64_t *ids, size_t cap,
                                                                 size_t *count, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
