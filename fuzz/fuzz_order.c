/* libFuzzer harness for the removal order parser (td_order_parse) and its time parser: any input
 * gives an answer without a crash; an accepted document satisfies the invariants intake relies on
 * (limits, a reason category a..e, at least one target, each with a URL or a content id, every
 * URL an http or https one with no control or invisible formatting character), a refusal always
 * names a problem and a field, and a parsed time formats back to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "takedown/orders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static td_order_doc doc; /* large: keep it off the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_order_rejection why;
    td_error err;
    td_status st = td_order_parse((const char *)data, size, &doc, &why, &err);
    if (st == TD_OK) {
        if (why.problem != TD_ORDER_ACCEPTED || doc.n_targets == 0 ||
            doc.n_targets > TD_ORDER_MAX_TARGETS || doc.reference[0] == '\0' ||
            doc.authority_name[0] == '\0' || doc.issued_ms < 0)
            abort();
        if (doc.kind == TD_ORDER_REMOVAL && (doc.category < 'a' || doc.category > 'e'))
            abort();
        if (doc.do_not_inform_days < 0 || doc.do_not_inform_days > TD_ORDER_MAX_DNI_DAYS)
            abort();
        for (size_t i = 0; i < doc.n_targets; i++) {
            const td_order_target *t = &doc.targets[i];
            if (!t->url[0] && !t->content_id[0])
                abort();
            if (t->url[0] && strncmp(t->canonical_url, "http://", 7) != 0 &&
                strncmp(t->canonical_url, "https://", 8) != 0)
                abort();
            const unsigned char *u = (const unsigned char *)t->url;
            size_t n = strlen(t->url);
            for (size_t k = 0, step; k < n; k += step) {
                uint32_t cp;
                step = td__utf8_next(u + k, n - k, &cp);
                if (step == 0 || td__unicode_is_control(cp) || td__unicode_is_invisible(cp))
                    abort();
            }
        }
    } else if (why.problem == TD_ORDER_ACCEPTED || why.field[0] == '\0' || err.message[0] == '\0') {
        abort();
    }
    int64_t t = td_order_time_parse((const char *)data, size);
    if (t >= 0) {
        char text[32];
        td_order_time_format(t, text);
        if (td_order_time_parse(text, strlen(text)) != t)
            abort();
    }
    return 0;
}
