/* Hash exchanges (docs/exchanges.md): banks kept in step with the lists platforms share —
 * ThreatExchange privacy groups (GIFCT's hash-sharing database), Tech Against Terrorism's TCAP
 * hash list, another takedown instance's signed feed, a plain URL list.
 *
 * An exchange names its source, its credentials (sealed at rest in the store under a key of the
 * data directory, never returned), the bank it fills, how often it pulls and what it takes (tags,
 * signal types). A worker per exchange pulls in the background: each page fetched is applied
 * with its checkpoint in one transaction (a restart resumes where the last commit left, nothing
 * is applied twice, two nodes sharing a store never both apply a page), retractions delete the
 * exchange's own signals, a source that calls the checkpoint stale gets a full resync (whatever
 * the resync did not see again is retracted at its end), 429 and 5xx are retried with backoff, a
 * page that does not parse is refused whole and reported. Each page's SHA-256 and checkpoint
 * range go to the audit log. Matches and reviewers' decisions on the exchange's signals are sent
 * back as reactions (once each, rate-limited) when the exchange asks for it. */
#ifndef TAKEDOWN_EXCHANGE_H
#define TAKEDOWN_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/casework.h"
#include "takedown/config.h"
#include "takedown/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_exchanges td_exchanges;

typedef enum td_exchange_type {
    TD_EXCHANGE_THREATEXCHANGE = 1,
    TD_EXCHANGE_TCAP = 2,
    TD_EXCHANGE_TAKEDOWN = 3, /* another takedown instance's signed feed (docs/feeds.md) */
    TD_EXCHANGE_URL_LIST = 4  /* a list file at a URL (the import formats), fetched whole */
} td_exchange_type;

/* "threatexchange", "tcap", "takedown", "url_list". */
const char *td_exchange_type_name(td_exchange_type type);
__attribute__((warn_unused_result)) td_status td_exchange_type_parse(const char *name,
                                                                     td_exchange_type *out);

typedef struct td_exchanges_options {
    int worker;               /* 1 (default): a background thread per exchange; 0: none */
    int allow_private;        /* fetch from private addresses too (internal peers, tests) */
    unsigned timeout_ms;      /* one request; default 30000 */
    uint64_t max_page_bytes;  /* one page; default 64 MiB */
    uint64_t max_page_items;  /* one page; default 100000 */
    int64_t backoff_min_ms;   /* first retry after a failure; default 1000 */
    int64_t backoff_max_ms;   /* longest wait between retries; default 900000 */
    int64_t min_interval_ms;  /* the shortest schedule an exchange may ask for; default 1000 */
    int64_t reload_ms;        /* how often workers look for exchanges other nodes changed;
                                 default 5000 */
    int reactions_per_minute; /* reactions sent per exchange and minute; default 60 */
    const char *key_dir;      /* where the credentials key file lives; NULL: the data directory */
} td_exchanges_options;

void td_exchanges_options_default(td_exchanges_options *opts);
/* The options from the configuration (exchange_* options, docs/configuration.md). */
__attribute__((warn_unused_result)) td_status
td_exchanges_options_from_config(td_exchanges_options *opts, const td_config *cfg, td_error *err);

/* Opens the exchanges of svc (their tables, the credentials key) and starts a worker per
 * enabled exchange when opts->worker. */
__attribute__((warn_unused_result)) td_status td_exchanges_open(td_service *svc,
                                                                const td_exchanges_options *opts,
                                                                td_exchanges **out, td_error *err);
/* Stops the workers and frees; accepts NULL. */
void td_exchanges_close(td_exchanges *ex);

#define TD_EXCHANGE_GROUP_MAX 256
#define TD_EXCHANGE_CHECKPOINT_MAX 255
#define TD_EXCHANGE_CREDENTIALS_MAX 4096

typedef struct td_exchange {
    int64_t id;
    char name[TD_NAME_MAX + 1]; /* [A-Za-z0-9_.-], unique; signals carry "exchange:<name>" */
    td_exchange_type type;
    char url[TD_CASE_URL_MAX + 1];         /* the source's API root (a url_list: the file) */
    char group[TD_EXCHANGE_GROUP_MAX + 1]; /* TE privacy group id; a peer's bank name */
    char bank[TD_NAME_MAX + 1];            /* the bank it fills */
    char allow_bank[TD_NAME_MAX + 1];      /* where negative entries go ("": nowhere) */
    int64_t interval_ms;                   /* schedule: a pull every interval */
    td_labels tags;                        /* only items with one of these tags (none: all) */
    unsigned types;                        /* bit (1 << td_signal_type) per type taken; 0: all */
    int reactions;                         /* send matches and decisions back */
    int enabled;
    int has_credentials, has_push_secret; /* never the secrets themselves */
    /* State. */
    char checkpoint[TD_EXCHANGE_CHECKPOINT_MAX + 1];
    int resyncing; /* a full resync is under way */
    int64_t created_ms, updated_ms;
    int64_t last_fetch_ms, last_success_ms, next_fetch_ms;
    uint64_t pages, items, added, updated, removed, negative, skipped, failures;
    int consecutive_failures;
    uint64_t reactions_sent, reactions_pending;
    char last_error[TD_ERROR_TEXT_MAX + 1];
} td_exchange;

/* Fills in the defaults: enabled, interval 15 minutes, all types, no reactions. */
void td_exchange_init(td_exchange *e);

/* Creates e (name, type, url, group, bank, allow_bank, interval, tags, types, reactions,
 * enabled) with credentials (a JSON object, sealed; NULL: none) and push_secret (the HMAC key
 * of a peer's pushes, >= 16 bytes, sealed; NULL: none). out receives the stored exchange. */
__attribute__((warn_unused_result)) td_status
td_exchange_create_as(td_exchanges *ex, const td_principal *who, const td_exchange *e,
                      const char *credentials, const char *push_secret, td_exchange *out,
                      td_error *err);
__attribute__((warn_unused_result)) td_status td_exchange_get(td_exchanges *ex, int64_t id,
                                                              td_exchange *out, td_error *err);
/* All exchanges by id; free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_exchange_list(td_exchanges *ex, td_exchange **out,
                                                               size_t *count, td_error *err);

/* Credentials of a source type rather than of one exchange (HMA's per-API credentials,
 * docs/hma.md): a JSON object sealed like an exchange's, never returned; NULL clears them. An
 * exchange of that type without credentials of its own uses them. Audited. */
__attribute__((warn_unused_result)) td_status
td_exchange_type_credentials_set_as(td_exchanges *ex, const td_principal *who,
                                    td_exchange_type type, const char *credentials, td_error *err);
/* Whether type has credentials set by td_exchange_type_credentials_set_as. */
__attribute__((warn_unused_result)) td_status
td_exchange_type_credentials_has(td_exchanges *ex, td_exchange_type type, int *has, td_error *err);

/* Fields of td_exchange_update_as. */
enum {
    TD_EXCHANGE_SET_URL = 1 << 0,
    TD_EXCHANGE_SET_GROUP = 1 << 1,
    TD_EXCHANGE_SET_INTERVAL = 1 << 2,
    TD_EXCHANGE_SET_TAGS = 1 << 3,
    TD_EXCHANGE_SET_TYPES = 1 << 4,
    TD_EXCHANGE_SET_REACTIONS = 1 << 5,
    TD_EXCHANGE_SET_ENABLED = 1 << 6,
    TD_EXCHANGE_SET_CREDENTIALS = 1 << 7,
    TD_EXCHANGE_SET_PUSH_SECRET = 1 << 8,
    TD_EXCHANGE_SET_ALLOW_BANK = 1 << 9
};
__attribute__((warn_unused_result)) td_status
td_exchange_update_as(td_exchanges *ex, const td_principal *who, int64_t id, unsigned fields,
                      const td_exchange *values, const char *credentials, const char *push_secret,
                      td_exchange *out, td_error *err);
/* Deletes the exchange (its worker stops). The signals it brought stay in the bank, with their
 * source: delete the bank's signals by hand or keep them. */
__attribute__((warn_unused_result)) td_status
td_exchange_delete_as(td_exchanges *ex, const td_principal *who, int64_t id, td_error *err);

/* What one pass did. */
typedef struct td_exchange_run {
    uint64_t pages, items, added, updated, removed, negative, skipped, refused;
    int done;   /* the source had nothing more */
    int failed; /* the pass stopped on a failure (last_error says which) */
    int retry;  /* the failure is retried (429, 5xx, timeout) */
} td_exchange_run;

/* Pulls exchange id now, on the calling thread, until the source has nothing more or max_pages
 * pages were applied (0: no limit). A failure is recorded on the exchange (last_error, backoff)
 * and reported in run->failed, not as the return value, which is for the store and arguments. */
__attribute__((warn_unused_result)) td_status td_exchange_run_now(td_exchanges *ex, int64_t id,
                                                                  size_t max_pages,
                                                                  td_exchange_run *run,
                                                                  td_error *err);
/* Wakes exchange id's worker for a pull at once. */
void td_exchange_kick(td_exchanges *ex, int64_t id);
/* A peer's push (a webhook of the publisher): checks signature ("sha256=<hex>", the
 * X-Takedown-Signature header) as HMAC-SHA256 of body under the exchange's push secret, then
 * wakes its worker. A bad or missing signature is TD_ERR_INVALID, an exchange without a push
 * secret TD_ERR_UNSUPPORTED, an unknown id TD_ERR_NOT_FOUND. The body is not trusted: the pull
 * it causes reads the signed feed. */
__attribute__((warn_unused_result)) td_status td_exchange_push(td_exchanges *ex, int64_t id,
                                                               const char *signature,
                                                               const void *body, size_t len,
                                                               td_error *err);

/* ---- sharing the platform's own signals (a source whose client can take them: ThreatExchange)
 * Four eyes: one person asks, another approves; only then is the signal sent. ---- */

typedef enum td_exchange_upload_state {
    TD_XUPLOAD_PENDING = 0, /* asked, waiting for a second person */
    TD_XUPLOAD_SENT = 1,    /* approved and accepted by the source (external_id set) */
    TD_XUPLOAD_FAILED = 2,  /* approved, the source refused or could not be reached (last_error);
                               may be approved again */
    TD_XUPLOAD_REJECTED = 3 /* not approved */
} td_exchange_upload_state;

const char *td_exchange_upload_state_name(td_exchange_upload_state state);

#define TD_EXCHANGE_DESCRIPTION_MAX 512

typedef struct td_exchange_upload {
    int64_t id, exchange_id, signal_id;
    td_exchange_upload_state state;
    char description[TD_EXCHANGE_DESCRIPTION_MAX + 1];
    int64_t requested_by; /* key id */
    char requested_by_name[TD_NAME_MAX + 1];
    int64_t requested_ms;
    int64_t decided_by; /* 0 while pending */
    char decided_by_name[TD_NAME_MAX + 1];
    int64_t decided_ms;
    char external_id[65]; /* the source's id of the shared item */
    char last_error[TD_ERROR_TEXT_MAX + 1];
} td_exchange_upload;

/* who asks to share signal_id (a signal of any bank but one this exchange brought) with exchange
 * id; TD_ERR_UNSUPPORTED when the exchange's source takes no uploads. */
__attribute__((warn_unused_result)) td_status
td_exchange_upload_request_as(td_exchanges *ex, const td_principal *who, int64_t id,
                              int64_t signal_id, const char *description, td_exchange_upload *out,
                              td_error *err);
/* The exchange's uploads, newest first; free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_exchange_upload_list(td_exchanges *ex, int64_t id,
                                                                      td_exchange_upload **out,
                                                                      size_t *count, td_error *err);
/* who (not the one who asked: TD_ERR_CONFLICT) approves (the signal is sent now, on the calling
 * thread) or rejects a pending or failed upload. */
__attribute__((warn_unused_result)) td_status
td_exchange_upload_decide_as(td_exchanges *ex, const td_principal *who, int64_t id,
                             int64_t upload_id, int approve, td_exchange_upload *out,
                             td_error *err);

/* Sends the reactions that are due (what the workers do; useful without them). *sent (may be
 * NULL) receives the number sent. */
__attribute__((warn_unused_result)) td_status td_exchange_react_due(td_exchanges *ex, size_t *sent,
                                                                    td_error *err);

#ifdef __cplusplus
}
#endif

#endif
