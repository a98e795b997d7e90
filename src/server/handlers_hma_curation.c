/* HMA's curation routes (/c/...): banks and bank content, in HMA 1.1.7's shapes. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/handlers_hma.h"
#include "server/serialize.h"
#include "server/server_int.h"

static json_t *hma_bank(const td_bank *b)
{
    return json_pack("{s:s,s:f}", "name", b->name, "matching_enabled_ratio", b->enabled_ratio);
}

void td__h_hma_banks_list(td__req *r)
{
    td_bank *banks = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_bank_list(r->svc, &banks, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, hma_bank(&banks[i]));
    td_free(banks);
    td__reply_json(r, 200, a);
}

/* "enabled_ratio" / "matching_enabled_ratio" (a number; > 0 enables) or "enabled" (bool). */
static int parse_hma_enabled(td__req *r, json_t *obj, int *enabled)
{
    json_t *v = json_object_get(obj, "matching_enabled_ratio");
    if (!v)
        v = json_object_get(obj, "enabled_ratio");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v)) {
            td__reply_error(r, 400, "invalid_type", "'matching_enabled_ratio' must be a number");
            return 0;
        }
        *enabled = json_number_value(v) > 0;
        return 1;
    }
    return td__get_bool(r, obj, "enabled", enabled);
}

void td__h_hma_banks_create(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    const char *name = NULL;
    int enabled = 1;
    if (!td__get_string(r, obj, "name", &name) || !parse_hma_enabled(r, obj, &enabled)) {
        json_decref(obj);
        return;
    }
    td_bank b, out;
    td_bank_init(&b);
    if (!name || strlen(name) > TD_NAME_MAX || !td_bank_name_valid(name)) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_name", "bank names are [A-Z_][A-Z0-9_]*");
        return;
    }
    memcpy(b.name, name, strlen(name) + 1);
    b.enabled = enabled;
    json_decref(obj);
    td_error err;
    td_status st = td_bank_create_as(r->svc, &r->who, &b, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, hma_bank(&out));
}

void td__h_hma_bank_get(td__req *r)
{
    td_bank b;
    td_error err;
    td_status st = td_bank_get(r->svc, r->params[0], &b, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_bank(&b));
}

void td__h_hma_bank_update(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    const char *name = NULL;
    int enabled = -1;
    if (!td__get_string(r, obj, "name", &name) || !parse_hma_enabled(r, obj, &enabled)) {
        json_decref(obj);
        return;
    }
    td_bank b, out;
    unsigned fields = 0;
    td_bank_init(&b);
    if (name) {
        if (strlen(name) > TD_NAME_MAX || !td_bank_name_valid(name)) {
            json_decref(obj);
            td__reply_error(r, 400, "invalid_name", "bank names are [A-Z_][A-Z0-9_]*");
            return;
        }
        memcpy(b.name, name, strlen(name) + 1);
        fields |= TD_BANK_SET_NAME;
    }
    if (enabled >= 0) {
        b.enabled = enabled;
        fields |= TD_BANK_SET_ENABLED;
    }
    json_decref(obj);
    td_error err;
    td_status st = td_bank_update_as(r->svc, &r->who, r->params[0], fields, &b, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_bank(&out));
}

void td__h_hma_bank_delete(td__req *r)
{
    td_error err;
    td_status st = td_bank_delete_as(r->svc, &r->who, r->params[0], &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_object());
}

/* What HMA shows as a signal's string: the hash, or for a body signal (a URL, a rule, a text,
 * a video's frames) its readable form rather than the digest takedown keys it by. */
static const char *hma_value(const td_signal *s)
{
    return td_signal_type_has_body(s->type) ? s->display : s->value;
}

static json_t *hma_content(const td_signal *s)
{
    return json_pack("{s:I,s:s,s:b,s:{s:s}}", "id", (json_int_t)s->id, "bank", s->bank, "enabled",
                     s->enabled, "signals", td_signal_type_te_name(s->type), hma_value(s));
}

/* {"pdq": "<hex>"} (or another signal type) -> {"id": 1, "signals": {"pdq": "<hex>"}}. */
void td__h_hma_signal_add(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    const char *key;
    json_t *v;
    json_t *signals = json_object();
    int64_t first_id = 0;
    json_object_foreach(obj, key, v)
    {
        td_signal_input in;
        td_signal_input_init(&in);
        if (td_signal_type_parse(key, strlen(key), &in.type) != TD_OK) {
            td__reply_error(r, 400, "invalid_signal", "unknown signal type '%.64s'", key);
            goto fail;
        }
        if (!json_is_string(v)) {
            td__reply_error(r, 400, "invalid_type", "'%.64s' must be a string", key);
            goto fail;
        }
        in.value = json_string_value(v);
        in.source = "hma";
        td_signal out;
        td_error err;
        td_status st = td_signal_add_as(r->svc, &r->who, r->params[0], &in, &out, &err);
        if (st == TD_ERR_CONFLICT) {
            st = td_signal_get(r->svc, r->params[0], out.id, &out, &err);
        }
        if (st != TD_OK) {
            td__reply_status(r, st, &err);
            goto fail;
        }
        if (!first_id)
            first_id = out.id;
        json_object_set_new(signals, key, json_string(hma_value(&out)));
    }
    if (!first_id) {
        td__reply_error(r, 400, "missing_field", "give a signal, e.g. {\"pdq\": \"<hex>\"}");
        goto fail;
    }
    json_decref(obj);
    td__reply_json(r, 200, json_pack("{s:I,s:o}", "id", (json_int_t)first_id, "signals", signals));
    return;
fail:
    json_decref(obj);
    json_decref(signals);
}

void td__h_hma_content_get(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    td_signal s;
    td_error err;
    td_status st = td_signal_get(r->svc, r->params[0], id, &s, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_content(&s));
}

void td__h_hma_content_update(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    int enabled = -1;
    json_t *ratio = json_object_get(obj, "enable_ratio");
    if (ratio && json_is_number(ratio))
        enabled = json_number_value(ratio) > 0;
    else if (!td__get_bool(r, obj, "enabled", &enabled)) {
        json_decref(obj);
        return;
    }
    json_decref(obj);
    td_signal s;
    td_error err;
    td_status st = enabled >= 0 ? td_signal_set_enabled_as(r->svc, &r->who, r->params[0], id,
                                                           enabled, &s, &err)
                                : td_signal_get(r->svc, r->params[0], id, &s, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_content(&s));
}

void td__h_hma_content_delete(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    td_error err;
    td_status st = td_signal_delete_as(r->svc, &r->who, r->params[0], id, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_object());
}
