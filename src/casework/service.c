/* Opening and closing the service: the data directory, the store and its migrations, the audit
 * log (one per data directory, owned here and lent to the orders and evidence components), the
 * indexes loaded from the signals, and the two background threads (the change-log follower and
 * the webhook worker).
 *
 * On a full disk the store opens read-only (store.c): the indexes load from what is stored,
 * checks answer, every write fails with TD_ERR_NOSPACE, and the follower tries to reopen for
 * writing at each period. A schema that still needs a migration cannot open that way. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "casework/schema.h"
#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/wait.h"
#include "takedown/config.h"

void td_service_options_default(td_service_options *o)
{
    memset(o, 0, sizeof *o);
    o->readers = 4;
    o->recheck_window_ms = 86400000;
    o->follow_interval_ms = 500;
    o->webhook_worker = 1;
    o->webhook_timeout_ms = 5000;
    o->webhook_backoff_base_ms = 1000;
    o->webhook_backoff_max_ms = 3600000;
    o->webhook_max_attempts = 12;
    o->webhook_max_response = 64 * 1024;
    o->import_max_line = 4096;
    o->import_max_lines = 20000000;
    o->import_max_errors = 100;
    td_hash_options_default(&o->hash);
    td_video_hash_options_default(&o->video);
    td_vpdq_match_options_default(&o->vpdq);
    o->review_qa_share = 0.05;
}

/* review_qa_share: a decimal number 0..1 ("0.05", "1", "0"). */
static td_status parse_share(const char *text, double *out, td_error *err)
{
    char *end = NULL;
    size_t n = text ? strlen(text) : 0;
    int ok = n > 0 && n <= 32 && strspn(text, "0123456789.") == n;
    double v = ok ? strtod(text, &end) : 0;
    if (!ok || !end || *end || !(v >= 0.0 && v <= 1.0))
        return td__error_set(err, TD_ERR_INVALID,
                             "review_qa_share: expected a number from 0 to 1 (e.g. 0.05)");
    *out = v;
    return TD_OK;
}

td_status td_service_options_from_config(td_service_options *o, const td_config *cfg, td_error *err)
{
    int64_t v;
    td_status st;
    td_service_options_default(o);
#define GET(name, field, type)                                                                     \
    do {                                                                                           \
        if ((st = td_config_int(cfg, name, &v, err)) != TD_OK)                                     \
            return st;                                                                             \
        o->field = (type)v;                                                                        \
    } while (0)
    GET("recheck_window_ms", recheck_window_ms, int64_t);
    GET("webhook_timeout_ms", webhook_timeout_ms, int64_t);
    GET("webhook_backoff_base_ms", webhook_backoff_base_ms, int64_t);
    GET("webhook_backoff_max_ms", webhook_backoff_max_ms, int64_t);
    GET("webhook_max_attempts", webhook_max_attempts, int);
    GET("import_max_lines", import_max_lines, uint64_t);
    GET("import_max_line_bytes", import_max_line, size_t);
    GET("max_file_bytes", hash.decode.max_file_bytes, uint64_t);
    GET("max_pixels", hash.decode.max_pixels, uint64_t);
    GET("video_max_seconds", video.limits.max_duration, double);
    GET("vpdq_distance", vpdq.distance, int);
    GET("vpdq_query_percent", vpdq.query_percent, double);
    GET("vpdq_compared_percent", vpdq.compared_percent, double);
    if ((st = td_config_int(cfg, "vpdq_ms_per_hash", &v, err)) != TD_OK)
        return st;
    o->video.seconds_per_hash = (double)v / 1000.0;
    /* a video upload obeys the same byte limit as an image */
    o->video.limits.max_file_bytes = o->hash.decode.max_file_bytes;
    /* The review workflow: both checked here, so that a bad value stops the start. */
    const char *reasons = td_config_string(cfg, "review_reasons");
    if (reasons && *reasons) {
        td_review_reason *list = NULL;
        size_t n = 0;
        if ((st = td_review_reasons_parse(reasons, &list, &n, err))) {
            td__error_prefix(err, "review_reasons: ");
            return st;
        }
        td__free(list);
        o->review_reasons = reasons;
    }
    if ((st = parse_share(td_config_string(cfg, "review_qa_share"), &o->review_qa_share, err)))
        return st;
    o->config = cfg;
#undef GET
    return TD_OK;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static void global_init(void)
{
    global_ok = sodium_init() >= 0 && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

td_audit *td_service_audit(td_service *svc) { return svc ? svc->audit : NULL; }

td_status td__audit(td_service *svc, td_store_conn *c, const td_principal *who, const char *action,
                    const char *object, json_t *details, td_error *err)
{
    if (!details)
        details = json_object();
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    json_object_set_new(details, "actor_id", json_integer(who ? who->id : 0));
    json_object_set_new(details, "actor_role",
                        json_string(who ? td_role_name(who->role) : "system"));
    char *text = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(details);
    if (!text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    const char *actor = who && who->name[0] ? who->name : "system";
    td_status st = td_audit_append_in(svc->audit, c, actor, action, object, text, NULL, err);
    free(text); /* jansson's */
    return st;
}

td_status td__audit_id(td_service *svc, td_store_conn *c, const td_principal *who,
                       const char *action, const char *kind, int64_t id, json_t *details,
                       td_error *err)
{
    char object[64];
    snprintf(object, sizeof object, "%s:%lld", kind, (long long)id);
    return td__audit(svc, c, who, action, object, details, err);
}

static void *follower_main(void *arg)
{
    td_service *svc = arg;
    pthread_mutex_lock(&svc->thread_lock);
    while (!svc->stopping) {
        struct timespec ts;
        td__deadline_after(&ts, svc->opts.follow_interval_ms);
        pthread_cond_timedwait(&svc->wake, &svc->thread_lock, &ts);
        if (svc->stopping)
            break;
        pthread_mutex_unlock(&svc->thread_lock);
        /* Opened read-only on a full disk: try writing again (this thread holds no connection,
         * so it may wait a moment for the others to come back). */
        if (td_store_get_write_state(svc->store) == TD_STORE_READ_ONLY)
            (void)td_store_try_writable(svc->store, 1000, NULL);
        /* A failure (a locked database, say) is retried at the next period. */
        (void)td__follow(svc, NULL, NULL);
        pthread_mutex_lock(&svc->thread_lock);
    }
    pthread_mutex_unlock(&svc->thread_lock);
    return NULL;
}

td_status td_service_open(const char *dir, const td_service_options *opts, td_service **out,
                          td_error *err)
{
    td_status st;
    td_store_options sopts;
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (!global_ok)
        return td__error_set(err, TD_ERR_INTERNAL, "service: libsodium or libcurl failed to start");
    if (!dir || !*dir)
        return td__error_set(err, TD_ERR_INVALID, "service: no data directory");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return td__error_set(err, TD_ERR_IO, "service: cannot create %s: %s", dir, strerror(errno));
    td_service *svc = td__calloc(1, sizeof *svc);
    if (!svc)
        return td__error_set(err, TD_ERR_NOMEM, "service: out of memory");
    if (opts)
        svc->opts = *opts;
    else
        td_service_options_default(&svc->opts);
    svc->opts.hash.dihedral = 1;
    if (!(svc->opts.review_qa_share >= 0.0 && svc->opts.review_qa_share <= 1.0)) {
        td__free(svc);
        return td__error_set(err, TD_ERR_INVALID, "service: review_qa_share must be 0..1");
    }
    pthread_mutex_init(&svc->follow_lock, NULL);
    pthread_rwlock_init(&svc->banks_lock, NULL);
    /* Checks hold body_lock shared for up to a video lookup; under steady traffic a
     * reader-preferring lock could keep the follower (new and disabled signals) out for ever. */
    pthread_rwlockattr_t body_attr;
    pthread_rwlockattr_init(&body_attr);
    pthread_rwlockattr_setkind_np(&body_attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&svc->body_lock, &body_attr);
    pthread_rwlockattr_destroy(&body_attr);
    pthread_mutex_init(&svc->thread_lock, NULL);
    td__cond_init_monotonic(&svc->wake);
    pthread_mutex_init(&svc->deliver_lock, NULL);
    pthread_mutex_init(&svc->incident_lock, NULL);
    svc->max_threshold = -1;
    size_t plen = strlen(dir) + sizeof "/takedown.db";
    char *path = td__malloc(plen);
    svc->dir = td__strdup(dir);
    if (!path || !svc->dir) {
        td__free(path);
        st = td__error_set(err, TD_ERR_NOMEM, "service: out of memory");
        goto fail;
    }
    snprintf(path, plen, "%s/takedown.db", dir);
    td_store_options_default(&sopts);
    sopts.readers = svc->opts.readers ? svc->opts.readers : 4;
    /* A store URL (PostgreSQL, shared by several nodes) replaces DIR/takedown.db; the data
     * directory still holds the keys and the evidence files. */
    const char *location = svc->opts.store_url && *svc->opts.store_url ? svc->opts.store_url : path;
    st = td_store_open(location, &sopts, &svc->store, err);
    svc->opts.store_url = NULL; /* the caller's string: not kept */
    td__free(path);
    if (st)
        goto fail;
    if ((st = td__reasons_load(svc, err)))
        goto fail;
    size_t nmig;
    const td_store_migration *mig = td__schema(&nmig);
    td_index_options iopts;
    td_index_options_default(&iopts);
    /* Checkpoint cadence from the configuration (audit_checkpoint_entries, _interval_ms). */
    td_audit_options aopts;
    if ((st = td_audit_options_from_config(&aopts, svc->opts.config, err)))
        goto fail;
    aopts.clock = svc->opts.clock;
    if ((st = td_store_migrate(svc->store, mig, nmig, NULL, err)) ||
        (st = td_audit_open(svc->store, svc->dir, &aopts, &svc->audit, err)) ||
        (st = td_index_new(&svc->pdq, &iopts, err)) || (st = td_index_map_new(&svc->md5, err)) ||
        (st = td_index_map_new(&svc->sha256, err)) || (st = td_index_map_new(&svc->url, err)) ||
        (st = td_index_map_new(&svc->url_md5, err)) || (st = td_vpdq_index_new(&svc->vpdq, err)) ||
        (st = td_text_index_new(&svc->text, err)) || (st = td_url_rules_new(&svc->rules, err)) ||
        (st = td__load(svc, err)))
        goto fail;
    atomic_store(&svc->ready, 1);
    if (svc->opts.follow_interval_ms > 0) {
        if (pthread_create(&svc->follower, NULL, follower_main, svc) != 0) {
            st = td__error_set(err, TD_ERR_INTERNAL, "service: cannot start the follower");
            goto fail;
        }
        svc->follower_started = 1;
    }
    if (svc->opts.webhook_worker && (st = td__webhook_worker_start(svc, err)))
        goto fail;
    *out = svc;
    return TD_OK;
fail:
    td__error_prefix(err, "opening %s: ", dir);
    td_service_close(svc);
    return st;
}

void td_service_close(td_service *svc)
{
    if (!svc)
        return;
    pthread_mutex_lock(&svc->thread_lock);
    svc->stopping = 1;
    pthread_cond_broadcast(&svc->wake);
    pthread_mutex_unlock(&svc->thread_lock);
    if (svc->follower_started)
        pthread_join(svc->follower, NULL);
    if (svc->worker_started)
        pthread_join(svc->worker, NULL);
    td_audit_close(svc->audit);
    td_store_close(svc->store);
    td_index_free(svc->pdq);
    td_index_map_free(svc->md5);
    td_index_map_free(svc->sha256);
    td_index_map_free(svc->url);
    td_index_map_free(svc->url_md5);
    td_vpdq_index_free(svc->vpdq);
    td_text_index_free(svc->text);
    td_url_rules_free(svc->rules);
    td__free(svc->banks);
    td__free(svc->reasons);
    td__free(svc->dir);
    pthread_cond_destroy(&svc->wake);
    pthread_mutex_destroy(&svc->deliver_lock);
    pthread_mutex_destroy(&svc->incident_lock);
    td__free(svc->incident_rules);
    td__free(svc->incident_hits);
    pthread_mutex_destroy(&svc->thread_lock);
    pthread_rwlock_destroy(&svc->banks_lock);
    pthread_rwlock_destroy(&svc->body_lock);
    pthread_mutex_destroy(&svc->follow_lock);
    td__free(svc);
}

int td_service_ready(td_service *svc) { return svc && atomic_load(&svc->ready); }

int td_service_read_only(td_service *svc)
{
    if (!svc || !svc->store)
        return 0;
    switch (td_store_get_write_state(svc->store)) {
    case TD_STORE_READ_ONLY: return 1;
    case TD_STORE_SPACE_SHORT: return 2;
    default: return 0;
    }
}

void td_webhook_kick(td_service *svc)
{
    pthread_mutex_lock(&svc->thread_lock);
    svc->kicked = 1;
    pthread_cond_broadcast(&svc->wake);
    pthread_mutex_unlock(&svc->thread_lock);
}

/* The first column of sql; value is bound as $1 when the SQL has it (has_value). */
static td_status count_where(td_store_conn *c, const char *sql, int has_value, int64_t value,
                             int64_t *out, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (has_value && (st = td_stmt_bind_int64(q, 1, value, err))) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

static td_status count(td_store_conn *c, const char *sql, int64_t *out, td_error *err)
{
    return count_where(c, sql, 0, 0, out, err);
}

td_status td_service_get_stats(td_service *svc, td_service_stats *out, td_error *err)
{
    td_store_conn *c;
    td_index_stats is;
    memset(out, 0, sizeof *out);
    td_index_get_stats(svc->pdq, &is);
    out->pdq_indexed = is.live;
    out->md5_indexed = td_index_map_size(svc->md5);
    out->sha256_indexed = td_index_map_size(svc->sha256);
    out->url_indexed = td_index_map_size(svc->url) + td_index_map_size(svc->url_md5);
    pthread_rwlock_rdlock(&svc->body_lock);
    out->vpdq_videos = td_vpdq_index_videos(svc->vpdq);
    out->vpdq_frames = td_vpdq_index_frames(svc->vpdq);
    out->text_indexed = td_text_index_size(svc->text);
    out->url_rules = td_url_rules_count(svc->rules);
    pthread_rwlock_unlock(&svc->body_lock);
    out->log_sequence = atomic_load(&svc->applied_seq_pub);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    (void)((st = count(c, "SELECT COUNT(*) FROM banks", &out->banks, err)) ||
           (st = count(c, "SELECT COUNT(*) FROM signals", &out->signals, err)) ||
           (st = count_where(c, "SELECT COUNT(*) FROM cases WHERE state <> $1", 1, TD_CASE_CLOSED,
                             &out->cases_open, err)) ||
           (st = count_where(c, "SELECT COUNT(*) FROM deliveries WHERE state = $1", 1,
                             TD_DELIVERY_PENDING, &out->queue_depth, err)) ||
           (st = count(c, "SELECT value FROM counters WHERE name = 'webhook_failures'",
                       &out->webhook_failures, err)) ||
           (st = count_where(c, "SELECT COUNT(*) FROM deliveries WHERE state = $1", 1,
                             TD_DELIVERY_DEAD, &out->webhook_dead, err)) ||
           (st = count(c, "SELECT COUNT(*) FROM content", &out->content, err)));
    td_store_release(svc->store, c);
    return st;
}
