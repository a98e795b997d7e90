/* Content intake: a platform hands over an item (its id, uploader, URL, time, metadata and the
 * media or its hashes); it is hashed, checked, stored with its matches, and what the matching
 * banks ask for follows in the same transaction: a case for "review", the remove action for
 * "block". The same bookkeeping (td__content_apply) runs when a newly added signal matches
 * content received recently (td__recheck). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

void td_content_clear(td_content *c)
{
    if (!c)
        return;
    td__free(c->metadata_json);
    td__free(c->matches);
    td__free(c->decisions);
    memset(c, 0, sizeof *c);
}

static td_status check_text(const char *s, size_t max, const char *what, int required,
                            td_error *err)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    if (required && n == 0)
        return td__error_set(err, TD_ERR_INVALID, "%s is required", what);
    if (n > max)
        return td__error_set(err, TD_ERR_LIMIT, "%s longer than %zu bytes", what, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return td__error_set(err, TD_ERR_INVALID, "%s has a control character", what);
    return TD_OK;
}

static void pdq_text(const td_hashes *h, char *out /* 8 * 64 + 1 */)
{
    out[0] = '\0';
    for (int i = 0; i < h->n_pdq; i++)
        td_pdq_to_hex(&h->pdq[i], out + 64 * i);
}

static void pdq_parse(const char *text, td_hashes *h)
{
    size_t n = strlen(text) / 64;
    h->n_pdq = 0;
    if (n != 1 && n != TD_DIH_COUNT)
        return;
    for (size_t i = 0; i < n; i++)
        if (td_pdq_from_hex(text + 64 * i, 64, &h->pdq[i]) != TD_OK)
            return;
    h->n_pdq = (int)n;
}

void td__json_add_match(json_t *arr, const td_match *m)
{
    json_t *o = json_object();
    json_t *labels = json_array();
    for (int i = 0; i < m->labels.count; i++)
        json_array_append_new(labels, json_string(m->labels.v[i]));
    json_object_set_new(o, "bank", json_string(m->bank));
    json_object_set_new(o, "signal_id", json_integer(m->signal_id));
    json_object_set_new(o, "signal_type", json_string(td_signal_type_name(m->type)));
    json_object_set_new(o, "distance", json_integer(m->distance));
    json_object_set_new(o, "variant", json_string(td_dihedral_name(m->variant)));
    json_object_set_new(o, "action", json_string(td_action_name(m->action)));
    json_object_set_new(o, "suppressed", json_boolean(m->suppressed));
    json_object_set_new(o, "labels", labels);
    if (m->incident_id)
        json_object_set_new(o, "incident_id", json_integer(m->incident_id));
    json_array_append_new(arr, o);
}

/* The payload shared by content events. */
static json_t *content_payload(td_store_conn *c, int64_t ref, const td_match *m, size_t n,
                               td_verdict verdict)
{
    td_stmt *q;
    int row;
    json_t *o = json_object(), *content = json_object(), *matches = json_array();
    if (td_store_prepare(c, "SELECT content_id, uploader, url, time_ms FROM content WHERE id = $1",
                         &q, NULL) == TD_OK &&
        td_stmt_bind_int64(q, 1, ref, NULL) == TD_OK && td_stmt_step(q, &row, NULL) == TD_OK &&
        row) {
        json_object_set_new(content, "id", json_string(td_stmt_column_text(q, 0)));
        json_object_set_new(content, "uploader", json_string(td_stmt_column_text(q, 1)));
        json_object_set_new(content, "url", json_string(td_stmt_column_text(q, 2)));
        json_object_set_new(content, "time_ms", json_integer(td_stmt_column_int64(q, 3)));
        td_stmt_reset(q);
    }
    for (size_t i = 0; i < n; i++)
        td__json_add_match(matches, &m[i]);
    json_object_set_new(o, "content", content);
    json_object_set_new(o, "verdict", json_string(td_verdict_name(verdict)));
    json_object_set_new(o, "matches", matches);
    return o;
}

static td_status load_matches(td_store_conn *c, int64_t ref, td_match **out, size_t *count,
                              td_error *err)
{
    td_stmt *q;
    int row;
    td_match *list = NULL;
    size_t n = 0, cap = 0;
    td_status st = td_store_prepare(c,
                                    "SELECT bank_id, bank, signal_id, type, distance, variant,"
                                    " labels, action, kind, confidence, suppressed,"
                                    " incident_id, incident_action FROM matches"
                                    " WHERE content_ref = $1 ORDER BY distance, id",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, ref, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if ((st = td__grow((void **)&list, &cap, n + 1, sizeof *list, err)))
            break;
        td_match *m = &list[n++];
        memset(m, 0, sizeof *m);
        m->bank_id = td_stmt_column_int64(q, 0);
        td__copy_trunc(m->bank, sizeof m->bank, td_stmt_column_text(q, 1));
        m->signal_id = td_stmt_column_int64(q, 2);
        m->type = (td_signal_type)td_stmt_column_int64(q, 3);
        m->distance = (int)td_stmt_column_int64(q, 4);
        m->variant = (td_dihedral)td_stmt_column_int64(q, 5);
        td__labels_load(&m->labels, td_stmt_column_text(q, 6));
        m->action = (td_action)td_stmt_column_int64(q, 7);
        m->kind = (td_bank_kind)td_stmt_column_int64(q, 8);
        m->confidence = (int)td_stmt_column_int64(q, 9);
        m->suppressed = (int)td_stmt_column_int64(q, 10);
        m->incident_id = td_stmt_column_int64(q, 11);
        m->incident_action = (td_action)td_stmt_column_int64(q, 12);
    }
    td_stmt_reset(q);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

/* Opens the content's case unless one is open. Its priority comes from the matches that ask for
 * action; opened_by names the bank of the highest, or flagged_by (the content's source) when a
 * person asked for the case and no bank did. */
static td_status open_case(td_service *svc, td_store_conn *c, int64_t ref, int64_t owner,
                           const td_match *m, size_t n, td_verdict verdict, const char *flagged_by,
                           td_error *err)
{
    td_stmt *q;
    int row;
    int priority = 0, incident = 0;
    td_labels labels;
    const char *opened_by = "";
    char text[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    for (size_t i = 0; i < n; i++)
        if (!m[i].suppressed && m[i].incident_id && td_match_action(&m[i]) != TD_ACTION_LOG)
            incident = 1;
    /* One open case per content item; an incident's match raises an open one to the top. */
    td_status st = td_store_prepare(
        c, "SELECT id, priority FROM cases WHERE content_ref = $1 AND state <> $2", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, ref, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_CASE_CLOSED, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t open_id = row ? td_stmt_column_int64(q, 0) : 0;
    int64_t open_priority = row ? td_stmt_column_int64(q, 1) : 0;
    td_stmt_reset(q);
    if (row) {
        if (!incident || open_priority >= TD_CASE_PRIORITY_INCIDENT)
            return TD_OK;
        if ((st = td_store_prepare(c, "UPDATE cases SET priority = $1 WHERE id = $2", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, TD_CASE_PRIORITY_INCIDENT, err)) ||
            (st = td_stmt_bind_int64(q, 2, open_id, err)))
            return st;
        return td_stmt_run(q, NULL, err);
    }
    memset(&labels, 0, sizeof labels);
    for (size_t i = 0; i < n; i++) {
        if (m[i].suppressed || m[i].kind == TD_BANK_ALLOW ||
            td_match_action(&m[i]) == TD_ACTION_LOG)
            continue;
        int p = m[i].incident_id ? TD_CASE_PRIORITY_INCIDENT
                                 : td_labels_severity(&m[i].labels) * 100 + m[i].confidence;
        if (p > priority || !*opened_by) {
            priority = p > priority ? p : priority;
            opened_by = m[i].bank;
        }
        td__labels_merge(&labels, &m[i].labels);
    }
    if (!*opened_by && flagged_by)
        opened_by = flagged_by;
    td__labels_join(&labels, text, sizeof text);
    int64_t now = td__now(svc), case_id = 0;
    if ((st = td_store_prepare(c,
                               "INSERT INTO cases (content_ref, state, priority, labels,"
                               " opened_by, opened_ms, claimed_by, claimed_by_name, claimed_ms,"
                               " closed_ms, outcome) VALUES ($1, $6, $2, $3, $4, $5, 0, '', 0, 0,"
                               " 0) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, ref, err)) ||
        (st = td_stmt_bind_int64(q, 6, TD_CASE_OPEN, err)) ||
        (st = td_stmt_bind_int64(q, 2, priority, err)) ||
        (st = td_stmt_bind_text(q, 3, text, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, opened_by, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        case_id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    char subject[64];
    snprintf(subject, sizeof subject, "case:%lld", (long long)case_id);
    json_t *payload = content_payload(c, ref, m, n, verdict);
    json_t *kase = json_object();
    json_object_set_new(kase, "id", json_integer(case_id));
    json_object_set_new(kase, "priority", json_integer(priority));
    json_object_set_new(payload, "case", kase);
    st = td__event_enqueue_for(svc, c, TD_EVENT_CASE_OPENED, subject, payload, owner, err);
    json_decref(payload);
    return st;
}

/* Queues what open incidents applied to among the content's matches (incident_rules.c). */
static td_status note_incidents(td_service *svc, td_store_conn *c, int64_t ref, const td_match *all,
                                size_t na, td_verdict v, td_error *err)
{
    td_stmt *q;
    int row;
    char id[TD_CONTENT_ID_MAX + 1] = "";
    td_status st = td_store_prepare(c, "SELECT content_id FROM content WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, ref, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        td__copy_trunc(id, sizeof id, td_stmt_column_text(q, 0));
    td_stmt_reset(q);
    td__incident_note(svc, all, na, v, ref, id, "content");
    return TD_OK;
}

td_status td__content_apply(td_service *svc, td_store_conn *c, int64_t ref, const td_match *matches,
                            size_t n, td_error *err)
{
    td_stmt *q;
    int row;
    int64_t added = 0, changed, newest = 0;
    int incident_new = 0;
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    int64_t now = td__now(svc);
    td_status st;
    for (size_t i = 0; i < n; i++) {
        const td_match *m = &matches[i];
        td__labels_join(&m->labels, labels, sizeof labels);
        if ((st = td_store_prepare(c,
                                   "INSERT INTO matches (content_ref, bank_id, bank, signal_id,"
                                   " type, distance, variant, labels, action, kind, confidence,"
                                   " suppressed, matched_ms, incident_id, incident_action)"
                                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0,"
                                   " $12, $13, $14)"
                                   " ON CONFLICT (content_ref, signal_id) DO NOTHING",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, ref, err)) ||
            (st = td_stmt_bind_int64(q, 2, m->bank_id, err)) ||
            (st = td_stmt_bind_text(q, 3, m->bank, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 4, m->signal_id, err)) ||
            (st = td_stmt_bind_int64(q, 5, m->type, err)) ||
            (st = td_stmt_bind_int64(q, 6, m->distance, err)) ||
            (st = td_stmt_bind_int64(q, 7, m->variant, err)) ||
            (st = td_stmt_bind_text(q, 8, labels, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 9, m->action, err)) ||
            (st = td_stmt_bind_int64(q, 10, m->kind, err)) ||
            (st = td_stmt_bind_int64(q, 11, m->confidence, err)) ||
            (st = td_stmt_bind_int64(q, 12, now, err)) ||
            (st = td_stmt_bind_int64(q, 13, m->incident_id, err)) ||
            (st = td_stmt_bind_int64(q, 14, m->incident_id ? m->incident_action : 0, err)) ||
            (st = td_stmt_run(q, &changed, err)))
            return st;
        if (changed) {
            added++;
            incident_new |= m->incident_id != 0;
            newest = m->signal_id > newest ? m->signal_id : newest;
        }
    }
    if (!added)
        return TD_OK;
    /* Verdict over every match the item has now (an allow match may suppress older ones). */
    td_match *all = NULL;
    size_t na = 0;
    if ((st = load_matches(c, ref, &all, &na, err)))
        return st;
    td_verdict v = td__verdict(all, na);
    td_verdict old = TD_VERDICT_ALLOW;
    int64_t owner = 0;
    if ((st = td_store_prepare(c, "SELECT verdict, platform_key FROM content WHERE id = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, ref, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    if (row) {
        old = (td_verdict)td_stmt_column_int64(q, 0);
        owner = td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    for (size_t i = 0; i < na; i++)
        if ((st = td_store_prepare(c,
                                   "UPDATE matches SET suppressed = $1 WHERE content_ref = $2"
                                   " AND signal_id = $3",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, all[i].suppressed, err)) ||
            (st = td_stmt_bind_int64(q, 2, ref, err)) ||
            (st = td_stmt_bind_int64(q, 3, all[i].signal_id, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            goto out;
    if ((st = td_store_prepare(c, "UPDATE content SET verdict = $1 WHERE id = $2", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, v, err)) || (st = td_stmt_bind_int64(q, 2, ref, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        goto out;
    char subject[64];
    snprintf(subject, sizeof subject, "content:%lld:%lld", (long long)ref, (long long)newest);
    json_t *payload = content_payload(c, ref, all, na, v);
    st = td__event_enqueue_for(svc, c, TD_EVENT_MATCH, subject, payload, owner, err);
    if (st == TD_OK && v == TD_VERDICT_BLOCK && old != TD_VERDICT_BLOCK) {
        snprintf(subject, sizeof subject, "content:%lld", (long long)ref);
        json_object_set_new(payload, "reason", json_string("match"));
        st = td__event_enqueue_for(svc, c, TD_EVENT_REMOVE, subject, payload, owner, err);
    }
    json_decref(payload);
    if (st == TD_OK && v == TD_VERDICT_REVIEW)
        st = open_case(svc, c, ref, owner, all, na, v, NULL, err);
    if (st == TD_OK && incident_new)
        st = note_incidents(svc, c, ref, all, na, v, err);
    /* The undecided case's queues: new banks, labels, incidents (queues.c). */
    if (st == TD_OK)
        st = td__case_queues_sync(c, ref, err);
out:
    td__free(all);
    return st;
}

/* A case for content a person flagged (td_content_input.open_case), whatever its matches say:
 * the matches recorded so far give its priority, as for any case. */
static td_status flagged_case(td_service *svc, td_store_conn *c, int64_t ref, const char *source,
                              td_error *err)
{
    td_match *all = NULL;
    size_t na = 0;
    td_verdict v;
    int64_t owner = 0;
    td_status st;
    if ((st = load_matches(c, ref, &all, &na, err)))
        return st;
    v = td__verdict(all, na);
    if ((st = td__content_ref_owner(c, ref, &owner, err)) == TD_OK &&
        (st = open_case(svc, c, ref, owner, all, na, v, source, err)) == TD_OK)
        st = td__case_queues_sync(c, ref, err);
    td__free(all);
    return st;
}

static int source_valid(const char *s)
{
    size_t n = s ? strnlen(s, TD_CONTENT_SOURCE_MAX + 1) : 0;
    if (n == 0 || n > TD_CONTENT_SOURCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* A part that is not an image or a video the service decodes: its digests are still checked. */
static int digest_only(td_status st)
{
    return st == TD_ERR_UNSUPPORTED || st == TD_ERR_CORRUPT || st == TD_ERR_INVALID ||
           st == TD_ERR_LIMIT;
}

static td_status hash_part(td_service *svc, const td_content_part *part, size_t i,
                           td__media_hashes *out, td_error *err)
{
    td_status st;
    td_error ignored;
    memset(out, 0, sizeof *out);
    td_hashes_init(&out->h);
    if (!part->media) {
        if (!part->hashes)
            return td__error_set(err, TD_ERR_INVALID, "part %zu needs media or hashes", i + 1);
        out->h = *part->hashes;
        return TD_OK;
    }
    st = td__hash_media(svc, part->media, part->media_len, out, &ignored);
    if (st == TD_OK || !digest_only(st)) {
        if (st)
            td__error_set(err, st, "part %zu: %s", i + 1, ignored.message);
        return st;
    }
    td__media_hashes_clear(out);
    td_hashes_init(&out->h);
    if (td_md5_hex(part->media, part->media_len, out->h.md5) != TD_OK ||
        td_sha256_hex(part->media, part->media_len, out->h.sha256) != TD_OK)
        return td__error_set(err, TD_ERR_INTERNAL, "part %zu: digest failed", i + 1);
    return TD_OK;
}

void td__content_prep_clear(td__content_prep *p)
{
    if (!p)
        return;
    td__media_hashes_clear(&p->main);
    for (size_t i = 0; p->parts && i < p->n_parts; i++)
        td__media_hashes_clear(&p->parts[i]);
    td__free(p->parts);
    free(p->meta); /* from jansson */
    memset(p, 0, sizeof *p);
}

td_status td__content_prepare(td_service *svc, const td_content_input *in, td__content_prep *p,
                              td_error *err)
{
    td_status st;
    memset(p, 0, sizeof *p);
    p->in = in;
    td_hashes_init(&p->h);
    if ((st = check_text(in->content_id, TD_CONTENT_ID_MAX, "content id", 1, err)) ||
        (st = check_text(in->uploader, TD_UPLOADER_MAX, "uploader", 0, err)) ||
        (st = check_text(in->url, TD_CASE_URL_MAX, "url", 0, err)))
        return st;
    if (in->source && !source_valid(in->source))
        return td__error_set(err, TD_ERR_INVALID, "source must be 1..%d of a-z, 0-9 and _",
                             TD_CONTENT_SOURCE_MAX);
    if (in->n_parts > TD_CONTENT_PARTS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d parts", TD_CONTENT_PARTS_MAX);
    if (in->n_parts && !in->parts)
        return td__error_set(err, TD_ERR_INVALID, "parts missing");
    if (in->metadata_json) {
        size_t n = strnlen(in->metadata_json, TD_METADATA_MAX + 1);
        json_error_t je;
        if (n > TD_METADATA_MAX)
            return td__error_set(err, TD_ERR_LIMIT, "metadata longer than %d bytes",
                                 TD_METADATA_MAX);
        json_t *j = json_loadb(in->metadata_json, n, JSON_REJECT_DUPLICATES, &je);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            return td__error_set(err, TD_ERR_INVALID, "metadata must be a JSON object%s%s",
                                 j ? "" : ": ", j ? "" : je.text);
        }
        p->meta = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!p->meta)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if (in->media) {
        st = td__hash_media(svc, in->media, in->media_len, &p->main, err);
        p->h = p->main.h;
    } else if (in->hashes) {
        p->h = *in->hashes;
        st = TD_OK;
    } else {
        st = td__error_set(err, TD_ERR_INVALID, "content needs media or hashes");
    }
    if (st == TD_OK && in->n_parts) {
        /* hashed in place: a video's td_hashes points at the vPDQ of its own element */
        p->parts = td__calloc(in->n_parts, sizeof *p->parts);
        if (!p->parts)
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == TD_OK && i < in->n_parts; i++) {
            st = hash_part(svc, &in->parts[i], i, &p->parts[i], err);
            p->n_parts = i + 1;
        }
    }
    if (st) {
        td__content_prep_clear(p);
        return st;
    }
    pdq_text(&p->h, p->pdq);
    return TD_OK;
}

/* The latest case of content row ref that is not closed (0: none). */
static td_status open_case_id(td_store_conn *c, int64_t ref, int64_t *case_id, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    *case_id = 0;
    if ((st = td_store_prepare(c,
                               "SELECT id FROM cases WHERE content_ref = $1 AND state <> $2"
                               " ORDER BY id DESC LIMIT 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, ref, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_CASE_CLOSED, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        *case_id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

td_status td__content_insert(td_service *svc, td_store_conn *c, const td__content_prep *p,
                             int64_t *ref_out, int64_t *case_id, td_error *err)
{
    const td_content_input *in = p->in;
    const td_hashes *h = &p->h;
    td_check_result res, part;
    td_match *all = NULL;
    size_t n_all = 0, cap = 0;
    td_stmt *q;
    int row;
    td_status st;
    int64_t now = td__now(svc), ref = 0;
    memset(&res, 0, sizeof res);
    *ref_out = 0;
    if (case_id)
        *case_id = 0;
    /* Checked under the writer so that a signal added concurrently is seen either here or by
     * its re-check of recent content. */
    if ((st = td__check(svc, c, h, NULL, &res, err)))
        return st;
    if ((st = td__grow((void **)&all, &cap, res.match_count + 1, sizeof *all, err)))
        goto out;
    if (res.match_count)
        memcpy(all, res.matches, res.match_count * sizeof *all);
    n_all = res.match_count;
    for (size_t i = 0; i < p->n_parts; i++) {
        if ((st = td__check(svc, c, &p->parts[i].h, NULL, &part, err))) {
            td__error_prefix(err, "part %zu: ", i + 1);
            goto out;
        }
        st = td__grow((void **)&all, &cap, n_all + part.match_count + 1, sizeof *all, err);
        if (st == TD_OK && part.match_count) {
            memcpy(all + n_all, part.matches, part.match_count * sizeof *all);
            n_all += part.match_count;
        }
        td_check_result_clear(&part);
        if (st)
            goto out;
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO content (content_id, uploader, url, time_ms,"
                               " received_ms, metadata, pdq, quality, md5, sha256, verdict,"
                               " platform_key, source)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12)"
                               " ON CONFLICT (content_id) DO NOTHING RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, in->content_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, in->uploader ? in->uploader : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, in->url ? in->url : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, in->time_ms ? in->time_ms : now, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) ||
        (st = td_stmt_bind_text(q, 6, p->meta ? p->meta : "{}", (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 7, p->pdq, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 8, h->quality, err)) ||
        (st = td_stmt_bind_text(q, 9, h->md5, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 10, h->sha256, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 11, in->platform_key > 0 ? in->platform_key : 0, err)) ||
        (st = td_stmt_bind_text(q, 12, in->source ? in->source : "upload", (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row) {
        /* The same answer whoever sent the first one: it tells that the id is taken, never by
         * whom nor anything of that record. */
        st = td__error_set(err, TD_ERR_CONFLICT, "content id '%s' was already received",
                           in->content_id);
        goto out;
    }
    ref = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    if ((st = td__content_apply(svc, c, ref, all, n_all, err)))
        goto out;
    if (in->open_case && (st = flagged_case(svc, c, ref, in->source ? in->source : "upload", err)))
        goto out;
    if (case_id && (st = open_case_id(c, ref, case_id, err)))
        goto out;
    *ref_out = ref;
out:
    td__free(all);
    td_check_result_clear(&res);
    return st;
}

typedef struct submit_args {
    td_service *svc;
    const td__content_prep *p;
} submit_args;

/* The check and the record in one write transaction. */
static td_status submit_body(td_store_conn *c, void *ctx, td_error *err)
{
    submit_args *a = ctx;
    int64_t ref;
    return td__content_insert(a->svc, c, a->p, &ref, NULL, err);
}

td_status td_content_submit(td_service *svc, const td_content_input *in, td_content *out,
                            td_error *err)
{
    td__content_prep p;
    td_status st;
    if (out)
        memset(out, 0, sizeof *out);
    if ((st = td__content_prepare(svc, in, &p, err)))
        return st;
    submit_args a = {svc, &p};
    if ((st = td_store_write(svc->store, submit_body, &a, err)))
        goto out;
    td_webhook_kick(svc);
    if (out)
        st = td_content_get(svc, in->content_id, out, err);
out:
    td__content_prep_clear(&p);
    return st;
}

td_status td_content_get(td_service *svc, const char *content_id, td_content *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    memset(out, 0, sizeof *out);
    if (!content_id || strnlen(content_id, TD_CONTENT_ID_MAX + 1) > TD_CONTENT_ID_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no such content");
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT id, content_id, uploader, url, time_ms, received_ms,"
                               " metadata, pdq, quality, md5, sha256, verdict, platform_key,"
                               " source FROM content WHERE content_id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no content '%s'", content_id);
        goto out;
    }
    out->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(out->content_id, sizeof out->content_id, td_stmt_column_text(q, 1));
    td__copy_trunc(out->uploader, sizeof out->uploader, td_stmt_column_text(q, 2));
    td__copy_trunc(out->url, sizeof out->url, td_stmt_column_text(q, 3));
    out->time_ms = td_stmt_column_int64(q, 4);
    out->received_ms = td_stmt_column_int64(q, 5);
    out->metadata_json = td__strdup(td_stmt_column_text(q, 6));
    td_hashes_init(&out->hashes);
    pdq_parse(td_stmt_column_text(q, 7), &out->hashes);
    out->hashes.quality = (int)td_stmt_column_int64(q, 8);
    td__copy_trunc(out->hashes.md5, sizeof out->hashes.md5, td_stmt_column_text(q, 9));
    td__copy_trunc(out->hashes.sha256, sizeof out->hashes.sha256, td_stmt_column_text(q, 10));
    out->verdict = (td_verdict)td_stmt_column_int64(q, 11);
    out->platform_key = td_stmt_column_int64(q, 12);
    td__copy_trunc(out->source, sizeof out->source, td_stmt_column_text(q, 13));
    td_stmt_reset(q);
    if (!out->metadata_json) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = load_matches(c, out->id, &out->matches, &out->match_count, err)) ||
        (st = td__case_load(c, "content_ref = $1 ORDER BY k.id DESC", out->id, &out->kase,
                            &out->has_case, err)) ||
        (st = td__decisions_load(c, out->id, 0, &out->decisions, &out->decision_count, err)))
        goto out;
out:
    td_store_release(svc->store, c);
    if (st)
        td_content_clear(out);
    return st;
}

/* ---- scoping by platform key ---- */

int64_t td_principal_platform(const td_principal *who)
{
    if (!who || who->role != TD_ROLE_PLATFORM)
        return 0;
    return who->platform > 0 ? who->platform : who->id;
}

td_status td__content_ref_owner(td_store_conn *c, int64_t ref, int64_t *owner, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    *owner = 0;
    if ((st = td_store_prepare(c, "SELECT platform_key FROM content WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, ref, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        *owner = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

td_status td__content_id_owner(td_store_conn *c, const char *content_id, int64_t *owner, int *found,
                               td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *owner = 0;
    *found = 0;
    if (!content_id || !*content_id ||
        strnlen(content_id, TD_CONTENT_ID_MAX + 1) > TD_CONTENT_ID_MAX)
        return TD_OK;
    if ((st = td_store_prepare(c, "SELECT platform_key FROM content WHERE content_id = $1", &q,
                               err)) ||
        (st = td_stmt_bind_text(q, 1, content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        *owner = td_stmt_column_int64(q, 0);
        *found = 1;
    }
    td_stmt_reset(q);
    return TD_OK;
}

td_status td_content_owner(td_service *svc, const char *content_id, int64_t *platform_key,
                           td_error *err)
{
    td_store_conn *c;
    int found = 0;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    st = td__content_id_owner(c, content_id, platform_key, &found, err);
    td_store_release(svc->store, c);
    if (st == TD_OK && !found)
        st = content_id && strnlen(content_id, TD_CONTENT_ID_MAX + 1) <= TD_CONTENT_ID_MAX
                 ? td__error_set(err, TD_ERR_NOT_FOUND, "no content '%s'", content_id)
                 : td__error_set(err, TD_ERR_NOT_FOUND, "no such content");
    return st;
}

td_status td_content_visible(td_service *svc, const td_principal *who, const char *content_id,
                             td_error *err)
{
    int64_t owner = 0;
    td_status st = td_content_owner(svc, content_id, &owner, err);
    int64_t scope = td_principal_platform(who);
    if (st == TD_OK && scope && owner != scope)
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no content '%s'", content_id);
    return st;
}

td_status td_content_get_as(td_service *svc, const td_principal *who, const char *content_id,
                            td_content *out, td_error *err)
{
    td_status st = td_content_get(svc, content_id, out, err);
    int64_t scope = td_principal_platform(who);
    if (st == TD_OK && scope && out->platform_key != scope) {
        td_content_clear(out);
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no content '%s'", content_id);
    }
    return st;
}

/* ---- re-check of recent content against new signals ---- */

typedef struct hit {
    int64_t ref;
    uint64_t sid;
    int distance, variant;
    td_signal_type type;
} hit;

static int hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->ref != y->ref)
        return x->ref < y->ref ? -1 : 1;
    if (x->sid != y->sid)
        return x->sid < y->sid ? -1 : 1;
    return x->distance - y->distance;
}

static td_status add_hit(hit **hits, size_t *n, size_t *cap, hit h, td_error *err)
{
    td_status st = td__grow((void **)hits, cap, *n + 1, sizeof **hits, err);
    if (st == TD_OK)
        (*hits)[(*n)++] = h;
    return st;
}

static td_status exact_hits(td_index_map *map, int64_t ref, const char *hex, td_signal_type type,
                            hit **hits, size_t *n, size_t *cap, td_error *err)
{
    uint64_t ids[64];
    size_t count = 0;
    if (!hex[0] || td_index_map_size(map) == 0)
        return TD_OK;
    td_status st = td_index_map_find_hex(map, hex, ids, 64, &count, err);
    for (size_t i = 0; st == TD_OK && i < count && i < 64; i++)
        st = add_hit(hits, n, cap, (hit){ref, ids[i], 0, 0, type}, err);
    return st;
}

td_status td__recheck(td_service *svc, td_store_conn *c, int64_t bank_id, int64_t first_id,
                      td_error *err)
{
    td__bank_view bank;
    td_stmt *q;
    int row;
    td_pdq *hashes = NULL;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0, cap_ids = 0, nh = 0, caph = 0;
    hit *hits = NULL;
    td_index *idx = NULL;
    td_index_map *md5 = NULL, *sha = NULL;
    td_match *ms = NULL;
    td_index_results res;
    td_status st;
    if (svc->opts.recheck_window_ms <= 0 || !td__bank_view_get(svc, bank_id, &bank) ||
        !bank.enabled)
        return TD_OK;
    td_index_results_init(&res, 0);
    int64_t since = td__now(svc) - svc->opts.recheck_window_ms;
    if ((st = td_store_begin(c, err)))
        return st;
    /* Anything recent at all? Most calls stop here. */
    if ((st = td_store_prepare(c, "SELECT id FROM content WHERE received_ms >= $1 LIMIT 1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, since, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    td_stmt_reset(q);
    if (!row)
        goto out;
    if ((st = td_index_map_new(&md5, err)) || (st = td_index_map_new(&sha, err)) ||
        (st = td_store_prepare(c,
                               "SELECT id, type, value, quality FROM signals WHERE bank_id = $1"
                               " AND id >= $2 AND enabled = 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, first_id, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        uint64_t id = (uint64_t)td_stmt_column_int64(q, 0);
        td_signal_type type = (td_signal_type)td_stmt_column_int64(q, 1);
        uint8_t raw[32];
        if (!td__signal_indexable(type, (int)td_stmt_column_int64(q, 3), 1) ||
            td__value_column(q, 2, type, raw) != 0)
            continue;
        if (type == TD_SIGNAL_PDQ) {
            if ((st = td__grow((void **)&hashes, &cap, n + 1, sizeof *hashes, err)) ||
                (st = td__grow((void **)&ids, &cap_ids, n + 1, sizeof *ids, err)))
                break;
            td__pdq_from_raw(raw, &hashes[n]);
            ids[n++] = id;
        } else if ((type == TD_SIGNAL_MD5 || type == TD_SIGNAL_SHA256) &&
                   (st = td_index_map_add(type == TD_SIGNAL_MD5 ? md5 : sha, raw,
                                          td__signal_raw_len(type), id, err))) {
            /* body signals (video, text, URLs) are matched at intake only: the content's
             * frames, text and links are not kept */
            break;
        }
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    td_index_options iopts;
    td_index_options_default(&iopts);
    if (n && (st = td_index_build(&idx, hashes, ids, n, &iopts, err)))
        goto out;
    if ((st = td_store_prepare(c,
                               "SELECT id, pdq, quality, md5, sha256 FROM content"
                               " WHERE received_ms >= $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, since, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t ref = td_stmt_column_int64(q, 0);
        td_hashes h;
        td_hashes_init(&h);
        pdq_parse(td_stmt_column_text(q, 1), &h);
        int quality = (int)td_stmt_column_int64(q, 2);
        if (idx && h.n_pdq && !(quality >= 0 && quality < TD_PDQ_MIN_QUALITY)) {
            res.count = 0;
            st = h.n_pdq == TD_DIH_COUNT
                     ? td_index_query_dihedral(idx, h.pdq, bank.threshold, &res, err)
                     : td_index_query(idx, &h.pdq[0], bank.threshold, &res, err);
            for (size_t i = 0; st == TD_OK && i < res.count; i++)
                st = add_hit(&hits, &nh, &caph,
                             (hit){ref, res.items[i].id, res.items[i].distance,
                                   res.items[i].variant, TD_SIGNAL_PDQ},
                             err);
        }
        if (st == TD_OK)
            st = exact_hits(md5, ref, td_stmt_column_text(q, 3), TD_SIGNAL_MD5, &hits, &nh, &caph,
                            err);
        if (st == TD_OK)
            st = exact_hits(sha, ref, td_stmt_column_text(q, 4), TD_SIGNAL_SHA256, &hits, &nh,
                            &caph, err);
        if (st)
            break;
    }
    td_stmt_reset(q);
    if (st || nh == 0)
        goto out;
    qsort(hits, nh, sizeof *hits, hit_cmp);
    ms = td__mallocarray(nh, sizeof *ms);
    if (!ms) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nh && st == TD_OK;) {
        size_t nm = 0, j = i;
        for (; j < nh && hits[j].ref == hits[i].ref; j++) {
            if (j > i && hits[j].sid == hits[j - 1].sid)
                continue; /* a worse variant of the same signal */
            /* The signals were read in this transaction from this bank, enabled, and the index
             * was searched at the bank's threshold: the resolver's checks pass as they did. */
            td__cand k = {hits[j].sid, hits[j].distance, hits[j].variant, hits[j].type, 0, 0, 0};
            int counts = 0;
            if ((st = td__match_resolve(svc, c, &k, &ms[nm], &counts, err)))
                break;
            nm += (size_t)counts;
        }
        if (st == TD_OK)
            st = td__content_apply(svc, c, hits[i].ref, ms, nm, err);
        i = j;
    }
    if (st == TD_OK)
        st = td_store_commit(c, err);
    if (st == TD_OK)
        td_webhook_kick(svc);
out:
    td_store_rollback(c);
    td_index_results_clear(&res);
    td_index_free(idx);
    td_index_map_free(md5);
    td_index_map_free(sha);
    td__free(hashes);
    td__free(ids);
    td__free(hits);
    td__free(ms);
    return st;
}
