/* Inside the incidents module (src/exchange/incidents*.c, above casework): the handle and what
 * its files share.
 *
 * Files: incidents.c (schema, handle, options, the thread, the rules handed to casework, create,
 * close, get, list, pushes), incidents_record.c (the matches casework queued and the change-log
 * follower that records new signals meeting a filter), incidents_report.c (figures and the
 * after-action report). */
#ifndef TD_EXCHANGE_INCIDENTS_INT_H
#define TD_EXCHANGE_INCIDENTS_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "casework/service_int.h"
#include "takedown/incidents.h"

struct td_incidents {
    td_service *svc;
    td_incidents_options opts;
    /* One recording pass (hits, change log) at a time in this process. */
    pthread_mutex_t record_lock;
    /* Matches casework could not queue (its queue full) since open. */
    _Atomic uint64_t dropped;
    pthread_t duty;
    int duty_started;
    pthread_mutex_t duty_lock;
    pthread_cond_t duty_wake;
    int duty_stop;
};

/* Event kinds (incident_events.kind). */
enum { TD__INC_SIGNAL = 1, TD__INC_MATCH = 2, TD__INC_BLOCK = 3 };

/* An incident's columns, read back by td__incident_row. */
#define TD__INCIDENT_COLUMNS                                                                       \
    "id, name, level, labels, banks, enforcement, state, opened_ms, opened_by, closed_ms,"         \
    " closed_by, start_ms"
void td__incident_row(td_stmt *q, void *item);

/* The incident's JSON as pushes and the report carry it (new reference). */
json_t *td__incident_json(const td_incident *in);

/* Reads incident id on c (TD_ERR_NOT_FOUND when unknown). */
td_status td__incident_load(td_store_conn *c, int64_t id, td_incident *out, td_error *err);

/* The rules of the open incidents, loaded and handed to casework. */
td_status td__incidents_reload(td_incidents *inc, td_error *err);

/* ---- incidents_record.c ---- */

/* Records the hits casework queued and follows the change log for every open incident. */
td_status td__incidents_record(td_incidents *inc, td_error *err);

/* ---- incidents_report.c ---- */

/* Figures of incident id on c. */
td_status td__incident_figures(td_store_conn *c, int64_t id, td_incident_figures *out,
                               td_error *err);
/* The after-action report (JSON and Markdown, td__malloc'ed) of in with its figures, on c
 * (for the timeline of signals). */
td_status td__incident_report_build(td_store_conn *c, const td_incident *in,
                                    const td_incident_figures *f, char **json, char **md,
                                    td_error *err);

#endif
