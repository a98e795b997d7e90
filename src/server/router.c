/* The route table: every HTTP route of the service in one place, with the roles allowed to call
 * it. Keeping it a table (rather than if-chains in the handlers) lets the OpenAPI test compare
 * the document with what the server really answers, and lets metrics label requests by pattern
 * instead of by raw path (which would grow without bound). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "core/utf8.h"
#include "server/handlers_eorders.h"
#include "server/handlers_evidence.h"
#include "server/handlers_feeds.h"
#include "server/handlers_frank.h"
#include "server/handlers_hma.h"
#include "server/handlers_incidents.h"
#include "server/handlers_orders.h"
#include "server/server_int.h"

#define MOD (TD__R_ADMIN | TD__R_MODERATOR)
#define READ (TD__R_ADMIN | TD__R_MODERATOR | TD__R_AUDITOR)
#define CHECK (TD__R_ADMIN | TD__R_MODERATOR | TD__R_PLATFORM)
#define ADMIN TD__R_ADMIN
#define ANY TD__R_ANY
#define PUB (TD__R_PUBLIC)
#define AUTH TD__R_AUTHORITY
#define PLAT TD__R_PLATFORM
#define CUST TD__R_CUSTODIAN
#define LEGAL (TD__R_LEGAL | TD__R_ADMIN)
#define PEER TD__R_PEER

/* Most rows end at the summary: a route that takes no query parameter and reads no data header
 * leaves query and headers out (NULL). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const td__route routes[] = {
    {"GET", "/healthz", td__h_healthz, PUB, TD__F_NO_READY | TD__F_PROBE, "liveness"},
    {"GET", "/readyz", td__h_readyz, PUB, TD__F_NO_READY | TD__F_PROBE, "readiness"},
    {"GET", "/metrics", td__h_metrics, PUB, TD__F_NO_READY, "Prometheus metrics"},
    {"GET", "/v1/openapi.yaml", td__h_openapi, PUB, TD__F_NO_READY, "this API's document"},

    /* The web console (docs/console.md): static files, no key (the console asks for one and
     * sends it to the API routes below). One row per file: other names are 404. */
    {"GET", "/", td__h_web_file, PUB, TD__F_NO_READY | TD__F_CONSOLE, "the web console"},
    {"GET", "/console/console.css", td__h_web_file, PUB, TD__F_NO_READY | TD__F_CONSOLE,
     "the web console's style sheet"},
    {"GET", "/console/console.js", td__h_web_file, PUB, TD__F_NO_READY | TD__F_CONSOLE,
     "the web console's shell script"},
    {"GET", "/console/review.js", td__h_web_file, PUB, TD__F_NO_READY | TD__F_CONSOLE,
     "the web console's review views"},
    {"GET", "/console/charts.js", td__h_web_file, PUB, TD__F_NO_READY | TD__F_CONSOLE,
     "the web console's charts"},
    {"GET", "/console/team.js", td__h_web_file, PUB, TD__F_NO_READY | TD__F_CONSOLE,
     "the web console's team views"},

    {"GET", "/v1/banks", td__h_banks_list, READ | TD__R_PLATFORM, 0, "list banks"},
    {"POST", "/v1/banks", td__h_banks_create, MOD, 0, "create a bank"},
    {"GET", "/v1/banks/{name}", td__h_bank_get, READ | TD__R_PLATFORM, 0, "one bank"},
    {"PATCH", "/v1/banks/{name}", td__h_bank_update, MOD, 0, "update a bank"},
    {"DELETE", "/v1/banks/{name}", td__h_bank_delete, ADMIN, 0, "delete a bank"},
    {"GET", "/v1/banks/{name}/signals", td__h_signals_list, READ, 0, "list a bank's signals",
     "after limit"},
    {"POST", "/v1/banks/{name}/signals", td__h_signals_add, MOD, TD__F_MEDIA, "add a signal",
     "labels confidence source"},
    {"PATCH", "/v1/banks/{name}/signals/{id}", td__h_signal_update, MOD, 0, "update a signal"},
    {"DELETE", "/v1/banks/{name}/signals/{id}", td__h_signal_delete, MOD, 0, "delete a signal"},
    {"GET", "/v1/banks/{name}/signals/{id}", td__h_signal_get, READ, 0,
     "one signal, with the opinions of peers"},
    {"GET", "/v1/banks/{name}/signals/{id}/body", td__h_signal_body, READ, 0,
     "a body signal's text, URL or vPDQ hash file"},
    {"POST", "/v1/banks/{name}/import", td__h_bank_import, MOD, TD__F_IMPORT, "import a list",
     "format labels atomic confidence source"},
    {"GET", "/v1/banks/{name}/export", td__h_bank_export, READ, 0, "export a list",
     "format include_disabled"},

    {"POST", "/v1/check", td__h_check, CHECK, TD__F_MEDIA, "check media or hashes",
     "dihedral max_matches"},
    {"POST", "/v1/content", td__h_content_submit, CHECK, TD__F_MEDIA | TD__F_FORM, "submit content",
     "content_id uploader url time_ms"},
    {"GET", "/v1/content/{id}", td__h_content_get, READ | TD__R_PLATFORM, 0, "one content"},
    {"GET", "/v1/content/{id}/media", td__h_content_media, MOD, TD__F_DOWNLOAD,
     "the review copy of a content's media (audited)", "part"},

    {"GET", "/v1/cases", td__h_cases_list, READ, 0, "the review queue",
     "state limit offset mine queue"},
    {"GET", "/v1/cases/{id}", td__h_case_get, READ, 0, "one case with its decisions"},
    {"POST", "/v1/cases/{id}/claim", td__h_case_claim, MOD, TD__F_NO_BODY, "claim a case"},
    {"POST", "/v1/cases/{id}/release", td__h_case_release, MOD, TD__F_NO_BODY, "release a claim"},
    {"POST", "/v1/cases/{id}/decision", td__h_case_decision, MOD, 0, "decide a case"},
    /* The review workflow (docs/casework.md): who calls, queues, reasons, QA, context. */
    {"GET", "/v1/me", td__h_me, ANY | AUTH | CUST | TD__R_LEGAL | PEER, 0,
     "the calling key: id, name, role"},
    {"GET", "/v1/queues", td__h_queues, READ, 0, "review queues with their counts"},
    {"GET", "/v1/settings/review-reasons", td__h_review_reasons, READ, 0,
     "the reasons a decision may name"},
    {"GET", "/v1/qa", td__h_qa_list, READ, 0, "QA reviews, newest first", "state limit offset"},
    {"POST", "/v1/qa/{id}/decision", td__h_qa_decision, MOD, 0,
     "a second reviewer's decision on a sampled one"},
    {"GET", "/v1/content", td__h_content_list, READ, 0, "an uploader's content, newest first",
     "uploader limit offset"},
    {"GET", "/v1/banks/{name}/signals/{id}/decisions", td__h_signal_decisions, READ, 0,
     "decisions on content that matched a signal, newest first", "limit"},

    /* Hash exchanges (docs/exchanges.md): sources that keep banks in step with shared lists.
     * A peer's push is authenticated by its HMAC signature, not by a key. */
    {"GET", "/v1/exchanges", td__h_exchanges_list, ADMIN | TD__R_AUDITOR, 0, "list exchanges"},
    {"POST", "/v1/exchanges", td__h_exchanges_create, ADMIN, 0, "create an exchange"},
    {"GET", "/v1/exchanges/{id}", td__h_exchange_get, ADMIN | TD__R_AUDITOR, 0,
     "an exchange and its state"},
    {"PATCH", "/v1/exchanges/{id}", td__h_exchange_update, ADMIN, 0, "change an exchange"},
    {"DELETE", "/v1/exchanges/{id}", td__h_exchange_delete, ADMIN, 0, "delete an exchange"},
    {"POST", "/v1/exchanges/{id}/run", td__h_exchange_run, ADMIN, TD__F_NO_BODY,
     "pull an exchange now", "max_pages"},
    {"POST", "/v1/exchanges/{id}/push", td__h_exchange_push, PUB, 0,
     "a publisher's push: pull now (signed)", NULL,
     "X-Takedown-Signature X-Takedown-Event X-Takedown-Delivery"},
    {"GET", "/v1/exchanges/{id}/uploads", td__h_exchange_uploads_list, READ, 0,
     "the platform's signals shared with the source"},
    {"POST", "/v1/exchanges/{id}/uploads", td__h_exchange_upload_request, MOD, 0,
     "ask to share a signal with the source"},
    {"POST", "/v1/exchanges/{id}/uploads/{uid}/approve", td__h_exchange_upload_approve, ADMIN,
     TD__F_NO_BODY, "approve a share (a second person): sent now"},
    {"POST", "/v1/exchanges/{id}/uploads/{uid}/reject", td__h_exchange_upload_reject, ADMIN,
     TD__F_NO_BODY, "reject a share (a second person)"},
    {"GET", "/v1/webhooks", td__h_webhooks_list, ADMIN | TD__R_AUDITOR, 0, "list webhooks"},
    {"POST", "/v1/webhooks", td__h_webhooks_create, ADMIN, 0, "create a webhook"},
    {"DELETE", "/v1/webhooks/{id}", td__h_webhook_delete, ADMIN, 0, "delete a webhook"},
    {"GET", "/v1/webhooks/{id}/deliveries", td__h_webhook_deliveries, ADMIN | TD__R_AUDITOR, 0,
     "a webhook's delivery log", "limit"},

    {"GET", "/v1/keys", td__h_keys_list, ADMIN, 0, "list API keys"},
    {"POST", "/v1/keys", td__h_keys_create, ADMIN, 0, "create an API key"},
    {"DELETE", "/v1/keys/{id}", td__h_key_delete, ADMIN, 0, "revoke an API key"},

    {"GET", "/v1/stats", td__h_stats, READ, 0, "counts"},

    /* Signed feeds to other takedown instances (docs/feeds.md). A peer key calls these routes
     * and no other. "keys" comes first: it is not a bank's feed. */
    {"GET", "/v1/feeds/keys", td__h_feed_keys, PUB, 0, "the feed signing keys"},
    {"GET", "/v1/feeds/{bank}", td__h_feed_page, PEER | ADMIN, 0,
     "a bank's changes after a cursor, one signed page", "after limit"},
    {"POST", "/v1/feeds/{bank}/opinions", td__h_feed_opinions_add, PEER, 0,
     "a peer's opinions on signals of the bank"},
    {"GET", "/v1/feeds/{bank}/opinions", td__h_feed_opinions_list, READ, 0,
     "opinion counts per signal of the bank", "after limit"},

    /* Removal orders (docs/orders.md). Authorities only send orders and referrals, and read and
     * clarify their own orders (the handlers check that the order is theirs). */
    {"GET", "/v1/authorities", td__h_authorities_list, READ, 0, "list authorities"},
    {"POST", "/v1/authorities", td__h_authorities_create, ADMIN, 0, "register an authority"},
    {"GET", "/v1/authorities/{id}", td__h_authority_get, READ, 0, "one authority"},
    {"POST", "/v1/authorities/{id}/keys", td__h_authority_link_key, ADMIN, 0,
     "link an authority API key"},
    {"POST", "/v1/orders", td__h_orders_receive, AUTH, 0, "receive a signed removal order", NULL,
     "Takedown-Signature"},
    {"GET", "/v1/orders", td__h_orders_list, READ, 0, "the orders queue", "open limit"},
    {"GET", "/v1/orders/{id}", td__h_order_get, READ | AUTH, 0, "one order"},
    {"POST", "/v1/orders/{id}/execute", td__h_order_execute, MOD | PLAT, 0,
     "fire the remove action"},
    {"POST", "/v1/orders/{id}/locate", td__h_order_locate, MOD | PLAT, 0, "locate a target"},
    {"POST", "/v1/orders/{id}/confirm", td__h_order_confirm, MOD | PLAT, 0, "confirm the measure"},
    {"PUT", "/v1/orders/{id}/targets/{n}/media", td__h_order_target_media, MOD | PLAT, TD__F_MEDIA,
     "upload a target's removed media (sealed as evidence)"},
    {"GET", "/v1/orders/{id}/feedback", td__h_order_feedback, READ | AUTH, 0,
     "the Annex II feedback"},
    {"POST", "/v1/orders/{id}/cannot-comply", td__h_order_cannot_comply, MOD, 0,
     "cannot comply (Annex III)"},
    {"POST", "/v1/orders/{id}/clarification", td__h_order_clarify, MOD | AUTH, 0,
     "clarification: the clock restarts"},
    {"POST", "/v1/orders/{id}/review", td__h_order_review_open, MOD, 0,
     "cross-border review requested"},
    {"POST", "/v1/orders/{id}/review/decision", td__h_order_review_decide, MOD, 0,
     "cross-border review decision"},
    {"POST", "/v1/referrals", td__h_referrals_receive, AUTH, 0, "receive a signed referral", NULL,
     "Takedown-Signature"},
    {"POST", "/v1/referrals/{id}/decision", td__h_referral_decide, MOD, 0, "decide a referral"},
    {"POST", "/v1/complaints", td__h_complaints_file, CHECK, 0, "file a complaint"},
    {"GET", "/v1/complaints/{id}", td__h_complaint_get, READ | PLAT, 0, "one complaint"},
    {"POST", "/v1/complaints/{id}/decision", td__h_complaint_decide, MOD, 0, "decide a complaint"},
    {"GET", "/v1/reports/transparency", td__h_report_transparency, READ, 0,
     "the transparency report", "from to"},
    {"GET", "/v1/settings/notice-templates", td__h_notice_templates_list, ADMIN | TD__R_AUDITOR, 0,
     "user notice templates"},
    {"PUT", "/v1/settings/notice-templates/{lang}", td__h_notice_template_put, ADMIN, 0,
     "set a language's user notice template"},
    {"DELETE", "/v1/settings/notice-templates/{lang}", td__h_notice_template_delete, ADMIN, 0,
     "remove a user notice template"},

    /* The audit log (docs/audit.md): checkpoints are public (DESIGN.md), proofs need a key. */
    {"GET", "/v1/log/checkpoint", td__h_audit_checkpoint, PUB, 0, "the latest checkpoint"},
    {"GET", "/v1/log/proof/inclusion", td__h_audit_inclusion, ADMIN | TD__R_AUDITOR, 0,
     "an inclusion proof", "seq size"},
    {"GET", "/v1/log/entries", td__h_audit_entries, ADMIN | TD__R_AUDITOR, 0,
     "entries of the log, paged", "after before limit action"},
    {"GET", "/v1/log/proof/consistency", td__h_audit_consistency, ADMIN | TD__R_AUDITOR, 0,
     "a consistency proof", "from to"},

    /* Evidence (docs/evidence.md): metadata for admins and auditors, never content; a release
     * needs k custodians' approvals (each submits its share with its own key). */
    {"GET", "/v1/evidence/cases", td__h_evidence_cases_list, ADMIN | TD__R_AUDITOR, 0,
     "evidence cases (metadata)", "limit offset"},
    {"GET", "/v1/evidence/cases/{id}", td__h_evidence_case_get, ADMIN | TD__R_AUDITOR, 0,
     "one evidence case with its items (metadata)"},
    {"POST", "/v1/evidence/cases/{id}/extend", td__h_evidence_case_extend, ADMIN, 0,
     "extend a case's retention"},
    {"POST", "/v1/evidence/cases/{id}/hold", td__h_evidence_case_hold, ADMIN, 0,
     "set or lift a review hold"},
    {"GET", "/v1/evidence/releases", td__h_evidence_releases_list, ADMIN | TD__R_AUDITOR | CUST, 0,
     "release requests with their approvals", "state limit offset"},
    {"POST", "/v1/evidence/releases", td__h_evidence_release_request, ADMIN, 0,
     "request the release of evidence"},
    {"POST", "/v1/evidence/releases/{id}/approvals", td__h_evidence_release_approve, CUST, 0,
     "a custodian approves with its share"},
    {"POST", "/v1/evidence/releases/{id}/release", td__h_evidence_release, ADMIN, 0,
     "release the decrypted items"},

    /* Evidence orders (docs/evidence-orders.md): authorities send orders and events and fetch
     * their packages; the platform answers evidence.collect; only legal officers and admins read
     * them, each read audited with its ?purpose=. */
    {"POST", "/v1/evidence-orders", td__h_eorders_receive, AUTH, 0,
     "receive a signed evidence order", NULL, "Takedown-Signature"},
    {"GET", "/v1/evidence-orders", td__h_eorders_list, LEGAL, 0, "evidence orders (audited)",
     "purpose open limit"},
    {"GET", "/v1/evidence-orders/{id}", td__h_eorder_get, LEGAL, 0, "one evidence order (audited)",
     "purpose"},
    {"POST", "/v1/evidence-orders/{id}/events", td__h_eorder_event, AUTH, 0,
     "an event from the issuing or enforcing authority"},
    {"PUT", "/v1/evidence-orders/{id}/data", td__h_eorder_data, PLAT | ADMIN, TD__F_MEDIA,
     "the platform's data in scope (sealed)"},
    {"GET", "/v1/evidence-orders/{id}/records", td__h_eorder_records, LEGAL, 0,
     "the sealed records (metadata, audited)", "purpose"},
    {"GET", "/v1/evidence-orders/{id}/messages", td__h_eorder_messages, LEGAL | AUTH, 0,
     "messages to the issuing side (the issuing authority fetches its own)", "purpose"},
    {"POST", "/v1/evidence-orders/{id}/approvals", td__h_eorder_approve, TD__R_LEGAL, 0,
     "a legal officer approves the delivery"},
    {"POST", "/v1/evidence-orders/{id}/cannot-comply", td__h_eorder_cannot_comply, LEGAL, 0,
     "cannot comply (Annex III)"},
    {"POST", "/v1/evidence-orders/{id}/correspondence", td__h_eorder_correspond, LEGAL, 0,
     "write to the issuing authority"},
    {"POST", "/v1/evidence-orders/{id}/delivery", td__h_eorder_deliver, LEGAL, 0,
     "deliver: the encrypted, signed package"},
    {"GET", "/v1/evidence-orders/{id}/package", td__h_eorder_package, LEGAL | AUTH, 0,
     "the delivered package (the issuing authority, or audited)", "purpose"},
    {"GET", "/v1/evidence-delivery-key", td__h_eorders_delivery_key, PUB, 0,
     "the key that signs delivery manifests"},
    {"GET", "/v1/reports/evidence-orders", td__h_eorders_report, READ | TD__R_LEGAL, 0,
     "evidence-order figures for a period", "from to"},
    {"POST", "/eevidence/{endpoint}", td__h_eevidence, AUTH, TD__F_MEDIA,
     "the e-Evidence transport (ETSI TS 103 120 XML)", NULL, "Takedown-Signature"},

    /* Message franking and E2EE reports (docs/e2ee.md). The messaging server franks at
     * delivery and relays reports; the verification keys are public (clients check franks);
     * the review copy of a reported message is for moderators and admins, each read audited.
     * GET /v1/reports/{id} comes after the two report routes above, which it would shadow. */
    {"POST", "/v1/frank", td__h_frank, PLAT, 0, "frank messages at delivery (1..1000)"},
    {"GET", "/v1/frank/keys", td__h_frank_keys, PUB, 0, "the franking verification keys"},
    {"POST", "/v1/frank/keys/rotate", td__h_frank_rotate, ADMIN, TD__F_NO_BODY,
     "rotate the franking key"},
    {"POST", "/v1/reports", td__h_reports_submit, PLAT, TD__F_REPORT,
     "a reported message, verified"},
    {"GET", "/v1/reports", td__h_report_list, MOD, 0, "reports, newest first (no content)",
     "open limit offset"},
    {"GET", "/v1/reports/{id}", td__h_report_get, MOD | PLAT, 0, "one report (no content)"},
    {"GET", "/v1/reports/{id}/text", td__h_report_text, MOD, TD__F_DOWNLOAD,
     "a report's text (review copy, audited)"},
    {"GET", "/v1/reports/{id}/attachments/{i}", td__h_report_attachment, MOD, TD__F_DOWNLOAD,
     "a report's attachment (review copy, audited)"},

    /* Incident mode (docs/incidents.md): while an incident is open, matches meeting its filter
     * are blocked or reviewed at top priority; closing writes the after-action report. */
    {"POST", "/v1/incidents", td__h_incidents_create, MOD, 0, "open an incident"},
    {"GET", "/v1/incidents", td__h_incidents_list, READ, 0, "incidents, newest first",
     "open limit offset"},
    {"GET", "/v1/incidents/{id}", td__h_incident_get, READ, 0,
     "one incident with its live figures"},
    {"POST", "/v1/incidents/{id}/close", td__h_incident_close, MOD, TD__F_NO_BODY,
     "close an incident (writes its report)"},
    {"GET", "/v1/incidents/{id}/report", td__h_incident_report, READ, TD__F_DOWNLOAD,
     "an incident's after-action report (JSON or Markdown)", "format"},

    /* Meta's HMA 1.1.7 API (docs/hma.md), so that an HMA client switches by changing its base
     * URL. TD__F_HMA: errors in HMA's shape, and the route is served on hma_listen. */
    /* HMA: core (handlers_hma.c) */
    {"GET", "/status", td__h_hma_status, PUB, TD__F_NO_READY | TD__F_PROBE | TD__F_HMA,
     "HMA: readiness (I-AM-ALIVE once the indexes are loaded)"},
    {"GET", "/status/live", td__h_hma_status_live, PUB, TD__F_NO_READY | TD__F_PROBE | TD__F_HMA,
     "HMA: liveness"},
    {"GET", "/site-map", td__h_hma_site_map, PUB, TD__F_NO_READY | TD__F_HMA,
     "HMA: the routes served on this listener"},
    {"GET", "/openapi/openapi.json", td__h_hma_openapi, PUB, TD__F_NO_READY | TD__F_HMA,
     "HMA: the OpenAPI document of the HMA routes"},
    /* HMA: hashing and matching (handlers_hma_match.c) */
    {"GET", "/h/hash", td__h_hma_hash, CHECK, TD__F_HMA, "HMA: hash a URL"},
    {"POST", "/h/hash", td__h_hma_hash_post, CHECK, TD__F_HMA | TD__F_MEDIA,
     "HMA: hash an uploaded file"},
    {"GET", "/m/lookup", td__h_hma_lookup, CHECK, TD__F_HMA, "HMA: lookup"},
    {"POST", "/m/lookup", td__h_hma_lookup_post, CHECK, TD__F_HMA | TD__F_MEDIA,
     "HMA: look up an uploaded file"},
    {"GET", "/m/raw_lookup", td__h_hma_raw_lookup, CHECK, TD__F_HMA, "HMA: raw lookup"},
    {"POST", "/m/compare", td__h_hma_compare, ANY, TD__F_HMA, "HMA: compare hashes"},
    {"GET", "/m/index/status", td__h_hma_index_status, ANY, TD__F_HMA, "HMA: index status"},
    /* HMA: curation (handlers_hma_curation.c) */
    {"GET", "/c/banks", td__h_hma_banks_list, READ | TD__R_PLATFORM, TD__F_HMA, "HMA: list banks"},
    {"POST", "/c/banks", td__h_hma_banks_create, MOD, TD__F_HMA, "HMA: create a bank"},
    {"GET", "/c/bank/{name}", td__h_hma_bank_get, READ | TD__R_PLATFORM, TD__F_HMA,
     "HMA: one bank"},
    {"PUT", "/c/bank/{name}", td__h_hma_bank_update, MOD, TD__F_HMA, "HMA: update a bank"},
    {"DELETE", "/c/bank/{name}", td__h_hma_bank_delete, ADMIN, TD__F_HMA, "HMA: delete a bank"},
    {"POST", "/c/bank/{name}/signal", td__h_hma_signal_add, MOD, TD__F_HMA,
     "HMA: add content by its signals"},
    {"POST", "/c/bank/{name}/content", td__h_hma_content_add, MOD, TD__F_HMA | TD__F_MEDIA,
     "HMA: add content by URL or upload"},
    {"GET", "/c/bank/{name}/content/{id}", td__h_hma_content_get, READ, TD__F_HMA,
     "HMA: one bank content"},
    {"PUT", "/c/bank/{name}/content/{id}", td__h_hma_content_update, MOD, TD__F_HMA,
     "HMA: disable a bank content until a time, or note it"},
    {"DELETE", "/c/bank/{name}/content/{id}", td__h_hma_content_delete, MOD, TD__F_HMA,
     "HMA: delete a bank content"},
    {"GET", "/c/signal_type", td__h_hma_signal_types, READ, TD__F_HMA,
     "HMA: signal types and their ratios"},
    {"GET", "/c/signal_type/index", td__h_hma_signal_type_index, READ, TD__F_HMA,
     "HMA: index status per signal type"},
    {"PUT", "/c/signal_type/{name}", td__h_hma_signal_type_update, ADMIN, TD__F_HMA,
     "HMA: a signal type's enabled ratio"},
    {"GET", "/c/content_type", td__h_hma_content_types, READ, TD__F_HMA, "HMA: content types"},
    /* HMA: exchanges (handlers_hma_exchanges.c) */
    {"GET", "/c/exchanges/apis", td__h_hma_exchange_apis, ADMIN | TD__R_AUDITOR, TD__F_HMA,
     "HMA: exchange API types"},
    {"GET", "/c/exchanges/api/{api_name}", td__h_hma_exchange_api_get, ADMIN | TD__R_AUDITOR,
     TD__F_HMA, "HMA: whether an exchange API has credentials"},
    {"POST", "/c/exchanges/api/{api_name}", td__h_hma_exchange_api_set, ADMIN, TD__F_HMA,
     "HMA: set or clear an exchange API's credentials (sealed)"},
    {"GET", "/c/exchanges/api/{api_name}/schema", td__h_hma_exchange_api_schema,
     ADMIN | TD__R_AUDITOR, TD__F_HMA, "HMA: an exchange API's config and credential fields"},
    {"GET", "/c/exchanges", td__h_hma_exchanges_list, ADMIN | TD__R_AUDITOR, TD__F_HMA,
     "HMA: exchange names"},
    {"POST", "/c/exchanges", td__h_hma_exchanges_create, ADMIN, TD__F_HMA,
     "HMA: create an exchange and its bank"},
    {"GET", "/c/exchange/{exchange_name}", td__h_hma_exchange_get, ADMIN | TD__R_AUDITOR, TD__F_HMA,
     "HMA: one exchange"},
    {"PUT", "/c/exchange/{exchange_name}", td__h_hma_exchange_update, ADMIN, TD__F_HMA,
     "HMA: enable or disable an exchange"},
    {"DELETE", "/c/exchange/{exchange_name}", td__h_hma_exchange_delete, ADMIN, TD__F_HMA,
     "HMA: delete an exchange"},
    {"GET", "/c/exchange/{exchange_name}/status", td__h_hma_exchange_status, ADMIN | TD__R_AUDITOR,
     TD__F_HMA, "HMA: an exchange's fetch status"},
};
#pragma GCC diagnostic pop

#define N_ROUTES (sizeof routes / sizeof routes[0])

const td__route *td__routes(size_t *count)
{
    *count = N_ROUTES;
    return routes;
}

/* The public view of the table (for tests and documentation). */
static td_server_route_info route_info[N_ROUTES];
static char route_roles[N_ROUTES][64];
static pthread_once_t route_info_once = PTHREAD_ONCE_INIT;

static void roles_text(unsigned roles, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {TD__R_ADMIN, "admin"},     {TD__R_MODERATOR, "moderator"}, {TD__R_PLATFORM, "platform"},
        {TD__R_AUDITOR, "auditor"}, {TD__R_AUTHORITY, "authority"}, {TD__R_CUSTODIAN, "custodian"},
        {TD__R_LEGAL, "legal"},     {TD__R_PEER, "peer"},           {TD__R_PUBLIC, "public"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(roles & names[i].bit))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", names[i].name);
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
}

static void route_info_init(void)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
        route_info[i].method = routes[i].method;
        route_info[i].pattern = routes[i].pattern;
        route_info[i].summary = routes[i].summary;
        route_info[i].requires_key = !(routes[i].roles & TD__R_PUBLIC);
        route_info[i].hma = (routes[i].flags & TD__F_HMA) != 0;
        roles_text(routes[i].roles, route_roles[i], sizeof route_roles[i]);
        route_info[i].roles = route_roles[i];
        route_info[i].query = routes[i].query;
        route_info[i].headers = routes[i].headers;
    }
}

const td_server_route_info *td_server_routes(size_t *count)
{
    pthread_once(&route_info_once, route_info_init);
    *count = N_ROUTES;
    return route_info;
}

/* 1 when s[0..n) is UTF-8 without control characters: what a handler may put in JSON. */
static int clean_text(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next(u + i, n - i, &cp);
        if (k == 0 || td__unicode_is_control(cp))
            return 0;
        i += k;
    }
    return 1;
}

/* Percent-decodes one path segment into the arena; NULL on a malformed escape, an embedded NUL,
 * a segment longer than TD__MAX_PARAM_LEN, or one that is not clean text once decoded. */
static char *decode_segment(td__arena *a, const char *s, size_t n)
{
    if (n > TD__MAX_PARAM_LEN * 3)
        return NULL;
    char *out = td__arena_alloc(a, n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return NULL;
            int hi = td__hex_digit((unsigned char)s[i + 1]),
                lo = td__hex_digit((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o <= TD__MAX_PARAM_LEN && clean_text(out, o) ? out : NULL;
}

/* Matches path against one pattern; on success stores the parameters in r. */
static int match_pattern(td__req *r, const char *pattern, const char *path, int store)
{
    const char *p = pattern, *s = path;
    int n = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || n >= TD__MAX_PARAMS)
                return 0;
            if (store) {
                char *v = decode_segment(&r->arena, s, slen);
                if (!v)
                    return 0;
                r->params[n] = v;
            }
            n++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return 0;
    if (store)
        r->n_params = n;
    return 1;
}

int td__route_served(const td__req *r, const td__route *route)
{
    return !r->hma || (route->flags & TD__F_HMA);
}

int td__route_match(td__req *r, const char *method, const char *path)
{
    int path_matched = 0;
    if (!clean_text(path, strlen(path)))
        return -3;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!td__route_served(r, &routes[i]) || !match_pattern(r, routes[i].pattern, path, 0))
            continue;
        path_matched = 1;
        if (strcmp(routes[i].method, method) != 0)
            continue;
        if (!match_pattern(r, routes[i].pattern, path, 1))
            return -3; /* a malformed escape in a parameter */
        return (int)i;
    }
    return path_matched ? -2 : -1;
}

void td__reply_bad_path(td__req *r)
{
    static const char why[] = "a bad percent-escape, a NUL, bytes that are not UTF-8 or a control "
                              "character";
    /* Names the parameter at fault when the path has the shape of a route. */
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!td__route_served(r, &routes[i]) || !match_pattern(r, routes[i].pattern, r->path, 0))
            continue;
        const char *p = routes[i].pattern, *s = r->path;
        while (*p && *s) {
            p++;
            s++;
            size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
            if (plen > 2 && p[0] == '{' && !decode_segment(&r->arena, s, slen)) {
                td__reply_error(r, 400, "invalid_path", "path parameter '%.*s' holds %s",
                                (int)(plen - 2), p + 1, why);
                return;
            }
            p += plen;
            s += slen;
        }
    }
    td__reply_error(r, 400, "invalid_path", "malformed path %s (%s)", r->path, why);
}
