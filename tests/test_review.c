/* The review workflow on the library (casework.h, docs/casework.md): the queues' counts and
 * filters against an oracle this test keeps from what it submitted (several banks, bank and signal
 * labels, sources, an incident, cases claimed, escalated and decided); reason codes (the parser's
 * limits, the TCO default list, unknown codes refused, codes stored with the decision); QA at
 * share 1 (the same reviewer refused, agreement, disagreement, reviewed twice refused, listing by
 * state), at share 0, and at share 0.5 over 400 decisions within 5 standard deviations; an
 * uploader's content; the decisions on a signal. Runs on SQLite, and on PostgreSQL as
 * test_review_pg when a server is configured. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "casework/service_int.h"
#include "support/fake_clock.h"
#include "support/store_url.h"
#include "support/support.h"
#include "takedown/incidents.h"

#define T0 ((int64_t)1780000000000)
#define MIN ((int64_t)60000)

static void check(td_status st, const td_error *err)
{
    if (st != TD_OK)
        fail_msg("status %d: %s", (int)st, err->message);
}

#define N_BANKS 4
#define N_SIGNALS 12
#define N_CONTENT 40
#define MAX_IDS 64

static const struct {
    const char *name;
    td_action action;
    const char *labels;
} banks[N_BANKS] = {{"TERROR", TD_ACTION_REVIEW, "entity:alpha"},
                    {"VIDEO", TD_ACTION_REVIEW, "type:video"},
                    {"LOGGED", TD_ACTION_LOG, ""},
                    {"SURGE", TD_ACTION_REVIEW, "entity:beta"}};
static const char *const signal_labels[] = {"", "behaviour:recruitment", "behaviour:instruction"};
static const char *const sources[] = {"upload", "e2ee_report", "exchange"};

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_incidents *inc;
    uint64_t rng;
    td_principal mod, mod2, admin, plat;
    int64_t incident;
    struct {
        int bank;
        int label;
        int64_t id;
        char sha[65];
    } sig[N_SIGNALS];
} fixture;

static void open_svc(fixture *f, double share, const char *reasons)
{
    td_service_options so;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    so.store_url = td_test_store_url(f->dir);
    so.review_qa_share = share;
    so.review_reasons = reasons;
    check(td_service_open(f->dir, &so, &f->svc, &err), &err);
    check(td_incidents_open(f->svc, NULL, &f->inc, &err), &err);
}

static void close_svc(fixture *f)
{
    td_incidents_close(f->inc);
    td_service_close(f->svc);
    f->inc = NULL;
    f->svc = NULL;
}

static void principal(td_principal *p, int64_t id, td_role role, const char *name)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    p->role = role;
    snprintf(p->name, sizeof p->name, "%s", name);
}

static void random_hex(fixture *f, char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i++)
        out[i] = hex[test_rand(&f->rng) & 15];
    out[digits] = '\0';
}

static int setup_share(void **state, double share)
{
    fixture *f = calloc(1, sizeof *f);
    td_error err;
    assert_non_null(f);
    fake_clock_set(T0);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("review-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    open_svc(f, share, NULL);
    f->rng = 0x5eed16u;
    principal(&f->mod, 7, TD_ROLE_MODERATOR, "mod-ana");
    principal(&f->mod2, 9, TD_ROLE_MODERATOR, "mod-cy");
    principal(&f->admin, 8, TD_ROLE_ADMIN, "admin-bo");
    principal(&f->plat, 11, TD_ROLE_PLATFORM, "platform-x");
    for (int i = 0; i < N_BANKS; i++) {
        td_bank b, out;
        td_bank_init(&b);
        snprintf(b.name, sizeof b.name, "%s", banks[i].name);
        b.action = banks[i].action;
        check(td_labels_parse(&b.labels, banks[i].labels, strlen(banks[i].labels), &err), &err);
        check(td_bank_create(f->svc, &b, &out, &err), &err);
    }
    for (int i = 0; i < N_SIGNALS; i++) {
        td_signal_input in;
        td_signal out;
        f->sig[i].bank = i % N_BANKS;
        f->sig[i].label = (int)(test_rand(&f->rng) % 3);
        random_hex(f, f->sig[i].sha, 64);
        td_signal_input_init(&in);
        in.type = TD_SIGNAL_SHA256;
        in.value = f->sig[i].sha;
        const char *l = signal_labels[f->sig[i].label];
        check(td_labels_parse(&in.labels, l, strlen(l), &err), &err);
        check(td_signal_add(f->svc, banks[f->sig[i].bank].name, &in, &out, &err), &err);
        f->sig[i].id = out.id;
    }
    /* An incident on bank SURGE: its matches are reviewed at top priority and name it. */
    td_incident_input in;
    td_incident out;
    memset(&in, 0, sizeof in);
    in.name = "surge";
    in.level = TD_INCIDENT_CIP;
    in.enforcement = TD_ACTION_REVIEW;
    snprintf(in.filter.banks[0], sizeof in.filter.banks[0], "SURGE");
    in.filter.n_banks = 1;
    check(td_incident_create(f->inc, &f->mod, &in, &out, &err), &err);
    f->incident = out.id;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_share(state, 1.0); }
static int setup_none(void **state) { return setup_share(state, 0.0); }
static int setup_half(void **state) { return setup_share(state, 0.5); }

static int teardown(void **state)
{
    fixture *f = *state;
    close_svc(f);
    free(f);
    return 0;
}

/* ---- content and the oracle ---- */

typedef struct item {
    char content_id[32];
    int sigs[4], n_sigs;
    int source;
    int flagged;
    int64_t case_id, opened_ms;
    td_case_state state;
    char queues[MAX_IDS][80];
    int n_queues;
} item;

static void add_id(item *it, const char *kind, const char *value)
{
    char id[80];
    if (!*value)
        return;
    snprintf(id, sizeof id, "%s:%s", kind, value);
    for (int i = 0; i < it->n_queues; i++)
        if (strcmp(it->queues[i], id) == 0)
            return;
    assert_true(it->n_queues < MAX_IDS);
    snprintf(it->queues[it->n_queues++], sizeof it->queues[0], "%s", id);
}

static void add_labels(item *it, const char *text)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        add_id(it, "label", t);
}

/* Submits item i: its signals (one as the content's hash, the others as parts), its source, and
 * what the oracle expects: a case when a review bank matched or the item was flagged, and the
 * queues of that case. */
static void submit(fixture *f, item *it, int i, const char *uploader, const td_principal *who)
{
    td_content_input in;
    td_content out;
    td_error err;
    td_hashes main, parts_h[4];
    td_content_part parts[4];
    memset(&in, 0, sizeof in);
    snprintf(it->content_id, sizeof it->content_id, "item-%d", i);
    it->n_sigs = 1 + (int)(test_rand(&f->rng) % 3);
    for (int k = 0; k < it->n_sigs; k++)
        it->sigs[k] = (int)(test_rand(&f->rng) % N_SIGNALS);
    it->source = (int)(test_rand(&f->rng) % 3);
    it->flagged = test_rand(&f->rng) % 4 == 0;
    td_hashes_init(&main);
    snprintf(main.sha256, sizeof main.sha256, "%s", f->sig[it->sigs[0]].sha);
    for (int k = 1; k < it->n_sigs; k++) {
        td_hashes_init(&parts_h[k]);
        snprintf(parts_h[k].sha256, sizeof parts_h[k].sha256, "%s", f->sig[it->sigs[k]].sha);
        memset(&parts[k - 1], 0, sizeof parts[0]);
        parts[k - 1].hashes = &parts_h[k];
    }
    in.content_id = it->content_id;
    in.uploader = uploader;
    in.hashes = &main;
    in.parts = parts;
    in.n_parts = (size_t)(it->n_sigs - 1);
    in.source = sources[it->source];
    in.open_case = it->flagged;
    in.platform_key = td_principal_platform(who);
    fake_clock_advance(MIN);
    check(td_content_submit(f->svc, &in, &out, &err), &err);
    int review = it->flagged;
    for (int k = 0; k < it->n_sigs; k++)
        review |= banks[f->sig[it->sigs[k]].bank].action == TD_ACTION_REVIEW;
    assert_int_equal(out.has_case, review);
    it->case_id = out.has_case ? out.kase.id : 0;
    it->opened_ms = fake_clock_get();
    it->state = TD_CASE_OPEN;
    it->n_queues = 0;
    if (review) {
        add_id(it, "source", sources[it->source]);
        for (int k = 0; k < it->n_sigs; k++) {
            int s = it->sigs[k], b = f->sig[s].bank;
            add_id(it, "bank", banks[b].name);
            add_labels(it, banks[b].labels);
            add_labels(it, signal_labels[f->sig[s].label]);
            if (b == 3) {
                char num[24];
                snprintf(num, sizeof num, "%lld", (long long)f->incident);
                add_id(it, "incident", num);
            }
        }
    }
    td_content_clear(&out);
}

static int has_queue(const item *it, const char *id)
{
    for (int i = 0; i < it->n_queues; i++)
        if (strcmp(it->queues[i], id) == 0)
            return 1;
    return 0;
}

static int undecided(td_case_state s)
{
    return s == TD_CASE_OPEN || s == TD_CASE_CLAIMED || s == TD_CASE_ESCALATED;
}

/* Every queue the service lists against the oracle's counts, and every queue the oracle knows
 * with an undecided case in the service's list. */
static void compare_queues(fixture *f, item *items, int n)
{
    td_queue *qs = NULL;
    size_t nq = 0;
    td_error err;
    check(td_queue_list(f->svc, &qs, &nq, &err), &err);
    /* all, four banks, labels, three sources, the incident */
    assert_true(nq >= 10);
    assert_string_equal(qs[0].id, "all");
    assert_int_equal(qs[0].kind, TD_QUEUE_ALL);
    for (size_t i = 0; i < nq; i++) {
        int64_t open = 0, claimed = 0, escalated = 0, oldest = 0;
        for (int k = 0; k < n; k++) {
            if (!items[k].case_id || !undecided(items[k].state) ||
                (i > 0 && !has_queue(&items[k], qs[i].id)))
                continue;
            open += items[k].state == TD_CASE_OPEN;
            claimed += items[k].state == TD_CASE_CLAIMED;
            escalated += items[k].state == TD_CASE_ESCALATED;
            if (!oldest || items[k].opened_ms < oldest)
                oldest = items[k].opened_ms;
        }
        if (open != qs[i].open || claimed != qs[i].claimed || escalated != qs[i].escalated ||
            oldest != qs[i].oldest_ms)
            fail_msg("queue %s: %lld/%lld/%lld oldest %lld, expected %lld/%lld/%lld oldest %lld",
                     qs[i].id, (long long)qs[i].open, (long long)qs[i].claimed,
                     (long long)qs[i].escalated, (long long)qs[i].oldest_ms, (long long)open,
                     (long long)claimed, (long long)escalated, (long long)oldest);
        if (i > 0) {
            assert_true(open + claimed + escalated > 0);
            assert_true(strcmp(qs[i - 1].id, qs[i].id) < 0 || i == 1);
            assert_non_null(qs[i].value);
            assert_string_equal(qs[i].value, strchr(qs[i].id, ':') + 1);
        }
    }
    /* No queue the oracle has with an undecided case is missing. */
    for (int k = 0; k < n; k++) {
        if (!items[k].case_id || !undecided(items[k].state))
            continue;
        for (int j = 0; j < items[k].n_queues; j++) {
            size_t i = 1;
            while (i < nq && strcmp(qs[i].id, items[k].queues[j]) != 0)
                i++;
            if (i == nq)
                fail_msg("queue %s missing", items[k].queues[j]);
        }
    }
    /* The filter: each queue's cases in every state, and each case's queue list. */
    for (size_t i = 0; i < nq; i++) {
        td_case_filter flt;
        td_case *cases = NULL;
        size_t nc = 0;
        memset(&flt, 0, sizeof flt);
        flt.states = (1u << TD_CASE_OPEN) | (1u << TD_CASE_CLAIMED) | (1u << TD_CASE_ESCALATED) |
                     (1u << TD_CASE_CLOSED);
        flt.limit = 1000;
        flt.queue = qs[i].id;
        check(td_case_list(f->svc, &flt, &cases, &nc, &err), &err);
        size_t expect = 0;
        for (int k = 0; k < n; k++)
            if (items[k].case_id && (i == 0 || has_queue(&items[k], qs[i].id))) {
                expect++;
                size_t c = 0;
                while (c < nc && cases[c].id != items[k].case_id)
                    c++;
                if (c == nc)
                    fail_msg("case %lld not in queue %s", (long long)items[k].case_id, qs[i].id);
            }
        assert_int_equal(nc, expect);
        td_free(cases);
    }
    for (int k = 0; k < n; k++) {
        td_queue *cq = NULL;
        size_t ncq = 0;
        if (!items[k].case_id)
            continue;
        check(td_case_queues(f->svc, items[k].case_id, &cq, &ncq, &err), &err);
        assert_int_equal(ncq, (size_t)items[k].n_queues);
        for (size_t j = 0; j < ncq; j++)
            assert_true(has_queue(&items[k], cq[j].id));
        td_free(cq);
    }
    td_free(qs);
}

static void test_queues(void **state)
{
    fixture *f = *state;
    item items[N_CONTENT];
    td_error err;
    for (int i = 0; i < N_CONTENT; i++)
        submit(f, &items[i], i, "u", NULL);
    compare_queues(f, items, N_CONTENT);
    /* Claims, escalations and decisions move cases between the counts and out of them. */
    int moved = 0;
    for (int i = 0; i < N_CONTENT; i++) {
        if (!items[i].case_id)
            continue;
        int64_t id = items[i].case_id;
        switch (moved++ % 4) {
        case 0: break;
        case 1:
            check(td_case_claim(f->svc, id, &f->mod, NULL, &err), &err);
            items[i].state = TD_CASE_CLAIMED;
            break;
        case 2:
            check(td_case_decide(f->svc, id, &f->mod, TD_DECISION_ESCALATE, "senior", NULL, &err),
                  &err);
            items[i].state = TD_CASE_ESCALATED;
            break;
        default:
            check(td_case_decide(f->svc, id, &f->mod, TD_DECISION_REMOVE, "clear", NULL, &err),
                  &err);
            items[i].state = TD_CASE_CLOSED;
        }
    }
    assert_true(moved >= 8);
    compare_queues(f, items, N_CONTENT);
    /* Malformed queue ids are refused; an unknown one is an empty queue. */
    td_case_filter flt;
    td_case *cases = NULL;
    size_t nc = 0;
    memset(&flt, 0, sizeof flt);
    flt.queue = "colour:red";
    assert_int_equal(td_case_list(f->svc, &flt, &cases, &nc, &err), TD_ERR_INVALID);
    flt.queue = "incident:x";
    assert_int_equal(td_case_list(f->svc, &flt, &cases, &nc, &err), TD_ERR_INVALID);
    flt.queue = "bank:NOPE";
    check(td_case_list(f->svc, &flt, &cases, &nc, &err), &err);
    assert_int_equal(nc, 0);
    td_free(cases);
    /* Every queue survives a reopen (the table, not memory). */
    close_svc(f);
    open_svc(f, 1.0, NULL);
    compare_queues(f, items, N_CONTENT);
    /* A store from before migration 12: its cases get their queues from the migration. */
    td_store_conn *c;
    check(td_store_acquire(f->svc->store, 1, &c, &err), &err);
    check(td_store_exec(c,
                        "DROP TABLE qa_reviews; DROP TABLE case_queues;"
                        " DROP INDEX matches_signal; DROP INDEX content_uploader;"
                        " ALTER TABLE decisions DROP COLUMN reason_code;"
                        " DELETE FROM schema_migrations WHERE version = 12;",
                        &err),
          &err);
    td_store_release(f->svc->store, c);
    close_svc(f);
    open_svc(f, 1.0, NULL);
    compare_queues(f, items, N_CONTENT);
}

/* ---- reasons ---- */

static int64_t new_case(fixture *f, int i);

static void test_reasons(void **state)
{
    fixture *f = *state;
    td_review_reason *list = NULL;
    size_t n = 0;
    td_error err;
    /* The default: the TCO Regulation's categories, then the two others. */
    const td_review_reason *def = td_review_reasons(f->svc, &n);
    static const char *const tco[] = {"incitement",  "solicitation", "participation",
                                      "instruction", "threat",       "not_terrorist_content",
                                      "other"};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(def[i].code, tco[i]);
        assert_true(strlen(def[i].label) > 0);
    }
    check(td_review_reasons_parse(" a=Alpha ; b_2=Beta label = with equals;c=Ç", &list, &n, &err),
          &err);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].code, "a");
    assert_string_equal(list[0].label, "Alpha");
    assert_string_equal(list[1].code, "b_2");
    assert_string_equal(list[1].label, "Beta label = with equals");
    assert_string_equal(list[2].label, "Ç");
    td_free(list);
    static const char *const bad[] = {"",     "a",       "=x",       "A=x",     "a-b=x",  "a=",
                                      "a=x;", "a=x;a=y", "a=x;;b=y", "a=\x01x", "a=\xff", NULL};
    for (int i = 0; bad[i]; i++) {
        list = NULL;
        if (td_review_reasons_parse(bad[i], &list, &n, &err) == TD_OK)
            fail_msg("'%s' accepted", bad[i]);
        assert_null(list);
    }
    /* Limits: codes of 40, labels of 120 characters (multi-byte ones count once), 64 reasons. */
    char text[64 * 32], code[64], label[512];
    memset(code, 'c', 40);
    code[40] = '\0';
    label[0] = '\0';
    for (int i = 0; i < 120; i++)
        strcat(label, "\xc3\xa9"); /* é */
    snprintf(text, sizeof text, "%s=%s", code, label);
    check(td_review_reasons_parse(text, &list, &n, &err), &err);
    td_free(list);
    snprintf(text, sizeof text, "%sc=x", code);
    assert_int_equal(td_review_reasons_parse(text, &list, &n, &err), TD_ERR_INVALID);
    snprintf(text, sizeof text, "c=%se", label);
    assert_int_equal(td_review_reasons_parse(text, &list, &n, &err), TD_ERR_INVALID);
    size_t len = 0;
    for (int i = 0; i < 64; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%sr%d=R", i ? ";" : "", i);
    check(td_review_reasons_parse(text, &list, &n, &err), &err);
    assert_int_equal(n, 64);
    td_free(list);
    snprintf(text + len, sizeof text - len, ";r64=R");
    assert_int_equal(td_review_reasons_parse(text, &list, &n, &err), TD_ERR_LIMIT);
    /* A configured list replaces the default; unknown codes are refused, known ones stored. */
    close_svc(f);
    open_svc(f, 0.0, "glorify=Glorification;news=Newsworthy");
    def = td_review_reasons(f->svc, &n);
    assert_int_equal(n, 2);
    int64_t case_id = new_case(f, 100);
    td_decision d;
    assert_int_equal(td_case_decide_coded(f->svc, case_id, &f->mod, TD_DECISION_REMOVE,
                                          "incitement", "why", &d, &err),
                     TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "reason_code"));
    check(td_case_decide_coded(f->svc, case_id, &f->mod, TD_DECISION_REMOVE, "glorify", "why", &d,
                               &err),
          &err);
    assert_string_equal(d.reason_code, "glorify");
    td_decision *ds = NULL;
    size_t nd = 0;
    check(td_case_decisions(f->svc, case_id, &ds, &nd, &err), &err);
    assert_int_equal(nd, 1);
    assert_string_equal(ds[0].reason_code, "glorify");
    assert_string_equal(ds[0].reason, "why");
    td_free(ds);
    /* A service refuses a malformed list at its start. */
    close_svc(f);
    td_service_options so;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.store_url = td_test_store_url(f->dir);
    so.review_reasons = "Bad=x";
    assert_int_equal(td_service_open(f->dir, &so, &f->svc, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "review_reasons"));
    so.review_reasons = NULL;
    so.review_qa_share = 1.5;
    assert_int_equal(td_service_open(f->dir, &so, &f->svc, &err), TD_ERR_INVALID);
    open_svc(f, 0.0, NULL);
}

/* ---- QA ---- */

static int64_t new_case(fixture *f, int i)
{
    td_content_input in;
    td_content out;
    td_hashes h;
    td_error err;
    char id[32];
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    snprintf(id, sizeof id, "qa-%d", i);
    in.content_id = id;
    in.hashes = &h;
    in.open_case = 1;
    fake_clock_advance(1000);
    check(td_content_submit(f->svc, &in, &out, &err), &err);
    assert_true(out.has_case);
    int64_t case_id = out.kase.id;
    td_content_clear(&out);
    return case_id;
}

static size_t qa_count(fixture *f, unsigned states)
{
    td_qa *list = NULL;
    size_t n = 0, total = 0;
    td_error err;
    for (size_t off = 0;; off += n) {
        check(td_qa_list(f->svc, states, 1000, off, &list, &n, &err), &err);
        td_free(list);
        total += n;
        if (n < 1000)
            return total;
    }
}

static void test_qa_all(void **state)
{
    fixture *f = *state;
    td_error err;
    td_decision d;
    td_qa a;
    int same = 0;
    int64_t c1 = new_case(f, 1), c2 = new_case(f, 2), c3 = new_case(f, 3);
    check(td_case_decide_coded(f->svc, c1, &f->mod, TD_DECISION_REMOVE, "incitement", "flag", &d,
                               &err),
          &err);
    /* An escalation is not a decision QA samples. */
    check(td_case_decide(f->svc, c3, &f->mod, TD_DECISION_ESCALATE, "senior", NULL, &err), &err);
    td_qa *list = NULL;
    size_t n = 0;
    check(td_qa_list(f->svc, 0, 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].case_id, c1);
    assert_string_equal(list[0].content_id, "qa-1");
    assert_int_equal(list[0].state, TD_QA_PENDING);
    assert_int_equal(list[0].first.id, d.id);
    assert_int_equal(list[0].first.kind, TD_DECISION_REMOVE);
    assert_string_equal(list[0].first.reason_code, "incitement");
    assert_string_equal(list[0].first.reason, "flag");
    assert_string_equal(list[0].first.principal_name, "mod-ana");
    assert_false(list[0].has_second);
    int64_t q1 = list[0].id;
    td_free(list);
    /* The first reviewer may not review again; the second may, once. */
    assert_int_equal(
        td_qa_decide(f->svc, q1, &f->mod, TD_DECISION_REMOVE, NULL, "me", &same, &a, &err),
        TD_ERR_CONFLICT);
    assert_int_equal(same, 1);
    assert_int_equal(
        td_qa_decide(f->svc, q1, &f->mod2, TD_DECISION_ESCALATE, NULL, "x", &same, &a, &err),
        TD_ERR_INVALID);
    assert_int_equal(
        td_qa_decide(f->svc, q1, &f->mod2, TD_DECISION_KEEP, "nope", "x", &same, &a, &err),
        TD_ERR_INVALID);
    check(td_qa_decide(f->svc, q1, &f->mod2, TD_DECISION_KEEP, "not_terrorist_content", "satire",
                       &same, &a, &err),
          &err);
    assert_int_equal(a.state, TD_QA_DISAGREED);
    assert_true(a.has_second);
    assert_int_equal(a.second.kind, TD_DECISION_KEEP);
    assert_string_equal(a.second.reason_code, "not_terrorist_content");
    assert_string_equal(a.second.principal_name, "mod-cy");
    assert_int_equal(
        td_qa_decide(f->svc, q1, &f->admin, TD_DECISION_KEEP, NULL, "late", &same, &a, &err),
        TD_ERR_CONFLICT);
    assert_int_equal(same, 0);
    assert_int_equal(
        td_qa_decide(f->svc, 999, &f->admin, TD_DECISION_KEEP, NULL, "late", &same, &a, &err),
        TD_ERR_NOT_FOUND);
    /* The case keeps its decision. */
    td_case k;
    check(td_case_get(f->svc, c1, &k, &err), &err);
    assert_int_equal(k.state, TD_CASE_CLOSED);
    assert_int_equal(k.outcome, TD_DECISION_REMOVE);
    /* Agreement. */
    check(td_case_decide(f->svc, c2, &f->mod, TD_DECISION_KEEP, "fine", NULL, &err), &err);
    check(td_qa_list(f->svc, 1u << TD_QA_PENDING, 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 1);
    int64_t q2 = list[0].id;
    assert_true(q2 > q1);
    td_free(list);
    check(td_qa_decide(f->svc, q2, &f->admin, TD_DECISION_KEEP, NULL, "agree", &same, &a, &err),
          &err);
    assert_int_equal(a.state, TD_QA_AGREED);
    /* Newest first, by state. */
    check(td_qa_list(f->svc, 0, 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, q2);
    assert_int_equal(list[1].id, q1);
    td_free(list);
    assert_int_equal(qa_count(f, 1u << TD_QA_DISAGREED), 1);
    assert_int_equal(qa_count(f, 1u << TD_QA_AGREED), 1);
    assert_int_equal(qa_count(f, 1u << TD_QA_PENDING), 0);
    check(td_qa_get(f->svc, q1, &a, &err), &err);
    assert_int_equal(a.state, TD_QA_DISAGREED);
}

static void test_qa_none(void **state)
{
    fixture *f = *state;
    td_error err;
    for (int i = 0; i < 20; i++)
        check(td_case_decide(f->svc, new_case(f, i), &f->mod,
                             i % 2 ? TD_DECISION_KEEP : TD_DECISION_REMOVE, "r", NULL, &err),
              &err);
    assert_int_equal(qa_count(f, 0), 0);
}

static void test_qa_half(void **state)
{
    fixture *f = *state;
    td_error err;
    const int n = 400;
    for (int i = 0; i < n; i++)
        check(td_case_decide(f->svc, new_case(f, i), &f->mod, TD_DECISION_REMOVE, "r", NULL, &err),
              &err);
    /* Binomial(400, 0.5): mean 200, standard deviation 10. */
    double got = (double)qa_count(f, 1u << TD_QA_PENDING);
    if (fabs(got - n * 0.5) > 5 * sqrt(n * 0.25))
        fail_msg("%g of %d decisions sampled at share 0.5", got, n);
}

/* ---- an uploader's content, a signal's decisions ---- */

static void test_uploader_and_history(void **state)
{
    fixture *f = *state;
    item items[24];
    td_error err;
    for (int i = 0; i < 24; i++)
        submit(f, &items[i], i, i % 3 == 0 ? "alice" : "bob", i % 6 == 0 ? &f->plat : NULL);
    /* Decide some. */
    for (int i = 0; i < 24; i += 2)
        if (items[i].case_id)
            check(td_case_decide_coded(f->svc, items[i].case_id, &f->mod,
                                       i % 4 ? TD_DECISION_KEEP : TD_DECISION_REMOVE,
                                       i % 4 ? NULL : "threat", "seen", NULL, &err),
                  &err);
    td_content_brief *list = NULL;
    size_t n = 0;
    check(td_content_by_uploader(f->svc, NULL, "alice", 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 8);
    for (size_t k = 0; k < n; k++) {
        const item *it = &items[21 - 3 * (int)k]; /* newest first */
        assert_string_equal(list[k].content_id, it->content_id);
        assert_string_equal(list[k].source, sources[it->source]);
        assert_int_equal(list[k].case_id, it->case_id);
        assert_int_equal(list[k].matches >= 1, 1);
        int decided = it->case_id && (21 - 3 * (int)k) % 2 == 0;
        assert_int_equal(list[k].case_state,
                         it->case_id ? (decided ? TD_CASE_CLOSED : TD_CASE_OPEN) : 0);
        assert_int_equal(list[k].decision != 0, decided);
    }
    td_free(list);
    /* Paging, and a platform sees only its own. */
    check(td_content_by_uploader(f->svc, NULL, "alice", 3, 6, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].content_id, items[3].content_id);
    td_free(list);
    check(td_content_by_uploader(f->svc, &f->plat, "alice", 0, 0, &list, &n, &err), &err);
    assert_int_equal(n, 4);
    td_free(list);
    assert_int_equal(td_content_by_uploader(f->svc, NULL, "", 0, 0, &list, &n, &err),
                     TD_ERR_INVALID);
    /* Decisions on each signal: those on cases whose content matched it, newest first. */
    for (int s = 0; s < N_SIGNALS; s++) {
        td_decision_ref *ds = NULL;
        size_t nd = 0;
        check(td_signal_decisions(f->svc, banks[f->sig[s].bank].name, f->sig[s].id, 0, &ds, &nd,
                                  &err),
              &err);
        size_t expect = 0;
        for (int i = 0; i < 24; i++) {
            int matched = 0;
            for (int k = 0; k < items[i].n_sigs; k++)
                matched |= items[i].sigs[k] == s;
            if (!matched || !items[i].case_id || i % 2)
                continue;
            expect++;
            size_t j = 0;
            while (j < nd && ds[j].decision.case_id != items[i].case_id)
                j++;
            assert_true(j < nd);
            assert_string_equal(ds[j].content_id, items[i].content_id);
            assert_string_equal(ds[j].decision.reason_code, i % 4 ? "" : "threat");
        }
        assert_int_equal(nd, expect);
        for (size_t j = 1; j < nd; j++)
            assert_true(ds[j - 1].decision.decided_ms >= ds[j].decision.decided_ms);
        td_free(ds);
    }
    td_decision_ref *ds = NULL;
    size_t nd = 0;
    assert_int_equal(td_signal_decisions(f->svc, "VIDEO", f->sig[0].id, 0, &ds, &nd, &err),
                     TD_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qa_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qa_none, setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_qa_half, setup_half, teardown),
        cmocka_unit_test_setup_teardown(test_uploader_and_history, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
