/* libFuzzer harness for the e-Evidence transport (td_eevidence_parse, td_eevidence_build). The
 * first byte picks the mode: below 0x80 it names an endpoint (modulo their number) and the rest
 * is XML to parse; from 0x80 its low bits name an outgoing message and the rest is JSON to build
 * it from. It aborts unless:
 * - a refusal is TD_ERR_INVALID, TD_ERR_LIMIT or TD_ERR_NOMEM with a message and no output;
 * - an accepted message gives JSON that parses, with the members its endpoint promises
 *   (framework, ext_id, identifiers the tasks point into; or action and a UUID order);
 * - an operator's message read back (datapreserved, outcome, nonexecution, correspondence)
 *   builds again from its own JSON, and that XML reads back to the same JSON;
 * - whatever the builder accepts reads back on its endpoint.
 * Seeds in fuzz/corpus/eevidence_xml/ (the samples of tests/data/eevidence/ with their byte). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "takedown/eevidence_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_uuid(json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

static void check_refusal(td_status st, const char *out, const td_error *err)
{
    if (out || err->message[0] == '\0' || err->code != st ||
        (st != TD_ERR_INVALID && st != TD_ERR_LIMIT && st != TD_ERR_NOMEM))
        abort();
}

static json_t *load(const char *text)
{
    json_t *j = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(j))
        abort();
    return j;
}

static void check_intake(td_eevidence_endpoint ep, json_t *j)
{
    const char *fw = json_string_value(json_object_get(j, "framework"));
    if (!fw || strcmp(fw, ep == TD_EEV_PRODUCTION ? "eu_epoc" : "eu_epoc_pr") != 0 ||
        !is_uuid(json_object_get(j, "ext_id")))
        abort();
    json_t *ids = json_object_get(json_object_get(j, "E"), "identifiers");
    json_t *tasks = json_object_get(j, "tasks");
    if (json_array_size(ids) == 0 || json_array_size(tasks) < json_array_size(ids) ||
        json_array_size(json_object_get(j, "documents")) == 0)
        abort();
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        json_int_t k = json_integer_value(json_object_get(t, "identifier"));
        if (!is_uuid(json_object_get(t, "id")) || k < 0 || (size_t)k >= json_array_size(ids))
            abort();
    }
}

/* The message an endpoint's read-back was built as, or -1. */
static int message_of(td_eevidence_endpoint ep)
{
    switch (ep) {
    case TD_EEV_DATA_PRESERVED: return TD_EEV_MSG_DATA_PRESERVED;
    case TD_EEV_OUTCOME: return TD_EEV_MSG_OUTCOME;
    case TD_EEV_NON_EXECUTION: return TD_EEV_MSG_NON_EXECUTION;
    case TD_EEV_CORRESPONDENCE: return TD_EEV_MSG_CORRESPONDENCE;
    default: return -1;
    }
}

static const td_eevidence_endpoint endpoint_of[TD_EEV_MSG_COUNT] = {
    TD_EEV_DATA_PRESERVED, TD_EEV_OUTCOME, TD_EEV_NON_EXECUTION, TD_EEV_CORRESPONDENCE};

/* Builds kind from j with header h; returns the XML read back on its endpoint as JSON, or NULL
 * when the builder refused (refusals are checked). */
static json_t *build_and_read(td_eevidence_message kind, json_t *j, const td_eevidence_header *h)
{
    char *in = json_dumps(j, JSON_COMPACT);
    if (!in)
        return NULL;
    char *xml = NULL, *back = NULL;
    size_t len = 0;
    td_error err;
    td_status st = td_eevidence_build(kind, in, h, &xml, &len, &err);
    free(in);
    if (st != TD_OK) {
        check_refusal(st, xml, &err);
        return NULL;
    }
    if (!xml || strlen(xml) != len)
        abort();
    st = td_eevidence_parse(endpoint_of[kind], xml, len, &back, NULL, &err);
    td_free(xml);
    if (st == TD_ERR_NOMEM)
        return NULL;
    if (st != TD_OK)
        abort(); /* what we write must read back */
    json_t *r = load(back);
    td_free(back);
    return r;
}

static void round_trip(td_eevidence_endpoint ep, json_t *j, const td_eevidence_header *h)
{
    int kind = message_of(ep);
    if (kind < 0)
        return;
    /* Documents travel as digests: they cannot be written again. */
    json_object_del(j, "documents");
    json_t *r = build_and_read((td_eevidence_message)kind, j, h);
    if (!r) {
        /* Only a correspondence read back may not be one the operator can send (another kind,
         * a text that is not XML text or is empty). */
        const char *k = json_string_value(json_object_get(j, "kind"));
        if (ep != TD_EEV_CORRESPONDENCE || !k)
            abort();
        return;
    }
    json_object_del(r, "documents");
    /* A data-preserved message without a time takes the header's. */
    if (ep == TD_EEV_DATA_PRESERVED && !json_object_get(j, "preserved_at"))
        json_object_del(r, "preserved_at");
    if (!json_equal(j, r))
        abort();
    json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    td_error err;
    if (data[0] & 0x80) {
        /* Building from arbitrary JSON: what is accepted reads back. */
        char *text = malloc(size);
        if (!text)
            return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        td_eevidence_header h;
        memset(&h, 0, sizeof h);
        memcpy(h.sender.country, "IE", 3);
        memcpy(h.sender.unique_id, "IE-PLATFORM", 12);
        memcpy(h.receiver.country, "DE", 3);
        memcpy(h.receiver.unique_id, "DE-AUTHORITY", 13);
        memcpy(h.timestamp, "2026-12-01T09:00:00Z", 21);
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        free(text);
        if (j) {
            json_t *r = build_and_read((td_eevidence_message)(data[0] % TD_EEV_MSG_COUNT), j, &h);
            json_decref(r);
            json_decref(j);
        }
        return 0;
    }
    td_eevidence_endpoint ep = (td_eevidence_endpoint)(data[0] % TD_EEV_ENDPOINT_COUNT);
    char *json = NULL;
    td_eevidence_header h;
    td_status st = td_eevidence_parse(ep, (const char *)data + 1, size - 1, &json, &h, &err);
    if (st != TD_OK) {
        check_refusal(st, json, &err);
        return 0;
    }
    json_t *j = load(json);
    td_free(json);
    if (ep == TD_EEV_PRODUCTION || ep == TD_EEV_PRESERVATION) {
        check_intake(ep, j);
    } else {
        if (!json_string_value(json_object_get(j, "action")) ||
            !is_uuid(json_object_get(j, "order")))
            abort();
        round_trip(ep, j, &h);
    }
    json_decref(j);
    return 0;
}
