/* The JSON shapes of the API's objects, in one place so that every route returns a bank, a signal
 * or a match the same way (HMA's routes return different match data from different endpoints;
 * ours do not). Field names are documented in docs/openapi.yaml. */
#include <string.h>

#include "core/timefmt.h"
#include "server/serialize.h"

json_t *td__json_labels(const td_labels *labels)
{
    json_t *a = json_array();
    for (int i = 0; a && i < labels->count; i++)
        json_array_append_new(a, json_string(labels->v[i]));
    return a;
}

int td__parse_labels(td__req *r, json_t *obj, const char *name, td_labels *out, int *present)
{
    json_t *v = json_object_get(obj, name);
    if (present)
        *present = v && !json_is_null(v);
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_array(v)) {
        td__reply_error(r, 400, "invalid_type", "'%s' must be an array of strings", name);
        return 0;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        td_error err;
        if (!json_is_string(item)) {
            td__reply_error(r, 400, "invalid_type", "'%s' must be an array of strings", name);
            return 0;
        }
        if (td_labels_add(out, json_string_value(item), &err) != TD_OK) {
            td__reply_error(r, err.code == TD_ERR_LIMIT ? 413 : 400, "invalid_label", "%s",
                            err.message);
            return 0;
        }
    }
    return 1;
}

json_t *td__json_bank(const td_bank *b)
{
    return json_pack("{s:I,s:s,s:o,s:b,s:f,s:i,s:s,s:s,s:I,s:I,s:I}", "id", (json_int_t)b->id,
                     "name", b->name, "labels", td__json_labels(&b->labels), "enabled", b->enabled,
                     "enabled_ratio", b->enabled_ratio, "threshold", b->threshold, "action",
                     td_action_name(b->action), "kind", td_bank_kind_name(b->kind), "signal_count",
                     (json_int_t)b->signal_count, "created_ms", (json_int_t)b->created_ms,
                     "updated_ms", (json_int_t)b->updated_ms);
}

json_t *td__json_signal(const td_signal *s)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:i,s:b,s:b,s:I}", "id", (json_int_t)s->id,
                          "bank", s->bank, "type", td_signal_type_name(s->type), "value", s->value,
                          "labels", td__json_labels(&s->labels), "source", s->source, "confidence",
                          s->confidence, "enabled", s->enabled, "indexed", s->indexed, "added_ms",
                          (json_int_t)s->added_ms);
    if (o)
        json_object_set_new(o, "quality", s->quality >= 0 ? json_integer(s->quality) : json_null());
    if (o && td_signal_type_has_body(s->type)) {
        /* value is the body's SHA-256; the body is at .../signals/{id}/body */
        json_object_set_new(o, "body_bytes", json_integer((json_int_t)s->body_len));
        json_object_set_new(o, "display", json_string(s->display));
    }
    return o;
}

json_t *td__json_hashes(const td_hashes *h)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char hex[TD_PDQ_HEX_LEN + 1];
    if (h->n_pdq > 0) {
        td_pdq_to_hex(&h->pdq[0], hex);
        json_object_set_new(o, "pdq", json_string(hex));
    }
    if (h->n_pdq == TD_DIH_COUNT) {
        json_t *v = json_object();
        for (int i = 1; v && i < TD_DIH_COUNT; i++) {
            td_pdq_to_hex(&h->pdq[i], hex);
            json_object_set_new(v, td_dihedral_name((td_dihedral)i), json_string(hex));
        }
        json_object_set_new(o, "pdq_variants", v);
    }
    json_object_set_new(o, "quality", h->quality >= 0 ? json_integer(h->quality) : json_null());
    if (h->md5[0])
        json_object_set_new(o, "md5", json_string(h->md5));
    if (h->sha256[0])
        json_object_set_new(o, "sha256", json_string(h->sha256));
    return o;
}

json_t *td__json_match(const td_match *m)
{
    json_t *o =
        json_pack("{s:s,s:I,s:I,s:s,s:i,s:s,s:o,s:s,s:s,s:i,s:b}", "bank", m->bank, "bank_id",
                  (json_int_t)m->bank_id, "signal_id", (json_int_t)m->signal_id, "type",
                  td_signal_type_name(m->type), "distance", m->distance, "variant",
                  td_dihedral_name(m->variant), "labels", td__json_labels(&m->labels), "action",
                  td_action_name(m->action), "bank_kind", td_bank_kind_name(m->kind), "confidence",
                  m->confidence, "suppressed", m->suppressed);
    if (o && m->incident_id) {
        /* An open incident's filter met: its enforcement applied on top of the bank's action. */
        json_object_set_new(o, "incident_id", json_integer(m->incident_id));
        json_object_set_new(o, "incident_action", json_string(td_action_name(m->incident_action)));
    }
    if (o && m->type == TD_SIGNAL_VPDQ) {
        json_object_set_new(o, "query_percent", json_real(m->query_percent));
        json_object_set_new(o, "compared_percent", json_real(m->compared_percent));
    }
    if (o && (m->type == TD_SIGNAL_URL || m->type == TD_SIGNAL_URL_MD5 ||
              m->type == TD_SIGNAL_URL_DOMAIN || m->type == TD_SIGNAL_URL_PREFIX))
        json_object_set_new(o, "url_index", json_integer(m->url_index));
    return o;
}

json_t *td__json_matches(const td_match *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_match(&m[i]));
    return a;
}

json_t *td__json_check(const td_check_result *res)
{
    json_t *o = json_pack(
        "{s:s,s:o,s:I,s:o,s:o,s:b}", "verdict", td_verdict_name(res->verdict), "matches",
        td__json_matches(res->matches, res->match_count), "total_matches",
        (json_int_t)res->total_matches, "hashes", td__json_hashes(&res->hashes), "quality",
        res->hashes.quality >= 0 ? json_integer(res->hashes.quality) : json_null(), "low_quality",
        res->low_quality);
    if (!o)
        return NULL;
    if (res->media)
        json_object_set_new(o, "media", json_string(res->media));
    if (res->vpdq_frames)
        json_object_set_new(o, "vpdq_frames", json_integer((json_int_t)res->vpdq_frames));
    if (res->text_bytes)
        json_object_set_new(o, "text_bytes", json_integer((json_int_t)res->text_bytes));
    if (res->urls)
        json_object_set_new(o, "urls", json_integer((json_int_t)res->urls));
    return o;
}

static json_t *opt_int(int64_t v) { return v ? json_integer((json_int_t)v) : json_null(); }

json_t *td__json_case(const td_case *c)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:i,s:o,s:s,s:I}", "id", (json_int_t)c->id, "content_id",
                          c->content_id, "state", td_case_state_name(c->state), "priority",
                          c->priority, "labels", td__json_labels(&c->labels), "opened_by",
                          c->opened_by, "opened_ms", (json_int_t)c->opened_ms);
    if (!o)
        return NULL;
    json_object_set_new(o, "claimed_by",
                        c->claimed_by ? json_pack("{s:I,s:s}", "id", (json_int_t)c->claimed_by,
                                                  "name", c->claimed_by_name)
                                      : json_null());
    json_object_set_new(o, "claimed_ms", opt_int(c->claimed_ms));
    json_object_set_new(o, "closed_ms", opt_int(c->closed_ms));
    json_object_set_new(o, "outcome",
                        c->outcome ? json_string(td_decision_name(c->outcome)) : json_null());
    return o;
}

json_t *td__json_decision(const td_decision *d)
{
    char at[32];
    td__time_format(d->decided_ms, TD__TIME_MILLIS, at, sizeof at);
    return json_pack("{s:I,s:I,s:s,s:s?,s:s,s:{s:I,s:s},s:I,s:s}", "id", (json_int_t)d->id,
                     "case_id", (json_int_t)d->case_id, "decision", td_decision_name(d->kind),
                     "reason_code", d->reason_code[0] ? d->reason_code : NULL, "reason", d->reason,
                     "by", "id", (json_int_t)d->principal_id, "name", d->principal_name,
                     "decided_ms", (json_int_t)d->decided_ms, "at", at);
}

json_t *td__json_content(const td_content *c)
{
    json_error_t jerr;
    json_t *meta = json_loads(c->metadata_json ? c->metadata_json : "{}", 0, &jerr);
    json_t *o = json_pack(
        "{s:s,s:s*,s:s*,s:I,s:I,s:o,s:o,s:s,s:o}", "content_id", c->content_id, "uploader",
        c->uploader[0] ? c->uploader : NULL, "url", c->url[0] ? c->url : NULL, "time_ms",
        (json_int_t)c->time_ms, "received_ms", (json_int_t)c->received_ms, "metadata",
        meta ? meta : json_object(), "hashes", td__json_hashes(&c->hashes), "verdict",
        td_verdict_name(c->verdict), "matches", td__json_matches(c->matches, c->match_count));
    if (!o)
        return NULL;
    json_object_set_new(o, "platform_key", opt_int(c->platform_key));
    json_object_set_new(o, "source", json_string(c->source[0] ? c->source : "upload"));
    json_object_set_new(o, "case", c->has_case ? td__json_case(&c->kase) : json_null());
    json_t *d = json_array();
    for (size_t i = 0; d && i < c->decision_count; i++)
        json_array_append_new(d, td__json_decision(&c->decisions[i]));
    json_object_set_new(o, "decisions", d);
    return o;
}

json_t *td__json_webhook(const td_webhook *w)
{
    json_t *ev = json_array();
    for (unsigned bit = 1; ev && bit < TD_EVENT_ALL + 1u; bit <<= 1)
        if (w->events & bit)
            json_array_append_new(ev, json_string(td_event_name(bit)));
    json_t *o = json_pack("{s:I,s:s,s:o,s:b,s:I}", "id", (json_int_t)w->id, "url", w->url, "events",
                          ev, "enabled", w->enabled, "created_ms", (json_int_t)w->created_ms);
    if (o)
        json_object_set_new(o, "platform_key", opt_int(w->platform_key));
    return o;
}

json_t *td__json_delivery(const td_delivery *d)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:i,s:I}", "id", (json_int_t)d->id, "webhook_id",
                          (json_int_t)d->webhook_id, "event", d->event, "idempotency_key",
                          d->idempotency_key, "state", td_delivery_state_name(d->state), "attempts",
                          d->attempts, "created_ms", (json_int_t)d->created_ms);
    if (!o)
        return NULL;
    json_object_set_new(o, "last_status",
                        d->last_status ? json_integer(d->last_status) : json_null());
    json_object_set_new(o, "last_error",
                        d->last_error[0] ? json_string(d->last_error) : json_null());
    json_object_set_new(o, "next_attempt_ms",
                        d->state == TD_DELIVERY_PENDING ? json_integer(d->next_attempt_ms)
                                                        : json_null());
    json_object_set_new(o, "delivered_ms", opt_int(d->delivered_ms));
    return o;
}

json_t *td__json_key(const td_key_info *k)
{
    json_t *o =
        json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t)k->id, "role", td_role_name(k->role),
                  "name", k->name, "prefix", k->prefix, "created_ms", (json_int_t)k->created_ms);
    if (o) {
        json_object_set_new(o, "revoked_ms", opt_int(k->revoked_ms));
        json_object_set_new(o, "platform_key", opt_int(k->platform_key));
    }
    return o;
}
