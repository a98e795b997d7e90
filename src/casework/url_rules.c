/* Domain and path-prefix URL rules (declared in takedown/url.h). Patterns and looked-up URLs go
 * through the URL parser of src/hash/url.c; rules are stored in a td_index_map under "D<host>"
 * and "P<host><path>" keys: a lookup walks the host's parent domains and the path's parent
 * segments. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/url_int.h"
#include "takedown/index.h"

/* ---- rules ---- */

/* What td_url_rules_remove needs to find a rule's key again. */
struct rule_entry {
    uint64_t id;
    size_t key_len;
    char key[TD_INDEX_MAP_MAX_KEY];
};

struct td_url_rules {
    td_index_map *map;
    struct rule_entry *entries;
    size_t count, capacity;
};

td_status td_url_rules_new(td_url_rules **out, td_error *err)
{
    *out = NULL;
    td_url_rules *r = td__calloc(1, sizeof *r);
    if (!r)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status s = td_index_map_new(&r->map, err);
    if (s != TD_OK) {
        td__free(r);
        return s;
    }
    *out = r;
    return TD_OK;
}

void td_url_rules_free(td_url_rules *r)
{
    if (!r)
        return;
    td_index_map_free(r->map);
    td__free(r->entries);
    td__free(r);
}

/* The host without its port ("[v6]" kept with its brackets): domain rules ignore ports. */
static void strip_port(char *host)
{
    char *sep = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
    if (sep)
        sep[host[0] == '[' ? 1 : 0] = '\0';
}

/* Builds "<tag><host><path>" into key (path may be NULL); returns the length or 0 if too long. */
static size_t make_key(char *key, size_t cap, char tag, const char *host, const char *path,
                       size_t path_len)
{
    size_t hl = strlen(host);
    if (1 + hl + path_len > cap || 1 + hl + path_len > TD_INDEX_MAP_MAX_KEY)
        return 0;
    key[0] = tag;
    memcpy(key + 1, host, hl);
    if (path_len)
        memcpy(key + 1 + hl, path, path_len);
    return 1 + hl + path_len;
}

td_status td_url_rules_add(td_url_rules *r, td_url_rule_kind kind, const char *pattern, uint64_t id,
                           td_error *err)
{
    struct url_parts u;
    char *work;
    td_status s = td__url_parse_alloc(pattern, strlen(pattern), &u, &work, err);
    if (s != TD_OK)
        return s;
    char key[TD_INDEX_MAP_MAX_KEY];
    size_t kl;
    if (kind == TD_URL_RULE_DOMAIN) {
        strip_port(u.host);
        kl = make_key(key, sizeof key, 'D', u.host, NULL, 0);
    } else if (kind == TD_URL_RULE_PREFIX) {
        size_t pl = strlen(u.path);
        kl = make_key(key, sizeof key, 'P', u.host, u.path, pl == 1 ? 0 : pl);
    } else {
        td__free(work);
        return td__error_set(err, TD_ERR_INVALID, "unknown URL rule kind %d", (int)kind);
    }
    td__free(work);
    if (kl == 0)
        return td__error_set(err, TD_ERR_LIMIT, "URL rule longer than %d bytes",
                             TD_INDEX_MAP_MAX_KEY);
    if (r->count == r->capacity) {
        size_t cap = r->capacity ? r->capacity * 2 : 16;
        struct rule_entry *grown = td__realloc(r->entries, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        r->entries = grown;
        r->capacity = cap;
    }
    s = td_index_map_add(r->map, key, kl, id, err);
    if (s != TD_OK)
        return s;
    struct rule_entry *e = &r->entries[r->count++];
    e->id = id;
    e->key_len = kl;
    memcpy(e->key, key, kl);
    return TD_OK;
}

size_t td_url_rules_count(const td_url_rules *r) { return r->count; }

size_t td_url_rules_remove(td_url_rules *r, uint64_t id)
{
    size_t removed = 0, kept = 0;
    for (size_t i = 0; i < r->count; i++) {
        struct rule_entry *e = &r->entries[i];
        if (e->id != id) {
            if (kept != i)
                r->entries[kept] = *e;
            kept++;
            continue;
        }
        /* the key was added under this id, so it is there to remove (nothing to allocate) */
        td_status ignored = td_index_map_remove(r->map, e->key, e->key_len, id, NULL, NULL);
        (void)ignored;
        removed++;
    }
    r->count = kept;
    return removed;
}

static td_status collect(const td_url_rules *r, const char *key, size_t kl, uint64_t *ids,
                         size_t cap, size_t *count, td_error *err)
{
    size_t n = 0;
    size_t room = *count < cap ? cap - *count : 0;
    td_status s = td_index_map_find(r->map, key, kl, room ? ids + *count : NULL, room, &n, err);
    if (s == TD_OK)
        *count += n;
    return s;
}

td_status td_url_rules_match(const td_url_rules *r, const char *url, size_t len, uint64_t *ids,
                             size_t cap, size_t *count, td_error *err)
{
    struct url_parts u;
    char *work;
    *count = 0;
    td_status s = td__url_parse_alloc(url, len, &u, &work, err);
    if (s != TD_OK)
        return s;
    char key[TD_INDEX_MAP_MAX_KEY];
    /* domain rules: the host without port, then each parent domain */
    char host[sizeof u.host];
    snprintf(host, sizeof host, "%s", u.host);
    strip_port(host);
    for (const char *h = host; s == TD_OK && h && *h;) {
        size_t kl = make_key(key, sizeof key, 'D', h, NULL, 0);
        if (kl)
            s = collect(r, key, kl, ids, cap, count, err);
        h = strchr(h, '.');
        if (h)
            h++;
    }
    /* prefix rules: the whole path, then each parent at a '/' boundary, then the host alone */
    size_t pl = strlen(u.path);
    if (pl == 1)
        pl = 0;
    while (s == TD_OK) {
        size_t kl = make_key(key, sizeof key, 'P', u.host, u.path, pl);
        if (kl)
            s = collect(r, key, kl, ids, cap, count, err);
        if (pl == 0)
            break;
        while (pl > 0 && u.path[pl - 1] != '/')
            pl--;
        if (pl > 0)
            pl--;
    }
    td__free(work);
    return s;
}
