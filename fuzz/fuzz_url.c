/* libFuzzer harness for URLs: canonicalisation (which must be idempotent), url_md5, and domain /
 * path-prefix rules. The input is split at '\n': the first line is the URL; each further line is
 * a rule, 'D' or 'P' then its pattern. Every URL must be covered by a domain rule and a prefix
 * rule made from itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/hash.h"
#include "takedown/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RULES 8
#define SELF_DOMAIN 1000
#define SELF_PREFIX 1001

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int has(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * TD_URL_MAX)
        return -1;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - data) : size;
    td_error err;
    char md5[TD_MD5_HEX_LEN + 1];
    (void)td_url_md5((const char *)data, first, md5, &err);

    char *canon = NULL;
    if (td_url_canonicalize((const char *)data, first, &canon, &err) == TD_OK) {
        char *again = NULL;
        if (td_url_canonicalize(canon, strlen(canon), &again, &err) != TD_OK ||
            strcmp(again, canon) != 0)
            __builtin_trap();
        td_free(again);
        if (td_url_md5(canon, strlen(canon), md5, &err) != TD_OK)
            __builtin_trap();
    }

    td_url_rules *rules;
    if (td_url_rules_new(&rules, &err) != TD_OK) {
        td_free(canon);
        return 0;
    }
    size_t pos = first + 1;
    for (uint64_t id = 0; id < MAX_RULES && pos < size; id++) {
        const uint8_t *end = memchr(data + pos, '\n', size - pos);
        size_t n = end ? (size_t)(end - (data + pos)) : size - pos;
        if (n > 0) {
            char *pattern = dup_bytes(data + pos + 1, n - 1);
            td_url_rule_kind kind = data[pos] == 'D' ? TD_URL_RULE_DOMAIN : TD_URL_RULE_PREFIX;
            (void)td_url_rules_add(rules, kind, pattern, id, &err);
            free(pattern);
        }
        pos += n + 1;
    }
    int self_domain = 0, self_prefix = 0;
    if (canon) {
        self_domain =
            td_url_rules_add(rules, TD_URL_RULE_DOMAIN, canon, SELF_DOMAIN, &err) == TD_OK;
        self_prefix =
            td_url_rules_add(rules, TD_URL_RULE_PREFIX, canon, SELF_PREFIX, &err) == TD_OK;
    }
    uint64_t ids[MAX_RULES + 4];
    size_t count = 0;
    if (td_url_rules_match(rules, (const char *)data, first, ids, MAX_RULES + 4, &count, &err) ==
        TD_OK) {
        size_t seen = count < MAX_RULES + 4 ? count : MAX_RULES + 4;
        if (count <= MAX_RULES + 4 && ((self_domain && !has(ids, seen, SELF_DOMAIN)) ||
                                       (self_prefix && !has(ids, seen, SELF_PREFIX))))
            __builtin_trap();
    } else if (canon) {
        __builtin_trap(); /* a URL that canonicalises must be matchable */
    }
    td_url_rules_free(rules);
    td_free(canon);
    return 0;
}
