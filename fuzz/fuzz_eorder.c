/* libFuzzer harness for the evidence order documents: the intake document (td_eorder_parse) and
 * the event document (td_eorder_event_parse), each given every input. Any input gives an answer
 * without a crash; an accepted document satisfies what intake relies on (a framework, 1..32
 * identifiers each with its type and value, addresses with a time, a time range in order, 1..4
 * categories, subscriber sub-categories only with subscriber data, the deadline rules of its
 * framework, NUL-terminated texts), a refusal always names a problem and a field, and the
 * executable rule never refuses a preservation order. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/evidence_orders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static td_eorder_doc doc; /* large: keep it off the stack */

static void check_doc(void)
{
    if (doc.framework < TD_EORDER_EU_EPOC || doc.framework > TD_EORDER_US_CLOUD_ACT)
        abort();
    if (doc.n_identifiers == 0 || doc.n_identifiers > TD_EORDER_MAX_IDENTIFIERS)
        abort();
    for (size_t i = 0; i < doc.n_identifiers; i++) {
        const td_eorder_identifier *id = &doc.identifiers[i];
        if (id->type < TD_EORDER_ID_IPV4 || id->type > TD_EORDER_ID_CONTENT_ID || !id->value[0] ||
            memchr(id->value, 0, sizeof id->value) == NULL)
            abort();
        if (id->type <= TD_EORDER_ID_IPV6_RANGE && id->at_ms <= 0)
            abort();
        if (id->port < -1 || id->port > 65535)
            abort();
    }
    if (doc.from_ms > doc.to_ms || doc.from_ms <= 0)
        abort();
    if (doc.categories == 0 || (doc.categories & ~(unsigned)TD_EORDER_CAT_ALL))
        abort();
    if (!(doc.categories & TD_EORDER_CAT_SUBSCRIBER) != !doc.subscriber)
        abort();
    if (doc.framework == TD_EORDER_EU_EPOC && doc.deadline == TD_EORDER_DEADLINE_NONE)
        abort();
    if (doc.framework != TD_EORDER_EU_EPOC && doc.deadline != TD_EORDER_DEADLINE_NONE)
        abort();
    if ((doc.framework == TD_EORDER_UK_OPO || doc.framework == TD_EORDER_US_CLOUD_ACT) &&
        doc.compliance_period_ms <= 0)
        abort();
    if ((doc.deadline == TD_EORDER_EIGHT_HOURS) != (doc.emergency_reason != 0))
        abort();
    if (!doc.issuing_authority.present || !doc.issuing_authority.name[0] ||
        !doc.issuing_authority.file_number[0] || doc.issued_ms <= 0)
        abort();
    if (strlen(doc.issuing_state) != 2 || !doc.recipient[0] || !doc.offence[0] || !doc.summary[0])
        abort();
    if (doc.framework == TD_EORDER_EU_EPOC_PR && !td_eorder_doc_executable(&doc))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_eorder_rejection why;
    td_error err;
    td_status st = td_eorder_parse((const char *)data, size, &doc, &why, &err);
    if (st == TD_OK) {
        if (why.problem != TD_EORDER_ACCEPTED)
            abort();
        check_doc();
    } else if (why.problem == TD_EORDER_ACCEPTED || !why.field[0] ||
               memchr(why.field, 0, sizeof why.field) == NULL) {
        abort();
    }
    td_eorder_event_doc ev;
    st = td_eorder_event_parse((const char *)data, size, &ev, &why, &err);
    if (st == TD_OK) {
        if (ev.action < TD_EORDER_SUBSEQUENT_PRODUCTION || ev.action > TD_EORDER_CORRESPONDENCE)
            abort();
        if (ev.action == TD_EORDER_NEW_DEADLINE && ev.deadline_ms <= 0)
            abort();
        if (ev.action == TD_EORDER_GROUNDS &&
            (ev.grounds < TD_EORDER_GROUNDS_NONE || ev.grounds > TD_EORDER_GROUNDS_FULL ||
             (ev.grounds == TD_EORDER_GROUNDS_PARTIAL && !ev.grounds_categories) ||
             (ev.grounds != TD_EORDER_GROUNDS_NONE && !ev.ground)))
            abort();
        if (ev.action == TD_EORDER_CORRESPONDENCE && (!ev.text[0] || !ev.correspondence))
            abort();
        td_eorder_event_doc_clear(&ev);
    } else if (why.problem == TD_EORDER_ACCEPTED || !why.field[0] || ev.sections) {
        abort();
    }
    return 0;
}
