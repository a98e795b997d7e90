/* What the e-Evidence XML reader (eorders_xml.c) and writer (eorders_xml_out.c) share: the
 * namespaces, the dictionaries between TS 103 120 / TS 104 144 values and takedown's JSON names,
 * times, UUIDs, base64, and starting libxml2 once with nothing printed. No store, no HTTP. */
#ifndef TD_EORDERS_XML_INT_H
#define TD_EORDERS_XML_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlerror.h>

#include "takedown/eevidence_xml.h"

/* ---- namespaces ---- */

/* ETSI TS 103 120 schemas (the versions TS 104 144 profiles). */
#define TD__EEV_NS_CORE "http://uri.etsi.org/03120/common/2019/10/Core"
#define TD__EEV_NS_COMMON "http://uri.etsi.org/03120/common/2016/02/Common"
#define TD__EEV_NS_TASK "http://uri.etsi.org/03120/common/2020/09/Task"
#define TD__EEV_NS_AUTH "http://uri.etsi.org/03120/common/2020/09/Authorisation"
#define TD__EEV_NS_DOC "http://uri.etsi.org/03120/common/2020/09/Document"
#define TD__EEV_NS_NOTIFICATION "http://uri.etsi.org/03120/common/2016/02/Notification"
#define TD__EEV_NS_DELIVERY "http://uri.etsi.org/03120/common/2019/10/Delivery"
#define TD__EEV_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
/* takedown's own elements for what TS 104 144 names in ways we do not know (the form sections
 * beyond TS 103 120, the grounds, the Form 3 reasons, the delivery package). */
#define TD__EEV_NS_EEV "urn:takedown:eevidence:1"

/* The dictionary owner of takedown's own values (identifier formats, the manifest). */
#define TD__EEV_OWNER "takedown"

/* ---- dictionaries ---- */

/* One value of a dictionary: its XML spelling and its JSON name; tables end with {NULL, NULL}. */
typedef struct td__eev_word {
    const char *xml;
    const char *json;
} td__eev_word;

extern const td__eev_word td__eev_priorities[];  /* EPOCPriority -> C.deadline */
extern const td__eev_word td__eev_roles[];       /* ApproverRole -> authority type */
extern const td__eev_word td__eev_categories[];  /* RequestType -> F.data_categories */
extern const td__eev_word td__eev_formats[];     /* ETSI FormatName -> E.identifiers[].type */
extern const td__eev_word td__eev_reasons[];     /* Annex III reason codes */
extern const td__eev_word td__eev_task_status[]; /* LDTaskStatus we send and read back */

/* The JSON name of xml in table t (NULL if absent), and the other way round. */
const char *td__eev_json_of(const td__eev_word *t, const char *xml);
const char *td__eev_xml_of(const td__eev_word *t, const char *json);
/* "a, b, c": the XML values of t, for error messages (static text, built once). */
void td__eev_list(const td__eev_word *t, int json_side, char *out, size_t cap);

/* The four categories in their canonical order, and the grounds for refusal (JSON names). */
extern const char *const td__eev_category_names[4];
extern const char *const td__eev_ground_names[4];
/* Index of name in the NULL-terminated or n-long list names, or -1. */
int td__eev_index(const char *const *names, size_t n, const char *name);

/* ---- times ---- */

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" (XML Schema dateTime with a zone, RFC 3339),
 * years 1970..9999, to milliseconds since the epoch (UTC; fractions past milliseconds dropped);
 * -1 if malformed. */
int64_t td__eev_time_parse(const char *text, size_t len);
/* "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" only when the milliseconds are not zero. */
void td__eev_time_format(int64_t ms, char out[32]);
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" (the microseconds of TS 103 120's header Timestamp). */
void td__eev_time_format_micro(int64_t ms, char out[40]);

/* ---- identifiers ---- */

/* 1 if s[0..n) is a UUID (8-4-4-4-12 hex digits, either case). */
int td__eev_uuid_valid(const char *s, size_t n);
/* Copies a UUID to out in lower case (s must be valid). */
void td__eev_uuid_lower(const char *s, char out[37]);
/* A random (version 4) UUID. td__eev_init must have succeeded. */
void td__eev_uuid_new(char out[37]);
/* 1 if s[0..n) is two capital letters. */
int td__eev_country_valid(const char *s, size_t n);
/* 1 if s is 64 lower-case hex digits (a SHA-256). */
int td__eev_hex64(const char *s);
/* 1 if s is an absolute URI (a scheme, a colon, something) without blanks or controls, and at
 * most TD__EEV_MAX_URI bytes. */
#define TD__EEV_MAX_URI 2048
int td__eev_uri_ok(const char *s);
#define TD__EEV_MAX_CONTENT_TYPE 128

/* ---- base64 (RFC 4648 with padding; blanks ignored) ---- */

/* Decodes b64[0..n) into a fresh buffer (td__free) of *out_len bytes. TD_ERR_INVALID if it is not
 * base64, TD_ERR_NOMEM. */
td_status td__eev_base64_decode(const char *b64, size_t n, unsigned char **out, size_t *out_len);
/* Encodes data[0..n) into a fresh NUL-terminated text (td__free); NULL when memory is short. */
char *td__eev_base64_encode(const unsigned char *data, size_t n);
/* The SHA-256 of data as 64 lower-case hex digits. */
void td__eev_sha256_hex(const unsigned char *data, size_t n, char out[65]);

/* ---- starting and silencing libxml2 ---- */

/* Starts libxml2 and libsodium once per process (any thread may call it first). */
td_status td__eev_init(td_error *err);

/* libxml2's process-wide error callbacks are per thread in its threaded builds: these route them
 * to nothing for the calling thread while a parse or a build runs, and put the caller's back. The
 * parser also sets its own handler on its parser context; this catches what is reported without
 * one (tree building, serialisation, out of memory). */
typedef struct td__eev_quiet {
    xmlGenericErrorFunc generic;
    void *generic_ctx;
    xmlStructuredErrorFunc structured;
    void *structured_ctx;
} td__eev_quiet;
void td__eev_quiet_begin(td__eev_quiet *q);
void td__eev_quiet_end(const td__eev_quiet *q);

#endif
