/* Evidence orders: European Production and Preservation Order Certificates (EU Regulation
 * 2023/1543, "e-Evidence": EPOC, EPOC-PR), UK Overseas Production Orders and US orders under the
 * UK-US agreement (CLOUD Act), on top of the casework service (casework.h), the removal orders'
 * authority registry (orders.h), the evidence store (evidence.h) and the audit log (audit.h).
 * The contract (the JSON document, its sections A-L, the rules, the clocks) is
 * docs/evidence-orders.md.
 *
 * Why a module of its own rather than more removal orders: an evidence order asks for data the
 * operator holds about a user, not for content to go. Its clocks run in days (8 hours in an
 * emergency), the data is preserved at receipt, collected from the platform (webhook
 * "evidence.collect", td_eorder_put_data), sealed under the order's own evidence case key,
 * approved by legal officers (role legal), and delivered to the issuing side only, encrypted to
 * the recipient authority's X25519 key; the user is never told by the operator. Evidence orders
 * live in their own tables (component "eorders").
 *
 * Identifiers: an order has a numeric id, written "eo-<id>" (td_eorder_id_format) wherever it
 * leaves the library (answers, outbox messages, D.earlier_order.id). Functions that take an
 * order take text: "eo-<id>" or the transport's ext_id (the AuthorisationObject UUID the
 * document carried). The order's evidence case is "eorder-<id>".
 *
 * Durability: every function that records something commits it, together with its audit
 * entries, before it returns. Times are milliseconds since the epoch (UTC) from the service's
 * injectable clock. The clocks advance in td_eorders_tick: a handle opened with opts.clock runs
 * it on a thread of its own; without it the caller ticks, as tests do after moving their clock.
 *
 * Confidentiality: reads of orders, their records and their messages take an actor and a
 * purpose and append an audit entry each ("eorder.read"); no function ever notifies the user.
 *
 * Errors: as in orders.h: TD_ERR_INVALID / _LIMIT / _NOT_FOUND / _CONFLICT with a message that
 * names the field. Intake, events and put_data also say why in td_eorder_rejection, whose field
 * names the section and the member ("E.identifiers[0].type", "records[2].at") and whose problem
 * has a stable code ("invalid_field", "missing_field", "lapsed", ...) for the HTTP layer's 4xx
 * answers. */
#ifndef TAKEDOWN_EVIDENCE_ORDERS_H
#define TAKEDOWN_EVIDENCE_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "casework.h"
#include "config.h"
#include "evidence.h"
#include "orders.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---- */

#define TD_EORDER_MAX_BODY 131072      /* the intake document, bytes */
#define TD_EORDER_MAX_EVENT 131072     /* an event document (a correction may carry sections) */
#define TD_EORDER_MAX_IDENTIFIERS 32   /* E.identifiers */
#define TD_EORDER_NAME_MAX 256         /* authority names, addressee, recipient */
#define TD_EORDER_FILE_NUMBER_MAX 128  /* file numbers, references */
#define TD_EORDER_CONTACT_MAX 256      /* each of a contact's name, email, phone */
#define TD_EORDER_VALUE_MAX 1024       /* an identifier's value */
#define TD_EORDER_SHORT_TEXT_MAX 1024  /* G.offence, G.legal_classification, a ground's fields */
#define TD_EORDER_TEXT_MAX 4096        /* G.summary, explanations, correspondence */
#define TD_EORDER_EXT_ID_MAX 64        /* ext_id (a UUID is 36) */
#define TD_EORDER_ID_TEXT_MAX 23       /* "eo-" and up to 20 digits */
#define TD_EORDER_LANG_MAX 3           /* ISO 639-1 or -2 */
#define TD_EORDER_X25519_KEY_LEN 32    /* L.x25519_public_key */
#define TD_EORDER_MAX_MARKS 8          /* escalation marks */
#define TD_EORDER_PUT_MAX_RECORDS 1000 /* records in one td_eorder_put_data */
#define TD_EORDER_FIELDS_MAX                                                                       \
    61440 /* a record's fields_json, bytes (its metadata fits a package record's 64 KiB) */
#define TD_EORDER_MESSAGE_MAX 16384        /* an outbox message's JSON, bytes */
#define TD_EORDER_TRANSPORT_MAX 8192       /* td_eorder_intake.transport_data, bytes */
#define TD_EORDER_ORDER_RECORDS_MAX 100000 /* records kept per order */

/* ---- the handle ---- */

typedef struct td_eorders td_eorders;

typedef struct td_eorders_options {
    /* Distinct legal officers who must approve a delivery: when content data is requested
     * (config eorder_approvals_content, default 2), otherwise (eorder_approvals_other, 1). */
    unsigned approvals_content;
    unsigned approvals_other;
    /* Escalation marks before each production deadline, as percent of the period from the
     * clock's start to the deadline, increasing, each 1..99 (config eorder_escalation_pct,
     * "50,75,90"). */
    unsigned marks_pct[TD_EORDER_MAX_MARKS];
    size_t n_marks;
    /* The platform's answer to "evidence.collect" is due this long after the clock's start, at
     * most half of the production period (config eorder_collect_ms, default 24 h). */
    int64_t collect_ms;
    /* ten_days_enforcing: the data is due this long after transmission became allowed (config
     * eorder_transmit_window_ms, default 24 h). */
    int64_t transmit_window_ms;
    td_orders *orders;     /* the authority registry (borrowed); NULL: td_eorders_open opens an
                              orders handle of its own on the service (no clock thread) */
    td_audit *log;         /* NULL: the service's log (td_service_audit), borrowed */
    td_evidence *evidence; /* NULL: orders' evidence store (td_orders_evidence), borrowed */
    /* Where the delivery signing key lives (eorders_delivery.key, Ed25519, made on first use,
     * mode 0600); NULL: the service's data directory. */
    const char *key_dir;
    /* Background duties, on a thread started by td_eorders_open and stopped by
     * td_eorders_close (0, the default: none, the caller calls td_eorders_tick). Every
     * clock_interval_ms the thread ticks (escalation marks, breaches, expiries). */
    int clock;
    int64_t clock_interval_ms; /* default 1 s */
    /* What the thread has to tell an operator (a failing tick, at most once a minute; marks,
     * breaches, expiries), one line per call; NULL: nothing. Called on the thread. */
    void (*log_message)(void *ctx, const char *message);
    void *log_ctx;
} td_eorders_options;

void td_eorders_options_default(td_eorders_options *opts);
/* Defaults overridden by cfg (eorder_approvals_content, eorder_approvals_other,
 * eorder_escalation_pct, eorder_collect_ms, eorder_transmit_window_ms; NULL: the table's
 * defaults). */
__attribute__((warn_unused_result)) td_status
td_eorders_options_from_config(td_eorders_options *opts, const td_config *cfg, td_error *err);

/* Opens the evidence orders component on an open service (tables created on first use).
 * orders, log and evidence given in opts are used, not owned (close them after this handle);
 * otherwise they come from the service and an orders handle of our own. opts may be NULL. The
 * delivery signing key is loaded or made. With opts.clock the background thread is started
 * (TD_ERR_INTERNAL when it cannot be). */
__attribute__((warn_unused_result)) td_status
td_eorders_open(td_service *svc, const td_eorders_options *opts, td_eorders **out, td_error *err);
/* Stops the background thread (waiting for a tick in progress), then frees. Accepts NULL.
 * Close it before the service and before any handle lent in opts. */
void td_eorders_close(td_eorders *eorders);

/* The audit log and evidence store in use. */
td_audit *td_eorders_audit(td_eorders *eorders);
td_evidence *td_eorders_evidence(td_eorders *eorders);

/* The Ed25519 public key that signs delivery manifests (a key of its own, not the audit log's:
 * a manifest signature and a checkpoint signature must never be confusable), for the
 * authorities to verify packages. */
#define TD_EORDER_SIGN_PUBKEY_LEN 32
void td_eorders_delivery_public_key(const td_eorders *eorders,
                                    uint8_t pub[TD_EORDER_SIGN_PUBKEY_LEN]);

/* "eo-<id>"; and back: the id, or 0 when text is not of that form. */
void td_eorder_id_format(int64_t id, char out[TD_EORDER_ID_TEXT_MAX + 1]);
int64_t td_eorder_id_parse(const char *text);

/* ---- vocabulary (every enum has a _name giving the JSON spelling and a _parse) ---- */

typedef enum td_eorder_framework {
    TD_EORDER_EU_EPOC = 1,     /* "eu_epoc": European Production Order Certificate (Annex I) */
    TD_EORDER_EU_EPOC_PR = 2,  /* "eu_epoc_pr": European Preservation Order Certificate (II) */
    TD_EORDER_UK_OPO = 3,      /* "uk_opo": UK Overseas Production Order */
    TD_EORDER_US_CLOUD_ACT = 4 /* "us_cloud_act": a US order under the UK-US agreement */
} td_eorder_framework;

typedef enum td_eorder_authority_type {
    TD_EORDER_PUBLIC_PROSECUTOR = 1,   /* "public_prosecutor" */
    TD_EORDER_JUDGE_OR_COURT = 2,      /* "judge_or_court" */
    TD_EORDER_INVESTIGATING_JUDGE = 3, /* "investigating_judge" */
    TD_EORDER_OTHER_COMPETENT = 4      /* "other_competent_authority" */
} td_eorder_authority_type;

typedef enum td_eorder_establishment {
    TD_EORDER_DESIGNATED_ESTABLISHMENT = 1, /* "designated_establishment" */
    TD_EORDER_LEGAL_REPRESENTATIVE = 2      /* "legal_representative" */
} td_eorder_establishment;

typedef enum td_eorder_deadline {
    TD_EORDER_DEADLINE_NONE = 0,      /* preservation orders, uk_opo, us_cloud_act */
    TD_EORDER_TEN_DAYS_ASAP = 1,      /* "ten_days_asap": as soon as possible, <= 10 days */
    TD_EORDER_TEN_DAYS_ENFORCING = 2, /* "ten_days_enforcing": at the end of 10 days */
    TD_EORDER_EIGHT_HOURS = 3         /* "eight_hours": emergency */
} td_eorder_deadline;

typedef enum td_eorder_emergency {
    TD_EORDER_EMERGENCY_NONE = 0,
    TD_EORDER_EMERGENCY_LIFE = 1,                   /* "life" */
    TD_EORDER_EMERGENCY_PHYSICAL_INTEGRITY = 2,     /* "physical_integrity" */
    TD_EORDER_EMERGENCY_CRITICAL_INFRASTRUCTURE = 3 /* "critical_infrastructure" */
} td_eorder_emergency;

/* Data categories (section F), a bit mask. */
enum {
    TD_EORDER_CAT_SUBSCRIBER = 1 << 0,     /* "subscriber" */
    TD_EORDER_CAT_IDENTIFICATION = 1 << 1, /* "identification": IP, port, time, to identify */
    TD_EORDER_CAT_TRAFFIC = 1 << 2,        /* "traffic" */
    TD_EORDER_CAT_CONTENT = 1 << 3,        /* "content" */
    TD_EORDER_CAT_ALL = (1 << 4) - 1
};

/* Subscriber sub-categories (F.subscriber), a bit mask; absent in the document: all. */
enum {
    TD_EORDER_SUB_NAME = 1 << 0,         /* "name" */
    TD_EORDER_SUB_ADDRESS = 1 << 1,      /* "address" */
    TD_EORDER_SUB_CONTACT = 1 << 2,      /* "contact" */
    TD_EORDER_SUB_BILLING = 1 << 3,      /* "billing" */
    TD_EORDER_SUB_REGISTRATION = 1 << 4, /* "registration" */
    TD_EORDER_SUB_VALIDATION = 1 << 5,   /* "validation" */
    TD_EORDER_SUB_SERVICE_TYPE = 1 << 6, /* "service_type" */
    TD_EORDER_SUB_ALL = (1 << 7) - 1
};

/* The name of one category bit ("subscriber"...) or sub-category bit ("name"...); NULL for
 * anything else. */
const char *td_eorder_category_name(unsigned category);
const char *td_eorder_subscriber_name(unsigned sub);
/* One name to its bit; 0 when unknown. */
unsigned td_eorder_category_parse(const char *name);
unsigned td_eorder_subscriber_parse(const char *name);

typedef enum td_eorder_identifier_type {
    TD_EORDER_ID_IPV4 = 1,         /* "ipv4" (at required) */
    TD_EORDER_ID_IPV6 = 2,         /* "ipv6" (at required) */
    TD_EORDER_ID_IPV4_RANGE = 3,   /* "ipv4_range" (at required) */
    TD_EORDER_ID_IPV6_RANGE = 4,   /* "ipv6_range" (at required) */
    TD_EORDER_ID_EMAIL = 5,        /* "email" */
    TD_EORDER_ID_PHONE = 6,        /* "phone" */
    TD_EORDER_ID_USER_ID = 7,      /* "user_id" */
    TD_EORDER_ID_ACCOUNT_NAME = 8, /* "account_name" */
    TD_EORDER_ID_CONTENT_URL = 9,  /* "content_url" */
    TD_EORDER_ID_CONTENT_ID = 10   /* "content_id" */
} td_eorder_identifier_type;

typedef enum td_eorder_user_information {
    TD_EORDER_USER_INFORMED = 1,    /* "informed" */
    TD_EORDER_USER_DELAYED = 2,     /* "delayed" (H.until) */
    TD_EORDER_USER_RESTRICTED = 3,  /* "restricted" */
    TD_EORDER_USER_NOT_INFORMED = 4 /* "not_informed" */
} td_eorder_user_information;

const char *td_eorder_framework_name(td_eorder_framework framework);
const char *td_eorder_authority_type_name(td_eorder_authority_type type);
const char *td_eorder_deadline_name(td_eorder_deadline deadline); /* "" for NONE */
const char *td_eorder_identifier_type_name(td_eorder_identifier_type type);
__attribute__((warn_unused_result)) td_status td_eorder_framework_parse(const char *name,
                                                                        td_eorder_framework *out);

/* ---- the order document (parsing only; no store) ----
 * The JSON document of docs/evidence-orders.md. Texts are UTF-8 without control characters
 * (line breaks allowed in G.summary); times "YYYY-MM-DDTHH:MM:SS[.fff]Z" (td_order_time_parse);
 * member states two capital letters. */

typedef struct td_eorder_party {
    int present;
    char name[TD_EORDER_NAME_MAX + 1];
    td_eorder_authority_type type;
    char file_number[TD_EORDER_FILE_NUMBER_MAX + 1];
} td_eorder_party;

typedef struct td_eorder_contact {
    int present;
    char name[TD_EORDER_CONTACT_MAX + 1];
    char email[TD_EORDER_CONTACT_MAX + 1];
    char phone[TD_EORDER_CONTACT_MAX + 1];
} td_eorder_contact;

typedef struct td_eorder_identifier {
    td_eorder_identifier_type type;
    char value[TD_EORDER_VALUE_MAX + 1];
    int port;      /* 0..65535; -1 when absent */
    int64_t at_ms; /* 0 when absent */
} td_eorder_identifier;

typedef struct td_eorder_doc {
    td_eorder_framework framework;
    /* A */
    char issuing_state[3];
    td_eorder_party issuing_authority;    /* its file_number is the order's reference */
    td_eorder_party validating_authority; /* present 0 when absent */
    int64_t issued_ms;
    int64_t served_ms; /* uk_opo: when served; 0 when absent (receipt counts) */
    /* B */
    char addressee[TD_EORDER_NAME_MAX + 1];
    td_eorder_establishment establishment;
    char addressee_state[3]; /* B.member_state, "" when absent: the enforcing state */
    /* C */
    td_eorder_deadline deadline;
    int64_t compliance_period_ms; /* uk_opo, us_cloud_act: the order's own period */
    td_eorder_emergency emergency_reason;
    /* D */
    int has_earlier;
    td_eorder_framework earlier_framework;
    char earlier_reference[TD_EORDER_FILE_NUMBER_MAX + 1];
    char earlier_id[TD_EORDER_EXT_ID_MAX + 1]; /* "eo-<id>" when the authority knew ours, else "" */
    /* E */
    size_t n_identifiers;
    td_eorder_identifier identifiers[TD_EORDER_MAX_IDENTIFIERS];
    int64_t from_ms, to_ms; /* the time range, inclusive */
    /* F */
    unsigned categories; /* TD_EORDER_CAT_* */
    unsigned subscriber; /* TD_EORDER_SUB_*: with subscriber data, all when absent; else 0 */
    /* G */
    char offence[TD_EORDER_SHORT_TEXT_MAX + 1];
    char legal_classification[TD_EORDER_SHORT_TEXT_MAX + 1];
    int max_penalty_years; /* -1 when absent */
    int listed_terrorism;
    char summary[TD_EORDER_TEXT_MAX + 1];
    /* H */
    td_eorder_user_information user_information;
    int64_t user_information_until_ms; /* with delayed, 0 otherwise */
    /* I, J, K */
    td_eorder_contact issuing_contact, validating_contact, execution_contact;
    /* L */
    char recipient[TD_EORDER_NAME_MAX + 1];
    char recipient_state[3];
    uint8_t recipient_key[TD_EORDER_X25519_KEY_LEN];
    /* the rest */
    int enforcing_state_notified;
    char ext_id[TD_EORDER_EXT_ID_MAX + 1]; /* "" when absent */
    char language[TD_EORDER_LANG_MAX + 1]; /* lower case, "" when absent */
} td_eorder_doc;

/* Why intake, an event or a put of data was refused. */
typedef enum td_eorder_problem {
    TD_EORDER_ACCEPTED = 0,
    TD_EORDER_TOO_LARGE = 1,         /* "too_large": over a size or count limit (413) */
    TD_EORDER_UNSIGNED = 2,          /* "unsigned": no signature (401) */
    TD_EORDER_BAD_SIGNATURE = 3,     /* "bad_signature": malformed or does not verify (401) */
    TD_EORDER_UNKNOWN_AUTHORITY = 4, /* "unknown_authority": issuer not registered (403) */
    TD_EORDER_WRONG_AUTHORITY = 5,   /* "wrong_authority": the caller's key belongs to another
                                        authority, or the authority cannot send this (403) */
    TD_EORDER_MALFORMED = 6,         /* "malformed": not a JSON object (400) */
    TD_EORDER_MISSING_FIELD = 7,     /* "missing_field": a required member is absent (422) */
    TD_EORDER_INVALID_FIELD = 8,     /* "invalid_field": wrong type, value or length (422) */
    TD_EORDER_UNKNOWN_FIELD = 9, /* "unknown_field": a member the document does not have (422) */
    TD_EORDER_LAPSED = 10,       /* "lapsed": uk_opo served > 3 months after made (422) */
    TD_EORDER_CONFLICT = 11,     /* "conflict": not possible in the order's state (409) */
    TD_EORDER_UNKNOWN_ORDER = 12 /* "unknown_order": no such order (404) */
} td_eorder_problem;

const char *td_eorder_problem_name(td_eorder_problem problem);

typedef struct td_eorder_rejection {
    td_eorder_problem problem;
    char field[96]; /* "E.identifiers[0].type", "F.data_categories", "records[3].at", "action" */
} td_eorder_rejection;

/* Parses an untrusted intake document (no signature check, no store, no clock: what the fuzzer
 * drives, fuzz/fuzz_eorder.c). why (may be NULL) names the member; TD_ERR_LIMIT for a too large
 * body, TD_ERR_INVALID otherwise. The rule on issuers of traffic and content data is not a
 * parse error (see td_eorder_doc_executable). */
__attribute__((warn_unused_result)) td_status td_eorder_parse(const char *body, size_t len,
                                                              td_eorder_doc *out,
                                                              td_eorder_rejection *why,
                                                              td_error *err);

/* Non-zero when doc may be executed: traffic or content data need a judge_or_court or
 * investigating_judge as issuer or validator (otherwise the answer is not_executed, reason
 * invalid_issuing_authority). */
int td_eorder_doc_executable(const td_eorder_doc *doc);

/* ---- the order's life ---- */

typedef enum td_eorder_state {
    TD_EORDER_RECEIVED = 1,     /* "received": recorded, collection not asked yet (seen only
                                   inside the intake transaction) */
    TD_EORDER_COLLECTING = 2,   /* "collecting": evidence.collect sent, no data sealed yet */
    TD_EORDER_PRESERVED = 3,    /* "preserved": data sealed (more may be put until approved) */
    TD_EORDER_APPROVED = 4,     /* "approved": enough legal officers approved the delivery */
    TD_EORDER_DELIVERED = 5,    /* "delivered": the package was written (production orders) */
    TD_EORDER_ENDED = 6,        /* "ended": end of preservation (evidence purgeable) */
    TD_EORDER_EXPIRED = 7,      /* "expired": preservation period over (evidence purgeable) */
    TD_EORDER_WITHDRAWN = 8,    /* "withdrawn": every task cancelled */
    TD_EORDER_NOT_EXECUTED = 9, /* "not_executed": Annex III sent, or full grounds for refusal */
    TD_EORDER_PAUSED = 10       /* "paused": cannot comply, waiting for a clarification */
} td_eorder_state;
#define TD_EORDER_STATE_MAX 10

const char *td_eorder_state_name(td_eorder_state state);

/* Annex III reasons (cannot comply), and the grounds for refusal an enforcing state raises. */
typedef enum td_eorder_reason {
    TD_EORDER_R_NONE = 0,
    TD_EORDER_R_INCOMPLETE = 1,                /* "incomplete" */
    TD_EORDER_R_MANIFEST_ERRORS = 2,           /* "manifest_errors" */
    TD_EORDER_R_INSUFFICIENT_INFORMATION = 3,  /* "insufficient_information" */
    TD_EORDER_R_DATA_NOT_HELD = 4,             /* "data_not_held" */
    TD_EORDER_R_DE_FACTO_IMPOSSIBILITY = 5,    /* "de_facto_impossibility" */
    TD_EORDER_R_INVALID_ISSUING_AUTHORITY = 6, /* "invalid_issuing_authority" */
    TD_EORDER_R_OFFENCE_NOT_COVERED = 7,       /* "offence_not_covered" */
    TD_EORDER_R_SERVICE_NOT_COVERED = 8,       /* "service_not_covered" */
    TD_EORDER_R_IMMUNITIES_OR_PRIVILEGES = 9,  /* "immunities_or_privileges" */
    TD_EORDER_R_CONFLICT_OF_LAW = 10,          /* "conflict_of_law" */
    /* grounds for refusal (td_eorder_event "grounds"); not Annex III reasons */
    TD_EORDER_R_GROUND_IMMUNITIES = 20,         /* "immunities_or_privileges" */
    TD_EORDER_R_GROUND_FUNDAMENTAL_RIGHTS = 21, /* "fundamental_rights" */
    TD_EORDER_R_GROUND_NE_BIS_IN_IDEM = 22,     /* "ne_bis_in_idem" */
    TD_EORDER_R_GROUND_DUAL_CRIMINALITY = 23    /* "dual_criminality" */
} td_eorder_reason;

const char *td_eorder_reason_name(td_eorder_reason reason);
/* An Annex III reason by name (not a ground). */
__attribute__((warn_unused_result)) td_status td_eorder_reason_parse(const char *name,
                                                                     td_eorder_reason *out);

typedef enum td_eorder_grounds {
    TD_EORDER_GROUNDS_NOT_RAISED = 0,
    TD_EORDER_GROUNDS_NONE = 1,    /* "none": the enforcing state raises none */
    TD_EORDER_GROUNDS_PARTIAL = 2, /* "partial": for the categories named */
    TD_EORDER_GROUNDS_FULL = 3     /* "full" */
} td_eorder_grounds;

/* Every deadline of an order (0: does not apply, or suspended while paused). */
typedef struct td_eorder_deadlines {
    int64_t clock_start_ms;    /* receipt, or the last clarification / correction */
    int64_t collect_ms;        /* the platform's answer to evidence.collect is due */
    int64_t due_ms;            /* production: the data must be delivered by then */
    int64_t transmit_from_ms;  /* production: delivery allowed from (ten_days_enforcing: clock
                                  start + 10 days, unless "none" grounds came first) */
    int64_t preserve_until_ms; /* eu_epoc_pr: data kept until (held longer while a linked
                                  production is pending) */
    int64_t grounds_until_ms;  /* eight_hours: grounds raised until then restrict the delivered
                                  data (receipt + 96 h) */
} td_eorder_deadlines;

typedef struct td_eorder {
    int64_t id;
    char id_text[TD_EORDER_ID_TEXT_MAX + 1]; /* "eo-<id>" */
    int64_t authority_id;                    /* the registered issuing authority */
    td_eorder_doc doc;                       /* as received, with corrections applied */
    char body_sha256[65];                    /* of the signed body as received (hex) */
    td_eorder_state state;
    td_eorder_state paused_from; /* while paused: the state a clarification returns to */
    int64_t received_ms;
    td_eorder_deadlines deadlines;
    int escalation;          /* marks passed before the current deadline (0..n_marks) */
    int64_t breached_ms;     /* 0: no breach */
    td_eorder_reason reason; /* not_executed / paused: the Annex III reason or the ground */
    char explanation[TD_EORDER_TEXT_MAX + 1];
    unsigned refused; /* categories answered "cannot comply" while the rest goes ahead */
    td_eorder_grounds grounds;
    td_eorder_reason ground;  /* the ground of partial / full grounds */
    unsigned grounds_blocked; /* categories grounds block from delivery */
    int64_t grounds_ms;       /* when grounds were raised, 0: never */
    int restricted;           /* delivered data is restricted (grounds after delivery) */
    unsigned preserved;       /* categories with data sealed */
    int64_t records;          /* records sealed */
    unsigned approvals, approvals_needed;
    int64_t release_request; /* the evidence release request made at full approval (0: none);
                                custodians approve it with td_evidence_approve */
    int64_t approved_ms, delivered_ms, ended_ms, withdrawn_ms, not_executed_ms, paused_ms;
    int extended;           /* eu_epoc_pr: the +30 days extension was given */
    int production_pending; /* eu_epoc_pr: a subsequent production is pending */
    int64_t linked_order;   /* D.earlier_order resolved to ours (0: none, or not known) */
} td_eorder;

typedef struct td_eorder_summary {
    int64_t id;
    char id_text[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_framework framework;
    td_eorder_deadline deadline;
    char issuing_state[3];
    char reference[TD_EORDER_FILE_NUMBER_MAX + 1]; /* A.issuing_authority.file_number */
    char ext_id[TD_EORDER_EXT_ID_MAX + 1];
    td_eorder_state state;
    int64_t received_ms;
    td_eorder_deadlines deadlines;
    int escalation;
    int64_t breached_ms;
    unsigned categories;
    unsigned approvals, approvals_needed;
    /* Holds, as in td_eorder: categories whose transmission grounds for refusal block, the data
     * restricted after late grounds, a preservation kept for a pending production, paused since
     * (cannot comply; 0: not paused). */
    unsigned grounds_blocked;
    int restricted, production_pending;
    int64_t paused_ms;
} td_eorder_summary;

/* ---- intake ---- */

typedef struct td_eorder_intake {
    const uint8_t *body; /* the exact bytes received */
    size_t len;
    /* "ed25519=<base64 of 64 bytes>" over body by the issuing authority's registered key;
     * required unless transport is set (NULL or "": unsigned). */
    const char *signature;
    /* A transport that authenticated the sender itself (e.g. "etsi_xml": the XML intake over
     * e-CODEX, converted to this JSON): no signature is checked; the issuing authority must still
     * be registered. NULL: the JSON REST intake. */
    const char *transport;
    /* What the transport needs to answer later (e.g. the ETSI task objects and the sender's
     * identifiers): a JSON object of at most TD_EORDER_TRANSPORT_MAX bytes, stored with the order
     * and copied into each of its outbox messages as "transport"; NULL: none. */
    const char *transport_data;
    int64_t caller_key_id; /* > 0: the API key must be linked to the issuing authority */
    const char *actor;     /* for the audit log; NULL: "authority:<name>" */
} td_eorder_intake;

typedef struct td_eorder_receipt {
    int64_t id;
    char id_text[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_framework framework;
    td_eorder_state state;   /* collecting, or not_executed */
    td_eorder_reason reason; /* not_executed: invalid_issuing_authority */
    int duplicate;           /* the same authority, framework and file number (or ext_id) was
                                received before: the stored order, nothing recorded */
    int64_t received_ms;
    td_eorder_deadlines deadlines;
    char body_sha256[65];
} td_eorder_receipt;

/* Receives an evidence order: checks size, the signature (before anything else is read but the
 * issuing authority's name), the issuing authority (registered, of a kind that sends evidence
 * orders: EU frameworks an EU authority (competent or evidence) of A.issuing_state; uk_opo and
 * us_cloud_act a third-country authority of "GB" / "US"), then every member. A uk_opo served more
 * than 3 months after it was made is refused (lapsed) with only the refusal's audit entry
 * ("eorder.refused"). Otherwise commits the order, its deadlines, its audit entry
 * ("eorder.received" with the body's SHA-256) and, for an executable order, the
 * "evidence.collect" webhook (state collecting); an order not executable (traffic or content
 * without a judge) is recorded not_executed (invalid_issuing_authority) with its non_execution
 * outbox message, and nothing is collected. An EPOC whose D.earlier_order names a preservation
 * order of ours links it (the preservation is held while the production is pending). Refusals
 * fill why: TD_ERR_NOT_FOUND for an unknown authority, TD_ERR_LIMIT for a too large body,
 * TD_ERR_INVALID otherwise. */
__attribute__((warn_unused_result)) td_status
td_eorder_receive(td_eorders *eorders, const td_eorder_intake *in, td_eorder_receipt *out,
                  td_eorder_rejection *why, td_error *err);

/* ---- reading (every read is audited: "eorder.read" with actor and purpose) ---- */

/* order: "eo-<id>" or the ext_id. purpose: why the reader reads (required, <= TD_EORDER_TEXT_MAX).
 */
__attribute__((warn_unused_result)) td_status td_eorder_get(td_eorders *eorders, const char *actor,
                                                            const char *purpose, const char *order,
                                                            td_eorder *out, td_error *err);

/* Orders: open_only (received, collecting, preserved, approved, paused) earliest deadline first,
 * else every order newest first. At most limit (0: 100, max TD_PAGE_MAX). One audit entry for
 * the list. Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_eorder_list(td_eorders *eorders, const char *actor,
                                                             const char *purpose, int open_only,
                                                             size_t limit, td_eorder_summary **out,
                                                             size_t *count, td_error *err);

/* ---- events from the issuing (or enforcing) side ----
 * The same for the JSON REST route and the XML transport (which converts to this JSON). One JSON
 * object with "action" and the members of that action; unknown actions and members are refused;
 * "text" (a note, <= TD_EORDER_TEXT_MAX) is allowed with every action:
 *   {"action": "subsequent_production", "reference"?: text, "id"?: "eo-<id>"}   (Annex V)
 *       eu_epoc_pr: preservation is kept until that production is done
 *   {"action": "extend_preservation"}            eu_epoc_pr: + 30 days, once (Annex VI)
 *   {"action": "end_preservation"}               eu_epoc_pr: ended; the evidence is purgeable
 *   {"action": "new_deadline", "deadline": time}  replaces the current deadline (production due,
 *                                                or the end of preservation)
 *   {"action": "withdraw"}                       cancels every task; pending messages cancelled
 *   {"action": "grounds", "kind": "none"|"partial"|"full", "categories": [...] (partial only,
 *    required), "ground": "immunities_or_privileges"|"fundamental_rights"|"ne_bis_in_idem"|
 *    "dual_criminality" (partial, full: required)}                 eu_epoc only
 *   {"action": "clarification"|"correction", "sections"?: {"A": {...}, ...}}
 *       restarts a paused order (full period again from now); sections replace the order's
 *       (framework cannot change; the whole document is validated again)
 *   {"action": "correspondence", "kind": "request_additional_information"|
 *    "provide_additional_information"|"other", "text": text (required)} */

typedef enum td_eorder_action {
    TD_EORDER_SUBSEQUENT_PRODUCTION = 1,
    TD_EORDER_EXTEND_PRESERVATION = 2,
    TD_EORDER_END_PRESERVATION = 3,
    TD_EORDER_NEW_DEADLINE = 4,
    TD_EORDER_WITHDRAW = 5,
    TD_EORDER_GROUNDS = 6,
    TD_EORDER_CLARIFICATION = 7,
    TD_EORDER_CORRECTION = 8,
    TD_EORDER_CORRESPONDENCE = 9
} td_eorder_action;

const char *td_eorder_action_name(td_eorder_action action);

typedef enum td_eorder_correspondence_kind {
    TD_EORDER_REQUEST_ADDITIONAL_INFORMATION = 1, /* "request_additional_information" */
    TD_EORDER_PROVIDE_ADDITIONAL_INFORMATION = 2, /* "provide_additional_information" */
    TD_EORDER_CORRESPONDENCE_OTHER = 3            /* "other" */
} td_eorder_correspondence_kind;

typedef struct td_eorder_event_doc {
    td_eorder_action action;
    int64_t deadline_ms;         /* new_deadline */
    td_eorder_grounds grounds;   /* grounds */
    unsigned grounds_categories; /* grounds partial */
    td_eorder_reason ground;     /* grounds partial / full: TD_EORDER_R_GROUND_* */
    td_eorder_correspondence_kind correspondence;
    char reference[TD_EORDER_FILE_NUMBER_MAX + 1]; /* subsequent_production */
    char id[TD_EORDER_EXT_ID_MAX + 1];             /* subsequent_production */
    char text[TD_EORDER_TEXT_MAX + 1];
    char *sections; /* clarification / correction: the "sections" object as compact JSON, or
                       NULL; owned: td_eorder_event_doc_clear */
} td_eorder_event_doc;

/* Parses an untrusted event document (no store; fuzzed with the intake document). */
__attribute__((warn_unused_result)) td_status td_eorder_event_parse(const char *json, size_t len,
                                                                    td_eorder_event_doc *out,
                                                                    td_eorder_rejection *why,
                                                                    td_error *err);
void td_eorder_event_doc_clear(td_eorder_event_doc *doc);

/* Applies an event to order ("eo-<id>" or ext_id), with its audit entry ("eorder.<action>").
 * authority_id > 0: the sender's registered authority (td_authority_for_key), which must be the
 * order's issuing authority, or for grounds an authority of the enforcing state (B.member_state;
 * when absent, of another state than the issuing one). An action the order's framework or state
 * does not allow: TD_ERR_CONFLICT (why: conflict); an unknown order: TD_ERR_NOT_FOUND (why:
 * unknown_order). out (may be NULL) receives the order after. */
__attribute__((warn_unused_result)) td_status
td_eorder_event(td_eorders *eorders, const char *actor, const char *order, const char *json,
                size_t len, int64_t authority_id, td_eorder *out, td_eorder_rejection *why,
                td_error *err);

/* ---- preserved data from the platform ----
 * At intake an executable order fires the "evidence.collect" webhook (casework.h) with
 * {"order": "eo-<id>", "ext_id", "framework", "identifiers": [{type, value, port?, at?}],
 * "categories": [...], "subscriber": [...], "time_range": {from, to}, "answer_by": time}; the
 * platform answers with td_eorder_put_data (HTTP: JSON with base64 content). */

typedef struct td_eorder_record {
    unsigned category;        /* one TD_EORDER_CAT_* bit, requested by the order */
    const char *identifier;   /* NULL or "": the order's subject as a whole; else the value of one
                                 of E.identifiers (exactly as in the order) */
    int64_t at_ms;            /* when the data arose: within E.time_range; 0 only for subscriber
                                 data (not time-bound) */
    const char *fields_json;  /* a JSON object (NULL: {}), <= TD_EORDER_FIELDS_MAX bytes;
                                 subscriber data: its members are requested sub-category names */
    const uint8_t *content;   /* the data itself (may be NULL with content_len 0) */
    size_t content_len;       /* <= the evidence store's max_item_bytes */
    const char *content_type; /* MIME of content, NULL: none (<= 128 bytes) */
} td_eorder_record;

typedef struct td_eorder_put_result {
    size_t sealed;         /* records sealed by this put */
    unsigned preserved;    /* categories with data sealed so far */
    td_eorder_state state; /* preserved */
} td_eorder_put_result;

/* Seals records of order (states collecting or preserved; withdrawn, ended, approved... :
 * TD_ERR_CONFLICT). Every record is checked first: a category the order does not request (or
 * refused by a cannot-comply answer), a time outside E.time_range, an identifier the order does
 * not name, fields that are not a JSON object or name a subscriber sub-category not requested:
 * TD_ERR_INVALID with why naming the record and member ("records[3].category") and nothing of
 * the put stored. Then each record is sealed (td_evidence_seal, case "eorder-<id>", item label
 * "<category>[:<identifier>]", the record's metadata as related data) and, once all are sealed,
 * one transaction records them with their SHA-256 digests (audit "eorder.data_preserved"),
 * moves the order to preserved and, for EU orders, queues the data_preserved outbox message. A
 * failure while sealing records nothing (items sealed before it stay unreferenced in the case
 * and go with it). No evidence master key yet: TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status
td_eorder_put_data(td_eorders *eorders, const char *actor, const char *order,
                   const td_eorder_record *records, size_t n_records, td_eorder_put_result *out,
                   td_eorder_rejection *why, td_error *err);

typedef struct td_eorder_record_info {
    int64_t id; /* the record's number within takedown */
    int64_t evidence_item;
    char linked_case[TD_EVIDENCE_REF_MAX + 1]; /* "": sealed into the order's case by a put; else
                                                  the evidence case the item was linked from
                                                  (td_eorder_link: "report-<id>") */
    unsigned category;
    char identifier[TD_EORDER_VALUE_MAX + 1];
    int64_t at_ms;
    int64_t bytes;          /* content length */
    char sha256[65];        /* SHA-256 of the content (hex) */
    char fields_sha256[65]; /* SHA-256 of the fields as sealed (hex) */
    int64_t sealed_ms;
    int64_t delivered_ms; /* 0: not delivered */
} td_eorder_record_info;

/* The records of order (metadata only; audited as a read). Free *out with td_free. */
__attribute__((warn_unused_result)) td_status
td_eorder_records(td_eorders *eorders, const char *actor, const char *purpose, const char *order,
                  td_eorder_record_info **out, size_t *count, td_error *err);

/* ---- data takedown holds itself: linked, not put ----
 * Some data an order may name is held by takedown itself, sealed already in an evidence case of
 * its own: a report from end-to-end encrypted messaging whose case ended in removal (reports.h,
 * case "report-<id>", found by its content id or by its sender's account). A provider, registered
 * by whoever holds both handles (the server registers td_reports_eorder_provider; neither
 * component includes the other), finds such items for an order. Each is checked like a record of
 * a put (a category the order requests and no cannot-comply refused, an identifier the order
 * names, a time within E.time_range), linked to the order's evidence case (td_evidence_link, no
 * second copy) and recorded as one of the order's records ("eorder.data_linked"); the order
 * becomes preserved, and the item is approved, released by the custodians and delivered with the
 * rest. The item's own case is held while an order that links it runs. Linking is asked at
 * receipt, by td_eorder_link, and by td_eorders_tick for every order collecting or preserved (at
 * most once a minute of the service's clock), so data preserved after the order came is found. */
typedef struct td_eorder_linked {
    unsigned category;                        /* one TD_EORDER_CAT_* bit */
    char identifier[TD_EORDER_VALUE_MAX + 1]; /* the order's identifier it answers, "" none */
    int64_t at_ms;                            /* when the data arose */
    char case_ref[TD_EVIDENCE_REF_MAX + 1];   /* the evidence case that holds the item */
    int64_t item;                             /* the sealed item */
    int64_t bytes;                            /* its content length */
    char sha256[65];                          /* SHA-256 of its content (hex) */
    char related_sha256[65];                  /* SHA-256 of its related data as sealed (hex) */
} td_eorder_linked;

/* Finds the data takedown holds for order; *items (freed with td_free by the caller) receives
 * *count of them (at most TD_EORDER_PUT_MAX_RECORDS). Called without any lock or transaction of
 * the evidence orders component. */
typedef td_status (*td_eorder_provider_fn)(void *ctx, const td_eorder *order,
                                           td_eorder_linked **items, size_t *count, td_error *err);

/* Registers the provider (fn NULL: none); call before the handle is shared between threads. */
void td_eorders_set_provider(td_eorders *eorders, td_eorder_provider_fn fn, void *ctx);

/* Asks the provider for order's data now (an order collecting or preserved; otherwise nothing is
 * linked) and links what is new; *linked (may be NULL) counts the new records. An item the order
 * does not ask for is skipped, not an error: the provider may find more than the order wants. */
__attribute__((warn_unused_result)) td_status td_eorder_link(td_eorders *eorders, const char *actor,
                                                             const char *order, size_t *linked,
                                                             td_error *err);

/* ---- answers ---- */

typedef struct td_eorder_approval {
    unsigned approvals, needed;
    int complete;            /* the order is approved */
    int64_t release_request; /* made when complete: custodians approve it (td_evidence_approve) */
} td_eorder_approval;

/* A legal officer (who: role TD_ROLE_LEGAL, else TD_ERR_INVALID) approves the delivery of a
 * preserved production order (state preserved; else TD_ERR_CONFLICT). Officers are distinct by
 * principal name; the same officer again: TD_ERR_CONFLICT. When the needed count is reached
 * (options: approvals_content with content data requested, else approvals_other) the order
 * becomes approved and an evidence release request for its case is made (legal basis: the
 * framework and reference). note may be NULL. Audit "eorder.approved". */
__attribute__((warn_unused_result)) td_status
td_eorder_approve(td_eorders *eorders, const td_principal *who, const char *order, const char *note,
                  td_eorder_approval *out, td_error *err);

typedef struct td_eorder_cc_input {
    td_eorder_reason reason; /* an Annex III reason (TD_EORDER_R_INCOMPLETE..CONFLICT_OF_LAW) */
    unsigned categories;     /* 0 or every category still in scope: the whole order (paused);
                                some: those categories only (the others go ahead) */
    const char *explanation; /* required, <= TD_EORDER_TEXT_MAX */
    /* conflict_of_law: all required (<= TD_EORDER_SHORT_TEXT_MAX each); otherwise NULL */
    const char *third_country;
    const char *provisions;
    const char *nature_of_obligation;
    const char *why_applies;
    const char *link_to_country;
    const char *consequences;
} td_eorder_cc_input;

/* Annex III for order (open states other than paused; else TD_ERR_CONFLICT). For the whole
 * order: the clock pauses (state paused, deadlines suspended) until a clarification or
 * correction restarts it with the full period. For some categories: they are refused (never
 * collected nor delivered) and the rest goes ahead. Queues the non_execution outbox message;
 * audit "eorder.cannot_comply". out (may be NULL) receives the order after. */
__attribute__((warn_unused_result)) td_status
td_eorder_cannot_comply(td_eorders *eorders, const char *actor, const char *order,
                        const td_eorder_cc_input *in, td_eorder *out, td_error *err);

/* The operator writes to the issuing authority (e.g. request_additional_information): queues a
 * correspondence outbox message; audit "eorder.correspondence_sent". */
__attribute__((warn_unused_result)) td_status
td_eorder_correspond(td_eorders *eorders, const char *actor, const char *order,
                     td_eorder_correspondence_kind kind, const char *text, td_error *err);

typedef struct td_eorder_delivery {
    size_t records;      /* records in the package */
    unsigned categories; /* categories delivered */
    uint64_t audit_seq; /* the delivery's audit entry ("eorder.delivery", proven in the manifest) */
    int64_t delivered_ms;
    char package_sha256[65];  /* SHA-256 of the package file (hex) */
    uint64_t package_bytes;   /* its size */
    char manifest_sha256[65]; /* SHA-256 of its signed manifest (hex) */
} td_eorder_delivery;

/* Delivers an approved production order into a package file at package_path (created, never
 * overwritten): transmission must be allowed by the clock (ten_days_enforcing: after
 * transmit_from unless "none" grounds; categories blocked by grounds or refused are left out)
 * and the order's release request approved by k custodians (td_evidence_approve), else
 * TD_ERR_CONFLICT. Each record is opened from the evidence store and streamed into the package,
 * encrypted to L.x25519_public_key; the delivery audit entry (order, categories, record digests)
 * is committed, and its inclusion proof, the order id and categories go into the manifest,
 * signed with the delivery key (td_eorders_delivery_public_key). State delivered; the outcome
 * outbox message is queued. A failure once the release ran leaves no package, is logged
 * ("eorder.delivery_failed" when the delivery entry was written) and makes a new release request
 * (a release is used once) for the custodians to approve before a retry. */
__attribute__((warn_unused_result)) td_status
td_eorder_deliver(td_eorders *eorders, const char *actor, const char *order,
                  const char *package_path, td_eorder_delivery *out, td_error *err);

/* ---- the outbox: messages to the issuing side ----
 * Each message is one JSON object (the server converts it to the transport's XML and posts it):
 *   {"kind": "data_preserved"|"outcome"|"non_execution"|"correspondence", "order": "eo-<id>",
 *    "ext_id", "framework", "reference", "issuing_state", "created": time, "details": {...}} */

typedef enum td_eorder_message_kind {
    TD_EORDER_MSG_DATA_PRESERVED = 1, /* "data_preserved" (EU orders) */
    TD_EORDER_MSG_OUTCOME = 2,        /* "outcome": the data was delivered */
    TD_EORDER_MSG_NON_EXECUTION = 3,  /* "non_execution": Annex III */
    TD_EORDER_MSG_CORRESPONDENCE = 4  /* "correspondence" */
} td_eorder_message_kind;

typedef enum td_eorder_message_state {
    TD_EORDER_MSG_PENDING = 1,  /* "pending": to send (again, after a failure) */
    TD_EORDER_MSG_SENT = 2,     /* "sent" */
    TD_EORDER_MSG_CANCELLED = 3 /* "cancelled": the order was withdrawn before it was sent */
} td_eorder_message_state;

const char *td_eorder_message_kind_name(td_eorder_message_kind kind);
const char *td_eorder_message_state_name(td_eorder_message_state state);

typedef struct td_eorder_message {
    int64_t id;
    int64_t order_id;
    td_eorder_message_kind kind;
    td_eorder_message_state state;
    char json[TD_EORDER_MESSAGE_MAX + 1];
    int attempts; /* failed attempts so far */
    char last_error[256];
    int64_t created_ms, next_attempt_ms, sent_ms;
} td_eorder_message;

/* Messages, oldest first: due_only 1 gives pending messages whose next attempt is due now; 2
 * the same of orders that came with transport data (td_eorder_intake.transport_data: what a
 * transport's sender posts; the others' messages are fetched by their authority); 0 every
 * message of order (NULL: of all orders). At most limit (0: 100, max TD_PAGE_MAX). Free *out
 * with td_free. */
__attribute__((warn_unused_result)) td_status
td_eorder_outbox_list(td_eorders *eorders, const char *order, int due_only, size_t limit,
                      td_eorder_message **out, size_t *count, td_error *err);
/* The message was delivered (audit "eorder.message_sent"); TD_ERR_CONFLICT unless pending. */
__attribute__((warn_unused_result)) td_status
td_eorder_outbox_sent(td_eorders *eorders, const char *actor, int64_t message_id, td_error *err);
/* An attempt failed: the message stays pending until retry_at_ms (error: why, truncated). */
__attribute__((warn_unused_result)) td_status
td_eorder_outbox_failed(td_eorders *eorders, int64_t message_id, const char *error,
                        int64_t retry_at_ms, td_error *err);

/* ---- clocks ---- */

typedef struct td_eorders_tick_result {
    size_t escalations; /* marks newly passed */
    size_t breaches;    /* production deadlines newly passed without delivery */
    size_t expired;     /* preservation orders whose period ended */
    size_t released;    /* of the expired: preservations a linked production had held */
    size_t linked;      /* records linked from data takedown holds (td_eorder_link) */
} td_eorders_tick_result;

/* Raises escalation marks, records breaches ("eorder.escalated", "eorder.breached": a row change
 * and an audit entry each, once), expires preservation orders past their end (unless a linked
 * production is pending), and lets their evidence go; at most once a minute (service clock),
 * links data takedown holds to the orders collecting or preserved (td_eorder_link). out may be
 * NULL. */
__attribute__((warn_unused_result)) td_status
td_eorders_tick(td_eorders *eorders, td_eorders_tick_result *out, td_error *err);

/* Figures of the background thread since td_eorders_open (all 0 without opts.clock). */
typedef struct td_eorders_clock_stats {
    int running;
    uint64_t ticks, tick_failures;
} td_eorders_clock_stats;

void td_eorders_clock_get_stats(td_eorders *eorders, td_eorders_clock_stats *out);

/* ---- monitoring and the transparency report ---- */

typedef struct td_eorders_metrics {
    int64_t by_state[TD_EORDER_STATE_MAX + 1]; /* orders per td_eorder_state (index 0 unused) */
    int64_t open;             /* received, collecting, preserved, approved, paused */
    int64_t open_escalated;   /* open orders with at least one mark passed */
    int64_t escalation_marks; /* marks passed, summed over all orders */
    int64_t breaches;         /* orders with a breach recorded */
    int64_t restricted;       /* delivered orders whose data was restricted by grounds */
    int64_t outbox_pending;   /* messages not sent yet */
    int64_t outbox_retrying;  /* of which failed at least once */
} td_eorders_metrics;

__attribute__((warn_unused_result)) td_status
td_eorders_metrics_get(td_eorders *eorders, td_eorders_metrics *out, td_error *err);

/* The evidence-order figures for [from_ms, to_ms) as one JSON object: orders received per
 * framework, delivered, not executed per reason, preservation ended / expired, withdrawn,
 * breaches, the median receipt-to-delivery time, with the audit log's size and root. Free *json
 * with td_free. */
__attribute__((warn_unused_result)) td_status
td_eorders_report(td_eorders *eorders, int64_t from_ms, int64_t to_ms, char **json, td_error *err);

/* The whole transparency report of [from_ms, to_ms), one JSON object: the removal orders' report
 * (td_report_transparency, orders.h) of the handle's orders with this handle's figures
 * (td_eorders_report's "evidence_orders" object) added as its member "evidence_orders". What
 * GET /v1/reports/transparency and `takedown report transparency` give. Free *json with td_free.
 */
__attribute__((warn_unused_result)) td_status td_eorders_transparency(td_eorders *eorders,
                                                                      int64_t from_ms,
                                                                      int64_t to_ms, char **json,
                                                                      td_error *err);

#ifdef __cplusplus
}
#endif

#endif
