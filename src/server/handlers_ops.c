/* Operations: liveness (the process answers), readiness (the indexes are loaded: load balancers
 * send traffic only then), Prometheus metrics, and the API's own OpenAPI document.
 *
 * A service short of disk space stays ready (checks answer) and says it is read-only, in
 * /readyz and as the takedown_read_only gauge: writes answer 507 meanwhile. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/server_int.h"

void td__h_healthz(td__req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}\n";
    td__reply_text(r, 200, "application/json", ok, sizeof ok - 1);
}

void td__h_readyz(td__req *r)
{
    td_service *svc = atomic_load(&r->srv->svc);
    if (svc && atomic_load(&r->srv->ready) && td_service_ready(svc)) {
        static const char ok[] = "{\"status\":\"ready\",\"read_only\":false}\n";
        static const char opened_ro[] =
            "{\"status\":\"ready\",\"read_only\":true,\"reason\":\"the disk was full when the"
            " service started: checks answer, writes get 507 until space is freed\"}\n";
        static const char short_ro[] =
            "{\"status\":\"ready\",\"read_only\":true,\"reason\":\"the last write failed for"
            " lack of disk space: writes get 507 until one succeeds\"}\n";
        int ro = td_service_read_only(svc);
        const char *text = ro == 1 ? opened_ro : ro ? short_ro : ok;
        td__reply_text(r, 200, "application/json", text, strlen(text));
        return;
    }
    td__reply_error(r, 503, "not_ready", "the indexes are not loaded yet");
}

void td__h_metrics(td__req *r)
{
    static const char gauge[] = "# HELP takedown_read_only 1 while writes are refused for lack of"
                                " disk space (507), else 0.\n"
                                "# TYPE takedown_read_only gauge\ntakedown_read_only %d\n";
    size_t len = 0;
    char *text = td__metrics_render(r->srv, &len);
    char *grown = text ? td__realloc(text, len + sizeof gauge + 8) : NULL;
    if (!grown) {
        td__free(text);
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    td_service *svc = atomic_load(&r->srv->svc);
    int n =
        snprintf(grown + len, sizeof gauge + 8, gauge, svc && td_service_read_only(svc) ? 1 : 0);
    td__reply_take(r, 200, "text/plain; version=0.0.4", grown, len + (size_t)(n > 0 ? n : 0));
}

void td__h_openapi(td__req *r)
{
    td__reply_text(r, 200, "application/yaml", (const char *)td__openapi_yaml,
                   td__openapi_yaml_len);
}
