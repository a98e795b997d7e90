/* libFuzzer harness for the body of POST /v1/incidents (docs/incidents.md): the handler
 * (td__h_incidents_create, src/server/handlers_incidents.c) on a service with incident mode
 * open, the input being the request body as a moderator sends it. Whatever the bytes, the answer
 * is 201 with the incident (an open incident whose name, level, enforcement and filter are the
 * body's: a known level, block or review, at least one label or bank, at most TD_LABELS_MAX
 * labels and TD_INCIDENT_BANKS_MAX banks) or a 4xx JSON error object ({"error": {"code",
 * "message", ...}}) that parses back; an incident opened is closed again, so that the next input
 * finds room under TD_INCIDENT_OPEN_MAX. The service lives in a temporary directory made once,
 * with one bank ("GIFCT") a filter may name. */
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "server/handlers_incidents.h"
#include "server/server_int.h"
#include "takedown/incidents.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static td_service *svc;
static td_incidents *inc;
static struct td_server srv;
static int route = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz-incident-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    td_service_options so;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    td_error err;
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "GIFCT");
    td_incidents_options io;
    td_incidents_options_default(&io);
    io.tick_ms = 0;
    if (td_service_open(dir, &so, &svc, &err) != TD_OK ||
        td_bank_create(svc, &b, NULL, &err) != TD_OK ||
        td_incidents_open(svc, &io, &inc, &err) != TD_OK) {
        fprintf(stderr, "fuzz_incident_body: %s\n", err.message);
        abort();
    }
    atomic_store(&srv.incidents, inc);
    td__req r;
    memset(&r, 0, sizeof r);
    route = td__route_match(&r, "POST", "/v1/incidents");
    td__arena_free(&r.arena);
    if (route < 0)
        abort();
    return 0;
}

/* The answer must be JSON; an error names its code and message. */
static json_t *answer(const td__req *r)
{
    if (!r->handled || !r->resp || r->resp_len == 0)
        abort();
    json_t *j = json_loadb(r->resp, r->resp_len, 0, NULL);
    if (!json_is_object(j))
        abort();
    if (r->status != 201) {
        json_t *e = json_object_get(j, "error");
        if (r->status < 400 || r->status > 499 || !json_is_object(e) ||
            !json_is_string(json_object_get(e, "code")) ||
            !json_is_string(json_object_get(e, "message")))
            abort();
    }
    return j;
}

/* An opened incident is the body's: checked against the body itself. */
static void check_opened(json_t *got, json_t *body)
{
    json_t *f = json_object_get(got, "filter"), *want = json_object_get(body, "filter");
    json_t *labels = json_object_get(f, "labels"), *banks = json_object_get(f, "banks");
    const char *level = json_string_value(json_object_get(got, "level"));
    const char *enforcement = json_string_value(json_object_get(got, "enforcement"));
    if (!json_is_integer(json_object_get(got, "id")) || !json_is_object(want) ||
        !json_equal(json_object_get(got, "name"), json_object_get(body, "name")) || !level ||
        (strcmp(level, "cip") && strcmp(level, "content_incident") && strcmp(level, "incident")) ||
        !enforcement || (strcmp(enforcement, "block") && strcmp(enforcement, "review")) ||
        !json_is_array(labels) || !json_is_array(banks) ||
        json_array_size(labels) > TD_LABELS_MAX || json_array_size(banks) > TD_INCIDENT_BANKS_MAX ||
        json_array_size(labels) + json_array_size(banks) == 0)
        abort();
    /* Every bank named is the one that exists. */
    size_t i;
    json_t *v;
    json_array_foreach(banks, i, v) if (!json_is_string(v) ||
                                        strcmp(json_string_value(v), "GIFCT") != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    uint8_t *copy = td__malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    td__req r;
    memset(&r, 0, sizeof r);
    r.srv = &srv;
    r.svc = svc;
    r.route_index = route;
    r.method = "POST";
    r.path = "/v1/incidents";
    r.resp_fd = -1;
    r.who.id = 7;
    r.who.role = TD_ROLE_MODERATOR;
    snprintf(r.who.name, sizeof r.who.name, "fuzz");
    r.body = copy;
    r.body_len = size;
    td__h_incidents_create(&r);
    json_t *got = answer(&r);
    if (r.status == 201) {
        json_t *body = json_loadb((const char *)data, size, 0, NULL);
        check_opened(got, body);
        json_decref(body);
        td_incident closed;
        if (td_incident_close(inc, json_integer_value(json_object_get(got, "id")), &r.who, &closed,
                              NULL) != TD_OK)
            abort();
    }
    json_decref(got);
    if (r.resp && !r.resp_static)
        td__free(r.resp);
    td__arena_free(&r.arena);
    td__free(copy);
    return 0;
}
