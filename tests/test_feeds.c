/* Signed feeds between takedown instances (docs/feeds.md, feeds.h).
 *
 * Library: a bank's pages are followed cursor to cursor (pages small enough that cursors land
 * inside a bulk import's ADD_RANGE entry) and replayed into a set, which must equal the bank's
 * indexable signals as td_signal_list reads them from the signals table (a second computation);
 * every page verifies against the feed key with a signed message built here from the page
 * format's definition; a page with one byte altered, verified with another key, for another
 * bank or replayed for another cursor is refused; stale and malformed cursors; opinions stored
 * once and counted. The subscriber's parser fills the exchange page (checkpoint, more, removals,
 * type filter).
 *
 * HTTP (one real `takedown serve`): the public key route, pages and cursors, 410 for a stale
 * cursor, opinions with per-item results, unknown members refused, counts shown on the signal,
 * the subscriber client against the server (a full sync, a wrong pinned key refused, react), and
 * a peer key refused on every route of the router's table but the feed routes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "exchange/client.h"
#include "exchange/feed_int.h"
#include "support/api_client.h"
#include "support/doc_replay.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/casework.h"
#include "takedown/feeds.h"
#include "takedown/hash.h"
#include "takedown/server.h"

#define BANK "FEED_BANK"

/* ---- an oracle set: id -> (type, value) ---- */

#define SET_MAX 20000
typedef struct entry {
    int64_t id;
    int type;
    char value[65];
    int live;
} entry;
typedef struct set {
    entry *e;
    size_t n;
} set;

static entry *find(set *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].id == id)
            return &s->e[i];
    return NULL;
}

static void set_put(set *s, int64_t id, int type, const char *value)
{
    entry *e = find(s, id);
    if (!e) {
        assert_true(s->n < SET_MAX);
        e = &s->e[s->n++];
        e->id = id;
    }
    e->type = type;
    snprintf(e->value, sizeof e->value, "%.64s", value);
    e->live = 1;
}

static size_t set_live(const set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += (size_t)s->e[i].live;
    return n;
}

/* The bank's indexable signals as the signals table holds them. */
static void oracle(td_service *svc, set *out)
{
    int64_t after = 0;
    out->n = 0;
    for (;;) {
        td_signal *s = NULL;
        size_t n = 0;
        assert_int_equal(td_signal_list(svc, BANK, after, TD_PAGE_MAX, &s, &n, NULL), TD_OK);
        for (size_t i = 0; i < n; i++) {
            if (s[i].indexed) {
                char v[65];
                if (td_signal_type_has_body(s[i].type)) {
                    char *body;
                    size_t len;
                    assert_int_equal(td_signal_get_body(svc, BANK, s[i].id, &body, &len, NULL),
                                     TD_OK);
                    /* The body's SHA-256 stands for it in the set. */
                    uint8_t h[32];
                    crypto_hash_sha256(h, (const uint8_t *)body, len);
                    td__hex_encode(h, 32, v);
                    td_free(body);
                } else {
                    snprintf(v, sizeof v, "%s", s[i].value);
                }
                set_put(out, s[i].id, s[i].type, v);
            }
            after = s[i].id;
        }
        td_free(s);
        if (n < TD_PAGE_MAX)
            break;
    }
}

/* ---- the signed message, from docs/feeds.md ---- */

static size_t my_message(const td_feed_page *p, uint8_t *out, size_t cap)
{
    char sha[65], count[24], buf[4096];
    td__hex_encode(p->sha256, 32, sha);
    snprintf(count, sizeof count, "%zu", p->count);
    const char *f[] = {p->bank, p->from, p->to, p->more ? "1" : "0", count, sha, p->key_id};
    size_t n = (size_t)snprintf(buf, sizeof buf, "takedown-feed-page-v1\n");
    for (size_t i = 0; i < 7; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%zu:%s\n", strlen(f[i]), f[i]);
    assert_true(n < cap);
    memcpy(out, buf, n);
    return n;
}

/* Applies a verified page to s; checks the signature independently. */
static void apply_page(const td_feed_page *p, const uint8_t pk[32], set *s)
{
    uint8_t msg[4096], h[32];
    size_t n = my_message(p, msg, sizeof msg);
    assert_int_equal(crypto_sign_verify_detached(p->signature, msg, n, pk), 0);
    crypto_hash_sha256(h, (const uint8_t *)p->changes, p->changes_len);
    assert_memory_equal(h, p->sha256, 32);
    json_t *a = json_loads(p->changes, 0, NULL);
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), p->count);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *c = json_array_get(a, i);
        const char *op = api_jstr(c, "op"), *type = api_jstr(c, "type"),
                   *value = api_jstr(c, "value");
        int64_t id = api_jint(c, "id");
        td_signal_type t;
        assert_int_equal(td_signal_type_parse(type, strlen(type), &t), TD_OK);
        if (strcmp(op, "add") == 0) {
            char v[65];
            if (td_signal_type_has_body(t)) {
                uint8_t hh[32];
                crypto_hash_sha256(hh, (const uint8_t *)value, strlen(value));
                td__hex_encode(hh, 32, v);
            } else {
                snprintf(v, sizeof v, "%s", value);
            }
            entry *e = find(s, id);
            if (e && e->live)
                fail_msg("signal %lld added twice", (long long)id);
            set_put(s, id, (int)t, v);
        } else {
            /* A removal may name a signal no page added (removed before it was read). */
            assert_string_equal(op, "remove");
            entry *e = find(s, id);
            if (e)
                e->live = 0;
        }
    }
    json_decref(a);
}

static void same_sets(set *a, set *b)
{
    assert_int_equal(set_live(a), set_live(b));
    for (size_t i = 0; i < a->n; i++) {
        if (!a->e[i].live)
            continue;
        entry *e = find(b, a->e[i].id);
        if (!e || !e->live || e->type != a->e[i].type || strcmp(e->value, a->e[i].value) != 0)
            fail_msg("signal %lld differs", (long long)a->e[i].id);
    }
}

/* Follows the whole feed with pages of `limit`; returns the pages read. */
static int follow(td_feeds *f, size_t limit, const uint8_t pk[32], set *s, int *inside)
{
    char cur[TD_FEED_CURSOR_MAX + 1] = "";
    int pages = 0;
    *inside = 0;
    for (;;) {
        td_feed_page p;
        td_error err;
        if (td_feed_read(f, BANK, cur, limit, &p, &err) != TD_OK)
            fail_msg("page after '%s': %s", cur, err.message);
        assert_string_equal(p.from, cur);
        assert_true(p.count <= limit);
        apply_page(&p, pk, s);
        if (strchr(p.to, '.'))
            (*inside)++;
        snprintf(cur, sizeof cur, "%s", p.to);
        int more = p.more;
        td_feed_page_clear(&p);
        pages++;
        assert_true(pages < 10000);
        if (!more)
            return pages;
    }
}

static td_service *make_bank(const char *name)
{
    td_service *svc = test_open_service(test_fresh_dir(name));
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", BANK);
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    return svc;
}

static void add_hash(td_service *svc, td_signal_type type, const char *value, td_signal *out)
{
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = type;
    in.value = value;
    assert_int_equal(td_signal_add(svc, BANK, &in, out, NULL), TD_OK);
}

static void import_md5(td_service *svc, int first, int count)
{
    td_import_options o;
    td_import *imp;
    td_import_result res;
    td_import_options_init(&o);
    assert_int_equal(td_import_begin(svc, BANK, &o, &imp, NULL), TD_OK);
    for (int i = first; i < first + count; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "md5 %032x\n", (unsigned)i * 2654435761u);
        assert_int_equal(td_import_feed(imp, line, (size_t)n, NULL), TD_OK);
    }
    assert_int_equal(td_import_finish(imp, &res, NULL), TD_OK);
    td_import_result_clear(&res);
}

/* Adds, bulk imports, body signals, removals and a disabled signal, so that every kind of
 * change-log entry is in the feed. */
static void fill(td_service *svc)
{
    td_signal s, body, off;
    add_hash(svc, TD_SIGNAL_MD5, "0123456789abcdef0123456789abcdef", &s);
    add_hash(svc, TD_SIGNAL_SHA256,
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL);
    import_md5(svc, 1, 1234);
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_URL;
    in.value = "https://propaganda.example/video/1";
    assert_int_equal(td_signal_add(svc, BANK, &in, &body, NULL), TD_OK);
    in.type = TD_SIGNAL_TEXT;
    in.value = "a manifesto's text, long enough to be a document of its own,\n\"quoted\" and "
               "with unicode: \xc3\xa9\xe2\x82\xac";
    assert_int_equal(td_signal_add(svc, BANK, &in, NULL, NULL), TD_OK);
    assert_int_equal(td_signal_delete(svc, BANK, s.id, NULL), TD_OK);
    import_md5(svc, 5000, 300);
    add_hash(svc, TD_SIGNAL_MD5, "ffffffffffffffffffffffffffffffff", &off);
    assert_int_equal(td_signal_set_enabled(svc, BANK, off.id, 0, NULL, NULL), TD_OK);
    assert_int_equal(td_signal_delete(svc, BANK, body.id, NULL), TD_OK);
    /* A signal of the range removed after the import: its ADD stays in the range. */
    td_signal *list = NULL;
    size_t n = 0;
    assert_int_equal(td_signal_list(svc, BANK, 0, 10, &list, &n, NULL), TD_OK);
    assert_true(n == 10);
    assert_int_equal(td_signal_delete(svc, BANK, list[5].id, NULL), TD_OK);
    td_free(list);
}

static void test_pages_follow_the_bank(void **state)
{
    (void)state;
    td_service *svc = make_bank("feeds-pages-XXXXXX");
    td_feeds *f;
    uint8_t pk[32];
    char kid[TD_FEED_KEY_ID_LEN + 1], kid2[TD_FEED_KEY_ID_LEN + 1];
    assert_int_equal(td_feeds_open(svc, NULL, &f, NULL), TD_OK);
    td_feeds_public_key(f, pk, kid);
    char hex[65];
    td__hex_encode(pk, 8, hex);
    assert_string_equal(kid, hex); /* the first 8 bytes in hex */
    fill(svc);
    set want = {calloc(SET_MAX, sizeof(entry)), 0};
    oracle(svc, &want);
    assert_true(set_live(&want) > 1500);
    const size_t limits[] = {1, 7, 100, 1000, 5000};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        set got = {calloc(SET_MAX, sizeof(entry)), 0};
        int inside = 0, pages = follow(f, limits[i], pk, &got, &inside);
        same_sets(&want, &got);
        if (limits[i] < 1000)
            assert_true(inside > 0); /* cursors inside the bulk imports */
        assert_true(pages >= (int)(set_live(&want) / limits[i]));
        free(got.e);
    }
    /* The key file is the instance's: opened again, same key. */
    td_feeds_close(f);
    assert_int_equal(td_feeds_open(svc, NULL, &f, NULL), TD_OK);
    td_feeds_public_key(f, pk, kid2);
    assert_string_equal(kid, kid2);
    /* Changes after the end: an empty page that stays where it is. */
    td_feed_page p;
    char end[TD_FEED_CURSOR_MAX + 1];
    assert_int_equal(td_feed_read(f, BANK, "", TD_FEED_PAGE_MAX, &p, NULL), TD_OK);
    while (p.more) {
        snprintf(end, sizeof end, "%s", p.to);
        td_feed_page_clear(&p);
        assert_int_equal(td_feed_read(f, BANK, end, TD_FEED_PAGE_MAX, &p, NULL), TD_OK);
    }
    snprintf(end, sizeof end, "%s", p.to);
    td_feed_page_clear(&p);
    assert_int_equal(td_feed_read(f, BANK, end, 10, &p, NULL), TD_OK);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.to, end);
    assert_false(p.more);
    td_feed_page_clear(&p);
    /* A new signal appears after that cursor, and nothing else. */
    td_signal s;
    add_hash(svc, TD_SIGNAL_MD5, "abababababababababababababababab", &s);
    assert_int_equal(td_feed_read(f, BANK, end, 10, &p, NULL), TD_OK);
    assert_int_equal(p.count, 1);
    assert_non_null(strstr(p.changes, "abababababababababababababababab"));
    td_feed_page_clear(&p);
    free(want.e);
    td_feeds_close(f);
    td_service_close(svc);
}

__attribute__((noinline)) static char *page_json(td_feeds *f, const char *after, size_t limit,
                                                 size_t *len)
{
    td_feed_page p;
    char *j = NULL;
    assert_int_equal(td_feed_read(f, BANK, after, limit, &p, NULL), TD_OK);
    assert_int_equal(td_feed_page_json(&p, &j, len, NULL), TD_OK);
    td_feed_page_clear(&p);
    return j;
}

static void expect_refused(const char *json, size_t len, const td_feed_expect *ex, const char *why)
{
    td_feed_page p;
    td_error err;
    td_status st = td_feed_page_verify(json, len, ex, &p, &err);
    if (st == TD_OK)
        fail_msg("a page accepted: %s", why);
    assert_null(p.changes);
    /* The subscriber's parser keeps nothing either. */
    td__xpage xp;
    memset(&xp, 0, sizeof xp);
    assert_int_not_equal(td__feed_page_parse(json, len, ex, 0, NULL, 0, &xp, &err), TD_OK);
    assert_int_equal(xp.n, 0);
    td__xpage_clear(&xp);
}

static void test_signature_refusals(void **state)
{
    (void)state;
    td_service *svc = make_bank("feeds-sig-XXXXXX");
    td_feeds *f;
    uint8_t pk[32], other_pk[32], other_sk[64];
    char kid[TD_FEED_KEY_ID_LEN + 1];
    assert_int_equal(td_feeds_open(svc, NULL, &f, NULL), TD_OK);
    td_feeds_public_key(f, pk, kid);
    import_md5(svc, 1, 50);
    size_t len;
    char *j = page_json(f, "", 20, &len);
    td_feed_expect ex = {BANK, "", pk, NULL};
    td_feed_page ok;
    assert_int_equal(td_feed_page_verify(j, len, &ex, &ok, NULL), TD_OK);
    assert_int_equal(ok.count, 20);
    /* Every byte of the changes altered in turn (a hex digit for another one): refused. */
    size_t start = (size_t)(strstr(j, "\"changes\":\"") - j) + 11, n_flips = 0;
    for (size_t i = start; i < len && i < start + 600; i++) {
        char *p = j + i;
        if (!(*p >= '0' && *p <= '9'))
            continue;
        char keep = *p;
        *p = *p == '9' ? '0' : (char)(*p + 1);
        expect_refused(j, len, &ex, "a digit of the changes altered");
        *p = keep;
        n_flips++;
    }
    assert_true(n_flips > 50);
    /* The "to" or "more" altered: the signature no longer verifies. */
    json_t *o = json_loads(j, 0, NULL);
    json_object_set_new(o, "to", json_string(ok.to[0] == '1' ? "2:999" : "1:999"));
    char *t = json_dumps(o, JSON_COMPACT);
    expect_refused(t, strlen(t), &ex, "another 'to'");
    free(t);
    json_decref(o);
    o = json_loads(j, 0, NULL);
    json_object_set_new(o, "more", json_boolean(!ok.more));
    t = json_dumps(o, JSON_COMPACT);
    expect_refused(t, strlen(t), &ex, "another 'more'");
    free(t);
    json_decref(o);
    /* Another key pinned. */
    crypto_sign_keypair(other_pk, other_sk);
    td_feed_expect wrong_key = {BANK, "", other_pk, NULL};
    expect_refused(j, len, &wrong_key, "another pinned key");
    /* The right key but the key id of another. */
    char other_id[TD_FEED_KEY_ID_LEN + 1];
    td_feed_key_id(other_pk, other_id);
    td_feed_expect wrong_id = {BANK, "", pk, other_id};
    expect_refused(j, len, &wrong_id, "a pinned key id of another key");
    /* A page signed by another key that claims this key's id. */
    o = json_loads(j, 0, NULL);
    uint8_t msg[4096], sig[64];
    char sighex[129];
    size_t mn = my_message(&ok, msg, sizeof msg);
    crypto_sign_detached(sig, NULL, msg, mn, other_sk);
    td__hex_encode(sig, 64, sighex);
    json_object_set_new(o, "signature", json_string(sighex));
    t = json_dumps(o, JSON_COMPACT);
    expect_refused(t, strlen(t), &ex, "signed by another key");
    free(t);
    json_decref(o);
    /* Another bank expected. */
    td_feed_expect wrong_bank = {"OTHER_BANK", "", pk, NULL};
    expect_refused(j, len, &wrong_bank, "a page of another bank");
    /* A replayed page: asked after another cursor. */
    td_feed_expect replay = {BANK, ok.to, pk, NULL};
    expect_refused(j, len, &replay, "the first page replayed for the second");
    size_t len2;
    char *j2 = page_json(f, ok.to, 20, &len2);
    td_feed_expect second = {BANK, ok.to, pk, NULL};
    td_feed_page p2;
    assert_int_equal(td_feed_page_verify(j2, len2, &second, &p2, NULL), TD_OK);
    expect_refused(j2, len2, &ex, "the second page replayed for the first");
    /* The signature of one page moved onto another. */
    o = json_loads(j2, 0, NULL);
    td__hex_encode(ok.signature, 64, sighex);
    json_object_set_new(o, "signature", json_string(sighex));
    t = json_dumps(o, JSON_COMPACT);
    expect_refused(t, strlen(t), &second, "another page's signature");
    free(t);
    json_decref(o);
    /* Not a page at all. */
    expect_refused("[]", 2, &ex, "an array");
    expect_refused("{\"bank\":\"FEED_BANK\"}", 20, &ex, "members missing");
    td_feed_page_clear(&p2);
    td_feed_page_clear(&ok);
    td_free(j);
    td_free(j2);
    td_feeds_close(f);
    td_service_close(svc);
}

static void test_cursors(void **state)
{
    (void)state;
    td_service *svc = make_bank("feeds-cursors-XXXXXX");
    td_feeds *f;
    td_feed_page p;
    td_error err;
    td_signal s;
    td_status st;
    assert_int_equal(td_feeds_open(svc, NULL, &f, NULL), TD_OK);
    add_hash(svc, TD_SIGNAL_MD5, "0123456789abcdef0123456789abcdef", &s);
    import_md5(svc, 1, 30);
    assert_int_equal(td_feed_read(f, BANK, "", 10, &p, NULL), TD_OK);
    char inside[TD_FEED_CURSOR_MAX + 1], bank_id[24];
    snprintf(inside, sizeof inside, "%s", p.to);
    assert_non_null(strchr(inside, '.'));
    snprintf(bank_id, sizeof bank_id, "%.*s", (int)(strchr(inside, ':') - inside), inside);
    td_feed_page_clear(&p);
    /* Malformed. */
    const char *bad[] = {"x",    "1",       ":1",    "1:",   "1:2.", "1:2.0",
                         "1:-2", "1:2.3.4", "01:2x", "1:2 ", "0:0",  "1:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (td_feed_read(f, BANK, bad[i], 10, &p, &err) != TD_ERR_INVALID)
            fail_msg("cursor '%s' accepted", bad[i]);
    /* Stale: past the log's end, inside an entry that is not a bulk import (the single ADD),
     * another bank's id. */
    char c[64];
    snprintf(c, sizeof c, "%s:%d", bank_id, 999);
    assert_int_equal(td_feed_read(f, BANK, c, 10, &p, &err), TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "resync"));
    snprintf(c, sizeof c, "%s:1.1", bank_id);
    assert_int_equal(td_feed_read(f, BANK, c, 10, &p, &err), TD_ERR_CONFLICT);
    snprintf(c, sizeof c, "%lld:1", atoll(bank_id) + 1);
    assert_int_equal(td_feed_read(f, BANK, c, 10, &p, &err), TD_ERR_CONFLICT);
    /* The bank deleted and created again: a subscriber that went on from its cursor (or
     * started again when told it was stale) holds the new bank's signals and none of the old. */
    uint8_t pk[32];
    char kid[TD_FEED_KEY_ID_LEN + 1], end[TD_FEED_CURSOR_MAX + 1] = "";
    td_feeds_public_key(f, pk, kid);
    set got = {calloc(SET_MAX, sizeof(entry)), 0}, want = {calloc(SET_MAX, sizeof(entry)), 0};
    for (int more = 1; more;) {
        assert_int_equal(td_feed_read(f, BANK, end, 7, &p, NULL), TD_OK);
        apply_page(&p, pk, &got);
        snprintf(end, sizeof end, "%s", p.to);
        more = p.more;
        td_feed_page_clear(&p);
    }
    assert_int_equal(set_live(&got), 31);
    assert_int_equal(td_bank_delete(svc, BANK, NULL), TD_OK);
    assert_int_equal(td_feed_read(f, BANK, end, 10, &p, &err), TD_ERR_NOT_FOUND);
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", BANK);
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    add_hash(svc, TD_SIGNAL_MD5, "11111111111111111111111111111111", &s);
    import_md5(svc, 100, 5);
    for (int more = 1; more;) {
        st = td_feed_read(f, BANK, end, 7, &p, &err);
        if (st == TD_ERR_CONFLICT) {
            got.n = 0;
            end[0] = '\0';
            continue;
        }
        assert_int_equal(st, TD_OK);
        apply_page(&p, pk, &got);
        snprintf(end, sizeof end, "%s", p.to);
        more = p.more;
        td_feed_page_clear(&p);
    }
    oracle(svc, &want);
    assert_int_equal(set_live(&want), 6);
    same_sets(&want, &got);
    free(got.e);
    free(want.e);
    assert_int_equal(td_feed_read(f, "NO_SUCH_BANK", "", 10, &p, &err), TD_ERR_NOT_FOUND);
    td_feeds_close(f);
    td_service_close(svc);
}

static void test_client_parser(void **state)
{
    (void)state;
    td_service *svc = make_bank("feeds-parser-XXXXXX");
    td_feeds *f;
    uint8_t pk[32];
    char kid[TD_FEED_KEY_ID_LEN + 1];
    td_signal a, b;
    assert_int_equal(td_feeds_open(svc, NULL, &f, NULL), TD_OK);
    td_feeds_public_key(f, pk, kid);
    add_hash(svc, TD_SIGNAL_MD5, "0123456789abcdef0123456789abcdef", &a);
    add_hash(svc, TD_SIGNAL_SHA256,
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", &b);
    td_labels l = {0};
    assert_int_equal(td_labels_add(&l, "ideology:x", NULL), TD_OK);
    assert_int_equal(td_signal_set_labels(svc, BANK, b.id, &l, NULL, NULL), TD_OK);
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_URL;
    in.value = "https://propaganda.example/a";
    assert_int_equal(td_signal_add(svc, BANK, &in, NULL, NULL), TD_OK);
    assert_int_equal(td_signal_delete(svc, BANK, a.id, NULL), TD_OK);
    size_t len;
    char *j = page_json(f, "", 100, &len);
    td_feed_expect ex = {BANK, "", pk, kid};
    td__xpage xp;
    memset(&xp, 0, sizeof xp);
    assert_int_equal(td__feed_page_parse(j, len, &ex, 0, NULL, 0, &xp, NULL), TD_OK);
    /* a's ADD is skipped (deleted since), then b, the URL, a's removal. */
    assert_int_equal(xp.n, 3);
    assert_int_equal(xp.items[0].type, TD_SIGNAL_SHA256);
    assert_string_equal(xp.items[0].labels, "ideology:x");
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)b.id);
    assert_string_equal(xp.items[0].external_id, id);
    assert_int_equal(xp.items[1].type, TD_SIGNAL_URL);
    assert_string_equal(xp.items[1].value, "https://propaganda.example/a");
    assert_true(xp.items[2].remove);
    snprintf(id, sizeof id, "%lld", (long long)a.id);
    assert_string_equal(xp.items[2].external_id, id);
    assert_string_equal(xp.items[2].value, "0123456789abcdef0123456789abcdef");
    assert_false(xp.more);
    assert_true(strchr(xp.checkpoint, ':') != NULL);
    td__xpage_clear(&xp);
    /* A removal of a body signal carries the SHA-256 of the canonical body: a digest removal. */
    td_free(j);
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_URL;
    in.value = "https://propaganda.example/b";
    td_signal u;
    assert_int_equal(td_signal_add(svc, BANK, &in, &u, NULL), TD_OK);
    assert_int_equal(td_signal_delete(svc, BANK, u.id, NULL), TD_OK);
    j = page_json(f, "", 100, &len);
    assert_int_equal(td__feed_page_parse(j, len, &ex, 0, NULL, 0, &xp, NULL), TD_OK);
    assert_int_equal(xp.n, 4);
    assert_int_equal(xp.skipped, 0);
    {
        char *canon = NULL, digest[65];
        size_t canon_len = 0;
        assert_int_equal(td_signal_body_normalize(TD_SIGNAL_URL, in.value, strlen(in.value), &canon,
                                                  &canon_len, NULL),
                         TD_OK);
        assert_int_equal(td_sha256_hex((const uint8_t *)canon, canon_len, digest), TD_OK);
        td_free(canon);
        assert_true(xp.items[3].remove && xp.items[3].digest);
        assert_int_equal(xp.items[3].type, TD_SIGNAL_URL);
        assert_string_equal(xp.items[3].value, digest);
    }
    td__xpage_clear(&xp);
    /* Only URLs wanted: the rest counted as skipped, removals kept. */
    assert_int_equal(td__feed_page_parse(j, len, &ex, 1u << TD_SIGNAL_URL, NULL, 0, &xp, NULL),
                     TD_OK);
    assert_int_equal(xp.n, 3);
    assert_int_equal(xp.skipped, 1);
    td__xpage_clear(&xp);
    /* Only the tag ideology:x (removals kept: the two). */
    assert_int_equal(td__feed_page_parse(j, len, &ex, 0, &l, 0, &xp, NULL), TD_OK);
    assert_int_equal(xp.n, 3);
    td__xpage_clear(&xp);
    /* A page over the item cap is refused whole. */
    td_error err;
    assert_int_not_equal(td__feed_page_parse(j, len, &ex, 0, NULL, 2, &xp, &err), TD_OK);
    assert_int_equal(xp.n, 0);
    /* Changes that do not parse: refused whole. */
    const char *bad[] = {
        "{}",
        "[1]",
        "[{\"op\":\"put\",\"id\":1,\"type\":\"md5\",\"value\":\"x\"}]",
        "[{\"op\":\"add\",\"id\":0,\"type\":\"md5\",\"value\":\"x\"}]",
        "[{\"op\":\"add\",\"id\":1,\"type\":\"nope\",\"value\":\"x\"}]",
        "[{\"op\":\"add\",\"id\":1,\"type\":\"md5\"}]",
        "[{\"op\":\"add\",\"id\":1,\"type\":\"md5\",\"value\":\"x\",\"labels\":3}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(td__feed_changes_parse(bad[i], strlen(bad[i]), 0, NULL, 0, &xp, &err),
                             TD_OK);
        assert_int_equal(xp.n, 0);
    }
    td_free(j);
    td_feeds_close(f);
    td_service_close(svc);
}

static void test_opinions_library(void **state)
{
    (void)state;
    td_service *svc = make_bank("feeds-opinions-XXXXXX");
    td_feeds *f;
    td_signal a, b;
    assert_int_equal(td_feeds_open(svc, NULL, &f, NULL), TD_OK);
    add_hash(svc, TD_SIGNAL_MD5, "0123456789abcdef0123456789abcdef", &a);
    add_hash(svc, TD_SIGNAL_MD5, "11111111111111111111111111111111", &b);
    td_principal p1 = {101, TD_ROLE_PEER, "peer-one", 0}, p2 = {102, TD_ROLE_PEER, "peer-two", 0};
    td_feed_opinion_input in[] = {{a.id, TD_FEED_SEEN},
                                  {a.id, TD_FEED_TRUE_POSITIVE},
                                  {b.id, TD_FEED_FALSE_POSITIVE},
                                  {999999, TD_FEED_SEEN}};
    td_feed_opinion_result res[4];
    assert_int_equal(td_feed_opinions_add(f, &p1, BANK, in, 4, res, NULL), TD_OK);
    assert_int_equal(res[0], TD_FEED_OPINION_STORED);
    assert_int_equal(res[1], TD_FEED_OPINION_STORED);
    assert_int_equal(res[2], TD_FEED_OPINION_STORED);
    assert_int_equal(res[3], TD_FEED_OPINION_NOT_FOUND);
    /* The same again: nothing changes. */
    assert_int_equal(td_feed_opinions_add(f, &p1, BANK, in, 4, res, NULL), TD_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(res[i], TD_FEED_OPINION_UNCHANGED);
    /* Another peer counts apart. */
    assert_int_equal(td_feed_opinions_add(f, &p2, BANK, in, 1, res, NULL), TD_OK);
    assert_int_equal(res[0], TD_FEED_OPINION_STORED);
    td_feed_opinion_counts c;
    assert_int_equal(td_feed_opinions_of(f, a.id, &c, NULL), TD_OK);
    assert_int_equal(c.count[TD_FEED_SEEN], 2);
    assert_int_equal(c.count[TD_FEED_TRUE_POSITIVE], 1);
    assert_int_equal(c.count[TD_FEED_FALSE_POSITIVE], 0);
    td_feed_opinion_counts *list;
    size_t n;
    assert_int_equal(td_feed_opinions_list(f, BANK, 0, 10, &list, &n, NULL), TD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].signal_id, a.id);
    assert_int_equal(list[1].signal_id, b.id);
    assert_int_equal(list[1].count[TD_FEED_FALSE_POSITIVE], 1);
    td_free(list);
    assert_int_equal(td_feed_opinions_list(f, BANK, a.id, 10, &list, &n, NULL), TD_OK);
    assert_int_equal(n, 1);
    td_free(list);
    /* A signal of another bank is not found in this one. */
    td_bank ob;
    td_bank_init(&ob);
    snprintf(ob.name, sizeof ob.name, "OTHER");
    assert_int_equal(td_bank_create(svc, &ob, NULL, NULL), TD_OK);
    td_feed_opinion_input x = {a.id, TD_FEED_SEEN};
    assert_int_equal(td_feed_opinions_add(f, &p1, "OTHER", &x, 1, res, NULL), TD_OK);
    assert_int_equal(res[0], TD_FEED_OPINION_NOT_FOUND);
    /* Audited: one entry per stored opinion (3 + 1). */
    td_audit *au = td_service_audit(svc);
    uint64_t size = 0, opinions = 0;
    assert_int_equal(td_audit_size(au, &size, NULL), TD_OK);
    for (uint64_t i = 0; i < size; i++) {
        td_audit_entry e;
        assert_int_equal(td_audit_get(au, i, &e, NULL), TD_OK);
        opinions += strcmp(e.action, "feed.opinion") == 0;
        td_audit_entry_clear(&e);
    }
    assert_int_equal(opinions, 4);
    assert_int_equal(td_feed_opinions_add(f, &p1, BANK, in, 0, res, NULL), TD_ERR_INVALID);
    td_feeds_close(f);
    td_service_close(svc);
}

/* ---- over HTTP ---- */

static struct {
    api_server srv;
    char dir[4096];
    char admin[128], peer[128], moderator[128];
    long long peer_id;
    uint8_t pk[32];
    char pk_hex[65], key_id[32];
} S;

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "feeds-api-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, NULL);
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.admin,
                         "{\"role\": \"peer\", \"name\": \"instance-b\"}");
    snprintf(S.peer, sizeof S.peer, "%s", api_jstr(j, "key"));
    S.peer_id = api_jint(j, "id");
    json_decref(j);
    j = api_call(&S.srv, 201, "POST", "/v1/keys", S.admin, "{\"role\": \"moderator\"}");
    snprintf(S.moderator, sizeof S.moderator, "%s", api_jstr(j, "key"));
    json_decref(j);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.admin,
                         "{\"name\": \"" BANK "\", \"action\": \"block\"}"));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    return 0;
}

static void import_http(int first, int count)
{
    size_t cap = (size_t)count * 40 + 1, n = 0;
    char *body = malloc(cap);
    for (int i = first; i < first + count; i++)
        n += (size_t)snprintf(body + n, cap - n, "md5 %032x\n", (unsigned)i * 2246822519u);
    json_decref(
        api_call_ex(&S.srv, 200, "POST", "/v1/banks/" BANK "/import", S.admin, body, n, NULL));
    free(body);
}

static void test_http_feed(void **state)
{
    (void)state;
    /* The public key, without a key. */
    json_t *k = api_call(&S.srv, 200, "GET", "/v1/feeds/keys", NULL, NULL);
    json_t *k0 = json_array_get(json_object_get(k, "keys"), 0);
    snprintf(S.pk_hex, sizeof S.pk_hex, "%s", api_jstr(k0, "public_key"));
    snprintf(S.key_id, sizeof S.key_id, "%s", api_jstr(k0, "key_id"));
    assert_string_equal(api_jstr(k0, "algorithm"), "ed25519");
    assert_int_equal(td__hex_decode_exact(S.pk_hex, strlen(S.pk_hex), S.pk, 32), 0);
    assert_int_equal(strncmp(S.pk_hex, S.key_id, 16), 0);
    json_decref(k);
    import_http(1, 2500);
    json_t *one = api_call(&S.srv, 201, "POST", "/v1/banks/" BANK "/signals", S.admin,
                           "{\"type\": \"md5\", \"value\": \"0123456789abcdef0123456789abcdef\"}");
    char path[256];
    snprintf(path, sizeof path, "/v1/banks/" BANK "/signals/%lld", api_jint(one, "id"));
    api_call(&S.srv, 204, "DELETE", path, S.admin, NULL);
    json_decref(one);
    /* Followed with pages of 700 as the peer, each verified with the pinned key. */
    char cur[TD_FEED_CURSOR_MAX + 1] = "";
    size_t adds = 0, removes = 0;
    int pages = 0, more = 1;
    while (more) {
        snprintf(path, sizeof path, "/v1/feeds/" BANK "?limit=700&after=%s", cur);
        api_resp r;
        assert_int_equal(api_http(&S.srv, "GET", path, S.peer, NULL, &r), 200);
        td_feed_expect ex = {BANK, cur, S.pk, S.key_id};
        td_feed_page p;
        td_error err;
        if (td_feed_page_verify(r.body, r.len, &ex, &p, &err) != TD_OK)
            fail_msg("page after '%s': %s", cur, err.message);
        json_t *a = json_loads(p.changes, 0, NULL);
        for (size_t i = 0; i < json_array_size(a); i++)
            *(strcmp(api_jstr(json_array_get(a, i), "op"), "add") == 0 ? &adds : &removes) += 1;
        json_decref(a);
        snprintf(cur, sizeof cur, "%s", p.to);
        more = p.more;
        td_feed_page_clear(&p);
        api_resp_free(&r);
        pages++;
    }
    assert_int_equal(adds, 2500); /* the deleted one's ADD is skipped */
    assert_int_equal(removes, 1);
    assert_int_equal(pages, 4);
    /* An admin may look; a moderator may not. */
    json_decref(api_call(&S.srv, 200, "GET", "/v1/feeds/" BANK "?limit=1", S.admin, NULL));
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/feeds/" BANK, S.moderator, NULL);
    api_expect_error(&S.srv, 401, NULL, "GET", "/v1/feeds/" BANK, NULL, NULL);
    /* Stale and malformed cursors, an unknown bank, a bad limit. */
    api_expect_error(&S.srv, 410, "cursor_stale", "GET", "/v1/feeds/" BANK "?after=1:99999999",
                     S.peer, NULL);
    api_expect_error(&S.srv, 410, "cursor_stale", "GET", "/v1/feeds/" BANK "?after=77:1", S.peer,
                     NULL);
    api_expect_error(&S.srv, 400, "invalid_cursor", "GET", "/v1/feeds/" BANK "?after=zz", S.peer,
                     NULL);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/feeds/NOPE", S.peer, NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/feeds/" BANK "?limit=5001", S.peer, NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/feeds/" BANK "?limit=0", S.peer, NULL);
}

static void test_http_opinions(void **state)
{
    (void)state;
    json_t *one = api_call(&S.srv, 201, "POST", "/v1/banks/" BANK "/signals", S.admin,
                           "{\"type\": \"md5\", \"value\": \"22222222222222222222222222222222\"}");
    long long id = api_jint(one, "id");
    json_decref(one);
    char body[512], path[128];
    snprintf(body, sizeof body,
             "{\"opinions\": [{\"signal_id\": %lld, \"opinion\": \"seen\"}, {\"signal_id\": %lld,"
             " \"opinion\": \"true_positive\"}, {\"signal_id\": 987654321, \"opinion\": "
             "\"seen\"}]}",
             id, id);
    json_t *r = api_call(&S.srv, 200, "POST", "/v1/feeds/" BANK "/opinions", S.peer, body);
    json_t *res = json_object_get(r, "results");
    assert_int_equal(json_array_size(res), 3);
    assert_string_equal(api_jstr(json_array_get(res, 0), "result"), "stored");
    assert_string_equal(api_jstr(json_array_get(res, 1), "result"), "stored");
    assert_string_equal(api_jstr(json_array_get(res, 2), "result"), "not_found");
    json_decref(r);
    r = api_call(&S.srv, 200, "POST", "/v1/feeds/" BANK "/opinions", S.peer, body);
    assert_string_equal(api_jstr(json_array_get(json_object_get(r, "results"), 0), "result"),
                        "unchanged");
    json_decref(r);
    /* Shown on the signal and in the bank's list. */
    snprintf(path, sizeof path, "/v1/banks/" BANK "/signals/%lld", id);
    json_t *s = api_call(&S.srv, 200, "GET", path, S.moderator, NULL);
    json_t *o = json_object_get(s, "opinions");
    assert_int_equal(api_jint(o, "seen"), 1);
    assert_int_equal(api_jint(o, "true_positive"), 1);
    assert_int_equal(api_jint(o, "false_positive"), 0);
    assert_string_equal(api_jstr(s, "value"), "22222222222222222222222222222222");
    json_decref(s);
    json_t *l = api_call(&S.srv, 200, "GET", "/v1/feeds/" BANK "/opinions", S.moderator, NULL);
    json_t *sig = json_array_get(json_object_get(l, "signals"), 0);
    assert_int_equal(api_jint(sig, "signal_id"), id);
    assert_int_equal(api_jint(json_object_get(sig, "opinions"), "seen"), 1);
    json_decref(l);
    /* Refusals: unknown members (named), a bad opinion, too many, nothing, roles. */
    const char *top = "{\"opinions\": [{\"signal_id\": 1, \"opinion\": \"seen\"}], \"verdict\": 1}";
    api_expect_error_ex(&S.srv, 400, "unknown_field", "verdict", "POST",
                        "/v1/feeds/" BANK "/opinions", S.peer, top, strlen(top), NULL);
    const char *extra = "{\"opinions\": [{\"signal_id\": 1, \"opinion\": \"seen\", \"why\": 2}]}";
    api_expect_error_ex(&S.srv, 400, "unknown_field", "opinions[0].why", "POST",
                        "/v1/feeds/" BANK "/opinions", S.peer, extra, strlen(extra), NULL);
    api_expect_error(&S.srv, 400, "invalid", "POST", "/v1/feeds/" BANK "/opinions", S.peer,
                     "{\"opinions\": [{\"signal_id\": 1, \"opinion\": \"maybe\"}]}");
    api_expect_error(&S.srv, 400, "invalid", "POST", "/v1/feeds/" BANK "/opinions", S.peer,
                     "{\"opinions\": []}");
    size_t cap = 40 * 1001 + 64, n = 0;
    char *big = malloc(cap);
    n += (size_t)snprintf(big + n, cap - n, "{\"opinions\": [");
    for (int i = 0; i < 1001; i++)
        n += (size_t)snprintf(big + n, cap - n, "%s{\"signal_id\":%d,\"opinion\":\"seen\"}",
                              i ? "," : "", i + 1);
    n += (size_t)snprintf(big + n, cap - n, "]}");
    api_expect_error(&S.srv, 413, "limit", "POST", "/v1/feeds/" BANK "/opinions", S.peer, big);
    free(big);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/feeds/" BANK "/opinions", S.admin,
                     body);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/feeds/" BANK "/opinions", S.peer, NULL);
}

/* A path for a pattern: each {param} made a plausible value. */
static void fill_path(const char *pattern, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = pattern; *p && n + 16 < cap;) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            int is_id = (e - p == 3 && strncmp(p, "{id}", 4) == 0) || strncmp(p, "{i}", 3) == 0;
            n += (size_t)snprintf(out + n, cap - n, "%s", is_id ? "1" : BANK);
            p = e + 1;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static void test_peer_limited_to_feeds(void **state)
{
    (void)state;
    size_t n_routes, refused = 0, allowed = 0;
    const td_server_route_info *routes = td_server_routes(&n_routes);
    for (size_t i = 0; i < n_routes; i++) {
        const char *roles = routes[i].roles;
        int peer = strstr(roles, "peer") != NULL, pub = strstr(roles, "public") != NULL;
        /* The feed routes, and who am I (GET /v1/me: the key's own id, name and role). */
        int feed =
            strncmp(routes[i].pattern, "/v1/feeds/", 10) == 0 ||
            (strcmp(routes[i].pattern, "/v1/me") == 0 && strcmp(routes[i].method, "GET") == 0);
        if (peer && !feed)
            fail_msg("%s %s admits peer keys, which may call only the feed routes and GET /v1/me",
                     routes[i].method, routes[i].pattern);
        if (peer || pub) {
            allowed += peer;
            continue;
        }
        char path[512];
        fill_path(routes[i].pattern, path, sizeof path);
        api_resp r;
        long st =
            api_http_ex(&S.srv, routes[i].method, path, S.peer, "application/json", "{}", 2, 0, &r);
        if (st != 403)
            fail_msg("%s %s as a peer: %ld %s", routes[i].method, path, st, r.body ? r.body : "");
        api_resp_free(&r);
        refused++;
    }
    assert_int_equal(allowed, 3); /* the page, the opinions and GET /v1/me */
    assert_true(refused > 50);
}

/* The subscriber client against the real server. */
static void test_client_against_server(void **state)
{
    (void)state;
    td__xconn x;
    memset(&x, 0, sizeof x);
    x.base_url = S.srv.base;
    x.group = BANK;
    x.credentials = json_pack("{s:s, s:s}", "api_key", S.peer, "public_key", S.pk_hex);
    x.http.allow_private = 1;
    x.http.max_bytes = 64 << 20;
    x.page_size = 900;
    td__xpage page;
    memset(&page, 0, sizeof page);
    char cp[TD__XCHECKPOINT_MAX + 1] = "";
    size_t adds = 0, removes = 0;
    int pages = 0;
    for (;;) {
        td_error err;
        if (td__xclient_takedown.fetch(&x, cp, &page, &err) != TD_OK)
            fail_msg("fetch after '%s': %s", cp, err.message);
        assert_int_equal(x.outcome, TD__XFETCH_OK);
        for (size_t i = 0; i < page.n; i++) {
            *(page.items[i].remove ? &removes : &adds) += 1;
        }
        snprintf(cp, sizeof cp, "%s", page.checkpoint);
        pages++;
        if (!page.more)
            break;
    }
    td__xpage_clear(&page);
    json_t *b = api_call(&S.srv, 200, "GET", "/v1/banks/" BANK, S.admin, NULL);
    /* Every signal of the bank added once; the deleted one added by nothing and removed. */
    if (adds != (size_t)api_jint(b, "signal_count"))
        fail_msg("%zu adds, %lld signals", adds, (long long)api_jint(b, "signal_count"));
    assert_int_equal(removes, 1);
    json_decref(b);
    /* A stale checkpoint: the client asks for a resync. */
    td_error err;
    assert_int_equal(td__xclient_takedown.fetch(&x, "1:99999999", &page, &err), TD_OK);
    assert_true(page.resync);
    td__xpage_clear(&page);
    /* Another public key pinned: refused, nothing kept. */
    uint8_t opk[32], osk[64];
    char ohex[65];
    crypto_sign_keypair(opk, osk);
    td__hex_encode(opk, 32, ohex);
    json_object_set_new(x.credentials, "public_key", json_string(ohex));
    assert_int_not_equal(td__xclient_takedown.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_MALFORMED);
    assert_non_null(strstr(err.message, "pinned"));
    assert_int_equal(page.n, 0);
    json_object_set_new(x.credentials, "public_key", json_string(S.pk_hex));
    /* A revoked or wrong key: AUTH. */
    json_object_set_new(x.credentials, "api_key", json_string("tdk_nope"));
    assert_int_not_equal(td__xclient_takedown.fetch(&x, "", &page, &err), TD_OK);
    assert_int_equal(x.outcome, TD__XFETCH_AUTH);
    json_object_set_new(x.credentials, "api_key", json_string(S.peer));
    /* React: the opinion arrives. */
    json_t *one = api_call(&S.srv, 201, "POST", "/v1/banks/" BANK "/signals", S.admin,
                           "{\"type\": \"md5\", \"value\": \"33333333333333333333333333333333\"}");
    char ext[32], path[128];
    snprintf(ext, sizeof ext, "%lld", api_jint(one, "id"));
    json_decref(one);
    assert_int_equal(td__xclient_takedown.react(&x, ext, "SAW_THIS_TOO", &err), TD_OK);
    assert_int_equal(td__xclient_takedown.react(&x, ext, "DISAGREE_WITH_TAGS", &err), TD_OK);
    assert_int_equal(td__xclient_takedown.react(&x, ext, "SAW_THIS_TOO", &err), TD_OK);
    assert_int_not_equal(td__xclient_takedown.react(&x, "abc", "SAW_THIS_TOO", &err), TD_OK);
    assert_int_not_equal(td__xclient_takedown.react(&x, ext, "LOVE_IT", &err), TD_OK);
    snprintf(path, sizeof path, "/v1/banks/" BANK "/signals/%s", ext);
    json_t *s = api_call(&S.srv, 200, "GET", path, S.admin, NULL);
    assert_int_equal(api_jint(json_object_get(s, "opinions"), "seen"), 1);
    assert_int_equal(api_jint(json_object_get(s, "opinions"), "false_positive"), 1);
    json_decref(s);
    json_decref(x.credentials);
}

/* ---- docs/feeds.md: the commands on A replayed ---- */

#define DOC_A "http://127.0.0.1:8080"

static struct {
    char peer_key[128], cursor[TD_FEED_CURSOR_MAX + 1], signal_id[24];
} V;

static const char *doc_variable(const char *p, size_t *skip, void *ctx)
{
    const struct {
        const char *name, *value;
    } vars[] = {{"$ADMIN_KEY", S.admin},
                {"$PEER_KEY", V.peer_key},
                {"$CURSOR", V.cursor},
                {"$SIGNAL_ID", V.signal_id}};
    (void)ctx;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        size_t n = doc_shell_match(p, vars[i].name);
        if (n) {
            if (!vars[i].value[0])
                fail_msg("docs/feeds.md uses %s before an answer gave it", vars[i].name);
            *skip = n;
            return vars[i].value;
        }
    }
    return NULL;
}

/* What later commands use. */
static void doc_after(void *ctx, const char *method, const char *url, long st, json_t *got,
                      const char *raw, size_t raw_len)
{
    (void)ctx;
    (void)method;
    if (strcmp(url, "/v1/keys") == 0 && api_jstr(got, "key"))
        snprintf(V.peer_key, sizeof V.peer_key, "%s", api_jstr(got, "key"));
    if (strstr(url, "/signals") && st == 201)
        snprintf(V.signal_id, sizeof V.signal_id, "%lld", api_jint(got, "id"));
    if (strncmp(url, "/v1/feeds/SHARED_TERROR?", 24) == 0 && st == 200 && !V.cursor[0]) {
        /* The page verifies with the key the page told B to pin. */
        td_feed_expect ex = {"SHARED_TERROR", "", S.pk, NULL};
        td_feed_page p;
        assert_int_equal(td_feed_page_verify(raw, raw_len, &ex, &p, NULL), TD_OK);
        assert_int_equal(p.count, 1);
        snprintf(V.cursor, sizeof V.cursor, "%s", p.to);
        td_feed_page_clear(&p);
    }
}

static void test_doc_commands(void **state)
{
    (void)state;
    if (!S.pk_hex[0]) {
        json_t *k = api_call(&S.srv, 200, "GET", "/v1/feeds/keys", NULL, NULL);
        json_t *k0 = json_array_get(json_object_get(k, "keys"), 0);
        assert_int_equal(td__hex_decode_exact(api_jstr(k0, "public_key"), 64, S.pk, 32), 0);
        json_decref(k);
    }
    int other = 0;
    doc_replay d = {&S.srv, "docs/feeds.md", DOC_A, doc_variable, NULL, doc_after, 0, 1};
    int replayed = doc_replay_page(&d, &other); /* B's commands: tests/test_exchange_peers.c */
    print_message("replayed %d commands of docs/feeds.md (%d on B)\n", replayed, other);
    assert_true(replayed >= 8);
    assert_true(V.cursor[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest lib[] = {
        cmocka_unit_test(test_pages_follow_the_bank),
        cmocka_unit_test(test_signature_refusals),
        cmocka_unit_test(test_cursors),
        cmocka_unit_test(test_client_parser),
        cmocka_unit_test(test_opinions_library),
    };
    const struct CMUnitTest http[] = {
        cmocka_unit_test(test_doc_commands),          cmocka_unit_test(test_http_feed),
        cmocka_unit_test(test_http_opinions),         cmocka_unit_test(test_peer_limited_to_feeds),
        cmocka_unit_test(test_client_against_server),
    };
    if (sodium_init() < 0)
        return 1;
    int rc = cmocka_run_group_tests(lib, NULL, NULL);
    return rc | cmocka_run_group_tests(http, group_setup, group_teardown);
}
