/* The configuration table and its parsing (see include/takedown/config.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "takedown/config.h"

static const td_config_option options[] = {
    {"max_file_bytes", 1, (int64_t)1 << 40, (int64_t)64 << 20,
     "largest input file accepted, in bytes"},
    {"max_pixels", 1, (int64_t)1 << 36, 100000000, "largest decoded image accepted, in pixels"},
    {"jobs", 0, 1024, 0, "worker threads for hashing (0: one per core)"},
    {"recheck_window_ms", 0, (int64_t)366 * 86400000, 86400000,
     "content received this recently is re-checked against newly added signals (0: never)"},
    {"webhook_timeout_ms", 100, 600000, 5000, "time limit of one webhook delivery attempt"},
    {"webhook_backoff_base_ms", 1, 86400000, 1000, "first webhook retry delay (doubled per try)"},
    {"webhook_backoff_max_ms", 1, 7 * (int64_t)86400000, 3600000, "largest webhook retry delay"},
    {"webhook_max_attempts", 1, 1000, 12, "webhook delivery attempts before giving up"},
    {"import_max_lines", 1, (int64_t)1 << 32, 20000000, "lines per imported hash list"},
    {"video_max_seconds", 1, 7 * 86400, 4 * 3600,
     "longest video the service hashes (check, content, signal upload), in seconds"},
    {"vpdq_ms_per_hash", 0, 3600000, 1000,
     "vPDQ sampling of videos the service hashes: one frame per this many ms (0: every frame)"},
    {"vpdq_distance", 0, 63, 31, "vPDQ: frames match within this Hamming distance"},
    {"vpdq_query_percent", 0, 100, 80,
     "vPDQ: share of the checked video's frames that must match a signal video"},
    {"vpdq_compared_percent", 0, 100, 0,
     "vPDQ: share of the signal video's frames that must match the checked video"},
    {"import_max_line_bytes", 64, 1 << 20, 4096, "bytes per line of an imported hash list"},
    {"http_threads", 0, 256, 0, "HTTP polling threads of takedown serve (0: one per core)"},
    {"max_body_bytes", 1024, (int64_t)1 << 30, (int64_t)1 << 20,
     "largest JSON request body accepted by takedown serve, in bytes"},
    {"max_media_bytes", 1024, (int64_t)1 << 32, (int64_t)64 << 20,
     "largest media request body (check, content, signal upload), in bytes"},
    {"max_import_bytes", 1024, (int64_t)1 << 40, (int64_t)1 << 30,
     "largest list import request body, in bytes"},
    {"http_timeout_s", 1, 86400, 60, "idle HTTP connections are closed after this many seconds"},
    {"max_connections", 1, 100000, 1024,
     "concurrent HTTP connections; at the limit the oldest idle connection without a valid key "
     "is closed to make room"},
    {"max_connections_per_address", 0, 100000, 256,
     "concurrent HTTP connections from one client address, IPv6 by /64 (0: no limit)"},
    {"http_header_timeout_s", 1, 3600, 10,
     "a request's headers must be complete this long after the connection opened or the "
     "previous response ended, however the bytes trickle in; also a body's grace time"},
    {"http_min_receive_rate", 0, (int64_t)1 << 30, 1024,
     "bytes per second a request body must average after the grace time (0: no minimum)"},
    {"rate_limit_per_address", 0, 1000000, 0,
     "requests per second from one client address, health probes excepted (0: no limit)"},
    {"rate_limit_per_key", 0, 1000000, 0, "requests per second with one API key (0: no limit)"},
    {"rate_limit_unauthenticated", 0, 1000000, 100,
     "requests per second from one address without a valid API key, health probes excepted "
     "(0: no limit)"},
    {"rate_limit_burst_s", 1, 3600, 2,
     "a rate limit lets this many seconds' worth of requests through at once"},
    {"metrics_public", 0, 1, 1, "serve /metrics without an API key (0: admin or auditor key)"},
    {"shutdown_grace_ms", 0, 600000, 30000,
     "on SIGTERM, how long requests in flight may take to complete"},
    {"webhook_allow_private", 0, 1, 0,
     "allow webhooks to loopback and private addresses (tests, internal receivers)"},
    {"fetch_enabled", 0, 1, 0,
     "let GET /h/hash?url= fetch media from the hosts on fetch_allow (0: refused, 403)"},
    {"fetch_allow_private", 0, 1, 0,
     "let media fetches reach loopback, private, link-local and CGNAT addresses (tests)"},
    {"fetch_connect_timeout_ms", 100, 600000, 3000, "time limit to connect for a media fetch"},
    {"fetch_timeout_ms", 100, 600000, 10000, "time limit of one whole media fetch"},
    {"video_max_bytes", 1, (int64_t)1 << 40, (int64_t)1 << 30,
     "largest video file accepted, in bytes"},
    {"video_max_duration_s", 1, 7 * 86400, 4 * 3600, "longest video accepted, in seconds"},
    {"video_max_frames", 1, (int64_t)1 << 32, 1000000, "most frames decoded from one video"},
    {"audit_checkpoint_entries", 0, (int64_t)1 << 40, 1000,
     "sign an audit log checkpoint after this many new entries (0: never)"},
    {"audit_checkpoint_interval_ms", 0, 7 * (int64_t)86400000, 60000,
     "sign an audit log checkpoint at the first entry this long after the last one (0: never)"},
    {"evidence_retention_ms", 86400000, (int64_t)3660 * 86400000, (int64_t)183 * 86400000,
     "preserved evidence is kept this long after removal (default 183 days, TCO Art. 6)"},
    {"evidence_max_item_bytes", 1, (int64_t)1 << 40, (int64_t)1 << 30,
     "largest item sealed or opened as evidence, in bytes"},
    {"order_deadline_ms", 60000, 7 * (int64_t)86400000, 3600000,
     "time from the receipt of a removal order to its deadline (TCO: one hour)"},
    {"order_escalation_step_ms", 0, 86400000, 900000,
     "escalate open orders to moderators at every multiple of this before the deadline (0: never)"},
    {"order_first_contact_ms", 0, 7 * (int64_t)86400000, 12 * (int64_t)3600000,
     "an authority's first order this soon after it announced itself is flagged (TCO: 12 h)"},
    {NULL, 0, 0, 0, NULL},
};

const td_config_option *td_config_options(void) { return options; }

const td_config_option *td_config_find(const char *name)
{
    for (const td_config_option *o = options; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

td_status td_config_parse(const td_config_option *opt, const char *text, int64_t *value,
                          td_error *err)
{
    char *end = NULL;
    long long v;
    int64_t scale = 1;
    errno = 0;
    if (!text || !*text || isspace((unsigned char)*text))
        return td__error_set(err, TD_ERR_INVALID, "%s: empty value", opt->name);
    v = strtoll(text, &end, 10);
    if (errno || end == text)
        return td__error_set(err, TD_ERR_INVALID, "%s: '%s' is not a number", opt->name, text);
    switch (*end) {
    case 'K':
    case 'k':
        scale = (int64_t)1 << 10;
        end++;
        break;
    case 'M':
    case 'm':
        scale = (int64_t)1 << 20;
        end++;
        break;
    case 'G':
    case 'g':
        scale = (int64_t)1 << 30;
        end++;
        break;
    default: break;
    }
    if (*end)
        return td__error_set(err, TD_ERR_INVALID, "%s: '%s' is not a number", opt->name, text);
    if (__builtin_mul_overflow((int64_t)v, scale, &v) || v < opt->min || v > opt->max)
        return td__error_set(err, TD_ERR_LIMIT, "%s: %s is outside %lld..%lld", opt->name, text,
                             (long long)opt->min, (long long)opt->max);
    *value = (int64_t)v;
    return TD_OK;
}

td_status td_config_get(const char *name, int64_t *value, td_error *err)
{
    const td_config_option *opt = td_config_find(name);
    char env[96] = "TAKEDOWN_";
    if (!opt)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown option '%s'", name);
    size_t n = strlen(env);
    for (const char *p = name; *p && n + 1 < sizeof env; p++)
        env[n++] = (char)toupper((unsigned char)*p);
    env[n] = '\0';
    const char *text = getenv(env);
    if (!text) {
        *value = opt->def;
        return TD_OK;
    }
    td_status st = td_config_parse(opt, text, value, err);
    if (st != TD_OK)
        td__error_prefix(err, "environment %s: ", env);
    return st;
}
