/* A verified report: every message checked, then one transaction records it all.
 *
 * Order of steps, and why:
 *  1. limits and the form of the input (nothing costly yet);
 *  2. every message verified (its franked bytes rebuilt from the text and its attachments'
 *     references, the tag, the frank and the signature under the key it names) and every
 *     attachment opened against its commitment; the first failure refuses the whole report with
 *     a counter and nothing else: a reporter cannot get half a report stored;
 *  3. outside any transaction, since hashing is slow: which messages were reported before (read),
 *     and for the others the content to record (the text, the URLs found in it, each decrypted
 *     attachment as a part: td__content_prepare);
 *  4. one write transaction: the attachment key registry (one key per ciphertext, ever: a second
 *     key for a known blob refuses the whole report, TD_ERR_CONFLICT), then per message either the
 *     known report with one more reporter (a replay by the same reporter changes nothing) or the
 *     content (casework's in-transaction intake: matches, verdict, case, remove event), the report,
 *     its reporter, its attachments' keys, its review copy and the audit entry. A message reported
 *     by another node between steps 3 and 4 is found again in step 4 and becomes a reporter.
 * The content id is "e2ee-" and the first 16 bytes of the frank in hex: the same message is the
 * same content on every node. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/utf8.h"
#include "reports/reports_int.h"

typedef struct msg_work {
    const td_report_message *m;
    td_frank_attachment_ref refs[TD_FRANK_ATTACH_MAX];
    uint8_t *plain[TD_FRANK_ATTACH_MAX];
    size_t plain_len[TD_FRANK_ATTACH_MAX];
    char content_id[TD_CONTENT_ID_MAX + 1];
    int dup_of; /* an earlier message of this call that is the same message, or -1 */
    int known;  /* reported before this call (read before the transaction) */
    /* the content of a new report */
    char **urls;
    size_t n_urls;
    td_hashes h;
    td_content_part parts[TD_FRANK_ATTACH_MAX];
    td_content_input cin;
    char uploader[TD_UPLOADER_MAX + 1];
    char *meta;
    td__content_prep prep;
    int prepared;
    /* the outcome */
    int64_t report_id;
    int duplicate;
} msg_work;

static void work_clear(msg_work *w)
{
    for (size_t j = 0; j < TD_FRANK_ATTACH_MAX; j++)
        if (w->plain[j]) {
            sodium_memzero(w->plain[j], w->plain_len[j]);
            td__free(w->plain[j]);
        }
    td_url_list_free(w->urls, w->n_urls);
    if (w->prepared)
        td__content_prep_clear(&w->prep);
    free(w->meta); /* jansson's */
}

/* The member a context error names ("sender: ..." from td_frank_context_encode). */
static const char *context_member(const td_error *err)
{
    static const char *const members[] = {"sender", "conversation", "accepted_ms"};
    for (size_t i = 0; err && i < sizeof members / sizeof members[0]; i++)
        if (strncmp(err->message, members[i], strlen(members[i])) == 0)
            return members[i];
    return "";
}

static int text_ok(const char *s, size_t n, int plain)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (!k || cp == 0 || (plain && td__unicode_is_control(cp)))
            return 0;
        i += k;
    }
    return 1;
}

static td_status check_input(td_reports *rep, const td_report_input *in, td_report_rejection *rej,
                             td_error *err)
{
    size_t n;
    if (!in->reporter || !*in->reporter)
        return td__report_refuse(rej, "missing_field", "reporter", TD_ERR_INVALID, err, "required");
    if ((n = strnlen(in->reporter, TD_REPORT_REPORTER_MAX + 1)) > TD_REPORT_REPORTER_MAX)
        return td__report_refuse(rej, "too_large", "reporter", TD_ERR_LIMIT, err,
                                 "longer than %d bytes", TD_REPORT_REPORTER_MAX);
    if (!text_ok(in->reporter, n, 1))
        return td__report_refuse(rej, "invalid_field", "reporter", TD_ERR_INVALID, err,
                                 "not UTF-8 text without control characters");
    if (in->reason) {
        if ((n = strnlen(in->reason, TD_REPORT_REASON_MAX + 1)) > TD_REPORT_REASON_MAX)
            return td__report_refuse(rej, "too_large", "reason", TD_ERR_LIMIT, err,
                                     "longer than %d bytes", TD_REPORT_REASON_MAX);
        if (!text_ok(in->reason, n, 0))
            return td__report_refuse(rej, "invalid_field", "reason", TD_ERR_INVALID, err,
                                     "not UTF-8 text");
    }
    if (!in->messages || in->n_messages == 0)
        return td__report_refuse(rej, "missing_field", "messages", TD_ERR_INVALID, err,
                                 "at least one message");
    if (in->n_messages > TD_REPORT_MESSAGES_MAX)
        return td__report_refuse(rej, "too_large", "messages", TD_ERR_LIMIT, err,
                                 "more than %d messages", TD_REPORT_MESSAGES_MAX);
    uint64_t total = 0; /* every attachment is held decrypted at once: bounded as the body is */
    for (size_t i = 0; i < in->n_messages; i++) {
        const td_report_message *m = &in->messages[i];
        char field[96];
        snprintf(field, sizeof field, "messages[%zu].text", i);
        if (m->text_len > TD_FRANK_TEXT_MAX)
            return td__report_refuse(rej, "too_large", field, TD_ERR_LIMIT, err,
                                     "longer than %zu bytes", TD_FRANK_TEXT_MAX);
        if (!m->text && m->text_len)
            return td__report_refuse(rej, "missing_field", field, TD_ERR_INVALID, err, "no text");
        snprintf(field, sizeof field, "messages[%zu].attachments", i);
        if (m->n_attachments > TD_FRANK_ATTACH_MAX)
            return td__report_refuse(rej, "too_large", field, TD_ERR_LIMIT, err,
                                     "more than %d attachments", TD_FRANK_ATTACH_MAX);
        if (m->n_attachments && !m->attachments)
            return td__report_refuse(rej, "missing_field", field, TD_ERR_INVALID, err,
                                     "no attachments");
        for (size_t j = 0; j < m->n_attachments; j++) {
            const td_report_attachment *a = &m->attachments[j];
            snprintf(field, sizeof field, "messages[%zu].attachments[%zu]", i, j);
            if (!a->blob || a->blob_len < TD_FRANK_ATTACH_NONCE_LEN + TD_FRANK_ATTACH_TAG_LEN)
                return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                         "shorter than a nonce and a tag");
            if ((int64_t)(a->blob_len - TD_FRANK_ATTACH_NONCE_LEN - TD_FRANK_ATTACH_TAG_LEN) >
                rep->opts.max_attachment_bytes)
                return td__report_refuse(rej, "too_large", field, TD_ERR_LIMIT, err,
                                         "over %lld bytes",
                                         (long long)rep->opts.max_attachment_bytes);
            total += a->blob_len;
            if (total > (uint64_t)TD_REPORT_BODY_MAX)
                return td__report_refuse(rej, "too_large", field, TD_ERR_LIMIT, err,
                                         "the report's attachments exceed %d bytes together",
                                         TD_REPORT_BODY_MAX);
        }
    }
    return TD_OK;
}

/* Step 2 for one message: its franked bytes, the frank, its attachments. */
static td_status verify_message(td_reports *rep, size_t i, msg_work *w, td_report_rejection *rej,
                                td_error *err)
{
    const td_report_message *m = w->m;
    char field[96];
    uint8_t *msg = NULL;
    size_t len = 0;
    td_frank_failure why = TD_FRANK_BAD_INPUT;
    td_status st;
    for (size_t j = 0; j < m->n_attachments; j++) {
        crypto_hash_sha256(w->refs[j].blob_sha256, m->attachments[j].blob,
                           m->attachments[j].blob_len);
        td_frank_key_commitment(m->attachments[j].key, w->refs[j].key_commitment);
    }
    snprintf(field, sizeof field, "messages[%zu].text", i);
    if ((st = td_frank_message_encode(m->text ? m->text : "", m->text_len, w->refs,
                                      m->n_attachments, &msg, &len, err))) {
        atomic_fetch_add(&rep->invalid[TD_FRANK_BAD_INPUT], 1);
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "not UTF-8 text");
    }
    st = td__reports_verify(rep, m->salt, msg, len, &m->ctx, &m->proof, &why, err);
    td__free(msg);
    if (st) {
        if (why == TD_FRANK_OK || why > TD_FRANK_BAD_SIGNATURE)
            why = TD_FRANK_BAD_INPUT;
        atomic_fetch_add(&rep->invalid[why], 1);
        if (why == TD_FRANK_BAD_INPUT) {
            snprintf(field, sizeof field, "messages[%zu].%s", i, context_member(err));
            return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err, "%s",
                                     err ? err->message : "malformed");
        }
        snprintf(field, sizeof field, "messages[%zu]", i);
        rej->why = why;
        return td__report_refuse(rej, "frank_invalid", field, TD_ERR_INVALID, err, "%s",
                                 td_frank_failure_name(why));
    }
    for (size_t j = 0; j < m->n_attachments; j++) {
        const td_report_attachment *a = &m->attachments[j];
        td_error why_err;
        snprintf(field, sizeof field, "messages[%zu].attachments[%zu]", i, j);
        if ((st = td_frank_attachment_open(&w->refs[j], a->key, a->blob, a->blob_len, &w->plain[j],
                                           &w->plain_len[j], &why_err))) {
            atomic_fetch_add(&rep->invalid[0], 1);
            if (st == TD_ERR_NOMEM)
                return td__error_set(err, st, "out of memory");
            return td__report_refuse(rej, "attachment_invalid", field, TD_ERR_INVALID, err, "%s",
                                     why_err.message);
        }
    }
    return TD_OK;
}

/* Content of a new report: the text and its URLs, the decrypted attachments as parts. */
static td_status prepare_content(td_reports *rep, const td_report_input *in, msg_work *w,
                                 td_error *err)
{
    const td_report_message *m = w->m;
    td_status st;
    td_hashes_init(&w->h);
    if (m->text_len) {
        w->h.text = m->text;
        w->h.text_len = m->text_len;
        if ((st = td_url_extract(m->text, m->text_len, TD_CHECK_URLS_MAX, &w->urls, &w->n_urls,
                                 err)))
            return st;
        w->h.urls = (const char *const *)w->urls;
        w->h.n_urls = w->n_urls;
    }
    for (size_t j = 0; j < m->n_attachments; j++) {
        w->parts[j].media = w->plain[j];
        w->parts[j].media_len = w->plain_len[j];
    }
    /* The content's uploader is the sender, control bytes shown as '?' (the report keeps the
     * exact id); its metadata the conversation and the key. */
    size_t n = m->ctx.sender_len < TD_UPLOADER_MAX ? m->ctx.sender_len : TD_UPLOADER_MAX;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)m->ctx.sender[k];
        w->uploader[k] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    w->uploader[n] = '\0';
    json_t *meta =
        json_pack("{s:{s:s%, s:I, s:I}}", "e2ee_report", "conversation", m->ctx.conversation,
                  m->ctx.conversation_len, "key_id", (json_int_t)m->proof.key_id, "attachments",
                  (json_int_t)m->n_attachments);
    w->meta = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (!w->meta)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    memset(&w->cin, 0, sizeof w->cin);
    w->cin.content_id = w->content_id;
    w->cin.uploader = w->uploader;
    w->cin.time_ms = m->ctx.accepted_ms;
    w->cin.metadata_json = w->meta;
    w->cin.hashes = &w->h;
    w->cin.platform_key = in->platform_key > 0 ? in->platform_key : 0;
    w->cin.source = "e2ee_report";
    w->cin.open_case = 1;
    w->cin.parts = w->parts;
    w->cin.n_parts = m->n_attachments;
    if ((st = td__content_prepare(rep->svc, &w->cin, &w->prep, err)))
        return st;
    w->prepared = 1;
    return TD_OK;
}

/* ---- the transaction ---- */

typedef struct submit_args {
    const td_report_input *in;
    msg_work *w;
    size_t n;
    td_report_rejection *rej;
} submit_args;

static td_status find_report(td_store_conn *c, const td_report_message *m, int64_t *id,
                             td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *id = 0;
    if ((st = td_store_prepare(c, "SELECT id FROM reports WHERE key_id = $1 AND frank = $2", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, m->proof.key_id, err)) ||
        (st = td_stmt_bind_blob(q, 2, m->proof.frank, TD_FRANK_LEN, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        *id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

static td_status add_reporter(td_reports *rep, td_store_conn *c, const td_report_input *in,
                              int64_t report_id, int64_t now, int64_t *added, td_error *err)
{
    td_stmt *q;
    td_status st;
    if ((st = td_store_prepare(c,
                               "INSERT INTO report_reporters (report_id, reporter, reason,"
                               " platform_key, reported_ms) VALUES ($1, $2, $3, $4, $5)"
                               " ON CONFLICT (report_id, reporter) DO NOTHING",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, report_id, err)) ||
        (st = td_stmt_bind_text(q, 2, in->reporter, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, in->reason ? in->reason : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, in->platform_key > 0 ? in->platform_key : 0, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) || (st = td_stmt_run(q, added, err)))
        return st;
    (void)rep;
    return TD_OK;
}

static td_status check_registry(td_store_conn *c, const msg_work *w, size_t i,
                                td_report_rejection *rej, td_error *err)
{
    for (size_t j = 0; j < w->m->n_attachments; j++) {
        td_stmt *q;
        int row = 0, same = 1;
        td_status st;
        if ((st = td_store_prepare(c,
                                   "SELECT key_commitment FROM report_attachments"
                                   " WHERE blob_sha256 = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_blob(q, 1, w->refs[j].blob_sha256, 32, err)) ||
            (st = td_stmt_step(q, &row, err)))
            return st;
        if (row)
            same = td_stmt_column_bytes(q, 0) == 32 &&
                   sodium_memcmp(td_stmt_column_blob(q, 0), w->refs[j].key_commitment, 32) == 0;
        td_stmt_reset(q);
        if (!same) {
            char field[96];
            snprintf(field, sizeof field, "messages[%zu].attachments[%zu]", i, j);
            return td__report_refuse(rej, "attachment_key_conflict", field, TD_ERR_CONFLICT, err,
                                     "this ciphertext was reported before with another key");
        }
    }
    return TD_OK;
}

static td_status new_report(td_reports *rep, td_store_conn *c, const td_report_input *in,
                            msg_work *w, int64_t now, td_error *err)
{
    const td_report_message *m = w->m;
    td_stmt *q;
    int row = 0;
    int64_t ref = 0, case_id = 0;
    td_status st;
    if (!w->prepared)
        return td__error_set(err, TD_ERR_INTERNAL, "report: message known before, gone now");
    if ((st = td__content_insert(rep->svc, c, &w->prep, &ref, &case_id, err)))
        return st;
    if ((st = td_store_prepare(c,
                               "INSERT INTO reports (key_id, frank, content_ref, content_id,"
                               " case_id, sender, conversation, accepted_ms, salt, signature,"
                               " attachments, received_ms, refs) VALUES ($1, $2, $3, $4, $5, $6,"
                               " $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, m->proof.key_id, err)) ||
        (st = td_stmt_bind_blob(q, 2, m->proof.frank, TD_FRANK_LEN, err)) ||
        (st = td_stmt_bind_int64(q, 3, ref, err)) ||
        (st = td_stmt_bind_text(q, 4, w->content_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, case_id, err)) ||
        (st = td_stmt_bind_text(q, 6, m->ctx.sender, m->ctx.sender_len, err)) ||
        (st = td_stmt_bind_text(q, 7, m->ctx.conversation, m->ctx.conversation_len, err)) ||
        (st = td_stmt_bind_int64(q, 8, m->ctx.accepted_ms, err)) ||
        (st = td_stmt_bind_blob(q, 9, m->salt, TD_FRANK_SALT_LEN, err)) ||
        (st = td_stmt_bind_blob(q, 10, m->proof.signature, TD_FRANK_SIG_LEN, err)) ||
        (st = td_stmt_bind_int64(q, 11, (int64_t)m->n_attachments, err)) ||
        (st = td_stmt_bind_int64(q, 12, now, err)) ||
        (st = td_stmt_bind_blob(q, 13, w->refs, m->n_attachments * sizeof w->refs[0], err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    w->report_id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (!w->report_id)
        return td__error_set(err, TD_ERR_INTERNAL, "report: no id");
    if ((st = add_reporter(rep, c, in, w->report_id, now, NULL, err)))
        return st;
    for (size_t j = 0; j < m->n_attachments; j++)
        if ((st = td_store_prepare(c,
                                   "INSERT INTO report_attachments (blob_sha256, key_commitment,"
                                   " report_id, seen_ms) VALUES ($1, $2, $3, $4)"
                                   " ON CONFLICT (blob_sha256) DO NOTHING",
                                   &q, err)) ||
            (st = td_stmt_bind_blob(q, 1, w->refs[j].blob_sha256, 32, err)) ||
            (st = td_stmt_bind_blob(q, 2, w->refs[j].key_commitment, 32, err)) ||
            (st = td_stmt_bind_int64(q, 3, w->report_id, err)) ||
            (st = td_stmt_bind_int64(q, 4, now, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
    /* The review copy: part 0 the text, part j + 1 attachment j. */
    for (size_t part = 0; part <= m->n_attachments; part++) {
        const void *data = part ? (const void *)w->plain[part - 1] : (const void *)m->text;
        size_t len = part ? w->plain_len[part - 1] : m->text_len;
        if ((st = td_store_prepare(c,
                                   "INSERT INTO report_copies (report_id, part, data)"
                                   " VALUES ($1, $2, $3)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, w->report_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, (int64_t)part, err)) ||
            (st = td_stmt_bind_blob(q, 3, data ? data : "", len, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
    }
    char object[48];
    snprintf(object, sizeof object, "report:%lld", (long long)w->report_id);
    return td__reports_audit(
        rep, c, "system", "report.received", object,
        json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}", "report", (json_int_t)w->report_id,
                  "content_id", w->content_id, "case", (json_int_t)case_id, "key_id",
                  (json_int_t)m->proof.key_id, "attachments", (json_int_t)m->n_attachments,
                  "platform_key", (json_int_t)(in->platform_key > 0 ? in->platform_key : 0)),
        err);
}

static td_status submit_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    submit_args *a = ctx;
    int64_t now = td__now(rep->svc);
    td_status st;
    for (size_t i = 0; i < a->n; i++)
        if (a->w[i].dup_of < 0 && (st = check_registry(c, &a->w[i], i, a->rej, err)))
            return st;
    for (size_t i = 0; i < a->n; i++) {
        msg_work *w = &a->w[i];
        int64_t id = 0, added = 0;
        w->duplicate = 0;
        if (w->dup_of >= 0)
            continue;
        if ((st = find_report(c, w->m, &id, err)))
            return st;
        if (!id) {
            if ((st = new_report(rep, c, a->in, w, now, err)))
                return st;
            continue;
        }
        w->report_id = id;
        w->duplicate = 1;
        if ((st = add_reporter(rep, c, a->in, id, now, &added, err)))
            return st;
        if (added) {
            char object[48];
            snprintf(object, sizeof object, "report:%lld", (long long)id);
            if ((st = td__reports_audit(
                     rep, c, "system", "report.reporter_added", object,
                     json_pack("{s:I, s:I}", "report", (json_int_t)id, "platform_key",
                               (json_int_t)(a->in->platform_key > 0 ? a->in->platform_key : 0)),
                     err)))
                return st;
        }
    }
    return TD_OK;
}

td_status td_report_submit(td_reports *rep, const td_report_input *in, td_report *out,
                           td_report_rejection *rej, td_error *err)
{
    td_report_rejection local;
    td_status st;
    msg_work *w = NULL;
    if (!rej)
        rej = &local;
    memset(rej, 0, sizeof *rej);
    if (!in)
        return td__report_refuse(rej, "malformed", "", TD_ERR_INVALID, err, "no report");
    if (out && in->n_messages && in->n_messages <= TD_REPORT_MESSAGES_MAX)
        memset(out, 0, in->n_messages * sizeof *out);
    if ((st = check_input(rep, in, rej, err)))
        return st;
    size_t n = in->n_messages;
    w = td__calloc(n, sizeof *w);
    if (!w)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    /* Step 2: everything verified before anything is written. */
    for (size_t i = 0; i < n; i++) {
        w[i].m = &in->messages[i];
        w[i].dup_of = -1;
        if ((st = verify_message(rep, i, &w[i], rej, err)))
            goto out;
    }
    atomic_fetch_add(&rep->verified, n);
    for (size_t i = 0; i < n; i++) {
        char hex[2 * 16 + 1];
        td__hex_encode(w[i].m->proof.frank, 16, hex);
        snprintf(w[i].content_id, sizeof w[i].content_id, "e2ee-%s", hex);
        for (size_t k = 0; k < i && w[i].dup_of < 0; k++)
            if (w[k].m->proof.key_id == w[i].m->proof.key_id &&
                sodium_memcmp(w[k].m->proof.frank, w[i].m->proof.frank, TD_FRANK_LEN) == 0)
                w[i].dup_of = (int)k;
    }
    /* Two keys for one ciphertext within this report (an invisible salamander sent twice). */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w[i].m->n_attachments; j++)
            for (size_t k = 0; k <= i; k++)
                for (size_t l = 0; l < (k == i ? j : w[k].m->n_attachments); l++)
                    if (memcmp(w[i].refs[j].blob_sha256, w[k].refs[l].blob_sha256, 32) == 0 &&
                        memcmp(w[i].refs[j].key_commitment, w[k].refs[l].key_commitment, 32)) {
                        char field[96];
                        atomic_fetch_add(&rep->invalid[0], 1);
                        snprintf(field, sizeof field, "messages[%zu].attachments[%zu]", i, j);
                        st = td__report_refuse(rej, "attachment_key_conflict", field,
                                               TD_ERR_CONFLICT, err,
                                               "the same ciphertext with two keys");
                        goto out;
                    }
    /* Step 3: known messages, and the content of the others. */
    td_store_conn *c;
    if ((st = td_store_acquire(rep->svc->store, 0, &c, err)))
        goto out;
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        int64_t id = 0;
        if (w[i].dup_of < 0 && (st = find_report(c, w[i].m, &id, err)) == TD_OK)
            w[i].known = id != 0;
    }
    td_store_release(rep->svc->store, c);
    for (size_t i = 0; i < n && st == TD_OK; i++)
        if (w[i].dup_of < 0 && !w[i].known)
            st = prepare_content(rep, in, &w[i], err);
    if (st)
        goto out;
    /* Step 4. */
    submit_args a = {in, w, n, rej};
    if ((st = td__reports_tx(rep, submit_body, &a, err))) {
        if (!strcmp(rej->problem, "attachment_key_conflict"))
            atomic_fetch_add(&rep->invalid[0], 1);
        goto out;
    }
    td_webhook_kick(rep->svc);
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        const msg_work *src = w[i].dup_of >= 0 ? &w[w[i].dup_of] : &w[i];
        if (out) {
            st = td_report_get(rep, src->report_id, &out[i], err);
            out[i].duplicate = src->duplicate;
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        work_clear(&w[i]);
    td__free(w);
    return st;
}

/* ---- reads ---- */

/* The columns of TD__REPORT_COLUMNS, in order, into *r. */
void td__report_row(td_stmt *q, td_report *r)
{
    memset(r, 0, sizeof *r);
    r->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(r->content_id, sizeof r->content_id, td_stmt_column_text(q, 1));
    r->case_id = td_stmt_column_int64(q, 2);
    r->verdict = (td_verdict)td_stmt_column_int64(q, 3);
    r->reporters = (size_t)td_stmt_column_int64(q, 4);
    r->received_ms = td_stmt_column_int64(q, 5);
    r->key_id = (uint32_t)td_stmt_column_int64(q, 6);
    td__copy_trunc(r->sender, sizeof r->sender, td_stmt_column_text(q, 7));
    td__copy_trunc(r->conversation, sizeof r->conversation, td_stmt_column_text(q, 8));
    r->accepted_ms = td_stmt_column_int64(q, 9);
    r->n_attachments = (size_t)td_stmt_column_int64(q, 10);
    r->review_copy = (int)td_stmt_column_int64(q, 11);
    r->evidence_item = td_stmt_column_int64(q, 12);
}

typedef struct get_args {
    int64_t id;
    int64_t scope; /* a platform: only its reports */
    td_report *out;
    int found;
} get_args;

static td_status get_body(td_store_conn *c, void *ctx, td_error *err)
{
    get_args *a = ctx;
    td_report *r = a->out;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(
             c,
             "SELECT " TD__REPORT_COLUMNS ","
             " (SELECT COUNT(*) FROM report_reporters p WHERE p.report_id = r.id"
             "  AND p.platform_key = $2)"
             " FROM reports r JOIN content c ON c.id = r.content_ref WHERE r.id = $1",
             &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->scope, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row && (!a->scope || td_stmt_column_int64(q, 13) > 0)) {
        a->found = 1;
        td__report_row(q, r);
    }
    td_stmt_reset(q);
    return TD_OK;
}

static td_status get_scoped(td_reports *rep, int64_t scope, int64_t id, td_report *out,
                            td_error *err)
{
    memset(out, 0, sizeof *out);
    get_args a = {id, scope, out, 0};
    td_status st = td_store_read(rep->svc->store, get_body, &a, err);
    if (st == TD_OK && !a.found) {
        memset(out, 0, sizeof *out);
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no report %lld", (long long)id);
    }
    return st;
}

td_status td_report_get(td_reports *rep, int64_t id, td_report *out, td_error *err)
{
    return get_scoped(rep, 0, id, out, err);
}

td_status td_report_get_as(td_reports *rep, const td_principal *who, int64_t id, td_report *out,
                           td_error *err)
{
    return get_scoped(rep, td_principal_platform(who), id, out, err);
}

typedef struct read_args {
    int64_t id;
    int part;
    const char *actor;
    uint8_t *data;
    size_t len;
} read_args;

static td_status read_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    read_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    /* Gone once the case closed, whether or not a tick deleted the copy yet. */
    if ((st = td_store_prepare(c,
                               "SELECT d.data FROM report_copies d JOIN reports r"
                               " ON r.id = d.report_id JOIN cases k ON k.id = r.case_id"
                               " WHERE d.report_id = $1 AND d.part = $2 AND k.state <> $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->part, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_CASE_CLOSED, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        size_t n = td_stmt_column_bytes(q, 0);
        a->data = td__malloc(n + 1);
        if (a->data) {
            if (n)
                memcpy(a->data, td_stmt_column_blob(q, 0), n);
            a->data[n] = '\0';
            a->len = n;
        }
    }
    td_stmt_reset(q);
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND,
                             "report %lld: no review copy of %s %d (unknown, or its case closed)",
                             (long long)a->id, a->part ? "attachment" : "text",
                             a->part ? a->part - 1 : 0);
    if (!a->data)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    char object[48];
    snprintf(object, sizeof object, "report:%lld", (long long)a->id);
    return td__reports_audit(rep, c, a->actor, "report.read", object,
                             json_pack("{s:I, s:s, s:I, s:I}", "report", (json_int_t)a->id, "part",
                                       a->part ? "attachment" : "text", "index",
                                       (json_int_t)(a->part - 1), "bytes", (json_int_t)a->len),
                             err);
}

td_status td_report_read(td_reports *rep, int64_t id, int index, const char *actor, uint8_t **data,
                         size_t *len, td_error *err)
{
    *data = NULL;
    *len = 0;
    if (!actor || !*actor || strnlen(actor, TD_NAME_MAX + 1) > TD_NAME_MAX)
        return td__error_set(err, TD_ERR_INVALID, "a reader (actor) of at most %d bytes",
                             TD_NAME_MAX);
    if (index >= TD_FRANK_ATTACH_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "report %lld: no attachment %d", (long long)id,
                             index);
    read_args a = {id, index < 0 ? 0 : index + 1, actor, NULL, 0};
    td_status st = td__reports_tx(rep, read_body, &a, err);
    if (st) {
        if (a.data) {
            sodium_memzero(a.data, a.len);
            td__free(a.data);
        }
        return st;
    }
    *data = a.data;
    *len = a.len;
    return TD_OK;
}
