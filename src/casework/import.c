/* Bulk import and export of hash lists. An import is one write transaction: parsed lines are
 * staged in a temporary table and moved into the bank in large chunks by one INSERT ... SELECT
 * each (duplicates from its change count), the change log of the new signals is one ADD_RANGE
 * entry (or, with NEGATIVE_CLASS lines, one INSERT ... SELECT of per-signal entries) written
 * before the commit, and the local indexes take the new signals from memory after the commit.
 * Malformed lines are counted and reported with their numbers. Export pages through the bank by
 * id so that no read transaction stays open while a slow consumer drains the output. */
#include <stdio.h>
#include <string.h>

#include "casework/listfmt.h"
#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

void td_import_options_init(td_import_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = TD_LIST_AUTO;
    o->confidence = -1;
}

/* Lines are staged in a temporary table, IMPORT_ROWS at a time through one multi-row INSERT (5
 * parameters per row within the store's 99), and moved into the bank STAGE_ROWS at a time by one
 * INSERT ... SELECT ... ON CONFLICT DO NOTHING, whose change count tells the duplicates. SQLite
 * then runs one statement per chunk instead of three per line (the next id, the insert, the
 * change-log entry): per-statement costs (savepoints, allocations) were most of the time. */
#define IMPORT_ROWS 19
#define IMPORT_PER_ROW 5
#define STAGE_ROWS 65536
#define LABELS_TEXT_MAX (TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1)

typedef struct import_row {
    td_signal_type type;
    int enabled;
    char value[65];
    const char *labels; /* NULL: the import's labels; else labels_buf */
    const char *source; /* NULL: the import's source; else source_buf */
    char labels_buf[LABELS_TEXT_MAX];
    char source_buf[TD_SOURCE_MAX + 1];
} import_row;

struct td_import {
    td_service *svc;
    td_store_conn *conn;
    int64_t bank_id;
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
    int64_t next_id; /* the id the next signal added gets */
    size_t staged;   /* rows in the staging table */
    td__range_hint hint;
    int use_hint;               /* hint holds every signal added (and staged) so far */
    size_t mark_pdq, mark_keys; /* hint sizes before the staged rows */
    import_row rows[IMPORT_ROWS];
    size_t n_rows;
    char *sql_many;    /* the IMPORT_ROWS-row staging INSERT */
    td_status failure; /* a store error inside the line callback */
    td_error failure_err;
};

static const char stage_one[] = "INSERT INTO import_stage (type, value, labels, source, enabled)"
                                " VALUES ($1, $2, $3, $4, $5)";

static char *build_stage_many(void)
{
    const char head[] = "INSERT INTO import_stage (type, value, labels, source, enabled)"
                        " VALUES ";
    size_t cap = sizeof head + IMPORT_ROWS * 48;
    char *sql = td__malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)snprintf(sql, cap, "%s", head);
    for (int i = 0; i < IMPORT_ROWS; i++) {
        int p = 1 + i * IMPORT_PER_ROW;
        n += (size_t)snprintf(sql + n, cap - n, "%s($%d, $%d, $%d, $%d, $%d)", i ? ", " : "", p,
                              p + 1, p + 2, p + 3, p + 4);
    }
    return sql;
}

static td_status bind_row(td_stmt *q, int first, const import_row *r, td_error *err)
{
    td_status st;
    if ((st = td_stmt_bind_int64(q, first, r->type, err)) ||
        (st = td_stmt_bind_text(q, first + 1, r->value, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, first + 2, r->labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, first + 3, r->source, (size_t)-1, err)))
        return st;
    return td_stmt_bind_int64(q, first + 4, r->enabled, err);
}

static void hint_drop(td_import *imp)
{
    td__free(imp->hint.pdq);
    td__free(imp->hint.keys);
    memset(&imp->hint, 0, sizeof imp->hint);
    imp->use_hint = 0;
}

/* Remembers a signal for the local follower (see td__range_hint); gives up (the follower then
 * reads the range back from the table) past IMPORT_HINT_MAX signals or when memory is short. */
#define IMPORT_HINT_MAX ((size_t)1 << 21)

static void hint_add(td_import *imp, td_signal_type type, const char *value, int64_t id)
{
    td__range_hint *h = &imp->hint;
    uint8_t raw[32];
    size_t raw_len = td__signal_raw_len(type);
    if (!imp->use_hint)
        return;
    if (h->n_pdq + h->n_keys >= IMPORT_HINT_MAX || !raw_len ||
        td__hex_decode(value, 2 * raw_len, raw) != 0) {
        hint_drop(imp);
        return;
    }
    if (type == TD_SIGNAL_PDQ) {
        if (td__grow((void **)&h->pdq, &h->cap_pdq, h->n_pdq + 1, sizeof *h->pdq, NULL)) {
            hint_drop(imp);
            return;
        }
        td_index_op *op = &h->pdq[h->n_pdq++];
        td__pdq_from_raw(raw, &op->hash);
        op->kind = TD_INDEX_ADD;
        op->id = (uint64_t)id;
    } else {
        if (td__grow((void **)&h->keys, &h->cap_keys, h->n_keys + 1, sizeof *h->keys, NULL)) {
            hint_drop(imp);
            return;
        }
        td__range_key *k = &h->keys[h->n_keys++];
        memcpy(k->raw, raw, raw_len);
        k->type = type;
        k->id = (uint64_t)id;
    }
}

/* Stages the buffered rows: one multi-row statement when the buffer is full, else one statement
 * per row. The hint takes them with the ids they get if none is a duplicate. */
static td_status flush_rows(td_import *imp, td_error *err)
{
    td_stmt *q;
    td_status st = TD_OK;
    size_t n = imp->n_rows;
    imp->n_rows = 0;
    if (n == IMPORT_ROWS) {
        if ((st = td_store_prepare(imp->conn, imp->sql_many, &q, err)))
            return st;
        for (size_t i = 0; i < n; i++)
            if ((st = bind_row(q, 1 + (int)i * IMPORT_PER_ROW, &imp->rows[i], err)))
                return st;
        if ((st = td_stmt_run(q, NULL, err)))
            return st;
    } else {
        for (size_t i = 0; i < n; i++)
            if ((st = td_store_prepare(imp->conn, stage_one, &q, err)) ||
                (st = bind_row(q, 1, &imp->rows[i], err)) || (st = td_stmt_run(q, NULL, err)))
                return st;
    }
    for (size_t i = 0; i < n; i++)
        hint_add(imp, imp->rows[i].type, imp->rows[i].value,
                 imp->next_id + (int64_t)(imp->staged + i));
    imp->staged += n;
    return TD_OK;
}

/* Moves the staged rows into the bank, in line order. When some were duplicates, the hint of
 * this chunk is taken again from the new rows (ids from next_id, all this chunk's). */
static td_status flush_stage(td_import *imp, td_error *err)
{
    td_stmt *q;
    int row;
    int64_t changes = 0;
    td_status st = flush_rows(imp, err);
    if (st || imp->staged == 0)
        return st;
    if ((st = td_store_prepare(imp->conn,
                               "INSERT INTO signals (bank_id, type, value, quality, labels,"
                               " source, confidence, enabled, added_ms)"
                               " SELECT $1, type, value, -1, COALESCE(labels, $2),"
                               " COALESCE(source, $3), $4, enabled, $5"
                               " FROM import_stage WHERE 1 = 1 ORDER BY n"
                               " ON CONFLICT (bank_id, type, value) DO NOTHING",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, imp->bank_id, err)) ||
        (st = td_stmt_bind_text(q, 2, imp->labels_text, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, imp->source, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, imp->confidence, err)) ||
        (st = td_stmt_bind_int64(q, 5, imp->now, err)) || (st = td_stmt_run(q, &changes, err)) ||
        (st = td_store_exec(imp->conn, "DELETE FROM import_stage", err)))
        return st;
    if ((size_t)changes != imp->staged && imp->use_hint) {
        imp->hint.n_pdq = imp->mark_pdq;
        imp->hint.n_keys = imp->mark_keys;
        if ((st = td_store_prepare(imp->conn,
                                   "SELECT id, type, value FROM signals WHERE id >= $1"
                                   " ORDER BY id",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, imp->next_id, err)))
            return st;
        while (imp->use_hint && (st = td_stmt_step(q, &row, err)) == TD_OK && row)
            hint_add(imp, (td_signal_type)td_stmt_column_int64(q, 1), td_stmt_column_text(q, 2),
                     td_stmt_column_int64(q, 0));
        td_stmt_reset(q);
        if (st)
            return st;
    }
    imp->res.added += (uint64_t)changes;
    imp->res.duplicates += imp->staged - (uint64_t)changes;
    imp->next_id += changes;
    imp->staged = 0;
    imp->mark_pdq = imp->hint.n_pdq;
    imp->mark_keys = imp->hint.n_keys;
    return TD_OK;
}

static int on_entry(void *ctx, const td_list_entry *e)
{
    td_import *imp = ctx;
    import_row *r = &imp->rows[imp->n_rows];
    if (e->collab_len) {
        for (size_t i = 0; i < e->collab_len; i++)
            if ((unsigned char)e->collab[i] < 0x20 || (unsigned char)e->collab[i] > 0x7e) {
                td__list_line_error(&imp->res, imp->parser.max_errors, e->line,
                                    "collab has a non-printable character");
                return 0;
            }
        memcpy(r->source_buf, e->collab, e->collab_len);
        r->source_buf[e->collab_len] = '\0';
        r->source = r->source_buf;
    } else {
        r->source = NULL;
    }
    if (e->tags.count) {
        td_labels labels = imp->labels;
        td__labels_merge(&labels, &e->tags);
        td__labels_join(&labels, r->labels_buf, sizeof r->labels_buf);
        r->labels = r->labels_buf;
    } else {
        r->labels = NULL;
    }
    r->type = e->type;
    r->enabled = !e->negative;
    memcpy(r->value, e->value, sizeof r->value);
    if (e->negative) {
        imp->negatives = 1;
        hint_drop(imp);
    }
    td_status st = TD_OK;
    if (++imp->n_rows == IMPORT_ROWS)
        st = imp->staged + IMPORT_ROWS >= STAGE_ROWS ? flush_stage(imp, &imp->failure_err)
                                                     : flush_rows(imp, &imp->failure_err);
    if (st) {
        imp->failure = st;
        return 1;
    }
    return 0;
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

/* Before the commit: the last rows, then the change log of the new signals, in id order like the
 * per-signal path. Every signal with an id above last_id is this import's (the writer has been
 * held since it was read) and, without NEGATIVE_CLASS lines, every one is indexable (imported
 * signals have no known quality): one ADD_RANGE entry stands for all of them. Otherwise one ADD
 * per indexable signal, written by one INSERT ... SELECT (values as raw bytes, as
 * td__log_change writes them), and a count of the signals added disabled. */
static td_status import_complete(td_import *imp, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = flush_stage(imp, err);
    if (st || imp->res.added == 0)
        return st;
    if (!imp->negatives) {
        int64_t max_id = 0;
        if ((st = last_signal_id(imp->conn, &max_id, err)) ||
            (st =
                 td__log_range(imp->conn, imp->last_id + 1, max_id, imp->now, &imp->hint.seq, err)))
            return st;
        imp->hint.first_id = imp->last_id + 1;
        imp->hint.last_id = max_id;
        /* The hint is only used when the ids are the ones it recorded. */
        if (max_id != imp->next_id - 1 || (uint64_t)(max_id - imp->last_id) != imp->res.added ||
            imp->hint.n_pdq + imp->hint.n_keys != imp->res.added)
            hint_drop(imp);
        return TD_OK;
    }
    if ((st = td_store_prepare(imp->conn,
                               "INSERT INTO changes (kind, signal_id, type, value, at_ms)"
                               " SELECT $1, id, type, COALESCE(unhex(value), value), $2"
                               " FROM signals WHERE bank_id = $3 AND id > $4 AND enabled = 1"
                               " AND NOT (type = $5 AND quality >= 0 AND quality < $6)"
                               " ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, TD__CHANGE_ADD, err)) ||
        (st = td_stmt_bind_int64(q, 2, imp->now, err)) ||
        (st = td_stmt_bind_int64(q, 3, imp->bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 4, imp->last_id, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_SIGNAL_PDQ, err)) ||
        (st = td_stmt_bind_int64(q, 6, TD_PDQ_MIN_QUALITY, err)) ||
        (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(imp->conn,
                               "SELECT COUNT(*) FROM signals WHERE bank_id = $1 AND id > $2"
                               " AND enabled = 0",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, imp->bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, imp->last_id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    imp->res.disabled = row ? (uint64_t)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

static void import_free(td_import *imp)
{
    td_store_release(imp->svc->store, imp->conn);
    td__list_free(&imp->parser);
    td_import_result_clear(&imp->res);
    td__free(imp->sql_many);
    hint_drop(imp);
    td__free(imp);
}

td_status td_import_begin(td_service *svc, const char *bank, const td_import_options *opts,
                          td_import **out, td_error *err)
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
    imp->labels = opts->labels;
    imp->confidence = opts->confidence < 0 ? TD_CONFIDENCE_DEFAULT : opts->confidence;
    imp->atomic = opts->atomic;
    imp->now = td__now(svc);
    td__labels_join(&imp->labels, imp->labels_text, sizeof imp->labels_text);
    if (!(imp->sql_many = build_stage_many())) {
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
        (st = last_signal_id(imp->conn, &imp->last_id, err)))
        goto fail;
    imp->next_id = imp->last_id + 1;
    imp->use_hint = 1;
    /* The staging table lives with the writer connection (TEMP: never logged, never seen by
     * other connections); it is empty between imports. */
    if ((st = td_store_exec(imp->conn,
                            "CREATE TEMP TABLE IF NOT EXISTS import_stage (n INTEGER PRIMARY KEY,"
                            " type INTEGER NOT NULL, value TEXT NOT NULL, labels TEXT,"
                            " source TEXT, enabled INTEGER NOT NULL); DELETE FROM import_stage",
                            err)))
        goto fail;
    *out = imp;
    return TD_OK;
fail:
    import_free(imp);
    return st;
}

td_status td_import_feed(td_import *imp, const void *data, size_t len, td_error *err)
{
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
        st = td_store_commit(imp->conn, err);
    if (st == TD_OK) {
        st = td__follow_hint(svc, imp->use_hint ? &imp->hint : NULL, NULL, err);
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
                                   " AND type IN (1, 2, 3, 7) ORDER BY id LIMIT $4",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, after, err)) ||
            (st = td_stmt_bind_int64(q, 3, include_disabled ? 1 : 0, err)) ||
            (st = td_stmt_bind_int64(q, 4, EXPORT_PAGE, err))) {
            td_store_release(svc->store, c);
            break;
        }
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && !b->failed) {
            got++;
            after = td_stmt_column_int64(q, 0);
            td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 1);
            put_s(b, td_signal_type_te_name(type));
            if (format == TD_LIST_LINES) {
                put(b, " ", 1);
                put_s(b, td_stmt_column_text(q, 2));
            } else {
                put(b, ",", 1);
                put_s(b, td_stmt_column_text(q, 2));
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
