/* Meta's HMA ("Hasher-Matcher-Actioner") routes, so that an HMA client switches to takedown by
 * changing its base URL. Shapes follow HMA: banks carry matching_enabled_ratio, signals are
 * keyed by python-threatexchange type names ("pdq", "video_md5"), lookup answers are keyed by
 * bank name with string distances. An HMA "bank content" is one takedown signal here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/serialize.h"
#include "server/handlers_hma.h"
#include "server/server_int.h"

void td__h_hma_status(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_service *svc = atomic_load(&r->srv->svc);
    if (svc && atomic_load(&r->srv->ready) && td_service_ready(svc)) {
        static const char ok[] = "I-AM-ALIVE";
        td__reply_text(r, 200, "text/plain", ok, sizeof ok - 1);
        return;
    }
    /* HMA's INDEX-STALE never applies: takedown's indexes are not rebuilt on a schedule but
     * changed in place from the change log (docs/hma.md). */
    static const char no[] = "INDEX-NOT-LOADED";
    td__reply_text(r, 503, "text/plain", no, sizeof no - 1);
}

void td__h_hma_status_live(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    /* HMA: the process serves HTTP, whatever the indexes' state (a liveness probe must not
     * restart an instance that is still loading them). */
    static const char ok[] = "I-AM-ALIVE";
    td__reply_text(r, 200, "text/plain", ok, sizeof ok - 1);
}

static void hma_home(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    static const char body[] = "<!doctype html>\n<title>Redirecting</title>\n"
                               "<p>Redirecting to <a href=\"/status\">/status</a>.</p>\n";
    td__reply_text(r, 302, "text/html; charset=utf-8", body, sizeof body - 1);
    r->resp_location = "/status";
}

const td__route td__hma_home_route = {"GET",
                                      "/",
                                      hma_home,
                                      TD__R_PUBLIC,
                                      TD__F_HMA | TD__F_NO_READY,
                                      "HMA: home (a redirect to /status)",
                                      NULL,
                                      NULL};

/* A route pattern in Flask's syntax, as HMA's site map lists its rules: "{name}" -> "<name>". */
static json_t *flask_rule(const char *pattern)
{
    char out[512];
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < sizeof out; p++)
        out[o++] = *p == '{' ? '<' : *p == '}' ? '>' : *p;
    out[o] = '\0';
    return json_string(out);
}

/* Patterns compared as their Flask rules ("{" as "<", "}" as ">"): HMA sorts the rules. */
static int flask_char(char c) { return (unsigned char)(c == '{' ? '<' : c == '}' ? '>' : c); }

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    for (; *x && *x == *y; x++, y++)
        ;
    return flask_char(*x) - flask_char(*y);
}

void td__h_hma_site_map(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    size_t n;
    const td__route *routes = td__routes(&n);
    const char **paths = td__arena_alloc(&r->arena, (n + 1) * sizeof *paths);
    size_t k = 0;
    if (!paths) {
        td__reply_error(r, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (td__route_served(r, &routes[i]))
            paths[k++] = routes[i].pattern;
    if (r->hma)
        paths[k++] = td__hma_home_route.pattern;
    qsort(paths, k, sizeof *paths, cmp_str);
    json_t *a = json_array();
    for (size_t i = 0; a && i < k; i++)
        if (i == 0 || strcmp(paths[i], paths[i - 1]) != 0) /* one entry per path */
            json_array_append_new(a, flask_rule(paths[i]));
    td__reply_json(r, 200, a);
}

/* HMA's OpenAPI tags, by path. */
static const char *openapi_tag(const char *p)
{
    if (strncmp(p, "/h/", 3) == 0)
        return "Hashing";
    if (strncmp(p, "/m/", 3) == 0)
        return "Matching";
    if (strncmp(p, "/c/exchange", 11) == 0)
        return "Exchanges";
    if (strncmp(p, "/c/bank/", 8) == 0 && strstr(p, "/content") != NULL)
        return "Bank Content";
    if (strncmp(p, "/c/bank", 7) == 0)
        return "Banks";
    if (strncmp(p, "/c/", 3) == 0)
        return "Configuration";
    return "Core";
}

static json_t *openapi_operation(const td__route *rt)
{
    json_t *params = json_array();
    for (const char *p = strchr(rt->pattern, '{'); params && p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (size_t)(e - p - 1), "in", "path", "required", 1,
                                                "schema", "type", "string"));
    }
    json_t *op = json_pack("{s:[s], s:s, s:o, s:{s:{s:s}}}", "tags", openapi_tag(rt->pattern),
                           "summary", rt->summary, "parameters", params ? params : json_array(),
                           "responses", "200", "description", "OK");
    /* Which takedown roles may call it: without a key on hma_listen, hma_role's. */
    if (op && !(rt->roles & TD__R_PUBLIC)) {
        size_t n;
        const td_server_route_info *info = td_server_routes(&n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(info[i].method, rt->method) == 0 &&
                strcmp(info[i].pattern, rt->pattern) == 0)
                json_object_set_new(op, "x-roles", json_string(info[i].roles));
    }
    return op;
}

static void openapi_add(json_t *paths, const td__route *rt)
{
    json_t *item = json_object_get(paths, rt->pattern);
    if (!item) {
        item = json_object();
        json_object_set_new(paths, rt->pattern, item);
    }
    char method[16];
    size_t i = 0;
    for (; rt->method[i] && i + 1 < sizeof method; i++)
        method[i] = (char)(rt->method[i] | 0x20); /* lower case */
    method[i] = '\0';
    json_object_set_new(item, method, openapi_operation(rt));
}

void td__h_hma_openapi(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    size_t n;
    const td__route *routes = td__routes(&n);
    json_t *paths = json_object();
    for (size_t i = 0; paths && i < n; i++)
        if (routes[i].flags & TD__F_HMA)
            openapi_add(paths, &routes[i]);
    if (paths && r->hma)
        openapi_add(paths, &td__hma_home_route);
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:o}", "openapi", "3.1.0", "info", "title",
        "Open Media Match API", "version", "1.1.7", "description",
        "Meta's Hasher-Matcher-Actioner 1.1.7 API as takedown serves it (docs/hma.md): the HMA "
        "routes of this listener, generated from the route table",
        "paths", paths ? paths : json_object());
    td__reply_json(r, 200, doc);
}
