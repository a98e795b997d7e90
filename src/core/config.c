/* The configuration table, its parsing and configuration objects (see
 * include/takedown/config.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "takedown/config.h"

#define INT_OPT(name, min, max, def, help)                                                         \
    {                                                                                              \
        name, TD_CONFIG_INT, min, max, def, NULL, help                                             \
    }
#define STR_OPT(name, def, help)                                                                   \
    {                                                                                              \
        name, TD_CONFIG_STRING, 0, 0, 0, def, help                                                 \
    }

static const td_config_option options[] = {
    STR_OPT("listen", "127.0.0.1:8080", "address and port to bind (port 0: any free port)"),
    STR_OPT("hma_listen", "",
            "address and port of the HMA listener: only HMA's routes, keyless requests act with "
            "hma_role (empty: off)"),
    STR_OPT("hma_role", "platform",
            "role of a keyless request on hma_listen: platform, moderator, admin or auditor"),
    STR_OPT("data", "takedown-data", "data directory (SQLite database, snapshots)"),
    STR_OPT("store", "", "postgresql:// URL of a database nodes share (empty: DATA/takedown.db)"),
    STR_OPT("fetch_allow", "",
            "hosts media may be fetched from: comma-separated suffixes, '*': any"),
    INT_OPT("max_file_bytes", 1, (int64_t)1 << 40, (int64_t)64 << 20,
            "largest input file accepted, in bytes"),
    INT_OPT("max_pixels", 1, (int64_t)1 << 36, 100000000,
            "largest decoded image accepted, in pixels"),
    INT_OPT("jobs", 0, 1024, 0, "worker threads for hashing (0: one per core)"),
    INT_OPT("recheck_window_ms", 0, (int64_t)366 * 86400000, 86400000,
            "content received this recently is re-checked against newly added signals (0: never)"),
    INT_OPT("webhook_timeout_ms", 100, 600000, 5000, "time limit of one webhook delivery attempt"),
    INT_OPT("webhook_backoff_base_ms", 1, 86400000, 1000,
            "first webhook retry delay (doubled per try)"),
    INT_OPT("webhook_backoff_max_ms", 1, 7 * (int64_t)86400000, 3600000,
            "largest webhook retry delay"),
    INT_OPT("webhook_max_attempts", 1, 1000, 12, "webhook delivery attempts before giving up"),
    INT_OPT("import_max_lines", 1, (int64_t)1 << 32, 20000000, "lines per imported hash list"),
    INT_OPT("video_max_seconds", 1, 7 * 86400, 4 * 3600,
            "longest video the service hashes (check, content, signal upload), in seconds"),
    INT_OPT(
        "vpdq_ms_per_hash", 0, 3600000, 1000,
        "vPDQ sampling of videos the service hashes: one frame per this many ms (0: every frame)"),
    INT_OPT("vpdq_distance", 0, 63, 31, "vPDQ: frames match within this Hamming distance"),
    INT_OPT("vpdq_query_percent", 0, 100, 80,
            "vPDQ: share of the checked video's frames that must match a signal video"),
    INT_OPT("vpdq_compared_percent", 0, 100, 0,
            "vPDQ: share of the signal video's frames that must match the checked video"),
    INT_OPT("import_max_line_bytes", 64, 1 << 20, 4096, "bytes per line of an imported hash list"),
    INT_OPT("http_threads", 0, 256, 0, "HTTP polling threads of takedown serve (0: one per core)"),
    INT_OPT("max_body_bytes", 1024, (int64_t)1 << 30, (int64_t)1 << 20,
            "largest JSON request body accepted by takedown serve, in bytes"),
    INT_OPT("max_media_bytes", 1024, (int64_t)1 << 32, (int64_t)64 << 20,
            "largest media request body (check, content, signal upload), in bytes"),
    INT_OPT("max_import_bytes", 1024, (int64_t)1 << 40, (int64_t)1 << 30,
            "largest list import request body, in bytes"),
    INT_OPT("http_timeout_s", 1, 86400, 60,
            "idle HTTP connections are closed after this many seconds"),
    INT_OPT(
        "max_connections", 1, 100000, 1024,
        "concurrent HTTP connections; at the limit the oldest idle connection without a valid key "
        "is closed to make room"),
    INT_OPT("max_connections_per_address", 0, 100000, 256,
            "concurrent HTTP connections from one client address, IPv6 by /64 (0: no limit)"),
    INT_OPT("http_header_timeout_s", 1, 3600, 10,
            "a request's headers must be complete this long after the connection opened or the "
            "previous response ended, however the bytes trickle in; also a body's grace time"),
    INT_OPT("http_min_receive_rate", 0, (int64_t)1 << 30, 1024,
            "bytes per second a request body must average after the grace time (0: no minimum)"),
    INT_OPT("rate_limit_per_address", 0, 1000000, 0,
            "requests per second from one client address, health probes excepted (0: no limit)"),
    INT_OPT("rate_limit_per_key", 0, 1000000, 0,
            "requests per second with one API key (0: no limit)"),
    INT_OPT("rate_limit_unauthenticated", 0, 1000000, 100,
            "requests per second from one address without a valid API key, health probes excepted "
            "(0: no limit)"),
    INT_OPT("rate_limit_burst_s", 1, 3600, 2,
            "a rate limit lets this many seconds' worth of requests through at once"),
    INT_OPT("metrics_public", 0, 1, 1,
            "serve /metrics without an API key (0: admin or auditor key)"),
    INT_OPT("shutdown_grace_ms", 0, 600000, 30000,
            "on SIGTERM, how long requests in flight may take to complete"),
    INT_OPT("webhook_allow_private", 0, 1, 0,
            "allow webhooks to loopback and private addresses (tests, internal receivers)"),
    INT_OPT("fetch_enabled", 0, 1, 0,
            "let GET /h/hash?url= fetch media from the hosts on fetch_allow (0: refused, 403)"),
    INT_OPT("fetch_allow_private", 0, 1, 0,
            "let media fetches reach loopback, private, link-local and CGNAT addresses (tests)"),
    INT_OPT("fetch_connect_timeout_ms", 100, 600000, 3000,
            "time limit to connect for a media fetch"),
    INT_OPT("fetch_timeout_ms", 100, 600000, 10000, "time limit of one whole media fetch"),
    INT_OPT("video_max_bytes", 1, (int64_t)1 << 40, (int64_t)1 << 30,
            "largest video file accepted, in bytes"),
    INT_OPT("video_max_duration_s", 1, 7 * 86400, 4 * 3600, "longest video accepted, in seconds"),
    INT_OPT("video_max_frames", 1, (int64_t)1 << 32, 1000000, "most frames decoded from one video"),
    INT_OPT("audit_checkpoint_entries", 0, (int64_t)1 << 40, 1000,
            "sign an audit log checkpoint after this many new entries (0: never)"),
    INT_OPT(
        "audit_checkpoint_interval_ms", 0, 7 * (int64_t)86400000, 60000,
        "sign an audit log checkpoint at the first entry this long after the last one (0: never)"),
    INT_OPT("evidence_retention_ms", 86400000, (int64_t)3660 * 86400000, (int64_t)183 * 86400000,
            "preserved evidence is kept this long after removal (default 183 days, TCO Art. 6)"),
    INT_OPT("evidence_max_item_bytes", 1, (int64_t)1 << 40, (int64_t)1 << 30,
            "largest item sealed or opened as evidence, in bytes"),
    STR_OPT("public_url", "",
            "this service's URL as authorities reach it (package links in e-Evidence messages)"),
    STR_OPT("eevidence_outbound_url", "",
            "e-Evidence: where outgoing HI1Messages are posted (the access point; empty: kept "
            "pending)"),
    STR_OPT("eevidence_sender_country", "XX",
            "e-Evidence: this operator's CountryCode in outgoing message headers"),
    STR_OPT("eevidence_sender_id", "takedown",
            "e-Evidence: this operator's UniqueIdentifier in outgoing message headers"),
    INT_OPT("eevidence_allow_private", 0, 1, 0,
            "e-Evidence: the access point may be a loopback or private address"),
    INT_OPT("eevidence_outbox_interval_ms", 100, 3600000, 2000,
            "e-Evidence: how often due outgoing messages are sent"),
    INT_OPT("order_deadline_ms", 60000, 7 * (int64_t)86400000, 3600000,
            "time from the receipt of a removal order to its deadline (TCO: one hour)"),
    INT_OPT("order_escalation_step_ms", 0, 86400000, 900000,
            "escalate open orders to moderators at every multiple of this before the deadline (0: "
            "never)"),
    INT_OPT(
        "order_first_contact_ms", 0, 7 * (int64_t)86400000, 12 * (int64_t)3600000,
        "an authority's first order this soon after it announced itself is flagged (TCO: 12 h)"),
    INT_OPT("eorder_approvals_content", 1, 16, 2,
            "legal officers who must approve the delivery of an evidence order for content data"),
    INT_OPT("eorder_approvals_other", 1, 16, 1,
            "legal officers who must approve the delivery of any other evidence order"),
    STR_OPT("eorder_escalation_pct", "50,75,90",
            "escalation marks of evidence orders, in percent of the time to each deadline"),
    INT_OPT("eorder_collect_ms", 60000, 30 * (int64_t)86400000, 86400000,
            "the platform's answer to an evidence order's evidence.collect is due this soon"
            " (at most half the period)"),
    INT_OPT("eorder_transmit_window_ms", 60000, 30 * (int64_t)86400000, 86400000,
            "ten_days_enforcing: evidence is due this long after its transmission is allowed"),
    INT_OPT("frank_key_rotate_ms", 0, (int64_t)3660 * 86400000, 30 * (int64_t)86400000,
            "E2EE reports: a new message franking key this often (0: only when asked)"),
    INT_OPT("frank_key_retention_ms", 0, (int64_t)3660 * 86400000, 90 * (int64_t)86400000,
            "E2EE reports: a retired franking key verifies this long, then its secrets are"
            " destroyed and its franks never verify again"),
    INT_OPT("report_max_attachment_bytes", 1, (int64_t)1 << 32, (int64_t)32 << 20,
            "E2EE reports: largest attachment of a reported message, decrypted, in bytes"),
    INT_OPT(
        "review_media", 0, 1, 1,
        "keep a sealed review copy of uploaded media whose case goes to review (1: on, 0: off)"),
    INT_OPT("review_media_grace_ms", 0, (int64_t)3660 * 86400000, 7 * (int64_t)86400000,
            "review copies: deleted this long after their case is closed (removal: preserved as"
            " evidence instead)"),
    INT_OPT("review_media_max_bytes", 0, (int64_t)1 << 40, 0,
            "review copies: a larger upload is checked but not kept, in bytes (0: the media body"
            " limit, max_media_bytes)"),
    INT_OPT("exchange_allow_private", 0, 1, 0,
            "hash exchanges may fetch from private addresses (peers on an internal network)"),
    INT_OPT("exchange_timeout_ms", 100, 600000, 30000,
            "hash exchanges: time limit of one request to a source"),
    INT_OPT("exchange_max_page_bytes", 1024, (int64_t)1 << 31, (int64_t)64 << 20,
            "hash exchanges: largest page (or list file) accepted from a source, in bytes"),
    INT_OPT("exchange_max_page_items", 1, 10000000, 100000,
            "hash exchanges: most items accepted in one page (a list file: in the file)"),
    INT_OPT("exchange_backoff_max_ms", 1000, 86400000, 900000,
            "hash exchanges: longest wait before retrying a source that failed"),
    INT_OPT("exchange_min_interval_ms", 1, 86400000, 1000,
            "hash exchanges: the shortest schedule an exchange may ask for"),
    INT_OPT("exchange_reactions_per_minute", 0, 100000, 60,
            "hash exchanges: reactions (feedback) sent to one source per minute"),
    STR_OPT("review_reasons", "",
            "the reasons a review decision may name: 'code=Label;code=Label' (codes [a-z0-9_], at "
            "most 64 reasons; empty: the TCO Regulation's categories)"),
    STR_OPT("review_qa_share", "0.05",
            "share of remove and keep decisions sent to a second reviewer (QA), 0 to 1"),
    {NULL, TD_CONFIG_INT, 0, 0, 0, NULL, NULL},
};

#undef INT_OPT
#undef STR_OPT

#define LINE_MAX_BYTES 4096
#define ENV_PREFIX "TAKEDOWN_"

typedef struct config_value {
    int64_t number;
    char *text; /* TD_CONFIG_STRING once set (td__malloc'ed); NULL: the default */
} config_value;

struct td_config {
    size_t n;
    config_value *values; /* one per entry of options[] */
};

const td_config_option *td_config_options(void) { return options; }

/* Compares a table name with one whose dashes count as underscores; len bytes of name. */
static int same_name(const char *table_name, const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = name[i] == '-' ? '_' : name[i];
        if (table_name[i] != c)
            return 0;
    }
    return table_name[len] == '\0';
}

static const td_config_option *find_n(const char *name, size_t len)
{
    for (const td_config_option *o = options; o->name; o++)
        if (same_name(o->name, name, len))
            return o;
    return NULL;
}

const td_config_option *td_config_find(const char *name)
{
    return name ? find_n(name, strlen(name)) : NULL;
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

td_status td_config_new(td_config **out, td_error *err)
{
    size_t n = 0;
    while (options[n].name)
        n++;
    td_config *cfg = td__calloc(1, sizeof *cfg);
    if (cfg)
        cfg->values = td__calloc(n, sizeof *cfg->values);
    if (!cfg || !cfg->values) {
        td__free(cfg);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    cfg->n = n;
    for (size_t i = 0; i < n; i++)
        cfg->values[i].number = options[i].def;
    *out = cfg;
    return TD_OK;
}

void td_config_free(td_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++)
        td__free(cfg->values[i].text);
    td__free(cfg->values);
    td__free(cfg);
}

static td_status set_value(td_config *cfg, const td_config_option *opt, const char *shown_name,
                           const char *value, td_error *err)
{
    config_value *slot = &cfg->values[opt - options];
    if (opt->type == TD_CONFIG_INT)
        return td_config_parse(opt, value, &slot->number, err);
    if (!value || !*value)
        return td__error_set(err, TD_ERR_INVALID, "'%s' needs a value", shown_name);
    char *copy = td__strdup(value);
    if (!copy)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td__free(slot->text);
    slot->text = copy;
    return TD_OK;
}

td_status td_config_set(td_config *cfg, const char *name, const char *value, td_error *err)
{
    const td_config_option *opt = td_config_find(name);
    if (!opt)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown option '%s'", name ? name : "");
    return set_value(cfg, opt, name, value, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

td_status td_config_load_file(td_config *cfg, const char *path, td_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return td__error_set(err, TD_ERR_IO, "cannot open config file '%s'", path);
    char line[LINE_MAX_BYTES];
    int lineno = 0;
    td_status st = TD_OK;
    while (st == TD_OK && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = td__error_set(err, TD_ERR_LIMIT, "line longer than %d bytes", LINE_MAX_BYTES);
        } else {
            char *s = trim(line);
            char *eq = strchr(s, '=');
            if (!*s || *s == '#')
                continue;
            if (!eq) {
                st = td__error_set(err, TD_ERR_INVALID, "expected 'name = value'");
            } else {
                *eq = '\0';
                st = td_config_set(cfg, trim(s), trim(eq + 1), err);
            }
        }
        if (st != TD_OK)
            td__error_prefix(err, "%s line %d: ", path, lineno);
    }
    fclose(f);
    return st;
}

td_status td_config_load_env(td_config *cfg, char *const *env, td_error *err)
{
    size_t plen = strlen(ENV_PREFIX);
    for (; env && *env; env++) {
        const char *entry = *env;
        const char *eq = strchr(entry, '=');
        if (!eq || strncmp(entry, ENV_PREFIX, plen) != 0 || (size_t)(eq - entry) <= plen)
            continue;
        char name[96];
        size_t len = (size_t)(eq - entry) - plen;
        if (len >= sizeof name)
            continue;
        size_t i = 0;
        for (; i < len; i++) {
            unsigned char c = (unsigned char)entry[plen + i];
            if (islower(c))
                break;
            name[i] = (char)tolower(c);
        }
        if (i < len)
            continue;
        name[len] = '\0';
        const td_config_option *opt = find_n(name, len);
        if (!opt || (opt->type == TD_CONFIG_STRING && !eq[1]))
            continue;
        td_status st = set_value(cfg, opt, name, eq + 1, err);
        if (st != TD_OK) {
            td__error_prefix(err, "environment %.*s: ", (int)(eq - entry), entry);
            return st;
        }
    }
    return TD_OK;
}

td_status td_config_int(const td_config *cfg, const char *name, int64_t *value, td_error *err)
{
    const td_config_option *opt = td_config_find(name);
    if (!opt || opt->type != TD_CONFIG_INT)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown integer option '%s'",
                             name ? name : "");
    *value = cfg ? cfg->values[opt - options].number : opt->def;
    return TD_OK;
}

const char *td_config_string(const td_config *cfg, const char *name)
{
    const td_config_option *opt = td_config_find(name);
    if (!opt || opt->type != TD_CONFIG_STRING)
        return NULL;
    if (cfg && cfg->values[opt - options].text)
        return cfg->values[opt - options].text;
    return opt->def_text;
}
