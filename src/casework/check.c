/* The upload-time check: hashes in, verdict out. The PDQ index is queried once at the largest
 * threshold of any enabled bank (with the eight dihedral variants when available); exact maps
 * answer MD5 and SHA-256. Candidates are then filtered per bank (enabled, its own threshold) and
 * per signal (still enabled), which needs the signal's row: only for hits, which are rare, so a
 * check without a match never touches the store. */
#include <stdlib.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

#define MAX_EXACT 256

void td_check_options_init(td_check_options *o)
{
    o->dihedral = 1;
    o->min_quality = TD_PDQ_MIN_QUALITY;
    o->max_matches = 100;
}

void td_check_result_clear(td_check_result *res)
{
    if (!res)
        return;
    td__free(res->matches);
    memset(res, 0, sizeof *res);
}

typedef td__cand cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->sid != y->sid)
        return x->sid < y->sid ? -1 : 1;
    return x->distance - y->distance;
}

static int match_cmp(const void *a, const void *b)
{
    const td_match *x = a, *y = b;
    if (x->suppressed != y->suppressed)
        return x->suppressed - y->suppressed;
    if (x->distance != y->distance)
        return x->distance - y->distance;
    if (td_match_action(x) != td_match_action(y))
        return (int)td_match_action(y) - (int)td_match_action(x);
    return x->signal_id < y->signal_id ? -1 : x->signal_id > y->signal_id;
}

td_verdict td__verdict(td_match *m, size_t n)
{
    int allow = 0;
    td_verdict v = TD_VERDICT_ALLOW;
    for (size_t i = 0; i < n; i++)
        if (m[i].kind == TD_BANK_ALLOW)
            allow = 1;
    for (size_t i = 0; i < n; i++) {
        m[i].suppressed = allow && m[i].kind != TD_BANK_ALLOW;
        if (m[i].suppressed || m[i].kind == TD_BANK_ALLOW)
            continue;
        td_action a = td_match_action(&m[i]);
        if (a == TD_ACTION_BLOCK)
            v = TD_VERDICT_BLOCK;
        else if (a == TD_ACTION_REVIEW && v == TD_VERDICT_ALLOW)
            v = TD_VERDICT_REVIEW;
    }
    return v;
}

static td_status add_exact(td_index_map *map, const char *hex, td_signal_type type, cand **cands,
                           size_t *n, size_t *cap, td_error *err)
{
    uint64_t ids[MAX_EXACT];
    size_t count = 0;
    td_status st = td_index_map_find_hex(map, hex, ids, MAX_EXACT, &count, err);
    if (st)
        return st;
    if (count > MAX_EXACT)
        count = MAX_EXACT;
    if ((st = td__grow((void **)cands, cap, *n + count, sizeof **cands, err)))
        return st;
    for (size_t i = 0; i < count; i++)
        (*cands)[(*n)++] = (cand){ids[i], 0, TD_DIH_ORIGINAL, type, 0, 0, 0};
    return TD_OK;
}

td_status td__match_resolve(td_service *svc, td_store_conn *c, const td__cand *k, td_match *m,
                            int *counts, td_error *err)
{
    td_stmt *q;
    int row;
    td__bank_view bank;
    *counts = 0;
    /* The signal's HMA content (bank_content.c): disabled, or disabled until a time to come,
     * it does not match. */
    td_status st = td_store_prepare(c,
                                    "SELECT s.bank_id, s.labels, s.confidence, s.enabled, s.type,"
                                    " s.bank_content_id, COALESCE(bc.disable_until_ts, 1)"
                                    " FROM signals s LEFT JOIN bank_content bc"
                                    " ON bc.id = s.bank_content_id WHERE s.id = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, (int64_t)k->sid, err)) ||
        (st = td_stmt_step(q, &row, err)) || !row)
        return st;
    int64_t bank_id = td_stmt_column_int64(q, 0);
    int enabled = (int)td_stmt_column_int64(q, 3);
    td_labels labels;
    td__labels_load(&labels, td_stmt_column_text(q, 1));
    int confidence = (int)td_stmt_column_int64(q, 2);
    td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 4);
    int64_t content_id = td_stmt_column_int64(q, 5);
    int64_t disable_until = td_stmt_column_int64(q, 6);
    td_stmt_reset(q);
    if (!enabled || !td__content_active(disable_until, td__now(svc)) ||
        !td__bank_view_get(svc, bank_id, &bank) || !bank.enabled)
        return TD_OK;
    pthread_rwlock_rdlock(&svc->banks_lock);
    double type_ratio = type >= 0 && type <= TD_SIGNAL_TYPE_MAX ? svc->type_ratio[type] : 1.0;
    pthread_rwlock_unlock(&svc->banks_lock);
    if (type_ratio <= 0)
        return TD_OK;
    if (k->type == TD_SIGNAL_PDQ && k->distance > bank.threshold)
        return TD_OK;
    memset(m, 0, sizeof *m);
    m->bank_id = bank_id;
    memcpy(m->bank, bank.name, sizeof m->bank);
    m->signal_id = (int64_t)k->sid;
    m->content_id = content_id ? content_id : (int64_t)k->sid;
    m->type = type; /* a URL rule candidate does not know whether it is a domain or a prefix */
    m->distance = k->distance;
    m->query_percent = k->query_percent;
    m->compared_percent = k->compared_percent;
    m->url_index = k->url_index;
    m->variant = (td_dihedral)k->variant;
    m->labels = bank.labels;
    td__labels_merge(&m->labels, &labels);
    m->action = bank.action;
    m->kind = bank.kind;
    m->confidence = confidence;
    /* An open incident's enforcement, whatever the signal's source (incident_rules.c). */
    td__incident_apply(svc, m);
    *counts = 1;
    return TD_OK;
}

td_status td__check(td_service *svc, td_store_conn *c, const td_hashes *h,
                    const td_check_options *opts, td_check_result *out, td_error *err)
{
    td_check_options def;
    cand *cands = NULL;
    size_t n = 0, cap = 0;
    td_status st = TD_OK;
    td_store_conn *own = NULL;
    if (!opts) {
        td_check_options_init(&def);
        opts = &def;
    }
    memset(out, 0, sizeof *out);
    out->hashes = *h;
    /* borrowed inputs are not kept in the result */
    out->hashes.vpdq = NULL;
    out->hashes.text = NULL;
    out->hashes.urls = NULL;
    out->hashes.n_urls = 0;
    out->hashes.text_len = 0;
    if (h->n_pdq != 0 && h->n_pdq != 1 && h->n_pdq != TD_DIH_COUNT)
        return td__error_set(err, TD_ERR_INVALID, "n_pdq must be 0, 1 or 8");
    if (h->n_pdq) {
        if (h->quality >= 0 && h->quality < opts->min_quality) {
            out->low_quality = 1;
        } else {
            pthread_rwlock_rdlock(&svc->banks_lock);
            int radius = svc->max_threshold;
            pthread_rwlock_unlock(&svc->banks_lock);
            if (radius >= 0) {
                td_index_results res;
                td_index_results_init(&res, 0);
                if (opts->dihedral && h->n_pdq == TD_DIH_COUNT)
                    st = td_index_query_dihedral(svc->pdq, h->pdq, radius, &res, err);
                else
                    st = td_index_query(svc->pdq, &h->pdq[0], radius, &res, err);
                if (st == TD_OK)
                    st = td__grow((void **)&cands, &cap, res.count, sizeof *cands, err);
                for (size_t i = 0; st == TD_OK && i < res.count; i++)
                    cands[n++] = (cand){res.items[i].id,
                                        res.items[i].distance,
                                        res.items[i].variant,
                                        TD_SIGNAL_PDQ,
                                        0,
                                        0,
                                        0};
                td_index_results_clear(&res);
            }
        }
    }
    if (st == TD_OK && h->md5[0])
        st = add_exact(svc->md5, h->md5, TD_SIGNAL_MD5, &cands, &n, &cap, err);
    if (st == TD_OK && h->sha256[0])
        st = add_exact(svc->sha256, h->sha256, TD_SIGNAL_SHA256, &cands, &n, &cap, err);
    if (st == TD_OK)
        st = td__check_bodies(svc, h, &cands, &n, &cap, err);
    out->vpdq_frames = h->vpdq ? h->vpdq->count : 0;
    out->text_bytes = h->text ? h->text_len : 0;
    out->urls = h->n_urls;
    if (st || n == 0)
        goto out;
    /* One candidate per signal: the best variant. */
    qsort(cands, n, sizeof *cands, cand_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || cands[u - 1].sid != cands[i].sid)
            cands[u++] = cands[i];
    n = u;
    if (!c) {
        if ((st = td_store_acquire(svc->store, 0, &own, err)))
            goto out;
        c = own;
    }
    out->matches = td__mallocarray(n, sizeof *out->matches);
    if (!out->matches) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int counts = 0;
        if ((st = td__match_resolve(svc, c, &cands[i], &out->matches[out->match_count], &counts,
                                    err)))
            goto out;
        out->match_count += (size_t)counts;
    }
    out->verdict = td__verdict(out->matches, out->match_count);
    qsort(out->matches, out->match_count, sizeof *out->matches, match_cmp);
    out->total_matches = out->match_count;
    if (opts->max_matches && out->match_count > opts->max_matches)
        out->match_count = opts->max_matches;
out:
    td_store_release(svc->store, own);
    td__free(cands);
    if (st) {
        td_check_result_clear(out);
        out->hashes = *h;
        out->hashes.vpdq = NULL;
        out->hashes.text = NULL;
        out->hashes.urls = NULL;
        out->hashes.n_urls = 0;
        out->hashes.text_len = 0;
    }
    return st;
}

/* The checks callers make (upload check, lookups) record what open incidents applied to. */
static td_status check_noted(td_service *svc, const td_hashes *h, const td_check_options *opts,
                             td_check_result *out, td_error *err)
{
    td_status st = td__check(svc, NULL, h, opts, out, err);
    if (st == TD_OK)
        td__incident_note(svc, out->matches, out->match_count, out->verdict, 0, NULL, "check");
    return st;
}

td_status td_check_hashes(td_service *svc, const td_hashes *hashes, const td_check_options *opts,
                          td_check_result *out, td_error *err)
{
    return check_noted(svc, hashes, opts, out, err);
}

td_status td_check_media(td_service *svc, const uint8_t *data, size_t len,
                         const td_check_options *opts, td_check_result *out, td_error *err)
{
    td__media_hashes mh;
    memset(out, 0, sizeof *out);
    td_status st = td__hash_media(svc, data, len, &mh, err);
    if (st)
        return st;
    st = check_noted(svc, &mh.h, opts, out, err);
    out->media = mh.kind;
    td__media_hashes_clear(&mh);
    return st;
}

td_status td_lookup_signal(td_service *svc, const char *type, const char *value,
                           td_check_result *out, td_error *err)
{
    td_signal_type t;
    td_hashes h;
    char norm[65];
    td_check_options o;
    memset(out, 0, sizeof *out);
    if (!type || td_signal_type_parse(type, strlen(type), &t) != TD_OK)
        return td__error_set(err, TD_ERR_INVALID, "unknown signal type '%.32s'", type ? type : "");
    td_hashes_init(&h);
    td_check_options_init(&o);
    o.dihedral = 0;
    o.max_matches = TD_PAGE_MAX;
    if (t == TD_SIGNAL_TEXT || t == TD_SIGNAL_URL) {
        const char *one[1] = {value};
        if (!value || !*value)
            return td__error_set(err, TD_ERR_INVALID, "empty %s value", td_signal_type_name(t));
        if (t == TD_SIGNAL_TEXT) {
            h.text = value;
            h.text_len = strlen(value);
        } else {
            h.urls = one;
            h.n_urls = 1;
        }
        return check_noted(svc, &h, &o, out, err);
    }
    if (t != TD_SIGNAL_PDQ && t != TD_SIGNAL_MD5 && t != TD_SIGNAL_SHA256)
        return td__error_set(err, TD_ERR_INVALID,
                             "lookup takes pdq, md5, sha256, raw_text or url values, not %s",
                             td_signal_type_name(t));
    td_status st = td_signal_value_normalize(t, value, value ? strnlen(value, 65) : 0, norm, err);
    if (st)
        return st;
    if (t == TD_SIGNAL_PDQ) {
        if ((st = td_pdq_from_hex(norm, 64, &h.pdq[0])))
            return td__error_set(err, st, "malformed pdq hash");
        h.n_pdq = 1;
    } else if (t == TD_SIGNAL_MD5) {
        memcpy(h.md5, norm, sizeof h.md5);
    } else {
        memcpy(h.sha256, norm, sizeof h.sha256);
    }
    return check_noted(svc, &h, &o, out, err);
}

/* ---- HMA's raw view of its index (GET /m/raw_lookup, /m/lookup) ----
 * HMA indexes every signal of every bank and filters after the query: raw_lookup answers
 * disabled content and banks of ratio 0 too, lookup drops disabled content, then flips its coin
 * per bank. The live indexes hold enabled, usable signals only (of every bank, enabled or not),
 * so the rest (disabled signals, PDQ of known low quality) is read from the store: rare rows,
 * read only by this call. */

#define LOOKUP_HITS_MAX 100000

typedef struct hit_list {
    td_lookup_hit *v;
    size_t n, cap;
} hit_list;

static td_status hit_push(td_service *svc, hit_list *l, uint64_t sid, int64_t bank_id,
                          td_signal_type type, int distance, int enabled, int64_t content_id,
                          int64_t disable_until, td_error *err)
{
    td__bank_view bank;
    if (!td__bank_view_get(svc, bank_id, &bank))
        return TD_OK; /* a bank deleted since: its signals are gone too */
    if (type == TD_SIGNAL_PDQ && distance > bank.threshold)
        return TD_OK;
    if (l->n >= LOOKUP_HITS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "more than %d signals match", LOOKUP_HITS_MAX);
    td_status st = td__grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v, err);
    if (st)
        return st;
    td_lookup_hit *h = &l->v[l->n++];
    memset(h, 0, sizeof *h);
    h->signal_id = (int64_t)sid;
    h->bank_id = bank_id;
    memcpy(h->bank, bank.name, sizeof h->bank);
    h->type = type;
    h->distance = distance;
    h->content_id = content_id ? content_id : (int64_t)sid;
    h->signal_enabled = enabled && td__content_active(disable_until, td__now(svc));
    h->bank_enabled = bank.enabled;
    return TD_OK;
}

/* Index candidates: the signal's bank and type from its row. */
static td_status hits_from_cands(td_service *svc, td_store_conn *c, const cand *k, size_t n,
                                 hit_list *l, td_error *err)
{
    td_status st = TD_OK;
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        td_stmt *q;
        int row = 0;
        if ((st = td_store_prepare(c,
                                   "SELECT s.bank_id, s.enabled, s.type, s.bank_content_id,"
                                   " COALESCE(bc.disable_until_ts, 1) FROM signals s"
                                   " LEFT JOIN bank_content bc ON bc.id = s.bank_content_id"
                                   " WHERE s.id = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, (int64_t)k[i].sid, err)) ||
            (st = td_stmt_step(q, &row, err)))
            break;
        if (!row) { /* deleted since the index answered */
            td_stmt_reset(q);
            continue;
        }
        int64_t bank_id = td_stmt_column_int64(q, 0);
        int enabled = (int)td_stmt_column_int64(q, 1);
        td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 2);
        int64_t content_id = td_stmt_column_int64(q, 3), until = td_stmt_column_int64(q, 4);
        td_stmt_reset(q);
        st = hit_push(svc, l, k[i].sid, bank_id, type, k[i].distance, enabled, content_id, until,
                      err);
    }
    return st;
}

/* The signals of type the live indexes do not hold (disabled; PDQ of known low quality) that
 * match: PDQ by distance (the bank's threshold applies in hit_push), digests by value. */
static td_status hits_unindexed(td_service *svc, td_store_conn *c, td_signal_type type,
                                const char *hex, const td_pdq *pdq, hit_list *l, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    if (type == TD_SIGNAL_PDQ)
        st = td_store_prepare(c,
                              "SELECT s.id, s.bank_id, s.value, s.quality, s.enabled,"
                              " s.bank_content_id, COALESCE(bc.disable_until_ts, 1) FROM signals s"
                              " LEFT JOIN bank_content bc ON bc.id = s.bank_content_id"
                              " WHERE s.type = $1 AND (s.enabled = 0 OR s.quality < $2)",
                              &q, err);
    else
        st = td_store_prepare(c,
                              "SELECT s.id, s.bank_id, s.value, s.quality, s.enabled,"
                              " s.bank_content_id, COALESCE(bc.disable_until_ts, 1) FROM signals s"
                              " LEFT JOIN bank_content bc ON bc.id = s.bank_content_id"
                              " WHERE s.type = $1 AND s.enabled = 0 AND s.value = $2",
                              &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, type, err)))
        return st;
    if (type == TD_SIGNAL_PDQ)
        st = td_stmt_bind_int64(q, 2, TD_PDQ_MIN_QUALITY, err);
    else
        st = td__value_bind(q, 2, type, hex, err);
    if (st) {
        td_stmt_reset(q);
        return st;
    }
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int enabled = (int)td_stmt_column_int64(q, 4);
        if (td__signal_indexable(type, (int)td_stmt_column_int64(q, 3), enabled))
            continue; /* the index answered it */
        int distance = 0;
        if (type == TD_SIGNAL_PDQ) {
            uint8_t raw[32];
            td_pdq other;
            if (td__value_column(q, 2, type, raw) != 0)
                continue;
            td__pdq_from_raw(raw, &other);
            distance = td_pdq_distance(pdq, &other);
        }
        if ((st = hit_push(svc, l, (uint64_t)td_stmt_column_int64(q, 0), td_stmt_column_int64(q, 1),
                           type, distance, enabled, td_stmt_column_int64(q, 5),
                           td_stmt_column_int64(q, 6), err)))
            break;
    }
    td_stmt_reset(q);
    return st;
}

static int hit_cmp(const void *a, const void *b)
{
    const td_lookup_hit *x = a, *y = b;
    return x->signal_id < y->signal_id ? -1 : x->signal_id > y->signal_id;
}

td_status td_lookup_signal_all(td_service *svc, const char *type, const char *value,
                               td_lookup_hit **out, size_t *count, td_error *err)
{
    td_signal_type t;
    td_hashes h;
    char norm[65] = "";
    cand *cands = NULL;
    size_t n = 0, cap = 0;
    hit_list l = {NULL, 0, 0};
    td_store_conn *c = NULL;
    *out = NULL;
    *count = 0;
    if (!type || td_signal_type_parse(type, strlen(type), &t) != TD_OK)
        return td__error_set(err, TD_ERR_INVALID, "unknown signal type '%.32s'", type ? type : "");
    td_hashes_init(&h);
    const char *one[1] = {value};
    td_status st = TD_OK;
    if (t == TD_SIGNAL_TEXT || t == TD_SIGNAL_URL) {
        if (!value || !*value)
            return td__error_set(err, TD_ERR_INVALID, "empty %s value", td_signal_type_name(t));
        if (t == TD_SIGNAL_TEXT) {
            h.text = value;
            h.text_len = strlen(value);
        } else {
            h.urls = one;
            h.n_urls = 1;
        }
        st = td__check_bodies(svc, &h, &cands, &n, &cap, err);
    } else if (t == TD_SIGNAL_PDQ || t == TD_SIGNAL_MD5 || t == TD_SIGNAL_SHA256) {
        if ((st = td_signal_value_normalize(t, value, value ? strnlen(value, 65) : 0, norm, err)))
            return st;
        if (t == TD_SIGNAL_PDQ) {
            if ((st = td_pdq_from_hex(norm, 64, &h.pdq[0])))
                return td__error_set(err, st, "malformed pdq hash");
            int radius = -1;
            pthread_rwlock_rdlock(&svc->banks_lock);
            for (size_t i = 0; i < svc->n_banks; i++)
                if (svc->banks[i].threshold > radius)
                    radius = svc->banks[i].threshold;
            pthread_rwlock_unlock(&svc->banks_lock);
            if (radius >= 0) {
                td_index_results res;
                td_index_results_init(&res, 0);
                st = td_index_query(svc->pdq, &h.pdq[0], radius, &res, err);
                if (st == TD_OK)
                    st = td__grow((void **)&cands, &cap, res.count, sizeof *cands, err);
                for (size_t i = 0; st == TD_OK && i < res.count; i++)
                    cands[n++] = (cand){res.items[i].id, res.items[i].distance, 0, t, 0, 0, 0};
                td_index_results_clear(&res);
            }
        } else {
            st = add_exact(td__map_for(svc, t), norm, t, &cands, &n, &cap, err);
        }
    } else {
        return td__error_set(err, TD_ERR_INVALID,
                             "lookup takes pdq, md5, sha256, raw_text or url values, not %s",
                             td_signal_type_name(t));
    }
    if (st == TD_OK)
        st = td_store_acquire(svc->store, 0, &c, err);
    if (st == TD_OK)
        st = hits_from_cands(svc, c, cands, n, &l, err);
    if (st == TD_OK && (t == TD_SIGNAL_PDQ || t == TD_SIGNAL_MD5 || t == TD_SIGNAL_SHA256))
        st = hits_unindexed(svc, c, t, norm, &h.pdq[0], &l, err);
    td_store_release(svc->store, c);
    td__free(cands);
    if (st) {
        td__free(l.v);
        return st;
    }
    /* One hit per signal (a URL may reach one signal by several rules), by id. */
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, hit_cmp);
    size_t u = 0;
    for (size_t i = 0; i < l.n; i++)
        if (u == 0 || l.v[u - 1].signal_id != l.v[i].signal_id)
            l.v[u++] = l.v[i];
    *out = l.v;
    *count = u;
    return TD_OK;
}
