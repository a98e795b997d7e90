/* libFuzzer harness for the pages of the exchange clients: the ThreatExchange /threat_updates
 * parser (td__te_parse_page) and the TCAP /hash-list/v2/all parser (td__tcap_parse_page). The
 * first byte picks the parser (bit 0: TCAP), the item cap (bits 1-2), a type filter (bit 3) and a
 * tag filter (bit 4); the rest is the page. Any input gives an answer without a crash. A page
 * accepted keeps what the exchange framework relies on: at most max_items items, each of a known
 * type, its value NUL-terminated at value_len (a hash in canonical lower-case hex of its type's
 * length, a body within TD__XVALUE_MAX), valid labels, an id of digits; the filters obeyed; a
 * checkpoint this client reads again. A page refused holds no item and says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exchange/client_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_item(const td__xconn *x, const td__xitem *it)
{
    if (it->type < TD_SIGNAL_PDQ || it->type > TD_SIGNAL_TYPE_MAX || !it->value ||
        strlen(it->value) != it->value_len || it->value_len == 0 || it->value_len > TD__XVALUE_MAX)
        abort();
    if (!td_signal_type_has_body(it->type)) {
        char norm[65];
        if (td_signal_value_normalize(it->type, it->value, it->value_len, norm, NULL) != TD_OK ||
            strcmp(norm, it->value) != 0)
            abort();
    }
    /* The labels are valid ones joined by single spaces: they parse back to as many. */
    td_labels again;
    memset(&again, 0, sizeof again);
    size_t len = strlen(it->labels);
    if (td_labels_parse(&again, it->labels, len, NULL) != TD_OK ||
        (len && (it->labels[0] == ' ' || it->labels[len - 1] == ' ' || strstr(it->labels, "  "))))
        abort();
    size_t n = strnlen(it->external_id, sizeof it->external_id);
    if (n == 0 || n > TD__XID_MAX || strspn(it->external_id, "0123456789") != n)
        abort();
    if (!it->remove && !it->negative && !td__xfilter_takes(x, it, &again))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    static const size_t caps[] = {1, 3, 100, 0};
    td__xconn x;
    memset(&x, 0, sizeof x);
    int tcap = data[0] & 1;
    x.max_items = caps[(data[0] >> 1) & 3];
    if (data[0] & 8)
        x.types = (1u << TD_SIGNAL_PDQ) | (1u << TD_SIGNAL_URL);
    if ((data[0] & 16) && td_labels_add(&x.tags, "terrorism", NULL) != TD_OK)
        abort();
    x.now_ms = 1700000000000LL;
    td__xpage page;
    memset(&page, 0, sizeof page);
    td_error err;
    memset(&err, 0, sizeof err);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    td_status st = tcap ? td__tcap_parse_page(body, len, &x, &page, &err)
                        : td__te_parse_page(body, len, &x, &page, &err);
    if (st != TD_OK) {
        if (page.n != 0 || page.items || !err.message[0] || x.outcome == TD__XFETCH_OK)
            abort();
        return 0;
    }
    if (x.outcome != TD__XFETCH_OK || page.n > (x.max_items ? x.max_items : 100000))
        abort();
    for (size_t i = 0; i < page.n; i++)
        check_item(&x, &page.items[i]);
    if (strnlen(page.checkpoint, sizeof page.checkpoint) > TD__XCHECKPOINT_MAX)
        abort();
    /* The checkpoint reads again: an empty page from it parses. */
    td__xpage next;
    memset(&next, 0, sizeof next);
    memcpy(next.checkpoint, page.checkpoint, sizeof next.checkpoint);
    static const char te_empty[] = "{\"data\":[]}";
    static const char tcap_empty[] = "{\"results\":[],\"next\":null,\"checkpoint\":null}";
    st = tcap ? td__tcap_parse_page(tcap_empty, sizeof tcap_empty - 1, &x, &next, &err)
              : td__te_parse_page(te_empty, sizeof te_empty - 1, &x, &next, &err);
    if (st != TD_OK)
        abort();
    td__xpage_clear(&next);
    td__xpage_clear(&page);
    return 0;
}
