/* The matching service as a library: banks of signals, the upload-time check, content intake,
 * cases and the review queue, webhook actions and API keys, on top of the store (store.h) and
 * the in-memory indexes (index.h).
 *
 * The server and the CLI are thin layers over these functions. Every function is thread-safe
 * on one td_service: checks run concurrently against the in-memory indexes and never wait for a
 * writer; writes are serialised by the store. Everything a caller is told succeeded has been
 * committed. Every change to signals is appended to the store's change log; the in-memory
 * indexes follow that log (td_service_follow), so a change takes effect on this node as soon as
 * the call returns and on other nodes sharing the store at their next follow.
 *
 * Memory: results that own memory are released with the matching _clear function or td_free
 * (arrays); output structs are caller-provided. Strings have fixed maximum sizes (the TD_*_MAX
 * constants), checked on input: untrusted input over a limit fails with TD_ERR_LIMIT naming it,
 * malformed input with TD_ERR_INVALID, an unknown bank / signal / case / content / key with
 * TD_ERR_NOT_FOUND, a name already taken or a case claimed by someone else with
 * TD_ERR_CONFLICT. */
#ifndef TAKEDOWN_CASEWORK_H
#define TAKEDOWN_CASEWORK_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "hash.h"
#include "status.h"
#include "video_hash.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---- */

#define TD_NAME_MAX 64        /* bank names, key names */
#define TD_LABELS_MAX 16      /* labels per bank or signal */
#define TD_LABEL_MAX 64       /* bytes per label */
#define TD_SOURCE_MAX 128     /* a signal's source */
#define TD_CONTENT_ID_MAX 256 /* the platform's content id */
#define TD_UPLOADER_MAX 256
#define TD_CASE_URL_MAX 2048  /* content URLs and webhook URLs */
#define TD_REASON_MAX 1024    /* decision reasons */
#define TD_SECRET_MAX 256     /* webhook secrets */
#define TD_METADATA_MAX 65536 /* content metadata JSON, bytes */
#define TD_ERROR_TEXT_MAX 256 /* a delivery's last error */
#define TD_KEY_TEXT_LEN 68    /* "tdk_" + 64 hex digits */
#define TD_KEY_TEXT_MAX (TD_KEY_TEXT_LEN + 1)
#define TD_PAGE_MAX 1000                     /* items per list call */
#define TD_DEFAULT_THRESHOLD 31              /* PDQ distance threshold of a new bank */
#define TD_SIGNAL_DISPLAY_MAX 256            /* the readable start of a signal's body */
#define TD_SIGNAL_BODY_MAX ((size_t)4 << 20) /* a signal's body (text, vPDQ file, URL) */
#define TD_CHECK_URLS_MAX 256                /* URLs in one check */

/* ---- the service ---- */

typedef struct td_service td_service;
/* Who calls (an API key's principal); defined with the keys below. */
typedef struct td_principal td_principal;

typedef struct td_service_options {
    td_clock clock;
    unsigned readers;                /* store reader connections (default 4) */
    int64_t recheck_window_ms;       /* content received this recently is re-checked against
                                        newly added signals (default 24 h; 0 disables) */
    int64_t follow_interval_ms;      /* follower thread period (default 500; 0: no thread, call
                                        td_service_follow yourself) */
    int webhook_worker;              /* start the delivery thread (default 1) */
    int64_t webhook_timeout_ms;      /* per delivery attempt (default 5000) */
    int64_t webhook_backoff_base_ms; /* first retry delay, doubled per attempt (default 1000) */
    int64_t webhook_backoff_max_ms;  /* largest retry delay (default 1 h) */
    int webhook_max_attempts;        /* then the delivery is marked dead (default 12) */
    size_t webhook_max_response;     /* response bytes read at most (default 64 KiB) */
    int webhook_allow_private;       /* allow loopback and private addresses (default 0; tests) */
    size_t import_max_line;          /* bytes per list line (default 4096) */
    uint64_t import_max_lines;       /* lines per import (default 20 million) */
    size_t import_max_errors;        /* line errors reported in detail (default 100) */
    td_hash_options hash;            /* how media bytes are hashed (dihedral is forced on) */
    td_video_hash_options video;     /* how video bytes are hashed (vPDQ; TMK is not used) */
    td_vpdq_match_options vpdq;      /* the vPDQ rule for video signals (distance, percentages) */
    const char *store_url;           /* NULL or "": DIR/takedown.db (SQLite); or a postgresql://
                                        URL of a database several nodes share. Read by
                                        td_service_open only. */
    const char *review_reasons;      /* the reasons list "code=Label;..." (td_review_reasons_parse);
                                        NULL or "": the TCO Regulation's categories */
    double review_qa_share;          /* share of remove / keep decisions that open a QA review,
                                        0..1 (default 0.05) */
    const td_config *config;         /* the configuration the audit log (checkpoints) and the
                                        orders' evidence store read; borrowed, must outlive
                                        the service. NULL: the table's defaults. */
} td_service_options;

/* Built-in defaults. */
void td_service_options_default(td_service_options *opts);
/* Defaults overridden by cfg (recheck_window_ms, webhook_timeout_ms, ...; see config.h; NULL:
 * the table's defaults); opts->config is set to cfg. */
__attribute__((warn_unused_result)) td_status
td_service_options_from_config(td_service_options *opts, const td_config *cfg, td_error *err);

/* Opens (creating if needed) the service on a data directory: DIR/takedown.db, migrations, the
 * in-memory indexes loaded from every enabled signal, the follower and webhook threads. opts may
 * be NULL (defaults). */
__attribute__((warn_unused_result)) td_status
td_service_open(const char *dir, const td_service_options *opts, td_service **out, td_error *err);

/* Stops the threads (a delivery in flight is finished or abandoned to be retried later), closes
 * the store; accepts NULL. No other call may be running. */
void td_service_close(td_service *svc);

/* The service's audit log (docs/audit.md): opened by td_service_open, closed by
 * td_service_close; the orders and evidence components append to this one log. */
struct td_audit;
struct td_audit *td_service_audit(td_service *svc);

/* Non-zero once the indexes are loaded (for /readyz and HMA's /status). */
int td_service_ready(td_service *svc);

/* Non-zero while writes are refused for lack of space (TD_ERR_NOSPACE): 1 when the service
 * opened read-only on a full disk (checks answer from the signals already stored; the follower
 * reopens for writing once space returns, as does the next write when nothing else holds the
 * store), 2 when the last write failed for lack of space (until a write succeeds). */
int td_service_read_only(td_service *svc);

/* Applies change-log entries committed since the last follow (by this or another node) to the
 * in-memory indexes. Called by the follower thread and after every local change; safe to call
 * from any thread at any time. *applied (may be NULL) receives the number of entries applied. */
__attribute__((warn_unused_result)) td_status td_service_follow(td_service *svc, uint64_t *applied,
                                                                td_error *err);

typedef struct td_service_stats {
    uint64_t pdq_indexed; /* PDQ entries in the live index */
    uint64_t md5_indexed;
    uint64_t sha256_indexed;
    uint64_t vpdq_videos;  /* live video signals in the vPDQ index */
    uint64_t vpdq_frames;  /* their unique frame hashes */
    uint64_t text_indexed; /* raw_text signals */
    uint64_t url_indexed;  /* url and url_md5 signals */
    uint64_t url_rules;    /* url_domain and url_prefix signals */
    uint64_t log_sequence; /* last change-log sequence applied to the indexes */
    int64_t banks;
    int64_t signals;          /* rows, enabled or not */
    int64_t cases_open;       /* open, claimed or escalated */
    int64_t queue_depth;      /* webhook deliveries not yet delivered or dead */
    int64_t webhook_failures; /* failed delivery attempts since the store was created */
    int64_t webhook_dead;     /* deliveries given up */
    int64_t content;          /* content items received */
} td_service_stats;

__attribute__((warn_unused_result)) td_status
td_service_get_stats(td_service *svc, td_service_stats *out, td_error *err);

/* ---- labels ---- */

/* Labels are short tokens: 1..TD_LABEL_MAX bytes of [A-Za-z0-9_.:/-]. The convention (see
 * docs/casework.md) follows the GIFCT taxonomy: "type:video", "entity:<group>",
 * "behaviour:imminent_threat", "behaviour:graphic_violence", "behaviour:instruction",
 * "behaviour:recruitment", "behaviour:radicalisation", "behaviour:glorification". Behaviour
 * labels set a case's priority. */
typedef struct td_labels {
    int count;
    char v[TD_LABELS_MAX][TD_LABEL_MAX + 1];
} td_labels;

/* Appends one label (validated; a duplicate is ignored). */
__attribute__((warn_unused_result)) td_status td_labels_add(td_labels *labels, const char *label,
                                                            td_error *err);
/* Parses labels separated by spaces or commas (CSV tags). */
__attribute__((warn_unused_result)) td_status td_labels_parse(td_labels *labels, const char *text,
                                                              size_t len, td_error *err);
/* Severity 0..100 of the most severe behaviour label (0 when none is known). */
int td_labels_severity(const td_labels *labels);

/* ---- banks ---- */

typedef enum td_action {
    TD_ACTION_LOG = 0,    /* record the match only */
    TD_ACTION_REVIEW = 1, /* open a case for a human */
    TD_ACTION_BLOCK = 2   /* block at upload; fire the remove action */
} td_action;

typedef enum td_bank_kind {
    TD_BANK_NORMAL = 0,
    TD_BANK_ALLOW = 1 /* a match here suppresses the matches of every other bank (news footage,
                         counter-speech) */
} td_bank_kind;

const char *td_action_name(td_action action); /* "log", "review", "block" */
__attribute__((warn_unused_result)) td_status td_action_parse(const char *name, td_action *out);
const char *td_bank_kind_name(td_bank_kind kind); /* "normal", "allow" */
__attribute__((warn_unused_result)) td_status td_bank_kind_parse(const char *name,
                                                                 td_bank_kind *out);

typedef struct td_bank {
    int64_t id;
    char name[TD_NAME_MAX + 1]; /* [A-Z_][A-Z0-9_]* */
    td_labels labels;
    /* Whether the bank matches at all: always enabled_ratio > 0 (the store keeps the two in
     * step; see TD_BANK_SET_ENABLED). */
    int enabled;
    /* HMA's matching_enabled_ratio, 0.0..1.0: the share of HMA lookups (/m/lookup) the bank
     * takes part in, as HMA's coin flip decides. takedown's own check path matches every bank
     * with a ratio above 0 (it enforces; it does not sample). Kept exactly as set (0.3 reads
     * back as 0.3). */
    double enabled_ratio;
    int threshold; /* PDQ distance threshold, 0..63 */
    td_action action;
    td_bank_kind kind;
    int64_t created_ms, updated_ms;
    int64_t signal_count; /* filled by get and list */
} td_bank;

/* name "", no labels, enabled (ratio 1.0), threshold 31, action review, normal. */
void td_bank_init(td_bank *bank);
/* Non-zero if name is a valid bank name. */
int td_bank_name_valid(const char *name);

/* Creates bank->name with bank's settings; out (may be NULL) receives the stored bank. */
__attribute__((warn_unused_result)) td_status td_bank_create(td_service *svc, const td_bank *bank,
                                                             td_bank *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_bank_get(td_service *svc, const char *name,
                                                          td_bank *out, td_error *err);
/* All banks by name; free *out with td_free. More than TD_BANKS_MAX fail with TD_ERR_LIMIT. */
#define TD_BANKS_MAX 10000
__attribute__((warn_unused_result)) td_status td_bank_list(td_service *svc, td_bank **out,
                                                           size_t *count, td_error *err);

/* Fields of td_bank_update to change. */
enum {
    TD_BANK_SET_NAME = 1 << 0,
    TD_BANK_SET_LABELS = 1 << 1,
    TD_BANK_SET_ENABLED = 1 << 2,
    TD_BANK_SET_THRESHOLD = 1 << 3,
    TD_BANK_SET_ACTION = 1 << 4,
    TD_BANK_SET_KIND = 1 << 5,
    TD_BANK_SET_ENABLED_RATIO = 1 << 6
};

/* Changes the fields named in `fields` (TD_BANK_SET_*) to the values in `values`.
 * TD_BANK_SET_ENABLED turns matching off (ratio 0.0) or on (the ratio the bank had if above 0,
 * else 1.0); TD_BANK_SET_ENABLED_RATIO (0.0..1.0, applied after TD_BANK_SET_ENABLED when both are
 * given) sets the ratio, and enabled follows it (ratio > 0). On create, a bank with enabled 0
 * is stored with ratio 0.0, otherwise with its enabled_ratio. */
__attribute__((warn_unused_result)) td_status td_bank_update(td_service *svc, const char *name,
                                                             unsigned fields, const td_bank *values,
                                                             td_bank *out, td_error *err);
/* Deletes the bank and its signals (they leave the index at once). Cases and matches already
 * recorded keep the bank's name. */
__attribute__((warn_unused_result)) td_status td_bank_delete(td_service *svc, const char *name,
                                                             td_error *err);
/* The same calls on behalf of who (recorded as the actor of their audit entries, docs/audit.md);
 * who NULL, as in the calls without _as, records "system". */
__attribute__((warn_unused_result)) td_status td_bank_create_as(td_service *svc,
                                                                const td_principal *who,
                                                                const td_bank *bank, td_bank *out,
                                                                td_error *err);
__attribute__((warn_unused_result)) td_status
td_bank_update_as(td_service *svc, const td_principal *who, const char *name, unsigned fields,
                  const td_bank *values, td_bank *out, td_error *err);
__attribute__((warn_unused_result)) td_status
td_bank_delete_as(td_service *svc, const td_principal *who, const char *name, td_error *err);

/* ---- signals ---- */

typedef enum td_signal_type {
    TD_SIGNAL_PDQ = 1,
    TD_SIGNAL_MD5 = 2,        /* MD5 of the file bytes (image or video) */
    TD_SIGNAL_SHA256 = 3,     /* SHA-256 of the file bytes */
    TD_SIGNAL_VPDQ = 4,       /* a video's vPDQ frame hashes; the service's vPDQ rule */
    TD_SIGNAL_TEXT = 5,       /* a known document; python-threatexchange's raw_text rule */
    TD_SIGNAL_URL = 6,        /* one URL, compared in canonical form */
    TD_SIGNAL_URL_MD5 = 7,    /* url_md5 of a URL (python-threatexchange) */
    TD_SIGNAL_URL_DOMAIN = 8, /* every URL on a host and its subdomains */
    TD_SIGNAL_URL_PREFIX = 9  /* every URL on one host at or below a path (segment boundary) */
} td_signal_type;

#define TD_SIGNAL_TYPE_MAX 9

/* "pdq", "md5", "sha256", "vpdq", "raw_text", "url", "url_md5", "url_domain", "url_prefix". */
const char *td_signal_type_name(td_signal_type type);
/* The python-threatexchange name used in exported lists: "pdq", "video_md5", "video_sha256",
 * "vpdq", "raw_text", "url", "url_md5" (and takedown's own names for the two rule types). */
const char *td_signal_type_te_name(td_signal_type type);
/* Accepts both spellings (and photo_md5 / photo_sha256, text for raw_text), case-insensitive. */
__attribute__((warn_unused_result)) td_status td_signal_type_parse(const char *name, size_t len,
                                                                   td_signal_type *out);
/* Non-zero for the types whose value is a body rather than a hash: vpdq (the hash file),
 * raw_text, url, url_domain, url_prefix. The body is kept whole; the signal's value is the
 * SHA-256 of its canonical form (which makes it unique in a bank). */
int td_signal_type_has_body(td_signal_type type);
/* Checks a body for type and returns its canonical form (*out freed with td_free): vpdq parsed
 * and written back as a hash file; raw_text checked as UTF-8 and kept as given; url
 * canonicalised; url_domain the canonical host; url_prefix the canonical URL without query. */
__attribute__((warn_unused_result)) td_status td_signal_body_normalize(td_signal_type type,
                                                                       const char *body, size_t len,
                                                                       char **out, size_t *out_len,
                                                                       td_error *err);
/* Checks value for type and writes its canonical lower-case form (up to 64 hex digits + NUL). */
__attribute__((warn_unused_result)) td_status td_signal_value_normalize(td_signal_type type,
                                                                        const char *value,
                                                                        size_t len, char out[65],
                                                                        td_error *err);

#define TD_CONFIDENCE_DEFAULT 50

typedef struct td_signal {
    int64_t id;
    int64_t bank_id;
    char bank[TD_NAME_MAX + 1];
    td_signal_type type;
    char value[65]; /* canonical lower-case hex (a body type: the SHA-256 of the body) */
    int quality;    /* PDQ quality 0..100, or -1 when unknown */
    td_labels labels;
    char source[TD_SOURCE_MAX + 1]; /* e.g. "manual", "upload", "import", a collaboration name */
    int confidence; /* 0..100: how much the source is trusted; weighs case priority */
    int enabled;
    int indexed; /* enabled and usable (a PDQ signal of known quality < 50 is not) */
    int64_t added_ms;
    size_t body_len; /* a body type: the body's bytes, its start in display */
    char display[TD_SIGNAL_DISPLAY_MAX + 1]; /* the URL or rule, the text's start, "N frames" */
} td_signal;

typedef struct td_signal_input {
    td_signal_type type;
    const char *value; /* hex; for a body type, the body (NUL-terminated unless body_len) */
    size_t body_len;   /* a body type: bytes of value (0: strlen) */
    int quality;       /* -1 when unknown */
    td_labels labels;
    const char *source; /* NULL: "manual" */
    int confidence;     /* 0..100; -1: TD_CONFIDENCE_DEFAULT */
} td_signal_input;

void td_signal_input_init(td_signal_input *in);

/* Adds one signal to bank. The same (type, value) twice in one bank fails with TD_ERR_CONFLICT
 * and out->id receives the existing signal's id. Content received within the recheck window is
 * re-checked against the new signal (cases opened, actions fired) before the call returns. */
__attribute__((warn_unused_result)) td_status td_signal_add(td_service *svc, const char *bank,
                                                            const td_signal_input *in,
                                                            td_signal *out, td_error *err);

/* Hashes media bytes and adds their PDQ (a video: vPDQ), MD5 and SHA-256 signals (labels,
 * source, confidence from `in`, whose type and value are ignored). out receives 3 signals;
 * a signal already present in the bank is returned as it is rather than failing. Undecodable
 * media fail with the decoder's status (TD_ERR_UNSUPPORTED, TD_ERR_CORRUPT, ...). */
__attribute__((warn_unused_result)) td_status
td_signal_add_media(td_service *svc, const char *bank, const uint8_t *data, size_t len,
                    const td_signal_input *in, td_signal out[3], size_t *count, td_error *err);

/* The bank's signals with id > after_id, by id, at most limit (1..TD_PAGE_MAX; 0 means 100).
 * Page on with the last id. Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_signal_list(td_service *svc, const char *bank,
                                                             int64_t after_id, size_t limit,
                                                             td_signal **out, size_t *count,
                                                             td_error *err);
/* bank may be NULL (any bank); otherwise a signal of another bank is TD_ERR_NOT_FOUND. */
__attribute__((warn_unused_result)) td_status
td_signal_get(td_service *svc, const char *bank, int64_t id, td_signal *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_signal_set_enabled(td_service *svc,
                                                                    const char *bank, int64_t id,
                                                                    int enabled, td_signal *out,
                                                                    td_error *err);
/* Replaces a signal's labels. */
__attribute__((warn_unused_result)) td_status td_signal_set_labels(td_service *svc,
                                                                   const char *bank, int64_t id,
                                                                   const td_labels *labels,
                                                                   td_signal *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_signal_delete(td_service *svc, const char *bank,
                                                               int64_t id, td_error *err);
/* The signal calls on behalf of who (the actor of their audit entries; NULL: "system"). */
__attribute__((warn_unused_result)) td_status
td_signal_add_as(td_service *svc, const td_principal *who, const char *bank,
                 const td_signal_input *in, td_signal *out, td_error *err);
__attribute__((warn_unused_result)) td_status
td_signal_add_media_as(td_service *svc, const td_principal *who, const char *bank,
                       const uint8_t *data, size_t len, const td_signal_input *in, td_signal out[3],
                       size_t *count, td_error *err);
__attribute__((warn_unused_result)) td_status
td_signal_set_enabled_as(td_service *svc, const td_principal *who, const char *bank, int64_t id,
                         int enabled, td_signal *out, td_error *err);
__attribute__((warn_unused_result)) td_status
td_signal_set_labels_as(td_service *svc, const td_principal *who, const char *bank, int64_t id,
                        const td_labels *labels, td_signal *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_signal_delete_as(td_service *svc,
                                                                  const td_principal *who,
                                                                  const char *bank, int64_t id,
                                                                  td_error *err);
/* The body of a body-type signal (see td_signal_type_has_body), *body freed with td_free
 * (NUL-terminated); another type is TD_ERR_INVALID. bank may be NULL. */
__attribute__((warn_unused_result)) td_status td_signal_get_body(td_service *svc, const char *bank,
                                                                 int64_t id, char **body,
                                                                 size_t *len, td_error *err);

/* ---- HMA bank content ----
 * HMA's unit of a bank: one content item (an image, a video, a set of hashes) carrying one signal
 * per signal type. Its signals are ordinary signals of the bank (matching, export, feeds see them)
 * added, removed and switched together. A content's id is the id of its first signal; a signal
 * added otherwise (the /v1 routes, imports, exchanges) is a content of its own with its id.
 * disable_until_ts is HMA's: TD_CONTENT_DISABLED (0) never matches, TD_CONTENT_ENABLED (1)
 * matches, any other value is a Unix time in seconds before which the content's signals do not
 * match (the check path compares it with the service's clock at every match). */
#define TD_CONTENT_DISABLED 0
#define TD_CONTENT_ENABLED 1
#define TD_CONTENT_NOTE_MAX 255            /* characters (code points) of a note */
#define TD_CONTENT_URI_MAX 2048            /* bytes of original_media_uri */
#define TD_CONTENT_METADATA_MAX 65536      /* bytes of the metadata JSON text */
#define TD_CONTENT_DISABLE_MAX_S 157680000 /* disable_until_ts at most 5 years (365 days) ahead */

typedef struct td_bank_content {
    int64_t id;
    char bank[TD_NAME_MAX + 1];
    int64_t bank_id;
    int64_t disable_until_ts;
    char *original_media_uri; /* NULL: none */
    char *metadata;           /* JSON object text (content_id, content_uri, json); NULL: none */
    char *note;               /* NULL: none */
    int64_t created_ms, updated_ms;
    td_signal *signals; /* by id (a content has at most one signal per type) */
    size_t n_signals;
} td_bank_content;

void td_bank_content_clear(td_bank_content *c);

/* What a new content carries besides its signals (strings may be NULL). */
typedef struct td_bank_content_input {
    const char *original_media_uri;
    const char *metadata; /* a JSON object's text */
    const char *note;
    /* Media adds only: signal types not to store, as bits 1u << td_signal_type (0: none);
     * leaving none is TD_ERR_INVALID. */
    unsigned skip_types;
} td_bank_content_input;

/* Adds signals ins[0..n) (n 1..TD_SIGNAL_TYPE_MAX, at most one per type) to bank as one content,
 * in one transaction. A signal the bank already holds stays where it is (in its own content);
 * when every one is already held, nothing is added and *content_id is the content of the first.
 * out (may be NULL) receives the n signals. Recent content is re-checked as for td_signal_add. */
__attribute__((warn_unused_result)) td_status
td_bank_content_add_as(td_service *svc, const td_principal *who, const char *bank,
                       const td_signal_input *ins, size_t n, const td_bank_content_input *in,
                       int64_t *content_id, td_signal *out, td_error *err);
/* The same with media bytes, hashed as td_signal_add_media does (an image: pdq, md5, sha256; a
 * video: vpdq, md5, sha256). *count receives the number of signals in out. */
__attribute__((warn_unused_result)) td_status
td_bank_content_add_media_as(td_service *svc, const td_principal *who, const char *bank,
                             const uint8_t *data, size_t len, const td_bank_content_input *in,
                             int64_t *content_id, td_signal out[3], size_t *count, td_error *err);
/* Content id of bank with its signals; TD_ERR_NOT_FOUND when the bank holds no such content.
 * Clear *out with td_bank_content_clear. */
__attribute__((warn_unused_result)) td_status td_bank_content_get(td_service *svc, const char *bank,
                                                                  int64_t id, td_bank_content *out,
                                                                  td_error *err);
enum { TD_CONTENT_SET_DISABLE_UNTIL = 1 << 0, TD_CONTENT_SET_NOTE = 1 << 1 };
/* Changes disable_until_ts (0, 1, or a time up to TD_CONTENT_DISABLE_MAX_S ahead of the
 * service's clock) and/or the note (NULL or "" clears it). out (may be NULL) receives the
 * content. */
__attribute__((warn_unused_result)) td_status
td_bank_content_update_as(td_service *svc, const td_principal *who, const char *bank, int64_t id,
                          unsigned fields, int64_t disable_until_ts, const char *note,
                          td_bank_content *out, td_error *err);
/* Deletes the content and its signals (they leave the indexes at once); *deleted receives 1, or
 * 0 when the bank holds no such content (not an error, as in HMA). */
__attribute__((warn_unused_result)) td_status
td_bank_content_delete_as(td_service *svc, const td_principal *who, const char *bank, int64_t id,
                          int *deleted, td_error *err);

/* ---- HMA signal type settings ----
 * HMA's enabled_ratio per signal type (0.0..1.0, default 1.0): a type with ratio 0 does not
 * match in the check path nor in HMA lookups. */
__attribute__((warn_unused_result)) td_status
td_signal_type_ratio_get(td_service *svc, td_signal_type type, double *ratio, td_error *err);
__attribute__((warn_unused_result)) td_status
td_signal_type_ratio_set_as(td_service *svc, const td_principal *who, td_signal_type type,
                            double ratio, td_error *err);
/* Per type: signals stored, signals the index holds (enabled and usable), the newest signal's
 * added_ms (0: none). */
typedef struct td_signal_type_stats {
    int64_t stored, indexed, newest_ms;
} td_signal_type_stats;
__attribute__((warn_unused_result)) td_status td_signal_type_stats_get(td_service *svc,
                                                                       td_signal_type type,
                                                                       td_signal_type_stats *out,
                                                                       td_error *err);

/* ---- list import and export (ALGORITHMS.md: "<type> <value>" lines, or CSV
 * signal_type,signal_str,collab,category,tags) ---- */

typedef enum td_list_format {
    TD_LIST_AUTO = 0, /* CSV if the first line is the CSV header, else lines */
    TD_LIST_LINES = 1,
    TD_LIST_CSV = 2
} td_list_format;

const char *td_list_format_name(td_list_format format); /* "auto", "te", "csv" */
__attribute__((warn_unused_result)) td_status td_list_format_parse(const char *name,
                                                                   td_list_format *out);

typedef struct td_import_options {
    td_list_format format;
    const char *source; /* NULL: "import"; a CSV line's collab column overrides it */
    td_labels labels;   /* added to every signal (CSV tags are added too) */
    int confidence;     /* -1: TD_CONFIDENCE_DEFAULT */
    int atomic;         /* non-zero: any malformed line fails the whole import (nothing kept);
                           zero (default): malformed lines are reported and skipped */
    size_t max_line;    /* 0: the service's import_max_line */
    uint64_t max_lines; /* 0: the service's import_max_lines */
} td_import_options;

void td_import_options_init(td_import_options *opts);

typedef struct td_import_line_error {
    uint64_t line; /* 1-based */
    char message[160];
} td_import_line_error;

typedef struct td_import_result {
    uint64_t lines; /* lines read (including blank lines, comments and the CSV header) */
    uint64_t added;
    uint64_t duplicates; /* already in the bank: left unchanged */
    uint64_t disabled;   /* added disabled (CSV category NEGATIVE_CLASS) */
    uint64_t
        unsupported; /* valid lines of a signal type this service does not hold (url, vpdq..) */
    uint64_t errors; /* malformed lines */
    td_import_line_error *error_list; /* the first import_max_errors of them */
    size_t error_count;
} td_import_result;

void td_import_result_clear(td_import_result *res);

typedef struct td_import td_import;

/* A streaming import into bank, in one transaction: begin, feed the bytes in chunks of any size,
 * finish (commit, index update, re-check of recent content). The store's writer is held from
 * begin to finish or abort: feed promptly. Over max_line or max_lines fails with TD_ERR_LIMIT
 * and the import must be aborted. */
__attribute__((warn_unused_result)) td_status td_import_begin(td_service *svc, const char *bank,
                                                              const td_import_options *opts,
                                                              td_import **out, td_error *err);
__attribute__((warn_unused_result)) td_status td_import_feed(td_import *imp, const void *data,
                                                             size_t len, td_error *err);
/* td_import_begin on behalf of who (the actor of the import's audit entry; NULL: "system"). */
__attribute__((warn_unused_result)) td_status
td_import_begin_as(td_service *svc, const td_principal *who, const char *bank,
                   const td_import_options *opts, td_import **out, td_error *err);
/* Commits and frees imp (also on failure). res receives the counts; clear it afterwards. */
__attribute__((warn_unused_result)) td_status
td_import_finish(td_import *imp, td_import_result *res, td_error *err);
/* Rolls back and frees; accepts NULL. */
void td_import_abort(td_import *imp);

/* Begin + one feed + finish. */
__attribute__((warn_unused_result)) td_status
td_import_buffer(td_service *svc, const char *bank, const void *data, size_t len,
                 const td_import_options *opts, td_import_result *res, td_error *err);

/* The import parser alone (no store), for validation and fuzzing: calls line_fn for each parsed
 * signal. Errors in lines are counted in res, not returned; the return value is the stream's
 * fate (TD_ERR_LIMIT ...). */
typedef struct td_list_entry {
    uint64_t line;
    td_signal_type type;
    char value[65];
    const char *collab; /* CSV only, may be "" */
    size_t collab_len;
    int negative;   /* CSV category NEGATIVE_CLASS */
    td_labels tags; /* CSV tags */
} td_list_entry;

__attribute__((warn_unused_result)) td_status
td_list_parse(const void *data, size_t len, td_list_format format, size_t max_line,
              uint64_t max_lines, size_t max_errors,
              int (*line_fn)(void *ctx, const td_list_entry *entry), void *ctx,
              td_import_result *res, td_error *err);

/* Streams the bank's hash signals (pdq, md5, sha256, url_md5: enabled ones, or all when
 * include_disabled; body signals are not list entries) in format (LINES or CSV) to write; a
 * non-zero return from write stops with TD_ERR_IO. */
__attribute__((warn_unused_result)) td_status
td_export(td_service *svc, const char *bank, td_list_format format, int include_disabled,
          int (*write)(void *ctx, const char *data, size_t len), void *ctx, td_error *err);

/* ---- check ---- */

/* Hashes of one piece of content, computed here from media or supplied by the caller. */
typedef struct td_hashes {
    td_pdq pdq[TD_DIH_COUNT];           /* pdq[0] the original; all 8 variants when n_pdq is 8 */
    int n_pdq;                          /* 0: no PDQ; 1; or TD_DIH_COUNT */
    int quality;                        /* 0..100, or -1 when unknown (a supplied hash: matched) */
    char md5[TD_MD5_HEX_LEN + 1];       /* "" when absent */
    char sha256[TD_SHA256_HEX_LEN + 1]; /* "" when absent */
    /* Borrowed from the caller for the duration of a call, never stored: a video's frames, the
     * content's text (UTF-8), URLs it contains. Results hold NULL here. */
    const td_vpdq *vpdq;
    const char *text;
    size_t text_len;
    const char *const *urls;
    size_t n_urls;
} td_hashes;

void td_hashes_init(td_hashes *h);

typedef enum td_verdict {
    TD_VERDICT_ALLOW = 0,
    TD_VERDICT_REVIEW = 1,
    TD_VERDICT_BLOCK = 2
} td_verdict;

const char *td_verdict_name(td_verdict verdict); /* "allow", "review", "block" */

typedef struct td_match {
    int64_t bank_id;
    char bank[TD_NAME_MAX + 1];
    int64_t signal_id;
    td_signal_type type;
    int distance;        /* PDQ: Hamming distance; raw_text: edit distance; otherwise 0 */
    td_dihedral variant; /* which variant of the query matched (TD_DIH_ORIGINAL for exact) */
    td_labels labels;    /* the bank's labels, then the signal's */
    td_action action;    /* the bank's */
    td_bank_kind kind;
    int confidence;
    int suppressed;          /* an allow bank matched too: this match does not count */
    double query_percent;    /* vpdq: share of the query's good frames matched */
    double compared_percent; /* vpdq: share of the signal video's good frames matched */
    int url_index;           /* url types: which of the checked URLs matched */
    /* An open incident whose filter the match meets (incidents.h), 0: none. Its enforcement
     * (incident_action: block, or review at top priority) applies on top of the bank's action:
     * the stronger of the two counts (td_match_action). */
    int64_t incident_id;
    td_action incident_action;
    /* The HMA bank content the signal belongs to (td_bank_content): its id. */
    int64_t content_id;
} td_match;

/* What a match asks for: the bank's action, raised to its incident's enforcement. */
td_action td_match_action(const td_match *m);
/* The priority of a case an incident's match opens or raises: above any case the labels and
 * confidence of matches give (at most 100 * 100 + 100), escalations (+ 100000) included. */
#define TD_CASE_PRIORITY_INCIDENT 1000000

typedef struct td_check_options {
    int dihedral;       /* match the dihedral variants (default 1) */
    int min_quality;    /* PDQ of lower known quality is not matched (default 50) */
    size_t max_matches; /* matches returned at most, best first (default 100) */
} td_check_options;

void td_check_options_init(td_check_options *opts);

typedef struct td_check_result {
    td_verdict verdict;
    td_hashes hashes;   /* the hashes used (computed from media, or as supplied) */
    int low_quality;    /* PDQ quality known and below min_quality: PDQ was not matched */
    const char *media;  /* what media bytes were: "image", "video"; NULL for supplied hashes */
    size_t vpdq_frames; /* frames of the video checked (hashed or supplied) */
    size_t text_bytes;  /* bytes of text checked */
    size_t urls;        /* URLs checked */
    td_match *matches;  /* best (lowest distance) first; allow-bank matches included */
    size_t match_count;
    size_t total_matches; /* before max_matches truncation */
} td_check_result;

void td_check_result_clear(td_check_result *res);

/* Checks supplied hashes. Only enabled signals of enabled banks match, each PDQ within its
 * bank's threshold. opts may be NULL. */
__attribute__((warn_unused_result)) td_status td_check_hashes(td_service *svc,
                                                              const td_hashes *hashes,
                                                              const td_check_options *opts,
                                                              td_check_result *out, td_error *err);
/* Hashes media bytes and checks them: an image gives PDQ with its dihedral variants, MD5 and
 * SHA-256; a video (any container FFmpeg reads, within the service's video limits) gives MD5,
 * SHA-256 and its vPDQ frames. */
__attribute__((warn_unused_result)) td_status td_check_media(td_service *svc, const uint8_t *data,
                                                             size_t len,
                                                             const td_check_options *opts,
                                                             td_check_result *out, td_error *err);

/* HMA-style lookup of one signal ("pdq" / "video_md5" / ...; original variant only, quality not
 * considered), e.g. for GET /m/lookup: matches as in td_check_hashes. */
__attribute__((warn_unused_result)) td_status td_lookup_signal(td_service *svc, const char *type,
                                                               const char *value,
                                                               td_check_result *out, td_error *err);

/* One signal a value matches in td_lookup_signal_all. */
typedef struct td_lookup_hit {
    int64_t signal_id;
    int64_t content_id; /* its HMA bank content (td_bank_content) */
    int64_t bank_id;
    char bank[TD_NAME_MAX + 1];
    td_signal_type type;
    int distance;       /* PDQ: Hamming distance; raw_text: edit distance; otherwise 0 */
    int signal_enabled; /* the signal enabled and its content not disabled (disable_until_ts) */
    int bank_enabled;   /* the bank's */
} td_lookup_hit;

/* HMA's raw view of its index (GET /m/raw_lookup; /m/lookup filters it): every signal of type
 * (as td_signal_type_parse takes it: pdq, md5, sha256, raw_text, url) that value matches, in
 * any bank, whether the signal, its content and its bank are enabled or not, and PDQ signals of
 * known low quality too; a PDQ within its bank's threshold. raw_text and url match enabled signals
 * only (their indexes hold no others). By signal id; free *out with td_free. More than 100000 hits
 * fail with TD_ERR_LIMIT. Reads the disabled signals of the type from the store. */
__attribute__((warn_unused_result)) td_status
td_lookup_signal_all(td_service *svc, const char *type, const char *value, td_lookup_hit **out,
                     size_t *count, td_error *err);

/* ---- principals and API keys ---- */

typedef enum td_role {
    TD_ROLE_ADMIN = 1,
    TD_ROLE_MODERATOR = 2,
    TD_ROLE_PLATFORM = 3,
    TD_ROLE_AUDITOR = 4,
    TD_ROLE_AUTHORITY = 5, /* reserved */
    TD_ROLE_PEER = 6,      /* another takedown instance: reads signed feeds (feeds.h) */
    TD_ROLE_CUSTODIAN = 7, /* reserved */
    TD_ROLE_LEGAL = 8      /* handles evidence orders and approves their delivery */
} td_role;

const char *td_role_name(td_role role);
__attribute__((warn_unused_result)) td_status td_role_parse(const char *name, td_role *out);

typedef struct td_principal {
    int64_t id; /* the key's id */
    td_role role;
    char name[TD_NAME_MAX + 1];
    int64_t platform; /* role platform: the first key of its platform when the key was created for
                         an existing platform (td_key_create_for), else 0 (the key itself) */
} td_principal;

/* The platform scope of a principal: for a platform key, the id of its platform's first key (the
 * key's own id unless it was created for an existing platform); 0 for every other role. Content a
 * platform key submits is recorded with this id (td_content.platform_key) and the keys of that
 * platform read only such content; other roles submit content without an owner and read all
 * content. who may be NULL (0). */
int64_t td_principal_platform(const td_principal *who);

typedef struct td_key_info {
    int64_t id;
    td_role role;
    char name[TD_NAME_MAX + 1];
    char prefix[13]; /* the key's first 12 characters, to recognise it */
    int64_t created_ms;
    int64_t revoked_ms;   /* 0 while valid */
    int64_t platform_key; /* role platform: its platform's first key, 0 when it is that key */
} td_key_info;

/* Creates a key; key_out receives the key text (shown once: only its SHA-256 is stored). name
 * may be NULL or "" ("key-<id>"). out (may be NULL) receives the key's record. */
__attribute__((warn_unused_result)) td_status td_key_create(td_service *svc, td_role role,
                                                            const char *name,
                                                            char key_out[TD_KEY_TEXT_MAX],
                                                            td_key_info *out, td_error *err);
/* td_key_create for a platform that has a key already (key rotation, several services of one
 * platform): platform_key is the id of any key of role platform, revoked or not (else
 * TD_ERR_INVALID), and the new key, of role platform, reads and owns what that platform's keys
 * submitted. platform_key 0 is td_key_create. */
__attribute__((warn_unused_result)) td_status
td_key_create_for(td_service *svc, td_role role, const char *name, int64_t platform_key,
                  char key_out[TD_KEY_TEXT_MAX], td_key_info *out, td_error *err);
/* Looks a presented key up (constant-time comparison of hashes). Unknown, malformed or revoked
 * keys fail with TD_ERR_NOT_FOUND (the server answers 401). */
__attribute__((warn_unused_result)) td_status td_key_verify(td_service *svc, const char *key,
                                                            td_principal *out, td_error *err);
/* All keys, revoked ones included; free *out with td_free. More than TD_KEY_LIST_MAX fail with
 * TD_ERR_LIMIT. */
#define TD_KEY_LIST_MAX 100000
__attribute__((warn_unused_result)) td_status td_key_list(td_service *svc, td_key_info **out,
                                                          size_t *count, td_error *err);
__attribute__((warn_unused_result)) td_status td_key_revoke(td_service *svc, int64_t id,
                                                            td_error *err);
/* td_key_create_for and td_key_revoke on behalf of who (the actor of their audit entries, which
 * never hold the key text; NULL: "system"). */
__attribute__((warn_unused_result)) td_status
td_key_create_as(td_service *svc, const td_principal *who, td_role role, const char *name,
                 int64_t platform_key, char key_out[TD_KEY_TEXT_MAX], td_key_info *out,
                 td_error *err);
__attribute__((warn_unused_result)) td_status
td_key_revoke_as(td_service *svc, const td_principal *who, int64_t id, td_error *err);
/* At first start: if no valid admin key exists, creates one named "admin", writes it to key_out
 * and sets *created; otherwise *created is 0 and key_out is "". */
__attribute__((warn_unused_result)) td_status
td_key_ensure_admin(td_service *svc, char key_out[TD_KEY_TEXT_MAX], int *created, td_error *err);

/* ---- content intake ---- */

typedef enum td_case_state {
    TD_CASE_OPEN = 1,      /* in the queue */
    TD_CASE_CLAIMED = 2,   /* a moderator is on it */
    TD_CASE_ESCALATED = 3, /* back in the queue for a senior reviewer */
    TD_CASE_CLOSED = 4     /* decided (remove or keep) */
} td_case_state;

const char *td_case_state_name(td_case_state state); /* "open", "claimed", "escalated", "closed" */
__attribute__((warn_unused_result)) td_status td_case_state_parse(const char *name,
                                                                  td_case_state *out);

typedef enum td_decision_kind {
    TD_DECISION_REMOVE = 1,
    TD_DECISION_KEEP = 2,
    TD_DECISION_ESCALATE = 3
} td_decision_kind;

const char *td_decision_name(td_decision_kind kind); /* "remove", "keep", "escalate" */
__attribute__((warn_unused_result)) td_status td_decision_parse(const char *name,
                                                                td_decision_kind *out);

#define TD_REASON_CODE_MAX 40    /* bytes of a review reason's code, [a-z0-9_] */
#define TD_REASON_LABEL_MAX 120  /* characters (code points) of a review reason's label */
#define TD_REVIEW_REASONS_MAX 64 /* reasons in the list */

typedef struct td_decision {
    int64_t id;
    int64_t case_id;
    td_decision_kind kind;
    char reason_code[TD_REASON_CODE_MAX + 1]; /* one of the review reasons, "" when none */
    char reason[TD_REASON_MAX + 1];
    int64_t principal_id;
    char principal_name[TD_NAME_MAX + 1];
    int64_t decided_ms;
} td_decision;

typedef struct td_case {
    int64_t id;
    int64_t content_ref; /* internal id of the content row */
    char content_id[TD_CONTENT_ID_MAX + 1];
    td_case_state state;
    int priority;     /* higher first: severity * 100 + source confidence */
    td_labels labels; /* union of the matched banks' and signals' labels (first 16) */
    char opened_by[TD_NAME_MAX + 1]; /* the bank whose review match opened it */
    int64_t opened_ms;
    int64_t claimed_by; /* principal id, 0 when unclaimed */
    char claimed_by_name[TD_NAME_MAX + 1];
    int64_t claimed_ms;
    int64_t closed_ms;
    td_decision_kind outcome; /* the last decision (0: none) */
} td_case;

#define TD_CONTENT_SOURCE_MAX 32 /* a content's source: "upload", "e2ee_report" */
#define TD_CONTENT_PARTS_MAX 16  /* parts of one content item besides its own media or hashes */

/* One more part of a content item (an attachment of a message): its media bytes, or its hashes
 * when media is NULL. Every part is checked like the item itself and its matches join the
 * item's: one content, one set of matches, one verdict, one case, one remove action. Bytes the
 * service does not decode as an image or a video (a document, an archive, an image over the
 * limits) are checked by their MD5 and SHA-256 only. Parts are not stored: the content keeps
 * its own hashes, and the re-check of recent content against new signals sees those only. */
typedef struct td_content_part {
    const uint8_t *media;
    size_t media_len;
    const td_hashes *hashes; /* used when media is NULL */
} td_content_part;

typedef struct td_content_input {
    const char *content_id;    /* the platform's id, required, unique */
    const char *uploader;      /* may be NULL */
    const char *url;           /* may be NULL */
    int64_t time_ms;           /* upload time at the platform; 0: now */
    const char *metadata_json; /* may be NULL; must be a JSON object of <= TD_METADATA_MAX */
    const uint8_t *media;      /* media bytes, or NULL when hashes are supplied */
    size_t media_len;
    const td_hashes *hashes;      /* used when media is NULL */
    int64_t platform_key;         /* td_principal_platform of the submitter, 0: none */
    const char *source;           /* where it comes from, 1..TD_CONTENT_SOURCE_MAX of [a-z0-9_]
                                     (reports.h: "e2ee_report"); NULL: "upload" */
    int open_case;                /* non-zero: a case is opened whatever the matches say (a person
                                     flagged it); its priority comes from the matches, as any case's */
    const td_content_part *parts; /* further parts (attachments), 0..TD_CONTENT_PARTS_MAX */
    size_t n_parts;
} td_content_input;

typedef struct td_content {
    int64_t id; /* internal */
    char content_id[TD_CONTENT_ID_MAX + 1];
    int64_t platform_key; /* the platform that submitted it (td_principal_platform of the
                             submitting key), 0: none (another role, or received before content
                             had owners) */
    char uploader[TD_UPLOADER_MAX + 1];
    char url[TD_CASE_URL_MAX + 1];
    char source[TD_CONTENT_SOURCE_MAX + 1]; /* "upload" (content received before sources
                                               existed too), "e2ee_report", ... */
    int64_t time_ms;
    int64_t received_ms;
    char *metadata_json; /* owned; "{}" when none */
    td_hashes hashes;
    td_verdict verdict; /* as of the last match (re-checks may raise it) */
    td_match *matches;  /* owned */
    size_t match_count;
    int has_case;
    td_case kase;           /* the latest case when has_case */
    td_decision *decisions; /* owned, oldest first */
    size_t decision_count;
} td_content;

void td_content_clear(td_content *content);

/* Stores the content with its hashes and matches (its parts' too), opens a case when a matching
 * bank says review or the input asks for one (priority from labels and confidence), and enqueues
 * the actions (webhook events) of block matches; all committed before it returns. Content ids are
 * one namespace for the whole service: a content_id already received, by this platform key or
 * another, fails with TD_ERR_CONFLICT (the message never says by whom). out (may be NULL) receives
 * the stored record. */
__attribute__((warn_unused_result)) td_status
td_content_submit(td_service *svc, const td_content_input *in, td_content *out, td_error *err);
/* The content with hashes, matches, its case and decisions. */
__attribute__((warn_unused_result)) td_status
td_content_get(td_service *svc, const char *content_id, td_content *out, td_error *err);
/* td_content_get as who sees it: a platform principal reads only the content it submitted;
 * another platform's content fails with TD_ERR_NOT_FOUND and the same message as content that
 * does not exist. Other roles (and who NULL) read everything. */
__attribute__((warn_unused_result)) td_status td_content_get_as(td_service *svc,
                                                                const td_principal *who,
                                                                const char *content_id,
                                                                td_content *out, td_error *err);
/* Whether who may see or act on content_id (complaints, order targets): TD_OK, or
 * TD_ERR_NOT_FOUND ("no content '<id>'") both when it does not exist and when it belongs to
 * another platform key. */
__attribute__((warn_unused_result)) td_status
td_content_visible(td_service *svc, const td_principal *who, const char *content_id, td_error *err);
/* The platform key that submitted content_id (0: none); TD_ERR_NOT_FOUND when unknown. */
__attribute__((warn_unused_result)) td_status
td_content_owner(td_service *svc, const char *content_id, int64_t *platform_key, td_error *err);

/* ---- cases and the review queue ---- */

typedef struct td_case_filter {
    unsigned states;    /* bit (1 << td_case_state); 0: open, claimed and escalated */
    int64_t claimed_by; /* non-zero: only cases claimed by this principal */
    size_t limit;       /* 1..TD_PAGE_MAX; 0: 100 */
    size_t offset;
    const char *queue; /* NULL, "" or "all": every case; else a queue id (td_queue.id) */
} td_case_filter;

/* The queue order: priority (highest first), then oldest first. Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_case_list(td_service *svc,
                                                           const td_case_filter *filter,
                                                           td_case **out, size_t *count,
                                                           td_error *err);
__attribute__((warn_unused_result)) td_status td_case_get(td_service *svc, int64_t id, td_case *out,
                                                          td_error *err);
/* Claims an open or escalated case for who. Claiming one's own claim again succeeds; a case
 * claimed by someone else fails with TD_ERR_CONFLICT; a closed case with TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status
td_case_claim(td_service *svc, int64_t id, const td_principal *who, td_case *out, td_error *err);
/* Releases who's claim (admins may release anyone's: pass force non-zero). */
__attribute__((warn_unused_result)) td_status td_case_release(td_service *svc, int64_t id,
                                                              const td_principal *who, int force,
                                                              td_case *out, td_error *err);
/* Records a decision by who with a reason (required, <= TD_REASON_MAX). The case must be claimed
 * by who, or unclaimed (then it is claimed implicitly); claimed by another: TD_ERR_CONFLICT.
 * remove and keep close the case and fire the "remove" / "restore" actions; escalate releases
 * the claim, raises the priority and puts the case back in the queue. */
__attribute__((warn_unused_result)) td_status
td_case_decide(td_service *svc, int64_t id, const td_principal *who, td_decision_kind kind,
               const char *reason, td_decision *out, td_error *err);
/* Decisions of a case, oldest first; free *out with td_free. */
__attribute__((warn_unused_result)) td_status
td_case_decisions(td_service *svc, int64_t id, td_decision **out, size_t *count, td_error *err);

/* ---- the review workflow: reasons, queues, QA, history (docs/casework.md) ---- */

/* One reason of the policy list a decision may name. */
typedef struct td_review_reason {
    char code[TD_REASON_CODE_MAX + 1];       /* [a-z0-9_]{1,40} */
    char label[4 * TD_REASON_LABEL_MAX + 1]; /* UTF-8, 1..TD_REASON_LABEL_MAX characters */
} td_review_reason;

/* Parses a reasons list "code=Label;code=Label" (spaces around items, codes and labels are
 * dropped; an empty item is an error): codes [a-z0-9_]{1,40}, unique; labels 1..120 characters of
 * UTF-8 without control characters; 1..TD_REVIEW_REASONS_MAX reasons. *out freed with td_free. */
__attribute__((warn_unused_result)) td_status
td_review_reasons_parse(const char *text, td_review_reason **out, size_t *count, td_error *err);
/* The service's list: td_service_options.review_reasons, or the TCO Regulation's categories
 * (Art. 2(7)) with not_terrorist_content and other. Borrowed: valid while svc is open. */
const td_review_reason *td_review_reasons(td_service *svc, size_t *count);

/* td_case_decide with a reason code (NULL or "": none; else one of td_review_reasons, or
 * TD_ERR_INVALID naming reason_code). A remove or keep decision opens a QA review with the
 * probability td_service_options.review_qa_share (drawn with libsodium's randombytes; 1: every
 * one, 0: none), in the decision's transaction (audit entry qa.open). */
__attribute__((warn_unused_result)) td_status
td_case_decide_coded(td_service *svc, int64_t id, const td_principal *who, td_decision_kind kind,
                     const char *reason_code, const char *reason, td_decision *out, td_error *err);

/* A queue of undecided (open, claimed, escalated) cases. Every case is in "all"; a case is in
 * "bank:<name>" for each bank its content matched, "label:<label>" for each label of those
 * matches and of the case, "source:<source>" its content's source, "incident:<id>" for each
 * incident whose filter one of its matches met. */
#define TD_QUEUE_ID_MAX (16 + TD_LABEL_MAX)
typedef enum td_queue_kind {
    TD_QUEUE_ALL = 0,
    TD_QUEUE_BANK = 1,
    TD_QUEUE_LABEL = 2,
    TD_QUEUE_SOURCE = 3,
    TD_QUEUE_INCIDENT = 4
} td_queue_kind;

const char *td_queue_kind_name(td_queue_kind kind); /* "all", "bank", "label", ... */

typedef struct td_queue {
    char id[TD_QUEUE_ID_MAX + 1]; /* "all", "bank:<name>", ... */
    td_queue_kind kind;
    const char *value; /* points into id after the colon; NULL for "all" */
    int64_t open, claimed, escalated;
    int64_t oldest_ms; /* opened_ms of its oldest undecided case; 0 when it has none */
} td_queue;

/* "all" first (always), then every queue with at least one undecided case, by id. Free *out
 * with td_free. More than TD_QUEUES_MAX queues fail with TD_ERR_LIMIT. */
#define TD_QUEUES_MAX 100000
__attribute__((warn_unused_result)) td_status td_queue_list(td_service *svc, td_queue **out,
                                                            size_t *count, td_error *err);
/* Whether id is a well-formed queue id ("all" or kind:value). */
int td_queue_id_valid(const char *id);
/* The queues of a case (counts 0), sorted by id; free *out with td_free. A case that does not
 * exist has none. */
__attribute__((warn_unused_result)) td_status
td_case_queues(td_service *svc, int64_t case_id, td_queue **out, size_t *count, td_error *err);

typedef enum td_qa_state { TD_QA_PENDING = 1, TD_QA_AGREED = 2, TD_QA_DISAGREED = 3 } td_qa_state;

const char *td_qa_state_name(td_qa_state state); /* "pending", "agreed", "disagreed" */
__attribute__((warn_unused_result)) td_status td_qa_state_parse(const char *name, td_qa_state *out);

/* A QA review: a second reviewer's look at a sampled decision. It never changes the case. */
typedef struct td_qa {
    int64_t id;
    int64_t case_id;
    char content_id[TD_CONTENT_ID_MAX + 1];
    td_decision first; /* the sampled decision */
    int has_second;
    td_decision second; /* the second review (its id and case_id are the QA review's) */
    td_qa_state state;
    int64_t created_ms;
} td_qa;

/* QA reviews, newest first; states a mask of 1 << td_qa_state (0: all); limit 1..TD_PAGE_MAX
 * (0: 100). Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_qa_list(td_service *svc, unsigned states,
                                                         size_t limit, size_t offset, td_qa **out,
                                                         size_t *count, td_error *err);
__attribute__((warn_unused_result)) td_status td_qa_get(td_service *svc, int64_t id, td_qa *out,
                                                        td_error *err);
/* The second review by who (kind remove or keep; reason_code as in td_case_decide_coded;
 * reason required): agreed when kind is the first decision's, else disagreed (audit entry
 * qa.decide). TD_ERR_CONFLICT when who made the first decision (*same_reviewer set to 1) or
 * the review is not pending. out (may be NULL) receives the review as committed. */
__attribute__((warn_unused_result)) td_status
td_qa_decide(td_service *svc, int64_t id, const td_principal *who, td_decision_kind kind,
             const char *reason_code, const char *reason, int *same_reviewer, td_qa *out,
             td_error *err);

/* One content item of an uploader (td_content_by_uploader). */
typedef struct td_content_brief {
    char content_id[TD_CONTENT_ID_MAX + 1];
    int64_t received_ms;
    char source[TD_CONTENT_SOURCE_MAX + 1];
    char url[TD_CASE_URL_MAX + 1];
    int64_t case_id; /* its latest case, 0: none */
    td_case_state case_state;
    td_decision_kind decision; /* the latest case's outcome, 0: none */
    int64_t matches;
} td_content_brief;

/* The content of one uploader, newest first (limit 1..TD_PAGE_MAX, 0: 100), as who sees it (a
 * platform principal: its own content only). Free *out with td_free. */
__attribute__((warn_unused_result)) td_status
td_content_by_uploader(td_service *svc, const td_principal *who, const char *uploader, size_t limit,
                       size_t offset, td_content_brief **out, size_t *count, td_error *err);

/* One decision with its case's content (td_signal_decisions). */
typedef struct td_decision_ref {
    td_decision decision;
    char content_id[TD_CONTENT_ID_MAX + 1];
} td_decision_ref;

/* The decisions on cases whose content matched signal id of bank, newest first (limit
 * 1..TD_PAGE_MAX, 0: 100). TD_ERR_NOT_FOUND when the bank holds no such signal. Free *out with
 * td_free. */
__attribute__((warn_unused_result)) td_status td_signal_decisions(td_service *svc, const char *bank,
                                                                  int64_t signal_id, size_t limit,
                                                                  td_decision_ref **out,
                                                                  size_t *count, td_error *err);

/* ---- webhooks and deliveries ---- */

/* Events a webhook subscribes to (bit mask). */
enum {
    TD_EVENT_REMOVE = 1 << 0,           /* "remove": a block match or a remove decision */
    TD_EVENT_RESTORE = 1 << 1,          /* "restore": a keep decision */
    TD_EVENT_CASE_OPENED = 1 << 2,      /* "case.opened" */
    TD_EVENT_CASE_DECIDED = 1 << 3,     /* "case.decided" (every decision, escalate included) */
    TD_EVENT_MATCH = 1 << 4,            /* "match": content matched any bank (log banks too) */
    TD_EVENT_NOTICE = 1 << 5,           /* "notice": a user notice (orders.h) to deliver to the
                                           uploader: reasons, order, redress */
    TD_EVENT_ORDER_FEEDBACK = 1 << 6,   /* "order_feedback": the Annex II answer, recorded as sent,
                                           for the platform to relay to the authority */
    TD_EVENT_REFERRAL_ANSWER = 1 << 7,  /* "referral_answer": a referral decided */
    TD_EVENT_EVIDENCE_COLLECT = 1 << 8, /* "evidence.collect": an evidence order asks the platform
                                           for data (evidence_orders.h) */
    TD_EVENT_INCIDENT = 1 << 9,         /* "incident": an incident opened or closed, or a new
                                           signal meeting an open incident's filter (incidents.h),
                                           for peers to fetch at once */
    TD_EVENT_ALL = (1 << 10) - 1
};

/* The name of one event bit. */
const char *td_event_name(unsigned event);
/* Parses a comma-separated list of event names ("*" for all) into a mask. */
__attribute__((warn_unused_result)) td_status td_event_parse(const char *names, unsigned *mask,
                                                             td_error *err);

typedef struct td_webhook {
    int64_t id;
    char url[TD_CASE_URL_MAX + 1]; /* http:// or https:// only */
    unsigned events;
    int64_t platform_key; /* its platform (first key id), 0: none (td_webhook_create_for) */
    int enabled;
    int64_t created_ms;
} td_webhook;

/* Registers a receiver. secret (>= 16 bytes, <= TD_SECRET_MAX) keys the HMAC-SHA256 signature
 * of every delivery: header `X-Takedown-Signature: sha256=<hex>` over the exact body. */
__attribute__((warn_unused_result)) td_status td_webhook_create(td_service *svc, const char *url,
                                                                const char *secret, unsigned events,
                                                                td_webhook *out, td_error *err);
/* A webhook that belongs to one platform (platform_key: the id of a key of role platform, else
 * TD_ERR_INVALID; stored as its platform's first key; 0 is td_webhook_create). Content events
 * (match, case.opened, case.decided, and remove / restore decided on content) go to the webhooks
 * without a platform key and to those of the platform key that submitted the content; content
 * without an owner only to the former. Order events (remove, restore, notice, order_feedback,
 * referral_answer of orders, referrals and complaints) go to every webhook when no target is a
 * platform's content, else like content events (targets of several platform keys: webhooks without
 * a key only). */
__attribute__((warn_unused_result)) td_status
td_webhook_create_for(td_service *svc, const char *url, const char *secret, unsigned events,
                      int64_t platform_key, td_webhook *out, td_error *err);
/* By id; free *out with td_free. More than TD_WEBHOOKS_MAX fail with TD_ERR_LIMIT. */
#define TD_WEBHOOKS_MAX 10000
__attribute__((warn_unused_result)) td_status td_webhook_list(td_service *svc, td_webhook **out,
                                                              size_t *count, td_error *err);
__attribute__((warn_unused_result)) td_status td_webhook_delete(td_service *svc, int64_t id,
                                                                td_error *err);
/* td_webhook_create_for and td_webhook_delete on behalf of who (the actor of their audit entries,
 * which never hold the secret; NULL: "system"). */
__attribute__((warn_unused_result)) td_status
td_webhook_create_as(td_service *svc, const td_principal *who, const char *url, const char *secret,
                     unsigned events, int64_t platform_key, td_webhook *out, td_error *err);
__attribute__((warn_unused_result)) td_status
td_webhook_delete_as(td_service *svc, const td_principal *who, int64_t id, td_error *err);

typedef enum td_delivery_state {
    TD_DELIVERY_PENDING = 1,   /* waiting for its next attempt */
    TD_DELIVERY_DELIVERED = 2, /* the receiver answered 2xx */
    TD_DELIVERY_DEAD = 3       /* webhook_max_attempts failed */
} td_delivery_state;

const char *td_delivery_state_name(td_delivery_state state);

typedef struct td_delivery {
    int64_t id;
    int64_t webhook_id;
    char event[32];
    char idempotency_key[65]; /* also sent as header Idempotency-Key, stable across retries */
    td_delivery_state state;
    int attempts;
    int last_status; /* HTTP status of the last attempt, 0 if none arrived */
    char last_error[TD_ERROR_TEXT_MAX + 1];
    int64_t created_ms;
    int64_t next_attempt_ms;
    int64_t delivered_ms;
} td_delivery;

/* The delivery log, newest first; webhook_id 0 for all. Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_delivery_list(td_service *svc, int64_t webhook_id,
                                                               size_t limit, td_delivery **out,
                                                               size_t *count, td_error *err);

/* Attempts every delivery that is due now, on the calling thread (what the worker thread does;
 * useful when webhook_worker is 0). *attempted (may be NULL) receives the number of attempts. */
__attribute__((warn_unused_result)) td_status td_webhook_run_due(td_service *svc, size_t *attempted,
                                                                 td_error *err);

/* Wakes the worker thread (e.g. after a clock change in tests). */
void td_webhook_kick(td_service *svc);

#ifdef __cplusplus
}
#endif

#endif
