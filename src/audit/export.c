/* Offline verification of a log export (td_audit_export_check_*): what an auditor runs with the
 * export file and the log's public key, and nothing else. Streaming, O(log n) memory: entries
 * feed the same frontier of perfect subtrees the log itself uses (td__frontier), so the root at
 * any size is at hand when that size's checkpoint line comes.
 *
 * What is caught: an entry whose fields were edited (its canonical form no longer hashes to the
 * exported leaf hash), an entry edited together with its leaf hash (the signed root of every
 * later checkpoint differs), removed, reordered or inserted entries (sequence numbers), a forged
 * or altered checkpoint (signature), a checkpoint out of place, a file cut short or extended
 * (the header's size, and the final checkpoint covering everything), an export of another log
 * (its key). Not caught by the export alone: a whole export replaced by an older, shorter one
 * with its header changed; compare the final checkpoint with the latest one published. */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

struct td_audit_export_check {
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
    td__frontier f;
    uint64_t lines;
    int have_header;
    uint64_t declared; /* the header's size */
    td_audit_report rep;
};

td_status td_audit_export_check_new(const uint8_t pub[TD_AUDIT_PUBKEY_LEN],
                                    td_audit_export_check **out, td_error *err)
{
    td_status st = td__sodium_ready(err);
    *out = NULL;
    if (st)
        return st;
    td_audit_export_check *x = td__calloc(1, sizeof *x);
    if (!x)
        return td__error_set(err, TD_ERR_NOMEM, "audit: out of memory");
    memcpy(x->pub, pub, TD_AUDIT_PUBKEY_LEN);
    td__frontier_init(&x->f);
    x->rep.ok = 1;
    x->rep.first_bad_seq = -1;
    *out = x;
    return TD_OK;
}

void td_audit_export_check_free(td_audit_export_check *x) { td__free(x); }

static void problem(td_audit_export_check *x, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(td_audit_export_check *x, int64_t seq, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->rep.ok = 0;
    x->rep.first_bad_seq = seq;
    snprintf(x->rep.problem, sizeof x->rep.problem, "line %llu: %s", (unsigned long long)x->lines,
             msg);
}

/* Exactly the members in names (n of them), no others. */
static int only_members(json_t *o, const char *const *names, size_t n)
{
    if (json_object_size(o) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(o, names[i]))
            return 0;
    return 1;
}

static int get_u64(json_t *o, const char *name, uint64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static void check_header(td_audit_export_check *x, json_t *o)
{
    static const char *const names[] = {"type",       "format", "version",
                                        "public_key", "size",   "time_ms"};
    const char *format = json_string_value(json_object_get(o, "format"));
    const char *key = json_string_value(json_object_get(o, "public_key"));
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
    if (!only_members(o, names, 6) || !format || strcmp(format, "takedown-audit-export") != 0 ||
        json_integer_value(json_object_get(o, "version")) != 1 || !key ||
        !get_u64(o, "size", &x->declared)) {
        problem(x, -1, "not a takedown audit export header (format 1)");
        return;
    }
    if (td__hex_decode_exact(key, strlen(key), pub, sizeof pub) != 0 ||
        sodium_memcmp(pub, x->pub, sizeof pub) != 0) {
        problem(x, -1, "the export is of a log with another public key");
        return;
    }
    x->have_header = 1;
}

static void check_entry(td_audit_export_check *x, json_t *o, td_error *err, td_status *st)
{
    static const char *const names[] = {"type",   "seq",    "time_ms", "actor",
                                        "action", "object", "details", "leaf_hash"};
    uint64_t seq;
    json_t *t = json_object_get(o, "time_ms");
    const char *actor = json_string_value(json_object_get(o, "actor"));
    const char *action = json_string_value(json_object_get(o, "action"));
    const char *object = json_string_value(json_object_get(o, "object"));
    const char *details = json_string_value(json_object_get(o, "details"));
    const char *leaf_hex = json_string_value(json_object_get(o, "leaf_hash"));
    uint8_t leaf[TD_AUDIT_HASH_LEN], want[TD_AUDIT_HASH_LEN];
    if (!only_members(o, names, 8) || !get_u64(o, "seq", &seq) || !json_is_integer(t) || !actor ||
        !action || !object || !details || !leaf_hex) {
        problem(x, (int64_t)x->f.size, "malformed entry line");
        return;
    }
    if (seq != x->f.size) {
        problem(x, (int64_t)x->f.size,
                "entry %llu where entry %llu was due (entries removed, "
                "inserted or reordered)",
                (unsigned long long)seq, (unsigned long long)x->f.size);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    td_status s = td_audit_entry_canonical(seq, json_integer_value(t), actor, action, object,
                                           details, &text, &len, err);
    if (s == TD_ERR_NOMEM) {
        *st = s;
        return;
    }
    if (s) {
        problem(x, (int64_t)seq, "entry %llu is not a valid entry", (unsigned long long)seq);
        return;
    }
    td_audit_leaf_hash(text, len, leaf);
    td__free(text);
    if (td__hex_decode_exact(leaf_hex, strlen(leaf_hex), want, sizeof want) != 0 ||
        sodium_memcmp(leaf, want, sizeof leaf) != 0) {
        problem(x, (int64_t)seq, "entry %llu does not match its leaf hash (edited)",
                (unsigned long long)seq);
        return;
    }
    td__frontier_push(&x->f, leaf, NULL, NULL);
    x->rep.entries++;
    x->rep.uncovered++;
}

static void check_checkpoint(td_audit_export_check *x, const char *line, size_t len, td_error *err,
                             td_status *st)
{
    td_audit_doc doc;
    td_error perr;
    td_status s = td_audit_doc_parse(line, len, &doc, &perr);
    if (s == TD_ERR_NOMEM) {
        *st = td__error_set(err, s, "%s", perr.message);
        return;
    }
    if (s || doc.type != TD_AUDIT_DOC_CHECKPOINT) {
        if (!s)
            td_audit_doc_clear(&doc);
        problem(x, -1, "malformed checkpoint line");
        return;
    }
    const td_audit_checkpoint *cp = &doc.checkpoint;
    uint8_t root[TD_AUDIT_HASH_LEN];
    if (cp->size != x->f.size) {
        problem(x, -1, "checkpoint of %llu entries after entry %llu (out of place)",
                (unsigned long long)cp->size, (unsigned long long)x->f.size);
    } else if (td_audit_checkpoint_verify(cp, x->pub, NULL) != TD_OK) {
        problem(x, -1, "checkpoint of %llu entries: bad signature (forged or altered)",
                (unsigned long long)cp->size);
    } else {
        td__frontier_root(&x->f, root);
        if (sodium_memcmp(root, cp->root, sizeof root) != 0) {
            problem(x, cp->size ? (int64_t)cp->size - 1 : -1,
                    "checkpoint of %llu entries: the signed root differs from the entries' root "
                    "(an entry up to %llu was changed)",
                    (unsigned long long)cp->size, (unsigned long long)cp->size);
        } else {
            x->rep.checkpoints++;
            x->rep.uncovered = 0;
        }
    }
    td_audit_doc_clear(&doc);
}

td_status td_audit_export_check_line(td_audit_export_check *x, const char *line, size_t len,
                                     td_error *err)
{
    td_status st = TD_OK;
    x->lines++;
    if (!x->rep.ok)
        return TD_OK; /* the first problem is the report */
    if (len && line[len - 1] == '\r')
        len--;
    if (len > TD_AUDIT_MAX_DOC) {
        problem(x, -1, "line longer than %d bytes", TD_AUDIT_MAX_DOC);
        return TD_OK;
    }
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || !type)
        problem(x, -1, "not a JSON object with a type");
    else if (!x->have_header && strcmp(type, "header") != 0)
        problem(x, -1, "the export does not start with its header");
    else if (strcmp(type, "header") == 0 && x->have_header)
        problem(x, -1, "a second header");
    else if (strcmp(type, "header") == 0)
        check_header(x, o);
    else if (strcmp(type, "entry") == 0)
        check_entry(x, o, err, &st);
    else if (strcmp(type, "checkpoint") == 0)
        check_checkpoint(x, line, len, err, &st);
    else
        problem(x, -1, "unknown line type '%.32s'", type);
    json_decref(o);
    return st;
}

void td_audit_export_check_finish(td_audit_export_check *x, td_audit_report *report)
{
    if (x->rep.ok) {
        x->lines++;
        if (!x->have_header)
            problem(x, -1, "empty export");
        else if (x->f.size != x->declared)
            problem(x, (int64_t)x->f.size,
                    "%llu entries where the header says %llu (cut short "
                    "or extended)",
                    (unsigned long long)x->f.size, (unsigned long long)x->declared);
        else if (x->rep.uncovered || !x->rep.checkpoints)
            problem(x, (int64_t)(x->f.size - x->rep.uncovered),
                    "%llu entries at the end are not covered by a signed checkpoint",
                    (unsigned long long)x->rep.uncovered);
    }
    *report = x->rep;
}
