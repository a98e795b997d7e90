/* Webhooks: the platform's receivers for actions (remove, restore) and notifications. Events are
 * enqueued as delivery rows inside the transaction that caused them, so an action exists exactly
 * when its cause was committed; a worker thread delivers them with libcurl, outside any lock,
 * at least once: retries with exponential backoff until a 2xx or webhook_max_attempts. Each
 * delivery carries an idempotency key derived from the event and its subject (stable across
 * retries and re-enqueues) and an HMAC-SHA256 signature of the exact body. A slow or dead
 * receiver only delays its own deliveries, never a request. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/wait.h"
#include "net/http_client.h"

#define ROUND 16 /* deliveries attempted per round */

static const char *const event_names[] = {
    "remove", "restore",        "case.opened",     "case.decided",     "match",
    "notice", "order_feedback", "referral_answer", "evidence.collect", "incident"};
#define N_EVENTS ((int)(sizeof event_names / sizeof event_names[0]))
_Static_assert(TD_EVENT_ALL == (1u << (sizeof event_names / sizeof event_names[0])) - 1,
               "one name per event bit");

const char *td_event_name(unsigned event)
{
    for (int i = 0; i < N_EVENTS; i++)
        if (event == (1u << i))
            return event_names[i];
    return "?";
}

td_status td_event_parse(const char *names, unsigned *mask, td_error *err)
{
    *mask = 0;
    const char *p = names ? names : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (!n)
            break;
        int found = 0;
        if (n == 1 && *p == '*') {
            *mask = TD_EVENT_ALL;
            found = 1;
        }
        for (int i = 0; !found && i < N_EVENTS; i++)
            if (strlen(event_names[i]) == n && strncmp(event_names[i], p, n) == 0) {
                *mask |= 1u << i;
                found = 1;
            }
        if (!found)
            return td__error_set(err, TD_ERR_INVALID, "unknown event '%.*s'",
                                 (int)(n > 32 ? 32 : n), p);
        p += n;
    }
    if (!*mask)
        return td__error_set(err, TD_ERR_INVALID, "no events");
    return TD_OK;
}

/* The URL itself; where it may lead is decided at delivery, by the outbound client's address
 * policy (a name can resolve elsewhere later). */
static td_status check_url(const char *url, td_error *err)
{
    if (!url || !*url)
        return td__error_set(err, TD_ERR_INVALID, "webhook URL is required");
    return td__http_url_check("webhook URL", url, TD_CASE_URL_MAX, NULL, 0, err);
}

td_status td_webhook_create(td_service *svc, const char *url, const char *secret, unsigned events,
                            td_webhook *out, td_error *err)
{
    return td_webhook_create_for(svc, url, secret, events, 0, out, err);
}

td_status td_webhook_create_for(td_service *svc, const char *url, const char *secret,
                                unsigned events, int64_t platform_key, td_webhook *out,
                                td_error *err)
{
    return td_webhook_create_as(svc, NULL, url, secret, events, platform_key, out, err);
}

typedef struct create_args {
    td_service *svc;
    const td_principal *who;
    const char *url, *secret;
    size_t secret_len;
    unsigned events;
    int64_t platform_key, now;
    int64_t id, platform; /* out */
} create_args;

static td_status create_body(td_store_conn *c, void *ctx, td_error *err)
{
    create_args *a = ctx;
    td_stmt *q;
    int row;
    td_status st;
    /* The owner is the platform (its first key): the events of every key of the platform. */
    if (a->platform_key && (st = td__key_platform(c, a->platform_key, &a->platform, err)))
        return st;
    if ((st = td_store_prepare(c,
                               "INSERT INTO webhooks (url, secret, events, enabled, created_ms,"
                               " platform_key) VALUES ($1, $2, $3, 1, $4, $5) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->url, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->secret, a->secret_len, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->events, err)) ||
        (st = td_stmt_bind_int64(q, 4, a->now, err)) ||
        (st = td_stmt_bind_int64(q, 5, a->platform, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    a->id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return td__audit_id(a->svc, c, a->who, "webhook.create", "webhook", a->id,
                        json_pack("{s:s, s:I, s:I}", "url", a->url, "events", (json_int_t)a->events,
                                  "platform_key", (json_int_t)a->platform),
                        err);
}

/* Registers the webhook and its audit entry (url, events, platform; never the secret) in one
 * transaction. */
td_status td_webhook_create_as(td_service *svc, const td_principal *who, const char *url,
                               const char *secret, unsigned events, int64_t platform_key,
                               td_webhook *out, td_error *err)
{
    td_status st = check_url(url, err);
    if (st)
        return st;
    size_t sn = secret ? strnlen(secret, TD_SECRET_MAX + 1) : 0;
    if (sn < 16)
        return td__error_set(err, TD_ERR_INVALID, "webhook secret must have at least 16 bytes");
    if (sn > TD_SECRET_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "webhook secret longer than %d bytes",
                             TD_SECRET_MAX);
    if (!events || (events & ~(unsigned)TD_EVENT_ALL))
        return td__error_set(err, TD_ERR_INVALID, "unknown or no events");
    if (platform_key < 0)
        return td__error_set(err, TD_ERR_INVALID, "platform_key: not a key id");
    create_args a = {svc, who, url, secret, sn, events, platform_key, td__now(svc), 0, 0};
    if ((st = td_store_write(svc->store, create_body, &a, err)))
        return st;
    if (out) {
        memset(out, 0, sizeof *out);
        out->id = a.id;
        td__copy_trunc(out->url, sizeof out->url, url);
        out->events = events;
        out->platform_key = a.platform;
        out->enabled = 1;
        out->created_ms = a.now;
    }
    return TD_OK;
}

static void webhook_item(td_stmt *q, void *item)
{
    td_webhook *w = item;
    w->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(w->url, sizeof w->url, td_stmt_column_text(q, 1));
    w->events = (unsigned)td_stmt_column_int64(q, 2);
    w->enabled = (int)td_stmt_column_int64(q, 3);
    w->created_ms = td_stmt_column_int64(q, 4);
    w->platform_key = td_stmt_column_int64(q, 5);
}

td_status td_webhook_list(td_service *svc, td_webhook **out, size_t *count, td_error *err)
{
    return td_store_read_rows(
        svc->store,
        "SELECT id, url, events, enabled, created_ms, platform_key FROM webhooks"
        " ORDER BY id",
        NULL, 0, TD_WEBHOOKS_MAX, sizeof **out, webhook_item, (void **)out, count, err);
}

td_status td_webhook_delete(td_service *svc, int64_t id, td_error *err)
{
    return td_webhook_delete_as(svc, NULL, id, err);
}

typedef struct delete_args {
    td_service *svc;
    const td_principal *who;
    int64_t id;
} delete_args;

static td_status delete_body(td_store_conn *c, void *ctx, td_error *err)
{
    delete_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0;
    td_status st;
    if ((st = td_store_prepare(c, "DELETE FROM webhooks WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_run(q, &changed, err)))
        return st;
    if (!changed)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no webhook %lld", (long long)a->id);
    return td__audit_id(a->svc, c, a->who, "webhook.delete", "webhook", a->id, NULL, err);
}

td_status td_webhook_delete_as(td_service *svc, const td_principal *who, int64_t id, td_error *err)
{
    delete_args a = {svc, who, id};
    return td_store_write(svc->store, delete_body, &a, err);
}

static void sha256_hex(const char *text, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL);
    td__hex_encode(md, sizeof md, out);
}

/* Folds the owner of content_id into *scope (see td__event_enqueue): unknown and unowned content
 * leave it; the first platform key sets it; a second, different one narrows it to 0. */
static td_status scope_add(td_store_conn *c, const char *content_id, int64_t *scope, td_error *err)
{
    int64_t owner = 0;
    int found = 0;
    td_status st = td__content_id_owner(c, content_id, &owner, &found, err);
    if (st || !found || owner == 0)
        return st;
    if (*scope == TD__SCOPE_ALL)
        *scope = owner;
    else if (*scope != owner)
        *scope = 0;
    return TD_OK;
}

/* The scope of an event from the content its payload names (order, referral, complaint and
 * notice events carry content ids rather than an owner). */
static td_status payload_scope(td_store_conn *c, json_t *payload, int64_t *scope, td_error *err)
{
    json_t *content = json_object_get(payload, "content");
    td_status st = TD_OK;
    *scope = TD__SCOPE_ALL;
    if (json_is_string(json_object_get(payload, "content_id")))
        st = scope_add(c, json_string_value(json_object_get(payload, "content_id")), scope, err);
    if (st == TD_OK && json_is_object(content) && json_is_string(json_object_get(content, "id")))
        st = scope_add(c, json_string_value(json_object_get(content, "id")), scope, err);
    for (size_t i = 0; st == TD_OK && json_is_array(content) && i < json_array_size(content); i++) {
        json_t *id = json_object_get(json_array_get(content, i), "content_id");
        if (json_is_string(id))
            st = scope_add(c, json_string_value(id), scope, err);
    }
    return st;
}

td_status td__event_enqueue(td_service *svc, td_store_conn *c, unsigned event, const char *subject,
                            json_t *payload, td_error *err)
{
    int64_t scope;
    td_status st = payload_scope(c, payload, &scope, err);
    return st ? st : td__event_enqueue_for(svc, c, event, subject, payload, scope, err);
}

td_status td__event_enqueue_for(td_service *svc, td_store_conn *c, unsigned event,
                                const char *subject, json_t *payload, int64_t scope, td_error *err)
{
    td_stmt *q;
    int row;
    int64_t hooks[64];
    size_t n = 0;
    char key_text[160], idem[65];
    const char *name = td_event_name(event);
    td_status st = td_store_prepare(
        c, "SELECT id, events, platform_key FROM webhooks WHERE enabled = 1", &q, err);
    if (st)
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t owner = td_stmt_column_int64(q, 2);
        /* A platform's webhook hears only about its own content (and, for order events, about
         * content no platform submitted). */
        if (owner && scope != TD__SCOPE_ALL && owner != scope)
            continue;
        if (((unsigned)td_stmt_column_int64(q, 1) & event) && n < sizeof hooks / sizeof hooks[0])
            hooks[n++] = td_stmt_column_int64(q, 0);
    }
    td_stmt_reset(q);
    if (st || n == 0)
        return st;
    snprintf(key_text, sizeof key_text, "%s:%s", name, subject);
    sha256_hex(key_text, idem);
    int64_t now = td__now(svc);
    json_object_set_new(payload, "id", json_string(idem));
    json_object_set_new(payload, "event", json_string(name));
    json_object_set_new(payload, "created_ms", json_integer(now));
    char *body = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    if (!body)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        if ((st = td_store_prepare(c,
                                   "INSERT INTO deliveries (webhook_id, event, idem, body, state,"
                                   " attempts, last_status, last_error, created_ms,"
                                   " next_attempt_ms, delivered_ms) VALUES ($1, $2, $3, $4, $6,"
                                   " 0, 0, '', $5, $5, 0)"
                                   " ON CONFLICT (webhook_id, idem) DO NOTHING",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, hooks[i], err)) ||
            (st = td_stmt_bind_text(q, 2, name, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 3, idem, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 4, body, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 5, now, err)) ||
            (st = td_stmt_bind_int64(q, 6, TD_DELIVERY_PENDING, err)))
            break;
        st = td_stmt_run(q, NULL, err);
    }
    free(body); /* jansson's */
    return st;
}

/* ---- delivery ---- */

typedef struct job {
    int64_t id;
    int attempts;
    char event[32];
    char idem[65];
    char url[TD_CASE_URL_MAX + 1];
    char secret[TD_SECRET_MAX + 1];
    char *body;
    /* result */
    int ok;
    long status;
    char error[TD_ERROR_TEXT_MAX + 1];
} job;

static void deliver(td_service *svc, job *j)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char sig[2 * EVP_MAX_MD_SIZE + 64], h_event[80], h_idem[100], h_id[64];
    size_t body_len = strlen(j->body);
    HMAC(EVP_sha256(), j->secret, (int)strlen(j->secret), (const unsigned char *)j->body, body_len,
         mac, &mac_len);
    size_t o = (size_t)snprintf(sig, sizeof sig, "X-Takedown-Signature: sha256=");
    td__hex_encode(mac, mac_len, sig + o); /* sig has room for 2 * EVP_MAX_MD_SIZE digits */
    snprintf(h_event, sizeof h_event, "X-Takedown-Event: %s", j->event);
    snprintf(h_idem, sizeof h_idem, "Idempotency-Key: %s", j->idem);
    snprintf(h_id, sizeof h_id, "X-Takedown-Delivery: %lld", (long long)j->id);
    const char *const headers[] = {
        "Content-Type: application/json", sig, h_event, h_idem, h_id, "Expect:", NULL};
    /* The receiver's answer is only its status: its body is counted up to the cap, not kept. */
    td__http_options opts = {
        .allow_private = svc->opts.webhook_allow_private,
        .connect_timeout_ms = (unsigned)svc->opts.webhook_timeout_ms,
        .timeout_ms = (unsigned)svc->opts.webhook_timeout_ms,
        .max_bytes = svc->opts.webhook_max_response ? svc->opts.webhook_max_response : 65536,
        .user_agent = "takedown-webhook/1",
    };
    td__http_request req = {"POST", j->url, headers, j->body, body_len};
    td__http_response resp;
    td_error err;
    td__http_result r = td__http_send(&opts, &req, &resp, &err);
    j->status = resp.status;
    td__http_response_free(&resp);
    /* A 2xx whose body runs over the cap was still received. */
    if (j->status >= 200 && j->status < 300 && (r == TD__HTTP_OK || r == TD__HTTP_TOO_LARGE))
        j->ok = 1;
    else if (r == TD__HTTP_REFUSED)
        snprintf(j->error, sizeof j->error, "%.200s (webhook_allow_private)", err.message);
    else if (r != TD__HTTP_OK)
        td__copy_trunc(j->error, sizeof j->error, err.message);
    else
        snprintf(j->error, sizeof j->error, "HTTP status %ld", j->status);
}

static int64_t backoff(td_service *svc, int attempts)
{
    int64_t d = svc->opts.webhook_backoff_base_ms > 0 ? svc->opts.webhook_backoff_base_ms : 1;
    int64_t max = svc->opts.webhook_backoff_max_ms > 0 ? svc->opts.webhook_backoff_max_ms : d;
    for (int i = 1; i < attempts && d < max; i++)
        d *= 2;
    return d < max ? d : max;
}

typedef struct record_args {
    td_service *svc;
    const job *j;
} record_args;

static td_status record_body(td_store_conn *c, void *ctx, td_error *err)
{
    record_args *a = ctx;
    td_service *svc = a->svc;
    const job *j = a->j;
    td_stmt *q;
    td_status st;
    int attempts = j->attempts + 1;
    int max = svc->opts.webhook_max_attempts > 0 ? svc->opts.webhook_max_attempts : 1;
    int64_t now = td__now(svc);
    td_delivery_state state = j->ok             ? TD_DELIVERY_DELIVERED
                              : attempts >= max ? TD_DELIVERY_DEAD
                                                : TD_DELIVERY_PENDING;
    if ((st = td_store_prepare(c,
                               "UPDATE deliveries SET state = $1, attempts = $2,"
                               " last_status = $3, last_error = $4, next_attempt_ms = $5,"
                               " delivered_ms = $6 WHERE id = $7",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, state, err)) ||
        (st = td_stmt_bind_int64(q, 2, attempts, err)) ||
        (st = td_stmt_bind_int64(q, 3, j->status, err)) ||
        (st = td_stmt_bind_text(q, 4, j->error, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, j->ok ? now : now + backoff(svc, attempts), err)) ||
        (st = td_stmt_bind_int64(q, 6, j->ok ? now : 0, err)) ||
        (st = td_stmt_bind_int64(q, 7, j->id, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    if (!j->ok && ((st = td_store_prepare(c,
                                          "UPDATE counters SET value = value + 1"
                                          " WHERE name = 'webhook_failures'",
                                          &q, err)) ||
                   (st = td_stmt_run(q, NULL, err))))
        return st;
    return TD_OK;
}

static td_status record(td_service *svc, job *j, td_error *err)
{
    record_args a = {svc, j};
    return td_store_write(svc->store, record_body, &a, err);
}

static td_status due(td_service *svc, job *jobs, size_t *n, int64_t *next_due, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    *n = 0;
    *next_due = 0;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT d.id, d.attempts, d.event, d.idem, d.body, w.url, w.secret"
                               " FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                               " WHERE d.state = $3 AND d.next_attempt_ms <= $1 AND w.enabled = 1"
                               " ORDER BY d.next_attempt_ms, d.id LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, td__now(svc), err)) ||
        (st = td_stmt_bind_int64(q, 2, ROUND, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_DELIVERY_PENDING, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && *n < ROUND) {
        job *j = &jobs[*n];
        memset(j, 0, sizeof *j);
        j->id = td_stmt_column_int64(q, 0);
        j->attempts = (int)td_stmt_column_int64(q, 1);
        td__copy_trunc(j->event, sizeof j->event, td_stmt_column_text(q, 2));
        td__copy_trunc(j->idem, sizeof j->idem, td_stmt_column_text(q, 3));
        j->body = td__strdup(td_stmt_column_text(q, 4));
        td__copy_trunc(j->url, sizeof j->url, td_stmt_column_text(q, 5));
        td__copy_trunc(j->secret, sizeof j->secret, td_stmt_column_text(q, 6));
        if (!j->body) {
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    td_stmt_reset(q);
    if (st == TD_OK &&
        (st = td_store_prepare(c,
                               "SELECT COALESCE(MIN(next_attempt_ms), 0) FROM deliveries"
                               " WHERE state = $1",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, TD_DELIVERY_PENDING, err)) == TD_OK &&
        (st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        *next_due = td_stmt_column_int64(q, 0);
        td_stmt_reset(q);
    }
out:
    td_store_release(svc->store, c);
    return st;
}

static td_status run_round(td_service *svc, size_t *attempted, int64_t *next_due, td_error *err)
{
    job *jobs = td__calloc(ROUND, sizeof *jobs);
    size_t n = 0;
    if (!jobs)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&svc->deliver_lock);
    td_status st = due(svc, jobs, &n, next_due, err);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        deliver(svc, &jobs[i]);
        st = record(svc, &jobs[i], err);
    }
    pthread_mutex_unlock(&svc->deliver_lock);
    for (size_t i = 0; i < n; i++)
        td__free(jobs[i].body);
    td__free(jobs);
    if (attempted)
        *attempted = n;
    return st;
}

td_status td_webhook_run_due(td_service *svc, size_t *attempted, td_error *err)
{
    size_t total = 0, n;
    int64_t next;
    td_status st;
    do {
        st = run_round(svc, &n, &next, err);
        total += n;
    } while (st == TD_OK && n == ROUND);
    if (attempted)
        *attempted = total;
    return st;
}

static void *worker_main(void *arg)
{
    td_service *svc = arg;
    pthread_mutex_lock(&svc->thread_lock);
    while (!svc->stopping) {
        size_t n = 0;
        int64_t next = 0;
        svc->kicked = 0;
        pthread_mutex_unlock(&svc->thread_lock);
        td_status st = run_round(svc, &n, &next, NULL);
        pthread_mutex_lock(&svc->thread_lock);
        if (svc->stopping)
            break;
        if ((st == TD_OK && n == ROUND) || svc->kicked)
            continue;
        /* Sleep until the next delivery is due, at most a second (other nodes may enqueue). */
        int64_t wait = 1000;
        if (st == TD_OK && next > 0) {
            int64_t d = next - td__now(svc);
            wait = d < 10 ? 10 : d > 1000 ? 1000 : d;
        }
        struct timespec ts;
        td__deadline_after(&ts, wait);
        if (!svc->kicked)
            pthread_cond_timedwait(&svc->wake, &svc->thread_lock, &ts);
    }
    pthread_mutex_unlock(&svc->thread_lock);
    return NULL;
}

td_status td__webhook_worker_start(td_service *svc, td_error *err)
{
    if (pthread_create(&svc->worker, NULL, worker_main, svc) != 0)
        return td__error_set(err, TD_ERR_INTERNAL, "cannot start the webhook worker");
    svc->worker_started = 1;
    return TD_OK;
}

td_status td_delivery_list(td_service *svc, int64_t webhook_id, size_t limit, td_delivery **out,
                           size_t *count, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_delivery *list = NULL;
    size_t n = 0;
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d deliveries per page", TD_PAGE_MAX);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    list = td__mallocarray(limit, sizeof *list);
    if (!list) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = td_store_prepare(c,
                               "SELECT id, webhook_id, event, idem, state, attempts, last_status,"
                               " last_error, created_ms, next_attempt_ms, delivered_ms"
                               " FROM deliveries WHERE ($1 = 0 OR webhook_id = $1)"
                               " ORDER BY id DESC LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, webhook_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)limit, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < limit) {
        td_delivery *d = &list[n++];
        memset(d, 0, sizeof *d);
        d->id = td_stmt_column_int64(q, 0);
        d->webhook_id = td_stmt_column_int64(q, 1);
        td__copy_trunc(d->event, sizeof d->event, td_stmt_column_text(q, 2));
        td__copy_trunc(d->idempotency_key, sizeof d->idempotency_key, td_stmt_column_text(q, 3));
        d->state = (td_delivery_state)td_stmt_column_int64(q, 4);
        d->attempts = (int)td_stmt_column_int64(q, 5);
        d->last_status = (int)td_stmt_column_int64(q, 6);
        td__copy_trunc(d->last_error, sizeof d->last_error, td_stmt_column_text(q, 7));
        d->created_ms = td_stmt_column_int64(q, 8);
        d->next_attempt_ms = td_stmt_column_int64(q, 9);
        d->delivered_ms = td_stmt_column_int64(q, 10);
    }
    td_stmt_reset(q);
out:
    td_store_release(svc->store, c);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}
