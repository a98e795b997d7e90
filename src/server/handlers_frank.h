/* HTTP handlers of message franking and E2EE reports (handlers_frank.c, docs/e2ee.md), for the
 * route table in router.c, and the server's reports handle (server.c). */
#ifndef TD_SERVER_HANDLERS_FRANK_H
#define TD_SERVER_HANDLERS_FRANK_H

#include "server/server_int.h"
#include "takedown/reports.h"

/* How often the server's reports handle runs its duties on its thread: a key is rotated or
 * destroyed, a removed report sealed and a closed case's review copy deleted at most this late
 * (reads of the copy stop at the decision, verification at a key's destroy time). */
#define TD__REPORTS_TICK_MS 2000

/* The server's reports handle (opened by td_server_set_service after the orders), or NULL when
 * it could not be opened: these routes then answer 503. */
td_reports *td__req_reports(td__req *r);
/* The counters of td_reports_get_stats since the server started (handles closed included). */
void td__srv_reports_figures(td_server *srv, td_reports_stats *out);

void td__h_frank(td__req *r);
void td__h_frank_keys(td__req *r);
void td__h_frank_rotate(td__req *r);
void td__h_reports_submit(td__req *r);
void td__h_report_get(td__req *r);
void td__h_report_list(td__req *r);
void td__h_report_text(td__req *r);
void td__h_report_attachment(td__req *r);

#endif
