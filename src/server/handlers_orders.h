/* HTTP handlers of the orders component (handlers_orders.c), for the route table in router.c. */
#ifndef TD_SERVER_HANDLERS_ORDERS_H
#define TD_SERVER_HANDLERS_ORDERS_H

#include "server/server_int.h"
#include "takedown/orders.h"

/* The server's orders handle (server.c: opened on the service by td_server_set_service), or
 * NULL when orders could not be opened: these routes then answer 503. */
td_orders *td__req_orders(td__req *r);
/* td__req_orders, or NULL after answering 503. */
td_orders *td__orders_or_503(td__req *r);
/* An order time as "YYYY-MM-DDTHH:MM:SS.fffZ", or JSON null for 0. */
json_t *td__time_json(int64_t ms);

void td__h_authorities_list(td__req *r);
void td__h_authorities_create(td__req *r);
void td__h_authority_get(td__req *r);
void td__h_authority_link_key(td__req *r);
void td__h_orders_receive(td__req *r);
void td__h_referrals_receive(td__req *r);
void td__h_orders_list(td__req *r);
void td__h_order_get(td__req *r);
void td__h_order_execute(td__req *r);
void td__h_order_locate(td__req *r);
void td__h_order_confirm(td__req *r);
void td__h_order_target_media(td__req *r);
void td__h_order_feedback(td__req *r);
void td__h_order_cannot_comply(td__req *r);
void td__h_order_clarify(td__req *r);
void td__h_order_review_open(td__req *r);
void td__h_order_review_decide(td__req *r);
void td__h_referral_decide(td__req *r);
void td__h_complaints_file(td__req *r);
void td__h_complaint_get(td__req *r);
void td__h_complaint_decide(td__req *r);
void td__h_report_transparency(td__req *r);

/* User notice templates (handlers_notices.c). */
void td__h_notice_templates_list(td__req *r);
void td__h_notice_template_put(td__req *r);
void td__h_notice_template_delete(td__req *r);

/* The audit log of the orders (td_orders_audit): proof documents in the format of
 * td_audit_doc_format, as `takedown audit prove` prints them. */
void td__h_audit_checkpoint(td__req *r);
void td__h_audit_inclusion(td__req *r);
void td__h_audit_entries(td__req *r);
void td__h_audit_consistency(td__req *r);

#endif
