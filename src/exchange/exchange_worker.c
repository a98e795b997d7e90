/* The background of the exchanges: a worker thread per enabled exchange, which pulls when its
 * exchange is due (next_fetch_ms, set by every pull: the interval after a success, the backoff
 * after a failure) or when kicked (a peer's push, a change of settings), and a supervisor that
 * starts and stops workers as exchanges are created, disabled or deleted (here or by another
 * node sharing the store) and sends the reactions that are due. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/wait.h"
#include "exchange/exchange_int.h"

struct td__xworker {
    td_exchanges *ex;
    int64_t id;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, kicked, seen; /* under lock */
    atomic_int halt;        /* stop, as a pull in progress reads it between pages */
};

/* Milliseconds until exchange id is due (0: now); -1 when it is gone or disabled. */
static int64_t due_in(td_exchanges *ex, int64_t id)
{
    td_exchange e;
    if (td_exchange_get(ex, id, &e, NULL) != TD_OK || !e.enabled)
        return -1;
    int64_t d = e.next_fetch_ms - td__now(ex->svc);
    return d > 0 ? d : 0;
}

static void *worker_main(void *arg)
{
    td__xworker *w = arg;
    td_exchanges *ex = w->ex;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        int kicked = w->kicked;
        w->kicked = 0;
        pthread_mutex_unlock(&w->lock);
        int64_t d = due_in(ex, w->id);
        if (d >= 0 && (d == 0 || kicked)) {
            td_exchange_run run;
            td_error err;
            /* A failure is recorded on the exchange by the pull; a store error here is retried
             * at the next wake. */
            (void)td__exchange_pull(ex, w->id, 0, &w->halt, &run, &err);
            d = due_in(ex, w->id);
        }
        int64_t wait = d < 0 || d > ex->opts.reload_ms ? ex->opts.reload_ms : d;
        pthread_mutex_lock(&w->lock);
        /* A kick (a push, a change of settings) ends the wait at once. */
        if (!w->stop && !w->kicked && wait > 0)
            (void)td__wait_flag(&w->wake, &w->lock, &w->stop, &w->kicked, (unsigned)wait);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void worker_stop(td__xworker *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    atomic_store(&w->halt, 1);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    td__free(w);
}

static td__xworker *worker_find(td_exchanges *ex, int64_t id)
{
    for (size_t i = 0; i < ex->n_workers; i++)
        if (ex->workers[i]->id == id)
            return ex->workers[i];
    return NULL;
}

void td__exchange_workers_sync(td_exchanges *ex)
{
    td_exchange *list = NULL;
    size_t n = 0;
    if (!ex->opts.worker || td_exchange_list(ex, &list, &n, NULL) != TD_OK)
        return;
    td__xworker **gone = NULL;
    size_t n_gone = 0;
    pthread_mutex_lock(&ex->lock);
    if (ex->stopping) {
        pthread_mutex_unlock(&ex->lock);
        td_free(list);
        return;
    }
    for (size_t i = 0; i < ex->n_workers; i++)
        ex->workers[i]->seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!list[i].enabled)
            continue;
        td__xworker *w = worker_find(ex, list[i].id);
        if (w) {
            w->seen = 1;
            continue;
        }
        if (td__grow((void **)&ex->workers, &ex->cap_workers, ex->n_workers + 1,
                     sizeof *ex->workers, NULL) != TD_OK)
            break;
        w = td__calloc(1, sizeof *w);
        if (!w)
            break;
        w->ex = ex;
        w->id = list[i].id;
        w->seen = 1;
        pthread_mutex_init(&w->lock, NULL);
        td__cond_init_monotonic(&w->wake);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_mutex_destroy(&w->lock);
            pthread_cond_destroy(&w->wake);
            td__free(w);
            break;
        }
        ex->workers[ex->n_workers++] = w;
    }
    gone = td__calloc(ex->n_workers + 1, sizeof *gone);
    for (size_t i = 0; gone && i < ex->n_workers;) {
        if (!ex->workers[i]->seen) {
            gone[n_gone++] = ex->workers[i];
            ex->workers[i] = ex->workers[--ex->n_workers];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&ex->lock);
    for (size_t i = 0; i < n_gone; i++)
        worker_stop(gone[i]);
    td__free(gone);
    td_free(list);
}

void td_exchange_kick(td_exchanges *ex, int64_t id)
{
    pthread_mutex_lock(&ex->lock);
    td__xworker *w = worker_find(ex, id);
    if (w) {
        pthread_mutex_lock(&w->lock);
        w->kicked = 1;
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_unlock(&ex->lock);
}

td_status td_exchange_push(td_exchanges *ex, int64_t id, const char *signature, const void *body,
                           size_t len, td_error *err)
{
    uint8_t secret[TD_SECRET_MAX + 1], mac[32], given[32];
    size_t secret_len = 0;
    unsigned mac_len = 0;
    td_status st = td__exchange_push_secret(ex, id, secret, &secret_len, err);
    if (st)
        return st;
    if (!secret_len)
        return td__error_set(err, TD_ERR_UNSUPPORTED,
                             "exchange %lld takes no pushes (it has no push secret)",
                             (long long)id);
    int ok = signature && strncmp(signature, "sha256=", 7) == 0 && strlen(signature + 7) == 64 &&
             td__hex_decode(signature + 7, 64, given) == 0 &&
             HMAC(EVP_sha256(), secret, (int)secret_len, body, len, mac, &mac_len) &&
             mac_len == 32 && CRYPTO_memcmp(mac, given, 32) == 0;
    OPENSSL_cleanse(secret, sizeof secret);
    if (!ok)
        return td__error_set(err, TD_ERR_INVALID,
                             "the push's X-Takedown-Signature does not match its body");
    td_exchange_kick(ex, id);
    return TD_OK;
}

/* ---- the supervisor ---- */

static void *super_main(void *arg)
{
    td_exchanges *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        if (ex->stopping)
            break;
        pthread_mutex_unlock(&ex->lock);
        td__exchange_workers_sync(ex);
        size_t sent = 0;
        td_error err;
        /* Reactions are catch-up work over stored state: a failure is retried next time. */
        td_status rs = td_exchange_react_due(ex, &sent, &err);
        (void)rs;
        pthread_mutex_lock(&ex->lock);
        if (ex->stopping)
            break;
        (void)td__wait_interval(&ex->super_wake, &ex->lock, &ex->stopping,
                                (unsigned)ex->opts.reload_ms);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

td_status td__exchange_workers_start(td_exchanges *ex, td_error *err)
{
    td__exchange_workers_sync(ex);
    if (pthread_create(&ex->super, NULL, super_main, ex) != 0)
        return td__error_set(err, TD_ERR_INTERNAL, "exchanges: cannot start a thread");
    ex->super_started = 1;
    return TD_OK;
}

void td__exchange_workers_stop(td_exchanges *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->stopping = 1;
    pthread_cond_broadcast(&ex->super_wake);
    td__xworker **all = ex->workers;
    size_t n = ex->n_workers;
    ex->workers = NULL;
    ex->n_workers = ex->cap_workers = 0;
    pthread_mutex_unlock(&ex->lock);
    if (ex->super_started) {
        pthread_join(ex->super, NULL);
        ex->super_started = 0;
    }
    for (size_t i = 0; i < n; i++)
        worker_stop(all[i]);
    td__free(all);
}
