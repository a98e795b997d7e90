/* Incident mode (incidents.h) on the library: the filter's semantics against an oracle written
 * here, enforcement at once on the upload check, content intake and the re-check of recent
 * content after a signal is added (by hand or by a bulk import), the match records naming the
 * incident, the recording of new signals and matches, the pushes (webhook event "incident"), and
 * the after-action report's numbers against counts this test keeps itself. Runs on SQLite, and
 * on PostgreSQL as test_incidents_pg when a server is configured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "casework/service_int.h"
#include "support/fake_clock.h"
#include "support/store_url.h"
#include "support/support.h"
#include "takedown/incidents.h"

#define T0 ((int64_t)1780000000000) /* 2026-05-28 */
#define MIN ((int64_t)60000)
#define HOUR (60 * MIN)

static void check(td_status st, const td_error *err)
{
    if (st != TD_OK)
        fail_msg("status %d: %s", (int)st, err->message);
}

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_incidents *inc;
    uint64_t rng;
    td_principal mod, admin;
} fixture;

static void open_all(fixture *f)
{
    td_service_options so;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    so.store_url = td_test_store_url(f->dir);
    check(td_service_open(f->dir, &so, &f->svc, &err), &err);
    check(td_incidents_open(f->svc, NULL, &f->inc, &err), &err);
}

static void bank(fixture *f, const char *name, td_action action, td_bank_kind kind,
                 const char *labels)
{
    td_bank b, out;
    td_error err;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.action = action;
    b.kind = kind;
    if (labels)
        check(td_labels_parse(&b.labels, labels, strlen(labels), &err), &err);
    check(td_bank_create(f->svc, &b, &out, &err), &err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    td_error err;
    assert_non_null(f);
    fake_clock_set(T0);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("incidents-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    open_all(f);
    f->rng = 0x1c1dea7u;
    f->mod.id = 7;
    f->mod.role = TD_ROLE_MODERATOR;
    snprintf(f->mod.name, sizeof f->mod.name, "mod-ana");
    f->admin.id = 8;
    f->admin.role = TD_ROLE_ADMIN;
    snprintf(f->admin.name, sizeof f->admin.name, "admin-bo");
    /* LOG: records only (bank label entity:alpha); REVIEW and BLOCK: the usual actions; NEWS:
     * an allow bank (news footage). */
    bank(f, "LOG", TD_ACTION_LOG, TD_BANK_NORMAL, "entity:alpha");
    bank(f, "REVIEW", TD_ACTION_REVIEW, TD_BANK_NORMAL, NULL);
    bank(f, "SHARED", TD_ACTION_LOG, TD_BANK_NORMAL, NULL);
    bank(f, "NEWS", TD_ACTION_LOG, TD_BANK_ALLOW, NULL);
    td_webhook w;
    check(td_webhook_create(f->svc, "http://127.0.0.1:9/hook", "0123456789abcdef-incidents",
                            TD_EVENT_ALL, &w, &err),
          &err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    td_incidents_close(f->inc);
    td_service_close(f->svc);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void random_hex(fixture *f, char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i++)
        out[i] = hex[test_rand(&f->rng) & 15];
    out[digits] = '\0';
}

static int64_t add_signal(fixture *f, const char *bank_name, td_signal_type type, const char *value,
                          const char *labels, const char *source)
{
    td_signal_input in;
    td_signal out;
    td_error err;
    td_signal_input_init(&in);
    in.type = type;
    in.value = value;
    in.source = source;
    if (labels)
        check(td_labels_parse(&in.labels, labels, strlen(labels), &err), &err);
    check(td_signal_add(f->svc, bank_name, &in, &out, &err), &err);
    return out.id;
}

static int64_t open_incident(fixture *f, const char *name, const char *labels, const char *banks,
                             td_action enforcement)
{
    td_incident_input in;
    td_incident out;
    td_error err;
    memset(&in, 0, sizeof in);
    in.name = name;
    in.level = TD_INCIDENT_CIP;
    in.enforcement = enforcement;
    if (labels)
        check(td_labels_parse(&in.filter.labels, labels, strlen(labels), &err), &err);
    for (const char *p = banks; p && *p;) {
        size_t k = strcspn(p, " ");
        memcpy(in.filter.banks[in.filter.n_banks], p, k);
        in.filter.banks[in.filter.n_banks++][k] = '\0';
        p += k;
        while (*p == ' ')
            p++;
    }
    check(td_incident_create(f->inc, &f->mod, &in, &out, &err), &err);
    assert_true(out.open);
    assert_string_equal(out.opened_by, "mod-ana");
    return out.id;
}

/* The upload check of one SHA-256. */
static td_verdict check_sha(fixture *f, const char *sha, int64_t *incident, td_action *action)
{
    td_hashes h;
    td_check_result res;
    td_error err;
    td_hashes_init(&h);
    snprintf(h.sha256, sizeof h.sha256, "%.64s", sha);
    check(td_check_hashes(f->svc, &h, NULL, &res, &err), &err);
    td_verdict v = res.verdict;
    if (incident)
        *incident = res.match_count ? res.matches[0].incident_id : -1;
    if (action)
        *action = res.match_count ? res.matches[0].action : TD_ACTION_LOG;
    td_check_result_clear(&res);
    return v;
}

static int64_t count(fixture *f, const char *sql)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    td_error err;
    check(td_store_acquire(f->svc->store, 0, &c, &err), &err);
    check(td_store_prepare(c, sql, &q, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_true(row);
    int64_t v = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    td_store_release(f->svc->store, c);
    return v;
}

static void submit(fixture *f, const char *id, const char *sha, td_content *out)
{
    td_content_input in;
    td_hashes h;
    td_error err;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    snprintf(h.sha256, sizeof h.sha256, "%.64s", sha);
    in.content_id = id;
    in.hashes = &h;
    check(td_content_submit(f->svc, &in, out, &err), &err);
}

/* ---- the filter ---- */

/* The oracle: labels any-of (none given: any), banks one-of (none given: any), at least one of
 * the two given; allow banks never. Written from the contract, not from the code. */
static int oracle(const char *const *want_labels, int nl, const char *const *want_banks, int nb,
                  const char *bank_name, int allow, const char *const *have, int nh)
{
    if (allow || (nl == 0 && nb == 0))
        return 0;
    int bank_ok = nb == 0, label_ok = nl == 0;
    for (int i = 0; i < nb; i++)
        bank_ok |= strcmp(want_banks[i], bank_name) == 0;
    for (int i = 0; i < nl; i++)
        for (int j = 0; j < nh; j++)
            label_ok |= strcmp(want_labels[i], have[j]) == 0;
    return bank_ok && label_ok;
}

static void test_filter_semantics(void **state)
{
    fixture *f = *state;
    static const char *const pool[] = {"incident:ch", "entity:alpha", "type:video", "x:1"};
    static const char *const banks[] = {"LOG", "SHARED", "NEWS"};
    td_error err;
    /* Random filters and matches, compared with the oracle: labels as the match records them
     * (the bank's merged with the signal's). */
    for (int round = 0; round < 400; round++) {
        td__incident_rule r;
        memset(&r, 0, sizeof r);
        const char *wl[4], *wb[3], *have[4];
        int nl = 0, nb = 0, nh = 0;
        for (int i = 0; i < 4; i++)
            if (test_rand(&f->rng) % 3 == 0) {
                wl[nl++] = pool[i];
                check(td_labels_add(&r.labels, pool[i], &err), &err);
            }
        for (int i = 0; i < 3; i++)
            if (test_rand(&f->rng) % 4 == 0) {
                wb[nb++] = banks[i];
                snprintf(r.banks[r.n_banks++], sizeof r.banks[0], "%s", banks[i]);
            }
        td_labels labels = {0};
        for (int i = 0; i < 4; i++)
            if (test_rand(&f->rng) % 2 == 0) {
                have[nh++] = pool[i];
                check(td_labels_add(&labels, pool[i], &err), &err);
            }
        int b = (int)(test_rand(&f->rng) % 3);
        td_match m;
        memset(&m, 0, sizeof m);
        snprintf(m.bank, sizeof m.bank, "%s", banks[b]);
        m.labels = labels;
        m.kind = b == 2 ? TD_BANK_ALLOW : TD_BANK_NORMAL;
        r.id = 1;
        r.action = TD_ACTION_BLOCK;
        check(td__incident_rules_set(f->svc, &r, 1, &err), &err);
        td__incident_apply(f->svc, &m);
        assert_int_equal(m.incident_id != 0, oracle(wl, nl, wb, nb, banks[b], b == 2, have, nh));
    }
    check(td_incidents_tick(f->inc, &err), &err); /* the stored (no) incidents again */

    /* Through the service: signals with labels of their own and from their bank. */
    char s1[65], s2[65], s3[65], s4[65];
    random_hex(f, s1, 64);
    random_hex(f, s2, 64);
    random_hex(f, s3, 64);
    random_hex(f, s4, 64);
    add_signal(f, "LOG", TD_SIGNAL_SHA256, s1, "incident:ch", "manual");
    add_signal(f, "LOG", TD_SIGNAL_SHA256, s2, NULL, "manual"); /* bank label entity:alpha */
    add_signal(f, "REVIEW", TD_SIGNAL_SHA256, s3, "incident:ch", "manual");
    add_signal(f, "SHARED", TD_SIGNAL_SHA256, s4, "other", "manual");
    int64_t id;
    td_action action;
    assert_int_equal(check_sha(f, s1, &id, NULL), TD_VERDICT_ALLOW); /* log */
    assert_int_equal(id, 0);
    assert_int_equal(check_sha(f, s3, NULL, NULL), TD_VERDICT_REVIEW);
    int64_t a = open_incident(f, "Attack A", "incident:ch", NULL, TD_ACTION_BLOCK);
    assert_int_equal(check_sha(f, s1, &id, &action), TD_VERDICT_BLOCK);
    assert_int_equal(id, a);
    assert_int_equal(action, TD_ACTION_LOG); /* the bank's own action is unchanged */
    assert_int_equal(check_sha(f, s3, &id, NULL), TD_VERDICT_BLOCK);
    assert_int_equal(id, a);
    assert_int_equal(check_sha(f, s2, &id, NULL), TD_VERDICT_ALLOW);
    assert_int_equal(id, 0);
    /* The bank's label counts: a review incident on entity:alpha in LOG only. */
    int64_t b = open_incident(f, "Attack B", "entity:alpha", "LOG", TD_ACTION_REVIEW);
    assert_int_equal(check_sha(f, s2, &id, NULL), TD_VERDICT_REVIEW);
    assert_int_equal(id, b);
    /* s1 meets both: the stronger enforcement (A's block) wins. */
    assert_int_equal(check_sha(f, s1, &id, NULL), TD_VERDICT_BLOCK);
    assert_int_equal(id, a);
    assert_int_equal(check_sha(f, s4, &id, NULL), TD_VERDICT_ALLOW);
    /* An allow bank still suppresses: the same hash in NEWS. */
    add_signal(f, "NEWS", TD_SIGNAL_SHA256, s1, NULL, "manual");
    assert_int_equal(check_sha(f, s1, NULL, NULL), TD_VERDICT_ALLOW);
    /* Closing ends enforcement. */
    td_incident closed;
    check(td_incident_close(f->inc, a, &f->admin, &closed, &err), &err);
    assert_false(closed.open);
    assert_string_equal(closed.closed_by, "admin-bo");
    assert_int_equal(check_sha(f, s3, &id, NULL), TD_VERDICT_REVIEW);
    assert_int_equal(id, 0);
    assert_int_equal(td_incident_close(f->inc, a, &f->admin, NULL, &err), TD_ERR_CONFLICT);
    /* Refusals name what is wrong. */
    td_incident_input bad;
    memset(&bad, 0, sizeof bad);
    bad.name = "x";
    bad.level = TD_INCIDENT_CIP;
    bad.enforcement = TD_ACTION_BLOCK;
    assert_int_equal(td_incident_create(f->inc, &f->mod, &bad, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "filter"));
    snprintf(bad.filter.banks[0], sizeof bad.filter.banks[0], "NOPE");
    bad.filter.n_banks = 1;
    assert_int_equal(td_incident_create(f->inc, &f->mod, &bad, NULL, &err), TD_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "filter.banks[0]"));
    bad.filter.n_banks = 0;
    check(td_labels_add(&bad.filter.labels, "ok", &err), &err);
    bad.enforcement = TD_ACTION_LOG;
    assert_int_equal(td_incident_create(f->inc, &f->mod, &bad, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "enforcement"));
    bad.enforcement = TD_ACTION_BLOCK;
    bad.name = "bad\x01name";
    assert_int_equal(td_incident_create(f->inc, &f->mod, &bad, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "name"));
}

/* ---- enforcement on content ---- */

static void test_content_and_recheck(void **state)
{
    fixture *f = *state;
    td_error err;
    char early[65], late[65], rev[65];
    random_hex(f, early, 64);
    random_hex(f, late, 64);
    random_hex(f, rev, 64);
    int64_t a = open_incident(f, "Attack C", "incident:c", NULL, TD_ACTION_BLOCK);
    int64_t removes0 = count(f, "SELECT COUNT(*) FROM deliveries WHERE event = 'remove'");
    /* Intake after the signal: blocked, the platform told to remove it. */
    add_signal(f, "LOG", TD_SIGNAL_SHA256, early, "incident:c", "gifct");
    td_content c;
    submit(f, "post-1", early, &c);
    assert_int_equal(c.verdict, TD_VERDICT_BLOCK);
    assert_int_equal(c.match_count, 1);
    assert_int_equal(c.matches[0].incident_id, a);
    assert_int_equal(c.matches[0].incident_action, TD_ACTION_BLOCK);
    td_content_clear(&c);
    check(td_content_get(f->svc, "post-1", &c, &err), &err);
    assert_int_equal(c.matches[0].incident_id, a); /* as stored */
    td_content_clear(&c);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM deliveries WHERE event = 'remove'"),
                     removes0 + 1);
    /* Intake before the signal: the re-check blocks it when the signal arrives. */
    submit(f, "post-2", late, &c);
    assert_int_equal(c.verdict, TD_VERDICT_ALLOW);
    td_content_clear(&c);
    fake_clock_advance(MIN);
    add_signal(f, "SHARED", TD_SIGNAL_SHA256, late, "incident:c", "tcap");
    check(td_content_get(f->svc, "post-2", &c, &err), &err);
    assert_int_equal(c.verdict, TD_VERDICT_BLOCK);
    assert_int_equal(c.matches[0].incident_id, a);
    td_content_clear(&c);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM deliveries WHERE event = 'remove'"),
                     removes0 + 2);
    /* Review at top priority: above an escalated case of the most severe labels. */
    int64_t r = open_incident(f, "Review D", "incident:d", NULL, TD_ACTION_REVIEW);
    add_signal(f, "LOG", TD_SIGNAL_SHA256, rev, "incident:d", "manual");
    submit(f, "post-3", rev, &c);
    assert_int_equal(c.verdict, TD_VERDICT_REVIEW);
    assert_true(c.has_case);
    assert_int_equal(c.kase.priority, TD_CASE_PRIORITY_INCIDENT);
    assert_true(c.kase.priority > 100 * 100 + 100 + 100000);
    assert_int_equal(c.matches[0].incident_id, r);
    td_content_clear(&c);
    /* A bulk import of incident hashes: each imported signal blocks at once. */
    char lines[20 * 80] = "", imported[20][65];
    for (int i = 0; i < 20; i++) {
        random_hex(f, imported[i], 64);
        size_t n = strlen(lines);
        snprintf(lines + n, sizeof lines - n, "sha256 %s\n", imported[i]);
    }
    td_import_options io;
    td_import_options_init(&io);
    io.source = "gifct-import";
    check(td_labels_add(&io.labels, "incident:c", &err), &err);
    td_import *imp;
    td_import_result res;
    check(td_import_begin(f->svc, "SHARED", &io, &imp, &err), &err);
    check(td_import_feed(imp, lines, strlen(lines), &err), &err);
    check(td_import_finish(imp, &res, &err), &err);
    assert_int_equal(res.added, 20);
    td_import_result_clear(&res);
    for (int i = 0; i < 20; i++)
        assert_int_equal(check_sha(f, imported[i], NULL, NULL), TD_VERDICT_BLOCK);
    /* Recorded: 2 + 20 signals for A, matches: 2 content items and 20 checks, all blocked. */
    td_incident_figures fig;
    check(td_incident_figures_get(f->inc, a, &fig, &err), &err);
    assert_int_equal(fig.signals, 22);
    assert_int_equal(fig.matches, 22);
    assert_int_equal(fig.blocks, 22);
    td_incident_figures_clear(&fig);
}

/* ---- recording and the report ---- */

typedef struct expected {
    int64_t signals, matches, blocks;
    int64_t first_signal, first_block;
    int64_t hour_matches[6], hour_blocks[6];
    int64_t by_source[3]; /* gifct, tcap, manual */
} expected;

static json_t *find_count(json_t *arr, const char *key, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, key)), name) == 0)
            return v;
    }
    return NULL;
}

static void test_report_numbers(void **state)
{
    fixture *f = *state;
    td_error err;
    expected e;
    memset(&e, 0, sizeof e);
    int64_t start = T0 - T0 % HOUR + 5 * MIN; /* five minutes into an hour */
    fake_clock_set(start);
    int64_t deliveries0 = count(f, "SELECT COUNT(*) FROM deliveries WHERE event = 'incident'");
    uint64_t audit0;
    check(td_audit_size(td_service_audit(f->svc), &audit0, &err), &err);
    int64_t id = open_incident(f, "Attack | *E*", "incident:e behaviour:graphic_violence", NULL,
                               TD_ACTION_BLOCK);
    /* Before any signal: a match on an older signal meeting the filter does not start the
     * "first hash" clock (it was not seen during the incident). */
    static const char *const sources[3] = {"gifct", "tcap", "manual"};
    char values[30][65];
    int source_of[30];
    /* Over four hours: signals arrive (some in two banks, some not meeting the filter), checks
     * match some of them; this test counts what it did. */
    for (int i = 0; i < 30; i++) {
        int hour = i / 8; /* 0..3 */
        fake_clock_set(start + hour * HOUR + (i % 8) * MIN);
        random_hex(f, values[i], 64);
        source_of[i] = (int)(test_rand(&f->rng) % 3);
        int meets = i % 5 != 4;
        add_signal(f, i % 2 ? "LOG" : "SHARED", TD_SIGNAL_SHA256, values[i],
                   meets ? (i % 3 ? "incident:e" : "behaviour:graphic_violence") : "other:x",
                   sources[source_of[i]]);
        if (meets) {
            e.signals++;
            e.by_source[source_of[i]]++;
            if (!e.first_signal)
                e.first_signal = fake_clock_get();
            if (i % 7 == 0) { /* the same hash in a second bank: still one signal */
                add_signal(f, "REVIEW", TD_SIGNAL_SHA256, values[i], "incident:e", "manual");
            }
        }
        /* Checks of this and older signals. */
        if (i % 2 == 0) {
            fake_clock_advance(30 * 1000);
            int j = i / 2;
            td_verdict v = check_sha(f, values[j], NULL, NULL);
            int j_meets = j % 5 != 4;
            if (j_meets) {
                e.matches++;
                e.hour_matches[(fake_clock_get() - (start - 5 * MIN)) / HOUR]++;
                assert_int_equal(v, TD_VERDICT_BLOCK);
                e.blocks++;
                e.hour_blocks[(fake_clock_get() - (start - 5 * MIN)) / HOUR]++;
                if (!e.first_block)
                    e.first_block = fake_clock_get();
            } else {
                assert_true(v != TD_VERDICT_BLOCK);
            }
        }
        if (i % 4 == 1)
            check(td_incidents_tick(f->inc, &err), &err); /* as the thread would */
    }
    /* Live figures. */
    td_incident_figures fig;
    check(td_incident_figures_get(f->inc, id, &fig, &err), &err);
    assert_int_equal(fig.signals, e.signals);
    assert_int_equal(fig.matches, e.matches);
    assert_int_equal(fig.blocks, e.blocks);
    assert_int_equal(fig.first_signal_ms, e.first_signal);
    assert_int_equal(fig.first_block_ms, e.first_block);
    assert_int_equal(fig.first_hash_to_block_ms, e.first_block - e.first_signal);
    td_incident_figures_clear(&fig);
    fake_clock_advance(HOUR);
    td_incident closed;
    check(td_incident_close(f->inc, id, &f->admin, &closed, &err), &err);
    /* The report. */
    char *text;
    size_t len;
    check(td_incident_report(f->inc, id, 0, &text, &len, &err), &err);
    json_error_t jerr;
    json_t *rep = json_loadb(text, len, 0, &jerr);
    td_free(text);
    assert_non_null(rep);
    json_t *sum = json_object_get(rep, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "signals")), e.signals);
    assert_int_equal(json_integer_value(json_object_get(sum, "matches")), e.matches);
    assert_int_equal(json_integer_value(json_object_get(sum, "blocks")), e.blocks);
    assert_int_equal(json_integer_value(json_object_get(sum, "first_hash_to_block_ms")),
                     e.first_block - e.first_signal);
    assert_int_equal(json_integer_value(json_object_get(sum, "duration_ms")),
                     closed.closed_ms - closed.opened_ms);
    json_t *hours = json_object_get(rep, "matches_per_hour");
    int64_t hour0 = start - 5 * MIN;
    size_t listed = 0;
    for (int h = 0; h < 6; h++) {
        if (!e.hour_matches[h])
            continue;
        json_t *row = json_array_get(hours, listed++);
        assert_non_null(row);
        assert_int_equal(json_integer_value(json_object_get(row, "hour_ms")), hour0 + h * HOUR);
        assert_int_equal(json_integer_value(json_object_get(row, "matches")), e.hour_matches[h]);
        assert_int_equal(json_integer_value(json_object_get(row, "blocks")), e.hour_blocks[h]);
    }
    assert_int_equal(json_array_size(hours), listed);
    json_t *by_source = json_object_get(rep, "signals_by_source");
    for (int s = 0; s < 3; s++) {
        json_t *row = find_count(by_source, "source", sources[s]);
        if (!e.by_source[s]) {
            assert_null(row);
            continue;
        }
        assert_non_null(row);
        assert_int_equal(json_integer_value(json_object_get(row, "signals")), e.by_source[s]);
    }
    json_t *timeline = json_object_get(rep, "timeline");
    assert_string_equal(json_string_value(json_object_get(json_array_get(timeline, 0), "event")),
                        "opened");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(timeline, json_array_size(timeline) - 1), "event")),
                        "closed");
    json_decref(rep);
    /* Markdown: the numbers, and the name escaped. */
    check(td_incident_report(f->inc, id, 1, &text, &len, &err), &err);
    assert_non_null(strstr(text, "Attack \\| \\*E\\*"));
    char line[128];
    snprintf(line, sizeof line, "| blocks | %lld |", (long long)e.blocks);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "| signals meeting the filter | %lld |", (long long)e.signals);
    assert_non_null(strstr(text, line));
    td_free(text);
    /* Pushes: opened, one per new signal, closed. */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM deliveries WHERE event = 'incident'"),
                     deliveries0 + 1 + e.signals + 1);
    /* Audit: opened and closed, by their actors. */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_entries WHERE action = 'incident.opened'"
                              " AND actor = 'mod-ana'"),
                     1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_entries WHERE action = 'incident.closed'"
                              " AND actor = 'admin-bo'"),
                     1);
    /* After closing: no more events recorded, no report change. */
    check(td_incidents_tick(f->inc, &err), &err);
    check(td_incident_figures_get(f->inc, id, &fig, &err), &err);
    assert_int_equal(fig.matches, e.matches);
    td_incident_figures_clear(&fig);
    /* A report of an open incident is not there yet. */
    int64_t other = open_incident(f, "Open F", "incident:f", NULL, TD_ACTION_BLOCK);
    assert_int_equal(td_incident_report(f->inc, other, 0, &text, &len, &err), TD_ERR_CONFLICT);
    td_incident *list;
    size_t n;
    check(td_incident_list(f->inc, 1, 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, other);
    td_free(list);
    check(td_incident_list(f->inc, 0, 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, other); /* newest first */
    td_free(list);
    (void)audit0;
}

/* ---- a second node on the same store ---- */

static void test_second_node_reload(void **state)
{
    fixture *f = *state;
    td_error err;
    char v[65];
    random_hex(f, v, 64);
    add_signal(f, "LOG", TD_SIGNAL_SHA256, v, "incident:g", "manual");
    /* A second handle on the same service stands for another node: its tick loads the rules. */
    td_incidents *other;
    check(td_incidents_open(f->svc, NULL, &other, &err), &err);
    int64_t id = open_incident(f, "G", "incident:g", NULL, TD_ACTION_BLOCK);
    check(td__incident_rules_set(f->svc, NULL, 0, &err), &err); /* as if never told */
    assert_int_equal(check_sha(f, v, NULL, NULL), TD_VERDICT_ALLOW);
    check(td_incidents_tick(other, &err), &err);
    assert_int_equal(check_sha(f, v, NULL, NULL), TD_VERDICT_BLOCK);
    td_incidents_close(other);
    check(td_incidents_tick(f->inc, &err), &err);
    /* A start before the opening: the signals since then are the incident's, not those before. */
    char before[65], after[65];
    random_hex(f, before, 64);
    random_hex(f, after, 64);
    add_signal(f, "SHARED", TD_SIGNAL_SHA256, before, "incident:h", "manual");
    fake_clock_advance(MIN);
    int64_t started = fake_clock_get();
    fake_clock_advance(MIN);
    add_signal(f, "SHARED", TD_SIGNAL_SHA256, after, "incident:h", "tcap");
    int64_t after_at = fake_clock_get();
    fake_clock_advance(10 * MIN);
    td_incident_input in;
    memset(&in, 0, sizeof in);
    in.name = "H";
    in.level = TD_INCIDENT_INCIDENT;
    in.enforcement = TD_ACTION_BLOCK;
    check(td_labels_add(&in.filter.labels, "incident:h", &err), &err);
    in.start_ms = fake_clock_get() + 2 * MIN; /* the future */
    assert_int_equal(td_incident_create(f->inc, &f->mod, &in, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "start_ms"));
    in.start_ms = started;
    td_incident h;
    check(td_incident_create(f->inc, &f->mod, &in, &h, &err), &err);
    assert_int_equal(h.start_ms, started);
    assert_int_equal(h.opened_ms, fake_clock_get());
    td_incident_figures fig;
    check(td_incident_figures_get(f->inc, h.id, &fig, &err), &err);
    assert_int_equal(fig.signals, 1);
    assert_int_equal(fig.first_signal_ms, after_at);
    assert_string_equal(fig.sources[0].name, "tcap");
    td_incident_figures_clear(&fig);
    /* Both are enforced, old or new. */
    assert_int_equal(check_sha(f, before, NULL, NULL), TD_VERDICT_BLOCK);
    assert_int_equal(check_sha(f, after, NULL, NULL), TD_VERDICT_BLOCK);
    td_incident got;
    check(td_incident_get(f->inc, id, &got, &err), &err);
    assert_string_equal(got.name, "G");
    assert_int_equal(td_incident_get(f->inc, id + 100, &got, &err), TD_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filter_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_and_recheck, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_node_reload, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
