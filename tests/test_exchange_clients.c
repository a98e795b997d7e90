/* The ThreatExchange and TCAP clients (src/exchange/client_te.c, client_tcap.c) against the
 * services' documented answers, served by tests/support/fake_exchange.c on 127.0.0.1 from a
 * dataset given here. The expectations are written beside each record of the dataset (the type,
 * value, flags and labels it must give, or that it is skipped), not derived from the clients:
 * every record of every page comes out exactly once and in order, checkpoints resume exactly
 * where they left, faults (429 with Retry-After, 503, rate-limit and OAuth errors, a page cut
 * short or of the wrong shape, an expired token) give the outcome the interface documents and no
 * item, and the requests the fake received (arguments, form bodies, Authorization) have the
 * documented form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exchange/client.h"
#include "exchange/client_parse.h"
#include "support/fake_exchange.h"

#define GROUP "303636684709969"
#define TOKEN "1234567890123|abcDEF_ghi-JKLmnopqrstu"
#define NOW_S 1700000000LL
#define NOW_MS (NOW_S * 1000)
#define TE_FIELDS                                                                                  \
    "id,indicator,type,creation_time,last_updated,should_delete,tags,status,"                      \
    "applications_with_opinions"

static fake_exchange *fx;

/* ---- what the tests compare ---- */

typedef struct got {
    td_signal_type type;
    char value[300];
    int remove, negative;
    char labels[400]; /* the labels joined with ',' */
    char id[TD__XID_MAX + 1];
    int64_t updated_ms;
} got;

typedef struct run {
    got items[2000];
    size_t n;
    uint64_t skipped;
    int pages;
    char checkpoint[TD__XCHECKPOINT_MAX + 1];
} run;

/* The page's labels (joined by spaces) joined with ',' as the expectations write them. */
static void join_labels(const char *l, char *out, size_t cap)
{
    snprintf(out, cap, "%s", l);
    for (char *c = out; *c; c++)
        if (*c == ' ')
            *c = ',';
}

static void collect(run *r, const td__xpage *p)
{
    for (size_t i = 0; i < p->n; i++) {
        assert_true(r->n < sizeof r->items / sizeof r->items[0]);
        got *g = &r->items[r->n++];
        const td__xitem *it = &p->items[i];
        g->type = it->type;
        assert_true(it->value_len < sizeof g->value);
        assert_int_equal(strlen(it->value), it->value_len);
        memcpy(g->value, it->value, it->value_len + 1);
        g->remove = it->remove;
        g->negative = it->negative;
        join_labels(it->labels, g->labels, sizeof g->labels);
        snprintf(g->id, sizeof g->id, "%s", it->external_id);
        g->updated_ms = it->updated_ms;
    }
    r->skipped += p->skipped;
    r->pages++;
}

/* Fetches from checkpoint until the source has no more, each page's checkpoint the next start. */
static void drain(const td__xclient *c, td__xconn *x, const char *checkpoint, run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->checkpoint, sizeof r->checkpoint, "%s", checkpoint);
    td__xpage page;
    memset(&page, 0, sizeof page);
    for (int guard = 0; guard < 2000; guard++) {
        td_error err;
        td_status st = c->fetch(x, r->checkpoint, &page, &err);
        if (st != TD_OK)
            fail_msg("fetch failed: %s (outcome %d)", err.message, x->outcome);
        assert_int_equal(x->outcome, TD__XFETCH_OK);
        assert_int_equal(x->last_status, 200);
        collect(r, &page);
        snprintf(r->checkpoint, sizeof r->checkpoint, "%s", page.checkpoint);
        int more = page.more;
        td__xpage_clear(&page);
        if (!more)
            return;
    }
    fail_msg("the source never ran out of pages");
}

typedef struct want {
    td_signal_type type; /* 0: the record is skipped */
    const char *value;
    int remove, negative;
    const char *labels;
    int64_t updated_s;
} want;

static void check_items(const run *r, size_t from, const want *w, const char *const *ids,
                        size_t n_records, uint64_t skipped_expected)
{
    size_t k = from;
    for (size_t i = 0; i < n_records; i++) {
        if (w[i].type == 0)
            continue;
        if (k >= r->n)
            fail_msg("record %zu (%s) did not come out", i, ids[i]);
        const got *g = &r->items[k++];
        if (strcmp(g->id, ids[i]) != 0)
            fail_msg("item %zu is %s, expected record %zu (%s)", k - 1, g->id, i, ids[i]);
        assert_int_equal(g->type, w[i].type);
        assert_string_equal(g->value, w[i].value);
        assert_int_equal(g->remove, w[i].remove);
        assert_int_equal(g->negative, w[i].negative);
        assert_string_equal(g->labels, w[i].labels);
        assert_int_equal(g->updated_ms, w[i].updated_s * 1000);
    }
    assert_int_equal(k, r->n);
    assert_int_equal(r->skipped, skipped_expected);
}

static void te_conn(td__xconn *x)
{
    memset(x, 0, sizeof *x);
    x->base_url = fx_base_url(fx);
    x->group = GROUP;
    x->credentials = json_pack("{s:s}", "token", TOKEN);
    x->http.allow_private = 1;
    x->http.max_bytes = 1 << 20;
    x->http.timeout_ms = 10000;
    x->max_items = 1000;
    x->page_size = 4;
    x->now_ms = NOW_MS;
}

static void conn_free(td__xconn *x) { json_decref(x->credentials); }

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* ---- the ThreatExchange dataset ---- */

#define PDQ_A "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define PDQ_B "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
#define PDQ_B_LOW "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define MD5_A "d41d8cd98f00b204e9800998ecf8427e"
#define MD5_B "460ECAEB03F4870B1DB43EDA1C7FAED7"
#define MD5_B_LOW "460ecaeb03f4870b1db43eda1c7faed7"
#define SHA_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A record: id, indicator, type, last_updated, should_delete, status, tags_graph, time_as_string,
 * then its tags. */
#define TE(id, ind, type, t, del, status, graph, str, ...)                                         \
    {                                                                                              \
        id, ind, type, t, del, status, {__VA_ARGS__}, graph, str                                   \
    }

static const fx_te_record te_data[] = {
    TE("1001", PDQ_A, "HASH_PDQ", 1600000001, 0, "MALICIOUS", 0, 0, "media_type_photo",
       "terrorism"),
    TE("1002", PDQ_B, "HASH_PDQ", 1600000002, 0, "NON_MALICIOUS", 0, 0, "media_type_photo"),
    TE("1003", MD5_A, "HASH_MD5", 1600000003, 1, NULL, 0, 0, NULL),
    TE("1004", MD5_B, "HASH_VIDEO_MD5", 1600000004, 0, "MALICIOUS", 1, 0, "violent extremism", "x"),
    TE("1005", "0123456789abcdef", "HASH_TMK", 1600000005, 0, "MALICIOUS", 0, 0, NULL),
    TE("1006", SHA_A, "HASH_SHA256", 1600000006, 0, NULL, 0, 1, "gifct:terrorism"),
    TE("1007", "https://propaganda.example/video?id=7", "URI", 1600000007, 0, "MALICIOUS", 0, 0,
       "url", "t\xc3\xa9l\xc3\xa9gram  channel!"),
    TE("1008", "We will strike again at dawn", "TEXT_STRING", 1600000008, 0, "MALICIOUS", 0, 0,
       NULL),
    TE("1009", "not-a-pdq-hash", "HASH_PDQ", 1600000009, 0, "MALICIOUS", 0, 0, NULL),
    TE("1010", PDQ_A, "HASH_PDQ", 1600000010, 0, "UNKNOWN", 0, 0, "media_type_photo"),
    TE("1011", SHA_A, "HASH_VIDEO_SHA256", 1600000010, 0, "SUSPICIOUS", 0, 0, NULL),
    TE("1012", "http://raw.example/", "RAW_URI", 1600000011, 0, "MALICIOUS", 0, 0, "___", "ok.tag"),
    TE("1013", "8.8.8.8", "IP_ADDRESS", 1600000011, 0, "MALICIOUS", 0, 0, NULL),
};
#define TE_N (sizeof te_data / sizeof te_data[0])

static const want te_want[TE_N] = {
    {TD_SIGNAL_PDQ, PDQ_A, 0, 0, "media_type_photo,terrorism", 1600000001},
    {TD_SIGNAL_PDQ, PDQ_B_LOW, 0, 1, "media_type_photo", 1600000002},
    {TD_SIGNAL_MD5, MD5_A, 1, 0, "", 1600000003},
    {TD_SIGNAL_MD5, MD5_B_LOW, 0, 0, "violent_extremism,x", 1600000004},
    {0},
    {TD_SIGNAL_SHA256, SHA_A, 0, 0, "gifct:terrorism", 1600000006},
    {TD_SIGNAL_URL, "https://propaganda.example/video?id=7", 0, 0, "url,t_l_gram_channel",
     1600000007},
    {TD_SIGNAL_TEXT, "We will strike again at dawn", 0, 0, "", 1600000008},
    {0},
    {TD_SIGNAL_PDQ, PDQ_A, 1, 0, "media_type_photo", 1600000010},
    {TD_SIGNAL_SHA256, SHA_A, 1, 0, "", 1600000010},
    {TD_SIGNAL_URL, "http://raw.example/", 0, 0, "___,ok.tag", 1600000011},
    {0},
};

static const char *te_ids[TE_N];

static void te_reset(void)
{
    for (size_t i = 0; i < TE_N; i++)
        te_ids[i] = te_data[i].id;
    fx_te_set(fx, GROUP, TOKEN, te_data, TE_N, 4);
    fx_te_next_only(fx, 0);
    fx_requests_clear(fx);
}

/* Every record of every page once, in order, mapped as written above; the requests carry the
 * token, the fields, the limit and the previous page's cursor. */
static void test_te_pages(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    static run r;
    drain(&td__xclient_threatexchange, &x, "", &r);
    assert_int_equal(r.pages, 4); /* 13 records, 4 a page */
    check_items(&r, 0, te_want, te_ids, TE_N, 3);
    /* The run is over: the next starts at the highest last_updated (1600000011). */
    assert_string_equal(r.checkpoint, "since=1600000011;max=1600000011;at=1700000000");

    assert_int_equal(fx_request_count(fx), 4);
    char v[1024];
    for (size_t i = 0; i < 4; i++) {
        fx_request q;
        assert_true(fx_request_get(fx, i, &q));
        assert_string_equal(q.method, "GET");
        assert_string_equal(q.path, "/" GROUP "/threat_updates/");
        assert_string_equal(fx_arg(q.query, "access_token", 0, v, sizeof v), TOKEN);
        assert_string_equal(fx_arg(q.query, "fields", 0, v, sizeof v), TE_FIELDS);
        assert_string_equal(fx_arg(q.query, "limit", 0, v, sizeof v), "4");
        assert_null(fx_arg(q.query, "start_time", 0, v, sizeof v));
        assert_null(fx_arg(q.query, "types", 0, v, sizeof v));
        if (i == 0) {
            assert_null(fx_arg(q.query, "after", 0, v, sizeof v));
        } else {
            char want_c[32];
            snprintf(want_c, sizeof want_c, "QVFI%zu==", i * 4);
            assert_string_equal(fx_arg(q.query, "after", 0, v, sizeof v), want_c);
        }
    }
    conn_free(&x);
}

/* A checkpoint taken in the middle of a run resumes at the next page; one taken at the end of a
 * run resumes from its highest last_updated with the changes made since (a status changed, a
 * deletion, a new record), the records of that very second coming again. */
static void test_te_resume(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    assert_int_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_true(page.more);
    char mid[TD__XCHECKPOINT_MAX + 1];
    snprintf(mid, sizeof mid, "%s", page.checkpoint);
    assert_string_equal(mid, "since=0;max=1600000004;at=1700000000;after=QVFI4==");
    td__xpage_clear(&page);
    /* Another process (a restart) resumes from it: the rest, exactly. */
    td__xconn y;
    te_conn(&y);
    static run r;
    drain(&td__xclient_threatexchange, &y, mid, &r);
    check_items(&r, 0, te_want + 4, te_ids + 4, TE_N - 4, 3);
    assert_string_equal(r.checkpoint, "since=1600000011;max=1600000011;at=1700000000");

    /* The group changes: 1001 turns NON_MALICIOUS, 1006 is deleted, 1014 is new. ThreatExchange
     * moves an updated record to the end of the feed. */
    static fx_te_record later[TE_N + 3];
    size_t m = 0;
    for (size_t i = 0; i < TE_N; i++)
        if (strcmp(te_data[i].id, "1001") != 0 && strcmp(te_data[i].id, "1006") != 0)
            later[m++] = te_data[i];
    later[m++] = (fx_te_record)TE("1001", PDQ_A, "HASH_PDQ", 1600000020, 0, "NON_MALICIOUS", 0, 0,
                                  "media_type_photo");
    later[m++] = (fx_te_record)TE("1006", SHA_A, "HASH_SHA256", 1600000021, 1, NULL, 0, 0, NULL);
    later[m++] =
        (fx_te_record)TE("1014", MD5_A, "HASH_MD5", 1600000022, 0, "MALICIOUS", 0, 0, "new");
    fx_te_set(fx, GROUP, TOKEN, later, m, 4);
    fx_requests_clear(fx);
    static run r2;
    drain(&td__xclient_threatexchange, &y, r.checkpoint, &r2);
    static const want w2[] = {
        {TD_SIGNAL_URL, "http://raw.example/", 0, 0, "___,ok.tag", 1600000011}, /* again */
        {0},                                                                    /* 1013 again */
        {TD_SIGNAL_PDQ, PDQ_A, 0, 1, "media_type_photo", 1600000020},
        {TD_SIGNAL_SHA256, SHA_A, 1, 0, "", 1600000021},
        {TD_SIGNAL_MD5, MD5_A, 0, 0, "new", 1600000022},
    };
    static const char *const ids2[] = {"1012", "1013", "1001", "1006", "1014"};
    check_items(&r2, 0, w2, ids2, 5, 1);
    fx_request q;
    char v[64];
    assert_true(fx_request_get(fx, 0, &q));
    assert_string_equal(fx_arg(q.query, "start_time", 0, v, sizeof v), "1600000011");
    assert_string_equal(r2.checkpoint, "since=1600000022;max=1600000022;at=1700000000");
    conn_free(&x);
    conn_free(&y);
}

/* Filters: the types asked of the source (types=) and applied again here, the tags applied
 * here; what a filter leaves out is counted as skipped, and retractions always pass. */
static void test_te_filters(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    x.types = 1u << TD_SIGNAL_PDQ;
    static run r;
    drain(&td__xclient_threatexchange, &x, "", &r);
    fx_request q;
    char v[256];
    assert_true(fx_request_get(fx, 0, &q));
    assert_string_equal(fx_arg(q.query, "types", 0, v, sizeof v), "HASH_PDQ");
    /* The fake serves 1001, 1002, 1009, 1010: 1009 is no PDQ hash. */
    static const want wp[] = {
        {TD_SIGNAL_PDQ, PDQ_A, 0, 0, "media_type_photo,terrorism", 1600000001},
        {TD_SIGNAL_PDQ, PDQ_B_LOW, 0, 1, "media_type_photo", 1600000002},
        {0},
        {TD_SIGNAL_PDQ, PDQ_A, 1, 0, "media_type_photo", 1600000010},
    };
    static const char *const idp[] = {"1001", "1002", "1009", "1010"};
    check_items(&r, 0, wp, idp, 4, 1);

    /* Tags: only additions carrying "terrorism" or "ok.tag"; retractions and negatives pass. */
    x.types = 0;
    x.tags.count = 0;
    assert_int_equal(td_labels_add(&x.tags, "terrorism", NULL), TD_OK);
    assert_int_equal(td_labels_add(&x.tags, "ok.tag", NULL), TD_OK);
    fx_requests_clear(fx);
    drain(&td__xclient_threatexchange, &x, "", &r);
    want wt[TE_N];
    memcpy(wt, te_want, sizeof wt);
    uint64_t skipped = 3;
    for (size_t i = 0; i < TE_N; i++)
        if (wt[i].type && !wt[i].remove && !wt[i].negative && !strstr(wt[i].labels, "terrorism") &&
            !strstr(wt[i].labels, "ok.tag"))
            wt[i].type = 0, skipped++;
    /* gifct:terrorism is not the label terrorism */
    wt[5].type = 0;
    skipped++;
    check_items(&r, 0, wt, te_ids, TE_N, skipped);
    assert_true(r.n >= 4);
    conn_free(&x);
}

/* Paging with only paging.next: the cursor is read from its after= argument. */
static void test_te_next_only(void **state)
{
    (void)state;
    te_reset();
    fx_te_next_only(fx, 1);
    td__xconn x;
    te_conn(&x);
    static run r;
    drain(&td__xclient_threatexchange, &x, "", &r);
    check_items(&r, 0, te_want, te_ids, TE_N, 3);
    fx_te_next_only(fx, 0);
    conn_free(&x);
}

/* 429 with Retry-After, 503, a rate-limit error: RETRY, no item; the same checkpoint then
 * works. */
static void test_te_retry(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    fx_inject(fx, FX_FAULT_429, 7);
    assert_int_not_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_RETRY);
    assert_int_equal(x.last_status, 429);
    assert_int_equal(x.retry_after_ms, 7000);
    assert_int_equal(page.n, 0);
    assert_non_null(strstr(err.message, "429"));
    fx_inject(fx, FX_FAULT_503, 0);
    assert_int_not_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_RETRY);
    assert_int_equal(x.last_status, 503);
    assert_int_equal(x.retry_after_ms, 0);
    assert_int_equal(page.n, 0);
    fx_inject(fx, FX_FAULT_TE_RATE, 0);
    assert_int_not_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_RETRY);
    assert_int_equal(x.last_status, 400);
    assert_non_null(strstr(err.message, "Application request limit"));
    assert_int_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_OK);
    assert_int_equal(page.n, 4);
    td__xpage_clear(&page);
    conn_free(&x);
}

/* A page cut short and a page of the wrong shape: MALFORMED, the page refused whole (no item),
 * the error naming what is wrong, the digest of what was received kept for the audit. */
static void test_te_malformed(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    static const char cut[] = "{\"data\":[{\"id\":\"1\",\"indicator\":\"ab";
    fx_inject(fx, FX_FAULT_MALFORMED, 0);
    assert_int_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_ERR_CORRUPT);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_int_equal(page.n, 0);
    assert_null(page.items);
    assert_int_equal(page.more, 0);
    assert_non_null(strstr(err.message, "not JSON"));
    uint8_t want_sha[32];
    sha256(cut, sizeof cut - 1, want_sha);
    assert_int_equal(page.bytes, sizeof cut - 1);
    assert_memory_equal(page.sha256, want_sha, 32);
    fx_inject(fx, FX_FAULT_WRONG_SHAPE, 0);
    assert_int_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_ERR_CORRUPT);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_int_equal(page.n, 0);
    assert_non_null(strstr(err.message, "'data'"));

    /* A record of the wrong shape in the middle of a good page refuses the whole page. */
    static const char mixed[] =
        "{\"data\":[{\"id\":\"1\",\"indicator\":\"" PDQ_A "\",\"type\":\"HASH_PDQ\","
        "\"last_updated\":5,\"status\":\"MALICIOUS\"},{\"id\":\"2\",\"indicator\":\"" PDQ_A
        "\",\"type\":\"HASH_PDQ\",\"last_updated\":\"soon\"}]}";
    memset(&page, 0, sizeof page);
    assert_int_equal(td__te_parse_page(mixed, sizeof mixed - 1, &x, &page, &err), TD_ERR_CORRUPT);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_int_equal(page.n, 0);
    assert_non_null(strstr(err.message, "data[1].last_updated"));
    conn_free(&x);
}

/* Credentials refused: a wrong token (the Graph API's OAuthException, code 190), the same error
 * as a fault, no token at all. */
static void test_te_auth(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    json_object_set_new(x.credentials, "token", json_string("1234567890123|wrong"));
    assert_int_not_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_AUTH);
    assert_int_equal(page.n, 0);
    json_object_set_new(x.credentials, "token", json_string(TOKEN));
    fx_inject(fx, FX_FAULT_TE_OAUTH, 0);
    assert_int_not_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_AUTH);
    json_object_del(x.credentials, "token");
    size_t before = fx_request_count(fx);
    assert_int_not_equal(td__xclient_threatexchange.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_AUTH);
    assert_int_equal(fx_request_count(fx), before); /* nothing sent */
    conn_free(&x);
}

/* Checkpoints: one older than 85 days asks for a full resync without a request (deletions older
 * than 90 days are gone from the feed); one of 84 days is resumed; one this client never writes
 * is refused. */
static void test_te_checkpoints(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    char cp[128];
    snprintf(cp, sizeof cp, "since=1600000005;max=1600000005;at=%lld", NOW_S - 86 * 86400LL);
    assert_int_equal(td__xclient_threatexchange.fetch(&x, cp, &page, &err), TD_OK);
    assert_int_equal(page.resync, 1);
    assert_int_equal(page.n, 0);
    assert_string_equal(page.checkpoint, "");
    assert_int_equal(fx_request_count(fx), 0);
    snprintf(cp, sizeof cp, "since=1600000010;max=1600000010;at=%lld", NOW_S - 84 * 86400LL);
    assert_int_equal(td__xclient_threatexchange.fetch(&x, cp, &page, &err), TD_OK);
    assert_int_equal(page.resync, 0);
    assert_int_equal(page.n, 3); /* 1010, 1011, 1012 (1013 skipped) */
    assert_string_equal(page.items[0].external_id, "1010");
    td__xpage_clear(&page);
    /* A start time set by hand. */
    assert_int_equal(td__xclient_threatexchange.fetch(&x, "1600000011", &page, &err), TD_OK);
    assert_int_equal(page.n, 1);
    assert_string_equal(page.items[0].external_id, "1012");
    td__xpage_clear(&page);
    static const char *const bad[] = {"garbage", "since=1;max=2",
                                      "since=1;max=2;at=3;after=", "since=1;max=2;at=3;after=a b",
                                      "since=-1;max=2;at=3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(td__xclient_threatexchange.fetch(&x, bad[i], &page, &err), TD_ERR_INVALID);
        assert_int_equal(x.outcome, TD__XFETCH_FAILED);
    }
    conn_free(&x);
}

/* A reaction and an upload: the requests the fake received have the Graph API's form. */
static void test_te_react_upload(void **state)
{
    (void)state;
    te_reset();
    td__xconn x;
    te_conn(&x);
    td_error err;
    static const char *const reactions[] = {"SAW_THIS_TOO", "HELPFUL", "NOT_HELPFUL",
                                            "DISAGREE_WITH_TAGS"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(td__xclient_threatexchange.react(&x, "1001", reactions[i], &err), TD_OK);
    assert_int_equal(fx_request_count(fx), 4);
    char v[1024];
    for (size_t i = 0; i < 4; i++) {
        fx_request q;
        assert_true(fx_request_get(fx, i, &q));
        assert_string_equal(q.method, "POST");
        assert_string_equal(q.path, "/1001");
        assert_string_equal(q.content_type, "application/x-www-form-urlencoded");
        assert_string_equal(fx_arg(q.body, "access_token", 1, v, sizeof v), TOKEN);
        assert_string_equal(fx_arg(q.body, "reactions", 1, v, sizeof v), reactions[i]);
        assert_string_equal(q.query, ""); /* the token is not in the URL */
    }
    /* Refused before anything is sent. */
    assert_int_equal(td__xclient_threatexchange.react(&x, "1001", "LIKE", &err), TD_ERR_INVALID);
    assert_int_equal(td__xclient_threatexchange.react(&x, "10/../01", "HELPFUL", &err),
                     TD_ERR_INVALID);
    assert_int_equal(fx_request_count(fx), 4);

    fx_requests_clear(fx);
    td_labels tags;
    memset(&tags, 0, sizeof tags);
    assert_int_equal(td_labels_add(&tags, "terrorism", NULL), TD_OK);
    assert_int_equal(td_labels_add(&tags, "incident:cip-2026-01", NULL), TD_OK);
    char id[TD__XID_MAX + 1];
    assert_int_equal(td__xclient_threatexchange.upload(&x, TD_SIGNAL_PDQ, PDQ_B, 64, &tags,
                                                       "attack footage, re-encoded", id, &err),
                     TD_OK);
    assert_string_equal(id, "9000000000000");
    fx_request q;
    assert_true(fx_request_get(fx, 0, &q));
    assert_string_equal(q.method, "POST");
    assert_string_equal(q.path, "/threat_descriptors");
    assert_string_equal(fx_arg(q.body, "access_token", 1, v, sizeof v), TOKEN);
    assert_string_equal(fx_arg(q.body, "indicator", 1, v, sizeof v), PDQ_B_LOW);
    assert_string_equal(fx_arg(q.body, "type", 1, v, sizeof v), "HASH_PDQ");
    assert_string_equal(fx_arg(q.body, "description", 1, v, sizeof v),
                        "attack footage, re-encoded");
    assert_string_equal(fx_arg(q.body, "share_level", 1, v, sizeof v), "AMBER");
    assert_string_equal(fx_arg(q.body, "status", 1, v, sizeof v), "MALICIOUS");
    assert_string_equal(fx_arg(q.body, "privacy_type", 1, v, sizeof v), "HAS_PRIVACY_GROUP");
    assert_string_equal(fx_arg(q.body, "privacy_members", 1, v, sizeof v), GROUP);
    assert_string_equal(fx_arg(q.body, "tags", 1, v, sizeof v), "terrorism,incident:cip-2026-01");
    /* A URL goes as URI, a second upload gets the next id, a share level from the credentials. */
    json_object_set_new(x.credentials, "share_level", json_string("RED"));
    static const char url[] = "https://x.example/a b";
    assert_int_equal(td__xclient_threatexchange.upload(&x, TD_SIGNAL_URL, url, sizeof url - 1, NULL,
                                                       NULL, id, &err),
                     TD_OK);
    assert_string_equal(id, "9000000000001");
    assert_true(fx_request_get(fx, 1, &q));
    assert_string_equal(fx_arg(q.body, "type", 1, v, sizeof v), "URI");
    assert_string_equal(fx_arg(q.body, "indicator", 1, v, sizeof v), url);
    assert_string_equal(fx_arg(q.body, "share_level", 1, v, sizeof v), "RED");
    assert_null(fx_arg(q.body, "tags", 1, v, sizeof v));
    /* Types ThreatExchange has no name for here, and bad hashes, are refused unsent. */
    assert_int_equal(
        td__xclient_threatexchange.upload(&x, TD_SIGNAL_VPDQ, "x", 1, NULL, NULL, id, &err),
        TD_ERR_UNSUPPORTED);
    assert_int_equal(
        td__xclient_threatexchange.upload(&x, TD_SIGNAL_PDQ, "abc", 3, NULL, NULL, id, &err),
        TD_ERR_INVALID);
    assert_int_equal(fx_request_count(fx), 2);
    conn_free(&x);
}

/* A generated feed of 20,000 records in pages of 1,000, each record checked against the
 * generator's record i. */
static void test_te_generated(void **state)
{
    (void)state;
    const size_t n = 20000;
    fx_te_generate(fx, GROUP, TOKEN, n, 1000);
    fx_requests_clear(fx);
    td__xconn x;
    te_conn(&x);
    x.page_size = 1000;
    x.max_items = 1000;
    td__xpage page;
    memset(&page, 0, sizeof page);
    char cp[TD__XCHECKPOINT_MAX + 1] = "";
    size_t i = 0, skipped = 0, pages = 0;
    td_error err;
    do {
        assert_int_equal(td__xclient_threatexchange.fetch(&x, cp, &page, &err), TD_OK);
        pages++;
        skipped += page.skipped;
        for (size_t k = 0; k < page.n; k++, i++) {
            fx_te_record r;
            char id[24], ind[72];
            fx_te_generated(i, &r, id, ind);
            while (strcmp(r.type, "HASH_TMK") == 0) { /* no signal type here: skipped */
                i++;
                fx_te_generated(i, &r, id, ind);
            }
            const td__xitem *it = &page.items[k];
            assert_string_equal(it->external_id, id);
            assert_string_equal(it->value, ind);
            td_signal_type t = strcmp(r.type, "HASH_PDQ") == 0      ? TD_SIGNAL_PDQ
                               : strcmp(r.type, "HASH_SHA256") == 0 ? TD_SIGNAL_SHA256
                                                                    : TD_SIGNAL_MD5;
            assert_int_equal(it->type, t);
            assert_int_equal(it->remove, r.should_delete);
            assert_int_equal(it->negative,
                             !r.should_delete && strcmp(r.status, "NON_MALICIOUS") == 0);
            assert_int_equal(it->updated_ms, r.last_updated * 1000);
            assert_string_equal(it->labels, strcmp(r.tags[1], "gifct:terrorism") == 0
                                                ? "media_type_photo gifct:terrorism"
                                                : "media_type_photo violent_extremism");
        }
        snprintf(cp, sizeof cp, "%s", page.checkpoint);
    } while (page.more && pages < 100);
    /* The trailing skipped records. */
    for (; i < n; i++) {
        fx_te_record r;
        char id[24], ind[72];
        fx_te_generated(i, &r, id, ind);
        assert_string_equal(r.type, "HASH_TMK");
    }
    td__xpage_clear(&page);
    assert_int_equal(pages, 20);
    size_t tmk = 0;
    for (size_t j = 0; j < n; j++) {
        fx_te_record r;
        char id[24], ind[72];
        fx_te_generated(j, &r, id, ind);
        tmk += strcmp(r.type, "HASH_TMK") == 0;
    }
    assert_int_equal(skipped, tmk);
    conn_free(&x);
}

/* The parser alone: the item cap refuses the page whole; labels are cut to what a label may be;
 * limits on strings. */
static void test_te_parse_limits(void **state)
{
    (void)state;
    td__xconn x;
    te_conn(&x);
    x.max_items = 2;
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    static const char three[] =
        "{\"data\":[{\"id\":1,\"indicator\":\"" MD5_A
        "\",\"type\":\"HASH_MD5\",\"last_updated\":1},"
        "{\"id\":2,\"indicator\":\"" MD5_A "\",\"type\":\"HASH_MD5\",\"last_updated\":2},"
        "{\"id\":3,\"indicator\":\"" MD5_A "\",\"type\":\"HASH_MD5\",\"last_updated\":3}]}";
    assert_int_equal(td__te_parse_page(three, sizeof three - 1, &x, &page, &err), TD_ERR_LIMIT);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_int_equal(page.n, 0);
    x.max_items = 3;
    memset(&page, 0, sizeof page);
    assert_int_equal(td__te_parse_page(three, sizeof three - 1, &x, &page, &err), TD_OK);
    assert_int_equal(page.n, 3);
    assert_string_equal(page.items[2].external_id, "3");
    assert_string_equal(page.checkpoint, "since=3;max=3;at=1700000000");
    td__xpage_clear(&page);

    /* Tags: 20 given, 16 kept; one of 65 bytes dropped; one of 64 kept. */
    char body[8192];
    int n = snprintf(body, sizeof body,
                     "{\"data\":[{\"id\":\"9\",\"indicator\":\"%s\",\"type\":\"HASH_MD5\","
                     "\"last_updated\":9,\"tags\":[\"%065d\",\"%064d\"",
                     MD5_A, 0, 0);
    for (int i = 0; i < 20; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, ",\"t%d\"", i);
    n += snprintf(body + n, sizeof body - (size_t)n, "]}]}");
    assert_int_equal(td__te_parse_page(body, (size_t)n, &x, &page, &err), TD_OK);
    assert_int_equal(page.n, 1);
    td_labels kept;
    memset(&kept, 0, sizeof kept);
    assert_int_equal(
        td_labels_parse(&kept, page.items[0].labels, strlen(page.items[0].labels), NULL), TD_OK);
    assert_int_equal(kept.count, TD_LABELS_MAX);
    assert_int_equal(strlen(kept.v[0]), 64);
    assert_string_equal(kept.v[1], "t0");
    td__xpage_clear(&page);
    /* The checkpoint the page was fetched from must be one this client writes. */
    snprintf(page.checkpoint, sizeof page.checkpoint, "nonsense");
    assert_int_equal(td__te_parse_page(three, sizeof three - 1, &x, &page, &err), TD_ERR_INVALID);
    td__xpage_clear(&page);
    conn_free(&x);
}

/* ---- TCAP ---- */

#define TCAP_USER "platform@example.org"
#define TCAP_PASS "p@ss word&=1"

static const fx_tcap_record tcap_data[] = {
    {MD5_B, "MD5", "Far-Right", "mp4", 0, 1704901040.222779, 2819},
    {SHA_A, "SHA256", "Islamist", "mp4", 0, 1704901040.24492, 2820},
    {PDQ_A, "PDQ", "Islamist", "png", 0, 1704901040.24496, 2821},
    {"0123", "TMK", "Islamist", "mp4", 0, 1704901041.5, 2822},
    {MD5_A, "MD5", NULL, NULL, 1, 1704901042.0, 2823},
    {"zz", "MD5", "Far-Right", "jpg", 0, 1704901042.0, 2824},
    {PDQ_B, "pdq", "Accelerationist / Other", "image/png", 0, 1704901043.125, 2825},
    {SHA_A, "SHA-256", "Islamist", "mp4", 1, 1704901044.0, 2826},
};
#define TCAP_N (sizeof tcap_data / sizeof tcap_data[0])

static const want tcap_want[TCAP_N] = {
    {TD_SIGNAL_MD5, MD5_B_LOW, 0, 0, "ideology:far-right,file_type:mp4", 0},
    {TD_SIGNAL_SHA256, SHA_A, 0, 0, "ideology:islamist,file_type:mp4", 0},
    {TD_SIGNAL_PDQ, PDQ_A, 0, 0, "ideology:islamist,file_type:png", 0},
    {0},
    {TD_SIGNAL_MD5, MD5_A, 1, 0, "", 0},
    {0},
    {TD_SIGNAL_PDQ, PDQ_B_LOW, 0, 0, "ideology:accelerationist_/_other,file_type:image/png", 0},
    {TD_SIGNAL_SHA256, SHA_A, 1, 0, "ideology:islamist,file_type:mp4", 0},
};
static const char *const tcap_ids[TCAP_N] = {"2819", "2820", "2821", "2822",
                                             "2823", "2824", "2825", "2826"};

static void tcap_conn(td__xconn *x)
{
    memset(x, 0, sizeof *x);
    x->base_url = fx_base_url(fx);
    x->group = "";
    x->credentials = json_pack("{s:s,s:s}", "username", TCAP_USER, "password", TCAP_PASS);
    x->http.allow_private = 1;
    x->http.max_bytes = 1 << 20;
    x->http.timeout_ms = 10000;
    x->max_items = 1000;
    x->now_ms = NOW_MS;
}

static void tcap_reset(void)
{
    fx_tcap_set(fx, TCAP_USER, TCAP_PASS, tcap_data, TCAP_N, 3);
    fx_tcap_refuse_tokens(fx, 0);
    fx_requests_clear(fx);
}

/* updated_ms is the record's updated_on in milliseconds. */
static void tcap_check(const run *r, size_t from, size_t first, size_t count, uint64_t skipped)
{
    want w[TCAP_N];
    for (size_t i = 0; i < count; i++) {
        w[i] = tcap_want[first + i];
        w[i].updated_s = 0;
    }
    static run copy;
    copy = *r;
    for (size_t k = 0; k < copy.n; k++) {
        for (size_t i = 0; i < TCAP_N; i++)
            if (strcmp(copy.items[k].id, tcap_ids[i]) == 0) {
                long long ms = llround(tcap_data[i].updated_on * 1000.0);
                assert_int_equal(copy.items[k].updated_ms, ms);
            }
        copy.items[k].updated_ms = 0;
    }
    check_items(&copy, from, w, tcap_ids + first, count, skipped);
}

static void test_tcap_pages(void **state)
{
    (void)state;
    tcap_reset();
    td__xconn x;
    tcap_conn(&x);
    int logins = fx_tcap_logins(fx);
    static run r;
    drain(&td__xclient_tcap, &x, "", &r);
    assert_int_equal(r.pages, 3);
    tcap_check(&r, 0, 0, TCAP_N, 2);
    assert_string_equal(r.checkpoint, "1704901044.000000,2826");
    assert_int_equal(fx_tcap_logins(fx), logins + 1);
    assert_string_equal(x.token, "tcap-token-1");
    /* Requests: the login form, then three pages, each after the previous checkpoint. */
    assert_int_equal(fx_request_count(fx), 4);
    fx_request q;
    char v[256];
    assert_true(fx_request_get(fx, 0, &q));
    assert_string_equal(q.method, "POST");
    assert_string_equal(q.path, "/token-auth/tcap/");
    assert_string_equal(fx_arg(q.body, "username", 1, v, sizeof v), TCAP_USER);
    assert_string_equal(fx_arg(q.body, "password", 1, v, sizeof v), TCAP_PASS);
    static const char *const afters[] = {"", "1704901040.244960,2821", "1704901042.000000,2824"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(fx_request_get(fx, i + 1, &q));
        assert_string_equal(q.method, "GET");
        assert_string_equal(q.path, "/api/hash-list/v2/all");
        assert_string_equal(q.authorization, "Bearer tcap-token-1");
        assert_string_equal(fx_arg(q.query, "order", 0, v, sizeof v), "asc");
        assert_string_equal(fx_arg(q.query, "after", 0, v, sizeof v), afters[i]);
    }
    /* Resume after new records: only those, the token kept (no login). */
    static fx_tcap_record more[TCAP_N + 2];
    memcpy(more, tcap_data, sizeof tcap_data);
    more[TCAP_N] = (fx_tcap_record){MD5_B, "MD5", "Far-Right", "mp4", 1, 1704990000.5, 2827};
    more[TCAP_N + 1] = (fx_tcap_record){PDQ_A, "PDQ", "Islamist", "png", 0, 1704990001.0, 2828};
    fx_tcap_set(fx, TCAP_USER, TCAP_PASS, more, TCAP_N + 2, 3);
    fx_requests_clear(fx);
    static run r2;
    drain(&td__xclient_tcap, &x, r.checkpoint, &r2);
    assert_int_equal(r2.n, 2);
    assert_string_equal(r2.items[0].id, "2827");
    assert_int_equal(r2.items[0].remove, 1);
    assert_string_equal(r2.items[1].id, "2828");
    assert_int_equal(r2.items[1].remove, 0);
    assert_string_equal(r2.checkpoint, "1704990001.000000,2828");
    assert_int_equal(fx_request_count(fx), 1);
    assert_int_equal(fx_tcap_logins(fx), logins + 1);
    conn_free(&x);
}

/* An expired token: one new login, the page fetched; a token refused again after the new login:
 * AUTH, and still one login only. */
static void test_tcap_expiry(void **state)
{
    (void)state;
    tcap_reset();
    td__xconn x;
    tcap_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    assert_int_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_OK);
    int logins = fx_tcap_logins(fx);
    char kept[sizeof x.token];
    snprintf(kept, sizeof kept, "%s", x.token);
    fx_tcap_expire_tokens(fx);
    fx_requests_clear(fx);
    assert_int_equal(td__xclient_tcap.fetch(&x, page.checkpoint, &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_OK);
    assert_int_equal(page.n, 1); /* 2822 and 2824 skipped, 2823 */
    assert_string_equal(page.items[0].external_id, "2823");
    assert_int_equal(fx_tcap_logins(fx), logins + 1);
    assert_string_not_equal(x.token, kept);
    assert_int_equal(fx_request_count(fx), 3);
    fx_request q;
    assert_true(fx_request_get(fx, 0, &q));
    assert_string_equal(q.method, "GET");
    assert_true(fx_request_get(fx, 1, &q));
    assert_string_equal(q.path, "/token-auth/tcap/");
    assert_true(fx_request_get(fx, 2, &q));
    assert_string_equal(q.method, "GET");
    char bearer[sizeof x.token + 16];
    snprintf(bearer, sizeof bearer, "Bearer %s", x.token);
    assert_string_equal(q.authorization, bearer);

    /* Refused again after the new login: AUTH, exactly one more login. */
    fx_tcap_refuse_tokens(fx, 1);
    logins = fx_tcap_logins(fx);
    td__xpage_clear(&page);
    assert_int_not_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_AUTH);
    assert_int_equal(x.last_status, 401);
    assert_int_equal(fx_tcap_logins(fx), logins + 1);
    assert_int_equal(page.n, 0);
    fx_tcap_refuse_tokens(fx, 0);

    /* A wrong password: AUTH at the login. */
    json_object_set_new(x.credentials, "password", json_string("wrong"));
    x.token[0] = '\0';
    assert_int_not_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_AUTH);
    assert_int_equal(x.last_status, 400);
    conn_free(&x);
}

static void test_tcap_faults(void **state)
{
    (void)state;
    tcap_reset();
    td__xconn x;
    tcap_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    fx_inject(fx, FX_FAULT_429, 30);
    assert_int_not_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_RETRY);
    assert_int_equal(x.retry_after_ms, 30000);
    assert_int_equal(page.n, 0);
    fx_inject(fx, FX_FAULT_503, 0);
    assert_int_not_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_RETRY);
    fx_inject(fx, FX_FAULT_MALFORMED, 0);
    assert_int_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_ERR_CORRUPT);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_int_equal(page.n, 0);
    fx_inject(fx, FX_FAULT_WRONG_SHAPE, 0);
    assert_int_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_ERR_CORRUPT);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_non_null(strstr(err.message, "'results'"));
    assert_int_equal(page.n, 0);
    /* A checkpoint of another shape is refused unsent. */
    size_t before = fx_request_count(fx);
    assert_int_equal(td__xclient_tcap.fetch(&x, "yesterday", &page, &err), TD_ERR_INVALID);
    assert_int_equal(fx_request_count(fx), before);
    /* Then all is well again. */
    assert_int_equal(td__xclient_tcap.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(page.n, 3);
    td__xpage_clear(&page);
    conn_free(&x);
}

/* The TCAP parser alone: a page with results but no checkpoint, a checkpoint of the wrong shape,
 * next without progress. */
static void test_tcap_parse(void **state)
{
    (void)state;
    td__xconn x;
    tcap_conn(&x);
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    static const char no_cp[] = "{\"count\":1,\"next\":null,\"previous\":null,\"checkpoint\":null,"
                                "\"results\":[{\"hash_digest\":\"" MD5_A "\",\"algorithm\":\"MD5\","
                                "\"deleted\":false,\"updated_on\":1.5,\"id\":7}]}";
    assert_int_equal(td__tcap_parse_page(no_cp, sizeof no_cp - 1, &x, &page, &err), TD_ERR_CORRUPT);
    assert_int_equal(page.n, 0);
    static const char bad_cp[] = "{\"next\":null,\"checkpoint\":\"1,2,3\",\"results\":[]}";
    assert_int_equal(td__tcap_parse_page(bad_cp, sizeof bad_cp - 1, &x, &page, &err),
                     TD_ERR_CORRUPT);
    static const char stuck[] = "{\"next\":\"http://x/\",\"checkpoint\":\"5,1\",\"results\":[]}";
    snprintf(page.checkpoint, sizeof page.checkpoint, "5,1");
    assert_int_equal(td__tcap_parse_page(stuck, sizeof stuck - 1, &x, &page, &err), TD_ERR_CORRUPT);
    static const char empty[] = "{\"next\":null,\"checkpoint\":null,\"results\":[]}";
    snprintf(page.checkpoint, sizeof page.checkpoint, "5,1");
    assert_int_equal(td__tcap_parse_page(empty, sizeof empty - 1, &x, &page, &err), TD_OK);
    assert_string_equal(page.checkpoint, "5,1"); /* kept */
    assert_int_equal(page.more, 0);
    conn_free(&x);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    fx = fx_start();
    return fx ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    fx_stop(fx);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_te_pages),        cmocka_unit_test(test_te_resume),
        cmocka_unit_test(test_te_filters),      cmocka_unit_test(test_te_next_only),
        cmocka_unit_test(test_te_retry),        cmocka_unit_test(test_te_malformed),
        cmocka_unit_test(test_te_auth),         cmocka_unit_test(test_te_checkpoints),
        cmocka_unit_test(test_te_react_upload), cmocka_unit_test(test_te_generated),
        cmocka_unit_test(test_te_parse_limits), cmocka_unit_test(test_tcap_pages),
        cmocka_unit_test(test_tcap_expiry),     cmocka_unit_test(test_tcap_faults),
        cmocka_unit_test(test_tcap_parse),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
