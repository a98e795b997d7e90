/* The evidence store's handle: options, schema, open and close, the helpers every evidence file
 * shares, and the master key ceremony. The rules all evidence files keep are in evidence_int.h;
 * sealing, retention, release and reads each have their own file beside this one. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "evidence/evidence_int.h"
#include "takedown/config.h"

static const char schema_v1[] =
    "CREATE TABLE evidence_master ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), set_id BLOB NOT NULL, k INTEGER NOT NULL,"
    " n INTEGER NOT NULL, public_key BLOB NOT NULL, created_ms BIGINT NOT NULL);"
    "CREATE TABLE evidence_custodians ("
    " x INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, commitment BLOB NOT NULL);"
    "CREATE TABLE evidence_cases ("
    " case_ref TEXT PRIMARY KEY, public_key BLOB NOT NULL, wrapped_secret BLOB,"
    " created_ms BIGINT NOT NULL, retain_until_ms BIGINT NOT NULL, hold INTEGER NOT NULL,"
    " purged_ms BIGINT NOT NULL);"
    "CREATE INDEX evidence_cases_due ON evidence_cases (purged_ms, retain_until_ms);"
    "CREATE TABLE evidence_items ("
    " id INTEGER PRIMARY KEY, case_ref TEXT NOT NULL REFERENCES evidence_cases(case_ref),"
    " label TEXT NOT NULL, file TEXT NOT NULL, bytes BIGINT NOT NULL, wrapped_key BLOB,"
    " sealed_ms BIGINT NOT NULL, removal_ms BIGINT NOT NULL);"
    "CREATE INDEX evidence_items_case ON evidence_items (case_ref);"
    "CREATE TABLE evidence_requests ("
    " id INTEGER PRIMARY KEY, requester TEXT NOT NULL, legal_basis TEXT NOT NULL,"
    " purpose TEXT NOT NULL, case_ref TEXT NOT NULL, items TEXT NOT NULL,"
    " state INTEGER NOT NULL, created_ms BIGINT NOT NULL, released_ms BIGINT NOT NULL);"
    "CREATE TABLE evidence_approvals ("
    " request_id INTEGER NOT NULL REFERENCES evidence_requests(id), custodian TEXT NOT NULL,"
    " approved_ms BIGINT NOT NULL, PRIMARY KEY (request_id, custodian));";

/* Items of other cases a case may release (td_evidence_link): evidence sealed once in a case of
 * its own (a preserved report) that an evidence order asks for. */
static const char schema_v2[] =
    "CREATE TABLE evidence_links ("
    " case_ref TEXT NOT NULL, item_id BIGINT NOT NULL REFERENCES evidence_items(id),"
    " linked_ms BIGINT NOT NULL, PRIMARY KEY (case_ref, item_id));";

static const td_store_migration migrations[] = {
    {1, "evidence store", schema_v1, NULL},
    {2, "items linked from other cases", schema_v2, NULL},
};

void td_evidence_options_default(td_evidence_options *o)
{
    memset(o, 0, sizeof *o);
    o->retention_ms = (int64_t)183 * 86400000;
    o->max_item_bytes = (int64_t)1 << 30;
}

td_status td_evidence_options_from_config(td_evidence_options *o, const td_config *cfg,
                                          td_error *err)
{
    int64_t v;
    td_status st;
    td_evidence_options_default(o);
    if ((st = td_config_int(cfg, "evidence_retention_ms", &v, err)))
        return st;
    o->retention_ms = v;
    if ((st = td_config_int(cfg, "evidence_max_item_bytes", &v, err)))
        return st;
    o->max_item_bytes = v;
    return TD_OK;
}

int64_t td__evidence_now(const td_evidence *ev) { return td_clock_now(&ev->opts.clock); }

char *td__evidence_dump(json_t *o)
{
    char *s = NULL;
    size_t n = o ? json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    if (n && (s = td__malloc(n + 1))) {
        if (json_dumpb(o, s, n, JSON_COMPACT | JSON_PRESERVE_ORDER) == n) {
            s[n] = '\0';
        } else {
            td__free(s);
            s = NULL;
        }
    }
    json_decref(o);
    return s;
}

td_status td__evidence_check_text(const char *what, const char *s, size_t max, td_error *err)
{
    if (!s || !*s)
        return td__error_set(err, TD_ERR_INVALID, "evidence: %s is empty", what);
    if (strlen(s) > max)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: %s longer than %zu bytes", what, max);
    return TD_OK;
}

/* ---- open / close ---- */

td_status td_evidence_open(td_store *store, td_audit *log, const char *data_dir,
                           const td_evidence_options *opts, td_evidence **out, td_error *err)
{
    *out = NULL;
    td_status st;
    if (sodium_init() < 0) /* idempotent and safe from any thread */
        return td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
    if (!store || !log || !data_dir || !*data_dir)
        return td__error_set(err, TD_ERR_INVALID, "evidence: store, log and directory needed");
    td_evidence *ev = td__calloc(1, sizeof *ev);
    size_t n = strlen(data_dir) + sizeof "/evidence";
    if (!ev || !(ev->dir = td__malloc(n))) {
        td__free(ev);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    snprintf(ev->dir, n, "%s/evidence", data_dir);
    ev->store = store;
    ev->log = log;
    if (opts)
        ev->opts = *opts;
    else
        td_evidence_options_default(&ev->opts);
    pthread_mutex_init(&ev->lock, NULL);
    if (mkdir(ev->dir, 0700) != 0 && errno != EEXIST) {
        st = td__error_set(err, TD_ERR_IO, "evidence: cannot create %s: %s", ev->dir,
                           strerror(errno));
    } else {
        st = td_store_migrate_component(store, "evidence", migrations,
                                        sizeof migrations / sizeof migrations[0], err);
    }
    if (st) {
        td_evidence_close(ev);
        return st;
    }
    *out = ev;
    return TD_OK;
}

void td_evidence_close(td_evidence *ev)
{
    if (!ev)
        return;
    td__evidence_shares_wipe(ev);
    pthread_mutex_destroy(&ev->lock);
    td__free(ev->dir);
    td__free(ev);
}

/* ---- small store helpers ---- */

td_status td__evidence_load_master(td_store_conn *c, td__evidence_master *m, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c, "SELECT set_id, k, n, public_key FROM evidence_master WHERE id = 1", &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND,
                             "evidence: no master key yet (create it with its custodians first)");
    if (td_stmt_column_bytes(q, 0) != TD_SHARE_SET_ID_LEN ||
        td_stmt_column_bytes(q, 3) != crypto_box_PUBLICKEYBYTES) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: master key row is malformed");
    }
    memcpy(m->set_id, td_stmt_column_blob(q, 0), TD_SHARE_SET_ID_LEN);
    m->k = (unsigned)td_stmt_column_int64(q, 1);
    m->n = (unsigned)td_stmt_column_int64(q, 2);
    memcpy(m->pk, td_stmt_column_blob(q, 3), crypto_box_PUBLICKEYBYTES);
    td_stmt_reset(q);
    return TD_OK;
}

typedef struct evidence_tx {
    td_evidence *ev;
    td__evidence_tx_fn body;
    void *arg;
} evidence_tx;

static td_status evidence_tx_body(td_store_conn *c, void *arg, td_error *err)
{
    evidence_tx *t = arg;
    return t->body(t->ev, c, t->arg, err);
}

td_status td__evidence_tx(td_evidence *ev, td__evidence_tx_fn body, void *arg, td_error *err)
{
    evidence_tx t = {ev, body, arg};
    return td_store_write(ev->store, evidence_tx_body, &t, err);
}

/* ---- master key ---- */

typedef struct init_args {
    const char *actor;
    unsigned k, n;
    const char *const *names;
    const td_share *shares;
    const uint8_t *pk;
} init_args;

static td_status init_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    init_args *a = arg;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, "SELECT 1 FROM evidence_master", &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (row)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: the master key exists already");
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_master (id, set_id, k, n, public_key,"
                               " created_ms) VALUES (1, $1, $2, $3, $4, $5)",
                               &q, err)) ||
        (st = td_stmt_bind_blob(q, 1, a->shares[0].set_id, TD_SHARE_SET_ID_LEN, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->k, err)) || (st = td_stmt_bind_int64(q, 3, a->n, err)) ||
        (st = td_stmt_bind_blob(q, 4, a->pk, crypto_box_PUBLICKEYBYTES, err)) ||
        (st = td_stmt_bind_int64(q, 5, td__evidence_now(ev), err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    json_t *names = json_array();
    for (unsigned i = 0; i < a->n; i++) {
        uint8_t com[32];
        td_share_commitment(&a->shares[i], com);
        if ((st = td_store_prepare(c,
                                   "INSERT INTO evidence_custodians (x, name, commitment)"
                                   " VALUES ($1, $2, $3)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->shares[i].x, err)) ||
            (st = td_stmt_bind_text(q, 2, a->names[i], (size_t)-1, err)) ||
            (st = td_stmt_bind_blob(q, 3, com, sizeof com, err)) ||
            (st = td_stmt_run(q, NULL, err))) {
            json_decref(names);
            return st == TD_ERR_CONFLICT
                       ? td__error_set(err, TD_ERR_INVALID, "evidence: custodian names repeat")
                       : st;
        }
        json_array_append_new(names, json_string(a->names[i]));
    }
    char *details = td__evidence_dump(
        json_pack("{s:i,s:i,s:o}", "k", (int)a->k, "n", (int)a->n, "custodians", names));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.master.create", "master", details, NULL,
                            err);
    td__free(details);
    return st;
}

td_status td_evidence_init_master(td_evidence *ev, const char *actor, unsigned k, unsigned n,
                                  const char *const *names, td_share *shares, td_error *err)
{
    td_status st;
    if (k < 2 || k > n || n > TD_SHAMIR_MAX_SHARES)
        return td__error_set(err, TD_ERR_INVALID,
                             "evidence: need 2 <= k <= n <= 255 custodians (k %u, n %u)", k, n);
    for (unsigned i = 0; i < n; i++)
        if ((st = td__evidence_check_text("custodian name", names[i], TD__EVIDENCE_MAX_NAME, err)))
            return st;
    uint8_t *seed = sodium_malloc(crypto_box_SEEDBYTES);
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    uint8_t pk[crypto_box_PUBLICKEYBYTES], set_id[TD_SHARE_SET_ID_LEN];
    if (!seed || !sk) {
        sodium_free(seed);
        sodium_free(sk);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    randombytes_buf(seed, crypto_box_SEEDBYTES);
    randombytes_buf(set_id, sizeof set_id);
    crypto_box_seed_keypair(pk, sk, seed);
    sodium_free(sk);
    st = td_shamir_split(seed, k, n, set_id, shares, err);
    sodium_free(seed);
    if (st)
        return st;
    init_args a = {actor, k, n, names, shares, pk};
    if ((st = td__evidence_tx(ev, init_body, &a, err)))
        sodium_memzero(shares, n * sizeof *shares);
    return st;
}
