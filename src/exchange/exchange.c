/* The exchanges: their tables, the handle, the key that seals their credentials, and the calls
 * that create, read, change and delete them (the rules are in exchange_int.h). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit/key.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/wait.h"
#include "exchange/exchange_int.h"

#define KEY_FILE "exchange.key"
#define TYPES_ALL ((1u << (TD_SIGNAL_TYPE_MAX + 1)) - 2u)

static const char v1[] =
    "CREATE TABLE exchanges ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, type INTEGER NOT NULL,"
    " url TEXT NOT NULL, grp TEXT NOT NULL, bank TEXT NOT NULL, allow_bank TEXT NOT NULL,"
    " interval_ms BIGINT NOT NULL, tags TEXT NOT NULL, types BIGINT NOT NULL,"
    " reactions INTEGER NOT NULL, enabled INTEGER NOT NULL, credentials BLOB, push_secret BLOB,"
    " checkpoint TEXT NOT NULL, resyncing INTEGER NOT NULL, generation BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, last_fetch_ms BIGINT NOT NULL,"
    " last_success_ms BIGINT NOT NULL, next_fetch_ms BIGINT NOT NULL, pages BIGINT NOT NULL,"
    " items BIGINT NOT NULL, added BIGINT NOT NULL, updated BIGINT NOT NULL,"
    " removed BIGINT NOT NULL, negative BIGINT NOT NULL, skipped BIGINT NOT NULL,"
    " failures BIGINT NOT NULL, consecutive_failures INTEGER NOT NULL,"
    " last_error TEXT NOT NULL);"
    /* What each exchange brought: its signals with the source's own id, and the resync
     * generation that last saw them (a resync retracts what it did not see again). */
    "CREATE TABLE exchange_items ("
    " exchange_id BIGINT NOT NULL, signal_id BIGINT NOT NULL, external_id TEXT NOT NULL,"
    " generation BIGINT NOT NULL, PRIMARY KEY (exchange_id, signal_id));"
    "CREATE INDEX exchange_items_signal ON exchange_items (signal_id);"
    /* Feedback to send, once per (exchange, item, reaction). */
    "CREATE TABLE exchange_reactions ("
    " id INTEGER PRIMARY KEY, exchange_id BIGINT NOT NULL, external_id TEXT NOT NULL,"
    " reaction TEXT NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    " created_ms BIGINT NOT NULL, next_ms BIGINT NOT NULL, sent_ms BIGINT NOT NULL,"
    " last_error TEXT NOT NULL, UNIQUE (exchange_id, external_id, reaction));"
    "CREATE INDEX exchange_reactions_due ON exchange_reactions (state, next_ms);"
    /* Where the reaction scan stands in the matches and decisions tables. */
    "CREATE TABLE exchange_cursors (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT INTO exchange_cursors (name, value) VALUES ('matches', -1);"
    "INSERT INTO exchange_cursors (name, value) VALUES ('decisions', -1);";

/* The platform's own signals shared with a source after a second person approved. */
static const char v2[] =
    "CREATE TABLE exchange_uploads ("
    " id INTEGER PRIMARY KEY, exchange_id BIGINT NOT NULL, signal_id BIGINT NOT NULL,"
    " state INTEGER NOT NULL, description TEXT NOT NULL, requested_by BIGINT NOT NULL,"
    " requested_by_name TEXT NOT NULL, requested_ms BIGINT NOT NULL, decided_by BIGINT NOT NULL,"
    " decided_by_name TEXT NOT NULL, decided_ms BIGINT NOT NULL, external_id TEXT NOT NULL,"
    " last_error TEXT NOT NULL);"
    "CREATE INDEX exchange_uploads_exchange ON exchange_uploads (exchange_id, id);";

/* Credentials of a source type (HMA's per-API credentials, docs/hma.md), sealed like an
 * exchange's: an exchange of that type without credentials of its own uses them. */
static const char v3[] = "CREATE TABLE exchange_type_credentials ("
                         " type INTEGER PRIMARY KEY, credentials BLOB NOT NULL,"
                         " updated_ms BIGINT NOT NULL);";

static const td_store_migration migrations[] = {
    {1, "exchanges", v1, NULL},
    {2, "exchange uploads", v2, NULL},
    {3, "exchange type credentials", v3, NULL},
};

static const char *const type_names[] = {NULL, "threatexchange", "tcap", "takedown", "url_list"};

const char *td_exchange_type_name(td_exchange_type type)
{
    if ((int)type < 1 || (int)type > TD_EXCHANGE_URL_LIST)
        return "unknown";
    return type_names[type];
}

td_status td_exchange_type_parse(const char *name, td_exchange_type *out)
{
    for (int i = 1; name && i <= TD_EXCHANGE_URL_LIST; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (td_exchange_type)i;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

const td__xclient *td__xclient_of(td_exchange_type type)
{
    switch (type) {
    case TD_EXCHANGE_THREATEXCHANGE: return &td__xclient_threatexchange;
    case TD_EXCHANGE_TCAP: return &td__xclient_tcap;
    case TD_EXCHANGE_TAKEDOWN: return &td__xclient_takedown;
    case TD_EXCHANGE_URL_LIST: return &td__xclient_url_list;
    }
    return NULL;
}

void td__exchange_source(const char *name, char out[TD_SOURCE_MAX + 1])
{
    snprintf(out, TD_SOURCE_MAX + 1, "exchange:%s", name);
}

void td_exchanges_options_default(td_exchanges_options *o)
{
    memset(o, 0, sizeof *o);
    o->worker = 1;
    o->timeout_ms = 30000;
    o->max_page_bytes = (uint64_t)64 << 20;
    o->max_page_items = 100000;
    o->backoff_min_ms = 1000;
    o->backoff_max_ms = 900000;
    o->min_interval_ms = 1000;
    o->reload_ms = 5000;
    o->reactions_per_minute = 60;
}

td_status td_exchanges_options_from_config(td_exchanges_options *o, const td_config *cfg,
                                           td_error *err)
{
    int64_t allow = 0, timeout = 0, page = 0, items = 0, rate = 0;
    td_status st;
    td_exchanges_options_default(o);
    if ((st = td_config_int(cfg, "exchange_allow_private", &allow, err)) ||
        (st = td_config_int(cfg, "exchange_timeout_ms", &timeout, err)) ||
        (st = td_config_int(cfg, "exchange_max_page_bytes", &page, err)) ||
        (st = td_config_int(cfg, "exchange_max_page_items", &items, err)) ||
        (st = td_config_int(cfg, "exchange_backoff_max_ms", &o->backoff_max_ms, err)) ||
        (st = td_config_int(cfg, "exchange_min_interval_ms", &o->min_interval_ms, err)) ||
        (st = td_config_int(cfg, "exchange_reactions_per_minute", &rate, err)))
        return st;
    o->allow_private = allow != 0;
    o->timeout_ms = (unsigned)timeout;
    o->max_page_bytes = (uint64_t)page;
    o->max_page_items = (uint64_t)items;
    o->reactions_per_minute = (int)rate;
    return TD_OK;
}

/* ---- sealing ---- */

/* Seals text under the handle's key, bound to the exchange's name: nonce || ciphertext. */
static td_status seal(td_exchanges *ex, const char *name, const char *text, size_t len,
                      uint8_t **out, size_t *out_len, td_error *err)
{
    size_t n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len +
               crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t *b = td__malloc(n);
    if (!b)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    randombytes_buf(b, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        b + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, (const uint8_t *)text, len,
        (const uint8_t *)name, strlen(name), NULL, b, ex->key);
    *out = b;
    *out_len = n;
    return TD_OK;
}

/* Opens a sealed value into buf (cap bytes, NUL-terminated); *len its length. */
static td_status unseal(td_exchanges *ex, const char *name, const uint8_t *b, size_t n, char *buf,
                        size_t cap, size_t *len, td_error *err)
{
    const size_t over =
        crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    unsigned long long plen = 0;
    if (n < over || n - over >= cap ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            (uint8_t *)buf, &plen, NULL, b + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            n - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const uint8_t *)name, strlen(name),
            b, ex->key) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "exchange %s: its sealed secrets do not open with this data "
                             "directory's %s",
                             name, KEY_FILE);
    buf[plen] = '\0';
    *len = (size_t)plen;
    return TD_OK;
}

static td_status bind_sealed(td_exchanges *ex, td_stmt *q, int index, const char *name,
                             const char *text, td_error *err);

/* Reads one sealed column of exchange id and opens it. */
static td_status open_column(td_exchanges *ex, td_store_conn *c, int64_t id, const char *column,
                             char *buf, size_t cap, size_t *len, td_error *err)
{
    td_stmt *q;
    int row;
    char sql[96];
    *len = 0;
    snprintf(sql, sizeof sql, "SELECT name, %s FROM exchanges WHERE id = $1", column);
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no exchange %lld", (long long)id);
    char name[TD_NAME_MAX + 1];
    td__copy_trunc(name, sizeof name, td_stmt_column_text(q, 0));
    size_t n = td_stmt_column_bytes(q, 1);
    if (n)
        st = unseal(ex, name, td_stmt_column_blob(q, 1), n, buf, cap, len, err);
    td_stmt_reset(q);
    return st;
}

/* The name a type's credentials are sealed to: exchange names have no ':'. */
static void type_seal_name(td_exchange_type type, char *out, size_t cap)
{
    snprintf(out, cap, "type:%s", td_exchange_type_name(type));
}

/* Opens the credentials of exchange id's type into buf (*len 0: none). */
static td_status open_type_credentials(td_exchanges *ex, td_store_conn *c, int64_t id, char *buf,
                                       size_t cap, size_t *len, td_error *err)
{
    td_stmt *q;
    int row;
    *len = 0;
    td_status st = td_store_prepare(c,
                                    "SELECT e.type, t.credentials FROM exchanges e JOIN"
                                    " exchange_type_credentials t ON t.type = e.type"
                                    " WHERE e.id = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        char name[48];
        type_seal_name((td_exchange_type)td_stmt_column_int64(q, 0), name, sizeof name);
        st = unseal(ex, name, td_stmt_column_blob(q, 1), td_stmt_column_bytes(q, 1), buf, cap, len,
                    err);
    }
    td_stmt_reset(q);
    return st;
}

/* Credentials are a JSON object of at most TD_EXCHANGE_CREDENTIALS_MAX bytes; what names them
 * in the error. */
static td_status credentials_check(const char *credentials, const char *what, td_error *err)
{
    size_t n = strlen(credentials);
    if (n > TD_EXCHANGE_CREDENTIALS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "%s: more than %d bytes", what,
                             TD_EXCHANGE_CREDENTIALS_MAX);
    json_t *j = json_loadb(credentials, n, JSON_REJECT_DUPLICATES, NULL);
    int ok = json_is_object(j);
    json_decref(j);
    if (!ok)
        return td__error_set(err, TD_ERR_INVALID, "%s must be a JSON object", what);
    return TD_OK;
}

td_status td_exchange_type_credentials_set_as(td_exchanges *ex, const td_principal *who,
                                              td_exchange_type type, const char *credentials,
                                              td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    if (!td__xclient_of(type))
        return td__error_set(err, TD_ERR_INVALID, "unknown exchange type");
    td_status st;
    if (credentials && (st = credentials_check(credentials, "the credentials", err)))
        return st;
    st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    char name[48];
    type_seal_name(type, name, sizeof name);
    if ((st = td_store_begin(c, err)) ||
        (st = td_store_prepare(c, "DELETE FROM exchange_type_credentials WHERE type = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, type, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    if (credentials &&
        ((st = td_store_prepare(c,
                                "INSERT INTO exchange_type_credentials (type, credentials,"
                                " updated_ms) VALUES ($1, $2, $3)",
                                &q, err)) ||
         (st = td_stmt_bind_int64(q, 1, type, err)) ||
         (st = bind_sealed(ex, q, 2, name, credentials, err)) ||
         (st = td_stmt_bind_int64(q, 3, td__now(ex->svc), err)) ||
         (st = td_stmt_run(q, NULL, err))))
        goto out;
    json_t *d = json_pack("{s:s, s:b}", "type", td_exchange_type_name(type), "credentials",
                          credentials != NULL);
    if ((st = td__audit_id(ex->svc, c, who, "exchange.type_credentials", "exchange_type", type, d,
                           err)) ||
        (st = td_store_commit(c, err)))
        goto out;
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    if (st == TD_OK)
        td__exchange_workers_sync(ex);
    return st;
}

td_status td_exchange_type_credentials_has(td_exchanges *ex, td_exchange_type type, int *has,
                                           td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    *has = 0;
    td_status st = td_store_acquire(ex->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT 1 FROM exchange_type_credentials WHERE type = $1", &q,
                               err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, type, err)) == TD_OK &&
        (st = td_stmt_step(q, &row, err)) == TD_OK) {
        *has = row;
        td_stmt_reset(q);
    }
    td_store_release(ex->svc->store, c);
    return st;
}

td_status td__exchange_credentials(td_exchanges *ex, td_store_conn *c, int64_t id, json_t **out,
                                   td_error *err)
{
    size_t len = 0;
    *out = NULL;
    char *buf = sodium_malloc(TD_EXCHANGE_CREDENTIALS_MAX + 1);
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st =
        open_column(ex, c, id, "credentials", buf, TD_EXCHANGE_CREDENTIALS_MAX + 1, &len, err);
    if (st == TD_OK && !len) /* none of its own: its type's, if any */
        st = open_type_credentials(ex, c, id, buf, TD_EXCHANGE_CREDENTIALS_MAX + 1, &len, err);
    if (st == TD_OK && len) {
        *out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
        if (!*out)
            st = td__error_set(err, TD_ERR_CORRUPT, "exchange %lld: credentials are not JSON",
                               (long long)id);
    }
    sodium_free(buf);
    return st;
}

td_status td__exchange_connect(td_exchanges *ex, int64_t id, td_exchange *e, td__xconn **out,
                               td_error *err)
{
    td_store_conn *c;
    json_t *cred = NULL;
    int found = 0;
    *out = NULL;
    td_status st = td_store_acquire(ex->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td__exchange_load(c, id, e, &found, err)) == TD_OK && found)
        st = td__exchange_credentials(ex, c, id, &cred, err);
    td_store_release(ex->svc->store, c);
    if (st)
        return st;
    if (!found)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no exchange %lld", (long long)id);
    td__xconn *x = sodium_malloc(sizeof *x);
    if (!x) {
        json_decref(cred);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    memset(x, 0, sizeof *x);
    x->base_url = e->url;
    x->group = e->group;
    x->credentials = cred;
    x->types = e->types;
    x->tags = e->tags;
    x->http.allow_private = ex->opts.allow_private;
    x->http.timeout_ms = ex->opts.timeout_ms;
    x->http.max_bytes = ex->opts.max_page_bytes;
    x->http.keep_body = 1;
    x->http.error_body = 1;
    x->http.user_agent = "takedown-exchange/1";
    x->max_items = (size_t)ex->opts.max_page_items;
    x->page_size = x->max_items < 1000 ? x->max_items : 1000;
    x->now_ms = td__now(ex->svc);
    *out = x;
    return TD_OK;
}

void td__exchange_disconnect(td__xconn *x)
{
    if (!x)
        return;
    json_decref(x->credentials);
    sodium_memzero(x, sizeof *x);
    sodium_free(x);
}

td_status td__exchange_push_secret(td_exchanges *ex, int64_t id, uint8_t *secret, size_t *len,
                                   td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(ex->svc->store, 0, &c, err);
    if (st)
        return st;
    st = open_column(ex, c, id, "push_secret", (char *)secret, TD_SECRET_MAX + 1, len, err);
    td_store_release(ex->svc->store, c);
    return st;
}

/* ---- rows ---- */

#define COLUMNS                                                                                    \
    "id, name, type, url, grp, bank, allow_bank, interval_ms, tags, types, reactions, enabled,"    \
    " LENGTH(credentials), LENGTH(push_secret), checkpoint, resyncing, created_ms, updated_ms,"    \
    " last_fetch_ms, last_success_ms, next_fetch_ms, pages, items, added, updated, removed,"       \
    " negative, skipped, failures, consecutive_failures, last_error,"                              \
    " (SELECT COUNT(*) FROM exchange_reactions r WHERE r.exchange_id = exchanges.id"               \
    "  AND r.state = 1),"                                                                          \
    " (SELECT COUNT(*) FROM exchange_reactions r WHERE r.exchange_id = exchanges.id"               \
    "  AND r.state = 0)"

static void row(td_stmt *q, td_exchange *e)
{
    memset(e, 0, sizeof *e);
    e->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(e->name, sizeof e->name, td_stmt_column_text(q, 1));
    e->type = (td_exchange_type)td_stmt_column_int64(q, 2);
    td__copy_trunc(e->url, sizeof e->url, td_stmt_column_text(q, 3));
    td__copy_trunc(e->group, sizeof e->group, td_stmt_column_text(q, 4));
    td__copy_trunc(e->bank, sizeof e->bank, td_stmt_column_text(q, 5));
    td__copy_trunc(e->allow_bank, sizeof e->allow_bank, td_stmt_column_text(q, 6));
    e->interval_ms = td_stmt_column_int64(q, 7);
    td__labels_load(&e->tags, td_stmt_column_text(q, 8));
    e->types = (unsigned)td_stmt_column_int64(q, 9);
    e->reactions = (int)td_stmt_column_int64(q, 10);
    e->enabled = (int)td_stmt_column_int64(q, 11);
    e->has_credentials = td_stmt_column_int64(q, 12) > 0;
    e->has_push_secret = td_stmt_column_int64(q, 13) > 0;
    td__copy_trunc(e->checkpoint, sizeof e->checkpoint, td_stmt_column_text(q, 14));
    e->resyncing = (int)td_stmt_column_int64(q, 15);
    e->created_ms = td_stmt_column_int64(q, 16);
    e->updated_ms = td_stmt_column_int64(q, 17);
    e->last_fetch_ms = td_stmt_column_int64(q, 18);
    e->last_success_ms = td_stmt_column_int64(q, 19);
    e->next_fetch_ms = td_stmt_column_int64(q, 20);
    e->pages = (uint64_t)td_stmt_column_int64(q, 21);
    e->items = (uint64_t)td_stmt_column_int64(q, 22);
    e->added = (uint64_t)td_stmt_column_int64(q, 23);
    e->updated = (uint64_t)td_stmt_column_int64(q, 24);
    e->removed = (uint64_t)td_stmt_column_int64(q, 25);
    e->negative = (uint64_t)td_stmt_column_int64(q, 26);
    e->skipped = (uint64_t)td_stmt_column_int64(q, 27);
    e->failures = (uint64_t)td_stmt_column_int64(q, 28);
    e->consecutive_failures = (int)td_stmt_column_int64(q, 29);
    td__copy_trunc(e->last_error, sizeof e->last_error, td_stmt_column_text(q, 30));
    e->reactions_sent = (uint64_t)td_stmt_column_int64(q, 31);
    e->reactions_pending = (uint64_t)td_stmt_column_int64(q, 32);
}

td_status td__exchange_load(td_store_conn *c, int64_t id, td_exchange *out, int *found,
                            td_error *err)
{
    td_stmt *q;
    int r;
    td_status st = td_store_prepare(c, "SELECT " COLUMNS " FROM exchanges WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &r, err)))
        return st;
    *found = r;
    if (r)
        row(q, out);
    td_stmt_reset(q);
    return TD_OK;
}

td_status td__exchange_audit(td_exchanges *ex, td_store_conn *c, const td_principal *who,
                             const char *action, int64_t id, json_t *details, td_error *err)
{
    return td__audit_id(ex->svc, c, who, action, "exchange", id, details, err);
}

/* ---- the handle ---- */

td_status td_exchanges_open(td_service *svc, const td_exchanges_options *opts, td_exchanges **out,
                            td_error *err)
{
    td_status st;
    *out = NULL;
    if (!svc)
        return td__error_set(err, TD_ERR_INVALID, "exchanges: no service");
    td_exchanges *ex = td__calloc(1, sizeof *ex);
    if (!ex)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    ex->svc = svc;
    if (opts)
        ex->opts = *opts;
    else
        td_exchanges_options_default(&ex->opts);
    pthread_mutex_init(&ex->lock, NULL);
    td__cond_init_monotonic(&ex->super_wake);
    const td_exchanges_options *o = &ex->opts;
    if (o->timeout_ms < 100 || o->max_page_bytes < 1024 || o->max_page_items < 1 ||
        o->backoff_min_ms < 1 || o->backoff_max_ms < o->backoff_min_ms || o->min_interval_ms < 1 ||
        o->reload_ms < 10 || o->reactions_per_minute < 0) {
        st = td__error_set(err, TD_ERR_INVALID, "exchanges: options out of range");
        goto fail;
    }
    if (sodium_init() < 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
        goto fail;
    }
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    ex->key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!sk || !ex->key) {
        sodium_free(sk);
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    uint8_t pk[32];
    const char *dir = o->key_dir ? o->key_dir : svc->dir;
    st = td__key_file_load(dir, KEY_FILE, sk, pk, err);
    if (st == TD_OK) {
        static const uint8_t context[] = "takedown exchange credentials v1";
        /* The key file's seed (the first half of the expanded key) keys a hash of a fixed
         * context: the sealing key never equals a key used for anything else. */
        crypto_generichash(ex->key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, context,
                           sizeof context - 1, sk, crypto_sign_SEEDBYTES);
    }
    sodium_free(sk);
    if (st || (st = td_store_migrate_component(svc->store, "exchange", migrations,
                                               sizeof migrations / sizeof migrations[0], err)))
        goto fail;
    if (o->worker && (st = td__exchange_workers_start(ex, err)))
        goto fail;
    *out = ex;
    return TD_OK;
fail:
    td_exchanges_close(ex);
    return st;
}

void td_exchanges_close(td_exchanges *ex)
{
    if (!ex)
        return;
    td__exchange_workers_stop(ex);
    sodium_free(ex->key);
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->super_wake);
    td__free(ex);
}

/* ---- create, read, update, delete ---- */

void td_exchange_init(td_exchange *e)
{
    memset(e, 0, sizeof *e);
    e->enabled = 1;
    e->interval_ms = 15 * 60000;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TD_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

static td_status validate(td_exchanges *ex, td_store_conn *c, const td_exchange *e, unsigned fields,
                          const char *credentials, const char *push_secret, td_error *err)
{
    int64_t bank_id;
    td_status st;
    if ((fields & TD_EXCHANGE_SET_URL) &&
        (st = td__http_url_check("'url'", e->url, TD_CASE_URL_MAX, NULL, 0, err)))
        return st;
    if ((fields & TD_EXCHANGE_SET_INTERVAL) &&
        (e->interval_ms < ex->opts.min_interval_ms || e->interval_ms > 30LL * 86400000))
        return td__error_set(err, TD_ERR_INVALID,
                             "'interval_ms' must be %lld ms (exchange_min_interval_ms) .. 30 days",
                             (long long)ex->opts.min_interval_ms);
    if ((fields & TD_EXCHANGE_SET_TYPES) && (e->types & ~TYPES_ALL))
        return td__error_set(err, TD_ERR_INVALID, "unknown signal type in 'signal_types'");
    if ((fields & TD_EXCHANGE_SET_ALLOW_BANK) && e->allow_bank[0] &&
        (st = td__bank_id(c, e->allow_bank, &bank_id, err)))
        return st;
    if ((fields & TD_EXCHANGE_SET_CREDENTIALS) && credentials &&
        (st = credentials_check(credentials, "'credentials'", err)))
        return st;
    if ((fields & TD_EXCHANGE_SET_PUSH_SECRET) && push_secret &&
        (strlen(push_secret) < 16 || strlen(push_secret) > TD_SECRET_MAX))
        return td__error_set(err, TD_ERR_INVALID, "'push_secret' must be 16..%d bytes",
                             TD_SECRET_MAX);
    return TD_OK;
}

/* Binds a sealed value (or NULL) at index. */
static td_status bind_sealed(td_exchanges *ex, td_stmt *q, int index, const char *name,
                             const char *text, td_error *err)
{
    if (!text)
        return td_stmt_bind_null(q, index, err);
    uint8_t *b = NULL;
    size_t n = 0;
    td_status st = seal(ex, name, text, strlen(text), &b, &n, err);
    if (st == TD_OK)
        st = td_stmt_bind_blob(q, index, b, n, err);
    td__free(b);
    return st;
}

static json_t *settings_json(const td_exchange *e)
{
    char tags[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    td__labels_join(&e->tags, tags, sizeof tags);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:b, s:b}", "name", e->name,
                     "type", td_exchange_type_name(e->type), "url", e->url, "group", e->group,
                     "bank", e->bank, "allow_bank", e->allow_bank, "interval_ms",
                     (json_int_t)e->interval_ms, "tags", tags, "types", (json_int_t)e->types,
                     "reactions", e->reactions, "enabled", e->enabled);
}

td_status td_exchange_create_as(td_exchanges *ex, const td_principal *who, const td_exchange *e,
                                const char *credentials, const char *push_secret, td_exchange *out,
                                td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int found = 0;
    int64_t bank_id, id = 0;
    if (!name_ok(e->name))
        return td__error_set(err, TD_ERR_INVALID,
                             "'name' must be 1..%d characters of [A-Za-z0-9_.-]", TD_NAME_MAX);
    if (!td__xclient_of(e->type))
        return td__error_set(err, TD_ERR_INVALID, "unknown exchange type");
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(ex->svc);
    char tags[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    td__labels_join(&e->tags, tags, sizeof tags);
    if ((st = td_store_begin(c, err)) || (st = td__bank_id(c, e->bank, &bank_id, err)) ||
        (st = validate(ex, c, e, ~0u, credentials, push_secret, err)))
        goto out;
    if ((st = td_store_prepare(c, "SELECT id FROM exchanges WHERE name = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, e->name, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &found, err)))
        goto out;
    td_stmt_reset(q);
    if (found) {
        st = td__error_set(err, TD_ERR_CONFLICT, "an exchange named %s exists", e->name);
        goto out;
    }
    if ((st = td_store_prepare(
             c,
             "INSERT INTO exchanges (name, type, url, grp, bank, allow_bank, interval_ms, tags,"
             " types, reactions, enabled, credentials, push_secret, checkpoint, resyncing,"
             " generation, created_ms, updated_ms, last_fetch_ms, last_success_ms, next_fetch_ms,"
             " pages, items, added, updated, removed, negative, skipped, failures,"
             " consecutive_failures, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
             " $11, $12, $13, '', 0, 1, $14, $14, 0, 0, $14, 0, 0, 0, 0, 0, 0, 0, 0, 0, '')",
             &q, err)) ||
        (st = td_stmt_bind_text(q, 1, e->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, e->type, err)) ||
        (st = td_stmt_bind_text(q, 3, e->url, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, e->group, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, e->bank, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 6, e->allow_bank, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 7, e->interval_ms, err)) ||
        (st = td_stmt_bind_text(q, 8, tags, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 9, e->types, err)) ||
        (st = td_stmt_bind_int64(q, 10, e->reactions ? 1 : 0, err)) ||
        (st = td_stmt_bind_int64(q, 11, e->enabled ? 1 : 0, err)) ||
        (st = bind_sealed(ex, q, 12, e->name, credentials, err)) ||
        (st = bind_sealed(ex, q, 13, e->name, push_secret, err)) ||
        (st = td_stmt_bind_int64(q, 14, now, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    if ((st = td_store_prepare(c, "SELECT id FROM exchanges WHERE name = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, e->name, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &found, err)))
        goto out;
    id = found ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    json_t *d = settings_json(e);
    if (d) {
        json_object_set_new(d, "credentials", json_boolean(credentials != NULL));
        json_object_set_new(d, "push_secret", json_boolean(push_secret != NULL));
    }
    if ((st = td__exchange_audit(ex, c, who, "exchange.create", id, d, err)) ||
        (st = td_store_commit(c, err)))
        goto out;
    if (out && (st = td__exchange_load(c, id, out, &found, err)) == TD_OK && !found)
        st = td__error_set(err, TD_ERR_INTERNAL, "the exchange just created is not found");
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    if (st == TD_OK)
        td__exchange_workers_sync(ex);
    return st;
}

td_status td_exchange_get(td_exchanges *ex, int64_t id, td_exchange *out, td_error *err)
{
    td_store_conn *c;
    int found = 0;
    td_status st = td_store_acquire(ex->svc->store, 0, &c, err);
    if (st)
        return st;
    st = td__exchange_load(c, id, out, &found, err);
    td_store_release(ex->svc->store, c);
    if (st == TD_OK && !found)
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no exchange %lld", (long long)id);
    return st;
}

static void list_item(td_stmt *q, void *item) { row(q, item); }

td_status td_exchange_list(td_exchanges *ex, td_exchange **out, size_t *count, td_error *err)
{
    return td_store_read_rows(ex->svc->store, "SELECT " COLUMNS " FROM exchanges ORDER BY id", NULL,
                              0, 10000, sizeof(td_exchange), list_item, (void **)out, count, err);
}

td_status td_exchange_update_as(td_exchanges *ex, const td_principal *who, int64_t id,
                                unsigned fields, const td_exchange *v, const char *credentials,
                                const char *push_secret, td_exchange *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_exchange cur;
    int found = 0;
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(ex->svc);
    if ((st = td_store_begin(c, err)) || (st = td__exchange_load(c, id, &cur, &found, err)))
        goto out;
    if (!found) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no exchange %lld", (long long)id);
        goto out;
    }
    if ((st = validate(ex, c, v, fields, credentials, push_secret, err)))
        goto out;
    td_exchange next = cur;
    if (fields & TD_EXCHANGE_SET_URL)
        memcpy(next.url, v->url, sizeof next.url);
    if (fields & TD_EXCHANGE_SET_GROUP)
        memcpy(next.group, v->group, sizeof next.group);
    if (fields & TD_EXCHANGE_SET_INTERVAL)
        next.interval_ms = v->interval_ms;
    if (fields & TD_EXCHANGE_SET_TAGS)
        next.tags = v->tags;
    if (fields & TD_EXCHANGE_SET_TYPES)
        next.types = v->types;
    if (fields & TD_EXCHANGE_SET_REACTIONS)
        next.reactions = v->reactions ? 1 : 0;
    if (fields & TD_EXCHANGE_SET_ENABLED)
        next.enabled = v->enabled ? 1 : 0;
    if (fields & TD_EXCHANGE_SET_ALLOW_BANK)
        memcpy(next.allow_bank, v->allow_bank, sizeof next.allow_bank);
    char tags[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    td__labels_join(&next.tags, tags, sizeof tags);
    if ((st = td_store_prepare(c,
                               "UPDATE exchanges SET url = $2, grp = $3, interval_ms = $4,"
                               " tags = $5, types = $6, reactions = $7, enabled = $8,"
                               " allow_bank = $9, updated_ms = $10, next_fetch_ms = $10"
                               " WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_text(q, 2, next.url, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, next.group, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, next.interval_ms, err)) ||
        (st = td_stmt_bind_text(q, 5, tags, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, next.types, err)) ||
        (st = td_stmt_bind_int64(q, 7, next.reactions, err)) ||
        (st = td_stmt_bind_int64(q, 8, next.enabled, err)) ||
        (st = td_stmt_bind_text(q, 9, next.allow_bank, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 10, now, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    if ((fields & TD_EXCHANGE_SET_CREDENTIALS) &&
        ((st = td_store_prepare(c, "UPDATE exchanges SET credentials = $2 WHERE id = $1", &q,
                                err)) ||
         (st = td_stmt_bind_int64(q, 1, id, err)) ||
         (st = bind_sealed(ex, q, 2, cur.name, credentials, err)) ||
         (st = td_stmt_run(q, NULL, err))))
        goto out;
    if ((fields & TD_EXCHANGE_SET_PUSH_SECRET) &&
        ((st = td_store_prepare(c, "UPDATE exchanges SET push_secret = $2 WHERE id = $1", &q,
                                err)) ||
         (st = td_stmt_bind_int64(q, 1, id, err)) ||
         (st = bind_sealed(ex, q, 2, cur.name, push_secret, err)) ||
         (st = td_stmt_run(q, NULL, err))))
        goto out;
    json_t *d = settings_json(&next);
    if (d) {
        if (fields & TD_EXCHANGE_SET_CREDENTIALS)
            json_object_set_new(d, "credentials_changed", json_true());
        if (fields & TD_EXCHANGE_SET_PUSH_SECRET)
            json_object_set_new(d, "push_secret_changed", json_true());
    }
    if ((st = td__exchange_audit(ex, c, who, "exchange.update", id, d, err)) ||
        (st = td_store_commit(c, err)))
        goto out;
    if (out)
        st = td__exchange_load(c, id, out, &found, err);
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    if (st == TD_OK) {
        td__exchange_workers_sync(ex);
        td_exchange_kick(ex, id);
    }
    return st;
}

td_status td_exchange_delete_as(td_exchanges *ex, const td_principal *who, int64_t id,
                                td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int64_t n = 0;
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)) ||
        (st = td_store_prepare(c, "DELETE FROM exchanges WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_run(q, &n, err)))
        goto out;
    if (!n) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no exchange %lld", (long long)id);
        goto out;
    }
    static const char *const tables[] = {"DELETE FROM exchange_items WHERE exchange_id = $1",
                                         "DELETE FROM exchange_reactions WHERE exchange_id = $1",
                                         "DELETE FROM exchange_uploads WHERE exchange_id = $1"};
    for (size_t i = 0; i < 3 && st == TD_OK; i++)
        if ((st = td_store_prepare(c, tables[i], &q, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 1, id, err)) == TD_OK)
            st = td_stmt_run(q, NULL, err);
    if (st || (st = td__exchange_audit(ex, c, who, "exchange.delete", id, NULL, err)) ||
        (st = td_store_commit(c, err)))
        goto out;
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    if (st == TD_OK)
        td__exchange_workers_sync(ex);
    return st;
}
