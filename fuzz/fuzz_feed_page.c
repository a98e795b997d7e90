/* libFuzzer harness for a signed feed page as a subscriber receives it (docs/feeds.md):
 * td__feed_page_parse (verification, then the changes) and td__feed_changes_parse. The first
 * byte picks the mode: even, the rest is a page checked against the harness's pinned key; odd,
 * the rest is a changes array that the harness signs as a page with its key, so that the change
 * parser is reached through the verified path too. Any input gives an answer without a crash. An
 * accepted page's items are well-formed: a known signal type, a decimal id, a value of
 * value_len bytes with no NUL, at most TD_LABELS_MAX valid labels; a refused page leaves no item
 * behind. */
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "exchange/feed_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[32], sk[64];
static int ready;

static void check_page(const td__xpage *p, td_status st)
{
    if (st != TD_OK) {
        if (p->n || p->items)
            abort();
        return;
    }
    if (p->n > TD_FEED_PAGE_MAX || strlen(p->checkpoint) > TD_FEED_CURSOR_MAX)
        abort();
    for (size_t i = 0; i < p->n; i++) {
        const td__xitem *it = &p->items[i];
        if (it->type < 1 || it->type > TD_SIGNAL_TYPE_MAX || !it->value ||
            strlen(it->value) != it->value_len || !it->external_id[0] ||
            strspn(it->external_id, "0123456789") != strlen(it->external_id) || !it->labels)
            abort();
        /* Valid labels joined by single spaces: they parse back. */
        td_labels l = {0};
        size_t len = strlen(it->labels);
        if (td_labels_parse(&l, it->labels, len, NULL) != TD_OK ||
            (len &&
             (it->labels[0] == ' ' || it->labels[len - 1] == ' ' || strstr(it->labels, "  "))))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        uint8_t seed[32];
        memset(seed, 0x42, sizeof seed);
        if (sodium_init() < 0)
            abort();
        crypto_sign_seed_keypair(pk, sk, seed);
        ready = 1;
    }
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    td_feed_expect ex = {"FUZZ_BANK", "", pk, NULL};
    td__xpage page;
    memset(&page, 0, sizeof page);
    if ((data[0] & 1) == 0) {
        check_page(&page, td__feed_page_parse(body, len, &ex, 0, NULL, 0, &page, NULL));
        td__xpage_clear(&page);
        return 0;
    }
    /* The changes alone, then signed as a page. */
    check_page(&page,
               td__feed_changes_parse(body, len, data[0] & 2 ? 1u << 2 : 0, NULL, 0, &page, NULL));
    td__xpage_clear(&page);
    json_t *a = json_loadb(body, len, 0, NULL);
    size_t count = json_is_array(a) ? json_array_size(a) : 0;
    json_decref(a);
    td_feed_page fp;
    memset(&fp, 0, sizeof fp);
    strcpy(fp.bank, "FUZZ_BANK");
    strcpy(fp.to, "1:1");
    fp.more = (data[0] & 4) != 0;
    fp.count = count;
    fp.changes = malloc(len + 1);
    if (!fp.changes)
        return 0;
    memcpy(fp.changes, body, len);
    fp.changes[len] = '\0';
    fp.changes_len = strnlen(fp.changes, len); /* a JSON string holds no raw NUL here */
    crypto_hash_sha256(fp.sha256, (const uint8_t *)fp.changes, fp.changes_len);
    td_feed_key_id(pk, fp.key_id);
    uint8_t msg[1024];
    size_t n = td_feed_signed_message(fp.bank, fp.from, fp.to, fp.more, fp.count, fp.sha256,
                                      fp.key_id, msg, sizeof msg);
    crypto_sign_detached(fp.signature, NULL, msg, n, sk);
    char *json = NULL;
    size_t jl = 0;
    /* Changes that are not UTF-8 cannot be a JSON string: nothing to sign. */
    if (td_feed_page_json(&fp, &json, &jl, NULL) == TD_OK) {
        td_status st = td__feed_page_parse(json, jl, &ex, 0, NULL, 0, &page, NULL);
        check_page(&page, st);
        td__xpage_clear(&page);
        td_free(json);
    }
    free(fp.changes);
    return 0;
}
