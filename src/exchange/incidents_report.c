/* An incident's figures (from its recorded events) and its after-action report, written when it
 * closes: the timeline (opened, each new signal up to TIMELINE_SIGNALS, the first match and
 * block, closed), signals by source, bank and type, matches and blocks per hour, and the time
 * from the first hash to the first block, as JSON and as Markdown. Text that came from outside
 * (names, sources, values) is escaped for Markdown so that a crafted source cannot inject
 * links or markup into what people read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timefmt.h"
#include "exchange/incidents_int.h"

#define HOUR_MS ((int64_t)3600000)
#define HOURS_MAX 24 * 366     /* hours listed (a year) */
#define COUNTS_MAX 100         /* sources, banks, types listed */
#define TIMELINE_SIGNALS 1000  /* signals listed in the timeline */
#define REPORT_MAX (64u << 20) /* bytes of a Markdown report */

/* ---- figures ---- */

static td_status one_row(td_store_conn *c, const char *sql, int64_t id, int64_t *a, int64_t *b,
                         td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    *a = row ? td_stmt_column_int64(q, 0) : 0;
    if (b)
        *b = row ? td_stmt_column_int64(q, 1) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

static td_status counts(td_store_conn *c, const char *sql, int64_t id, int by_type,
                        td_incident_count **out, size_t *n, td_error *err)
{
    td_stmt *q;
    int row;
    size_t cap = 0;
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && *n < COUNTS_MAX) {
        if ((st = td__grow((void **)out, &cap, *n + 1, sizeof **out, err)))
            break;
        td_incident_count *k = &(*out)[(*n)++];
        memset(k, 0, sizeof *k);
        td__copy_trunc(k->name, sizeof k->name,
                       by_type ? td_signal_type_name((td_signal_type)td_stmt_column_int64(q, 0))
                               : td_stmt_column_text(q, 0));
        k->signals = td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    return st;
}

td_status td__incident_figures(td_store_conn *c, int64_t id, td_incident_figures *f, td_error *err)
{
    td_stmt *q;
    int row;
    size_t cap = 0;
    td_status st;
    memset(f, 0, sizeof *f);
    if ((st = one_row(c,
                      "SELECT COUNT(*), COALESCE(MIN(at_ms), 0) FROM incident_events"
                      " WHERE incident_id = $1 AND kind = 1",
                      id, &f->signals, &f->first_signal_ms, err)) ||
        (st = one_row(c,
                      "SELECT COUNT(*), COALESCE(MIN(at_ms), 0) FROM incident_events"
                      " WHERE incident_id = $1 AND kind = 2",
                      id, &f->matches, &f->first_match_ms, err)) ||
        (st = one_row(c,
                      "SELECT COUNT(*), COALESCE(MIN(at_ms), 0) FROM incident_events"
                      " WHERE incident_id = $1 AND kind = 3",
                      id, &f->blocks, &f->first_block_ms, err)) ||
        (st = one_row(c,
                      "SELECT COUNT(*) FROM incident_events"
                      " WHERE incident_id = $1 AND kind = 2 AND verdict = 1",
                      id, &f->reviews, NULL, err)))
        goto fail;
    f->first_hash_to_block_ms =
        f->first_signal_ms && f->first_block_ms && f->first_block_ms >= f->first_signal_ms
            ? f->first_block_ms - f->first_signal_ms
            : -1;
    if ((st = td_store_prepare(c,
                               "SELECT at_ms / 3600000,"
                               " SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END),"
                               " SUM(CASE WHEN kind = 3 THEN 1 ELSE 0 END)"
                               " FROM incident_events WHERE incident_id = $1 AND kind >= 2"
                               " GROUP BY at_ms / 3600000 ORDER BY 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)))
        goto fail;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && f->n_hours < HOURS_MAX) {
        if ((st = td__grow((void **)&f->hours, &cap, f->n_hours + 1, sizeof *f->hours, err)))
            break;
        td_incident_hour *h = &f->hours[f->n_hours++];
        h->hour_ms = td_stmt_column_int64(q, 0) * HOUR_MS;
        h->matches = td_stmt_column_int64(q, 1);
        h->blocks = td_stmt_column_int64(q, 2);
    }
    td_stmt_reset(q);
    if (st ||
        (st = counts(c,
                     "SELECT source, COUNT(*) FROM incident_events WHERE incident_id = $1"
                     " AND kind = 1 GROUP BY source ORDER BY 2 DESC, 1",
                     id, 0, &f->sources, &f->n_sources, err)) ||
        (st = counts(c,
                     "SELECT bank, COUNT(*) FROM incident_events WHERE incident_id = $1"
                     " AND kind = 1 GROUP BY bank ORDER BY 2 DESC, 1",
                     id, 0, &f->banks, &f->n_banks, err)) ||
        (st = counts(c,
                     "SELECT type, COUNT(*) FROM incident_events WHERE incident_id = $1"
                     " AND kind = 1 GROUP BY type ORDER BY 2 DESC, 1",
                     id, 1, &f->types, &f->n_types, err)))
        goto fail;
    return TD_OK;
fail:
    td_incident_figures_clear(f);
    return st;
}

/* ---- the report ---- */

static json_t *time_or_null(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

static json_t *counts_json(const td_incident_count *k, size_t n, const char *key)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:I}", key, k[i].name, "signals", (json_int_t)k[i].signals));
    return a;
}

static json_t *timeline_item(int64_t at, const char *event)
{
    return json_pack("{s:I, s:s}", "at_ms", (json_int_t)at, "event", event);
}

/* Markdown-escaped copy of s into b. */
static td_status md_text(td__buf *b, const char *s)
{
    td_status st = TD_OK;
    for (; *s && st == TD_OK; s++) {
        if (strchr("\\`*_{}[]<>|~", *s))
            st = td__buf_add(b, "\\", 1);
        if (st == TD_OK)
            st = td__buf_add(b, s, 1);
    }
    return st;
}

static void when(int64_t ms, char *out, size_t cap)
{
    if (ms)
        td__time_format(ms, TD__TIME_SHORT, out, cap);
    else
        snprintf(out, cap, "-");
}

static void duration(int64_t ms, char *out, size_t cap)
{
    if (ms < 0)
        snprintf(out, cap, "-");
    else if (ms < 60000)
        snprintf(out, cap, "%.3f s", (double)ms / 1000.0);
    else
        snprintf(out, cap, "%lld min %02lld s (%lld ms)", (long long)(ms / 60000),
                 (long long)(ms % 60000 / 1000), (long long)ms);
}

static td_status markdown(const td_incident *in, const td_incident_figures *f, json_t *timeline,
                          char **out, td_error *err)
{
    td__buf b;
    char t1[40], t2[40], d[64];
    td_status st;
    td__buf_init(&b, REPORT_MAX);
    if ((st = td__buf_addstr(&b, "# After-action report: ")) || (st = md_text(&b, in->name)) ||
        (st = td__buf_printf(&b, "\n\nIncident %lld, level `%s`, enforcement `%s`.\n\n",
                             (long long)in->id, td_incident_level_name(in->level),
                             td_action_name(in->enforcement))))
        goto fail;
    when(in->start_ms, t1, sizeof t1);
    if (in->start_ms != in->opened_ms && (st = td__buf_printf(&b, "- Started %s\n", t1)))
        goto fail;
    when(in->opened_ms, t1, sizeof t1);
    when(in->closed_ms, t2, sizeof t2);
    if ((st = td__buf_printf(&b, "- Opened %s by ", t1)) || (st = md_text(&b, in->opened_by)) ||
        (st = td__buf_printf(&b, "\n- Closed %s by ", t2)) || (st = md_text(&b, in->closed_by)) ||
        (st = td__buf_addstr(&b, "\n- Filter: labels ")))
        goto fail;
    for (int i = 0; i < in->filter.labels.count; i++)
        if ((st = td__buf_addstr(&b, i ? ", " : "")) || (st = md_text(&b, in->filter.labels.v[i])))
            goto fail;
    if ((st = td__buf_addstr(&b, in->filter.labels.count ? "" : "(any)")) ||
        (st = td__buf_addstr(&b, "; banks ")))
        goto fail;
    for (int i = 0; i < in->filter.n_banks; i++)
        if ((st = td__buf_addstr(&b, i ? ", " : "")) || (st = md_text(&b, in->filter.banks[i])))
            goto fail;
    duration(f->first_hash_to_block_ms, d, sizeof d);
    if ((st = td__buf_addstr(&b, in->filter.n_banks ? "" : "(any)")) ||
        (st = td__buf_printf(&b,
                             "\n\n## Summary\n\n| figure | value |\n| --- | --- |\n"
                             "| signals meeting the filter | %lld |\n| matches | %lld |\n"
                             "| blocks | %lld |\n| sent to review | %lld |\n",
                             (long long)f->signals, (long long)f->matches, (long long)f->blocks,
                             (long long)f->reviews)))
        goto fail;
    when(f->first_signal_ms, t1, sizeof t1);
    when(f->first_block_ms, t2, sizeof t2);
    if ((st = td__buf_printf(&b,
                             "| first hash | %s |\n| first block | %s |\n"
                             "| time from first hash to first block | %s |\n",
                             t1, t2, d)))
        goto fail;
    if ((st = td__buf_addstr(&b, "\n## Matches per hour\n\n")))
        goto fail;
    if (!f->n_hours && (st = td__buf_addstr(&b, "No matches.\n")))
        goto fail;
    if (f->n_hours && (st = td__buf_addstr(&b, "| hour (UTC) | matches | blocks |\n"
                                               "| --- | --- | --- |\n")))
        goto fail;
    for (size_t i = 0; i < f->n_hours; i++) {
        when(f->hours[i].hour_ms, t1, sizeof t1);
        if ((st = td__buf_printf(&b, "| %s | %lld | %lld |\n", t1, (long long)f->hours[i].matches,
                                 (long long)f->hours[i].blocks)))
            goto fail;
    }
    static const char *const heads[] = {"source", "bank", "type"};
    const td_incident_count *lists[] = {f->sources, f->banks, f->types};
    const size_t ns[] = {f->n_sources, f->n_banks, f->n_types};
    for (int k = 0; k < 3; k++) {
        if ((st = td__buf_printf(&b, "\n## Signals by %s\n\n", heads[k])))
            goto fail;
        if (!ns[k] && (st = td__buf_addstr(&b, "No signals.\n")))
            goto fail;
        if (ns[k] && (st = td__buf_printf(&b, "| %s | signals |\n| --- | --- |\n", heads[k])))
            goto fail;
        for (size_t i = 0; i < ns[k]; i++)
            if ((st = td__buf_addstr(&b, "| ")) || (st = md_text(&b, lists[k][i].name)) ||
                (st = td__buf_printf(&b, " | %lld |\n", (long long)lists[k][i].signals)))
                goto fail;
    }
    if ((st = td__buf_addstr(&b, "\n## Timeline\n\n| time (UTC) | event | detail |\n"
                                 "| --- | --- | --- |\n")))
        goto fail;
    size_t i;
    json_t *item;
    json_array_foreach(timeline, i, item)
    {
        when(json_integer_value(json_object_get(item, "at_ms")), t1, sizeof t1);
        const char *ev = json_string_value(json_object_get(item, "event"));
        if ((st = td__buf_printf(&b, "| %s | %s | ", t1, ev)))
            goto fail;
        json_t *sig = json_object_get(item, "signal");
        if (sig) {
            if ((st = md_text(&b, json_string_value(json_object_get(sig, "type")))) ||
                (st = td__buf_addstr(&b, " `")) ||
                (st = td__buf_addstr(&b, json_string_value(json_object_get(sig, "value")))) ||
                (st = td__buf_addstr(&b, "` in ")) ||
                (st = md_text(&b, json_string_value(json_object_get(sig, "bank")))) ||
                (st = td__buf_addstr(&b, " from ")) ||
                (st = md_text(&b, json_string_value(json_object_get(sig, "source")))))
                goto fail;
        } else if (json_object_get(item, "by")) {
            if ((st = td__buf_addstr(&b, "by ")) ||
                (st = md_text(&b, json_string_value(json_object_get(item, "by")))))
                goto fail;
        } else if (json_object_get(item, "content_id")) {
            const char *cid = json_string_value(json_object_get(item, "content_id"));
            if ((st = td__buf_addstr(&b, *cid ? "content " : "an upload check")) ||
                (st = md_text(&b, cid)))
                goto fail;
        }
        if ((st = td__buf_addstr(&b, " |\n")))
            goto fail;
    }
    if (f->signals > TIMELINE_SIGNALS &&
        (st = td__buf_printf(&b, "\nThe timeline lists the first %d signals of %lld.\n",
                             TIMELINE_SIGNALS, (long long)f->signals)))
        goto fail;
    *out = td__buf_take(&b, NULL);
    return *out ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
fail:
    td__buf_free(&b);
    return td__error_set(err, st, "incident report: %s", td_strerror(st));
}

/* The first match or block event as a timeline item. */
static td_status first_event(td_store_conn *c, int64_t id, int kind, const char *name,
                             json_t *timeline, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT at_ms, content_id, bank FROM incident_events"
                                    " WHERE incident_id = $1 AND kind = $2 ORDER BY at_ms, id"
                                    " LIMIT 1",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, kind, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        json_t *o = timeline_item(td_stmt_column_int64(q, 0), name);
        json_object_set_new(o, "content_id", json_string(td_stmt_column_text(q, 1)));
        json_object_set_new(o, "bank", json_string(td_stmt_column_text(q, 2)));
        json_array_append_new(timeline, o);
    }
    td_stmt_reset(q);
    return TD_OK;
}

static int timeline_cmp(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "at_ms"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "at_ms"));
    return x < y ? -1 : x > y;
}

td_status td__incident_report_build(td_store_conn *c, const td_incident *in,
                                    const td_incident_figures *f, char **json_out, char **md_out,
                                    td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    json_t *timeline = json_array(), *hours = json_array();
    *json_out = *md_out = NULL;
    json_t *o = timeline_item(in->opened_ms, "opened");
    json_object_set_new(o, "by", json_string(in->opened_by));
    json_array_append_new(timeline, o);
    if ((st = td_store_prepare(c,
                               "SELECT at_ms, signal_id, type, value, bank, source FROM"
                               " incident_events WHERE incident_id = $1 AND kind = 1"
                               " ORDER BY at_ms, id LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, in->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, TIMELINE_SIGNALS, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        json_t *e = timeline_item(td_stmt_column_int64(q, 0), "signal");
        json_object_set_new(
            e, "signal",
            json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)td_stmt_column_int64(q, 1),
                      "type", td_signal_type_name((td_signal_type)td_stmt_column_int64(q, 2)),
                      "value", td_stmt_column_text(q, 3), "bank", td_stmt_column_text(q, 4),
                      "source", td_stmt_column_text(q, 5)));
        json_array_append_new(timeline, e);
    }
    td_stmt_reset(q);
    if (st || (st = first_event(c, in->id, TD__INC_MATCH, "first_match", timeline, err)) ||
        (st = first_event(c, in->id, TD__INC_BLOCK, "first_block", timeline, err)))
        goto out;
    o = timeline_item(in->closed_ms, "closed");
    json_object_set_new(o, "by", json_string(in->closed_by));
    json_array_append_new(timeline, o);
    /* In time order; a stable order for equal times keeps "opened" first and "closed" last. */
    size_t n = json_array_size(timeline);
    json_t **items = td__mallocarray(n, sizeof *items);
    if (!items) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(timeline, i));
    for (size_t i = 1; i < n; i++) /* insertion sort: stable, and n is small */
        for (size_t j = i; j > 0 && timeline_cmp(&items[j - 1], &items[j]) > 0; j--) {
            json_t *t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    json_array_clear(timeline);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(timeline, items[i]);
    td__free(items);
    for (size_t i = 0; i < f->n_hours; i++)
        json_array_append_new(hours, json_pack("{s:I, s:I, s:I}", "hour_ms",
                                               (json_int_t)f->hours[i].hour_ms, "matches",
                                               (json_int_t)f->hours[i].matches, "blocks",
                                               (json_int_t)f->hours[i].blocks));
    json_t *summary = json_object();
    json_object_set_new(summary, "signals", json_integer(f->signals));
    json_object_set_new(summary, "matches", json_integer(f->matches));
    json_object_set_new(summary, "blocks", json_integer(f->blocks));
    json_object_set_new(summary, "reviews", json_integer(f->reviews));
    json_object_set_new(summary, "first_signal_ms", time_or_null(f->first_signal_ms));
    json_object_set_new(summary, "first_match_ms", time_or_null(f->first_match_ms));
    json_object_set_new(summary, "first_block_ms", time_or_null(f->first_block_ms));
    json_object_set_new(summary, "first_hash_to_block_ms",
                        f->first_hash_to_block_ms >= 0 ? json_integer(f->first_hash_to_block_ms)
                                                       : json_null());
    json_object_set_new(summary, "duration_ms", json_integer(in->closed_ms - in->opened_ms));
    json_t *report = json_object();
    json_object_set_new(report, "incident", td__incident_json(in));
    json_object_set_new(report, "summary", summary);
    json_object_set_new(report, "matches_per_hour", json_incref(hours));
    json_object_set_new(report, "signals_by_source",
                        counts_json(f->sources, f->n_sources, "source"));
    json_object_set_new(report, "signals_by_bank", counts_json(f->banks, f->n_banks, "bank"));
    json_object_set_new(report, "signals_by_type", counts_json(f->types, f->n_types, "type"));
    json_object_set_new(report, "timeline", json_incref(timeline));
    char *text = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(report);
    if (!text) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    *json_out = td__strdup(text);
    free(text); /* jansson's */
    if (!*json_out) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = markdown(in, f, timeline, md_out, err))) {
        td__free(*json_out);
        *json_out = NULL;
    }
out:
    json_decref(timeline);
    json_decref(hours);
    return st;
}
