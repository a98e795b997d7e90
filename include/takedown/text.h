/* The raw_text signal: python-threatexchange's normalisation and Levenshtein rule, exactly, and a
 * candidate index that finds every known document the rule could match without comparing the
 * query with each of them.
 *
 * Normalisation (common.normalize_string): Unicode lower case, NFKD, combining marks removed,
 * the reference's "(.)(\1)+" substitution (a non-raw Python string, so \1 is U+0001: a character
 * followed by U+0001 is removed), then everything but letters and digits removed.
 * Match: with a = normalised known text, b = normalised query, both in code points,
 * match iff Levenshtein(a, b) <= len(a) - len(a) * 95 / 100 (5%, as a float).
 *
 * Index (docs/text_url.md): pigeonhole filter, exact by construction. If a needs at most k edits,
 * one of k + 1 disjoint pieces of a is untouched and appears in b within k positions of where it
 * sits in a; the index stores a 1..16 code-point prefix of each piece, a query looks up every
 * window of b (or, for long queries, takes every document of a compatible length), drops
 * documents whose 8-code-point blocks are too rarely found near their place in b (an edit
 * touches at most one block), and computes the exact distance of the rest with a bit-parallel
 * search confined by an upper bound and a q-gram lower bound of the remaining cost. Results
 * always equal td_text_index_query_brute's.
 *
 * Threads: td_text_index_query and td_text_index_query_brute only read the index and keep their
 * scratch memory per call, so any number of them may run at once on one index; add, remove and
 * free must not run at the same time as anything else on it (a read-write lock fits). */
#ifndef TAKEDOWN_TEXT_H
#define TAKEDOWN_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_TEXT_MAX_BYTES ((size_t)16 << 20) /* input text, UTF-8 */
#define TD_TEXT_DEFAULT_PERCENT 5

/* Normalised text as UTF-8 (NUL-terminated, freed with td_free). Fails with TD_ERR_INVALID on
 * bytes that are not UTF-8 and TD_ERR_LIMIT over TD_TEXT_MAX_BYTES. */
__attribute__((warn_unused_result)) td_status
td_text_normalize(const char *utf8, size_t len, char **out, size_t *out_len, td_error *err);

/* The raw_text rule between a known text (signal) and a query (haystack); *distance receives the
 * edit distance when it is within the threshold, else a lower bound above it. */
__attribute__((warn_unused_result)) td_status
td_text_raw_match(const char *signal, size_t signal_len, const char *haystack, size_t haystack_len,
                  int *match, size_t *distance, td_error *err);

/* Levenshtein distance of two code-point strings if it is <= max, else max + 1. Exact; fast for
 * near-duplicates (the search only visits alignments that a q-gram lower bound leaves within an
 * upper bound). Out of memory gives max + 1. */
size_t td_text_levenshtein_bounded(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
                                   size_t max);

typedef struct td_text_index td_text_index;

__attribute__((warn_unused_result)) td_status td_text_index_new(td_text_index **out, td_error *err);
void td_text_index_free(td_text_index *idx);

/* Adds a known text under id (normalised and kept in memory). Several texts may share an id. On
 * failure the index is unchanged. */
__attribute__((warn_unused_result)) td_status
td_text_index_add(td_text_index *idx, uint64_t id, const char *utf8, size_t len, td_error *err);
/* Removes every text added under id (queries no longer return it; its memory is reused).
 * Returns how many were removed. Cannot fail. */
size_t td_text_index_remove(td_text_index *idx, uint64_t id);
/* Number of texts in the index. */
size_t td_text_index_size(const td_text_index *idx);

typedef struct td_text_match {
    uint64_t id;
    size_t distance;
} td_text_match;

typedef struct td_text_query_stats {
    size_t candidates;     /* documents found by the first stage (length and pieces) */
    size_t verified;       /* of those, passed the q-gram filter and verified exactly */
    uint64_t normalize_ns; /* normalising the query */
    uint64_t candidate_ns; /* the candidate stages: pieces or lengths, then the q-gram filter */
    uint64_t verify_ns;    /* the exact rule on the survivors */
} td_text_query_stats;

/* Every known text the raw_text rule matches against the query, in no particular order.
 * *matches freed with td_free; stats may be NULL. May run concurrently with other queries on the
 * same index, not with td_text_index_add or td_text_index_remove. */
__attribute__((warn_unused_result)) td_status
td_text_index_query(const td_text_index *idx, const char *utf8, size_t len, td_text_match **matches,
                    size_t *count, td_text_query_stats *stats, td_error *err);

/* The same by applying the rule to every known text (for tests and the benchmark's recall
 * figure); same threading rules. */
__attribute__((warn_unused_result)) td_status
td_text_index_query_brute(const td_text_index *idx, const char *utf8, size_t len,
                          td_text_match **matches, size_t *count, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
