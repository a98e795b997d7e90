/* Incident mode (docs/incidents.md): in a crisis (an attack filmed and spread by its
 * perpetrator) the hashes of its content arrive in a burst, from the GIFCT hash-sharing database,
 * from TCAP, from peers or added by hand, tagged with the incident. While an incident is open,
 * every match whose labels (the signal's merged with its bank's, as the match records them) meet
 * its filter takes its enforcement at once: verdict block (the platform gets its "remove" event,
 * as a block bank gives) or a case at the top of the review queue; the match record names the
 * incident (td_match.incident_id). The levels follow the GIFCT incident response framework:
 * "cip" (a Content Incident Protocol), "content_incident", "incident".
 *
 * Recording: the module follows the store's change log from the incident's start and records
 * the first time each signal (type and value) meeting the filter is in any bank ("signal"
 * events, with the signal's source: "manual", "import", an exchange's name), and every check or
 * content item an incident applied to ("match", and "block" when it was blocked). Each new
 * signal is pushed to subscribed peers as the webhook event "incident" (TD_EVENT_INCIDENT), as
 * are the opening and the closing. Closing writes an after-action report from the recorded
 * events (JSON and Markdown), kept with the incident.
 *
 * Several nodes sharing a PostgreSQL store: each node's thread reloads the open incidents every
 * tick (so all nodes apply the same rules within a tick), records the matches it saw, and
 * follows the change log under a cursor kept in the store (a signal is recorded and pushed once).
 * Its tables are component "incidents". Every change (opened, closed) is an audit entry in the
 * same transaction. */
#ifndef TAKEDOWN_INCIDENTS_H
#define TAKEDOWN_INCIDENTS_H

#include <stddef.h>
#include <stdint.h>

#include "casework.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_INCIDENT_NAME_MAX 200 /* bytes of an incident's name (UTF-8, no control characters) */
#define TD_INCIDENT_BANKS_MAX 16 /* banks in a filter */
#define TD_INCIDENT_OPEN_MAX 64  /* incidents open at once */

typedef enum td_incident_level {
    TD_INCIDENT_CIP = 1,              /* "cip": a Content Incident Protocol */
    TD_INCIDENT_CONTENT_INCIDENT = 2, /* "content_incident" */
    TD_INCIDENT_INCIDENT = 3          /* "incident" */
} td_incident_level;

const char *td_incident_level_name(td_incident_level level);
__attribute__((warn_unused_result)) td_status td_incident_level_parse(const char *name,
                                                                      td_incident_level *out);

/* Which matches fall under an incident: any of labels among the match's labels (none: any
 * labels) and, when banks are given, a match in one of them. At least one of the two. */
typedef struct td_incident_filter {
    td_labels labels;
    char banks[TD_INCIDENT_BANKS_MAX][TD_NAME_MAX + 1];
    int n_banks;
} td_incident_filter;

typedef struct td_incident_input {
    const char *name; /* 1..TD_INCIDENT_NAME_MAX bytes */
    td_incident_level level;
    td_incident_filter filter;
    td_action enforcement; /* TD_ACTION_BLOCK or TD_ACTION_REVIEW (top priority) */
    /* When the incident started (0: now): the signals that entered a bank since then are its
     * signals, also those added before it was opened (a burst often precedes the decision to
     * open one). Not after now (TD_INCIDENT_START_SKEW_MS of clock skew allowed). Enforcement
     * starts when it opens, for every signal meeting the filter, old or new. */
    int64_t start_ms;
} td_incident_input;

#define TD_INCIDENT_START_SKEW_MS 60000

typedef struct td_incident {
    int64_t id;
    char name[TD_INCIDENT_NAME_MAX + 1];
    td_incident_level level;
    td_incident_filter filter;
    td_action enforcement;
    int open;         /* 1 open, 0 closed */
    int64_t start_ms; /* td_incident_input.start_ms, or the opening time */
    int64_t opened_ms;
    char opened_by[TD_NAME_MAX + 1];
    int64_t closed_ms; /* 0 while open */
    char closed_by[TD_NAME_MAX + 1];
} td_incident;

/* The live figures of an incident, from its recorded events. */
typedef struct td_incident_hour {
    int64_t hour_ms; /* the hour's start */
    int64_t matches, blocks;
} td_incident_hour;

typedef struct td_incident_count {
    char name[TD_SOURCE_MAX + 1]; /* a source, bank or signal type */
    int64_t signals;
} td_incident_count;

typedef struct td_incident_figures {
    int64_t signals; /* distinct signals (type, value) meeting the filter since the start */
    int64_t matches; /* checks and content items it applied to */
    int64_t blocks;  /* of which blocked */
    int64_t reviews; /* of which sent to review (verdict review) */
    int64_t first_signal_ms, first_match_ms, first_block_ms; /* 0: none yet */
    /* first_block_ms - first_signal_ms when a block came after the first hash; -1 otherwise */
    int64_t first_hash_to_block_ms;
    td_incident_hour *hours; /* hours with a match, oldest first */
    size_t n_hours;
    td_incident_count *sources, *banks, *types; /* of the signals, most first */
    size_t n_sources, n_banks, n_types;
} td_incident_figures;

void td_incident_figures_clear(td_incident_figures *f);

typedef struct td_incidents td_incidents;

typedef struct td_incidents_options {
    /* The thread (reload of the open incidents' rules, recording, the change-log follower) runs
     * every tick_ms while non-zero (1..3600000); 0: the caller runs td_incidents_tick. */
    int64_t tick_ms;
} td_incidents_options;

void td_incidents_options_default(td_incidents_options *opts);

/* Opens the module on svc (its store, clock, audit log and webhooks) and applies the rules of
 * the incidents open in the store. */
__attribute__((warn_unused_result)) td_status td_incidents_open(td_service *svc,
                                                                const td_incidents_options *opts,
                                                                td_incidents **out, td_error *err);
/* Stops the thread; the open incidents' rules are removed from the service. NULL is fine. */
void td_incidents_close(td_incidents *inc);

/* Reloads the rules, records the matches seen and follows the change log. Idempotent. */
__attribute__((warn_unused_result)) td_status td_incidents_tick(td_incidents *inc, td_error *err);

/* Opens an incident for who (its name is recorded): name, level and filter checked
 * (TD_ERR_INVALID naming the member: "name", "level", "filter.labels[2]", "filter.banks[0]",
 * "enforcement"; an unknown bank: TD_ERR_NOT_FOUND), at most TD_INCIDENT_OPEN_MAX open
 * (TD_ERR_LIMIT). Enforced at once on this node; audited "incident.opened"; pushed. */
__attribute__((warn_unused_result)) td_status td_incident_create(td_incidents *inc,
                                                                 const td_principal *who,
                                                                 const td_incident_input *in,
                                                                 td_incident *out, td_error *err);
/* Closes it for who: records what is pending, writes the after-action report, audits
 * "incident.closed" and pushes; enforcement stops. A closed incident: TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status td_incident_close(td_incidents *inc, int64_t id,
                                                                const td_principal *who,
                                                                td_incident *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_incident_get(td_incidents *inc, int64_t id,
                                                              td_incident *out, td_error *err);
/* Incidents, newest first; open_only: the open ones. limit 0: 100, over TD_PAGE_MAX:
 * TD_ERR_LIMIT. Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_incident_list(td_incidents *inc, int open_only,
                                                               size_t limit, size_t offset,
                                                               td_incident **out, size_t *count,
                                                               td_error *err);
/* The figures of incident id, after recording what this node has pending. Clear *out. */
__attribute__((warn_unused_result)) td_status
td_incident_figures_get(td_incidents *inc, int64_t id, td_incident_figures *out, td_error *err);
/* The after-action report of a closed incident: JSON (markdown 0) or Markdown; *text
 * (NUL-terminated, *len bytes) freed with td_free. Still open: TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status td_incident_report(td_incidents *inc, int64_t id,
                                                                 int markdown, char **text,
                                                                 size_t *len, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
