/* Proof documents: the JSON an auditor receives (from the CLI or the HTTP API) and checks
 * offline. Parsing is of untrusted input, so every size is bounded before anything is allocated:
 * the document (TD_AUDIT_MAX_DOC), each path (TD_AUDIT_MAX_PATH hashes), each hex string (exact
 * length), the entry (TD_AUDIT_MAX_ENTRY); unknown keys are refused so that two parsers can
 * never read one document differently. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

void td_audit_doc_clear(td_audit_doc *doc)
{
    if (!doc)
        return;
    td__free(doc->entry);
    memset(doc, 0, sizeof *doc);
}

/* ---- formatting ---- */

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char buf[2 * TD_AUDIT_SIG_LEN + 1];
    td__hex_encode(b, n, buf);
    return json_string(buf);
}

static json_t *checkpoint_json(const td_audit_checkpoint *cp)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "size", json_integer((json_int_t)cp->size)) ||
        json_object_set_new(o, "time_ms", json_integer(cp->time_ms)) ||
        json_object_set_new(o, "root", hex_json(cp->root, TD_AUDIT_HASH_LEN)) ||
        json_object_set_new(o, "signature", hex_json(cp->signature, TD_AUDIT_SIG_LEN))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *path_json(const td_audit_proof *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->n_path; i++)
        if (json_array_append_new(a, hex_json(p->path[i], TD_AUDIT_HASH_LEN))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

td_status td_audit_doc_format(const td_audit_doc *doc, char **text, size_t *len, td_error *err)
{
    *text = NULL;
    *len = 0;
    json_t *o = json_object();
    int bad = !o;
    if (o && doc->type == TD_AUDIT_DOC_CHECKPOINT) {
        bad = json_object_set_new(o, "type", json_string("checkpoint")) ||
              json_object_set_new(o, "checkpoint", checkpoint_json(&doc->checkpoint));
    } else if (o && doc->type == TD_AUDIT_DOC_INCLUSION) {
        bad = json_object_set_new(o, "type", json_string("inclusion")) ||
              json_object_set_new(o, "seq", json_integer((json_int_t)doc->proof.index)) ||
              (doc->entry &&
               json_object_set_new(o, "entry", json_stringn(doc->entry, doc->entry_len))) ||
              json_object_set_new(o, "leaf_hash", hex_json(doc->leaf_hash, TD_AUDIT_HASH_LEN)) ||
              json_object_set_new(o, "tree_size", json_integer((json_int_t)doc->proof.size)) ||
              json_object_set_new(o, "path", path_json(&doc->proof)) ||
              json_object_set_new(o, "checkpoint", checkpoint_json(&doc->checkpoint));
    } else if (o && doc->type == TD_AUDIT_DOC_CONSISTENCY) {
        bad = json_object_set_new(o, "type", json_string("consistency")) ||
              json_object_set_new(o, "first", checkpoint_json(&doc->first)) ||
              json_object_set_new(o, "second", checkpoint_json(&doc->checkpoint)) ||
              json_object_set_new(o, "path", path_json(&doc->proof));
    } else if (o) {
        json_decref(o);
        return td__error_set(err, TD_ERR_INVALID, "proof document: unknown type");
    }
    /* json_dumpb into our own buffer: the text is the library's to hand out (td_free). */
    size_t n = bad ? 0 : json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy = n ? td__malloc(n + 1) : NULL;
    if (!copy || json_dumpb(o, copy, n, JSON_COMPACT | JSON_PRESERVE_ORDER) != n) {
        json_decref(o);
        td__free(copy);
        return td__error_set(err, TD_ERR_NOMEM, "proof document: out of memory");
    }
    json_decref(o);
    copy[n] = '\0';
    *text = copy;
    *len = n;
    return TD_OK;
}

/* ---- parsing ---- */

/* Refuses keys other than the allowed ones (a NULL-terminated list). */
static td_status only_keys(json_t *o, const char *const *allowed, const char *what, td_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return td__error_set(err, TD_ERR_INVALID, "proof document: %s: unknown key '%.40s'",
                                 what, key);
    }
    return TD_OK;
}

static td_status get_u64(json_t *o, const char *key, uint64_t *out, td_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "proof document: '%s' must be a non-negative integer", key);
    *out = (uint64_t)json_integer_value(v);
    return TD_OK;
}

static td_status get_hex(json_t *o, const char *key, uint8_t *out, size_t n, td_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) ||
        td__hex_decode_exact(json_string_value(v), json_string_length(v), out, n))
        return td__error_set(err, TD_ERR_INVALID, "proof document: '%s' must be %zu hex digits",
                             key, 2 * n);
    return TD_OK;
}

static td_status get_checkpoint(json_t *o, const char *key, td_audit_checkpoint *cp, td_error *err)
{
    static const char *const keys[] = {"size", "time_ms", "root", "signature", NULL};
    json_t *c = json_object_get(o, key);
    uint64_t t = 0;
    td_status st;
    if (!json_is_object(c))
        return td__error_set(err, TD_ERR_INVALID, "proof document: '%s' must be a checkpoint", key);
    if ((st = only_keys(c, keys, key, err)) || (st = get_u64(c, "size", &cp->size, err)) ||
        (st = get_u64(c, "time_ms", &t, err)) ||
        (st = get_hex(c, "root", cp->root, TD_AUDIT_HASH_LEN, err)) ||
        (st = get_hex(c, "signature", cp->signature, TD_AUDIT_SIG_LEN, err)))
        return st;
    cp->time_ms = (int64_t)t;
    return TD_OK;
}

static td_status get_path(json_t *o, td_audit_proof *p, td_error *err)
{
    json_t *a = json_object_get(o, "path");
    if (!json_is_array(a))
        return td__error_set(err, TD_ERR_INVALID, "proof document: 'path' must be an array");
    if (json_array_size(a) > TD_AUDIT_MAX_PATH)
        return td__error_set(err, TD_ERR_LIMIT, "proof document: path longer than %d hashes",
                             TD_AUDIT_MAX_PATH);
    p->n_path = json_array_size(a);
    for (size_t i = 0; i < p->n_path; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v) || td__hex_decode_exact(json_string_value(v), json_string_length(v),
                                                       p->path[i], TD_AUDIT_HASH_LEN))
            return td__error_set(err, TD_ERR_INVALID,
                                 "proof document: path[%zu] must be 64 hex digits", i);
    }
    return TD_OK;
}

static td_status parse_obj(json_t *o, td_audit_doc *doc, td_error *err)
{
    static const char *const k_cp[] = {"type", "checkpoint", NULL};
    static const char *const k_inc[] = {"type",      "seq",  "entry",      "leaf_hash",
                                        "tree_size", "path", "checkpoint", NULL};
    static const char *const k_con[] = {"type", "first", "second", "path", NULL};
    const char *type = json_string_value(json_object_get(o, "type"));
    td_status st;
    if (!type)
        return td__error_set(err, TD_ERR_INVALID, "proof document: no 'type'");
    if (strcmp(type, "checkpoint") == 0) {
        doc->type = TD_AUDIT_DOC_CHECKPOINT;
        if ((st = only_keys(o, k_cp, "document", err)))
            return st;
        return get_checkpoint(o, "checkpoint", &doc->checkpoint, err);
    }
    if (strcmp(type, "consistency") == 0) {
        doc->type = TD_AUDIT_DOC_CONSISTENCY;
        if ((st = only_keys(o, k_con, "document", err)) || (st = get_path(o, &doc->proof, err)) ||
            (st = get_checkpoint(o, "first", &doc->first, err)) ||
            (st = get_checkpoint(o, "second", &doc->checkpoint, err)))
            return st;
        doc->proof.index = doc->first.size;
        doc->proof.size = doc->checkpoint.size;
        return TD_OK;
    }
    if (strcmp(type, "inclusion") != 0)
        return td__error_set(err, TD_ERR_INVALID, "proof document: unknown type '%.40s'", type);
    doc->type = TD_AUDIT_DOC_INCLUSION;
    if ((st = only_keys(o, k_inc, "document", err)) ||
        (st = get_u64(o, "seq", &doc->proof.index, err)) ||
        (st = get_u64(o, "tree_size", &doc->proof.size, err)) ||
        (st = get_hex(o, "leaf_hash", doc->leaf_hash, TD_AUDIT_HASH_LEN, err)) ||
        (st = get_path(o, &doc->proof, err)) ||
        (st = get_checkpoint(o, "checkpoint", &doc->checkpoint, err)))
        return st;
    json_t *e = json_object_get(o, "entry");
    if (e) {
        if (!json_is_string(e))
            return td__error_set(err, TD_ERR_INVALID, "proof document: 'entry' must be a string");
        size_t n = json_string_length(e);
        if (n > TD_AUDIT_MAX_ENTRY)
            return td__error_set(err, TD_ERR_LIMIT, "proof document: entry longer than %d bytes",
                                 TD_AUDIT_MAX_ENTRY);
        if (!(doc->entry = td__malloc(n + 1)))
            return td__error_set(err, TD_ERR_NOMEM, "proof document: out of memory");
        memcpy(doc->entry, json_string_value(e), n + 1);
        doc->entry_len = n;
    }
    return TD_OK;
}

td_status td_audit_doc_parse(const char *text, size_t len, td_audit_doc *doc, td_error *err)
{
    json_error_t jerr;
    memset(doc, 0, sizeof *doc);
    if (len > TD_AUDIT_MAX_DOC)
        return td__error_set(err, TD_ERR_LIMIT, "proof document: larger than %d bytes",
                             TD_AUDIT_MAX_DOC);
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return td__error_set(err, TD_ERR_INVALID, "proof document: line %d: %.200s", jerr.line,
                             jerr.text);
    td_status st = json_is_object(o)
                       ? parse_obj(o, doc, err)
                       : td__error_set(err, TD_ERR_INVALID, "proof document: not a JSON object");
    json_decref(o);
    if (st)
        td_audit_doc_clear(doc);
    return st;
}

td_status td_audit_doc_verify(const td_audit_doc *doc, const uint8_t pub[TD_AUDIT_PUBKEY_LEN],
                              td_error *err)
{
    td_status st = td_audit_checkpoint_verify(&doc->checkpoint, pub, err);
    if (st)
        return st;
    switch (doc->type) {
    case TD_AUDIT_DOC_CHECKPOINT: return TD_OK;
    case TD_AUDIT_DOC_INCLUSION:
        if (doc->proof.size != doc->checkpoint.size)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "inclusion proof: tree_size differs from the checkpoint's size");
        if (doc->entry) {
            uint8_t h[TD_AUDIT_HASH_LEN];
            td_audit_leaf_hash(doc->entry, doc->entry_len, h);
            if (memcmp(h, doc->leaf_hash, TD_AUDIT_HASH_LEN) != 0)
                return td__error_set(err, TD_ERR_CORRUPT,
                                     "inclusion proof: the entry does not hash to leaf_hash");
            /* The entry names its own position: it must be the one proven. */
            char head[40];
            int hn =
                snprintf(head, sizeof head, "{\"seq\":%llu,", (unsigned long long)doc->proof.index);
            if (hn <= 0 || doc->entry_len < (size_t)hn || memcmp(doc->entry, head, (size_t)hn))
                return td__error_set(err, TD_ERR_CORRUPT,
                                     "inclusion proof: the entry's seq is not the proven one");
        }
        return td_audit_verify_inclusion(&doc->proof, doc->leaf_hash, doc->checkpoint.root, err);
    case TD_AUDIT_DOC_CONSISTENCY:
        if ((st = td_audit_checkpoint_verify(&doc->first, pub, err)))
            return st;
        if (doc->proof.index != doc->first.size || doc->proof.size != doc->checkpoint.size)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "consistency proof: sizes differ from the checkpoints'");
        return td_audit_verify_consistency(&doc->proof, doc->first.root, doc->checkpoint.root, err);
    }
    return td__error_set(err, TD_ERR_INVALID, "proof document: unknown type");
}
