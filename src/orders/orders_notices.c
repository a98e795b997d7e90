/* User notices (Art. 11 TCO) as "notice" webhooks, and the operator's notice templates they are
 * written with (table notice_templates of component "orders").
 *
 * Why the template is read when the notice is sent rather than cached: the operator changes the
 * wording without a restart, and a withheld notice released weeks later speaks with the
 * template of the day it is released. The choice is the order's language, then "default", then
 * the built-in English text, so a notice is always sent; templates are checked when stored
 * (orders_template.c) so that rendering one cannot fail for its text. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "orders/orders_int.h"
#include "orders/orders_template_int.h"

static json_t *time_or_null(int64_t ms)
{
    char buf[32];
    if (!ms)
        return json_null();
    td_order_time_format(ms, buf);
    return json_string(buf);
}

/* ---- the templates ---- */

#define TPL_COLUMNS "language, text, complaint_url, updated_ms, updated_by"

static void template_row(td_stmt *q, td_notice_template *t)
{
    memset(t, 0, sizeof *t);
    td__copy_trunc(t->language, sizeof t->language, td_stmt_column_text(q, 0));
    td__copy_trunc(t->text, sizeof t->text, td_stmt_column_text(q, 1));
    td__copy_trunc(t->complaint_url, sizeof t->complaint_url, td_stmt_column_text(q, 2));
    t->updated_ms = td_stmt_column_int64(q, 3);
    td__copy_trunc(t->updated_by, sizeof t->updated_by, td_stmt_column_text(q, 4));
}

/* The template of language on connection c; *found 0 when none. */
static td_status template_load(td_store_conn *c, const char *language, td_notice_template *out,
                               int *found, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *found = 0;
    if ((st = td_store_prepare(
             c, "SELECT " TPL_COLUMNS " FROM notice_templates WHERE language = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, language, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        template_row(q, out);
        *found = 1;
    }
    td_stmt_reset(q);
    return TD_OK;
}

static td_status bad_url(td_template_rejection *why, td_template_problem problem, td_status code,
                         td_error *err, const char *msg)
{
    if (why)
        why->problem = problem;
    return td__error_set(err, code, "complaint_url: %s", msg);
}

/* A complaint URL: empty, or http(s):// followed by printable ASCII without spaces. */
static td_status check_url(const char *url, td_template_rejection *why, td_error *err)
{
    size_t n = url ? strnlen(url, TD_CASE_URL_MAX + 1) : 0;
    if (n == 0)
        return TD_OK;
    if (n > TD_CASE_URL_MAX)
        return bad_url(why, TD_TEMPLATE_TOO_LARGE, TD_ERR_LIMIT, err, "longer than 2048 bytes");
    if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
        return bad_url(why, TD_TEMPLATE_BAD_URL, TD_ERR_INVALID, err,
                       "expected an http:// or https:// URL");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return bad_url(why, TD_TEMPLATE_BAD_URL, TD_ERR_INVALID, err,
                           "spaces, control or non-ASCII characters (percent-encode them)");
    return TD_OK;
}

typedef struct tpl_args {
    const char *actor, *text, *url;
    char language[TD_NOTICE_LANG_MAX + 1];
    int64_t now;
    int changes;
} tpl_args;

static void template_object(char *out, size_t cap, const char *language)
{
    snprintf(out, cap, "notice-template:%s", language);
}

static td_status set_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    tpl_args *a = ctx;
    td_notice_template *old = td__malloc(sizeof *old);
    int found = 0;
    td_stmt *q;
    char who[TD_NAME_MAX + 1], obj[48], hex[65];
    uint8_t digest[32];
    if (!old)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = template_load(c, a->language, old, &found, err);
    td__free(old);
    if (st)
        return st;
    td__copy_trunc(who, sizeof who, a->actor && *a->actor ? a->actor : "system");
    if ((st = td_store_prepare(c,
                               "INSERT INTO notice_templates (" TPL_COLUMNS ")"
                               " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (language) DO UPDATE"
                               " SET text = excluded.text, complaint_url = excluded.complaint_url,"
                               " updated_ms = excluded.updated_ms,"
                               " updated_by = excluded.updated_by",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->language, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->text, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, a->url ? a->url : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, a->now, err)) ||
        (st = td_stmt_bind_text(q, 5, who, (size_t)-1, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    /* The log keeps what the uploader was told in the form of the text's digest. */
    crypto_hash_sha256(digest, (const uint8_t *)a->text, strlen(a->text));
    td__hex_encode(digest, sizeof digest, hex);
    template_object(obj, sizeof obj, a->language);
    return td__orders_audit(o, c, a->actor, "notice.template_set", obj,
                            json_pack("{s:s, s:I, s:s, s:s, s:b}", "language", a->language, "bytes",
                                      (json_int_t)strlen(a->text), "sha256", hex, "complaint_url",
                                      a->url ? a->url : "", "replaced", found),
                            err);
}

td_status td_notice_template_set(td_orders *o, const char *actor, const char *language,
                                 const char *text, const char *complaint_url,
                                 td_template_rejection *why, td_error *err)
{
    tpl_args a;
    memset(&a, 0, sizeof a);
    if (why)
        memset(why, 0, sizeof *why);
    if (!td_notice_language_normalize(language, a.language)) {
        if (why)
            why->problem = TD_TEMPLATE_BAD_LANGUAGE;
        return td__error_set(err, TD_ERR_INVALID,
                             "language: expected an ISO 639 code of 2 or 3 letters, or default");
    }
    td_status st = td_notice_template_check(text, text ? strlen(text) : 0, why, err);
    if (st || (st = check_url(complaint_url, why, err)))
        return st;
    a.actor = actor;
    a.text = text;
    a.url = complaint_url;
    a.now = td__now(o->svc);
    return td__orders_tx(o, set_body, &a, err);
}

td_status td_notice_template_get(td_orders *o, const char *language, td_notice_template *out,
                                 td_error *err)
{
    char lang[TD_NOTICE_LANG_MAX + 1];
    td_store_conn *c;
    int found = 0;
    if (!td_notice_language_normalize(language, lang))
        return td__error_set(err, TD_ERR_INVALID,
                             "language: expected an ISO 639 code of 2 or 3 letters, or default");
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    st = template_load(c, lang, out, &found, err);
    td_store_release(o->svc->store, c);
    if (st == TD_OK && !found)
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no notice template for %s", lang);
    return st;
}

static void template_item(td_stmt *q, void *item) { template_row(q, item); }

td_status td_notice_template_list(td_orders *o, td_notice_template **out, size_t *count,
                                  td_error *err)
{
    return td_store_read_rows(
        o->svc->store, "SELECT " TPL_COLUMNS " FROM notice_templates ORDER BY language", NULL, 0,
        TD_NOTICE_TEMPLATES_MAX, sizeof **out, template_item, (void **)out, count, err);
}

static td_status delete_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    tpl_args *a = ctx;
    td_stmt *q;
    int64_t changes = 0;
    char obj[48];
    td_status st;
    if ((st = td_store_prepare(c, "DELETE FROM notice_templates WHERE language = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->language, (size_t)-1, err)) ||
        (st = td_stmt_run(q, &changes, err)))
        return st;
    if (changes == 0)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no notice template for %s", a->language);
    template_object(obj, sizeof obj, a->language);
    return td__orders_audit(o, c, a->actor, "notice.template_deleted", obj,
                            json_pack("{s:s}", "language", a->language), err);
}

td_status td_notice_template_delete(td_orders *o, const char *actor, const char *language,
                                    td_error *err)
{
    tpl_args a;
    memset(&a, 0, sizeof a);
    if (!td_notice_language_normalize(language, a.language))
        return td__error_set(err, TD_ERR_INVALID,
                             "language: expected an ISO 639 code of 2 or 3 letters, or default");
    a.actor = actor;
    return td__orders_tx(o, delete_body, &a, err);
}

/* ---- the notice webhook ---- */

/* The notice text for ord's removed item: the template of the order's language, else
 * "default", else the built-in text. *used names it ("de", "default", "builtin"); url receives
 * the template's complaint URL. *text is td__malloc'ed. */
static td_status notice_text(td_orders *o, td_store_conn *c, const td_order *ord,
                             const char *content_id, const char *item_url, char **text,
                             char used[TD_NOTICE_LANG_MAX + 1], char url[TD_CASE_URL_MAX + 1],
                             td_error *err)
{
    td_notice_template *t = td__malloc(sizeof *t);
    int found = 0;
    td_status st = TD_OK;
    *text = NULL;
    if (!t)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (ord->doc.language[0])
        st = template_load(c, ord->doc.language, t, &found, err);
    if (st == TD_OK && !found)
        st = template_load(c, "default", t, &found, err);
    if (st) {
        td__free(t);
        return st;
    }
    if (!found) {
        memset(t, 0, sizeof *t);
        snprintf(t->language, sizeof t->language, "builtin");
        snprintf(t->text, sizeof t->text, "%s", td_notice_builtin_text());
    }
    char cat[2] = {ord->doc.category, '\0'}, issued[32] = "", measured[32] = "", days[24];
    if (ord->doc.issued_ms)
        td_order_time_format(ord->doc.issued_ms, issued);
    if (ord->confirmed_ms)
        td_order_time_format(ord->confirmed_ms, measured);
    snprintf(days, sizeof days, "%lld", (long long)(o->opts.complaint_answer_ms / TD__DAY));
    td__notice_values v;
    memset(&v, 0, sizeof v);
    v.v[TD__NF_REASON] = ord->doc.statement;
    v.v[TD__NF_CATEGORY] = cat;
    v.v[TD__NF_CATEGORY_TEXT] = td__category_text(ord->doc.category);
    v.v[TD__NF_REFERENCE] = ord->doc.reference;
    v.v[TD__NF_AUTHORITY] = ord->authority;
    v.v[TD__NF_MEMBER_STATE] = ord->doc.member_state;
    v.v[TD__NF_ISSUED_AT] = issued;
    v.v[TD__NF_REDRESS] = ord->doc.redress;
    v.v[TD__NF_COMPLAINT_URL] = t->complaint_url;
    v.v[TD__NF_COMPLAINT_DAYS] = days;
    v.v[TD__NF_CONTENT_ID] = content_id;
    v.v[TD__NF_URL] = item_url;
    v.v[TD__NF_MEASURE] = ord->measure;
    v.v[TD__NF_TIME_OF_MEASURE] = measured;
    size_t len = 0;
    st = td__notice_render(t->text, strlen(t->text), &v, text, &len, err);
    memcpy(used, t->language, sizeof t->language);
    memcpy(url, t->complaint_url, sizeof t->complaint_url);
    td__free(t);
    return st;
}

td_status td__notice_fire(td_orders *o, td_store_conn *c, int64_t notice_id, td_error *err)
{
    td_stmt *q;
    int row = 0;
    char content_id[TD_CONTENT_ID_MAX + 1], cause[48];
    char url[TD_CASE_URL_MAX + 1] = "", uploader[TD_UPLOADER_MAX + 1] = "";
    int64_t order_id, hold, released;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT order_id, content_id, hold_until_ms, released_ms"
                               " FROM order_notices WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, notice_id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no notice %lld", (long long)notice_id);
    }
    order_id = td_stmt_column_int64(q, 0);
    td__copy_trunc(content_id, sizeof content_id, td_stmt_column_text(q, 1));
    hold = td_stmt_column_int64(q, 2);
    released = td_stmt_column_int64(q, 3);
    td_stmt_reset(q);
    if ((st = td_store_prepare(c, "SELECT url, uploader FROM content WHERE content_id = $1", &q,
                               err)) ||
        (st = td_stmt_bind_text(q, 1, content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        td__copy_trunc(url, sizeof url, td_stmt_column_text(q, 0));
        td__copy_trunc(uploader, sizeof uploader, td_stmt_column_text(q, 1));
    }
    td_stmt_reset(q);
    td_order *ord = td__malloc(sizeof *ord);
    char *text = NULL, used[TD_NOTICE_LANG_MAX + 1] = "";
    char *complaint_url = td__malloc(TD_CASE_URL_MAX + 1);
    if (!ord || !complaint_url) {
        td__free(ord);
        td__free(complaint_url);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if ((st = td__order_load(c, order_id, ord, err)))
        goto out;
    for (size_t i = 0; i < ord->doc.n_targets; i++)
        if (strcmp(ord->doc.targets[i].content_id, content_id) == 0 && ord->doc.targets[i].url[0])
            td__copy_trunc(url, sizeof url, ord->doc.targets[i].url);
    if ((st = notice_text(o, c, ord, content_id, url, &text, used, complaint_url, err)))
        goto out;
    char cat[2] = {ord->doc.category, '\0'};
    /* A notice is only pushed once disclosure is allowed (no do-not-inform period, or it
     * ended), so it names the order. */
    json_t *extra = json_pack(
        "{s:I, s:s, s:s, s:o, s:I, s:I, s:I, s:s, s:s,"
        " s:{s:s, s:s, s:s},"
        " s:{s:I, s:s, s:s, s:s, s:o},"
        " s:{s:s, s:s, s:s, s:I}}",
        "notice_id", (json_int_t)notice_id, "uploader", uploader, "measure", ord->measure,
        "time_of_measure", time_or_null(ord->confirmed_ms), "measure_ms",
        (json_int_t)ord->confirmed_ms, "withheld_until_ms", (json_int_t)hold, "released_ms",
        (json_int_t)released, "language", ord->doc.language, "template", used, "reasons",
        "category", cat, "category_text", td__category_text(ord->doc.category), "statement",
        ord->doc.statement, "order", "id", (json_int_t)ord->id, "reference", ord->doc.reference,
        "issuing_authority", ord->authority, "issuing_member_state", ord->doc.member_state,
        "issued_at", time_or_null(ord->doc.issued_ms), "redress", "judicial", ord->doc.redress,
        "complaint", text, "complaint_url", complaint_url, "complaint_answer_days",
        (json_int_t)(o->opts.complaint_answer_ms / TD__DAY));
    if (!extra) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(cause, sizeof cause, "order:%lld", (long long)order_id);
    /* Subject "order:<id>:<content_id>": one notice event per removal. */
    st = td__orders_fire(o, c, TD_EVENT_NOTICE, cause, content_id, url, extra, err);
out:
    td__free(ord);
    td__free(text);
    td__free(complaint_url);
    return st;
}
