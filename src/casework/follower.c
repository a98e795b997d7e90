/* The in-memory indexes follow the store's change log: every committed change to signals is a
 * row (seq, add/remove, signal id, type, value) and td__follow applies the rows past the last
 * applied seq in batches. The same mechanism serves a single node (called right after each local
 * commit) and several nodes sharing one database (called periodically by the follower thread).
 * Bank settings are small and reloaded whole when a "banks" entry passes by. */
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

#define FOLLOW_BATCH 16384

static td_status reload_banks(td_service *svc, td_store_conn *c, td_error *err)
{
    td_stmt *q;
    int row;
    td__bank_view *views = NULL;
    size_t n = 0, cap = 0;
    int max_threshold = -1;
    td_status st = td_store_prepare(c,
                                    "SELECT id, name, labels, enabled, threshold, action, kind,"
                                    " enabled_ratio FROM banks ORDER BY id",
                                    &q, err);
    while (st == TD_OK && (st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if ((st = td__grow((void **)&views, &cap, n + 1, sizeof *views, err)))
            break;
        td__bank_view *v = &views[n++];
        memset(v, 0, sizeof *v);
        v->id = td_stmt_column_int64(q, 0);
        td__copy_trunc(v->name, sizeof v->name, td_stmt_column_text(q, 1));
        td__labels_load(&v->labels, td_stmt_column_text(q, 2));
        v->enabled_ratio = td__ratio_parse(td_stmt_column_text(q, 7));
        v->enabled = v->enabled_ratio > 0;
        v->threshold = (int)td_stmt_column_int64(q, 4);
        v->action = (td_action)td_stmt_column_int64(q, 5);
        v->kind = (td_bank_kind)td_stmt_column_int64(q, 6);
        if (v->enabled && v->threshold > max_threshold)
            max_threshold = v->threshold;
    }
    /* HMA's signal type ratios (td_signal_type_ratio_set_as) travel with the bank views. */
    double ratios[TD_SIGNAL_TYPE_MAX + 1];
    for (int t = 0; t <= TD_SIGNAL_TYPE_MAX; t++)
        ratios[t] = 1.0;
    if (st == TD_OK)
        st = td_store_prepare(c, "SELECT type, enabled_ratio FROM signal_type_ratios", &q, err);
    while (st == TD_OK && (st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t t = td_stmt_column_int64(q, 0);
        if (t >= 0 && t <= TD_SIGNAL_TYPE_MAX)
            ratios[t] = td__ratio_parse(td_stmt_column_text(q, 1));
    }
    if (st) {
        td__free(views);
        return st;
    }
    pthread_rwlock_wrlock(&svc->banks_lock);
    td__free(svc->banks);
    svc->banks = views;
    svc->n_banks = n;
    svc->max_threshold = max_threshold;
    memcpy(svc->type_ratio, ratios, sizeof ratios);
    pthread_rwlock_unlock(&svc->banks_lock);
    return TD_OK;
}

int td__bank_view_get(td_service *svc, int64_t id, td__bank_view *out)
{
    int found = 0;
    pthread_rwlock_rdlock(&svc->banks_lock);
    /* Views are sorted by id. */
    size_t lo = 0, hi = svc->n_banks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (svc->banks[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < svc->n_banks && svc->banks[lo].id == id) {
        *out = svc->banks[lo];
        found = 1;
    }
    pthread_rwlock_unlock(&svc->banks_lock);
    return found;
}

static td_status apply_map(td_index_map *map, int kind, const uint8_t *key, size_t len, uint64_t id,
                           td_error *err)
{
    if (kind == TD__CHANGE_ADD)
        return td_index_map_add(map, key, len, id, err);
    return td_index_map_remove(map, key, len, id, NULL, err);
}

/* The 32 bytes of a PDQ in hex order (td_pdq_from_hex: the first four digits are w[15]). */
/* An ADD_RANGE entry from the signals table: the signals of the range that are indexable now
 * (read in the same read transaction as the log batch). The PDQ hashes are gathered and given
 * to the index in one batch, which it turns into one segment when large (a bulk import of
 * millions); ops is the fallback scratch when memory for that is short. */
static td_status expand_range(td_service *svc, td_store_conn *c, td_index_op *ops, int64_t first_id,
                              int64_t last_id, td_error *err)
{
    td_stmt *q;
    int row;
    size_t nops = 0, cap = FOLLOW_BATCH;
    td_index_op *all = NULL;
    uint64_t span = (uint64_t)(last_id - first_id) + 1;
    if (last_id >= first_id && span > FOLLOW_BATCH && span <= TD_INDEX_MAX_ENTRIES &&
        (all = td__mallocarray((size_t)span, sizeof *all)) != NULL) {
        ops = all;
        cap = (size_t)span;
    }
    td_status st = td_store_prepare(c,
                                    "SELECT id, type, value, quality FROM signals"
                                    " WHERE id >= $1 AND id <= $2 AND enabled = 1 ORDER BY id",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, first_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, last_id, err))) {
        td__free(all);
        return st;
    }
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        uint64_t id = (uint64_t)td_stmt_column_int64(q, 0);
        td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 1);
        size_t raw_len = td__signal_raw_len(type);
        uint8_t raw[32];
        if (!raw_len || !td__signal_indexable(type, (int)td_stmt_column_int64(q, 3), 1) ||
            td__value_column(q, 2, type, raw) != 0)
            continue;
        if (type != TD_SIGNAL_PDQ) {
            td_index_map *map = td__map_for(svc, type);
            if (map && (st = td_index_map_add(map, raw, raw_len, id, err)))
                break;
            continue;
        }
        td__pdq_from_raw(raw, &ops[nops].hash);
        ops[nops].kind = TD_INDEX_ADD;
        ops[nops].id = id;
        if (++nops == cap) {
            if ((st = td_index_update(svc->pdq, ops, nops, NULL, err)))
                break;
            nops = 0;
        }
    }
    td_stmt_reset(q);
    if (st == TD_OK && nops)
        st = td_index_update(svc->pdq, ops, nops, NULL, err);
    td__free(all);
    return st;
}

static td_status apply_hint(td_service *svc, td__range_hint *h, td_error *err)
{
    td_status st = TD_OK;
    for (size_t i = 0; st == TD_OK && i < h->n_keys; i++)
        st = td_index_map_add(td__map_for(svc, h->keys[i].type), h->keys[i].raw,
                              td__signal_raw_len(h->keys[i].type), h->keys[i].id, err);
    if (st == TD_OK && h->built) {
        td_index_prebuilt *built = h->built;
        h->built = NULL;
        st = td_index_add_prebuilt(svc->pdq, built, err);
        if (st != TD_ERR_LIMIT)
            return st;
        st = TD_OK; /* the index cannot take one more segment now: the batch itself */
    }
    if (st == TD_OK && h->n_pdq)
        st = td_index_update(svc->pdq, h->pdq, h->n_pdq, NULL, err);
    return st;
}

/* A body signal's log entry: an add reads the body (a signal deleted since has none: its
 * removal follows in the log), a removal goes by id. */
static td_status apply_body(td_service *svc, td_store_conn *c, int kind, uint64_t id,
                            td_signal_type type, td_error *err)
{
    if (kind == TD__CHANGE_REMOVE) {
        td__body_index_remove(svc, id, type);
        return TD_OK;
    }
    char *body;
    size_t len;
    td_status st = td__body_read(c, (int64_t)id, &body, &len, err);
    if (st == TD_OK && body)
        st = td__body_index_add(svc, id, type, body, len, err);
    td__free(body);
    return st;
}

/* One batch of log rows past svc->applied_seq; *n receives how many were read. */
static td_status follow_batch(td_service *svc, td_store_conn *c, td__range_hint *hint,
                              td_index_op *ops, size_t *n, td_error *err)
{
    td_stmt *q;
    int row, banks = 0;
    size_t nops = 0, rows = 0;
    uint64_t last = svc->applied_seq;
    td_status st = td_store_prepare(c,
                                    "SELECT seq, kind, signal_id, type, value, last_id"
                                    " FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, (int64_t)svc->applied_seq, err)) ||
        (st = td_stmt_bind_int64(q, 2, FOLLOW_BATCH, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        rows++;
        last = (uint64_t)td_stmt_column_int64(q, 0);
        int kind = (int)td_stmt_column_int64(q, 1);
        uint64_t id = (uint64_t)td_stmt_column_int64(q, 2);
        td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 3);
        const void *value = td_stmt_column_blob(q, 4);
        size_t value_len = td_stmt_column_bytes(q, 4);
        size_t raw_len = td__signal_raw_len(type);
        uint8_t raw[32];
        if (kind == TD__CHANGE_BANKS) {
            banks = 1;
            continue;
        }
        if (kind == TD__CHANGE_ADD_RANGE) {
            /* The updates before it first: the order of updates is kept. */
            int64_t last_id = td_stmt_column_int64(q, 5);
            if (nops && (st = td_index_update(svc->pdq, ops, nops, NULL, err)))
                break;
            nops = 0;
            if (hint && hint->seq == last && hint->first_id == (int64_t)id &&
                hint->last_id == last_id)
                st = apply_hint(svc, hint, err);
            else
                st = expand_range(svc, c, ops, (int64_t)id, last_id, err);
            if (st)
                break;
            continue;
        }
        if ((kind == TD__CHANGE_ADD || kind == TD__CHANGE_REMOVE) && td__body_indexed(type)) {
            if ((st = apply_body(svc, c, kind, id, type, err)))
                break;
            continue;
        }
        if ((kind != TD__CHANGE_ADD && kind != TD__CHANGE_REMOVE) || !raw_len)
            continue;
        /* Raw bytes, or hex text of twice the length (see td__log_change). */
        if (value_len == 2 * raw_len) {
            if (!value || td__hex_decode(value, value_len, raw) != 0)
                continue;
        } else if (value_len == raw_len && value) {
            memcpy(raw, value, raw_len);
        } else {
            continue;
        }
        if (type == TD_SIGNAL_PDQ) {
            /* Index updates are batched; they must keep their order relative to each other,
             * which one td_index_update call does. */
            td__pdq_from_raw(raw, &ops[nops].hash);
            ops[nops].kind = kind == TD__CHANGE_ADD ? TD_INDEX_ADD : TD_INDEX_REMOVE;
            ops[nops].id = id;
            nops++;
        } else {
            st = apply_map(td__map_for(svc, type), kind, raw, raw_len, id, err);
            if (st)
                break;
        }
    }
    td_stmt_reset(q);
    if (st)
        return st;
    if (nops && (st = td_index_update(svc->pdq, ops, nops, NULL, err)))
        return st;
    if (banks && (st = reload_banks(svc, c, err)))
        return st;
    svc->applied_seq = last;
    atomic_store(&svc->applied_seq_pub, last);
    *n = rows;
    return TD_OK;
}

td_status td__follow(td_service *svc, uint64_t *applied, td_error *err)
{
    return td__follow_hint(svc, NULL, applied, err);
}

td_status td__follow_hint(td_service *svc, td__range_hint *hint, uint64_t *applied, td_error *err)
{
    td_store_conn *c = NULL;
    uint64_t total = 0;
    td_index_op *ops = td__mallocarray(FOLLOW_BATCH, sizeof *ops);
    if (!ops)
        return td__error_set(err, TD_ERR_NOMEM, "follow: out of memory");
    pthread_mutex_lock(&svc->follow_lock);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    while (st == TD_OK) {
        size_t n = 0;
        st = follow_batch(svc, c, hint, ops, &n, err);
        total += n;
        if (n < FOLLOW_BATCH)
            break;
    }
    td_store_release(svc->store, c);
    pthread_mutex_unlock(&svc->follow_lock);
    td__free(ops);
    if (applied)
        *applied = total;
    if (st)
        td__error_prefix(err, "follow: ");
    return st;
}

td_status td_service_follow(td_service *svc, uint64_t *applied, td_error *err)
{
    return td__follow(svc, applied, err);
}

/* At open: one read transaction sees the signals and the log position together, so the state
 * loaded plus the log entries after that position is exactly the current state. */
td_status td__load(td_service *svc, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_pdq *hashes = NULL;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0, cap_ids = 0, n_bodies = 0, cap_bodies = 0;
    struct body_ref {
        uint64_t id;
        td_signal_type type;
    } *bodies = NULL;
    td_index_options iopts;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)))
        goto out;
    if ((st = td_store_prepare(c, "SELECT COALESCE(MAX(seq), 0) FROM changes", &q, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    svc->applied_seq = row ? (uint64_t)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if ((st = td_store_prepare(c, "SELECT id, type, value, quality FROM signals WHERE enabled = 1",
                               &q, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        uint64_t id = (uint64_t)td_stmt_column_int64(q, 0);
        td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 1);
        int quality = (int)td_stmt_column_int64(q, 3);
        uint8_t raw[32];
        if (!td__signal_indexable(type, quality, 1))
            continue;
        if (type == TD_SIGNAL_PDQ) {
            if ((st = td__grow((void **)&hashes, &cap, n + 1, sizeof *hashes, err)) ||
                (st = td__grow((void **)&ids, &cap_ids, n + 1, sizeof *ids, err)))
                break;
            if (td__value_column(q, 2, type, raw) != 0)
                continue;
            td__pdq_from_raw(raw, &hashes[n]);
            ids[n++] = id;
        } else if (td__body_indexed(type)) {
            if ((st = td__grow((void **)&bodies, &cap_bodies, n_bodies + 1, sizeof *bodies, err)))
                break;
            bodies[n_bodies].id = id;
            bodies[n_bodies++].type = type;
        } else if (td__map_for(svc, type) && td__value_column(q, 2, type, raw) == 0) {
            if ((st = td_index_map_add(td__map_for(svc, type), raw, td__signal_raw_len(type), id,
                                       err)))
                break;
        }
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    /* bodies read after the scan: one statement at a time on this connection */
    for (size_t i = 0; i < n_bodies && st == TD_OK; i++)
        st = apply_body(svc, c, TD__CHANGE_ADD, bodies[i].id, bodies[i].type, err);
    if (st)
        goto out;
    if ((st = reload_banks(svc, c, err)))
        goto out;
    td_store_rollback(c);
    td_index_options_default(&iopts);
    if (n) {
        td_index *idx = NULL;
        if ((st = td_index_build(&idx, hashes, ids, n, &iopts, err)))
            goto out;
        td_index_free(svc->pdq);
        svc->pdq = idx;
    }
    atomic_store(&svc->applied_seq_pub, svc->applied_seq);
out:
    td_store_release(svc->store, c);
    td__free(hashes);
    td__free(ids);
    td__free(bodies);
    if (st)
        td__error_prefix(err, "loading the indexes: ");
    return st;
}

/* The log carries hash values as raw bytes (half the size of hex: a bulk import writes one entry
 * per signal, and the size of the transaction decides whether it stays in the page cache).
 * Entries written as hex text (older databases, bank deletions copying signals.value) are read
 * as well: the length tells the two apart. */
td_status td__log_change(td_store_conn *c, int kind, int64_t bank_id, int64_t signal_id,
                         td_signal_type type, const char *value, int64_t now, td_error *err)
{
    td_stmt *q;
    uint8_t raw[32];
    size_t raw_len = value ? td__signal_raw_len(type) : 0;
    td_status st = td_store_prepare(c,
                                    "INSERT INTO changes (kind, signal_id, type, value, at_ms,"
                                    " bank_id) VALUES ($1, $2, $3, $4, $5, $6)",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, kind, err)) ||
        (st = td_stmt_bind_int64(q, 2, signal_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)type, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) || (st = td_stmt_bind_int64(q, 6, bank_id, err)))
        return st;
    if (raw_len && strlen(value) == 2 * raw_len && td__hex_decode(value, 2 * raw_len, raw) == 0)
        st = td_stmt_bind_blob(q, 4, raw, raw_len, err);
    else
        st = td_stmt_bind_text(q, 4, value ? value : "", (size_t)-1, err);
    return st ? st : td_stmt_run(q, NULL, err);
}

td_status td__log_range(td_store_conn *c, int64_t bank_id, int64_t first_id, int64_t last_id,
                        int64_t now, uint64_t *seq, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "INSERT INTO changes (kind, signal_id, type, value, at_ms,"
                                    " last_id, bank_id) VALUES ($1, $2, 0, '', $3, $4, $5)",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, TD__CHANGE_ADD_RANGE, err)) ||
        (st = td_stmt_bind_int64(q, 2, first_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_bind_int64(q, 4, last_id, err)) ||
        (st = td_stmt_bind_int64(q, 5, bank_id, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(c, "SELECT MAX(seq) FROM changes", &q, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *seq = row ? (uint64_t)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}
