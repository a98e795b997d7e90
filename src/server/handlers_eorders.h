/* HTTP handlers of evidence orders (handlers_eorders.c, docs/evidence-orders.md), for the route
 * table in router.c, and the sender of the outgoing e-Evidence messages (eevidence_out.c). */
#ifndef TD_SERVER_HANDLERS_EORDERS_H
#define TD_SERVER_HANDLERS_EORDERS_H

#include "server/server_int.h"
#include "takedown/evidence_orders.h"

/* The server's evidence orders handle (server.c: opened with the orders handle), or NULL when it
 * could not be opened: these routes then answer 503. */
td_eorders *td__req_eorders(td__req *r);

void td__h_eorders_receive(td__req *r);
void td__h_eorders_list(td__req *r);
void td__h_eorder_get(td__req *r);
void td__h_eorder_event(td__req *r);
void td__h_eorder_data(td__req *r);
void td__h_eorder_records(td__req *r);
void td__h_eorder_approve(td__req *r);
void td__h_eorder_cannot_comply(td__req *r);
void td__h_eorder_correspond(td__req *r);
void td__h_eorder_deliver(td__req *r);
void td__h_eorder_package(td__req *r);
void td__h_eorder_messages(td__req *r);
void td__h_eorders_delivery_key(td__req *r);
void td__h_eorders_report(td__req *r);
/* POST /eevidence/{endpoint}: the ETSI TS 103 120 transport (eevidence_xml.h). */
void td__h_eevidence(td__req *r);

/* The outgoing message sender: a thread that takes the due outbox messages of eorders, converts
 * them to HI1Message XML and posts them to the configured access point (eevidence_outbound_url;
 * none configured: messages stay pending, readable on GET .../messages). */
typedef struct td__eev_sender td__eev_sender;
td__eev_sender *td__eev_sender_start(td_server *srv, td_eorders *eorders);
/* Stops the thread (waiting for a send in progress) and frees; accepts NULL. */
void td__eev_sender_stop(td__eev_sender *s);
/* One pass over the due messages (what the thread does each period); returns the number sent. */
size_t td__eev_sender_pass(td__eev_sender *s);

#endif
