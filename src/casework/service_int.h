/* Inside the service: the td_service structure and the helpers its modules share. */
#ifndef TD_CASEWORK_SERVICE_INT_H
#define TD_CASEWORK_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "takedown/audit.h"
#include "takedown/casework.h"
#include "takedown/index.h"
#include "takedown/store.h"
#include "takedown/text.h"
#include "takedown/url.h"

/* Kinds of change-log entries (table changes). ADD_RANGE (a bulk import, migration 3) stands for
 * an ADD of every signal with signal_id <= id <= last_id: all of them were indexable when it was
 * written, and nothing else has ids in that range. Followers expand it from the signals table
 * (those still indexable when read: later changes of those signals are in the log after it, so
 * the result is the same as replaying one ADD per signal). */
enum { TD__CHANGE_ADD = 1, TD__CHANGE_REMOVE = 2, TD__CHANGE_BANKS = 3, TD__CHANGE_ADD_RANGE = 4 };

/* One MD5 or SHA-256 signal of a range hint. */
typedef struct td__range_key {
    td_signal_type type;
    uint8_t raw[32];
    uint64_t id;
} td__range_key;

/* What an import already holds in memory of its ADD_RANGE entry: every signal of the range (its
 * PDQ ops and MD5/SHA-256 keys). The local follower applies it instead of reading the range back
 * from the signals table; the entry is recognised by seq and range. */
typedef struct td__range_hint {
    uint64_t seq;
    int64_t first_id, last_id;
    td_index_op *pdq;
    size_t n_pdq, cap_pdq;
    td__range_key *keys;
    size_t n_keys, cap_keys;
    /* The PDQ additions built into an index segment ahead (may be NULL): the follower
     * publishes it and takes it over (sets it to NULL). */
    td_index_prebuilt *built;
} td__range_hint;

/* What the check path needs of a bank, copied out of the store by the follower. */
typedef struct td__bank_view {
    int64_t id;
    char name[TD_NAME_MAX + 1];
    td_labels labels;
    int enabled, threshold;
    double enabled_ratio; /* HMA's matching_enabled_ratio (td_bank); enabled is ratio > 0 */
    td_action action;
    td_bank_kind kind;
} td__bank_view;

/* banks.enabled_ratio as the store keeps it: text that reads back as the same double. */
#define TD__RATIO_TEXT 32
void td__ratio_format(double ratio, char out[TD__RATIO_TEXT]);
/* The stored text as a ratio (clamped to 0..1; unreadable text reads as 1.0). */
double td__ratio_parse(const char *text);

struct td_service {
    td_store *store;
    td_service_options opts;
    char *dir;
    /* The one audit log of the data directory, opened here and borrowed by every component
     * (orders, evidence): every state change appends to it in its own transaction. */
    td_audit *audit;

    /* Live indexes; they follow the change log. */
    td_index *pdq;
    td_index_map *md5, *sha256;
    td_index_map *url, *url_md5; /* SHA-256 of a canonical URL; url_md5 */
    /* Body signals: the vPDQ index, the raw_text index, domain and prefix rules. Queries hold
     * body_lock shared, the follower exclusive while it adds or removes. */
    pthread_rwlock_t body_lock;
    td_vpdq_index *vpdq;
    td_text_index *text;
    td_url_rules *rules;
    pthread_mutex_t follow_lock;
    uint64_t applied_seq; /* under follow_lock */
    _Atomic uint64_t applied_seq_pub;
    atomic_int ready;

    /* Bank views (small), replaced as a whole under banks_lock. */
    pthread_rwlock_t banks_lock;
    td__bank_view *banks;
    size_t n_banks;
    int max_threshold; /* largest threshold of an enabled bank, -1 if none */
    /* HMA's enabled_ratio of each signal type (index td_signal_type; 1.0 unless set), reloaded
     * with the bank views. */
    double type_ratio[TD_SIGNAL_TYPE_MAX + 1];

    /* Open incidents' rules (incidents.h), replaced as a whole by the incidents module, and the
     * matches they applied to, queued for it (bounded: beyond TD__INCIDENT_HITS_MAX waiting,
     * hits are counted as dropped). Under incident_lock. */
    pthread_mutex_t incident_lock;
    struct td__incident_rule *incident_rules;
    size_t n_incident_rules;
    /* Whether any rule is set, read without the lock by every match (most of the time there is
     * no open incident, and the check path then takes no lock for it). */
    atomic_int incident_rules_any;
    struct td__incident_hit *incident_hits;
    size_t n_incident_hits, cap_incident_hits;
    uint64_t incident_hits_dropped;

    /* The review reasons (td_review_reasons): the configured list or the default one. */
    td_review_reason *reasons;
    size_t n_reasons;

    /* Background threads. */
    pthread_mutex_t thread_lock;
    pthread_cond_t wake;
    int stopping;
    int kicked;
    int follower_started, worker_started;
    pthread_t follower, worker;
    pthread_mutex_t deliver_lock; /* one delivery round at a time */
};

int64_t td__now(td_service *svc);

/* The review workflow (review.c, queues.c). td__reasons_load: svc->reasons from
 * svc->opts.review_reasons, or the default list. td__case_queues_sync: rewrites the queues of
 * the content's undecided case (none: nothing to do) from its matches, its labels and its
 * content's source, inside c's write transaction. td__qa_maybe_open: draws whether decision
 * did of case_id goes to QA, and opens the review (audit qa.open) when it does. */
td_status td__reasons_load(td_service *svc, td_error *err);
int td__reason_known(td_service *svc, const char *code);
td_status td__case_queues_sync(td_store_conn *c, int64_t content_ref, td_error *err);
td_status td__qa_maybe_open(td_service *svc, td_store_conn *c, const td_principal *who,
                            int64_t case_id, int64_t did, const char *content_id, td_error *err);

/* Appends an audit entry for who (NULL: "system") inside c's open write transaction, so that it
 * commits or rolls back with the change it records. The actor is who's name; details (a JSON
 * object, stolen; NULL: an empty one) receive "actor_id" and "actor_role". */
struct json_t;
td_status td__audit(td_service *svc, td_store_conn *c, const td_principal *who, const char *action,
                    const char *object, struct json_t *details, td_error *err);
/* The same for an object named by a number ("bank:12"). */
td_status td__audit_id(td_service *svc, td_store_conn *c, const td_principal *who,
                       const char *action, const char *kind, int64_t id, struct json_t *details,
                       td_error *err);

/* Bounded copy that always terminates dst (dst_size > 0); returns TD_ERR_LIMIT if src was
 * longer than dst_size - 1 (dst then holds nothing useful). */
td_status td__copy(char *dst, size_t dst_size, const char *src, const char *what, td_error *err);
void td__copy_trunc(char *dst, size_t dst_size, const char *src);

/* Labels as stored: space-separated. */
void td__labels_join(const td_labels *labels, char *out, size_t cap);
void td__labels_merge(td_labels *into, const td_labels *from);
void td__labels_load(td_labels *labels, const char *text);

/* Signals usable by the index: enabled, and not a PDQ of known quality below 50. */
int td__signal_indexable(td_signal_type type, int quality, int enabled);

/* Reads a signal row selected with TD__SIGNAL_COLUMNS from s.id. */
#define TD__SIGNAL_COLUMNS                                                                         \
    "s.id, s.bank_id, b.name, s.type, s.value, s.quality, s.labels, s.source, s.confidence, "      \
    "s.enabled, s.added_ms, COALESCE(LENGTH(sb.body), 0), COALESCE(sb.display, '')"
/* The tables TD__SIGNAL_COLUMNS reads. */
#define TD__SIGNAL_FROM                                                                            \
    " FROM signals s JOIN banks b ON b.id = s.bank_id"                                             \
    " LEFT JOIN signal_bodies sb ON sb.signal_id = s.id"
void td__signal_row(td_stmt *q, td_signal *out);

/* ---- HMA bank content (bank_content.c) ---- */

/* Runs in the transaction of a signal addition after its inserts: ids[i] is the signal of input
 * i, added[i] 1 when it is new (0: the bank held it already). */
typedef td_status (*td__add_hook)(td_service *svc, td_store_conn *c, int64_t bank_id,
                                  const int64_t *ids, const int *added, size_t n, void *ctx,
                                  td_error *err);
/* Adds ins[0..n) (one per type, n <= TD_SIGNAL_TYPE_MAX; labels, source and confidence of
 * ins[0]) in one transaction, tolerating signals already held, with hook before the commit. */
td_status td__signals_add_hooked(td_service *svc, const td_principal *who, const char *bank,
                                 const td_signal_input *ins, size_t n, td__add_hook hook,
                                 void *hook_ctx, td_signal *out, td_error *err);
/* td_signal_add_media_as with hook, leaving out the types in skip (bits 1u << type). */
td_status td__signal_add_media_hooked(td_service *svc, const td_principal *who, const char *bank,
                                      const uint8_t *data, size_t len, const td_signal_input *in,
                                      unsigned skip, td__add_hook hook, void *hook_ctx,
                                      td_signal out[3], size_t *count, td_error *err);
/* Whether content with disable_until_ts matches at now_ms (HMA: 0 never, 1 always, else from
 * that Unix second on). */
int td__content_active(int64_t disable_until_ts, int64_t now_ms);
/* The HMA content of signal_id and whether it matches at now_ms, on c. */
td_status td__signal_content(td_store_conn *c, int64_t signal_id, int64_t now_ms,
                             int64_t *content_id, int *active, td_error *err);

/* ---- body signals (bodies.c) ---- */

/* The exact-match map of a hash type (md5, sha256, url, url_md5); NULL for others. */
td_index_map *td__map_for(td_service *svc, td_signal_type type);
/* Types the follower puts in the body indexes (vpdq, raw_text, url_domain, url_prefix). */
int td__body_indexed(td_signal_type type);
/* Adds or removes one body signal in its index (takes body_lock). A body that no longer
 * parses is skipped (it was checked when added). */
td_status td__body_index_add(td_service *svc, uint64_t id, td_signal_type type, const char *body,
                             size_t len, td_error *err);
void td__body_index_remove(td_service *svc, uint64_t id, td_signal_type type);
/* Reads a signal's body on c (NULL when missing; *body freed with td_free). */
td_status td__body_read(td_store_conn *c, int64_t id, char **body, size_t *len, td_error *err);
/* The readable start of a body into display. */
void td__body_display(td_signal_type type, const char *body, size_t len,
                      char display[TD_SIGNAL_DISPLAY_MAX + 1]);

/* A match candidate before the bank and signal are resolved. */
typedef struct td__cand {
    uint64_t sid;
    int distance;
    int variant;
    td_signal_type type;
    double query_percent, compared_percent;
    int url_index;
} td__cand;

/* Turns an index hit into a match record on c: reads the signal's row (bank, labels, confidence,
 * enabled, type), takes the bank's view (name, labels, action, kind, threshold) and merges the
 * labels. *counts is 0 when the hit does not count (signal gone or disabled, bank disabled, a
 * PDQ distance over the bank's threshold); suppression is td__verdict's. The one resolver of
 * the upload check and the re-check of recent content. */
td_status td__match_resolve(td_service *svc, td_store_conn *c, const td__cand *k, td_match *m,
                            int *counts, td_error *err);

/* Candidates from the body indexes and URL maps for h (vpdq, text, urls). */
td_status td__check_bodies(td_service *svc, const td_hashes *h, td__cand **cands, size_t *n,
                           size_t *cap, td_error *err);

/* Media bytes hashed by the service: an image (PDQ + variants, digests) or a video (digests and
 * vPDQ, owned here: h.vpdq points into vpdq). */
typedef struct td__media_hashes {
    td_hashes h;
    td_vpdq vpdq;
    const char *kind; /* "image" or "video" */
} td__media_hashes;
void td__media_hashes_clear(td__media_hashes *m);

/* Bytes of a hash value: 32 (pdq, sha256), 16 (md5), 0 for an unknown type. */
size_t td__signal_raw_len(td_signal_type type);
/* A PDQ from its 32 bytes in hex order (as td_pdq_from_hex reads the digits). */
void td__pdq_from_raw(const uint8_t raw[32], td_pdq *out);

/* Stored signal values (signal_value.c): bytes of a value of the type (td__signal_raw_len, or
 * 32 for a body signal's SHA-256); column col of q read as raw bytes (stored raw or as hex;
 * -1 for neither), or as lowercase hex; a hex value bound in its stored form. */
size_t td__signal_value_len(td_signal_type type);
int td__value_column(td_stmt *q, int col, td_signal_type type, uint8_t raw[32]);
int td__value_column_hex(td_stmt *q, int col, td_signal_type type, char out[65]);
td_status td__value_bind(td_stmt *q, int index, td_signal_type type, const char *hex,
                         td_error *err);

/* Appends one change-log entry (inside the caller's transaction). The value (hex) is stored as
 * raw bytes when it is a valid hash of the type; followers read either form. */
td_status td__log_change(td_store_conn *c, int kind, int64_t bank_id, int64_t signal_id,
                         td_signal_type type, const char *value, int64_t now, td_error *err);

/* Follows the change log; the caller may hold the writer connection. */
td_status td__follow(td_service *svc, uint64_t *applied, td_error *err);
/* The same with the contents of one ADD_RANGE entry at hand (hint may be NULL). */
td_status td__follow_hint(td_service *svc, td__range_hint *hint, uint64_t *applied, td_error *err);
/* Appends an ADD_RANGE entry (inside the caller's transaction); *seq receives its position. */
td_status td__log_range(td_store_conn *c, int64_t bank_id, int64_t first_id, int64_t last_id,
                        int64_t now, uint64_t *seq, td_error *err);
/* Loads the indexes and banks at open. */
td_status td__load(td_service *svc, td_error *err);
/* A copy of the bank view with this id; 0 if unknown. */
int td__bank_view_get(td_service *svc, int64_t id, td__bank_view *out);
/* Looks a bank up by name on connection c; TD_ERR_NOT_FOUND names it. */
td_status td__bank_id(td_store_conn *c, const char *name, int64_t *id, td_error *err);

/* The check on already computed hashes, with the store connection c used for signal rows (a
 * reader or the writer held by the caller; NULL: one is acquired when needed). */
td_status td__check(td_service *svc, td_store_conn *c, const td_hashes *hashes,
                    const td_check_options *opts, td_check_result *out, td_error *err);
/* Hashes media with the service's options: an image (PDQ with its dihedral variants, MD5,
 * SHA-256) or a video (MD5, SHA-256, vPDQ). Clear out afterwards. */
td_status td__hash_media(td_service *svc, const uint8_t *data, size_t len, td__media_hashes *out,
                         td_error *err);
/* Verdict and suppression over matches (sets suppressed flags). */
td_verdict td__verdict(td_match *matches, size_t n);

/* Content: record matches for content_ref (inserting new ones, recomputing verdict, opening a
 * case and enqueuing events as needed). Inside the caller's write transaction. */
td_status td__content_apply(td_service *svc, td_store_conn *c, int64_t content_ref,
                            const td_match *matches, size_t n, td_error *err);
/* Content intake in two steps, for a caller that records content inside its own transaction (a
 * verified report and its content commit together, reports.h). td__content_prepare validates the
 * input and hashes its media and parts (slow: outside any transaction); td__content_insert then
 * checks every part under the writer c (a signal added concurrently is seen here or by its
 * re-check), inserts the row, its matches, the case and the events, inside c's open write
 * transaction. A taken content id is TD_ERR_CONFLICT. *ref receives the content's row, *case_id
 * (may be NULL) its open case (0: none). The input prepared must outlive the insert. */
typedef struct td__content_prep {
    const td_content_input *in;
    td__media_hashes main; /* in->media hashed; h points here or at *in->hashes */
    td_hashes h;
    td__media_hashes *parts; /* one per in->parts[i]; .h is what is checked */
    size_t n_parts;
    char pdq[TD_DIH_COUNT * 64 + 1];
    char *meta; /* compact metadata JSON (jansson's), NULL: "{}" */
} td__content_prep;
td_status td__content_prepare(td_service *svc, const td_content_input *in, td__content_prep *out,
                              td_error *err);
void td__content_prep_clear(td__content_prep *p);
td_status td__content_insert(td_service *svc, td_store_conn *c, const td__content_prep *p,
                             int64_t *ref, int64_t *case_id, td_error *err);

/* Re-checks content received within the window against bank's signals with id >= first_id.
 * Takes its own transaction on the writer c (which the caller holds, outside a transaction). */
td_status td__recheck(td_service *svc, td_store_conn *c, int64_t bank_id, int64_t first_id,
                      td_error *err);

/* Webhook events: enqueues a delivery for every subscribed webhook (inside the caller's
 * transaction). subject makes the idempotency key (same event + subject = same key). body is a
 * JSON object (serialised here, with "id" and "event" added). */
td_status td__event_enqueue(td_service *svc, td_store_conn *c, unsigned event, const char *subject,
                            struct json_t *payload, td_error *err);
/* The same with the platform scope given: TD__SCOPE_ALL every subscribed webhook; 0 those without
 * a platform key; a key id those and the key's own. td__event_enqueue (order events) derives it
 * from the content ids its payload names ("content_id", "content": {"id"} or [{"content_id"}]):
 * TD__SCOPE_ALL when none is a platform's, the owner when one platform's, else 0. */
#define TD__SCOPE_ALL (-1)
td_status td__event_enqueue_for(td_service *svc, td_store_conn *c, unsigned event,
                                const char *subject, struct json_t *payload, int64_t scope,
                                td_error *err);
/* The platform (its first key's id) of platform key id; TD_ERR_INVALID for another role or an
 * unknown id. */
td_status td__key_platform(td_store_conn *c, int64_t id, int64_t *platform, td_error *err);
/* The platform key of content row ref (0: none or no such row). */
td_status td__content_ref_owner(td_store_conn *c, int64_t ref, int64_t *owner, td_error *err);
/* The platform key of content_id; *found 0 when no such content. */
td_status td__content_id_owner(td_store_conn *c, const char *content_id, int64_t *owner, int *found,
                               td_error *err);
td_status td__webhook_worker_start(td_service *svc, td_error *err);
void td__json_add_match(struct json_t *arr, const td_match *m);

/* Cases (cases.c): the first case row matching "WHERE <where>" with $1 = arg (*found 0 if
 * none); decisions of a content item (content_ref) or of one case (case_id), oldest first. */
td_status td__case_load(td_store_conn *c, const char *where, int64_t arg, td_case *out, int *found,
                        td_error *err);
td_status td__decisions_load(td_store_conn *c, int64_t content_ref, int64_t case_id,
                             td_decision **out, size_t *count, td_error *err);

/* ---- signals kept in step with an outside source (sync.c, used by src/exchange/) ---- */

enum {
    TD__SYNC_UNCHANGED = 0,
    TD__SYNC_ADDED,
    TD__SYNC_UPDATED,
    TD__SYNC_REMOVED,
    TD__SYNC_ABSENT
};

typedef struct td__sync_item {
    int remove; /* 1: retract the source's own signal (type, value) */
    td_signal_type type;
    const char *value;  /* hex hash, or a body */
    size_t len;         /* bytes of value */
    const char *labels; /* an addition's labels, valid and joined by single spaces (NULL: none);
                           they replace those of the source's own signal */
    int confidence;     /* -1: TD_CONFIDENCE_DEFAULT */
    int digest;         /* a retraction of a body type by the SHA-256 of its canonical body (the
                           signal's stored value) instead of the body */
    int64_t signal_id;  /* set: the signal added, updated, held or removed (0: none) */
    int outcome;        /* set: TD__SYNC_* */
} td__sync_item;

typedef struct td__sync_counts {
    uint64_t added, updated, unchanged, removed, absent;
} td__sync_counts;

/* Applies items to bank_id for source (the signals' source column) inside c's open write
 * transaction: an addition inserts the signal (enabled, with its body), re-enables and relabels
 * the source's own, and leaves one of another source as it is; a retraction deletes the
 * source's own signal only. Change-log entries as every signal change writes them. A value that
 * does not parse fails the whole call naming the item (the caller rolls back). *first_new
 * receives the lowest id added or re-enabled (left as it is when none). */
td_status td__sync_apply(td_service *svc, td_store_conn *c, int64_t bank_id, const char *source,
                         td__sync_item *items, size_t n, td__sync_counts *counts,
                         int64_t *first_new, td_error *err);
/* After the commit: the indexes follow, and recent content is re-checked against the signals
 * from first_new on (c: the writer, outside a transaction). */
td_status td__sync_done(td_service *svc, td_store_conn *c, int64_t bank_id, int64_t first_new,
                        td_error *err);
/* ---- incidents (incident_rules.c) ----
 * The incidents module (src/exchange/incidents*.c, above casework) sets the rules of the open
 * incidents here; the check path applies them where a match is resolved, so every way content
 * is matched (the upload check, content intake, the re-check of recent content after a signal is
 * added, HMA lookups) takes an incident's enforcement whatever the signal's source. */
#define TD__INCIDENT_BANKS_MAX 16
#define TD__INCIDENT_HITS_MAX 65536
typedef struct td__incident_rule {
    int64_t id;
    td_labels labels; /* any of these among the match's labels; none: any labels */
    char banks[TD__INCIDENT_BANKS_MAX][TD_NAME_MAX + 1];
    int n_banks;      /* the match's bank is one of these; 0: any bank */
    td_action action; /* TD_ACTION_BLOCK or TD_ACTION_REVIEW */
} td__incident_rule;

/* One matched check or content item under an incident (one per incident and call). */
typedef struct td__incident_hit {
    int64_t incident_id, signal_id, content_ref, at_ms;
    char bank[TD_NAME_MAX + 1];
    td_signal_type type;
    td_verdict verdict;
    int blocked; /* the verdict is block and the incident's match asked for it */
    char content_id[TD_CONTENT_ID_MAX + 1];
    char via[16]; /* "check", "content" */
} td__incident_hit;

/* Replaces the rule list (copied). */
td_status td__incident_rules_set(td_service *svc, const td__incident_rule *rules, size_t n,
                                 td_error *err);
/* Whether a match in bank with these labels meets rule's filter. */
int td__incident_rule_meets(const td__incident_rule *rule, const char *bank,
                            const td_labels *labels);
/* Sets m's incident (the strongest enforcement among the rules it meets, then the oldest) when
 * its bank is not an allow bank. */
void td__incident_apply(td_service *svc, td_match *m);
/* Queues one hit per incident among the unsuppressed matches (none without an incident). */
void td__incident_note(td_service *svc, const td_match *m, size_t n, td_verdict v,
                       int64_t content_ref, const char *content_id, const char *via);
/* Takes the queued hits (*out freed with td_free; NULL when none) and the dropped count. */
size_t td__incident_hits_take(td_service *svc, td__incident_hit **out, uint64_t *dropped);

/* Shared helpers for owning lists. */
td_status td__grow(void **items, size_t *cap, size_t need, size_t size, td_error *err);

#endif
