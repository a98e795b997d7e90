/* bench_eorder_preserve: an evidence order from receipt to preserved, with a responsive platform,
 * on the real `takedown serve` (issue 12, point 8; docs/evidence-orders.md, docs/performance.md).
 *
 * Set-up, as an operator does it: a fresh data directory, the evidence master key made first
 * (`takedown evidence init --threshold 2 --custodians a,b,c`), the server started on it with the
 * two settings the bench needs (webhooks to a loopback receiver, a short first retry delay) and
 * every other setting at its default; then over HTTP an authority of kind `evidence` with an
 * Ed25519 key, an API key linked to it, a platform key and the platform's webhook for
 * `evidence.collect`. The platform runs in this process (libmicrohttpd): its webhook handler
 * only notes the arrival time and queues the order, and a pool of platform workers PUTs the
 * order's data (a subscriber record and a content record of --content-kib KiB, within the time
 * range the webhook gives), so the server's webhook worker is never held up by the answer.
 *
 * Each order is timed from the moment its signed body is sent (the authority's view of receipt;
 * the server's own receipt time is a wall-clock millisecond) to: the intake's 201, the webhook's
 * arrival at the platform, and the PUT's 200 with state `preserved`. First one order at a time,
 * interleaved with the peer requests, then --concurrency C orders in flight (C client threads,
 * each sending its next order once its last one is preserved), then the peers alone with the
 * same C. The peers are the server's floor in the same run: a `GET /healthz` round trip and a
 * bare `POST /v1/content` (one PDQ hash, one committed write); the ratios to them make the
 * figures readable on a noisy shared machine, and so does the server's CPU time per order (from
 * /proc), which varies less than latencies. /proc/loadavg is printed at start and end.
 *
 * Usage: bench_eorder_preserve [--orders N] [--concurrency C] [--content-kib K]
 *                              [--backoff-base-ms MS] [--server PATH] [--keep] */
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/bench.h"
#include "support/client.h"
#include "support/server.h"
#include "takedown/config.h"
#include "takedown/orders.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define RESP_CAP (1 << 20)  /* largest answer the bench reads */
#define HOOK_CAP (64 << 10) /* largest webhook body the platform takes */
#define WAIT_S 60           /* an order not preserved by then is counted as failed */
#define MAX_THREADS 64
#define AUTHORITY "Staatsanwaltschaft Berlin"

static const char *server_path = TD_CLI_PATH;
static int backoff_base_ms = 20;

/* ---- small helpers ---- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_eorder_preserve: out of memory\n");
        exit(1);
    }
    return p;
}

static void loadavg(char out[64])
{
    FILE *f = fopen("/proc/loadavg", "r");
    out[0] = '\0';
    if (f) {
        if (!fgets(out, 64, f))
            out[0] = '\0';
        fclose(f);
    }
    out[strcspn(out, "\n")] = '\0';
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- the HTTP client: one curl handle per thread, kept alive ---- */

static bench_server server; /* its url is the base of every request */

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- the server ---- */

static int start_server(const char *dir)
{
    char backoff[16], log_path[4200];
    snprintf(backoff, sizeof backoff, "%d", backoff_base_ms);
    snprintf(log_path, sizeof log_path, "%s/server.log", dir);
    const char *args[] = {"--webhook-allow-private", "1", "--webhook-backoff-base-ms", backoff,
                          NULL};
    return bench_server_start(&server, server_path, dir, args, NULL, log_path) &&
           server.admin_key[0] != '\0';
}

static void stop_server(void)
{
    /* The server finishes what is in flight; one that has not exited after 40 s is killed. */
    if (bench_server_stop(&server, 40))
        fprintf(stderr, "bench_eorder_preserve: the server did not stop; killed\n");
}

/* CPU seconds (user + system) a process has used so far, from /proc (0 if unreadable), and in
 * *sys (may be NULL) the system part: on a shared machine it varies much less from run to run
 * than latencies do. */
static double proc_cpu_s(pid_t pid, double *sys)
{
    char path[64], b[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (sys)
        *sys = 0;
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    /* After the command name (which may hold spaces): utime is field 14, stime 15. */
    const char *p = strrchr(b, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (sys)
        *sys = (double)st / tick;
    return (double)(ut + st) / tick;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- the orders and what became of them ---- */

typedef struct slot {
    double t_hook, t_sealed;
    int hooks; /* webhook deliveries seen for the order */
    int done;  /* 1 preserved, -1 the PUT failed */
} slot;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    slot *s;
    size_t cap; /* slots by numeric order id */
    size_t duplicates, put_errors, bad_hooks;
} T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0};

/* ---- the platform: webhook receiver and PUT workers ---- */

typedef struct job {
    size_t order;
    char identifier[64];
    char at[32];
} job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job *q;
    size_t cap, head, n;
    int stopping;
} Q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0};

static char platform_key[128];
static char *content_b64; /* the content record's bytes in base64 */
static size_t content_b64_len;

typedef struct hook_req {
    char *body;
    size_t len;
} hook_req;

/* The webhook's order, identifier and time range; the record's time is the middle of the
 * range. Returns 0 when the body is not an evidence.collect event this bench understands. */
static int hook_job(const char *body, job *j)
{
    json_t *ev = json_loads(body, 0, NULL);
    int ok = 0;
    if (ev && strcmp(jstr(ev, "event"), "evidence.collect") == 0) {
        const char *order = jstr(ev, "order");
        json_t *range = json_object_get(ev, "time_range");
        const char *from = jstr(range, "from"), *to = jstr(range, "to");
        const char *ident = jstr(json_array_get(json_object_get(ev, "identifiers"), 0), "value");
        int64_t f = td_order_time_parse(from, strlen(from)),
                t = td_order_time_parse(to, strlen(to));
        char *end = NULL;
        unsigned long long id = strncmp(order, "eo-", 3) == 0 ? strtoull(order + 3, &end, 10) : 0;
        if (id > 0 && *end == '\0' && f >= 0 && t >= f && *ident) {
            j->order = (size_t)id;
            snprintf(j->identifier, sizeof j->identifier, "%.63s", ident);
            td_order_time_format(f + (t - f) / 2, j->at);
            ok = 1;
        }
    }
    json_decref(ev);
    return ok;
}

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
    hook_req *h = *ctx;
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h || !(h->body = malloc(HOOK_CAP + 1))) {
            free(h);
            return MHD_NO;
        }
        *ctx = h;
        return MHD_YES;
    }
    if (*size) {
        if (h->len + *size > HOOK_CAP)
            return MHD_NO;
        memcpy(h->body + h->len, data, *size);
        h->len += *size;
        *size = 0;
        return MHD_YES;
    }
    /* The whole body is here: note the time, queue the answer, say 200 at once. */
    double now = bench_now();
    h->body[h->len] = '\0';
    job j;
    int ok = hook_job(h->body, &j);
    int first = 0;
    pthread_mutex_lock(&T.lock);
    if (!ok || j.order >= T.cap) {
        T.bad_hooks++;
    } else if (T.s[j.order].hooks++ == 0) {
        T.s[j.order].t_hook = now;
        first = 1;
    } else {
        T.duplicates++;
    }
    pthread_mutex_unlock(&T.lock);
    if (first) {
        pthread_mutex_lock(&Q.lock);
        if (Q.n < Q.cap) {
            Q.q[(Q.head + Q.n) % Q.cap] = j;
            Q.n++;
            pthread_cond_signal(&Q.cond);
        }
        pthread_mutex_unlock(&Q.lock);
    }
    static const char answer[] = "ok";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(2, (void *)answer, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_hook_done(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    hook_req *h = *ctx;
    if (h)
        free(h->body);
    free(h);
    *ctx = NULL;
}

/* The PUT body of one order: a subscriber record and a content record. The first 12 base64
 * digits of the content carry the order's number, so no two orders seal the same bytes. */
static size_t put_body(char *out, size_t cap, const job *j)
{
    int n = snprintf(out, cap,
                     "{\"records\": [{\"category\": \"subscriber\", \"identifier\": \"%s\", "
                     "\"fields\": {\"name\": \"A. User\", \"contact\": \"a@user.example\"}}, "
                     "{\"category\": \"content\", \"identifier\": \"%s\", \"at\": \"%s\", "
                     "\"content_type\": \"application/octet-stream\", \"content_base64\": \"",
                     j->identifier, j->identifier, j->at);
    size_t len = (size_t)n;
    if (len + content_b64_len + 8 > cap)
        return 0;
    memcpy(out + len, content_b64, content_b64_len);
    unsigned char tag[9] = {0};
    char tag64[sodium_base64_ENCODED_LEN(9, sodium_base64_VARIANT_ORIGINAL)];
    for (int k = 0; k < 8; k++)
        tag[k] = (unsigned char)((uint64_t)j->order >> (8 * k));
    sodium_bin2base64(tag64, sizeof tag64, tag, sizeof tag, sodium_base64_VARIANT_ORIGINAL);
    if (content_b64_len >= 16)
        memcpy(out + len, tag64, 12);
    len += content_b64_len;
    memcpy(out + len, "\"}]}", 5);
    return len + 4;
}

static void *platform_worker(void *arg)
{
    (void)arg;
    bench_client c;
    bench_client_init(&c, "bench_eorder_preserve", server.url, RESP_CAP);
    size_t cap = content_b64_len + 1024;
    char *body = xmalloc(cap);
    for (;;) {
        pthread_mutex_lock(&Q.lock);
        while (Q.n == 0 && !Q.stopping)
            pthread_cond_wait(&Q.cond, &Q.lock);
        if (Q.n == 0) {
            pthread_mutex_unlock(&Q.lock);
            break;
        }
        job j = Q.q[Q.head];
        Q.head = (Q.head + 1) % Q.cap;
        Q.n--;
        pthread_mutex_unlock(&Q.lock);
        char path[96];
        snprintf(path, sizeof path, "/v1/evidence-orders/eo-%zu/data", j.order);
        size_t len = put_body(body, cap, &j);
        long st = len ? bench_client_call(&c, "PUT", path, platform_key, body, len, NULL) : 0;
        double now = bench_now();
        json_t *ans = st == 200 ? json_loads(c.resp, 0, NULL) : NULL;
        int ok = ans && strcmp(jstr(ans, "state"), "preserved") == 0;
        if (!ok)
            fprintf(stderr, "bench_eorder_preserve: PUT %s: %ld %.200s\n", path, st, c.resp);
        json_decref(ans);
        pthread_mutex_lock(&T.lock);
        T.s[j.order].t_sealed = now;
        T.s[j.order].done = ok ? 1 : -1;
        if (!ok)
            T.put_errors++;
        pthread_cond_broadcast(&T.cond);
        pthread_mutex_unlock(&T.lock);
    }
    free(body);
    bench_client_free(&c);
    return NULL;
}

/* ---- the authority ---- */

static char authority_key[128];
static unsigned char sta_sk[crypto_sign_SECRETKEYBYTES];
static char recipient_pk[65];
static unsigned run_tag;

/* The EPOC of docs/evidence-orders.md (subscriber and content data, a prosecutor's order
 * validated by a court), file number BENCH-<run>-<i>, one user id. */
static size_t epoc_doc(char *out, size_t cap, size_t i)
{
    char from[32], to[32], issued[32];
    int64_t now = wall_ms();
    td_order_time_format(now - 30 * DAY_MS, from);
    td_order_time_format(now + DAY_MS, to);
    td_order_time_format(now - HOUR_MS, issued);
    int n = snprintf(
        out, cap,
        "{\"framework\": \"eu_epoc\","
        " \"A\": {\"issuing_state\": \"DE\", \"issuing_authority\": {\"name\": \"" AUTHORITY "\","
        " \"type\": \"public_prosecutor\", \"file_number\": \"BENCH-%08x-%zu\"},"
        " \"validating_authority\": {\"name\": \"Amtsgericht Tiergarten\", \"type\":"
        " \"judge_or_court\", \"file_number\": \"AG-%zu\"}, \"issued_at\": \"%s\"},"
        " \"B\": {\"addressee\": \"Example Platform Ltd\", \"establishment\":"
        " \"designated_establishment\", \"member_state\": \"IE\"},"
        " \"C\": {\"deadline\": \"ten_days_asap\"},"
        " \"E\": {\"identifiers\": [{\"type\": \"user_id\", \"value\": \"u-%zu\"}],"
        " \"time_range\": {\"from\": \"%s\", \"to\": \"%s\"}},"
        " \"F\": {\"data_categories\": [\"subscriber\", \"content\"]},"
        " \"G\": {\"offence\": \"Participation in a terrorist group\","
        " \"legal_classification\": \"129a StGB\", \"max_penalty_years\": 10,"
        " \"listed_terrorism\": true, \"summary\": \"The account distributes propaganda.\"},"
        " \"H\": {\"user_information\": \"restricted\"},"
        " \"K\": {\"contact\": {\"name\": \"Execution desk\", \"email\": \"exec@sta.example\"}},"
        " \"L\": {\"recipient\": \"" AUTHORITY "\", \"member_state\": \"DE\","
        " \"x25519_public_key\": \"%s\"}}",
        run_tag, i, i, issued, i, from, to, recipient_pk);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void sign_header(const char *body, size_t len, char *out, size_t cap)
{
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    crypto_sign_detached(sig, NULL, (const unsigned char *)body, len, sta_sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "Takedown-Signature: ed25519=%s", b64);
}

/* ---- measurements ---- */

enum { M_INTAKE, M_TO_HOOK, M_HOOK_TO_SEALED, M_TOTAL, M_HEALTHZ, M_CONTENT, N_METRICS };
static const char *const metric_names[N_METRICS] = {"intake answered (201)", "receipt -> webhook",
                                                    "webhook -> preserved",  "receipt -> preserved",
                                                    "GET /healthz",          "POST /v1/content"};

typedef struct series {
    double *v;
    size_t n, cap;
} series;

static void add(series *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        double *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "bench_eorder_preserve: out of memory\n");
            exit(1);
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

/* Nearest rank: the smallest value with at least q of the sample at or below it. */
static double pct(series *s, double q)
{
    if (!s->n)
        return 0;
    size_t k = (size_t)(q * (double)s->n + 0.999999);
    return s->v[(k ? k : 1) - 1];
}

typedef struct phase {
    series m[N_METRICS];
    size_t sent, preserved, failed;
    double seconds;         /* wall time of the orders */
    double server_cpu;      /* the server's CPU seconds during the orders (and their peers) */
    double server_sys;      /* of which in the kernel */
    double peer_seconds[2]; /* healthz, content (concurrent peers only) */
    double peer_cpu[2];     /* the server's CPU seconds during each (10 ms ticks: the healthz
                             * run is too short to tell) */
} phase;

/* Prints a phase's figures and the ratios of receipt->preserved to its own peers (measured in the
 * same phase, so under the same load). */
static void print_phase(const char *title, phase *p)
{
    printf("\n%s\n", title);
    printf("  %-24s %8s %8s %8s %8s %8s  (ms)\n", "", "n", "p50", "p95", "p99", "max");
    for (int k = 0; k < N_METRICS; k++) {
        series *s = &p->m[k];
        if (!s->n)
            continue;
        qsort(s->v, s->n, sizeof *s->v, cmp_double);
        printf("  %-24s %8zu %8.2f %8.2f %8.2f %8.2f\n", metric_names[k], s->n, pct(s, .5) * 1e3,
               pct(s, .95) * 1e3, pct(s, .99) * 1e3, s->v[s->n - 1] * 1e3);
    }
    printf("  orders: %zu sent, %zu preserved, %zu failed; %.1f orders/s preserved (%.2f s)\n",
           p->sent, p->preserved, p->failed, p->seconds > 0 ? p->preserved / p->seconds : 0.0,
           p->seconds);
    if (p->sent)
        printf("  server CPU: %.2f ms per order, %.2f of them in the kernel%s\n",
               p->server_cpu * 1e3 / (double)p->sent, p->server_sys * 1e3 / (double)p->sent,
               p->peer_seconds[0] > 0 ? "" : " (with its healthz and content post)");
    if (p->peer_seconds[0] > 0 && p->m[M_HEALTHZ].n && p->m[M_CONTENT].n)
        printf("  peers alone, same concurrency: %.0f healthz/s, %.0f content posts/s; server CPU "
               "%.2f ms per content post\n",
               p->m[M_HEALTHZ].n / p->peer_seconds[0], p->m[M_CONTENT].n / p->peer_seconds[1],
               p->peer_cpu[1] * 1e3 / (double)p->m[M_CONTENT].n);
    series *t = &p->m[M_TOTAL];
    series *hz = &p->m[M_HEALTHZ], *ct = &p->m[M_CONTENT];
    if (t->n && hz->n && ct->n) {
        double h50 = pct(hz, .5), h99 = pct(hz, .99), c50 = pct(ct, .5), c99 = pct(ct, .99);
        printf("  ratio receipt->preserved / healthz:  p50 %.0fx, p99 %.0fx\n",
               h50 > 0 ? pct(t, .5) / h50 : 0.0, h99 > 0 ? pct(t, .99) / h99 : 0.0);
        printf("  ratio receipt->preserved / content:  p50 %.1fx, p99 %.1fx\n",
               c50 > 0 ? pct(t, .5) / c50 : 0.0, c99 > 0 ? pct(t, .99) / c99 : 0.0);
    }
}

/* ---- the client threads ---- */

static struct {
    pthread_mutex_t lock;
    size_t next, end; /* order numbers still to send: [next, end) */
    phase *p;
    int peers; /* the sequential phase: a healthz and a content post after each order */
    int what;  /* peers alone: M_HEALTHZ or M_CONTENT */
} R = {PTHREAD_MUTEX_INITIALIZER, 0, 0, NULL, 0, 0};

static uint64_t content_seq;

static void peer_request(bench_client *c, int what, series *out)
{
    char body[160], hex[65];
    pthread_mutex_lock(&R.lock);
    uint64_t seq = ++content_seq, rng = seq * 0x9e3779b97f4a7c15ULL;
    pthread_mutex_unlock(&R.lock);
    long expect = 200, st;
    double t0;
    if (what == M_HEALTHZ) {
        t0 = bench_now();
        st = bench_client_call(c, "GET", "/healthz", NULL, NULL, 0, NULL);
    } else {
        for (int k = 0; k < 4; k++)
            snprintf(hex + 16 * k, 17, "%016llx", (unsigned long long)bench_rand(&rng));
        int n = snprintf(body, sizeof body,
                         "{\"content_id\": \"bench/%08x/%llu\", \"hashes\": {\"pdq\": \"%s\"}}",
                         run_tag, (unsigned long long)seq, hex);
        expect = 201;
        t0 = bench_now();
        st = bench_client_call(c, "POST", "/v1/content", platform_key, body, (size_t)n, NULL);
    }
    double t1 = bench_now();
    if (st != expect)
        fprintf(stderr, "bench_eorder_preserve: peer %s: %ld %.200s\n", metric_names[what], st,
                c->resp);
    else
        add(out, t1 - t0);
}

/* One order, from its send to preserved (or a failure); the samples go to p under R.lock. */
static void one_order(bench_client *c, size_t i, char *doc, size_t cap, phase *p)
{
    char sig[200];
    size_t len = epoc_doc(doc, cap, i);
    sign_header(doc, len, sig, sizeof sig);
    double t0 = bench_now();
    long st = bench_client_call(c, "POST", "/v1/evidence-orders", authority_key, doc, len, sig);
    double t1 = bench_now();
    json_t *j = st == 201 ? json_loads(c->resp, 0, NULL) : NULL;
    const char *id = jstr(j, "id");
    size_t n = strncmp(id, "eo-", 3) == 0 ? (size_t)strtoull(id + 3, NULL, 10) : 0;
    int collecting = strcmp(jstr(j, "state"), "collecting") == 0;
    json_decref(j);
    int done = 0;
    double hook = 0, sealed = 0;
    if (n > 0 && n < T.cap && collecting) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WAIT_S;
        pthread_mutex_lock(&T.lock);
        while (!T.s[n].done && pthread_cond_timedwait(&T.cond, &T.lock, &until) != ETIMEDOUT)
            ;
        done = T.s[n].done;
        hook = T.s[n].t_hook;
        sealed = T.s[n].t_sealed;
        pthread_mutex_unlock(&T.lock);
    } else {
        fprintf(stderr, "bench_eorder_preserve: order %zu: %ld %.300s\n", i, st, c->resp);
    }
    pthread_mutex_lock(&R.lock);
    p->sent++;
    if (st == 201)
        add(&p->m[M_INTAKE], t1 - t0);
    if (done == 1) {
        p->preserved++;
        add(&p->m[M_TO_HOOK], hook - t0);
        add(&p->m[M_HOOK_TO_SEALED], sealed - hook);
        add(&p->m[M_TOTAL], sealed - t0);
    } else {
        p->failed++;
    }
    pthread_mutex_unlock(&R.lock);
}

static void *client_main(void *arg)
{
    (void)arg;
    bench_client c;
    bench_client_init(&c, "bench_eorder_preserve", server.url, RESP_CAP);
    size_t cap = 8192;
    char *doc = xmalloc(cap);
    series local[2] = {{0}};
    for (;;) {
        pthread_mutex_lock(&R.lock);
        size_t i = R.next < R.end ? R.next++ : 0;
        pthread_mutex_unlock(&R.lock);
        if (!i)
            break;
        if (R.what) {
            peer_request(&c, R.what, &local[0]);
            continue;
        }
        one_order(&c, i, doc, cap, R.p);
        if (R.peers) {
            peer_request(&c, M_HEALTHZ, &local[0]);
            peer_request(&c, M_CONTENT, &local[1]);
        }
    }
    pthread_mutex_lock(&R.lock);
    for (size_t k = 0; k < local[0].n; k++)
        add(&R.p->m[R.what ? R.what : M_HEALTHZ], local[0].v[k]);
    for (size_t k = 0; k < local[1].n; k++)
        add(&R.p->m[M_CONTENT], local[1].v[k]);
    pthread_mutex_unlock(&R.lock);
    free(local[0].v);
    free(local[1].v);
    free(doc);
    bench_client_free(&c);
    return NULL;
}

/* Runs items [first, first + n) on `threads` client threads; returns the wall time. */
static double run_clients(int threads, size_t first, size_t n, phase *p, int peers, int what)
{
    pthread_t th[MAX_THREADS];
    R.next = first;
    R.end = first + n;
    R.p = p;
    R.peers = peers;
    R.what = what;
    double t0 = bench_now();
    for (int k = 0; k < threads; k++)
        pthread_create(&th[k], NULL, client_main, NULL);
    for (int k = 0; k < threads; k++)
        pthread_join(th[k], NULL);
    return bench_now() - t0;
}

/* ---- set-up over HTTP ---- */

static void setup_http(unsigned hook_port)
{
    bench_client c;
    bench_client_init(&c, "bench_eorder_preserve", server.url, RESP_CAP);
    char body[1024], path[96], hex[65], announced[32];
    /* Ready: the service behind the listener is open. */
    for (int k = 0; k < 300 && bench_client_call(&c, "GET", "/readyz", NULL, NULL, 0, NULL) != 200;
         k++)
        usleep(100000);
    json_t *j = bench_client_must(&c, 201, "POST", "/v1/keys", server.admin_key,
                                  "{\"role\": \"authority\", \"name\": \"bench-sta-desk\"}");
    snprintf(authority_key, sizeof authority_key, "%s", jstr(j, "key"));
    long long authority_key_id = (long long)json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = bench_client_must(&c, 201, "POST", "/v1/keys", server.admin_key,
                          "{\"role\": \"platform\", \"name\": \"bench-platform\"}");
    snprintf(platform_key, sizeof platform_key, "%s", jstr(j, "key"));
    json_decref(j);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sta_sk);
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    td_order_time_format(wall_ms() - 2 * DAY_MS, announced);
    snprintf(
        body, sizeof body,
        "{\"name\": \"" AUTHORITY "\", \"kind\": \"evidence\", \"member_state\": \"DE\","
        " \"contact\": \"desk@sta.example\", \"public_key\": \"%s\", \"announced_at\": \"%s\"}",
        hex, announced);
    j = bench_client_must(&c, 201, "POST", "/v1/authorities", server.admin_key, body);
    long long authority_id = (long long)json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/authorities/%lld/keys", authority_id);
    snprintf(body, sizeof body, "{\"key_id\": %lld}", authority_key_id);
    json_decref(bench_client_must(&c, 201, "POST", path, server.admin_key, body));
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/platform\", \"secret\": "
             "\"bench-platform-secret-0123456789\", \"events\": [\"evidence.collect\"]}",
             hook_port);
    json_decref(bench_client_must(&c, 201, "POST", "/v1/webhooks", server.admin_key, body));
    bench_client_free(&c);
}

/* A counter of /metrics (-1 when absent). */
static long long metric(const char *name)
{
    bench_client c;
    bench_client_init(&c, "bench_eorder_preserve", server.url, RESP_CAP);
    long long v = -1;
    if (bench_client_call(&c, "GET", "/metrics", NULL, NULL, 0, NULL) == 200) {
        char needle[128];
        snprintf(needle, sizeof needle, "\n%s ", name);
        const char *p = strstr(c.resp, needle);
        if (p)
            v = strtoll(p + strlen(needle), NULL, 10);
    }
    bench_client_free(&c);
    return v;
}

static void print_settings(void)
{
    static const char *const names[] = {"webhook_timeout_ms",
                                        "webhook_backoff_base_ms",
                                        "webhook_backoff_max_ms",
                                        "webhook_max_attempts",
                                        "webhook_allow_private",
                                        "http_threads",
                                        "max_body_bytes",
                                        "max_media_bytes",
                                        "max_connections_per_address",
                                        "rate_limit_per_key",
                                        "evidence_max_item_bytes",
                                        "eorder_collect_ms",
                                        "audit_checkpoint_entries",
                                        "audit_checkpoint_interval_ms",
                                        NULL};
    printf("server settings (takedown serve defaults unless marked; %ld cores online):\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    for (int k = 0; names[k]; k++) {
        const td_config_option *o = td_config_find(names[k]);
        if (!o)
            continue;
        if (strcmp(names[k], "webhook_backoff_base_ms") == 0)
            printf("  %-30s %d (set by the bench; default %lld)\n", names[k], backoff_base_ms,
                   (long long)o->def);
        else if (strcmp(names[k], "webhook_allow_private") == 0)
            printf("  %-30s 1 (set by the bench: the platform is on loopback)\n", names[k]);
        else
            printf("  %-30s %lld\n", names[k], (long long)o->def);
    }
    const td_config_option *b = td_config_find("webhook_backoff_base_ms"),
                           *m = td_config_find("webhook_backoff_max_ms"),
                           *a = td_config_find("webhook_max_attempts");
    if (b && m && a)
        printf("  webhook retries: a failed delivery is retried after %d ms, doubling up to "
               "%lld ms, at most %lld attempts\n",
               backoff_base_ms, (long long)m->def, (long long)a->def);
}

/* ---- main ---- */

static int parse_size(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    long orders = 200, conc = 8, kib = 64, backoff = backoff_base_ms;
    int keep = 0, ok = 1;
    for (int i = 1; i < argc && ok; i++) {
        if (strcmp(argv[i], "--orders") == 0 && i + 1 < argc)
            ok = parse_size(argv[++i], 1, 1000000, &orders);
        else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc)
            ok = parse_size(argv[++i], 1, MAX_THREADS, &conc);
        else if (strcmp(argv[i], "--content-kib") == 0 && i + 1 < argc)
            ok = parse_size(argv[++i], 1, 32768, &kib);
        else if (strcmp(argv[i], "--backoff-base-ms") == 0 && i + 1 < argc)
            ok = parse_size(argv[++i], 1, 86400000, &backoff);
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server_path = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else
            ok = 0;
    }
    if (!ok) {
        fprintf(stderr, "usage: bench_eorder_preserve [--orders N] [--concurrency C] "
                        "[--content-kib K] [--backoff-base-ms MS] [--server PATH] [--keep]\n");
        return 2;
    }
    backoff_base_ms = (int)backoff;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    run_tag = randombytes_random();
    char load0[64], load1[64];
    loadavg(load0);

    /* The content record, random bytes once; the recipient's key (only its public half is
     * used: nothing is delivered here). */
    size_t content_len = (size_t)kib << 10;
    unsigned char *content = xmalloc(content_len);
    randombytes_buf(content, content_len);
    size_t b64cap = sodium_base64_ENCODED_LEN(content_len, sodium_base64_VARIANT_ORIGINAL);
    content_b64 = xmalloc(b64cap);
    sodium_bin2base64(content_b64, b64cap, content, content_len, sodium_base64_VARIANT_ORIGINAL);
    content_b64_len = strlen(content_b64);
    free(content);
    unsigned char rpk[crypto_box_PUBLICKEYBYTES], rsk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(rpk, rsk);
    sodium_bin2hex(recipient_pk, sizeof recipient_pk, rpk, sizeof rpk);

    /* A fresh data directory with its evidence master key. */
    const char *tmp = getenv("TMPDIR");
    char dir[4096], cmd[8400];
    snprintf(dir, sizeof dir, "%s/takedown-bench-eorder-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians a,b,c >/dev/null 2>&1",
             server_path, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_eorder_preserve: %s failed\n", cmd);
        return 1;
    }

    /* Slots for both phases' orders (ids are eo-1, eo-2, ... in a fresh directory), the
     * platform's queue and its receiver. */
    T.cap = 2 * (size_t)orders + 64;
    T.s = calloc(T.cap, sizeof *T.s);
    Q.cap = T.cap;
    Q.q = calloc(Q.cap, sizeof *Q.q);
    if (!T.s || !Q.q)
        return 1;
    struct MHD_Daemon *hooks =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_hook, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_hook_done, NULL, MHD_OPTION_END);
    if (!hooks)
        return 1;
    unsigned hook_port = MHD_get_daemon_info(hooks, MHD_DAEMON_INFO_BIND_PORT)->port;
    double ts = bench_now();
    if (!start_server(dir)) {
        fprintf(stderr, "bench_eorder_preserve: %s did not start (log: %s/server.log)\n",
                server_path, dir);
        stop_server();
        return 1;
    }
    printf("server %s on %s, data %s (started in %.2f s)\n", server_path, server.url, dir,
           bench_now() - ts);
    setup_http(hook_port);
    pthread_t workers[MAX_THREADS];
    for (long k = 0; k < conc; k++)
        pthread_create(&workers[k], NULL, platform_worker, NULL);
    print_settings();
    printf("orders: %ld per phase, eu_epoc subscriber + content, content record %ld KiB "
           "(%zu bytes of base64), platform workers %ld\n",
           orders, kib, content_b64_len, conc);
    printf("receipt = the signed order sent by the authority (client clock)\n");
    printf("load at start: %s\n", load0);

    /* Warm-up (not counted): one order and a few peers, so connections and caches exist. */
    phase warm;
    memset(&warm, 0, sizeof warm);
    run_clients(1, (size_t)T.cap - 8, 1, &warm, 1, 0);

    phase seq, par;
    memset(&seq, 0, sizeof seq);
    memset(&par, 0, sizeof par);
    double sys0, sys1, cpu0 = proc_cpu_s(server.pid, &sys0);
    seq.seconds = run_clients(1, 1, (size_t)orders, &seq, 1, 0);
    seq.server_cpu = proc_cpu_s(server.pid, &sys1) - cpu0;
    seq.server_sys = sys1 - sys0;
    /* One order in flight: the orders' own time (the peers between them left out). */
    double sum = 0;
    for (size_t k = 0; k < seq.m[M_TOTAL].n; k++)
        sum += seq.m[M_TOTAL].v[k];
    seq.seconds = sum;
    cpu0 = proc_cpu_s(server.pid, &sys0);
    par.seconds = run_clients((int)conc, (size_t)orders + 1, (size_t)orders, &par, 0, 0);
    par.server_cpu = proc_cpu_s(server.pid, &sys1) - cpu0;
    par.server_sys = sys1 - sys0;
    for (int k = 0; k < 2; k++) {
        cpu0 = proc_cpu_s(server.pid, NULL);
        par.peer_seconds[k] =
            run_clients((int)conc, 1, (size_t)orders, &par, 0, k ? M_CONTENT : M_HEALTHZ);
        par.peer_cpu[k] = proc_cpu_s(server.pid, NULL) - cpu0;
    }

    char title[160];
    print_phase("one order at a time (a healthz and a content post after each)", &seq);
    snprintf(title, sizeof title,
             "%ld orders in flight (then the peers alone, %ld clients in a closed loop)", conc,
             conc);
    print_phase(title, &par);
    printf("\nwebhook: %lld failed attempts, %lld given up (/metrics); %zu duplicate "
           "deliveries, %zu not understood; PUT failures %zu\n",
           metric("takedown_webhook_failures_total"), metric("takedown_webhook_dead_total"),
           T.duplicates, T.bad_hooks, T.put_errors);
    loadavg(load1);
    printf("load at end: %s\n", load1);

    pthread_mutex_lock(&Q.lock);
    Q.stopping = 1;
    pthread_cond_broadcast(&Q.cond);
    pthread_mutex_unlock(&Q.lock);
    for (long k = 0; k < conc; k++)
        pthread_join(workers[k], NULL);
    stop_server();
    MHD_stop_daemon(hooks);
    if (!keep)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("kept %s\n", dir);
    for (int k = 0; k < N_METRICS; k++) {
        free(seq.m[k].v);
        free(par.m[k].v);
        free(warm.m[k].v);
    }
    free(T.s);
    free(Q.q);
    free(content_b64);
    curl_global_cleanup();
    return seq.failed || par.failed || T.put_errors ? 1 : 0;
}
