/* The publisher side of the signed feeds (feeds.h): the feed key, and a bank's changes after a
 * cursor read in one snapshot of the store, made into a page and signed.
 *
 * Why the change log and not the signals table: a removal deletes the signal row, and only the
 * log still says that it was there. Why a page may stop inside an ADD_RANGE entry: a bulk import
 * of a million signals is one entry, and a page is capped. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit/key.h"
#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "exchange/feed_int.h"

/* The component's tables: opinions of peers on the signals of this instance's banks. A signal's
 * opinions go with it. */
static const char schema_v1[] =
    "CREATE TABLE feed_opinions ("
    " id INTEGER PRIMARY KEY,"
    " signal_id BIGINT NOT NULL REFERENCES signals(id) ON DELETE CASCADE,"
    " bank_id BIGINT NOT NULL, key_id BIGINT NOT NULL, key_name TEXT NOT NULL,"
    " opinion INTEGER NOT NULL, at_ms BIGINT NOT NULL,"
    " UNIQUE (signal_id, key_id, opinion));"
    "CREATE INDEX feed_opinions_bank ON feed_opinions (bank_id, signal_id);";

static const td_store_migration migrations[] = {
    {1, "opinions of peers", schema_v1, NULL},
};

void td_feed_key_id(const uint8_t pk[32], char key_id[TD_FEED_KEY_ID_LEN + 1])
{
    td__hex_encode(pk, TD_FEED_KEY_ID_LEN / 2, key_id);
}

td_status td_feeds_open(td_service *svc, const char *key_dir, td_feeds **out, td_error *err)
{
    td_status st;
    *out = NULL;
    if (sodium_init() < 0)
        return td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to initialise");
    td_feeds *f = td__calloc(1, sizeof *f);
    if (!f)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    f->svc = svc;
    f->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!f->sk) {
        td__free(f);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if ((st = td__key_file_load(key_dir ? key_dir : svc->dir, TD_FEED_KEY_FILE, f->sk, f->pk,
                                err))) {
        td__error_prefix(err, "feeds: signing key: ");
        td_feeds_close(f);
        return st;
    }
    td_feed_key_id(f->pk, f->key_id);
    if ((st = td_store_migrate_component(svc->store, "feeds", migrations,
                                         sizeof migrations / sizeof migrations[0], err))) {
        td_feeds_close(f);
        return st;
    }
    *out = f;
    return TD_OK;
}

void td_feeds_close(td_feeds *f)
{
    if (!f)
        return;
    sodium_free(f->sk);
    td__free(f);
}

void td_feeds_public_key(const td_feeds *f, uint8_t pk[32], char key_id[TD_FEED_KEY_ID_LEN + 1])
{
    memcpy(pk, f->pk, 32);
    memcpy(key_id, f->key_id, TD_FEED_KEY_ID_LEN + 1);
}

void td_feed_page_clear(td_feed_page *p)
{
    if (!p)
        return;
    td__free(p->changes);
    memset(p, 0, sizeof *p);
}

/* ---- cursors ---- */

typedef struct cursor {
    int64_t bank_id; /* 0: the start */
    int64_t seq;
    int64_t sid; /* > 0: inside the ADD_RANGE entry seq, its signals up to sid delivered */
} cursor;

/* A decimal number of 1..18 digits at *p, moving p past it. */
static int number(const char **p, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9' && n < 18) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n > 0 && !(**p >= '0' && **p <= '9');
}

static td_status cursor_parse(const char *s, cursor *c, td_error *err)
{
    memset(c, 0, sizeof *c);
    if (!s || !*s)
        return TD_OK;
    const char *p = s;
    if (strlen(s) > TD_FEED_CURSOR_MAX || !number(&p, &c->bank_id) || *p++ != ':' ||
        !number(&p, &c->seq) || (*p == '.' && (p++, !number(&p, &c->sid) || c->sid == 0)) || *p ||
        c->bank_id == 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "malformed cursor (\"\", \"<bank>:<seq>\" or "
                             "\"<bank>:<seq>.<signal>\")");
    return TD_OK;
}

static void cursor_text(const cursor *c, char out[TD_FEED_CURSOR_MAX + 1])
{
    if (c->sid)
        snprintf(out, TD_FEED_CURSOR_MAX + 1, "%lld:%lld.%lld", (long long)c->bank_id,
                 (long long)c->seq, (long long)c->sid);
    else
        snprintf(out, TD_FEED_CURSOR_MAX + 1, "%lld:%lld", (long long)c->bank_id,
                 (long long)c->seq);
}

static td_status stale(td_error *err, const char *why)
{
    return td__error_set(err, TD_ERR_CONFLICT, "stale cursor (%s): resync from the start", why);
}

/* ---- reading a page ---- */

typedef struct read_ctx {
    td_feeds *f;
    const char *bank, *after;
    size_t limit;
    json_t *changes; /* the page's changes */
    size_t bytes;    /* about what they take as text */
    cursor at;       /* where the page has got to */
    int more;
} read_ctx;

static int full(const read_ctx *x)
{
    return json_array_size(x->changes) >= x->limit || x->bytes >= TD_FEED_PAGE_BYTES;
}

static td_status push(read_ctx *x, json_t *change, size_t bytes, td_error *err)
{
    if (!change || json_array_append_new(x->changes, change) != 0)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    x->bytes += bytes + 128;
    return TD_OK;
}

static json_t *labels_json(const td_labels *l)
{
    json_t *a = json_array();
    for (int i = 0; a && i < l->count; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

/* The add change of a signal row (TD__SIGNAL_COLUMNS at q); nothing when it is no longer
 * indexable (its REMOVE is later in the log). */
static td_status add_signal(read_ctx *x, td_store_conn *c, const td_signal *s, td_error *err)
{
    if (!s->indexed)
        return TD_OK;
    char *body = NULL;
    size_t len = 0;
    json_t *value;
    td_status st;
    if (td_signal_type_has_body(s->type)) {
        if ((st = td__body_read(c, s->id, &body, &len, err)))
            return st;
        if (!body)
            return TD_OK; /* no body: nothing a subscriber could match */
        value = json_stringn(body, len);
        td_free(body);
        if (!value)
            return td__error_set(err, TD_ERR_CORRUPT, "signal %lld: its body is not UTF-8 text",
                                 (long long)s->id);
    } else {
        value = json_string(s->value);
        len = strlen(s->value);
    }
    json_t *ch =
        json_pack("{s:s, s:I, s:s, s:o, s:o, s:s, s:i}", "op", "add", "id", (json_int_t)s->id,
                  "type", td_signal_type_name(s->type), "value", value, "labels",
                  labels_json(&s->labels), "source", s->source, "confidence", s->confidence);
    return push(x, ch, len, err);
}

/* The signals of the ADD_RANGE entry seq with ids in (after, last], as far as the page has room.
 * Leaves x->at inside the entry when the page fills before its end, else at its end. */
static td_status expand_range(read_ctx *x, td_store_conn *c, int64_t bank_id, int64_t seq,
                              int64_t after, int64_t last, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    x->at.seq = seq;
    x->at.sid = after;
    while (after < last && !full(x)) {
        int64_t want = (int64_t)(x->limit - json_array_size(x->changes));
        if ((st = td_store_prepare(c,
                                   "SELECT " TD__SIGNAL_COLUMNS TD__SIGNAL_FROM
                                   " WHERE s.bank_id = $1 AND s.id > $2 AND s.id <= $3"
                                   " ORDER BY s.id LIMIT $4",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, after, err)) ||
            (st = td_stmt_bind_int64(q, 3, last, err)) ||
            (st = td_stmt_bind_int64(q, 4, want, err)))
            return st;
        /* The rows first, then their bodies (another statement on the same connection). */
        td_signal *rows = td__mallocarray((size_t)want, sizeof *rows);
        size_t n = 0;
        if (!rows)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < (size_t)want)
            td__signal_row(q, &rows[n++]);
        td_stmt_reset(q);
        for (size_t i = 0; st == TD_OK && i < n && !full(x); i++) {
            st = add_signal(x, c, &rows[i], err);
            after = rows[i].id;
        }
        if (st == TD_OK && n < (size_t)want && !full(x))
            after = last; /* the rest of the range holds none of this bank's signals */
        td__free(rows);
        if (st)
            return st;
        x->at.sid = after;
    }
    if (after >= last)
        x->at.sid = 0; /* the entry is done */
    return TD_OK;
}

/* The signal id of bank_id, *found 0 when it is gone. */
static td_status signal_on(td_store_conn *c, int64_t bank_id, int64_t id, td_signal *out,
                           int *found, td_error *err)
{
    td_stmt *q;
    td_status st = td_store_prepare(
        c, "SELECT " TD__SIGNAL_COLUMNS TD__SIGNAL_FROM " WHERE s.id = $1 AND s.bank_id = $2", &q,
        err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, bank_id, err)) || (st = td_stmt_step(q, found, err)))
        return st;
    if (*found)
        td__signal_row(q, out);
    td_stmt_reset(q);
    return TD_OK;
}

typedef struct entry {
    int64_t seq, signal_id, last_id;
    int kind;
    td_signal_type type;
    char value[65];
} entry;

static td_status read_page(td_store_conn *c, void *ctx, td_error *err)
{
    read_ctx *x = ctx;
    td_stmt *q;
    int row;
    int64_t bank_id, max_seq;
    td_status st = td__bank_id(c, x->bank, &bank_id, err);
    if (st)
        return st;
    cursor cur;
    if ((st = cursor_parse(x->after, &cur, err)))
        return st;
    if (cur.bank_id && cur.bank_id != bank_id)
        return stale(err, "the bank was re-created since");
    if ((st = td_store_prepare(c, "SELECT COALESCE(MAX(seq), 0) FROM changes", &q, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    max_seq = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (cur.seq > max_seq)
        return stale(err, "past the end of this instance's change log");
    x->at = cur;
    x->at.bank_id = bank_id;
    if (cur.sid) {
        if ((st = td_store_prepare(c,
                                   "SELECT kind, signal_id, last_id FROM changes"
                                   " WHERE seq = $1 AND bank_id = $2",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, cur.seq, err)) ||
            (st = td_stmt_bind_int64(q, 2, bank_id, err)) || (st = td_stmt_step(q, &row, err)))
            return st;
        int kind = row ? (int)td_stmt_column_int64(q, 0) : 0;
        int64_t first = row ? td_stmt_column_int64(q, 1) : 0,
                last = row ? td_stmt_column_int64(q, 2) : 0;
        td_stmt_reset(q);
        if (kind != TD__CHANGE_ADD_RANGE || cur.sid < first - 1 || cur.sid > last)
            return stale(err, "not inside a bulk import of this bank");
        if ((st = expand_range(x, c, bank_id, cur.seq, cur.sid, last, err)))
            return st;
    }
    /* Entries after the cursor, a batch at a time, until the page is full. */
    while (!full(x) && !x->at.sid) {
        size_t want = x->limit - json_array_size(x->changes), n = 0;
        entry *e = td__mallocarray(want, sizeof *e);
        if (!e)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        if ((st = td_store_prepare(c,
                                   "SELECT seq, kind, signal_id, type, value, last_id FROM changes"
                                   " WHERE bank_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, x->at.seq, err)) ||
            (st = td_stmt_bind_int64(q, 3, (int64_t)want, err))) {
            td__free(e);
            return st;
        }
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < want) {
            e[n].seq = td_stmt_column_int64(q, 0);
            e[n].kind = (int)td_stmt_column_int64(q, 1);
            e[n].signal_id = td_stmt_column_int64(q, 2);
            e[n].type = (td_signal_type)td_stmt_column_int64(q, 3);
            if (td__value_column_hex(q, 4, e[n].type, e[n].value) != 0)
                e[n].value[0] = '\0';
            e[n].last_id = td_stmt_column_int64(q, 5);
            n++;
        }
        td_stmt_reset(q);
        for (size_t i = 0; st == TD_OK && i < n && !full(x) && !x->at.sid; i++) {
            if (e[i].kind == TD__CHANGE_ADD) {
                td_signal s;
                int found = 0;
                /* A signal deleted since: its REMOVE follows. Its id may have been given to
                 * another signal since (SQLite reuses the largest rowid once deleted), whose
                 * own ADD follows: only the signal the entry names is added here. */
                if ((st = signal_on(c, bank_id, e[i].signal_id, &s, &found, err)) == TD_OK &&
                    found && s.type == e[i].type && strcmp(s.value, e[i].value) == 0)
                    st = add_signal(x, c, &s, err);
            } else if (e[i].kind == TD__CHANGE_REMOVE) {
                st = push(x,
                          json_pack("{s:s, s:I, s:s, s:s}", "op", "remove", "id",
                                    (json_int_t)e[i].signal_id, "type",
                                    td_signal_type_name(e[i].type), "value", e[i].value),
                          64, err);
            } else if (e[i].kind == TD__CHANGE_ADD_RANGE) {
                st = expand_range(x, c, bank_id, e[i].seq, e[i].signal_id - 1, e[i].last_id, err);
                if (st == TD_OK && x->at.sid)
                    break; /* stopped inside it: at says where */
            }
            x->at.seq = e[i].seq;
        }
        td__free(e);
        if (st)
            return st;
        if (n < want)
            break; /* the log's end */
    }
    if (x->at.sid) {
        x->more = 1;
        return TD_OK;
    }
    if ((st = td_store_prepare(c, "SELECT seq FROM changes WHERE bank_id = $1 AND seq > $2 LIMIT 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, x->at.seq, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    x->more = row;
    td_stmt_reset(q);
    return TD_OK;
}

size_t td_feed_signed_message(const char *bank, const char *from, const char *to, int more,
                              size_t count, const uint8_t sha256[32], const char *key_id,
                              uint8_t *out, size_t cap)
{
    char hex[65], num[32];
    td__hex_encode(sha256, 32, hex);
    snprintf(num, sizeof num, "%zu", count);
    const char *fields[] = {bank, from, to, more ? "1" : "0", num, hex, key_id};
    size_t n = 0;
    int w = snprintf((char *)out, cap, "%s\n", TD_FEED_SIGNED_PREFIX);
    if (w < 0 || (size_t)w >= cap)
        return 0;
    n = (size_t)w;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t len = strlen(fields[i]);
        w = snprintf((char *)out + n, cap - n, "%zu:", len);
        if (w < 0 || (size_t)w >= cap - n || cap - n - (size_t)w < len + 2)
            return 0;
        n += (size_t)w;
        memcpy(out + n, fields[i], len);
        n += len;
        out[n++] = '\n';
    }
    return n;
}

#define SIGNED_MAX (sizeof TD_FEED_SIGNED_PREFIX + TD_NAME_MAX + 2 * TD_FEED_CURSOR_MAX + 256)

td_status td_feed_read(td_feeds *f, const char *bank, const char *after, size_t limit,
                       td_feed_page *out, td_error *err)
{
    memset(out, 0, sizeof *out);
    if (!bank || strlen(bank) > TD_NAME_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no such bank");
    if (after && strlen(after) > TD_FEED_CURSOR_MAX)
        return td__error_set(err, TD_ERR_INVALID, "cursor over %d bytes", TD_FEED_CURSOR_MAX);
    read_ctx x = {f,    bank, after ? after : "", limit ? limit : TD_FEED_PAGE_DEFAULT,
                  NULL, 0,    {0, 0, 0},          0};
    if (x.limit > TD_FEED_PAGE_MAX)
        x.limit = TD_FEED_PAGE_MAX;
    x.changes = json_array();
    if (!x.changes)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td_store_read(f->svc->store, read_page, &x, err);
    if (st) {
        json_decref(x.changes);
        return st;
    }
    char *text = json_dumps(x.changes, JSON_COMPACT);
    out->count = json_array_size(x.changes);
    json_decref(x.changes);
    if (!text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    out->changes_len = strlen(text);
    out->changes = td__malloc(out->changes_len + 1);
    if (!out->changes) {
        free(text); /* jansson's */
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    memcpy(out->changes, text, out->changes_len + 1);
    free(text);
    snprintf(out->bank, sizeof out->bank, "%s", bank);
    snprintf(out->from, sizeof out->from, "%s", x.after);
    cursor_text(&x.at, out->to);
    out->more = x.more;
    memcpy(out->key_id, f->key_id, sizeof out->key_id);
    crypto_hash_sha256(out->sha256, (const uint8_t *)out->changes, out->changes_len);
    uint8_t msg[SIGNED_MAX];
    size_t n = td_feed_signed_message(out->bank, out->from, out->to, out->more, out->count,
                                      out->sha256, out->key_id, msg, sizeof msg);
    if (!n) {
        td_feed_page_clear(out);
        return td__error_set(err, TD_ERR_INTERNAL, "signed message does not fit");
    }
    crypto_sign_detached(out->signature, NULL, msg, n, f->sk);
    return TD_OK;
}

td_status td_feed_page_json(const td_feed_page *p, char **out, size_t *len, td_error *err)
{
    char sha[65], sig[129];
    td__hex_encode(p->sha256, 32, sha);
    td__hex_encode(p->signature, 64, sig);
    *out = NULL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:s, s:s, s:s%}", "bank", p->bank, "from",
                          p->from, "to", p->to, "more", p->more, "count", (json_int_t)p->count,
                          "key_id", p->key_id, "changes_sha256", sha, "signature", sig, "changes",
                          p->changes, p->changes_len);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    *len = strlen(text);
    *out = td__malloc(*len + 1);
    if (*out)
        memcpy(*out, text, *len + 1);
    free(text);
    return *out ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
}

/* ---- verifying a page (the subscriber's side) ---- */

static td_status member(json_t *o, const char *name, json_type type, json_t **out, td_error *err)
{
    *out = json_object_get(o, name);
    if (!*out || json_typeof(*out) != type)
        return td__error_set(err, TD_ERR_INVALID, "page: member '%s' missing or of another type",
                             name);
    return TD_OK;
}

td_status td_feed_page_verify(const char *json, size_t len, const td_feed_expect *expect,
                              td_feed_page *out, td_error *err)
{
    json_t *o, *bank, *from, *to, *more, *count, *kid, *sha, *sig, *changes;
    json_error_t je;
    td_status st;
    memset(out, 0, sizeof *out);
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return td__error_set(err, TD_ERR_INVALID, "page: not a JSON object");
    }
    if ((st = member(o, "bank", JSON_STRING, &bank, err)) ||
        (st = member(o, "from", JSON_STRING, &from, err)) ||
        (st = member(o, "to", JSON_STRING, &to, err)) ||
        (st = member(o, "count", JSON_INTEGER, &count, err)) ||
        (st = member(o, "key_id", JSON_STRING, &kid, err)) ||
        (st = member(o, "changes_sha256", JSON_STRING, &sha, err)) ||
        (st = member(o, "signature", JSON_STRING, &sig, err)) ||
        (st = member(o, "changes", JSON_STRING, &changes, err)))
        goto out;
    more = json_object_get(o, "more");
    if (!json_is_boolean(more)) {
        st = td__error_set(err, TD_ERR_INVALID, "page: member 'more' missing or not a boolean");
        goto out;
    }
    char pinned[TD_FEED_KEY_ID_LEN + 1];
    td_feed_key_id(expect->pk, pinned);
    if (expect->key_id && strcmp(expect->key_id, pinned) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT,
                           "page: the pinned key id does not belong to the "
                           "pinned public key");
        goto out;
    }
    if (strcmp(json_string_value(kid), pinned) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: signed by key %.16s, not the pinned key %s",
                           json_string_value(kid), pinned);
        goto out;
    }
    if (strcmp(json_string_value(bank), expect->bank) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: of another bank");
        goto out;
    }
    if (strcmp(json_string_value(from), expect->from ? expect->from : "") != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: for another cursor range (from)");
        goto out;
    }
    if (json_string_length(to) > TD_FEED_CURSOR_MAX || json_string_length(bank) > TD_NAME_MAX ||
        json_integer_value(count) < 0 || json_integer_value(count) > TD_FEED_PAGE_MAX) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: cursor, bank or count out of range");
        goto out;
    }
    uint8_t want[32], got[32], signature[64];
    const char *cb = json_string_value(changes);
    size_t cl = json_string_length(changes);
    crypto_hash_sha256(got, (const uint8_t *)cb, cl);
    if (td__hex_decode_exact(json_string_value(sha), json_string_length(sha), want, 32) != 0 ||
        sodium_memcmp(want, got, 32) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: the changes do not have the SHA-256 given");
        goto out;
    }
    if (td__hex_decode_exact(json_string_value(sig), json_string_length(sig), signature, 64) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: the signature is not 128 hex digits");
        goto out;
    }
    uint8_t msg[SIGNED_MAX];
    size_t n = td_feed_signed_message(
        json_string_value(bank), json_string_value(from), json_string_value(to), json_is_true(more),
        (size_t)json_integer_value(count), got, pinned, msg, sizeof msg);
    if (!n || crypto_sign_verify_detached(signature, msg, n, expect->pk) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "page: the signature does not verify");
        goto out;
    }
    out->changes = td__malloc(cl + 1);
    if (!out->changes) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(out->changes, cb, cl);
    out->changes[cl] = '\0';
    out->changes_len = cl;
    snprintf(out->bank, sizeof out->bank, "%s", json_string_value(bank));
    snprintf(out->from, sizeof out->from, "%s", json_string_value(from));
    snprintf(out->to, sizeof out->to, "%s", json_string_value(to));
    out->more = json_is_true(more);
    out->count = (size_t)json_integer_value(count);
    memcpy(out->sha256, got, 32);
    memcpy(out->key_id, pinned, sizeof out->key_id);
    memcpy(out->signature, signature, 64);
out:
    json_decref(o);
    return st;
}
