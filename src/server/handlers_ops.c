/* Operations: liveness (the process answers), readiness (the indexes are loaded: load balancers
 * send traffic only then), Prometheus metrics, and the API's own OpenAPI document. */
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
        static const char ok[] = "{\"status\":\"ready\"}\n";
        td__reply_text(r, 200, "application/json", ok, sizeof ok - 1);
        return;
    }
    td__reply_error(r, 503, "not_ready", "the indexes are not loaded yet");
}

void td__h_metrics(td__req *r)
{
    size_t len = 0;
    char *text = td__metrics_render(r->srv, &len);
    if (!text) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    td__reply_take(r, 200, "text/plain; version=0.0.4", text, len);
}

void td__h_openapi(td__req *r)
{
    td__reply_text(r, 200, "application/yaml", (const char *)td__openapi_yaml,
                   td__openapi_yaml_len);
}
