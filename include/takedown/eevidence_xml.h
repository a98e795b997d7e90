/* The EU e-Evidence transport: ETSI TS 103 120 `HI1Message` XML (as profiled by ETSI TS 104 144)
 * to and from takedown's JSON. A library module with no HTTP and no store: the server hands it the
 * body of a POST to one of the endpoints and gets the intake document of docs/evidence-orders.md
 * (production, preservation) or an event on an existing order (the other endpoints); the orders
 * layer hands it the JSON of an answer and gets the XML to send. The element mapping, what is
 * standard TS 103 120 and what is takedown's own `eev:` extension, the limits and the parser's
 * safety settings are in docs/evidence-orders-xml.md.
 *
 * Untrusted XML is parsed with libxml2 without network access, DTDs or entity substitution; any
 * DOCTYPE is refused; size, depth, element count, text and attribute lengths and the number of
 * objects are capped (below). libxml2 prints nothing: its messages end up in the td_error. Safe
 * to call from several threads at once. */
#ifndef TAKEDOWN_EEVIDENCE_XML_H
#define TAKEDOWN_EEVIDENCE_XML_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (TD_ERR_LIMIT past them, the message names the limit) ---- */

#define TD_EEV_MAX_XML (8u << 20)   /* bytes of one message */
#define TD_EEV_MAX_DEPTH 32         /* element nesting */
#define TD_EEV_MAX_NODES 20000      /* elements, comments and processing instructions */
#define TD_EEV_MAX_ATTRS 16         /* attributes (and namespace declarations) of one element */
#define TD_EEV_MAX_ATTR_LEN 1024    /* bytes of one attribute value */
#define TD_EEV_MAX_TEXT (64u << 10) /* bytes of text in one element (but doc:Contents) */
#define TD_EEV_MAX_OBJECTS 256      /* HI1Objects (ActionRequests) in one message */
#define TD_EEV_MAX_DOCUMENTS 16     /* DocumentObjects in one message */
#define TD_EEV_ID_MAX 255           /* bytes of an identifier (UniqueIdentifier, references) */

/* ---- the endpoints and messages ---- */

/* What a received message is, named by the endpoint it was posted to. The first nine are the
 * endpoints toward the operator (TS 104 144 clause 5); the last three are the operator's own
 * outgoing messages, accepted too so that what td_eevidence_build writes can be read back (tests,
 * a peer instance). */
typedef enum td_eevidence_endpoint {
    TD_EEV_PRODUCTION = 0,         /* EPOC (Form 1): the intake document, framework eu_epoc */
    TD_EEV_PRESERVATION,           /* EPOC-PR (Form 2): the intake document, eu_epoc_pr */
    TD_EEV_SUBSEQUENT_PRODUCTION,  /* Form 5: event subsequent_production */
    TD_EEV_PRESERVATION_EXTENSION, /* Form 6: event extend_preservation */
    TD_EEV_END_PRESERVATION,       /* event end_preservation */
    TD_EEV_NEW_DEADLINE,           /* event new_deadline */
    TD_EEV_WITHDRAW,               /* desired status Cancelled: event withdraw */
    TD_EEV_GROUNDS_FOR_REFUSAL,    /* the enforcing authority's decision: event grounds */
    TD_EEV_CORRESPONDENCE,         /* event correspondence (also what the operator sends) */
    TD_EEV_DATA_PRESERVED,         /* read back: the operator's datapreserved message */
    TD_EEV_OUTCOME,                /* read back: the operator's outcome message */
    TD_EEV_NON_EXECUTION,          /* read back: the operator's nonexecution message (Annex III) */
    TD_EEV_ENDPOINT_COUNT
} td_eevidence_endpoint;

/* What the operator sends (TS 104 144 clause 6). */
typedef enum td_eevidence_message {
    TD_EEV_MSG_DATA_PRESERVED = 0, /* LDTaskObjects with status Preserved + a notification */
    TD_EEV_MSG_OUTCOME,            /* a DeliveryObject referencing the sealed delivery package */
    TD_EEV_MSG_NON_EXECUTION,      /* Annex III: a notification with the reason, tasks Invalid */
    TD_EEV_MSG_CORRESPONDENCE,     /* a correspondence DocumentObject */
    TD_EEV_MSG_COUNT
} td_eevidence_message;

/* The endpoint's name as in the URL (`production`, `subsequentproduction`, `groundsforrefusal`,
 * `datapreserved`, ...); NULL for a value out of range. */
const char *td_eevidence_endpoint_name(td_eevidence_endpoint ep);
/* The endpoint named name[0..len), or -1 if there is none. */
int td_eevidence_endpoint_from_name(const char *name, size_t len);
/* The message's name (`datapreserved`, `outcome`, `nonexecution`, `correspondence`). */
const char *td_eevidence_message_name(td_eevidence_message kind);

/* ---- the header ---- */

/* One party: SenderIdentifier or ReceiverIdentifier. */
typedef struct td_eevidence_party {
    char country[3];                   /* CountryCode: two capital letters (ISO 3166, or XX) */
    char unique_id[TD_EEV_ID_MAX + 1]; /* UniqueIdentifier */
} td_eevidence_party;

/* The HI1Message Header. */
typedef struct td_eevidence_header {
    td_eevidence_party sender;
    td_eevidence_party receiver;
    char transaction_id[37];  /* TransactionIdentifier: a UUID, lower-case hex */
    char timestamp[40];       /* Timestamp as received (build: empty means now) */
    int64_t timestamp_ms;     /* the same in milliseconds since the epoch, UTC (parse only) */
    char etsi_version[32];    /* Version/ETSIVersion (build: empty means TD_EEV_ETSI_VERSION) */
    char profile_owner[32];   /* Version/NationalProfileOwner (build: empty means "EU") */
    char profile_version[32]; /* Version/NationalProfileVersion (build: empty: the default) */
} td_eevidence_header;

#define TD_EEV_ETSI_VERSION "V1.22.1"
#define TD_EEV_PROFILE_OWNER "EU"
#define TD_EEV_PROFILE_VERSION "v1.3.1"

/* ---- parsing ---- */

/* Parses a message received on endpoint ep. On success *json_out is a NUL-terminated JSON text
 * (free with td_free): for TD_EEV_PRODUCTION and TD_EEV_PRESERVATION the intake document of
 * docs/evidence-orders.md with `ext_id` (the AuthorisationObject's ObjectIdentifier), `documents`
 * and `tasks`; for the other endpoints an event `{"action": ..., "order": <ext_id>, ...}` (shapes
 * in docs/evidence-orders-xml.md). hdr_out (may be NULL) receives the header. TD_ERR_LIMIT when
 * a limit is passed, TD_ERR_INVALID for anything else wrong with the XML (malformed, a DOCTYPE,
 * a wrong namespace or root, a missing or unexpected element or value, a message that does not
 * fit the endpoint), TD_ERR_NOMEM; err's message names the element and the problem. On failure
 * *json_out is NULL. */
__attribute__((warn_unused_result)) td_status
td_eevidence_parse(td_eevidence_endpoint ep, const char *xml, size_t len, char **json_out,
                   td_eevidence_header *hdr_out, td_error *err);

/* ---- building ---- */

/* Builds the outgoing message kind from json_in (a NUL-terminated JSON object; its shape per kind
 * is in docs/evidence-orders-xml.md; unknown members are refused) with the header hdr (sender and
 * receiver required; an empty transaction id gets a random UUID, an empty timestamp the current
 * time, empty version fields the defaults above). The new objects belong to the sender
 * (CountryCode, OwnerIdentifier) and get random UUIDs. On success *xml_out is the UTF-8 XML text,
 * NUL-terminated, *len its length without the NUL (free with td_free). TD_ERR_INVALID names the
 * member that is missing or wrong (`tasks[1]`, `package.sha256`); TD_ERR_LIMIT when the message
 * would not fit TD_EEV_MAX_XML. */
__attribute__((warn_unused_result)) td_status
td_eevidence_build(td_eevidence_message kind, const char *json_in, const td_eevidence_header *hdr,
                   char **xml_out, size_t *len, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
