/* HTTP handlers of the user notice templates (settings of the orders component): thin
 * translations between JSON and the td_notice_template_* calls of include/takedown/orders.h.
 *
 * Refusals say precisely what is wrong, because an operator writes these texts by hand:
 * 400 invalid_language, 413 too_large, 422 unknown_placeholder (with the names),
 * 422 invalid_template (with the byte offset), 422 invalid_url. */
#include <string.h>

#include "core/alloc.h"
#include "server/handlers_orders.h"

static json_t *template_json(const td_notice_template *t)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "language", t->language, "text", t->text,
                     "complaint_url", t->complaint_url, "updated_at", td__time_json(t->updated_ms),
                     "updated_by", t->updated_by);
}

/* GET: the stored templates, the built-in text and the placeholders an operator may use. */
void td__h_notice_templates_list(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    if (!o)
        return;
    td_notice_template *list = NULL;
    size_t n = 0, n_names = 0;
    td_error err;
    td_status st = td_notice_template_list(o, &list, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *templates = json_array(), *names = json_array();
    for (size_t i = 0; templates && i < n; i++)
        json_array_append_new(templates, template_json(&list[i]));
    td_free(list);
    const char *const *placeholders = td_notice_placeholders(&n_names);
    for (size_t i = 0; names && i < n_names; i++)
        json_array_append_new(names, json_string(placeholders[i]));
    td__reply_json(r, 200,
                   json_pack("{s:o, s:s, s:o, s:[s, s, s], s:{s:i, s:i, s:i}}", "templates",
                             templates ? templates : json_array(), "builtin",
                             td_notice_builtin_text(), "placeholders", names ? names : json_array(),
                             "fallback", "order language", "default", "builtin", "limits",
                             "template_bytes", TD_NOTICE_TEMPLATE_MAX, "rendered_bytes",
                             TD_NOTICE_TEXT_MAX, "placeholders", TD_NOTICE_PLACEHOLDERS_MAX));
}

static void reply_rejection(td__req *r, const td_template_rejection *why, const td_error *err)
{
    static const unsigned codes[] = {
        [TD_TEMPLATE_TOO_LARGE] = 413, [TD_TEMPLATE_UNKNOWN_PLACEHOLDER] = 422,
        [TD_TEMPLATE_MALFORMED] = 422, [TD_TEMPLATE_BAD_LANGUAGE] = 400,
        [TD_TEMPLATE_BAD_URL] = 422,
    };
    json_t *e = json_pack("{s:s, s:s}", "code", td_template_problem_name(why->problem), "message",
                          err->message);
    if (e && why->problem == TD_TEMPLATE_UNKNOWN_PLACEHOLDER) {
        json_t *names = json_array();
        for (const char *s = why->names; names && *s;) {
            size_t k = strcspn(s, ",");
            json_array_append_new(names, json_stringn(s, k));
            s += k + (s[k] == ',');
        }
        json_object_set_new(e, "placeholders", names ? names : json_array());
    }
    if (e && why->problem == TD_TEMPLATE_MALFORMED)
        json_object_set_new(e, "offset", json_integer((json_int_t)why->offset));
    td__reply_json(r, codes[why->problem], e ? json_pack("{s:o}", "error", e) : NULL);
}

/* PUT {lang} {"text": ..., "complaint_url": ...}: creates or replaces. */
void td__h_notice_template_put(td__req *r)
{
    static const char *const members[] = {"text", "complaint_url", NULL};
    td_orders *o = td__orders_or_503(r);
    json_t *b;
    if (!o || !(b = td__body_fields(r, members)))
        return;
    const char *text = NULL, *url = NULL;
    if (!td__get_string(r, b, "text", &text) || !td__get_string(r, b, "complaint_url", &url))
        goto out;
    if (!text) {
        td__reply_error(r, 400, "missing_field", "'text' is required");
        goto out;
    }
    td_template_rejection why;
    td_error err;
    td_status st = td_notice_template_set(o, r->who.name, r->params[0], text, url, &why, &err);
    if (st && why.problem != TD_TEMPLATE_OK) {
        reply_rejection(r, &why, &err);
        goto out;
    }
    if (st) {
        td__reply_status(r, st, &err);
        goto out;
    }
    td_notice_template *t = td__arena_alloc(&r->arena, sizeof *t);
    if (!t) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        goto out;
    }
    if ((st = td_notice_template_get(o, r->params[0], t, &err)))
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, template_json(t));
out:
    json_decref(b);
}

void td__h_notice_template_delete(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    if (!o)
        return;
    char lang[TD_NOTICE_LANG_MAX + 1];
    if (!td_notice_language_normalize(r->params[0], lang)) {
        td__reply_error(r, 400, "invalid_language",
                        "expected an ISO 639 code of 2 or 3 letters, or default");
        return;
    }
    td_error err;
    td_status st = td_notice_template_delete(o, r->who.name, lang, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, json_pack("{s:s}", "deleted", lang));
}
