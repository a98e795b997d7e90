/* Bulk import and export of hash lists. An import is one write transaction. Parsed lines are
 * kept in memory (32 raw bytes and a few fields each) until the list ends; then they are sorted
 * by (type, value), duplicates are found in memory (within the list: the first line wins; against
 * the bank: one indexed lookup per line for a short list, else the bank's keys read once and
 * merged), and the new signals are inserted in that order by multi-row INSERTs. Their ids
 * therefore follow the order of the values, which makes every B-tree SQLite maintains for them
 * (the table by id, the unique index on (bank_id, type, value), signals_bank) grow at one place:
 * inserted in line order, the unique index took the keys in random order, and at 10M signals
 * the index no longer fitted the page cache (minutes of page splits and re-reads). The change
 * log of the new signals is one ADD_RANGE entry (or, with NEGATIVE_CLASS lines, one INSERT ...
 * SELECT of per-signal entries) written before the commit, and the local indexes take the new
 * signals from memory after the commit. Malformed lines are counted and reported with their
 * numbers. Export pages through the bank by id so that no read transaction stays open while a
 * slow consumer drains the output. An import is one audit entry (bank.import: counts, id range
 * and the SHA-256 of the bytes fed), written before the commit; never one per line. */
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casework/listfmt.h"
#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

void td_import_options_init(td_import_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = TD_LIST_AUTO;
    o->confidence = -1;
}

/* Rows per multi-row INSERT: 3 parameters shared by all rows (bank, confidence, time) and 5 per
 * row, within the store's 99. */
#define INSERT_ROWS 19
#define INSERT_SHARED 3
#define INSERT_PER_ROW 5
/* A list with fewer new values than this is checked against the bank one lookup at a time;
 * a longer one reads the bank's keys once (a bank of millions costs a few seconds to read, which
 * a short list into a large bank should not pay). */
#define LOOKUP_MAX 65536
/* Sorting: one qsort below this many rows, else a bucket pass on (type, first 16 bits) first. */
#define SORT_SMALL 65536
#define SORT_BUCKETS ((size_t)16 << 16)
#define LABELS_TEXT_MAX (TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1)

typedef struct import_row {
    uint8_t raw[32]; /* the value's bytes (16 for MD5, the rest zero) */
    uint64_t extra;  /* 0: the import's labels and source; else 1 + offset of the row's own
                        "labels\0source\0" in the import's text */
    uint32_t pos;    /* position in the list: of equal values, the first is kept */
    uint8_t type;
    uint8_t enabled;
    uint8_t dup; /* a duplicate, within the list or of a signal of the bank: not added */
} import_row;

struct td_import {
    td_service *svc;
    td_store_conn *conn;
    int64_t bank_id;
    char bank[TD_NAME_MAX + 1];
    td_principal who;   /* the actor of the audit entry (id 0: "system") */
    EVP_MD_CTX *digest; /* SHA-256 of the list's bytes, for the audit entry */
    td__list_parser parser;
    td_import_result res;
    td_labels labels;
    char labels_text[LABELS_TEXT_MAX]; /* the import's labels, joined */
    char source[TD_SOURCE_MAX + 1];
    int confidence;
    int atomic;
    int negatives; /* a NEGATIVE_CLASS line was seen */
    int64_t now;
    int64_t last_id; /* the largest signal id before the import */
    import_row *rows;
    size_t n_rows, cap_rows;
    char *text; /* labels and sources of the rows that have their own */
    size_t n_text, cap_text;
    uint64_t last_extra; /* the previous such row's, reused when equal */
    td__range_hint hint;
    /* The hint's PDQ additions built into an index segment by a second thread while the rows
     * are written (prebuilt: its result, taken by prebuild_join). */
    pthread_t prebuild_thread;
    int prebuilding;
    td_index_prebuilt *prebuilt;
    char *sql_many;    /* the INSERT_ROWS-row INSERT */
    td_status failure; /* an error inside the line callback */
    td_error failure_err;
};

static const char insert_one[] = "INSERT INTO signals (bank_id, type, value, quality, labels,"
                                 " source, confidence, enabled, added_ms)"
                                 " VALUES ($1, $4, $5, -1, $6, $7, $2, $8, $3)";

static char *build_insert_many(void)
{
    const char head[] = "INSERT INTO signals (bank_id, type, value, quality, labels, source,"
                        " confidence, enabled, added_ms) VALUES ";
    size_t cap = sizeof head + INSERT_ROWS * 64;
    char *sql = td__malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)snprintf(sql, cap, "%s", head);
    for (int i = 0; i < INSERT_ROWS; i++) {
        int p = 1 + INSERT_SHARED + i * INSERT_PER_ROW;
        n += (size_t)snprintf(sql + n, cap - n, "%s($1, $%d, $%d, -1, $%d, $%d, $2, $%d, $3)",
                              i ? ", " : "", p, p + 1, p + 2, p + 3, p + 4);
    }
    return sql;
}

static td_status bind_row(td_import *imp, td_stmt *q, int first, const import_row *r, td_error *err)
{
    const char *labels = imp->labels_text, *source = imp->source;
    td_status st;
    if (r->extra) {
        labels = imp->text + r->extra - 1;
        source = labels + strlen(labels) + 1;
    }
    if ((st = td_stmt_bind_int64(q, first, r->type, err)) ||
        (st = td_stmt_bind_blob(q, first + 1, r->raw, td__signal_raw_len((td_signal_type)r->type),
                                err)) ||
        (st = td_stmt_bind_text(q, first + 2, labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, first + 3, source, (size_t)-1, err)))
        return st;
    return td_stmt_bind_int64(q, first + 4, r->enabled, err);
}

static td_status bind_shared(td_import *imp, td_stmt *q, td_error *err)
{
    td_status st;
    if ((st = td_stmt_bind_int64(q, 1, imp->bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, imp->confidence, err)))
        return st;
    return td_stmt_bind_int64(q, 3, imp->now, err);
}

/* Waits for the index segment being built ahead, which the hint then carries. */
static void prebuild_join(td_import *imp)
{
    if (!imp->prebuilding)
        return;
    pthread_join(imp->prebuild_thread, NULL);
    imp->prebuilding = 0;
    imp->hint.built = imp->prebuilt;
    imp->prebuilt = NULL;
}

static void hint_drop(td_import *imp)
{
    prebuild_join(imp);
    td_index_prebuilt_free(imp->hint.built);
    td__free(imp->hint.pdq);
    td__free(imp->hint.keys);
    memset(&imp->hint, 0, sizeof imp->hint);
}

/* The row's own labels and source, kept once for a run of rows that share them (a CSV list
 * usually names one collaboration on every line). */
static td_status keep_extra(td_import *imp, const char *labels, const char *source, uint64_t *out,
                            td_error *err)
{
    size_t ll = strlen(labels), sl = strlen(source);
    if (imp->last_extra) {
        const char *l = imp->text + imp->last_extra - 1;
        if (strcmp(l, labels) == 0 && strcmp(l + ll + 1, source) == 0) {
            *out = imp->last_extra;
            return TD_OK;
        }
    }
    td_status st = td__grow((void **)&imp->text, &imp->cap_text, imp->n_text + ll + sl + 2, 1, err);
    if (st)
        return st;
    memcpy(imp->text + imp->n_text, labels, ll + 1);
    memcpy(imp->text + imp->n_text + ll + 1, source, sl + 1);
    *out = imp->last_extra = imp->n_text + 1;
    imp->n_text += ll + sl + 2;
    return TD_OK;
}

static int on_entry(void *ctx, const td_list_entry *e)
{
    td_import *imp = ctx;
    char labels[LABELS_TEXT_MAX], source[TD_SOURCE_MAX + 1];
    size_t raw_len = td__signal_raw_len(e->type);
    import_row r;
    td_status st;
    memset(&r, 0, sizeof r);
    if (!raw_len || strlen(e->value) != 2 * raw_len ||
        td__hex_decode(e->value, 2 * raw_len, r.raw) != 0) {
        td__list_line_error(&imp->res, imp->parser.max_errors, e->line, "not a hash value");
        return 0;
    }
    if (e->collab_len) {
        for (size_t i = 0; i < e->collab_len; i++)
            if ((unsigned char)e->collab[i] < 0x20 || (unsigned char)e->collab[i] > 0x7e) {
                td__list_line_error(&imp->res, imp->parser.max_errors, e->line,
                                    "collab has a non-printable character");
                return 0;
            }
    }
    if (e->collab_len || e->tags.count) {
        size_t cl = e->collab_len < TD_SOURCE_MAX ? e->collab_len : TD_SOURCE_MAX;
        if (cl) {
            memcpy(source, e->collab, cl);
            source[cl] = '\0';
        } else {
            memcpy(source, imp->source, sizeof source);
        }
        if (e->tags.count) {
            td_labels merged = imp->labels;
            td__labels_merge(&merged, &e->tags);
            td__labels_join(&merged, labels, sizeof labels);
        } else {
            memcpy(labels, imp->labels_text, sizeof labels);
        }
        if ((st = keep_extra(imp, labels, source, &r.extra, &imp->failure_err)))
            goto fail;
    }
    if (imp->n_rows >= UINT32_MAX) {
        st = td__error_set(&imp->failure_err, TD_ERR_LIMIT, "more than %u list entries",
                           (unsigned)UINT32_MAX);
        goto fail;
    }
    if ((st = td__grow((void **)&imp->rows, &imp->cap_rows, imp->n_rows + 1, sizeof r,
                       &imp->failure_err)))
        goto fail;
    r.pos = (uint32_t)imp->n_rows;
    r.type = (uint8_t)e->type;
    r.enabled = !e->negative;
    imp->rows[imp->n_rows++] = r;
    if (e->negative)
        imp->negatives = 1;
    return 0;
fail:
    imp->failure = st;
    return 1;
}

/* ---- sorting and duplicates ---- */

static int key_cmp(const import_row *x, const import_row *y)
{
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return memcmp(x->raw, y->raw, sizeof x->raw);
}

static int row_cmp(const void *a, const void *b)
{
    const import_row *x = a, *y = b;
    int c = key_cmp(x, y);
    if (c)
        return c;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static size_t bucket_of(const import_row *r, unsigned shift)
{
    return ((size_t)(r->type & 15) << 16 | (size_t)r->raw[0] << 8 | r->raw[1]) >> shift;
}

/* Sorts rows by (type, value, position). Large arrays: an in-place bucket pass on the type and
 * the leading bits (values are hashes: evenly spread; about 16 rows a bucket), then each small
 * bucket by qsort. */
static td_status sort_rows(import_row *rows, size_t n, td_error *err)
{
    if (n < 2)
        return TD_OK;
    if (n < SORT_SMALL) {
        qsort(rows, n, sizeof *rows, row_cmp);
        return TD_OK;
    }
    unsigned shift = 0;
    while (shift < 16 && (SORT_BUCKETS >> shift) * 16 > n)
        shift++;
    size_t nb = SORT_BUCKETS >> shift;
    size_t *start = td__calloc(nb + 1, sizeof *start);
    size_t *next = td__mallocarray(nb, sizeof *next);
    if (!start || !next) {
        td__free(start);
        td__free(next);
        return td__error_set(err, TD_ERR_NOMEM, "import: out of memory sorting %zu values", n);
    }
    for (size_t i = 0; i < n; i++)
        start[bucket_of(&rows[i], shift) + 1]++;
    for (size_t b = 0; b < nb; b++)
        start[b + 1] += start[b];
    memcpy(next, start, nb * sizeof *next);
    for (size_t b = 0; b < nb; b++) {
        while (next[b] < start[b + 1]) {
            size_t k = bucket_of(&rows[next[b]], shift);
            if (k == b) {
                next[b]++;
                continue;
            }
            import_row t = rows[next[k]];
            rows[next[k]++] = rows[next[b]];
            rows[next[b]] = t;
        }
    }
    for (size_t b = 0; b < nb; b++)
        if (start[b + 1] - start[b] > 1)
            qsort(rows + start[b], start[b + 1] - start[b], sizeof *rows, row_cmp);
    td__free(start);
    td__free(next);
    return TD_OK;
}

/* Marks the rows of the bank's existing values, by one indexed lookup each. */
static td_status dup_lookup(td_import *imp, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = TD_OK;
    for (size_t i = 0; i < imp->n_rows && st == TD_OK; i++) {
        import_row *r = &imp->rows[i];
        if (r->dup)
            continue;
        if ((st = td_store_prepare(imp->conn,
                                   "SELECT 1 FROM signals WHERE bank_id = $1 AND type = $2"
                                   " AND value = $3",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, imp->bank_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, r->type, err)) ||
            (st = td_stmt_bind_blob(q, 3, r->raw, td__signal_raw_len((td_signal_type)r->type),
                                    err)) ||
            (st = td_stmt_step(q, &row, err)))
            break;
        r->dup = (uint8_t)(row != 0);
        td_stmt_reset(q);
    }
    return st;
}

/* Marks the rows of the bank's existing values: the bank's hash values are read once, sorted
 * like the rows, and merged with them. */
static td_status dup_merge(td_import *imp, td_error *err)
{
    td_stmt *q;
    int row;
    import_row *have = NULL;
    size_t n = 0, cap = 0;
    td_status st =
        td_store_prepare(imp->conn, "SELECT type, value FROM signals WHERE bank_id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, imp->bank_id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 0);
        import_row h;
        memset(&h, 0, sizeof h);
        if (!td__signal_raw_len(type) || type < 0 || type > 255 ||
            td__value_column(q, 1, type, h.raw) != 0)
            continue;
        h.type = (uint8_t)type;
        if ((st = td__grow((void **)&have, &cap, n + 1, sizeof h, err)))
            break;
        have[n++] = h;
    }
    td_stmt_reset(q);
    if (st == TD_OK)
        st = sort_rows(have, n, err);
    for (size_t i = 0, j = 0; st == TD_OK && i < imp->n_rows && j < n; i++) {
        import_row *r = &imp->rows[i];
        while (j < n && key_cmp(&have[j], r) < 0)
            j++;
        if (j < n && key_cmp(&have[j], r) == 0)
            r->dup = 1;
    }
    td__free(have);
    return st;
}

/* Sorts the rows and marks the duplicates; returns the count of new ones in *fresh. */
static td_status find_duplicates(td_import *imp, size_t *fresh, td_error *err)
{
    td_stmt *q;
    int row;
    size_t n = 0;
    td_status st = sort_rows(imp->rows, imp->n_rows, err);
    if (st)
        return st;
    for (size_t i = 0; i < imp->n_rows; i++) {
        import_row *r = &imp->rows[i];
        r->dup = (uint8_t)(i && key_cmp(&imp->rows[i - 1], r) == 0);
        n += !r->dup;
    }
    if ((st = td_store_prepare(imp->conn, "SELECT 1 FROM signals WHERE bank_id = $1 LIMIT 1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, imp->bank_id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (row && n)
        st = n < LOOKUP_MAX ? dup_lookup(imp, err) : dup_merge(imp, err);
    if (st)
        return st;
    *fresh = 0;
    for (size_t i = 0; i < imp->n_rows; i++)
        *fresh += !imp->rows[i].dup;
    return TD_OK;
}

/* Inserts the new rows in sorted order. No conflict is possible: the writer has been held since
 * the bank was read, so a unique violation here is an error, not a duplicate. */
static td_status insert_rows(td_import *imp, td_error *err)
{
    td_stmt *q;
    const import_row *batch[INSERT_ROWS];
    size_t k = 0;
    td_status st = TD_OK;
    for (size_t i = 0; i < imp->n_rows && st == TD_OK; i++) {
        if (imp->rows[i].dup)
            continue;
        batch[k++] = &imp->rows[i];
        if (k < INSERT_ROWS)
            continue;
        if ((st = td_store_prepare(imp->conn, imp->sql_many, &q, err)) ||
            (st = bind_shared(imp, q, err)))
            break;
        for (size_t j = 0; j < k && st == TD_OK; j++)
            st = bind_row(imp, q, 1 + INSERT_SHARED + (int)j * INSERT_PER_ROW, batch[j], err);
        if (st || (st = td_stmt_run(q, NULL, err)))
            break;
        k = 0;
    }
    for (size_t j = 0; j < k && st == TD_OK; j++)
        if ((st = td_store_prepare(imp->conn, insert_one, &q, err)) ||
            (st = bind_shared(imp, q, err)) ||
            (st = bind_row(imp, q, 1 + INSERT_SHARED, batch[j], err)))
            break;
        else
            st = td_stmt_run(q, NULL, err);
    return st;
}

/* What the local follower applies for the range (see td__range_hint): the new rows with the ids
 * they got, in insertion order. Without memory for it, the follower reads the range back. */
static void hint_build(td_import *imp)
{
    td__range_hint *h = &imp->hint;
    size_t n_pdq = 0, n_keys = 0;
    for (size_t i = 0; i < imp->n_rows; i++)
        if (!imp->rows[i].dup)
            *(imp->rows[i].type == TD_SIGNAL_PDQ ? &n_pdq : &n_keys) += 1;
    if ((n_pdq && !(h->pdq = td__mallocarray(n_pdq, sizeof *h->pdq))) ||
        (n_keys && !(h->keys = td__mallocarray(n_keys, sizeof *h->keys)))) {
        hint_drop(imp);
        return;
    }
    h->cap_pdq = n_pdq;
    h->cap_keys = n_keys;
    int64_t id = imp->last_id + 1;
    for (size_t i = 0; i < imp->n_rows; i++) {
        const import_row *r = &imp->rows[i];
        if (r->dup)
            continue;
        if (r->type == TD_SIGNAL_PDQ) {
            td_index_op *op = &h->pdq[h->n_pdq++];
            td__pdq_from_raw(r->raw, &op->hash);
            op->kind = TD_INDEX_ADD;
            op->id = (uint64_t)id++;
        } else {
            td__range_key *key = &h->keys[h->n_keys++];
            memcpy(key->raw, r->raw, sizeof key->raw);
            key->type = (td_signal_type)r->type;
            key->id = (uint64_t)id++;
        }
    }
}

static void *prebuild_main(void *arg)
{
    td_import *imp = arg;
    td_error err;
    if (td_index_prebuild(imp->hint.pdq, imp->hint.n_pdq, &imp->prebuilt, &err) != TD_OK)
        imp->prebuilt = NULL; /* the follower builds it then, as for any batch */
    return NULL;
}

/* Below this many PDQ additions the segment is built when the index takes them (the index's
 * own threshold for a segment of their own). */
#define PREBUILD_MIN ((size_t)1 << 16)

/* Without NEGATIVE_CLASS lines every new signal is indexable and, the writer being held, they
 * take the ids after last_id in insertion order (checked after the inserts; the hint is dropped
 * if not). The hint is built before the inserts and its index segment while they run: at 10M
 * signals that segment takes seconds of the import, on the otherwise idle second core. */
static void prebuild_start(td_import *imp)
{
    hint_build(imp);
    if (imp->hint.n_pdq >= PREBUILD_MIN &&
        pthread_create(&imp->prebuild_thread, NULL, prebuild_main, imp) == 0)
        imp->prebuilding = 1;
}

/* The rows are not needed past the inserts: freed before the commit and the index update. */
static void rows_free(td_import *imp)
{
    td__free(imp->rows);
    imp->rows = NULL;
    imp->n_rows = imp->cap_rows = 0;
}

static td_status last_signal_id(td_store_conn *c, int64_t *out, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, "SELECT COALESCE(MAX(id), 0) FROM signals", &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

/* Before the commit: the new signals, then their change log. Every signal with an id above
 * last_id is this import's (the writer has been held since it was read) and, without
 * NEGATIVE_CLASS lines, every one is indexable (imported signals have no known quality): one
 * ADD_RANGE entry stands for all of them. Otherwise one ADD per indexable signal, written by one
 * INSERT ... SELECT (values as raw bytes, as td__log_change writes them). */
static td_status import_complete(td_import *imp, td_error *err)
{
    td_stmt *q;
    size_t fresh = 0;
    td_status st = find_duplicates(imp, &fresh, err);
    if (st)
        return st;
    imp->res.added = fresh;
    imp->res.duplicates = imp->n_rows - fresh;
    imp->res.disabled = 0;
    for (size_t i = 0; i < imp->n_rows; i++)
        imp->res.disabled += !imp->rows[i].dup && !imp->rows[i].enabled;
    if (fresh == 0)
        return TD_OK;
    if (!imp->negatives)
        prebuild_start(imp);
    if ((st = insert_rows(imp, err)))
        return st;
    if (!imp->negatives) {
        int64_t max_id = 0;
        if ((st = last_signal_id(imp->conn, &max_id, err)) ||
            (st = td__log_range(imp->conn, imp->bank_id, imp->last_id + 1, max_id, imp->now,
                                &imp->hint.seq, err)))
            return st;
        /* The hint holds ids last_id + 1 ... in insertion order: only when no id was skipped
         * (a PostgreSQL sequence may have moved on without commit). */
        if ((uint64_t)(max_id - imp->last_id) == fresh) {
            imp->hint.first_id = imp->last_id + 1;
            imp->hint.last_id = max_id;
        } else {
            hint_drop(imp);
        }
        rows_free(imp);
        return TD_OK;
    }
    rows_free(imp);
    if ((st = td_store_prepare(imp->conn,
                               "INSERT INTO changes (kind, signal_id, type, value, at_ms, bank_id)"
                               " SELECT $1, id, type, value, $2, bank_id"
                               " FROM signals WHERE bank_id = $3 AND id > $4 AND enabled = 1"
                               " AND NOT (type = $5 AND quality >= 0 AND quality < $6)"
                               " ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, TD__CHANGE_ADD, err)) ||
        (st = td_stmt_bind_int64(q, 2, imp->now, err)) ||
        (st = td_stmt_bind_int64(q, 3, imp->bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 4, imp->last_id, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_SIGNAL_PDQ, err)) ||
        (st = td_stmt_bind_int64(q, 6, TD_PDQ_MIN_QUALITY, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* The import's audit entry, before the commit (the rows are freed by then: counts only). */
static td_status import_audit(td_import *imp, td_error *err)
{
    uint8_t md[32];
    char hex[65];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(imp->digest, md, &len) != 1 || len != sizeof md)
        return td__error_set(err, TD_ERR_INTERNAL, "import: SHA-256 failed");
    td__hex_encode(md, sizeof md, hex);
    char object[TD_NAME_MAX + 8];
    snprintf(object, sizeof object, "bank:%s", imp->bank);
    const td_import_result *r = &imp->res;
    json_t *d = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "bank_id",
                          (json_int_t)imp->bank_id, "lines", (json_int_t)r->lines, "added",
                          (json_int_t)r->added, "duplicates", (json_int_t)r->duplicates, "disabled",
                          (json_int_t)r->disabled, "unsupported", (json_int_t)r->unsupported,
                          "errors", (json_int_t)r->errors, "after_id", (json_int_t)imp->last_id,
                          "sha256", hex, "source", imp->source, "labels", imp->labels_text);
    return td__audit(imp->svc, imp->conn, imp->who.id || imp->who.name[0] ? &imp->who : NULL,
                     "bank.import", object, d, err);
}

static void import_free(td_import *imp)
{
    EVP_MD_CTX_free(imp->digest);
    td_store_release(imp->svc->store, imp->conn);
    td__list_free(&imp->parser);
    td_import_result_clear(&imp->res);
    td__free(imp->sql_many);
    td__free(imp->rows);
    td__free(imp->text);
    hint_drop(imp);
    td__free(imp);
}

td_status td_import_begin(td_service *svc, const char *bank, const td_import_options *opts,
                          td_import **out, td_error *err)
{
    return td_import_begin_as(svc, NULL, bank, opts, out, err);
}

td_status td_import_begin_as(td_service *svc, const td_principal *who, const char *bank,
                             const td_import_options *opts, td_import **out, td_error *err)
{
    td_import_options def;
    td_status st;
    *out = NULL;
    if (!opts) {
        td_import_options_init(&def);
        opts = &def;
    }
    if (opts->confidence < -1 || opts->confidence > 100)
        return td__error_set(err, TD_ERR_INVALID, "confidence must be 0..100");
    if (opts->format < TD_LIST_AUTO || opts->format > TD_LIST_CSV)
        return td__error_set(err, TD_ERR_INVALID, "unknown list format");
    if (opts->labels.count < 0 || opts->labels.count > TD_LABELS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "more than %d labels", TD_LABELS_MAX);
    td_import *imp = td__calloc(1, sizeof *imp);
    if (!imp)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    imp->svc = svc;
    if (who)
        imp->who = *who;
    if (!(imp->digest = EVP_MD_CTX_new()) ||
        EVP_DigestInit_ex(imp->digest, EVP_sha256(), NULL) != 1) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    imp->labels = opts->labels;
    imp->confidence = opts->confidence < 0 ? TD_CONFIDENCE_DEFAULT : opts->confidence;
    imp->atomic = opts->atomic;
    imp->now = td__now(svc);
    td__labels_join(&imp->labels, imp->labels_text, sizeof imp->labels_text);
    if (!(imp->sql_many = build_insert_many())) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = td__copy(imp->source, sizeof imp->source, opts->source ? opts->source : "import",
                       "source", err)))
        goto fail;
    size_t max_line = opts->max_line ? opts->max_line : svc->opts.import_max_line;
    uint64_t max_lines = opts->max_lines ? opts->max_lines : svc->opts.import_max_lines;
    if ((st = td__list_init(&imp->parser, opts->format, max_line ? max_line : 4096,
                            max_lines ? max_lines : 20000000, svc->opts.import_max_errors, on_entry,
                            imp, &imp->res, err)) ||
        (st = td_store_acquire(svc->store, 1, &imp->conn, err)) ||
        (st = td_store_begin(imp->conn, err)) ||
        (st = td__bank_id(imp->conn, bank, &imp->bank_id, err)) ||
        (st = last_signal_id(imp->conn, &imp->last_id, err)) ||
        (st = td__copy(imp->bank, sizeof imp->bank, bank, "bank", err)))
        goto fail;
    *out = imp;
    return TD_OK;
fail:
    import_free(imp);
    return st;
}

td_status td_import_feed(td_import *imp, const void *data, size_t len, td_error *err)
{
    if (len && EVP_DigestUpdate(imp->digest, data, len) != 1)
        return td__error_set(err, TD_ERR_INTERNAL, "import: SHA-256 failed");
    td_status st = td__list_feed(&imp->parser, data, len, err);
    if (st && imp->failure) {
        if (err)
            *err = imp->failure_err;
        return imp->failure;
    }
    return st;
}

td_status td_import_finish(td_import *imp, td_import_result *res, td_error *err)
{
    td_service *svc = imp->svc;
    td_status st = td__list_end(&imp->parser, err);
    memset(res, 0, sizeof *res);
    if (st && imp->failure) {
        if (err)
            *err = imp->failure_err;
        st = imp->failure;
    }
    if (st == TD_OK && imp->atomic && imp->res.errors)
        st = td__error_set(
            err, TD_ERR_INVALID, "%llu malformed lines (first at line %llu): nothing imported",
            (unsigned long long)imp->res.errors,
            (unsigned long long)(imp->res.error_count ? imp->res.error_list[0].line : 0));
    if (st == TD_OK)
        st = import_complete(imp, err);
    if (st == TD_OK)
        st = import_audit(imp, err);
    if (st == TD_OK)
        st = td_store_commit(imp->conn, err);
    if (st == TD_OK) {
        prebuild_join(imp);
        st = td__follow_hint(svc, imp->hint.first_id ? &imp->hint : NULL, NULL, err);
        if (imp->res.added)
            (void)td__recheck(svc, imp->conn, imp->bank_id, imp->last_id + 1, NULL);
    }
    /* The counts (and line errors) are handed over even when the import failed. */
    *res = imp->res;
    memset(&imp->res, 0, sizeof imp->res);
    if (st && !imp->atomic) {
        /* Nothing was committed: the counts must not claim otherwise. */
        res->added = res->duplicates = res->disabled = 0;
    } else if (st) {
        res->added = res->duplicates = res->disabled = 0;
    }
    import_free(imp);
    return st;
}

void td_import_abort(td_import *imp)
{
    if (imp)
        import_free(imp);
}

td_status td_import_buffer(td_service *svc, const char *bank, const void *data, size_t len,
                           const td_import_options *opts, td_import_result *res, td_error *err)
{
    td_import *imp;
    memset(res, 0, sizeof *res);
    td_status st = td_import_begin(svc, bank, opts, &imp, err);
    if (st)
        return st;
    if ((st = td_import_feed(imp, data, len, err))) {
        *res = imp->res;
        memset(&imp->res, 0, sizeof imp->res);
        res->added = res->duplicates = res->disabled = 0;
        td_import_abort(imp);
        return st;
    }
    return td_import_finish(imp, res, err);
}

/* ---- export ---- */

#define EXPORT_PAGE 8192
#define EXPORT_BUF 65536

typedef struct outbuf {
    char data[EXPORT_BUF];
    size_t len;
    int (*write)(void *ctx, const char *data, size_t len);
    void *ctx;
    int failed;
} outbuf;

static void flush(outbuf *b)
{
    if (b->len && !b->failed && b->write(b->ctx, b->data, b->len) != 0)
        b->failed = 1;
    b->len = 0;
}

static void put(outbuf *b, const char *s, size_t n)
{
    if (b->len + n > sizeof b->data)
        flush(b);
    if (n > sizeof b->data) { /* cannot happen with bounded fields; stay safe */
        if (!b->failed && b->write(b->ctx, s, n) != 0)
            b->failed = 1;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void put_s(outbuf *b, const char *s) { put(b, s, strlen(s)); }

static void put_csv_field(outbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        put_s(b, s);
        return;
    }
    put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            put(b, "\"", 1);
        put(b, s, 1);
    }
    put(b, "\"", 1);
}

td_status td_export(td_service *svc, const char *bank, td_list_format format, int include_disabled,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    int64_t bank_id, after = 0;
    if (format != TD_LIST_LINES && format != TD_LIST_CSV)
        return td__error_set(err, TD_ERR_INVALID, "export format must be te or csv");
    outbuf *b = td__malloc(sizeof *b);
    if (!b)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    b->len = 0;
    b->write = write;
    b->ctx = ctx;
    b->failed = 0;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        goto done;
    st = td__bank_id(c, bank, &bank_id, err);
    td_store_release(svc->store, c);
    if (st)
        goto done;
    if (format == TD_LIST_CSV)
        put_s(b, "signal_type,signal_str,collab,category,tags\n");
    for (;;) {
        size_t got = 0;
        if ((st = td_store_acquire(svc->store, 0, &c, err)))
            break;
        if ((st = td_store_prepare(c,
                                   "SELECT id, type, value, source, enabled, labels FROM signals"
                                   " WHERE bank_id = $1 AND id > $2 AND ($3 = 1 OR enabled = 1)"
                                   /* hash types only (pdq, md5, sha256, url_md5): a body
                                      signal's value is a digest, not a list entry */
                                   " AND type IN ($5, $6, $7, $8) ORDER BY id LIMIT $4",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, after, err)) ||
            (st = td_stmt_bind_int64(q, 3, include_disabled ? 1 : 0, err)) ||
            (st = td_stmt_bind_int64(q, 4, EXPORT_PAGE, err)) ||
            (st = td_stmt_bind_int64(q, 5, TD_SIGNAL_PDQ, err)) ||
            (st = td_stmt_bind_int64(q, 6, TD_SIGNAL_MD5, err)) ||
            (st = td_stmt_bind_int64(q, 7, TD_SIGNAL_SHA256, err)) ||
            (st = td_stmt_bind_int64(q, 8, TD_SIGNAL_URL_MD5, err))) {
            td_store_release(svc->store, c);
            break;
        }
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && !b->failed) {
            got++;
            after = td_stmt_column_int64(q, 0);
            td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 1);
            char hex[65];
            (void)td__value_column_hex(q, 2, type, hex);
            put_s(b, td_signal_type_te_name(type));
            if (format == TD_LIST_LINES) {
                put(b, " ", 1);
                put_s(b, hex);
            } else {
                put(b, ",", 1);
                put_s(b, hex);
                put(b, ",", 1);
                put_csv_field(b, td_stmt_column_text(q, 3));
                put_s(b, td_stmt_column_int64(q, 4) ? ",POSITIVE_CLASS," : ",NEGATIVE_CLASS,");
                put_s(b, td_stmt_column_text(q, 5));
            }
            put(b, "\n", 1);
        }
        td_stmt_reset(q);
        td_store_release(svc->store, c);
        if (st || b->failed || got < EXPORT_PAGE)
            break;
    }
    if (st == TD_OK) {
        flush(b);
        if (b->failed)
            st = td__error_set(err, TD_ERR_IO, "export: the writer stopped");
    }
done:
    td__free(b);
    return st;
}
