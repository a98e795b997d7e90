/* libFuzzer harness for the report body of POST /v1/reports (td_report_parse). Any input gives
 * an answer without a crash. An accepted body satisfies what td_report_submit relies on: a
 * reporter of 1..TD_REPORT_REPORTER_MAX bytes without control bytes, 1..TD_REPORT_MESSAGES_MAX
 * messages, each with a text whose franked envelope can be built and read back to the same text
 * (td_frank_message_encode / td_frank_message_decode), ids of 1..TD_FRANK_ID_MAX bytes, a key id
 * of at least 1, a time of at least 0, at most TD_FRANK_ATTACH_MAX attachments each at least a
 * nonce and a tag long. A refusal names a known problem and its status fits it (TD_ERR_LIMIT for
 * too_large, TD_ERR_INVALID otherwise), and leaves no owner behind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const td_report_input *in)
{
    size_t n = in->reporter ? strlen(in->reporter) : 0;
    if (n == 0 || n > TD_REPORT_REPORTER_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in->reporter[i] < 0x20 || in->reporter[i] == 0x7f)
            abort();
    if (in->reason && strlen(in->reason) > TD_REPORT_REASON_MAX)
        abort();
    if (in->n_messages == 0 || in->n_messages > TD_REPORT_MESSAGES_MAX || !in->messages)
        abort();
    for (size_t i = 0; i < in->n_messages; i++) {
        const td_report_message *m = &in->messages[i];
        if (!m->text || m->text_len > TD_FRANK_TEXT_MAX || m->n_attachments > TD_FRANK_ATTACH_MAX)
            abort();
        if (m->ctx.sender_len == 0 || m->ctx.sender_len > TD_FRANK_ID_MAX ||
            m->ctx.conversation_len == 0 || m->ctx.conversation_len > TD_FRANK_ID_MAX ||
            m->ctx.accepted_ms < 0 || m->proof.key_id == 0)
            abort();
        td_frank_attachment_ref refs[TD_FRANK_ATTACH_MAX];
        memset(refs, 0, sizeof refs);
        for (size_t j = 0; j < m->n_attachments; j++) {
            if (!m->attachments[j].blob ||
                m->attachments[j].blob_len < TD_FRANK_ATTACH_NONCE_LEN + TD_FRANK_ATTACH_TAG_LEN)
                abort();
            refs[j].blob_sha256[0] = (uint8_t)j;
            td_frank_key_commitment(m->attachments[j].key, refs[j].key_commitment);
        }
        /* jansson hands over UTF-8 without NUL: the envelope is always made, and reads back */
        uint8_t *env = NULL;
        size_t env_len = 0;
        td_error err;
        if (td_frank_message_encode(m->text, m->text_len, refs, m->n_attachments, &env, &env_len,
                                    &err) != TD_OK)
            abort();
        char *text = NULL;
        size_t text_len = 0;
        td_frank_attachment_ref *back = NULL;
        size_t nb = 0;
        if (td_frank_message_decode(env, env_len, &text, &text_len, &back, &nb, &err) != TD_OK ||
            text_len != m->text_len || memcmp(text, m->text, text_len) != 0 ||
            nb != m->n_attachments || (nb && memcmp(back, refs, nb * sizeof *back) != 0))
            abort();
        td_free(text);
        td_free(back);
        td_free(env);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const problems[] = {"malformed",     "missing_field", "invalid_field",
                                           "unknown_field", "too_large",     NULL};
    td_report_input in;
    td_report_parsed *owner = NULL;
    td_report_rejection rej;
    td_error err;
    td_status st = td_report_parse((const char *)data, size, &in, &owner, &rej, &err);
    if (st == TD_OK) {
        if (!owner)
            abort();
        check_accepted(&in);
        td_report_input_free(owner);
        return 0;
    }
    if (owner || in.messages || memchr(rej.field, 0, sizeof rej.field) == NULL)
        abort();
    int known = 0;
    for (const char *const *p = problems; *p && !known; p++)
        known = strcmp(rej.problem, *p) == 0;
    if (!known)
        abort();
    if ((st == TD_ERR_LIMIT) != (strcmp(rej.problem, "too_large") == 0) ||
        (st != TD_ERR_LIMIT && st != TD_ERR_INVALID && st != TD_ERR_NOMEM))
        abort();
    return 0;
}
