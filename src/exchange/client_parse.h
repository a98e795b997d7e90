/* Inside src/exchange: the page parsers of the ThreatExchange and TCAP clients, callable on a
 * buffer without HTTP (the fuzz harness and the tests call them), and what the clients share:
 * tags made labels, the exchange's filters, URL escaping, the SHA-256 of a page, how an HTTP
 * outcome maps to a fetch outcome. */
#ifndef TD_EXCHANGE_CLIENT_PARSE_H
#define TD_EXCHANGE_CLIENT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "exchange/client.h"

/* Longest indicator or hash value a client takes (a longer one is skipped, not refused). */
#define TD__XVALUE_MAX TD_SIGNAL_BODY_MAX
/* Longest string member read from a page besides values (ids, types, tags, cursors). */
#define TD__XSTRING_MAX 4096

/* Parses one ThreatExchange /threat_updates answer (the JSON body of a 2xx) into page.
 * page->checkpoint holds, on entry, the checkpoint the page was fetched from ("" for the first
 * fetch) and on success the next one (format: client_te.c); x gives the filters, max_items and
 * now_ms. On failure the page holds no item and the error names what does not parse
 * (TD_ERR_CORRUPT), or the limit passed (TD_ERR_LIMIT); x->outcome is set either way. */
__attribute__((warn_unused_result)) td_status
td__te_parse_page(const char *body, size_t len, td__xconn *x, td__xpage *page, td_error *err);

/* The same for one TCAP /hash-list/v2/all answer: page->checkpoint holds the checkpoint the
 * page was fetched after and, on success, the answer's own "checkpoint" (kept when the page is
 * empty and the answer has none). */
__attribute__((warn_unused_result)) td_status
td__tcap_parse_page(const char *body, size_t len, td__xconn *x, td__xpage *page, td_error *err);

/* A source's tag as a label: bytes outside [A-Za-z0-9_.:/-] become '_' (a run of them one '_'),
 * leading and trailing '_' are dropped, lower case when lower is set; prefix (may be "") is put
 * first. Returns 0 and adds nothing when the result is empty, longer than TD_LABEL_MAX, or the
 * labels are full (a source's tag is never a reason to refuse its record). */
int td__xlabel_add(td_labels *labels, const char *prefix, const char *tag, size_t len, int lower);

/* Whether the exchange takes an item: retractions (remove, negative) always pass (retracting
 * what is not there is a no-op, and a filter changed since the signal was added must not keep
 * it); an addition passes when its type is in x->types (0: all) and, when x->tags has labels,
 * it carries one of them. */
int td__xfilter_takes(const td__xconn *x, const td__xitem *item, const td_labels *labels);

/* Appends s percent-encoded (every byte but the unreserved ones of RFC 3986). */
__attribute__((warn_unused_result)) td_status td__xurl_escape(td__buf *b, const char *s, size_t n);

/* The base URL checked (td__http_url_check) and appended without its trailing '/'. */
__attribute__((warn_unused_result)) td_status td__xurl_base(td__buf *b, const td__xconn *x,
                                                            td_error *err);

/* SHA-256 of the raw bytes received, with their count, into the page. */
void td__xpage_digest(td__xpage *page, const void *body, size_t len);

/* Sets x->outcome and returns the error for a transport result other than TD__HTTP_OK
 * (timeouts and connection failures are retried; refused addresses, bad URLs fail; a body over
 * the cap is a malformed page). */
td_status td__xhttp_failure(td__xconn *x, td__http_result result, td_error *err);

/* Sets x->outcome and returns the status that goes with it (TD_OK for TD__XFETCH_OK). */
td_status td__xoutcome(td__xconn *x, td__xfetch outcome, td_status code);
/* Refuses a page whole: its items dropped, its digest and size kept (for the audit entry);
 * x->outcome malformed (failed when st is TD_ERR_NOMEM). Returns st. */
td_status td__xpage_refuse(td__xconn *x, td__xpage *page, td_status st);
/* Drops a page's items, keeping its digest, size and checkpoint. */
void td__xpage_drop_items(td__xpage *page);

#endif
