/* HTTP handlers of message franking and verified E2EE reports (docs/e2ee.md, reports.h).
 *
 * At delivery the messaging server sends only what franking needs (the sender's franking tag,
 * the sender, the conversation, the time it accepted the message) and gets the frank and its
 * signature back; a body that carries message content is refused before anything is franked, so
 * that an integration mistake cannot make this service a recipient of plaintext. Nothing is
 * stored per message. The verification keys are public (clients check franks with them).
 *
 * A report is parsed by the library (td_report_parse: the contract's JSON, bounded) and
 * verified and recorded by it (td_report_submit): this file maps its refusals to HTTP and scopes
 * the reads. The review copy of a reported message goes only to moderators and admins, each
 * read audited; the bytes are the reporter's, so they are served as inert downloads. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/hex.h"
#include "server/handlers_frank.h"

/* Members that would carry a message's content: never accepted at delivery. */
static const char *const plaintext_members[] = {"message",   "text", "content",
                                                "plaintext", "body", "attachments"};
/* The members of one message at delivery. */
static const char *const frank_members[] = {"franking_tag", "sender", "conversation",
                                            "accepted_ms"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
/* A batch answer: {"key_id":4294967295,"frank":"<64>","signature":"<128>"} and a comma. */
#define FRANK_ANSWER_MAX 240

static td_reports *reports_or_503(td__req *r)
{
    td_reports *rep = td__req_reports(r);
    if (!rep)
        td__reply_error(r, 503, "unavailable",
                        "message franking and reports are not available (see the log)");
    return rep;
}

/* {"error": {"code", "message", "field"[, "reason"]}}: the usual shape, naming the member at
 * fault (field) and, for a report that does not verify, which check failed (reason). */
static void reply_field(td__req *r, unsigned status, const char *code, const char *field,
                        const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void reply_field(td__req *r, unsigned status, const char *code, const char *field,
                        const char *reason, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX], safe[TD__ERROR_TEXT_MAX], safe_field[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    td__safe_text(safe, sizeof safe, msg, strnlen(msg, sizeof msg));
    td__safe_text(safe_field, sizeof safe_field, field, strlen(field));
    json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message", safe, "field",
                          safe_field);
    if (j && reason)
        json_object_set_new(json_object_get(j, "error"), "reason", json_string(reason));
    if (!j) {
        td__reply_error(r, status, code, "%s", safe);
        return;
    }
    td__reply_json(r, status, j);
}

static int member_in(const char *key, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

/* Refuses (400) a member that carries content, then any member not in names; prefix is "" or
 * "messages[3]." for the field. Returns 0 when it answered. */
static int check_members(td__req *r, json_t *obj, const char *prefix, const char *const *names,
                         size_t n_names)
{
    const char *key;
    json_t *v;
    char field[96];
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (member_in(key, plaintext_members, N_OF(plaintext_members))) {
            snprintf(field, sizeof field, "%s%s", prefix, key);
            reply_field(r, 400, "plaintext_refused", field, NULL,
                        "'%s' would carry message content: franking takes only the franking "
                        "tag, the sender, the conversation and the time (docs/e2ee.md)",
                        field);
            return 0;
        }
    }
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (!member_in(key, names, n_names)) {
            snprintf(field, sizeof field, "%s%.64s", prefix, key);
            reply_field(r, 400, "unknown_field", field, NULL,
                        "this member is not part of the request");
            return 0;
        }
    }
    return 1;
}

/* A sender or conversation id: a string of 1..TD_FRANK_ID_MAX bytes without NUL. */
static int get_id(td__req *r, json_t *obj, const char *prefix, const char *name, const char **out,
                  size_t *len)
{
    char field[96];
    json_t *v = json_object_get(obj, name);
    snprintf(field, sizeof field, "%s%s", prefix, name);
    if (!v) {
        reply_field(r, 400, "missing_field", field, NULL, "'%s' is required", field);
        return 0;
    }
    if (!json_is_string(v)) {
        reply_field(r, 400, "invalid_field", field, NULL, "'%s' must be a string", field);
        return 0;
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > TD_FRANK_ID_MAX || strlen(json_string_value(v)) != n) {
        reply_field(r, 400, "invalid_field", field, NULL,
                    "'%s' must be 1..%d bytes of UTF-8 without NUL", field, TD_FRANK_ID_MAX);
        return 0;
    }
    *out = json_string_value(v);
    *len = n;
    return 1;
}

/* One message at delivery; prefix is "" for a single body, "messages[i]." in a batch. */
static int parse_frank_item(td__req *r, json_t *obj, const char *prefix, td_frank_request *out)
{
    char field[96];
    if (!check_members(r, obj, prefix, frank_members, N_OF(frank_members)))
        return 0;
    json_t *tag = json_object_get(obj, "franking_tag");
    snprintf(field, sizeof field, "%sfranking_tag", prefix);
    if (!tag) {
        reply_field(r, 400, "missing_field", field, NULL, "'%s' is required", field);
        return 0;
    }
    if (!json_is_string(tag) ||
        td__hex_decode_exact(json_string_value(tag), json_string_length(tag), out->tag,
                             TD_FRANK_TAG_LEN) != 0) {
        reply_field(r, 400, "invalid_field", field, NULL, "'%s' must be %d hex digits", field,
                    2 * TD_FRANK_TAG_LEN);
        return 0;
    }
    if (!get_id(r, obj, prefix, "sender", &out->ctx.sender, &out->ctx.sender_len) ||
        !get_id(r, obj, prefix, "conversation", &out->ctx.conversation, &out->ctx.conversation_len))
        return 0;
    json_t *at = json_object_get(obj, "accepted_ms");
    snprintf(field, sizeof field, "%saccepted_ms", prefix);
    if (!at) {
        reply_field(r, 400, "missing_field", field, NULL, "'%s' is required", field);
        return 0;
    }
    if (!json_is_integer(at)) {
        reply_field(r, 400, "invalid_field", field, NULL, "'%s' must be an integer", field);
        return 0;
    }
    if (json_integer_value(at) < 0) {
        reply_field(r, 400, "invalid_field", field, NULL,
                    "'%s' must be milliseconds since the epoch, not negative", field);
        return 0;
    }
    out->ctx.accepted_ms = json_integer_value(at);
    return 1;
}

/* Appends one proof as JSON to b. */
static td_status put_proof(td__buf *b, const td_frank_proof *p)
{
    char frank[2 * TD_FRANK_LEN + 1], sig[2 * TD_FRANK_SIG_LEN + 1];
    td__hex_encode(p->frank, TD_FRANK_LEN, frank);
    td__hex_encode(p->signature, TD_FRANK_SIG_LEN, sig);
    return td__buf_printf(b, "{\"key_id\":%u,\"frank\":\"%s\",\"signature\":\"%s\"}",
                          (unsigned)p->key_id, frank, sig);
}

/* POST /v1/frank: one message, or {"messages": [...]} of 1..TD_FRANK_BATCH_MAX. */
void td__h_frank(td__req *r)
{
    td_reports *rep = reports_or_503(r);
    if (!rep)
        return;
    json_t *body = td__body_object(r);
    if (!body)
        return;
    json_t *list = json_object_get(body, "messages");
    size_t n = 1;
    if (list) {
        static const char *const batch_members[] = {"messages"};
        if (!check_members(r, body, "", batch_members, 1))
            goto done;
        if (!json_is_array(list)) {
            reply_field(r, 400, "invalid_field", "messages", NULL,
                        "'messages' must be an array of messages");
            goto done;
        }
        n = json_array_size(list);
        if (n == 0 || n > TD_FRANK_BATCH_MAX) {
            reply_field(r, n ? 413 : 400, n ? "too_large" : "invalid_field", "messages", NULL,
                        "'messages' holds 1..%d messages, not %zu", TD_FRANK_BATCH_MAX, n);
            goto done;
        }
    }
    td_frank_request *req = td__arena_alloc(&r->arena, n * sizeof *req);
    td_frank_proof *proofs = td__arena_alloc(&r->arena, n * sizeof *proofs);
    if (!req || !proofs) {
        td__reply_status(r, TD_ERR_NOMEM, NULL);
        goto done;
    }
    if (!list) {
        if (!parse_frank_item(r, body, "", &req[0]))
            goto done;
    } else {
        for (size_t i = 0; i < n; i++) {
            char prefix[32];
            json_t *item = json_array_get(list, i);
            snprintf(prefix, sizeof prefix, "messages[%zu].", i);
            if (!json_is_object(item)) {
                prefix[strlen(prefix) - 1] = '\0';
                reply_field(r, 400, "invalid_field", prefix, NULL, "'%s' must be an object",
                            prefix);
                goto done;
            }
            if (!parse_frank_item(r, item, prefix, &req[i]))
                goto done;
        }
    }
    td_error err;
    td_status st = td_reports_frank_batch(rep, req, n, proofs, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        goto done;
    }
    /* Written directly: a batch answer is a thousand small objects of known shape. */
    td__buf out;
    td__buf_init(&out, (n + 1) * FRANK_ANSWER_MAX);
    st = list ? td__buf_addstr(&out, "{\"franks\":[") : TD_OK;
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        if (i)
            st = td__buf_add(&out, ",", 1);
        if (st == TD_OK)
            st = put_proof(&out, &proofs[i]);
    }
    if (st == TD_OK)
        st = td__buf_addstr(&out, list ? "]}\n" : "\n");
    size_t len = 0;
    char *text = st == TD_OK ? td__buf_take(&out, &len) : NULL;
    td__buf_free(&out);
    if (!text)
        td__reply_status(r, TD_ERR_NOMEM, NULL);
    else
        td__reply_take(r, 200, "application/json", text, len);
done:
    json_decref(body);
}

/* ---- keys ---- */

static const char *key_state(const td_frank_key *k)
{
    return k->destroyed ? "destroyed" : k->retired_ms ? "retired" : "current";
}

static json_t *opt_ms(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

static json_t *key_json(const td_frank_key *k)
{
    char pub[2 * TD_FRANK_PUBKEY_LEN + 1];
    td__hex_encode(k->sign_public, TD_FRANK_PUBKEY_LEN, pub);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I}", "key_id", (json_int_t)k->id, "algorithm",
                          "Ed25519", "public_key", pub, "state", key_state(k), "created_ms",
                          (json_int_t)k->created_ms);
    if (o) {
        json_object_set_new(o, "retired_ms", opt_ms(k->retired_ms));
        json_object_set_new(o, "destroy_ms", opt_ms(k->destroy_ms));
    }
    return o;
}

/* GET /v1/frank/keys: public, oldest first. */
void td__h_frank_keys(td__req *r)
{
    td_reports *rep = reports_or_503(r);
    if (!rep)
        return;
    td_frank_key *keys = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_reports_keys(rep, &keys, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, key_json(&keys[i]));
    td_free(keys);
    td__reply_json(r, 200, a ? json_pack("{s:o}", "keys", a) : NULL);
}

/* POST /v1/frank/keys/rotate (admin): the new current key. */
void td__h_frank_rotate(td__req *r)
{
    td_reports *rep = reports_or_503(r);
    if (!rep)
        return;
    td_frank_key k;
    td_error err;
    td_status st = td_reports_rotate_key(rep, r->who.name, &k, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *j = key_json(&k);
    td_frank_key_wipe(&k);
    td__reply_json(r, 201, j);
}

/* ---- reports ---- */

/* Answers a refused report: the rejection's code and field, with the status the contract gives
 * it; a failure that is not a rejection gets the usual answer of its status. */
static void reply_rejection(td__req *r, td_status st, const td_report_rejection *rej,
                            const td_error *err)
{
    char problem[sizeof rej->problem + 1], field[sizeof rej->field + 1];
    snprintf(problem, sizeof problem, "%.*s", (int)strnlen(rej->problem, sizeof rej->problem),
             rej->problem);
    snprintf(field, sizeof field, "%.*s", (int)strnlen(rej->field, sizeof rej->field), rej->field);
    if (!problem[0] || st == TD_ERR_NOMEM || st == TD_ERR_NOSPACE || st == TD_ERR_IO ||
        st == TD_ERR_INTERNAL) {
        td__reply_status(r, st, err);
        return;
    }
    const char *msg = err && err->message[0] ? err->message : td_strerror(st);
    unsigned status = 400;
    const char *reason = NULL;
    if (strcmp(problem, "frank_invalid") == 0) {
        status = 422;
        reason = td_frank_failure_name(rej->why);
    } else if (strcmp(problem, "attachment_invalid") == 0) {
        status = 422;
    } else if (strcmp(problem, "attachment_key_conflict") == 0) {
        status = 409;
    } else if (strcmp(problem, "too_large") == 0) {
        status = 413;
    }
    reply_field(r, status, problem, field, reason, "%s", msg);
}

static json_t *opt_id(int64_t id) { return id ? json_integer(id) : json_null(); }

/* POST /v1/reports (platform, relaying the reporting client). */
void td__h_reports_submit(td__req *r)
{
    td_reports *rep = reports_or_503(r);
    if (!rep)
        return;
    td_report_input in;
    td_report_parsed *owner = NULL;
    td_report_rejection rej;
    td_error err;
    memset(&in, 0, sizeof in);
    memset(&rej, 0, sizeof rej);
    err.message[0] = '\0';
    td_status st = td_report_parse((const char *)r->body, r->body_len, &in, &owner, &rej, &err);
    if (st != TD_OK) {
        reply_rejection(r, st, &rej, &err);
        return;
    }
    in.platform_key = td_principal_platform(&r->who);
    td_report out[TD_REPORT_MESSAGES_MAX];
    memset(&rej, 0, sizeof rej);
    st = in.n_messages <= TD_REPORT_MESSAGES_MAX ? td_report_submit(rep, &in, out, &rej, &err)
                                                 : TD_ERR_LIMIT;
    size_t n = in.n_messages;
    td_report_input_free(owner);
    if (st != TD_OK) {
        reply_rejection(r, st, &rej, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:o, s:s, s:I, s:b}", "report_id", (json_int_t)out[i].id,
                         "content_id", out[i].content_id, "case_id", opt_id(out[i].case_id),
                         "verdict", td_verdict_name(out[i].verdict), "reporters",
                         (json_int_t)out[i].reporters, "duplicate", out[i].duplicate));
    td__reply_json(r, 201, a ? json_pack("{s:o}", "reports", a) : NULL);
}

/* The report with id as the caller may see it: a platform key sees only the reports its
 * platform relayed (td_report_get_as), and anything else answers exactly as an unknown report.
 * Returns 0 after answering. */
static int visible_report(td__req *r, td_reports *rep, int64_t id, td_report *out)
{
    td_error err;
    td_status st = td_report_get_as(rep, &r->who, id, out, &err);
    if (st == TD_ERR_NOT_FOUND) {
        td__reply_error(r, 404, "not_found", "no report %lld", (long long)id);
        return 0;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    return 1;
}

/* A report's record as the API shows it: never the message. */
static json_t *report_json(const td_report *t)
{
    return json_pack("{s:I, s:s, s:o, s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:b, s:o}",
                     "report_id", (json_int_t)t->id, "content_id", t->content_id, "case_id",
                     opt_id(t->case_id), "verdict", td_verdict_name(t->verdict), "reporters",
                     (json_int_t)t->reporters, "received_ms", (json_int_t)t->received_ms, "key_id",
                     (json_int_t)t->key_id, "sender", t->sender, "conversation", t->conversation,
                     "accepted_ms", (json_int_t)t->accepted_ms, "attachments",
                     (json_int_t)t->n_attachments, "review_copy", t->review_copy, "evidence_item",
                     opt_id(t->evidence_item));
}

/* GET /v1/reports/{id}: the record, never the message. */
void td__h_report_get(td__req *r)
{
    td_reports *rep = reports_or_503(r);
    int64_t id = rep ? td__param_id(r, 0) : -1;
    td_report t;
    if (id < 0 || !visible_report(r, rep, id, &t))
        return;
    td__reply_json(r, 200, report_json(&t));
}

/* GET /v1/reports?open=&limit=&offset=: the moderators' list, newest first. */
void td__h_report_list(td__req *r)
{
    td_reports *rep = reports_or_503(r);
    int64_t open, limit, offset;
    if (!rep || !td__query_int(r, "open", 0, 1, 0, &open) ||
        !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    td_report *items = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_report_list(rep, (int)open, (size_t)limit, (size_t)offset, &items, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, report_json(&items[i])))
            break;
    td_free(items);
    td__reply_json(r, 200, json_pack("{s:o}", "reports", arr ? arr : json_array()));
}

/* The review copy's part index (-1: the text) for a moderator or admin, audited by the
 * library. The bytes come from the reported sender: served as a download that no browser
 * renders in this origin. */
static void reply_copy(td__req *r, int index, const char *type)
{
    td_reports *rep = reports_or_503(r);
    int64_t id = rep ? td__param_id(r, 0) : -1;
    if (id < 0)
        return;
    uint8_t *data = NULL;
    size_t len = 0;
    td_error err;
    td_status st = td_report_read(rep, id, index, r->who.name, &data, &len, &err);
    if (st == TD_ERR_NOT_FOUND) {
        td__reply_error(r, 404, "not_found", "%s", err.message);
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    /* td_free and td__free are the same allocator: the response takes the bytes. */
    if (!data) {
        td__reply_text(r, 200, type, "", 0);
        return;
    }
    td__reply_take(r, 200, type, (char *)data, len);
}

void td__h_report_text(td__req *r) { reply_copy(r, -1, "text/plain; charset=utf-8"); }

void td__h_report_attachment(td__req *r)
{
    const char *s = r->n_params > 1 ? r->params[1] : "";
    size_t n = strlen(s);
    int index = 0;
    if (n == 0 || n > 2 || strspn(s, "0123456789") != n) {
        td__reply_error(r, 400, "invalid_id", "'%s' is not an attachment index", s);
        return;
    }
    for (size_t i = 0; i < n; i++)
        index = index * 10 + (s[i] - '0');
    if (index >= TD_FRANK_ATTACH_MAX) {
        td__reply_error(r, 404, "not_found", "no attachment %d (a message has at most %d)", index,
                        TD_FRANK_ATTACH_MAX);
        return;
    }
    reply_copy(r, index, "application/octet-stream");
}
