/* Banks: named sets of signals with their labels and match policy (threshold, action, allow).
 * Every change is followed by a "banks" change-log entry so that every node reloads its bank
 * views (what the check path reads) from the store, and is recorded in the audit log in the same
 * transaction (bank.create, bank.update, bank.delete). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

void td_bank_init(td_bank *b)
{
    memset(b, 0, sizeof *b);
    b->enabled = 1;
    b->enabled_ratio = 1.0;
    b->threshold = TD_DEFAULT_THRESHOLD;
    b->action = TD_ACTION_REVIEW;
    b->kind = TD_BANK_NORMAL;
}

int td_bank_name_valid(const char *name)
{
    size_t n = name ? strnlen(name, TD_NAME_MAX + 1) : 0;
    if (n == 0 || n > TD_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* banks.enabled_ratio is text (the store binds no floating-point values): the shortest of %.15g,
 * %.16g, %.17g that reads back as the same double, so 0.3 is stored "0.3" and read as 0.3. */
void td__ratio_format(double ratio, char out[TD__RATIO_TEXT])
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(out, TD__RATIO_TEXT, "%.*g", digits, ratio);
        if (strtod(out, NULL) == ratio)
            return;
    }
}

double td__ratio_parse(const char *text)
{
    char *end = NULL;
    double v = text ? strtod(text, &end) : 1.0;
    if (!text || end == text || !isfinite(v))
        return 1.0;
    return v < 0 ? 0.0 : v > 1 ? 1.0 : v;
}

static td_status validate(const td_bank *b, unsigned fields, td_error *err)
{
    if ((fields & TD_BANK_SET_NAME) && !td_bank_name_valid(b->name))
        return td__error_set(err, TD_ERR_INVALID,
                             "bank name must match [A-Z_][A-Z0-9_]* (at most %d characters)",
                             TD_NAME_MAX);
    if ((fields & TD_BANK_SET_ENABLED_RATIO) &&
        !(isfinite(b->enabled_ratio) && b->enabled_ratio >= 0.0 && b->enabled_ratio <= 1.0))
        return td__error_set(err, TD_ERR_INVALID, "enabled_ratio must be 0.0..1.0");
    if ((fields & TD_BANK_SET_THRESHOLD) && (b->threshold < 0 || b->threshold > 63))
        return td__error_set(err, TD_ERR_INVALID, "threshold must be 0..63, not %d", b->threshold);
    if ((fields & TD_BANK_SET_ACTION) && (b->action < TD_ACTION_LOG || b->action > TD_ACTION_BLOCK))
        return td__error_set(err, TD_ERR_INVALID, "unknown action");
    if ((fields & TD_BANK_SET_KIND) && b->kind != TD_BANK_NORMAL && b->kind != TD_BANK_ALLOW)
        return td__error_set(err, TD_ERR_INVALID, "unknown bank kind");
    if ((fields & TD_BANK_SET_LABELS) && (b->labels.count < 0 || b->labels.count > TD_LABELS_MAX))
        return td__error_set(err, TD_ERR_LIMIT, "more than %d labels", TD_LABELS_MAX);
    return TD_OK;
}

#define BANK_COLUMNS                                                                               \
    "b.id, b.name, b.labels, b.enabled, b.threshold, b.action, b.kind, b.created_ms,"              \
    " b.updated_ms, (SELECT COUNT(*) FROM signals s WHERE s.bank_id = b.id), b.enabled_ratio"

static void bank_row(td_stmt *q, td_bank *b)
{
    memset(b, 0, sizeof *b);
    b->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(b->name, sizeof b->name, td_stmt_column_text(q, 1));
    td__labels_load(&b->labels, td_stmt_column_text(q, 2));
    b->enabled = (int)td_stmt_column_int64(q, 3);
    b->threshold = (int)td_stmt_column_int64(q, 4);
    b->action = (td_action)td_stmt_column_int64(q, 5);
    b->kind = (td_bank_kind)td_stmt_column_int64(q, 6);
    b->created_ms = td_stmt_column_int64(q, 7);
    b->updated_ms = td_stmt_column_int64(q, 8);
    b->signal_count = td_stmt_column_int64(q, 9);
    b->enabled_ratio = td__ratio_parse(td_stmt_column_text(q, 10));
    b->enabled = b->enabled_ratio > 0;
}

static td_status get_on(td_store_conn *c, const char *name, td_bank *out, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st =
        td_store_prepare(c, "SELECT " BANK_COLUMNS " FROM banks b WHERE b.name = $1", &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, name, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no bank named '%s'", name);
    bank_row(q, out);
    td_stmt_reset(q);
    return TD_OK;
}

td_status td__bank_id(td_store_conn *c, const char *name, int64_t *id, td_error *err)
{
    td_stmt *q;
    int row;
    if (!name || !td_bank_name_valid(name))
        return td__error_set(err, TD_ERR_NOT_FOUND, "no bank named '%.64s'", name ? name : "");
    td_status st = td_store_prepare(c, "SELECT id FROM banks WHERE name = $1", &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, name, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no bank named '%s'", name);
    *id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

/* The settings of a bank as its audit entries record them. */
static json_t *bank_json(const td_bank *b)
{
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    td__labels_join(&b->labels, labels, sizeof labels);
    return json_pack("{s:s, s:s, s:b, s:f, s:i, s:s, s:s}", "name", b->name, "labels", labels,
                     "enabled", b->enabled, "enabled_ratio", b->enabled_ratio, "threshold",
                     b->threshold, "action", td_action_name(b->action), "kind",
                     td_bank_kind_name(b->kind));
}

static td_status audit_bank(td_service *svc, td_store_conn *c, const td_principal *who,
                            const char *action, const char *name, json_t *details, td_error *err)
{
    char object[TD_NAME_MAX + 8];
    snprintf(object, sizeof object, "bank:%.*s", TD_NAME_MAX, name);
    return td__audit(svc, c, who, action, object, details, err);
}

/* Commits the writer's transaction with a "banks" log entry, then follows the log. */
/* A bank change: fn's transaction, with the change-log entry that tells every node to reload its
 * bank views, then this node follows at once. */
typedef struct banks_tx {
    td_service *svc;
    td_store_tx_fn fn;
    void *ctx;
} banks_tx;

static td_status banks_tx_body(td_store_conn *c, void *ctx, td_error *err)
{
    banks_tx *t = ctx;
    td_status st = t->fn(c, t->ctx, err);
    if (st == TD_OK)
        st = td__log_change(c, TD__CHANGE_BANKS, 0, 0, 0, "", td__now(t->svc), err);
    return st;
}

static td_status write_banks(td_service *svc, td_store_tx_fn fn, void *ctx, td_error *err)
{
    banks_tx t = {svc, fn, ctx};
    td_status st = td_store_write(svc->store, banks_tx_body, &t, err);
    if (st == TD_OK)
        st = td__follow(svc, NULL, err);
    return st;
}

td_status td_bank_create(td_service *svc, const td_bank *b, td_bank *out, td_error *err)
{
    return td_bank_create_as(svc, NULL, b, out, err);
}

typedef struct create_args {
    td_service *svc;
    const td_principal *who;
    const td_bank *b;
    const char *labels;
    int64_t now;
    td_bank *out;
} create_args;

static td_status create_body(td_store_conn *c, void *ctx, td_error *err)
{
    create_args *a = ctx;
    td_bank stored = *a->b;
    const td_bank *b = &stored;
    td_stmt *q;
    td_status st;
    char ratio[TD__RATIO_TEXT];
    if (!stored.enabled)
        stored.enabled_ratio = 0.0;
    stored.enabled = stored.enabled_ratio > 0;
    td__ratio_format(stored.enabled_ratio, ratio);
    if ((st = td_store_prepare(c,
                               "INSERT INTO banks (name, labels, enabled, threshold, action, kind,"
                               " created_ms, updated_ms, enabled_ratio)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, b->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, b->enabled ? 1 : 0, err)) ||
        (st = td_stmt_bind_text(q, 8, ratio, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, b->threshold, err)) ||
        (st = td_stmt_bind_int64(q, 5, b->action, err)) ||
        (st = td_stmt_bind_int64(q, 6, b->kind, err)) ||
        (st = td_stmt_bind_int64(q, 7, a->now, err)))
        return st;
    if ((st = td_stmt_run(q, NULL, err))) {
        if (st == TD_ERR_CONFLICT)
            td__error_set(err, TD_ERR_CONFLICT, "bank '%s' exists", b->name);
        return st;
    }
    if ((st = audit_bank(a->svc, c, a->who, "bank.create", b->name,
                         json_pack("{s:o}", "bank", bank_json(b)), err)))
        return st;
    return a->out ? get_on(c, b->name, a->out, err) : TD_OK;
}

td_status td_bank_create_as(td_service *svc, const td_principal *who, const td_bank *b,
                            td_bank *out, td_error *err)
{
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    td_status st = validate(b, ~(unsigned)TD_BANK_SET_ENABLED_RATIO, err);
    if (st)
        return st;
    /* A disabled bank's ratio is not looked at (it is stored as 0.0). */
    if (b->enabled && (st = validate(b, TD_BANK_SET_ENABLED_RATIO, err)))
        return st;
    td__labels_join(&b->labels, labels, sizeof labels);
    create_args a = {svc, who, b, labels, td__now(svc), out};
    return write_banks(svc, create_body, &a, err);
}

td_status td_bank_get(td_service *svc, const char *name, td_bank *out, td_error *err)
{
    td_store_conn *c;
    if (!name || !td_bank_name_valid(name))
        return td__error_set(err, TD_ERR_NOT_FOUND, "no bank named '%.64s'", name ? name : "");
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    st = get_on(c, name, out, err);
    td_store_release(svc->store, c);
    return st;
}

static void bank_item(td_stmt *q, void *item) { bank_row(q, item); }

td_status td_bank_list(td_service *svc, td_bank **out, size_t *count, td_error *err)
{
    return td_store_read_rows(svc->store, "SELECT " BANK_COLUMNS " FROM banks b ORDER BY b.name",
                              NULL, 0, TD_BANKS_MAX, sizeof **out, bank_item, (void **)out, count,
                              err);
}

td_status td_bank_update(td_service *svc, const char *name, unsigned fields, const td_bank *v,
                         td_bank *out, td_error *err)
{
    return td_bank_update_as(svc, NULL, name, fields, v, out, err);
}

typedef struct update_args {
    td_service *svc;
    const td_principal *who;
    const char *name;
    unsigned fields;
    const td_bank *v;
    td_bank *out;
} update_args;

static td_status update_body(td_store_conn *c, void *ctx, td_error *err)
{
    update_args *a = ctx;
    const td_bank *v = a->v;
    unsigned fields = a->fields;
    td_stmt *q;
    td_bank cur;
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    td_status st = get_on(c, a->name, &cur, err);
    if (st)
        return st;
    json_t *before = bank_json(&cur);
    if (fields & TD_BANK_SET_NAME)
        memcpy(cur.name, v->name, sizeof cur.name);
    if (fields & TD_BANK_SET_LABELS)
        cur.labels = v->labels;
    if (fields & TD_BANK_SET_ENABLED)
        cur.enabled_ratio = !v->enabled ? 0.0 : cur.enabled_ratio > 0 ? cur.enabled_ratio : 1.0;
    if (fields & TD_BANK_SET_ENABLED_RATIO)
        cur.enabled_ratio = v->enabled_ratio;
    cur.enabled = cur.enabled_ratio > 0;
    char ratio[TD__RATIO_TEXT];
    td__ratio_format(cur.enabled_ratio, ratio);
    if (fields & TD_BANK_SET_THRESHOLD)
        cur.threshold = v->threshold;
    if (fields & TD_BANK_SET_ACTION)
        cur.action = v->action;
    if (fields & TD_BANK_SET_KIND)
        cur.kind = v->kind;
    td__labels_join(&cur.labels, labels, sizeof labels);
    if ((st = td_store_prepare(c,
                               "UPDATE banks SET name = $1, labels = $2, enabled = $3,"
                               " threshold = $4, action = $5, kind = $6, updated_ms = $7,"
                               " enabled_ratio = $9 WHERE id = $8",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, cur.name, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, cur.enabled, err)) ||
        (st = td_stmt_bind_int64(q, 4, cur.threshold, err)) ||
        (st = td_stmt_bind_int64(q, 5, cur.action, err)) ||
        (st = td_stmt_bind_int64(q, 6, cur.kind, err)) ||
        (st = td_stmt_bind_int64(q, 7, td__now(a->svc), err)) ||
        (st = td_stmt_bind_int64(q, 8, cur.id, err)) ||
        (st = td_stmt_bind_text(q, 9, ratio, (size_t)-1, err)))
        goto out;
    if ((st = td_stmt_run(q, NULL, err))) {
        if (st == TD_ERR_CONFLICT)
            td__error_set(err, TD_ERR_CONFLICT, "bank '%s' exists", cur.name);
        goto out;
    }
    json_t *details = json_pack("{s:I, s:O, s:o}", "bank_id", (json_int_t)cur.id, "before", before,
                                "after", bank_json(&cur));
    if ((st = audit_bank(a->svc, c, a->who, "bank.update", a->name, details, err)))
        goto out;
    if (a->out)
        st = get_on(c, cur.name, a->out, err);
out:
    json_decref(before);
    return st;
}

td_status td_bank_update_as(td_service *svc, const td_principal *who, const char *name,
                            unsigned fields, const td_bank *v, td_bank *out, td_error *err)
{
    td_status st = validate(v, fields, err);
    if (st)
        return st;
    if (!name || !td_bank_name_valid(name))
        return td__error_set(err, TD_ERR_NOT_FOUND, "no bank named '%.64s'", name ? name : "");
    update_args a = {svc, who, name, fields, v, out};
    return write_banks(svc, update_body, &a, err);
}

td_status td_bank_delete(td_service *svc, const char *name, td_error *err)
{
    return td_bank_delete_as(svc, NULL, name, err);
}

typedef struct delete_args {
    td_service *svc;
    const td_principal *who;
    const char *name;
} delete_args;

static td_status delete_body(td_store_conn *c, void *ctx, td_error *err)
{
    delete_args *a = ctx;
    td_stmt *q;
    int64_t id = 0, removed = 0;
    int64_t now = td__now(a->svc);
    td_status st = td__bank_id(c, a->name, &id, err);
    if (st)
        return st;
    /* The signals leave the indexes through the log like any other removal. */
    if ((st = td_store_prepare(c,
                               "INSERT INTO changes (kind, signal_id, type, value, at_ms, bank_id)"
                               " SELECT $1, id, type, value, $2, bank_id FROM signals"
                               " WHERE bank_id = $3 AND enabled = 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, TD__CHANGE_REMOVE, err)) ||
        (st = td_stmt_bind_int64(q, 2, now, err)) || (st = td_stmt_bind_int64(q, 3, id, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    if ((st = td_store_prepare(c, "DELETE FROM signals WHERE bank_id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_run(q, &removed, err)) ||
        (st = td_store_prepare(c, "DELETE FROM banks WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    return audit_bank(
        a->svc, c, a->who, "bank.delete", a->name,
        json_pack("{s:I, s:I}", "bank_id", (json_int_t)id, "signals_deleted", (json_int_t)removed),
        err);
}

td_status td_bank_delete_as(td_service *svc, const td_principal *who, const char *name,
                            td_error *err)
{
    delete_args a = {svc, who, name};
    return write_banks(svc, delete_body, &a, err);
}
