/* HTTP handlers of the evidence store (handlers_evidence.c), for the route table in router.c.
 * They use the evidence store of the server's orders handle (td_orders_evidence): when orders
 * could not be opened, these routes answer 503. */
#ifndef TD_SERVER_HANDLERS_EVIDENCE_H
#define TD_SERVER_HANDLERS_EVIDENCE_H

#include "server/server_int.h"

void td__h_evidence_cases_list(td__req *r);
void td__h_evidence_case_get(td__req *r);
void td__h_evidence_case_extend(td__req *r);
void td__h_evidence_case_hold(td__req *r);
void td__h_evidence_releases_list(td__req *r);
void td__h_evidence_release_request(td__req *r);
void td__h_evidence_release_approve(td__req *r);
void td__h_evidence_release(td__req *r);

#endif
