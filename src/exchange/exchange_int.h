/* Inside the exchange framework (src/exchange/exchange*.c): the handle and what its files share.
 *
 * Files: exchange.c (schema, handle, options, credentials sealed at rest, create / read / update
 * / delete), exchange_sync.c (one pull: fetch a page through its client, apply it with its
 * checkpoint in one transaction, failures and backoff, the resync sweep), exchange_worker.c
 * (a thread per exchange, the supervisor that starts and stops them, kicks and pushes),
 * exchange_react.c (matches and decisions on an exchange's signals sent back as reactions).
 *
 * Rules these files keep:
 *  - a page is applied, with its checkpoint, counts and audit entry, in one transaction that
 *    first checks the stored checkpoint is still the one the page was fetched after (another
 *    node, or a pull started by hand, may have applied it): nothing is applied twice;
 *  - credentials and push secrets leave the store only sealed, are opened only for a pull, and
 *    are wiped after it; the API and the audit log never see them;
 *  - a failure is recorded on the exchange (last_error, counts, next try), never lost. */
#ifndef TD_EXCHANGE_EXCHANGE_INT_H
#define TD_EXCHANGE_EXCHANGE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "casework/service_int.h"
#include "exchange/client.h"
#include "takedown/exchange.h"

typedef struct td__xworker td__xworker;

struct td_exchanges {
    td_service *svc;
    td_exchanges_options opts;
    uint8_t *key;         /* 32 bytes in guarded memory: seals credentials and push secrets */
    pthread_mutex_t lock; /* workers */
    td__xworker **workers;
    size_t n_workers, cap_workers;
    /* The supervisor: starts and stops workers as exchanges come and go, sends reactions. */
    pthread_t super;
    int super_started;
    pthread_cond_t super_wake;
    int stopping;
};

/* The client of a type (NULL when unknown). */
const td__xclient *td__xclient_of(td_exchange_type type);

/* Reads exchange id on c (*found 0 when none). */
td_status td__exchange_load(td_store_conn *c, int64_t id, td_exchange *out, int *found,
                            td_error *err);
/* Opens the exchange's sealed credentials (*out NULL when it has none; json_decref it). */
td_status td__exchange_credentials(td_exchanges *ex, td_store_conn *c, int64_t id, json_t **out,
                                   td_error *err);
/* Opens the push secret (*len 0 when none); secret holds TD_SECRET_MAX + 1 bytes. */
td_status td__exchange_push_secret(td_exchanges *ex, int64_t id, uint8_t *secret, size_t *len,
                                   td_error *err);
/* Loads exchange id (into e) with its opened credentials into a new connection for its client
 * (*x in guarded memory, the handle's HTTP policy and page limits). TD_ERR_NOT_FOUND when gone.
 * Free with td__exchange_disconnect (wipes it). */
td_status td__exchange_connect(td_exchanges *ex, int64_t id, td_exchange *e, td__xconn **x,
                               td_error *err);
void td__exchange_disconnect(td__xconn *x);
/* An audit entry inside c's transaction (actor NULL: "system"). */
td_status td__exchange_audit(td_exchanges *ex, td_store_conn *c, const td_principal *who,
                             const char *action, int64_t id, json_t *details, td_error *err);
/* The source column of the exchange's signals: "exchange:<name>". */
void td__exchange_source(const char *name, char out[TD_SOURCE_MAX + 1]);

/* One pull (exchange_sync.c); stop (may be NULL; set by another thread) is polled between
 * pages. */
td_status td__exchange_pull(td_exchanges *ex, int64_t id, size_t max_pages, const atomic_int *stop,
                            td_exchange_run *run, td_error *err);

/* Workers (exchange_worker.c). */
td_status td__exchange_workers_start(td_exchanges *ex, td_error *err);
void td__exchange_workers_stop(td_exchanges *ex);
/* Makes the running workers match the stored exchanges (started for enabled ones, stopped for
 * the others). */
void td__exchange_workers_sync(td_exchanges *ex);

/* Reactions (exchange_react.c): records what is due from new matches and decisions, then sends
 * what the rate allows. */
td_status td__exchange_react_scan(td_exchanges *ex, td_error *err);

#endif
