/* The sender of outgoing e-Evidence messages (docs/evidence-orders.md, "Messages to the issuing
 * side"): every eevidence_outbox_interval_ms a thread takes the outbox messages that are due
 * (td_eorder_outbox_list), turns each into an ETSI TS 103 120 HI1Message (td_eevidence_build)
 * and posts it to the access point configured as eevidence_outbound_url, through the library's
 * one outbound HTTP client. A 2xx answer marks the message sent; anything else leaves it pending
 * with a doubling delay (10 s to 1 h) and the reason, shown on GET .../messages. Without a URL
 * nothing is posted: messages wait, readable by legal officers. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "net/http_client.h"
#include "server/handlers_eorders.h"
#include "takedown/eevidence_xml.h"

#define RETRY_FIRST_MS 10000
#define RETRY_MAX_MS 3600000
#define URL_MAX 2048

struct td__eev_sender {
    td_server *srv;
    td_eorders *eorders;
    char url[URL_MAX + 1];
    char public_url[URL_MAX + 1]; /* this service as authorities reach it, no trailing '/' */
    td_eevidence_party sender;
    int allow_private;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, running;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *cfg_string(const td_config *cfg, const char *name)
{
    const char *v = td_config_string(cfg, name);
    return v ? v : "";
}

static td_eevidence_message kind_of(td_eorder_message_kind k)
{
    switch (k) {
    case TD_EORDER_MSG_DATA_PRESERVED: return TD_EEV_MSG_DATA_PRESERVED;
    case TD_EORDER_MSG_OUTCOME: return TD_EEV_MSG_OUTCOME;
    case TD_EORDER_MSG_NON_EXECUTION: return TD_EEV_MSG_NON_EXECUTION;
    default: return TD_EEV_MSG_CORRESPONDENCE;
    }
}

/* The category names in a JSON array, as a bit mask. */
static unsigned category_mask(json_t *arr)
{
    unsigned m = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            m |= td_eorder_category_parse(json_string_value(v));
    }
    return m;
}

/* The task ids of the order's transport (the LDTaskObjects the request created) whose category is
 * in mask, or every one when mask is 0. */
static json_t *task_ids(json_t *tasks, unsigned mask)
{
    json_t *ids = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        json_t *cat = json_object_get(t, "category");
        unsigned bit = json_is_string(cat) ? td_eorder_category_parse(json_string_value(cat)) : 0;
        if (!mask || (bit & mask))
            json_array_append(ids, json_object_get(t, "id"));
    }
    return ids;
}

static const char *member(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The input of td_eevidence_build for a stored outbox message (the shapes of
 * docs/evidence-orders-xml.md, "Outgoing messages"), with the receiver's header in the members
 * receiver_country and receiver_id. NULL when the order did not come through the e-Evidence
 * transport (no ext_id or no transport record): such messages are fetched by the authority. */
static json_t *build_input(json_t *msg, td_eorder_message_kind kind, const char *base)
{
    const char *ext = member(msg, "ext_id");
    json_t *transport = json_object_get(msg, "transport");
    json_t *details = json_object_get(msg, "details");
    json_t *tasks = json_object_get(transport, "tasks");
    json_t *sender = json_object_get(transport, "sender");
    if (!ext || !json_is_object(transport) || !json_is_object(details))
        return NULL;
    json_t *in = json_pack("{s:s}", "order", ext);
    if (!in)
        return NULL;
    const char *country = member(sender, "country"), *uid = member(sender, "unique_id");
    json_object_set_new(in, "receiver_country",
                        json_string(country ? country : member(msg, "issuing_state")));
    json_object_set_new(in, "receiver_id", json_string(uid ? uid : ""));
    switch (kind) {
    case TD_EORDER_MSG_DATA_PRESERVED: {
        unsigned kept = category_mask(json_object_get(details, "categories"));
        json_t *list = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(tasks, i, t)
        {
            json_t *cat = json_object_get(t, "category");
            unsigned bit =
                json_is_string(cat) ? td_eorder_category_parse(json_string_value(cat)) : 0;
            json_array_append_new(list,
                                  json_pack("{s:O, s:s}", "id", json_object_get(t, "id"), "status",
                                            (bit & kept) ? "preserved" : "invalid"));
        }
        json_object_set_new(in, "tasks", list);
        if (member(details, "preserved_at"))
            json_object_set(in, "preserved_at", json_object_get(details, "preserved_at"));
        break;
    }
    case TD_EORDER_MSG_OUTCOME: {
        json_object_set_new(in, "tasks",
                            task_ids(tasks, category_mask(json_object_get(details, "categories"))));
        /* Where the authority fetches the package: this service's URL, or a name for it. */
        json_t *pkg = json_object_get(details, "package");
        if (json_is_object(pkg)) {
            json_t *p = json_deep_copy(pkg);
            char uri[URL_MAX + 128];
            if (base && *base)
                snprintf(uri, sizeof uri, "%s/v1/evidence-orders/%s/package", base,
                         member(msg, "order") ? member(msg, "order") : "");
            else
                snprintf(uri, sizeof uri, "urn:takedown:package:%s",
                         member(pkg, "sha256") ? member(pkg, "sha256") : "");
            json_object_set_new(p, "uri", json_string(uri));
            json_object_set_new(p, "content_type", json_string("application/octet-stream"));
            json_object_set_new(in, "package", p);
        }
        break;
    }
    case TD_EORDER_MSG_NON_EXECUTION: {
        json_object_set(in, "reason", json_object_get(details, "reason"));
        if (member(details, "explanation"))
            json_object_set(in, "details", json_object_get(details, "explanation"));
        if (!json_is_true(json_object_get(details, "whole_order"))) {
            json_t *ids = task_ids(tasks, category_mask(json_object_get(details, "categories")));
            if (json_array_size(ids))
                json_object_set_new(in, "tasks", ids);
            else
                json_decref(ids);
        }
        json_t *col = json_object_get(details, "conflict_of_law");
        if (json_is_object(col))
            json_object_set_new(in, "conflict_of_law",
                                json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "law",
                                          json_object_get(col, "third_country"), "provisions",
                                          json_object_get(col, "provisions"), "nature",
                                          json_object_get(col, "nature_of_obligation"),
                                          "why_applies", json_object_get(col, "why_applies"),
                                          "link", json_object_get(col, "link_to_country"),
                                          "consequences", json_object_get(col, "consequences")));
        break;
    }
    default: {
        /* What the operator writes: a request for information, or information it gives (a
         * restriction notice included). */
        const char *k = member(details, "kind");
        json_object_set_new(in, "kind",
                            json_string(k && strcmp(k, "request_additional_information") == 0
                                            ? k
                                            : "provide_additional_information"));
        json_object_set(in, "text", json_object_get(details, "text"));
        break;
    }
    }
    return in;
}

/* The XML of message m (td_free'd by the caller), or NULL with err set when it cannot be built. */
static char *message_xml(td__eev_sender *s, const td_eorder_message *m, size_t *len, td_error *err)
{
    json_t *msg = json_loads(m->json, 0, NULL);
    if (!msg) {
        td__error_set(err, TD_ERR_CORRUPT, "the stored message is not JSON");
        return NULL;
    }
    json_t *in = build_input(msg, m->kind, s->public_url);
    json_decref(msg);
    if (!in) {
        td__error_set(err, TD_ERR_CORRUPT, "the message has no e-Evidence transport record");
        return NULL;
    }
    td_eevidence_header h;
    memset(&h, 0, sizeof h);
    h.sender = s->sender;
    snprintf(h.receiver.country, sizeof h.receiver.country, "%s",
             member(in, "receiver_country") ? member(in, "receiver_country") : "XX");
    snprintf(h.receiver.unique_id, sizeof h.receiver.unique_id, "%s",
             member(in, "receiver_id") ? member(in, "receiver_id") : "");
    json_object_del(in, "receiver_country");
    json_object_del(in, "receiver_id");
    char *text = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    if (!text) {
        td__error_set(err, TD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char *xml = NULL;
    td_status st = td_eevidence_build(kind_of(m->kind), text, &h, &xml, len, err);
    free(text);
    return st == TD_OK ? xml : NULL;
}

/* Posts one message; returns 1 when the access point took it, 0 when it failed (why, cap bytes,
 * says how). */
static int post_one(td__eev_sender *s, const td_eorder_message *m, char *why, size_t cap)
{
    td_error err;
    size_t len = 0;
    char *xml = message_xml(s, m, &len, &err);
    if (!xml) {
        snprintf(why, cap, "cannot build the message: %.200s", err.message);
        return 0;
    }
    static const char *const headers[] = {"Content-Type: application/xml", NULL};
    td__http_options ho = {.allow_private = s->allow_private, .timeout_ms = 30000};
    td__http_request rq = {
        .method = "POST", .url = s->url, .headers = headers, .body = xml, .body_len = len};
    td__http_response resp;
    td__http_result res = td__http_send(&ho, &rq, &resp, &err);
    td_free(xml);
    td__http_response_free(&resp);
    if (res != TD__HTTP_OK) {
        snprintf(why, cap, "%.200s", err.message);
        return 0;
    }
    if (resp.status < 200 || resp.status > 299) {
        snprintf(why, cap, "the access point answered HTTP %ld", resp.status);
        return 0;
    }
    return 1;
}

size_t td__eev_sender_pass(td__eev_sender *s)
{
    if (!s || !s->url[0])
        return 0;
    td_eorder_message *msgs = NULL;
    size_t n = 0, sent = 0;
    td_error err;
    /* Only messages of orders that came through the transport: the others' authorities fetch
     * theirs (GET .../messages). */
    if (td_eorder_outbox_list(s->eorders, NULL, 2, TD_PAGE_MAX, &msgs, &n, &err) != TD_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char why[256];
        if (post_one(s, &msgs[i], why, sizeof why)) {
            if (td_eorder_outbox_sent(s->eorders, "eevidence-sender", msgs[i].id, &err) == TD_OK)
                sent++;
        } else {
            int64_t delay = RETRY_FIRST_MS;
            for (int a = 0; a < msgs[i].attempts && delay < RETRY_MAX_MS; a++)
                delay *= 2;
            if (delay > RETRY_MAX_MS)
                delay = RETRY_MAX_MS;
            if (td_eorder_outbox_failed(s->eorders, msgs[i].id, why, now_ms() + delay, &err) !=
                TD_OK)
                break; /* the store refuses: try again at the next pass */
        }
    }
    td_free(msgs);
    return sent;
}

static void *run(void *arg)
{
    td__eev_sender *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        (void)td__eev_sender_pass(s);
        pthread_mutex_lock(&s->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (s->interval_ms % 1000) * 1000000;
        until.tv_sec += s->interval_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

td__eev_sender *td__eev_sender_start(td_server *srv, td_eorders *eorders)
{
    const td_config *cfg = srv->opts.config;
    td__eev_sender *s = td__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->srv = srv;
    s->eorders = eorders;
    snprintf(s->url, sizeof s->url, "%s", cfg_string(cfg, "eevidence_outbound_url"));
    snprintf(s->public_url, sizeof s->public_url, "%s", cfg_string(cfg, "public_url"));
    size_t pl = strlen(s->public_url);
    while (pl && s->public_url[pl - 1] == '/')
        s->public_url[--pl] = '\0';
    snprintf(s->sender.country, sizeof s->sender.country, "%s",
             cfg_string(cfg, "eevidence_sender_country"));
    snprintf(s->sender.unique_id, sizeof s->sender.unique_id, "%s",
             cfg_string(cfg, "eevidence_sender_id"));
    int64_t v = 0;
    td_error err;
    if (td_config_int(cfg, "eevidence_allow_private", &v, &err) == TD_OK)
        s->allow_private = v != 0;
    if (td_config_int(cfg, "eevidence_outbox_interval_ms", &v, &err) != TD_OK || v <= 0)
        v = 2000;
    s->interval_ms = v;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!s->url[0])
        return s; /* nothing to post to: no thread */
    s->running = pthread_create(&s->thread, NULL, run, s) == 0;
    return s;
}

void td__eev_sender_stop(td__eev_sender *s)
{
    if (!s)
        return;
    if (s->running) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    td__free(s);
}
