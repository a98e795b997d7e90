/* HTTP handlers of incident mode (handlers_incidents.c, docs/incidents.md), for the route table
 * in router.c, and the server's incidents handle (server.c). */
#ifndef TD_SERVER_HANDLERS_INCIDENTS_H
#define TD_SERVER_HANDLERS_INCIDENTS_H

#include "server/server_int.h"
#include "takedown/incidents.h"

/* How often the server's incidents handle reloads the open incidents (so that every node of a
 * shared store enforces the same ones), records the matches and follows the change log (new
 * signals recorded and pushed to peers at most this late). */
#define TD__INCIDENTS_TICK_MS 1000

/* The server's incidents handle, or NULL when it could not be opened: these routes then answer
 * 503. */
td_incidents *td__req_incidents(td__req *r);

void td__h_incidents_list(td__req *r);
void td__h_incidents_create(td__req *r);
void td__h_incident_get(td__req *r);
void td__h_incident_close(td__req *r);
void td__h_incident_report(td__req *r);

#endif
