/* takedown serve: the matching service over HTTP.
 *
 * Configuration comes from one table (src/core/config.c), integer and string options alike,
 * with the precedence flags > environment (TAKEDOWN_*) > config file > defaults. One td_config
 * is built from those sources (serve_config.c) and handed to the server and the service.
 *
 * Signals: SIGTERM and SIGINT are blocked before any thread starts and awaited with sigwait, so
 * no handler runs on a random thread; on either the server stops accepting, lets requests in
 * flight finish (shutdown_grace_ms), and the service closes the store. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "takedown/casework.h"
#include "takedown/config.h"
#include "takedown/server.h"

const char td_cli_serve_usage[] =
    "Usage: takedown serve [--config FILE] [--listen ADDR:PORT] [--data DIR] [--store URL]\n"
    "                      [--NAME VALUE]...\n"
    "\n"
    "Runs the HTTP API (see docs/api.md) on a data directory (created if missing; SQLite in\n"
    "DIR/takedown.db). At first start an admin API key is created and printed once.\n"
    "\n"
    "  --config FILE      'name = value' lines ('#' comments) for any option below\n"
    "  --listen ADDR:PORT address to bind (default 127.0.0.1:8080; port 0 picks a free port;\n"
    "                     IPv6 as [::1]:8080); environment TAKEDOWN_LISTEN\n"
    "  --data DIR         data directory (default ./takedown-data); environment TAKEDOWN_DATA\n"
    "  --store URL        keep the state in PostgreSQL (postgresql://user@host/db; several\n"
    "                     nodes may share it) instead of DIR/takedown.db; the data directory\n"
    "                     still holds the keys and evidence files; environment TAKEDOWN_STORE\n"
    "  --fetch-allow LIST hosts GET /h/hash?url= may fetch from when --fetch-enabled 1:\n"
    "                     comma-separated host suffixes ('*': any); TAKEDOWN_FETCH_ALLOW\n"
    "  --hma-listen ADDR:PORT  also serve Meta's HMA 1.1.7 routes alone on this address,\n"
    "                     where a request without a key acts with --hma-role (default\n"
    "                     platform); put your proxy in front of it (docs/hma.md)\n"
    "  --NAME VALUE       any option of the configuration table, e.g. --max-body-bytes 2M\n"
    "                     (environment TAKEDOWN_NAME); 'takedown serve --options' lists them\n"
    "\n"
    "Prints 'takedown: HMA API listening on http://ADDR:PORT ...' (with --hma-listen), then\n"
    "'takedown: listening on http://ADDR:PORT' when ready. SIGTERM or SIGINT: stop\n"
    "accepting, finish requests in flight, close the store, exit 0.\n";

static int get_int(const td_config *cfg, const char *name, int64_t *v)
{
    td_error err;
    if (td_config_int(cfg, name, v, &err) != TD_OK) {
        fprintf(stderr, "takedown serve: %s\n", err.message);
        return 0;
    }
    return 1;
}

/* The server's operator-facing events, on stderr. */
static void log_to_stderr(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "takedown: %s\n", message);
}

/* Each connection is a descriptor, and connections being shed still hold theirs until closed:
 * raise the soft limit towards the hard one so that max_connections can be reached. */
static void raise_file_limit(unsigned max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections * 2 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        fprintf(stderr,
                "takedown serve: the open-file limit (%llu) is below %llu: raise it (ulimit -n) "
                "for max_connections %u\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)want, max_connections);
}

/* The connection and rate limits (docs/api.md, "Connection and rate limits"). */
static int serve_guard_options(const td_config *cfg, td_server_options *sopts)
{
    int64_t per_addr, header_s, min_rate, rate_addr, rate_key, rate_unauth, burst;
    if (!get_int(cfg, "max_connections_per_address", &per_addr) ||
        !get_int(cfg, "http_header_timeout_s", &header_s) ||
        !get_int(cfg, "http_min_receive_rate", &min_rate) ||
        !get_int(cfg, "rate_limit_per_address", &rate_addr) ||
        !get_int(cfg, "rate_limit_per_key", &rate_key) ||
        !get_int(cfg, "rate_limit_unauthenticated", &rate_unauth) ||
        !get_int(cfg, "rate_limit_burst_s", &burst))
        return 0;
    sopts->max_connections_per_address = (unsigned)per_addr;
    sopts->header_timeout_seconds = (unsigned)header_s;
    sopts->min_receive_rate = (unsigned)min_rate;
    sopts->rate_per_address = (unsigned)rate_addr;
    sopts->rate_per_key = (unsigned)rate_key;
    sopts->rate_unauthenticated = (unsigned)rate_unauth;
    sopts->rate_burst_seconds = (unsigned)burst;
    return 1;
}

static int serve(const td_config *cfg)
{
    const char *listen = td_config_string(cfg, "listen");
    const char *data = td_config_string(cfg, "data");
    char host[64];
    unsigned port;
    if (!td__cli_parse_listen(listen, host, sizeof host, &port)) {
        fprintf(stderr, "takedown serve: listen address '%s' is not ADDR:PORT\n", listen);
        return 2;
    }
    td_server_options sopts;
    td_server_options_default(&sopts);
    sopts.log = log_to_stderr;
    /* The HMA listener (docs/hma.md): off unless hma_listen names an address. */
    const char *hma_listen = td_config_string(cfg, "hma_listen");
    const char *hma_role = td_config_string(cfg, "hma_role");
    char hma_host[64];
    unsigned hma_port = 0;
    if (hma_listen && *hma_listen) {
        if (!td__cli_parse_listen(hma_listen, hma_host, sizeof hma_host, &hma_port)) {
            fprintf(stderr, "takedown serve: hma_listen address '%s' is not ADDR:PORT\n",
                    hma_listen);
            return 2;
        }
        sopts.hma_address = hma_host;
        sopts.hma_port = (uint16_t)hma_port;
    }
    if (td_role_parse(hma_role, &sopts.hma_role) != TD_OK ||
        (sopts.hma_role != TD_ROLE_PLATFORM && sopts.hma_role != TD_ROLE_MODERATOR &&
         sopts.hma_role != TD_ROLE_ADMIN && sopts.hma_role != TD_ROLE_AUDITOR)) {
        fprintf(stderr,
                "takedown serve: hma_role '%s' is not platform, moderator, admin or auditor\n",
                hma_role);
        return 2;
    }
    int64_t threads, max_body, max_media, max_import, timeout_s, max_conn, metrics_public, grace,
        allow_private, fetch_enabled, fetch_private, fetch_connect_ms, fetch_ms;
    if (!get_int(cfg, "http_threads", &threads) || !get_int(cfg, "max_body_bytes", &max_body) ||
        !get_int(cfg, "max_media_bytes", &max_media) ||
        !get_int(cfg, "max_import_bytes", &max_import) ||
        !get_int(cfg, "http_timeout_s", &timeout_s) ||
        !get_int(cfg, "max_connections", &max_conn) ||
        !get_int(cfg, "metrics_public", &metrics_public) ||
        !get_int(cfg, "shutdown_grace_ms", &grace) ||
        !get_int(cfg, "webhook_allow_private", &allow_private) ||
        !get_int(cfg, "fetch_enabled", &fetch_enabled) ||
        !get_int(cfg, "fetch_allow_private", &fetch_private) ||
        !get_int(cfg, "fetch_connect_timeout_ms", &fetch_connect_ms) ||
        !get_int(cfg, "fetch_timeout_ms", &fetch_ms))
        return 2;
    if (!serve_guard_options(cfg, &sopts))
        return 2;
    sopts.address = host;
    sopts.port = (uint16_t)port;
    sopts.threads = (unsigned)threads;
    sopts.max_body_bytes = (uint64_t)max_body;
    sopts.max_media_bytes = (uint64_t)max_media;
    sopts.max_import_bytes = (uint64_t)max_import;
    sopts.timeout_seconds = (unsigned)timeout_s;
    sopts.max_connections = (unsigned)max_conn;
    sopts.metrics_public = (int)metrics_public;
    sopts.fetch_enabled = (int)fetch_enabled;
    sopts.fetch_allow = td_config_string(cfg, "fetch_allow");
    sopts.config = cfg;
    sopts.fetch_allow_private = (int)fetch_private;
    sopts.fetch_connect_timeout_ms = (unsigned)fetch_connect_ms;
    sopts.fetch_timeout_ms = (unsigned)fetch_ms;

    td_service_options vopts;
    td_error err;
    if (td_service_options_from_config(&vopts, cfg, &err) != TD_OK) {
        fprintf(stderr, "takedown serve: %s\n", err.message);
        return 2;
    }
    vopts.webhook_allow_private = (int)allow_private;
    vopts.store_url = td_config_string(cfg, "store");

    /* Block the signals before any thread exists: every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_file_limit(sopts.max_connections);

    /* Liveness answers while the indexes load; readiness once the service is open. */
    td_server *srv = NULL;
    if (td_server_start(&sopts, NULL, &srv, &err) != TD_OK) {
        fprintf(stderr, "takedown serve: %s\n", err.message);
        return 1;
    }
    td_service *svc = NULL;
    if (td_service_open(data, &vopts, &svc, &err) != TD_OK) {
        fprintf(stderr, "takedown serve: %s: %s\n", data, err.message);
        td_server_stop(srv, 0);
        return 1;
    }
    if (td_service_read_only(svc))
        fprintf(stderr,
                "takedown: %s: the disk is full: serving read-only (checks answer, writes get"
                " 507) until space is freed\n",
                data);
    char key[TD_KEY_TEXT_MAX];
    int created = 0;
    if (td_key_ensure_admin(svc, key, &created, &err) != TD_OK) {
        fprintf(stderr, "takedown serve: %s\n", err.message);
        td_server_stop(srv, 0);
        td_service_close(svc);
        return 1;
    }
    if (created)
        printf("takedown: admin key (shown once): %s\n", key);
    memset(key, 0, sizeof key);
    td_server_set_service(srv, svc);
    /* Before the main address, whose line says the server is ready. */
    if (sopts.hma_address && strchr(hma_host, ':'))
        printf("takedown: HMA API listening on http://[%s]:%u (keyless requests act as %s)\n",
               hma_host, (unsigned)td_server_hma_port(srv), td_role_name(sopts.hma_role));
    else if (sopts.hma_address)
        printf("takedown: HMA API listening on http://%s:%u (keyless requests act as %s)\n",
               hma_host, (unsigned)td_server_hma_port(srv), td_role_name(sopts.hma_role));
    if (strchr(host, ':'))
        printf("takedown: listening on http://[%s]:%u\n", host, (unsigned)td_server_port(srv));
    else
        printf("takedown: listening on http://%s:%u\n", host, (unsigned)td_server_port(srv));
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "takedown: %s received, finishing requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    td_server_stop(srv, (unsigned)grace);
    td_service_close(svc);
    fprintf(stderr, "takedown: stopped\n");
    return 0;
}

int td_cli_serve(int argc, char **argv)
{
    int rc;
    td_config *cfg = td__cli_config(argc, argv, "serve", td_cli_serve_usage, &rc);
    if (!cfg)
        return rc;
    rc = serve(cfg);
    td_config_free(cfg);
    return rc;
}
