/* Evidence: GF(256) against a slow carry-less oracle, Shamir over every k-subset of small n, bad
 * shares (duplicate, mixed, mistyped, forged), seal/open round trips up to several megabytes,
 * tampered files, k-of-n release (k - 1 refused), retention with an injected clock (hold,
 * extension, purge = unrecoverable), discarding items a caller could not record, and the audit
 * entries of every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "evidence/gf256.h"
#include "support/fake_clock.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/evidence.h"
#include "takedown/store.h"

#define DAY ((int64_t)86400000)

/* ---- GF(256) ---- */

/* Schoolbook: carry-less product into 15 bits, then long division by 0x11b. */
static uint8_t slow_mul(uint8_t a, uint8_t b)
{
    unsigned p = 0;
    for (int i = 0; i < 8; i++)
        if (b >> i & 1)
            p ^= (unsigned)a << i;
    for (int bit = 14; bit >= 8; bit--)
        if (p >> bit & 1)
            p ^= 0x11bu << (bit - 8);
    return (uint8_t)p;
}

static void test_gf256(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            assert_int_equal(td__gf_mul((uint8_t)a, (uint8_t)b), slow_mul((uint8_t)a, (uint8_t)b));
    /* Known values of the AES field (FIPS 197 §4.2: {57} x {83} = {c1}, {57} x {13} = {fe}). */
    assert_int_equal(td__gf_mul(0x57, 0x83), 0xc1);
    assert_int_equal(td__gf_mul(0x57, 0x13), 0xfe);
    assert_int_equal(td__gf_inv(0), 0);
    for (unsigned a = 1; a < 256; a++)
        assert_int_equal(slow_mul((uint8_t)a, td__gf_inv((uint8_t)a)), 1);
    /* 3 generates the multiplicative group: its powers hit all 255 non-zero elements. */
    uint8_t seen[256] = {0}, x = 1;
    for (int i = 0; i < 255; i++) {
        assert_int_equal(seen[x], 0);
        seen[x] = 1;
        x = slow_mul(x, 3);
    }
    assert_int_equal(x, 1);
}

/* ---- Shamir ---- */

static void test_shamir_subsets(void **state)
{
    (void)state;
    uint8_t secret[32], out[32], set[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    td_share shares[8], pick[8];
    for (unsigned n = 2; n <= 7; n++)
        for (unsigned k = 2; k <= n; k++) {
            randombytes_buf(secret, sizeof secret);
            assert_int_equal(td_shamir_split(secret, k, n, set, shares, NULL), TD_OK);
            for (unsigned mask = 1; mask < (1u << n); mask++) {
                unsigned c = 0;
                for (unsigned i = 0; i < n; i++)
                    if (mask >> i & 1)
                        pick[c++] = shares[i];
                td_status st = td_shamir_combine(pick, c, out, NULL);
                if (c < k) {
                    assert_int_equal(st, TD_ERR_INVALID);
                } else {
                    assert_int_equal(st, TD_OK);
                    assert_memory_equal(out, secret, 32);
                }
            }
            /* k - 1 right shares and a wrong one give garbage, not the secret. */
            if (k <= n) {
                memcpy(pick, shares, k * sizeof *pick);
                pick[k - 1].y[0] ^= 1;
                assert_int_equal(td_shamir_combine(pick, k, out, NULL), TD_OK);
                assert_memory_not_equal(out, secret, 32);
            }
        }
    /* The largest split. */
    td_share *big = malloc(255 * sizeof *big);
    randombytes_buf(secret, sizeof secret);
    assert_int_equal(td_shamir_split(secret, 200, 255, set, big, NULL), TD_OK);
    assert_int_equal(td_shamir_combine(big + 55, 200, out, NULL), TD_OK);
    assert_memory_equal(out, secret, 32);
    free(big);
    assert_int_equal(td_shamir_split(secret, 1, 3, set, shares, NULL), TD_ERR_INVALID);
    assert_int_equal(td_shamir_split(secret, 4, 3, set, shares, NULL), TD_ERR_INVALID);
    assert_int_equal(td_shamir_split(secret, 2, 256, set, shares, NULL), TD_ERR_INVALID);
}

static void test_shamir_bad_shares(void **state)
{
    (void)state;
    uint8_t secret[32], out[32], set[8] = {9}, set2[8] = {10};
    td_share a[5], b[5], pick[3];
    randombytes_buf(secret, sizeof secret);
    assert_int_equal(td_shamir_split(secret, 3, 5, set, a, NULL), TD_OK);
    assert_int_equal(td_shamir_split(secret, 3, 5, set2, b, NULL), TD_OK);
    /* Duplicates. */
    pick[0] = a[0];
    pick[1] = a[1];
    pick[2] = a[1];
    assert_int_equal(td_shamir_combine(pick, 3, out, NULL), TD_ERR_INVALID);
    /* Two splits mixed. */
    pick[2] = b[2];
    assert_int_equal(td_shamir_combine(pick, 3, out, NULL), TD_ERR_INVALID);
    /* Text form: round trip, whitespace, every single-character typo caught. */
    char text[TD_SHARE_TEXT_LEN + 1], padded[TD_SHARE_TEXT_LEN + 8];
    td_share back;
    td_share_format(&a[3], text);
    assert_int_equal(strlen(text), TD_SHARE_TEXT_LEN);
    assert_int_equal(td_share_parse(text, strlen(text), &back, NULL), TD_OK);
    assert_memory_equal(&back, &a[3], sizeof back);
    snprintf(padded, sizeof padded, "  %s\n", text);
    assert_int_equal(td_share_parse(padded, strlen(padded), &back, NULL), TD_OK);
    for (size_t i = 6; i < TD_SHARE_TEXT_LEN; i++) {
        char t[TD_SHARE_TEXT_LEN + 1];
        memcpy(t, text, sizeof t);
        t[i] = t[i] == '0' ? '1' : '0';
        assert_int_not_equal(td_share_parse(t, TD_SHARE_TEXT_LEN, &back, NULL), TD_OK);
    }
    text[5] = '_';
    assert_int_equal(td_share_parse(text, TD_SHARE_TEXT_LEN, &back, NULL), TD_ERR_INVALID);
    assert_int_equal(td_share_parse("tdss1-00", 8, &back, NULL), TD_ERR_INVALID);
    /* Commitments differ per share. */
    uint8_t c1[32], c2[32];
    td_share_commitment(&a[0], c1);
    td_share_commitment(&a[1], c2);
    assert_memory_not_equal(c1, c2, 32);
}

/* ---- the evidence store ---- */

typedef struct fixture {
    char dir[1024];
    td_store *store;
    td_audit *log;
    td_evidence *ev;
    char shares[5][TD_SHARE_TEXT_LEN + 1];
} fixture;

static const char *const names[5] = {"legal", "privacy", "auditor", "security", "ceo"};

static void fx_open(fixture *fx)
{
    char db[1200];
    td_error err;
    td_audit_options ao;
    td_evidence_options eo;
    snprintf(db, sizeof db, "%s/takedown.db", fx->dir);
    assert_int_equal(td_store_open(db, NULL, &fx->store, &err), TD_OK);
    td_audit_options_default(&ao);
    ao.clock.now_ms = fake_clock;
    assert_int_equal(td_audit_open(fx->store, fx->dir, &ao, &fx->log, &err), TD_OK);
    td_evidence_options_default(&eo);
    eo.clock.now_ms = fake_clock;
    eo.max_item_bytes = 16 << 20;
    td_status st = td_evidence_open(fx->store, fx->log, fx->dir, &eo, &fx->ev, &err);
    if (st)
        fail_msg("evidence open: %s", err.message);
}

static void fx_close(fixture *fx)
{
    td_evidence_close(fx->ev);
    td_audit_close(fx->log);
    td_store_close(fx->store);
}

static void fx_init(fixture *fx, const char *name)
{
    char cmd[2100];
    td_error err;
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "%s", temp_path(name));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", fx->dir, fx->dir);
    assert_int_equal(system(cmd), 0);
    fx_open(fx);
    td_share *sh = sodium_allocarray(5, sizeof *sh);
    assert_non_null(sh);
    td_status st = td_evidence_init_master(fx->ev, "admin", 3, 5, names, sh, &err);
    if (st)
        fail_msg("init master: %s", err.message);
    for (int i = 0; i < 5; i++)
        td_share_format(&sh[i], fx->shares[i]);
    sodium_free(sh);
}

typedef struct got {
    int calls;
    int64_t ids[8];
    uint8_t *content[8];
    size_t len[8];
    char related[8][256];
} got;

static int collect(void *ctx, int64_t id, const char *label, const char *related,
                   const uint8_t *content, size_t len)
{
    got *g = ctx;
    (void)label;
    assert_true(g->calls < 8);
    g->ids[g->calls] = id;
    g->content[g->calls] = malloc(len ? len : 1);
    if (len)
        memcpy(g->content[g->calls], content, len);
    g->len[g->calls] = len;
    snprintf(g->related[g->calls], sizeof g->related[0], "%s", related);
    g->calls++;
    return 0;
}

static void got_free(got *g)
{
    for (int i = 0; i < g->calls; i++)
        free(g->content[i]);
    memset(g, 0, sizeof *g);
}

static void approve(fixture *fx, int64_t req, int who, unsigned expect_have)
{
    unsigned have = 0, need = 0;
    td_error err;
    td_status st =
        td_evidence_approve(fx->ev, req, names[who], fx->shares[who], &have, &need, &err);
    if (st)
        fail_msg("approve by %s: %s", names[who], err.message);
    assert_int_equal(need, 3);
    assert_int_equal(have, expect_have);
}

/* Counts the audit entries with this action (and object, if not NULL). */
static int audit_count(fixture *fx, const char *action, const char *object)
{
    uint64_t n;
    int count = 0;
    assert_int_equal(td_audit_size(fx->log, &n, NULL), TD_OK);
    for (uint64_t i = 0; i < n; i++) {
        td_audit_entry e;
        assert_int_equal(td_audit_get(fx->log, i, &e, NULL), TD_OK);
        if (strcmp(e.action, action) == 0 && (!object || strcmp(e.object, object) == 0))
            count++;
        td_audit_entry_clear(&e);
    }
    return count;
}

static void test_seal_release(void **state)
{
    (void)state;
    fixture fx;
    td_error err;
    fx_init(&fx, "evidence_release");
    /* A second master key is refused. */
    td_share sh[5];
    assert_int_equal(td_evidence_init_master(fx.ev, "admin", 2, 5, names, sh, &err),
                     TD_ERR_CONFLICT);

    size_t big_len = (size_t)5 * 1024 * 1024 + 12345;
    uint8_t *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    int64_t removal = fake_clock_get(), id1, id2, id3;
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-1", "video.mp4", big, big_len,
                                      "{\"account\":\"u42\",\"ip\":\"192.0.2.7\"}", removal, &id1,
                                      &err),
                     TD_OK);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-1", "post.txt",
                                      (const uint8_t *)"hello", 5, NULL, removal, &id2, &err),
                     TD_OK);
    assert_int_equal(
        td_evidence_seal(fx.ev, "system", "case-1", "empty", NULL, 0, "{}", removal, &id3, &err),
        TD_OK);
    td_evidence_case_info info;
    assert_int_equal(td_evidence_case(fx.ev, "case-1", &info, NULL), TD_OK);
    assert_int_equal(info.items, 3);
    assert_int_equal(info.retain_until_ms, removal + 183 * DAY);
    assert_int_equal(info.purged_ms, 0);

    /* Nothing readable on disk: the related data does not appear in any file. */
    char cmd[2200], out[64];
    snprintf(cmd, sizeof cmd, "grep -rl '192.0.2.7' '%s' | wc -l", fx.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_int_equal(atoi(out), 0);
    /* Nor any share. */
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof cmd, "grep -rl '%.40s' '%s' | wc -l", fx.shares[i] + 30, fx.dir);
        assert_int_equal(run_capture(cmd, out, sizeof out), 0);
        assert_int_equal(atoi(out), 0);
    }

    int64_t req;
    int64_t want[2] = {id1, id3};
    assert_int_equal(td_evidence_request(fx.ev, "officer-7", "EPOC FR-2025-0042 (judge order)",
                                         "criminal investigation", "case-1", want, 2, &req, &err),
                     TD_OK);
    got g = {0};
    /* None, then k - 1 = 2 approvals: refused. */
    assert_int_equal(td_evidence_release(fx.ev, req, "officer-7", collect, &g, &err),
                     TD_ERR_CONFLICT);
    approve(&fx, req, 0, 1);
    approve(&fx, req, 0, 1); /* the same custodian twice counts once */
    approve(&fx, req, 3, 2);
    assert_int_equal(td_evidence_release(fx.ev, req, "officer-7", collect, &g, &err),
                     TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "2 of the 3"));
    /* A custodian with someone else's share, or a forged share with a valid checksum. */
    assert_int_equal(td_evidence_approve(fx.ev, req, "privacy", fx.shares[1 + 1], NULL, NULL, &err),
                     TD_ERR_INVALID);
    {
        td_share s;
        char forged[TD_SHARE_TEXT_LEN + 1];
        assert_int_equal(td_share_parse(fx.shares[1], TD_SHARE_TEXT_LEN, &s, NULL), TD_OK);
        s.y[7] ^= 0x40;
        td_share_format(&s, forged);
        assert_int_equal(td_evidence_approve(fx.ev, req, "privacy", forged, NULL, NULL, &err),
                         TD_ERR_CORRUPT);
        forged[50] = forged[50] == 'a' ? 'b' : 'a';
        assert_int_equal(td_evidence_approve(fx.ev, req, "privacy", forged, NULL, NULL, &err),
                         TD_ERR_CORRUPT);
        assert_int_equal(td_evidence_approve(fx.ev, req, "nobody", fx.shares[1], NULL, NULL, &err),
                         TD_ERR_NOT_FOUND);
    }
    approve(&fx, req, 1, 3);
    td_status st = td_evidence_release(fx.ev, req, "officer-7", collect, &g, &err);
    if (st)
        fail_msg("release: %s", err.message);
    assert_int_equal(g.calls, 2);
    assert_int_equal(g.ids[0], id1);
    assert_int_equal(g.len[0], big_len);
    assert_memory_equal(g.content[0], big, big_len);
    assert_string_equal(g.related[0], "{\"account\":\"u42\",\"ip\":\"192.0.2.7\"}");
    assert_int_equal(g.ids[1], id3);
    assert_int_equal(g.len[1], 0);
    got_free(&g);
    /* Once only. */
    assert_int_equal(td_evidence_release(fx.ev, req, "officer-7", collect, &g, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(td_evidence_approve(fx.ev, req, "legal", fx.shares[0], NULL, NULL, &err),
                     TD_ERR_CONFLICT);

    /* Shares held in memory do not survive a restart: custodians resubmit. */
    int64_t req2;
    assert_int_equal(td_evidence_request(fx.ev, "officer-7", "EPOC FR-2025-0043", "review",
                                         "case-1", NULL, 0, &req2, &err),
                     TD_OK);
    approve(&fx, req2, 2, 1);
    approve(&fx, req2, 4, 2);
    fx_close(&fx);
    fx_open(&fx);
    approve(&fx, req2, 0, 1);
    assert_int_equal(td_evidence_release(fx.ev, req2, "officer-7", collect, &g, &err),
                     TD_ERR_CONFLICT);
    approve(&fx, req2, 2, 2);
    approve(&fx, req2, 4, 3);
    assert_int_equal(td_evidence_release(fx.ev, req2, "officer-7", collect, &g, &err), TD_OK);
    assert_int_equal(g.calls, 3);
    assert_int_equal(g.ids[1], id2);
    assert_memory_equal(g.content[1], "hello", 5);
    got_free(&g);

    /* The log holds every step, and verifies. */
    assert_int_equal(audit_count(&fx, "evidence.master.create", "master"), 1);
    assert_int_equal(audit_count(&fx, "evidence.seal", "case-1"), 3);
    assert_int_equal(audit_count(&fx, "evidence.request", "case-1"), 2);
    assert_int_equal(audit_count(&fx, "evidence.approve", NULL), 9);
    assert_int_equal(audit_count(&fx, "evidence.release", "case-1"), 2);
    td_audit_report rep;
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_true(rep.ok);
    free(big);
    fx_close(&fx);
}

static void test_tamper(void **state)
{
    (void)state;
    fixture fx;
    td_error err;
    int64_t id, req;
    fx_init(&fx, "evidence_tamper");
    uint8_t data[200000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-t", "img", data, sizeof data,
                                      "{\"ip\":\"x\"}", fake_clock_get(), &id, &err),
                     TD_OK);
    char path[1200];
    snprintf(path, sizeof path, "%s/evidence/%lld.seal", fx.dir, (long long)id);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 100000, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, 100000, SEEK_SET), 0);
    fputc(c ^ 0x01, f);
    fclose(f);
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "order 1", "test", "case-t", &id, 1, &req, &err),
        TD_OK);
    approve(&fx, req, 0, 1);
    approve(&fx, req, 1, 2);
    approve(&fx, req, 2, 3);
    got g = {0};
    assert_int_equal(td_evidence_release(fx.ev, req, "officer", collect, &g, &err), TD_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "authentication failed"));
    assert_int_equal(g.calls, 0);
    assert_int_equal(audit_count(&fx, "evidence.release_failed", "case-t"), 1);
    /* Truncation is caught too. */
    assert_int_equal(truncate(path, 1000), 0);
    int64_t req2;
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "order 2", "test", "case-t", NULL, 0, &req2, &err),
        TD_OK);
    approve(&fx, req2, 0, 1);
    approve(&fx, req2, 1, 2);
    approve(&fx, req2, 2, 3);
    assert_int_equal(td_evidence_release(fx.ev, req2, "officer", collect, &g, &err),
                     TD_ERR_CORRUPT);
    /* A request for an item of another case is refused. */
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-u", "img", data, 10, NULL,
                                      fake_clock_get(), &id, &err),
                     TD_OK);
    assert_int_equal(td_evidence_request(fx.ev, "officer", "o", "p", "case-t", &id, 1, &req, &err),
                     TD_ERR_NOT_FOUND);
    fx_close(&fx);
}

/* Items linked from another case: a request for the case names them, one release by the
 * custodians gives both cases' items (each checked against what was sealed), the link is on the
 * log; an item not linked is still refused, and a purged case's item cannot be linked or
 * released. */
static void test_linked_items(void **state)
{
    (void)state;
    fixture fx;
    td_error err;
    int64_t own, report, other, req;
    fx_init(&fx, "evidence_linked");
    int64_t t0 = fake_clock_get();
    assert_int_equal(td_evidence_seal(fx.ev, "system", "order-1", "own", (const uint8_t *)"OWN", 3,
                                      "{\"k\":1}", t0, &own, &err),
                     TD_OK);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "report-7", "record",
                                      (const uint8_t *)"REPORT", 6, "{\"k\":2}", t0, &report, &err),
                     TD_OK);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "report-8", "record",
                                      (const uint8_t *)"OTHER", 5, NULL, t0, &other, &err),
                     TD_OK);
    int64_t both[2] = {own, report};
    /* not linked yet: refused, as any item of another case */
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "o", "p", "order-1", both, 2, &req, &err),
        TD_ERR_NOT_FOUND);
    assert_int_equal(td_evidence_link(fx.ev, "officer", "order-1", report, &err), TD_OK);
    assert_int_equal(td_evidence_link(fx.ev, "officer", "order-1", report, &err), TD_OK);
    assert_int_equal(td_evidence_link(fx.ev, "officer", "order-1", own, &err), TD_OK);
    assert_int_equal(audit_count(&fx, "evidence.link", "order-1"), 1);
    assert_int_equal(td_evidence_link(fx.ev, "officer", "order-1", 999999, &err), TD_ERR_NOT_FOUND);
    int64_t third[3] = {own, report, other};
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "o", "p", "order-1", third, 3, &req, &err),
        TD_ERR_NOT_FOUND);
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "o", "p", "order-1", both, 2, &req, &err), TD_OK);
    approve(&fx, req, 0, 1);
    approve(&fx, req, 1, 2);
    approve(&fx, req, 2, 3);
    got g = {0};
    assert_int_equal(td_evidence_release(fx.ev, req, "officer", collect, &g, &err), TD_OK);
    assert_int_equal(g.calls, 2);
    int saw_own = 0, saw_report = 0;
    for (int i = 0; i < g.calls; i++) {
        saw_own |= g.ids[i] == own && g.len[i] == 3 && memcmp(g.content[i], "OWN", 3) == 0 &&
                   strcmp(g.related[i], "{\"k\":1}") == 0;
        saw_report |= g.ids[i] == report && g.len[i] == 6 &&
                      memcmp(g.content[i], "REPORT", 6) == 0 &&
                      strcmp(g.related[i], "{\"k\":2}") == 0;
    }
    assert_true(saw_own && saw_report);
    got_free(&g);
    /* a case with links only */
    assert_int_equal(td_evidence_link(fx.ev, "officer", "order-2", other, &err), TD_OK);
    int64_t one[1] = {other};
    assert_int_equal(td_evidence_request(fx.ev, "officer", "o", "p", "order-2", one, 1, &req, &err),
                     TD_OK);
    approve(&fx, req, 0, 1);
    approve(&fx, req, 1, 2);
    approve(&fx, req, 2, 3);
    assert_int_equal(td_evidence_release(fx.ev, req, "officer", collect, &g, &err), TD_OK);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.ids[0], other);
    got_free(&g);
    /* the linked case purged: its item can no longer be asked for, nor linked */
    int64_t purged = 0;
    fake_clock_set(t0 + 183 * DAY);
    assert_int_equal(td_evidence_hold(fx.ev, "legal", "order-1", 1, "keep", &err), TD_OK);
    assert_int_equal(td_evidence_purge(fx.ev, "retention", &purged, &err), TD_OK);
    assert_int_equal(purged, 2); /* report-7 and report-8 */
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "o", "p", "order-1", both, 2, &req, &err),
        TD_ERR_NOT_FOUND);
    assert_int_equal(td_evidence_link(fx.ev, "officer", "order-3", other, &err), TD_ERR_NOT_FOUND);
    fx_close(&fx);
}

static void test_retention(void **state)
{
    (void)state;
    fixture fx;
    td_error err;
    int64_t purged, id, req;
    fx_init(&fx, "evidence_retention");
    int64_t t0 = fake_clock_get();
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-a", "a", (const uint8_t *)"AAAA", 4,
                                      NULL, t0, &id, &err),
                     TD_OK);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-b", "b", (const uint8_t *)"BBBB", 4,
                                      NULL, t0, NULL, &err),
                     TD_OK);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-c", "c", (const uint8_t *)"CCCC", 4,
                                      NULL, t0 + 10 * DAY, NULL, &err),
                     TD_OK);
    /* A request approved before the purge. */
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "order", "review", "case-a", NULL, 0, &req, &err),
        TD_OK);
    approve(&fx, req, 0, 1);
    approve(&fx, req, 1, 2);
    approve(&fx, req, 2, 3);

    /* One millisecond before the deadline: nothing goes. */
    fake_clock_set(t0 + 183 * DAY - 1);
    assert_int_equal(td_evidence_purge(fx.ev, "retention", &purged, &err), TD_OK);
    assert_int_equal(purged, 0);
    /* A review holds case-b; an authority extends case-c... no, case-c is later anyway. */
    assert_int_equal(td_evidence_hold(fx.ev, "legal", "case-b", 1, "complaint review", &err),
                     TD_OK);
    assert_int_equal(
        td_evidence_extend(fx.ev, "legal", "case-c", t0 + 400 * DAY, "authority request", &err),
        TD_OK);
    /* An extension never shortens. */
    assert_int_equal(td_evidence_extend(fx.ev, "legal", "case-c", t0, "typo", &err), TD_OK);
    td_evidence_case_info info;
    assert_int_equal(td_evidence_case(fx.ev, "case-c", &info, NULL), TD_OK);
    assert_int_equal(info.retain_until_ms, t0 + 400 * DAY);

    fake_clock_set(t0 + 183 * DAY);
    assert_int_equal(td_evidence_purge(fx.ev, "retention", &purged, &err), TD_OK);
    assert_int_equal(purged, 1); /* case-a */
    assert_int_equal(td_evidence_case(fx.ev, "case-a", &info, NULL), TD_OK);
    assert_int_equal(info.purged_ms, fake_clock_get());
    char path[1200];
    snprintf(path, sizeof path, "%s/evidence/%lld.seal", fx.dir, (long long)id);
    assert_int_not_equal(access(path, F_OK), 0);
    /* Unrecoverable: even with all approvals in hand. */
    got g = {0};
    assert_int_equal(td_evidence_release(fx.ev, req, "officer", collect, &g, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(g.calls, 0);
    /* The key is gone from the store, not only the file. */
    {
        td_store_conn *c;
        td_stmt *q;
        int row;
        assert_int_equal(td_store_acquire(fx.store, 0, &c, NULL), TD_OK);
        assert_int_equal(td_store_prepare(c,
                                          "SELECT wrapped_secret IS NULL FROM evidence_cases"
                                          " WHERE case_ref = 'case-a'",
                                          &q, NULL),
                         TD_OK);
        assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
        assert_int_equal(row, 1);
        assert_int_equal(td_stmt_column_int64(q, 0), 1);
        td_store_release(fx.store, c);
    }
    assert_int_equal(td_evidence_request(fx.ev, "officer", "o", "p", "case-a", NULL, 0, &req, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-a", "again", (const uint8_t *)"x", 1,
                                      NULL, fake_clock_get(), NULL, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(td_evidence_hold(fx.ev, "legal", "case-a", 1, "late", &err), TD_ERR_CONFLICT);

    /* Held: kept past its deadline, purged once the hold is lifted. */
    fake_clock_set(t0 + 300 * DAY);
    assert_int_equal(td_evidence_purge(fx.ev, "retention", &purged, &err), TD_OK);
    assert_int_equal(purged, 0);
    assert_int_equal(td_evidence_hold(fx.ev, "legal", "case-b", 0, "review closed", &err), TD_OK);
    assert_int_equal(td_evidence_purge(fx.ev, "retention", &purged, &err), TD_OK);
    assert_int_equal(purged, 1);
    fake_clock_set(t0 + 400 * DAY);
    assert_int_equal(td_evidence_purge(fx.ev, "retention", &purged, &err), TD_OK);
    assert_int_equal(purged, 1);
    assert_int_equal(audit_count(&fx, "evidence.purge", NULL), 3);
    assert_int_equal(audit_count(&fx, "evidence.hold", "case-b"), 1);
    assert_int_equal(audit_count(&fx, "evidence.release_hold", "case-b"), 1);
    assert_int_equal(audit_count(&fx, "evidence.extend", "case-c"), 2);
    td_audit_report rep;
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_true(rep.ok);
    fx_close(&fx);
}

/* Discarding items a caller could not record: refusals discard nothing (no id, an id twice,
 * another case's item, an unknown one, one named by an open release request); a discard deletes
 * the rows and files of the items named and only those, with one audit entry; the items left
 * are released intact. */
static void test_discard(void **state)
{
    (void)state;
    fixture fx;
    td_error err;
    int64_t ids[4], other, req;
    char path[1200];
    fx_init(&fx, "evidence_discard");
    int64_t t0 = fake_clock_get();
    static const char *const bodies[4] = {"keep me", "drop one", "drop two", "named"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(td_evidence_seal(fx.ev, "system", "case-d", bodies[i],
                                          (const uint8_t *)bodies[i], strlen(bodies[i]), NULL, t0,
                                          &ids[i], &err),
                         TD_OK);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "case-e", "e", (const uint8_t *)"E", 1, NULL,
                                      t0, &other, &err),
                     TD_OK);
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "order", "review", "case-d", &ids[3], 1, &req, &err),
        TD_OK);
    uint64_t size0, size1;
    assert_int_equal(td_audit_size(fx.log, &size0, NULL), TD_OK);
    int64_t twice[2] = {ids[1], ids[1]}, foreign[2] = {ids[1], other},
            unknown[2] = {ids[1], other + 100}, named[2] = {ids[2], ids[3]};
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", ids, 0, "r", &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", twice, 2, "r", &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", foreign, 2, "r", &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", unknown, 2, "r", &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", named, 2, "r", &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", ids + 1, 2, "", &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_audit_size(fx.log, &size1, NULL), TD_OK);
    assert_int_equal(size0, size1);
    td_evidence_case_info info;
    assert_int_equal(td_evidence_case(fx.ev, "case-d", &info, NULL), TD_OK);
    assert_int_equal(info.items, 4);

    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", ids + 1, 2,
                                         "the caller's operation failed", &err),
                     TD_OK);
    assert_int_equal(td_evidence_case(fx.ev, "case-d", &info, NULL), TD_OK);
    assert_int_equal(info.items, 2);
    td_evidence_item_info *items = NULL;
    size_t n = 0;
    assert_int_equal(td_evidence_item_list(fx.ev, "case-d", &items, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].id, ids[0]);
    assert_int_equal(items[1].id, ids[3]);
    td_free(items);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/evidence/%lld.seal", fx.dir, (long long)ids[i]);
        assert_int_equal(access(path, F_OK) == 0, i == 0 || i == 3);
    }
    assert_int_equal(audit_count(&fx, "evidence.discard", "case-d"), 1);
    {
        td_audit_entry e;
        assert_int_equal(td_audit_get(fx.log, size0, &e, NULL), TD_OK);
        assert_string_equal(e.action, "evidence.discard");
        char want[128];
        snprintf(want, sizeof want, "\"items\":[%lld,%lld],\"count\":2,\"bytes\":%zu",
                 (long long)ids[1], (long long)ids[2], strlen(bodies[1]) + strlen(bodies[2]));
        if (!strstr(e.details, want))
            fail_msg("discard entry %s lacks %s", e.details, want);
        td_audit_entry_clear(&e);
    }
    /* Twice: the items are gone. */
    assert_int_equal(td_evidence_discard(fx.ev, "system", "case-d", ids + 1, 1, "again", &err),
                     TD_ERR_NOT_FOUND);
    /* What is left opens: the named item through its request, every item through another. */
    approve(&fx, req, 0, 1);
    approve(&fx, req, 1, 2);
    approve(&fx, req, 2, 3);
    got g = {0};
    assert_int_equal(td_evidence_release(fx.ev, req, "officer", collect, &g, &err), TD_OK);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.ids[0], ids[3]);
    assert_memory_equal(g.content[0], bodies[3], strlen(bodies[3]));
    got_free(&g);
    assert_int_equal(
        td_evidence_request(fx.ev, "officer", "order", "review", "case-d", NULL, 0, &req, &err),
        TD_OK);
    approve(&fx, req, 0, 1);
    approve(&fx, req, 3, 2);
    approve(&fx, req, 4, 3);
    assert_int_equal(td_evidence_release(fx.ev, req, "officer", collect, &g, &err), TD_OK);
    assert_int_equal(g.calls, 2);
    assert_int_equal(g.len[0], strlen(bodies[0]));
    assert_memory_equal(g.content[0], bodies[0], strlen(bodies[0]));
    got_free(&g);
    td_audit_report rep;
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_true(rep.ok);
    fx_close(&fx);
}

static void test_limits(void **state)
{
    (void)state;
    fixture fx;
    td_error err;
    fx_init(&fx, "evidence_limits");
    uint8_t b = 0;
    assert_int_equal(td_evidence_seal(fx.ev, "system", "", "l", &b, 1, NULL, 0, NULL, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_evidence_seal(fx.ev, "system", "c", "l", NULL, 5, NULL, 0, NULL, &err),
                     TD_ERR_INVALID);
    assert_int_equal(
        td_evidence_seal(fx.ev, "system", "c", "l", &b, (size_t)17 << 20, NULL, 0, NULL, &err),
        TD_ERR_LIMIT);
    assert_int_equal(td_evidence_release(fx.ev, 999, "x", collect, NULL, &err), TD_ERR_CONFLICT);
    assert_int_equal(td_evidence_approve(fx.ev, 999, "legal", fx.shares[0], NULL, NULL, &err),
                     TD_ERR_NOT_FOUND);
    fx_close(&fx);
}

int main(void)
{
    fake_clock_set(1750000000000);
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gf256),
        cmocka_unit_test(test_shamir_subsets),
        cmocka_unit_test(test_shamir_bad_shares),
        cmocka_unit_test(test_seal_release),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_linked_items),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
