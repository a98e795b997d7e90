/* Removal orders (EU Regulation 2021/784, "TCO"), referrals, user notices, complaints and the
 * transparency report, on top of the casework service (casework.h), the audit log (audit.h) and
 * the evidence store (evidence.h).
 *
 * Why a module of its own rather than more casework: an order is not a case. It arrives signed
 * from an outside authority, carries a legal clock (one hour from receipt) that keeps running
 * whether or not a moderator looks at it, and every step must be provable afterwards (the audit
 * log) and countable (the Art. 7 report). Orders therefore live in their own tables (component
 * "orders") and use casework only to locate content and to fire the platform's "remove" and
 * "restore" webhooks.
 *
 * Durability: every function that records something (a receipt, a confirmation, a decision)
 * commits it, together with its audit entry, before it returns. Times are milliseconds since the
 * epoch (UTC) read from the service's injectable clock. The clocks advance in td_orders_tick:
 * a handle opened with opts.clock runs it on a thread of its own (with the retried
 * preservation of confirmed orders and the evidence purge), as the service runs its change-log
 * follower; without it (the default) the caller ticks, as tests do after moving their clock.
 *
 * Errors: as in casework.h (TD_ERR_INVALID / _LIMIT / _NOT_FOUND / _CONFLICT with a message that
 * names the field). Intake additionally says why an order was refused in td_order_rejection, so
 * that the HTTP layer can answer 401 / 403 / 413 / 422 precisely. */
#ifndef TAKEDOWN_ORDERS_H
#define TAKEDOWN_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "casework.h"
#include "config.h"
#include "evidence.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (bytes) ---- */

#define TD_ORDER_MAX_BODY 65536 /* a signed order or referral */
#define TD_ORDER_MAX_TARGETS 16 /* URLs / content ids per order */
#define TD_ORDER_REF_MAX 128    /* the authority's reference */
#define TD_ORDER_ADDRESSEE_MAX 256
#define TD_ORDER_CONTACT_MAX 512    /* authority contact, follow-up contact */
#define TD_ORDER_STATEMENT_MAX 4096 /* statement of reasons, explanations, complaint text */
#define TD_ORDER_REDRESS_MAX 2048
#define TD_ORDER_MAX_DNI_DAYS 42 /* do-not-inform period: at most six weeks (Art. 11(3)) */
#define TD_ORDER_MAX_MARKS 8     /* escalation marks */
#define TD_ED25519_PUBKEY_LEN 32
#define TD_ORDER_LANG_MAX 3 /* an ISO 639 language code: "de", "fra" */

/* ---- the handle ---- */

typedef struct td_orders td_orders;

typedef struct td_orders_options {
    int64_t deadline_ms;                  /* receipt (or clarification) to deadline (default 1 h) */
    int64_t marks_ms[TD_ORDER_MAX_MARKS]; /* escalation marks after the clock start, increasing
                                             (default 15, 30, 45 min) */
    size_t n_marks;
    int64_t first_contact_ms;    /* notice an authority owes before its first order (12 h) */
    int64_t challenge_window_ms; /* cross-border review may be asked this long (48 h) */
    int64_t review_decision_ms;  /* and is decided within this (72 h) */
    int64_t complaint_answer_ms; /* complaints are answered within this (14 days) */
    int64_t max_skew_ms;         /* a platform's confirmation time may be this far ahead (5 min) */
    int auto_execute;            /* execute an order as soon as it is received (default 1) */
    td_audit *log;               /* NULL: the service's log (td_service_audit), borrowed */
    td_evidence *evidence;       /* NULL: td_orders_open opens the evidence store on that log */
    /* Background duties, on a thread started by td_orders_open and stopped by td_orders_close
     * (0, the default: none, the caller calls td_orders_tick). Every clock_interval_ms the
     * thread ticks; once the evidence master key exists (at the first tick that sees it, then
     * every evidence_sweep_ms) it retries the preservation of confirmed orders not yet
     * preserved (the newest TD_PAGE_MAX orders) and purges evidence whose retention ended. */
    int clock;
    int64_t clock_interval_ms; /* default 1 s */
    int64_t evidence_sweep_ms; /* default 60 s */
    /* What the thread has to tell an operator (a failing tick, at most once a minute; marks and
     * breaches; retries and purges), one line per call; NULL: nothing. Called on the thread. */
    void (*log_message)(void *ctx, const char *message);
    void *log_ctx;
} td_orders_options;

void td_orders_options_default(td_orders_options *opts);
/* Defaults overridden by cfg (order_deadline_ms, order_escalation_step_ms,
 * order_first_contact_ms; NULL: the table's defaults). */
__attribute__((warn_unused_result)) td_status
td_orders_options_from_config(td_orders_options *opts, const td_config *cfg, td_error *err);

/* Opens the orders component on an open service (tables created on first use). log and evidence
 * given in opts are used, not owned; when NULL they are opened on the service's store and data
 * directory with the service's clock and owned by the handle. opts may be NULL. With opts.clock
 * the background thread is started (TD_ERR_INTERNAL when it cannot be). */
__attribute__((warn_unused_result)) td_status
td_orders_open(td_service *svc, const td_orders_options *opts, td_orders **out, td_error *err);
/* Stops the background thread (waiting for a tick in progress), then frees. Accepts NULL.
 * Close it before the service. */
void td_orders_close(td_orders *orders);

/* Figures of the background thread since td_orders_open (all 0 without opts.clock). */
typedef struct td_orders_clock_stats {
    int running;                   /* the thread runs */
    uint64_t ticks, tick_failures; /* td_orders_tick calls, of which failed */
    uint64_t preservation_retries; /* confirmed orders whose preservation was retried */
    uint64_t evidence_purged;      /* evidence cases purged at the end of retention */
} td_orders_clock_stats;

void td_orders_clock_get_stats(td_orders *orders, td_orders_clock_stats *out);

/* The audit log and evidence store in use (e.g. for the log endpoints, or to create the
 * evidence master key). */
td_audit *td_orders_audit(td_orders *orders);
td_evidence *td_orders_evidence(td_orders *orders);

/* ---- authorities ---- */

typedef enum td_authority_kind {
    TD_AUTHORITY_COMPETENT = 1,     /* issues removal orders (a Member State's competent authority);
                                       may also issue evidence orders (evidence_orders.h) */
    TD_AUTHORITY_REFERRAL_UNIT = 2, /* sends referrals (EU IRU, UK CTIRU): no legal clock */
    TD_AUTHORITY_EVIDENCE = 3,      /* an EU Member State's issuing authority of evidence orders
                                       only (prosecutor, judge, court): no removal orders */
    TD_AUTHORITY_THIRD_COUNTRY = 4  /* a third country's authority under an agreement (UK OPO:
                                       member_state "GB"; US CLOUD Act: "US"): evidence orders
                                       only; member_state any code that is not an EU one */
} td_authority_kind;

/* "competent", "referral_unit", "evidence", "third_country"; and back (TD_ERR_INVALID). */
const char *td_authority_kind_name(td_authority_kind kind);
__attribute__((warn_unused_result)) td_status td_authority_kind_parse(const char *name,
                                                                      td_authority_kind *out);

typedef struct td_authority {
    int64_t id;
    td_authority_kind kind;
    char name[TD_NAME_MAX + 1]; /* as written in its orders' issuing_authority.name */
    char member_state[3];       /* ISO 3166 alpha-2 ("EL" for Greece); "EU" for Europol */
    char contact[TD_ORDER_CONTACT_MAX + 1];
    uint8_t public_key[TD_ED25519_PUBKEY_LEN];
    int64_t announced_ms; /* when it announced itself (first-contact notice) */
    int64_t created_ms;
} td_authority;

typedef struct td_authority_input {
    td_authority_kind kind; /* 0: competent */
    const char *name;
    const char *member_state; /* competent authorities: an EU Member State */
    const char *contact;
    const char *public_key; /* 64 hex digits or base64 of 32 bytes */
    int64_t announced_ms;   /* 0: now */
} td_authority_input;

__attribute__((warn_unused_result)) td_status
td_authority_register(td_orders *orders, const char *actor, const td_authority_input *in,
                      td_authority *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_authority_get(td_orders *orders, int64_t id,
                                                               td_authority *out, td_error *err);
/* A Takedown-Signature header value, "ed25519=<base64 of 64 bytes>" (surrounding blanks allowed),
 * to the signature's bytes: 0, or -1 when it is not of that form. */
int td_authority_signature_parse(const char *header, uint8_t sig[64]);
/* Whether header is authority id's signature over body[0..len): TD_OK, TD_ERR_INVALID naming
 * what is wrong (no or a malformed header, a signature that does not verify), TD_ERR_NOT_FOUND
 * for an unknown authority. */
__attribute__((warn_unused_result)) td_status td_authority_verify(td_orders *orders, int64_t id,
                                                                  const uint8_t *body, size_t len,
                                                                  const char *header,
                                                                  td_error *err);
/* By name; free *out with td_free. More than TD_AUTHORITIES_MAX fail with TD_ERR_LIMIT. */
#define TD_AUTHORITIES_MAX 10000
__attribute__((warn_unused_result)) td_status
td_authority_list(td_orders *orders, td_authority **out, size_t *count, td_error *err);
/* Links an API key of role `authority` to an authority: orders sent with that key must be
 * issued by it. A key is linked to one authority at most (TD_ERR_CONFLICT). */
__attribute__((warn_unused_result)) td_status td_authority_link_key(td_orders *orders,
                                                                    const char *actor,
                                                                    int64_t authority_id,
                                                                    int64_t key_id, td_error *err);
/* The authority linked to key_id (TD_ERR_NOT_FOUND when none). */
__attribute__((warn_unused_result)) td_status
td_authority_for_key(td_orders *orders, int64_t key_id, int64_t *authority_id, td_error *err);

/* ---- the order document (parsing only; no store) ----
 * JSON object, unknown members refused:
 *   "type": "removal_order" | "referral"                           required
 *   "issuing_member_state": "DE"                                   required for orders
 *   "addressee": text                                              required for orders
 *   "reference": text (printable, <= TD_ORDER_REF_MAX)             required
 *   "issued_at": "YYYY-MM-DDTHH:MM:SS[.fff]Z"                      required
 *   "content": [{"url": text} | {"content_id": text} | both], 1..TD_ORDER_MAX_TARGETS
 *   "reason": {"category": "a".."e", "statement": text}            category required for orders
 *   "do_not_inform": bool, "do_not_inform_days": 1..42 (when true) required for orders
 *   "cross_border": bool                                           required for orders
 *   "emergency": bool                                              optional (false)
 *   "issuing_authority": {"name": text, "contact": text}           name required
 *   "follow_up_contact": text                                      required for orders
 *   "redress": text                                                required for orders
 *   "language": "de" (ISO 639-1 or -2 code, any case; stored lower) optional: picks the user
 *                                                                  notice template */

typedef enum td_order_kind { TD_ORDER_REMOVAL = 1, TD_ORDER_REFERRAL = 2 } td_order_kind;

typedef struct td_order_target {
    char url[TD_CASE_URL_MAX + 1];           /* as sent ("" when none) */
    char canonical_url[TD_CASE_URL_MAX + 1]; /* td_url_canonicalize of url ("" when none) */
    char content_id[TD_CONTENT_ID_MAX + 1];  /* as sent, or as located ("" when unknown) */
    int located;                             /* stored orders: matched to received content */
    int removed;                             /* stored orders: removal confirmed */
    int64_t evidence_item;                   /* stored orders: sealed item id, 0 when none */
    int64_t media_item; /* stored orders: the removed media's sealed item (td_order_preserve_media),
                           0 until the platform uploaded it */
    char media_sha256[65]; /* SHA-256 (hex) of those media bytes, "" when none */
} td_order_target;

typedef struct td_order_doc {
    td_order_kind kind;
    char member_state[3];
    char addressee[TD_ORDER_ADDRESSEE_MAX + 1];
    char reference[TD_ORDER_REF_MAX + 1];
    int64_t issued_ms;
    size_t n_targets;
    td_order_target targets[TD_ORDER_MAX_TARGETS];
    char category; /* 'a'..'e', or 0 (referrals may omit it) */
    char statement[TD_ORDER_STATEMENT_MAX + 1];
    int do_not_inform;
    int do_not_inform_days;
    int cross_border;
    int emergency;
    char authority_name[TD_NAME_MAX + 1];
    char authority_contact[TD_ORDER_CONTACT_MAX + 1];
    char follow_up[TD_ORDER_CONTACT_MAX + 1];
    char redress[TD_ORDER_REDRESS_MAX + 1];
    char language[TD_ORDER_LANG_MAX + 1]; /* "" when not given */
} td_order_doc;

/* Why intake refused an order. */
typedef enum td_order_problem {
    TD_ORDER_ACCEPTED = 0,
    TD_ORDER_TOO_LARGE = 1,         /* body over TD_ORDER_MAX_BODY (413) */
    TD_ORDER_UNSIGNED = 2,          /* no signature (401) */
    TD_ORDER_BAD_SIGNATURE = 3,     /* malformed signature, or it does not verify (401) */
    TD_ORDER_UNKNOWN_AUTHORITY = 4, /* issuing_authority.name not registered (403) */
    TD_ORDER_WRONG_AUTHORITY = 5,   /* the caller's key belongs to another authority, or the
                                       authority's kind does not send this type (403) */
    TD_ORDER_MALFORMED = 6,         /* not a JSON object (400) */
    TD_ORDER_MISSING_FIELD = 7,     /* a required field is absent (422) */
    TD_ORDER_INVALID_FIELD = 8      /* a field has a wrong type, value or length (422) */
} td_order_problem;

const char *td_order_problem_name(td_order_problem problem); /* "unsigned", "bad_signature"... */

typedef struct td_order_rejection {
    td_order_problem problem;
    char field[64]; /* the field concerned, e.g. "reason.category", "content[2].url" */
} td_order_rejection;

/* Parses an untrusted order document (no signature check, no store). why (may be NULL) says
 * what was wrong; the status is TD_ERR_LIMIT for a too large body, TD_ERR_INVALID otherwise. */
__attribute__((warn_unused_result)) td_status td_order_parse(const char *body, size_t len,
                                                             td_order_doc *out,
                                                             td_order_rejection *why,
                                                             td_error *err);

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (UTC only) to milliseconds; -1 if malformed. */
int64_t td_order_time_parse(const char *text, size_t len);
/* Milliseconds to "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void td_order_time_format(int64_t ms, char out[32]);

/* ---- intake ---- */

typedef struct td_order_receipt {
    int64_t id;
    td_order_kind kind;
    int64_t received_ms;
    int64_t deadline_ms;     /* 0 for referrals */
    int duplicate;           /* same authority and reference seen before: the stored order */
    int first_contact_early; /* first order less than first_contact_ms after the announcement,
                                not an emergency */
    int executed;            /* the remove action was fired (auto_execute) */
} td_order_receipt;

/* Receives a signed order (kind TD_ORDER_REMOVAL) or referral (TD_ORDER_REFERRAL): checks size,
 * the signature (`ed25519=<base64 of 64 bytes>`, NULL or "": unsigned; refusals name the field
 * "signature"), the issuing authority (and, when
 * caller_key_id > 0, that the key is linked to it), the Ed25519 signature over the exact body
 * bytes, then every field; commits the order with its exact receipt time and audit entry, then
 * (auto_execute, orders only) executes it. Refusals fill why: TD_ERR_NOT_FOUND for an unknown
 * authority, TD_ERR_LIMIT for a too large body, TD_ERR_INVALID otherwise. */
__attribute__((warn_unused_result)) td_status
td_order_receive(td_orders *orders, td_order_kind kind, const uint8_t *body, size_t len,
                 const char *signature, int64_t caller_key_id, td_order_receipt *out,
                 td_order_rejection *why, td_error *err);

/* ---- stored orders ---- */

typedef enum td_order_state {
    TD_ORDER_RECEIVED = 1,   /* clock running, content not yet removed */
    TD_ORDER_EXECUTED = 2,   /* remove action fired, waiting for the platform's confirmation */
    TD_ORDER_CONFIRMED = 3,  /* the platform confirmed the measure: clock stopped */
    TD_ORDER_PAUSED = 4,     /* cannot comply (Annex III): clock paused until clarified */
    TD_ORDER_REINSTATED = 5, /* reinstated after a cross-border review */
    TD_ORDER_DECIDED = 6     /* referral: decided against the platform's terms */
} td_order_state;

const char *td_order_state_name(td_order_state state);

typedef enum td_cannot_comply {
    TD_CC_FORCE_MAJEURE = 1, /* force majeure or de facto impossibility */
    TD_CC_MANIFEST_ERROR = 2,
    TD_CC_MISSING_INFO = 3 /* the order lacks information needed to execute it */
} td_cannot_comply;

const char *td_cannot_comply_name(td_cannot_comply ground); /* "force_majeure", ... */
__attribute__((warn_unused_result)) td_status td_cannot_comply_parse(const char *name,
                                                                     td_cannot_comply *out);

typedef enum td_review_state {
    TD_REVIEW_NONE = 0,
    TD_REVIEW_OPEN = 1,
    TD_REVIEW_CONFIRMED = 2, /* the order stands */
    TD_REVIEW_REINSTATE = 3  /* the order infringes: content reinstated */
} td_review_state;

typedef struct td_order {
    int64_t id;
    int64_t authority_id;
    char authority[TD_NAME_MAX + 1];
    td_order_doc doc; /* the parsed document; targets with their location */
    td_order_state state;
    int64_t received_ms;
    int64_t clock_start_ms; /* receipt or last clarification */
    int64_t deadline_ms;    /* 0 for referrals and while paused */
    int escalation;         /* marks passed (0..n_marks) */
    int first_contact_early;
    int64_t executed_ms, confirmed_ms; /* confirmed_ms: the platform's time of the measure */
    char measure[16];                  /* "removed", "disabled", "" */
    int64_t breached_ms;               /* 0: no breach */
    int64_t paused_ms;
    td_cannot_comply ground; /* 0 unless cannot-comply was declared */
    char explanation[TD_ORDER_STATEMENT_MAX + 1];
    int64_t clarified_ms;
    int64_t feedback_ms; /* Annex II feedback first sent */
    td_review_state review;
    int64_t review_opened_ms, review_due_ms, review_decided_ms;
    int64_t reinstated_ms;
    int referral_remove; /* referrals: 1 removed, 0 kept (when decided) */
    char decision_reason[TD_ORDER_STATEMENT_MAX + 1];
    int64_t decided_ms;
    int preserved; /* every removed target sealed as evidence */
} td_order;

__attribute__((warn_unused_result)) td_status td_order_get(td_orders *orders, int64_t id,
                                                           td_order *out, td_error *err);

typedef struct td_order_summary {
    int64_t id;
    td_order_kind kind;
    char authority[TD_NAME_MAX + 1];
    char reference[TD_ORDER_REF_MAX + 1];
    td_order_state state;
    int64_t received_ms, deadline_ms;
    int escalation;
    int emergency;
    int64_t breached_ms;
} td_order_summary;

/* The moderators' queue (open_only: received, executed or paused), most escalated first, then
 * earliest deadline; otherwise every order, newest first. At most limit (0: 100, max
 * TD_PAGE_MAX). Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_order_list(td_orders *orders, int open_only,
                                                            size_t limit, td_order_summary **out,
                                                            size_t *count, td_error *err);

/* ---- execution ---- */

/* Locates each target (platform content id, else URL exact or canonical) among received
 * content and fires the "remove" webhook for every located one not yet fired. TD_ERR_NOT_FOUND
 * when no target is located (the order stays open for a moderator). */
__attribute__((warn_unused_result)) td_status
td_order_execute(td_orders *orders, int64_t id, const char *actor, size_t *fired, td_error *err);
/* A moderator tells where target `index` is when it could not be located automatically. */
__attribute__((warn_unused_result)) td_status td_order_locate(td_orders *orders, int64_t id,
                                                              size_t index, const char *content_id,
                                                              const char *actor, td_error *err);

/* The platform confirms the measure ("removed" or "disabled") taken at measure_ms (not before
 * receipt, not after now + max_skew). Stops the clock (a confirmation after the deadline records
 * the breach), records user notices, then preserves the removed content (td_order_preserve).
 * Confirming again is accepted and changes nothing. A preservation failure does not undo the
 * confirmation: the order says preserved = 0 and td_order_preserve retries. */
__attribute__((warn_unused_result)) td_status td_order_confirm(td_orders *orders, int64_t id,
                                                               int64_t measure_ms,
                                                               const char *measure,
                                                               const char *actor, td_error *err);
/* Seals every removed target not yet sealed: the content record (ids, URL, hashes, uploader,
 * metadata, times) with the order as related data, into evidence case "order-<id>", retained
 * until the time of removal + the evidence retention (6 months). Calls on one handle (a
 * confirmation's, the clock thread's retry) take turns, so no target is ever sealed twice. */
__attribute__((warn_unused_result)) td_status td_order_preserve(td_orders *orders, int64_t id,
                                                                const char *actor, td_error *err);

/* ---- the removed media (Art. 6: the content itself, not only its record) ----
 * takedown hashes uploads and does not keep them, so the platform uploads the removed bytes of
 * each target (the "remove" webhook names the route). They are sealed, like the content record,
 * into the order's evidence case "order-<id>" under its case key: released with k of n
 * custodians, destroyed with the case key at the end of retention. */

#define TD_ORDER_MEDIA_TYPE_MAX 128 /* the media type (MIME) kept with the bytes */

typedef struct td_order_media {
    int64_t order_id;
    size_t target;
    char content_id[TD_CONTENT_ID_MAX + 1];
    int64_t evidence_item; /* the sealed item */
    int64_t bytes;
    char sha256[65];          /* of the bytes received (hex) */
    char md5[33];             /* likewise */
    char expected_sha256[65]; /* the located content's SHA-256, "" when takedown does not know it */
    char expected_md5[33];    /* its MD5, "" when unknown (compared when the SHA-256 is unknown) */
    const char *verified;     /* "sha256", "md5" or "none": what the bytes were compared with */
    int mismatch;             /* refused: the bytes are not the located content */
    int duplicate;            /* the same bytes were sealed before: nothing new recorded */
    int64_t preserved_ms;
} td_order_media;

/* Seals the removed media of target `target` (0-based, as in the order's content) of removal
 * order id: before or after the confirmation, once per target. The target must be located. The
 * bytes' SHA-256 must equal the located content's when takedown knows it (else its MD5, when
 * known): otherwise TD_ERR_INVALID with out->mismatch set and both hashes in out. The same
 * bytes again: TD_OK with out->duplicate (nothing recorded); other bytes for a target already
 * preserved: TD_ERR_CONFLICT. No evidence master key yet: TD_ERR_CONFLICT (upload again once
 * the custodians created it). Referrals (decided on the platform's terms, not preserved) and
 * reinstated orders: TD_ERR_CONFLICT. Committed (file synced, evidence.seal and
 * order.media_preserved on the audit log) before it returns. media_type (MIME, may be NULL) is kept
 * with the bytes. */
__attribute__((warn_unused_result)) td_status
td_order_preserve_media(td_orders *orders, int64_t id, size_t target, const uint8_t *data,
                        size_t len, const char *media_type, const char *actor, td_order_media *out,
                        td_error *err);

/* The Annex II feedback (or the referral's answer) as JSON: receipt time, measure, time of the
 * measure, or the Annex III ground and explanation. With record non-zero the first call records
 * that it was sent (audit "order.feedback_sent"). Free *json with td_free. */
__attribute__((warn_unused_result)) td_status td_order_feedback(td_orders *orders, int64_t id,
                                                                int record, const char *actor,
                                                                char **json, td_error *err);

/* ---- clocks ---- */

/* Annex III: pauses the clock with a ground and an explanation (required). */
__attribute__((warn_unused_result)) td_status
td_order_cannot_comply(td_orders *orders, int64_t id, td_cannot_comply ground,
                       const char *explanation, const char *actor, td_error *err);
/* The clarification arrived or the obstacle ended: the full hour restarts now, escalations
 * restart, and (auto_execute) the order is executed again. */
__attribute__((warn_unused_result)) td_status
td_order_clarify(td_orders *orders, int64_t id, const char *text, const char *actor, td_error *err);

typedef struct td_orders_tick_result {
    size_t escalations;      /* marks newly passed */
    size_t breaches;         /* deadlines newly passed without confirmation */
    size_t notices_released; /* do-not-inform periods that ended */
    size_t complaints_overdue;
    size_t reviews_overdue;
} td_orders_tick_result;

/* Raises escalation marks, records breaches, releases user notices whose do-not-inform period
 * ended, flags complaints and reviews past their deadlines, each once, with audit entries.
 * Call it periodically (opts.clock does, every clock_interval_ms). out may be NULL. */
__attribute__((warn_unused_result)) td_status
td_orders_tick(td_orders *orders, td_orders_tick_result *out, td_error *err);

/* ---- cross-border review (Art. 4) ---- */

/* A review of a cross-border order was asked (within challenge_window_ms of receipt); the
 * evidence of the order is put on hold until the decision (due within review_decision_ms). */
__attribute__((warn_unused_result)) td_status td_order_review_open(td_orders *orders, int64_t id,
                                                                   const char *reason,
                                                                   const char *actor,
                                                                   td_error *err);
/* The decision: reinstate non-zero when the order infringes; then "restore" is fired for every
 * removed target and the order is reinstated. The evidence hold is lifted. */
__attribute__((warn_unused_result)) td_status
td_order_review_decide(td_orders *orders, int64_t id, int reinstate, const char *reason,
                       const char *actor, td_error *err);

/* ---- referrals ---- */

/* Decides a referral against the platform's terms: remove non-zero fires "remove" for the
 * located targets. The answer (decision, reason, time) is what td_order_feedback returns. */
__attribute__((warn_unused_result)) td_status td_referral_decide(td_orders *orders, int64_t id,
                                                                 int remove, const char *reason,
                                                                 const char *actor, td_error *err);

/* ---- user notices (Art. 11) ---- */

typedef struct td_user_notice {
    int64_t id;
    int64_t order_id;
    char content_id[TD_CONTENT_ID_MAX + 1];
    int64_t created_ms;
    int64_t hold_until_ms; /* 0: no do-not-inform period */
    int64_t released_ms;   /* 0 while held */
} td_user_notice;

/* The notices of an order (order_id > 0) or all, oldest first. Free *out with td_free. More
 * than TD_NOTICE_LIST_MAX notices fail with TD_ERR_LIMIT. */
#define TD_NOTICE_LIST_MAX 10000
__attribute__((warn_unused_result)) td_status td_notice_list(td_orders *orders, int64_t order_id,
                                                             td_user_notice **out, size_t *count,
                                                             td_error *err);

/* ---- user notice templates ----
 * What a notice tells the uploader is the operator's text, per language, stored in the database
 * (component "orders") and read each time a notice is sent: a change applies to the next notice
 * without a restart. A notice uses the template of its order's language ("language" of the
 * order document), else the "default" template, else the built-in English text
 * (td_notice_builtin_text). The rendered text is the notice's redress.complaint.
 *
 * A template is text (UTF-8, line breaks and tabs allowed, no other control characters) with
 * placeholders written {{name}}: "{{" always opens one, "}}" closes it, the name is one of
 * td_notice_placeholders(). Limits: TD_NOTICE_TEMPLATE_MAX bytes, TD_NOTICE_PLACEHOLDERS_MAX
 * placeholders, and the text with every placeholder at its longest value must fit in
 * TD_NOTICE_TEXT_MAX (so that a notice never fails to render). */

#define TD_NOTICE_LANG_MAX 7 /* "de", "fra" or "default" */
#define TD_NOTICE_TEMPLATE_MAX 8192
#define TD_NOTICE_TEXT_MAX 65536
#define TD_NOTICE_PLACEHOLDERS_MAX 64

typedef enum td_template_problem {
    TD_TEMPLATE_OK = 0,
    TD_TEMPLATE_TOO_LARGE = 1,           /* a limit above (413) */
    TD_TEMPLATE_UNKNOWN_PLACEHOLDER = 2, /* names listed in td_template_rejection.names (422) */
    TD_TEMPLATE_MALFORMED = 3,    /* empty; "{{" not closed or not a name; control characters or
                                     invalid UTF-8; offset says where (422) */
    TD_TEMPLATE_BAD_LANGUAGE = 4, /* not 2-3 letters (ISO 639) nor "default" (400) */
    TD_TEMPLATE_BAD_URL = 5       /* complaint_url not http(s):// printable text (422) */
} td_template_problem;

const char *td_template_problem_name(td_template_problem problem); /* "unknown_placeholder"... */

typedef struct td_template_rejection {
    td_template_problem problem;
    char names[256]; /* unknown placeholders, comma-separated, each once (as many as fit) */
    size_t offset;   /* byte offset of the malformed part */
} td_template_rejection;

/* The placeholder names, for documentation and the settings API:
 *   reason           the order's statement of reasons
 *   category         its reason category, a..e
 *   category_text    what the category means (built-in English, Art. 2(7))
 *   reference, authority, member_state, issued_at   the order
 *   redress          the order's redress information (judicial remedy)
 *   complaint_url    the template's complaint URL
 *   complaint_days   the days the platform takes to answer a complaint
 *   content_id, url, measure, time_of_measure       the removed item */
const char *const *td_notice_placeholders(size_t *count);

/* The built-in English text, used when no template applies. */
const char *td_notice_builtin_text(void);

/* Writes the normal form of a template language ("DE" -> "de", "default") to out; non-zero when
 * valid. */
int td_notice_language_normalize(const char *lang, char out[TD_NOTICE_LANG_MAX + 1]);

/* Checks an untrusted template text (no store): the part a fuzzer drives
 * (fuzz/fuzz_notice_template.c). why (may be NULL) says what is wrong; TD_ERR_LIMIT for a limit,
 * TD_ERR_INVALID otherwise. */
__attribute__((warn_unused_result)) td_status
td_notice_template_check(const char *text, size_t len, td_template_rejection *why, td_error *err);

typedef struct td_notice_template {
    char language[TD_NOTICE_LANG_MAX + 1];
    char text[TD_NOTICE_TEMPLATE_MAX + 1];
    char complaint_url[TD_CASE_URL_MAX + 1]; /* "" when none */
    int64_t updated_ms;
    char updated_by[TD_NAME_MAX + 1];
} td_notice_template;

/* Creates or replaces the template of language (audit "notice.template_set", with the text's
 * SHA-256). complaint_url may be NULL. Refusals fill why as td_notice_template_check does. */
__attribute__((warn_unused_result)) td_status
td_notice_template_set(td_orders *orders, const char *actor, const char *language, const char *text,
                       const char *complaint_url, td_template_rejection *why, td_error *err);
/* TD_ERR_NOT_FOUND when language has no template. */
__attribute__((warn_unused_result)) td_status td_notice_template_get(td_orders *orders,
                                                                     const char *language,
                                                                     td_notice_template *out,
                                                                     td_error *err);
/* Every stored template by language. Free *out with td_free. More than TD_NOTICE_TEMPLATES_MAX
 * (the ISO 639-2 codes and "default" fit) fail with TD_ERR_LIMIT. */
#define TD_NOTICE_TEMPLATES_MAX 512
__attribute__((warn_unused_result)) td_status
td_notice_template_list(td_orders *orders, td_notice_template **out, size_t *count, td_error *err);
/* Removes the template of language (audit "notice.template_deleted"); notices fall back. */
__attribute__((warn_unused_result)) td_status td_notice_template_delete(td_orders *orders,
                                                                        const char *actor,
                                                                        const char *language,
                                                                        td_error *err);

/* ---- complaints ---- */

typedef enum td_complaint_state {
    TD_COMPLAINT_OPEN = 1,
    TD_COMPLAINT_UPHELD = 2, /* the removal was unjustified: reinstated */
    TD_COMPLAINT_REJECTED = 3
} td_complaint_state;

const char *td_complaint_state_name(td_complaint_state state);

typedef struct td_complaint {
    int64_t id;
    char content_id[TD_CONTENT_ID_MAX + 1];
    int64_t order_id; /* the order that removed it, 0: the platform's own measure */
    char text[TD_ORDER_STATEMENT_MAX + 1];
    td_complaint_state state;
    int64_t received_ms, due_ms, decided_ms, overdue_ms, reinstated_ms;
    char reasons[TD_ORDER_STATEMENT_MAX + 1];
} td_complaint;

/* A user complains against the removal of content_id (which must be known content). */
__attribute__((warn_unused_result)) td_status td_complaint_file(td_orders *orders,
                                                                const char *content_id,
                                                                const char *text, const char *actor,
                                                                td_complaint *out, td_error *err);
/* Decides an open complaint with reasons (required); upheld fires "restore". */
__attribute__((warn_unused_result)) td_status td_complaint_decide(td_orders *orders, int64_t id,
                                                                  int upheld, const char *reasons,
                                                                  const char *actor,
                                                                  td_complaint *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_complaint_get(td_orders *orders, int64_t id,
                                                               td_complaint *out, td_error *err);

/* ---- transparency report (Art. 7) ---- */

/* Every figure for [from_ms, to_ms), computed from the stored records, with the audit log size
 * and root it was computed at, as one JSON object (docs/orders.md). Free *json with td_free. */
__attribute__((warn_unused_result)) td_status td_report_transparency(td_orders *orders,
                                                                     int64_t from_ms, int64_t to_ms,
                                                                     char **json, td_error *err);

/* ---- metrics ---- */

/* Upper bounds (milliseconds) of the buckets of the receipt-to-removal histogram. */
#define TD_ORDERS_METRIC_BUCKETS 10
extern const int64_t td_orders_metric_bounds_ms[TD_ORDERS_METRIC_BUCKETS];

/* Figures for monitoring (the server's /metrics), each one query over the stored records. */
typedef struct td_orders_metrics {
    /* Removal orders whose measure was confirmed: time from receipt to the platform's time of
     * the measure. buckets[i] counts those within td_orders_metric_bounds_ms[i] (cumulative,
     * as Prometheus wants them); count and sum_ms cover all. */
    uint64_t removal_buckets[TD_ORDERS_METRIC_BUCKETS];
    uint64_t removal_count;
    int64_t removal_sum_ms;
    int64_t open_received, open_executed, open_paused; /* removal orders by open state */
    int64_t open_escalated;   /* open removal orders with at least one escalation mark passed */
    int64_t escalation_marks; /* marks passed, summed over all removal orders (a clarification
                                 restarts an order's marks) */
    int64_t breaches;         /* removal orders with a breach recorded */
    int64_t referrals_open;   /* referrals not decided */
    int64_t complaints_open, complaints_overdue; /* open; of which past their due time */
    int64_t unpreserved; /* confirmed removal orders with removed content not sealed yet */
} td_orders_metrics;

__attribute__((warn_unused_result)) td_status
td_orders_metrics_get(td_orders *orders, td_orders_metrics *out, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
