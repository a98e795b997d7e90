/* bench_frank_http: message franking and E2EE reports over HTTP on the real `takedown serve`
 * (issue 13, point 8; docs/e2ee.md, docs/performance.md), each beside its peer in process.
 *
 * Franking. The peer is the library call the route ends in, td_reports_frank_batch, on a
 * reports handle opened in this process (its own data directory), 1000 tags per call, on one
 * thread and on --threads threads; below it, the floor of the work itself: one Ed25519
 * signature (libsodium) of the bytes a frank signs. Over HTTP, --threads client threads (libcurl,
 * one keep-alive connection each) POST /v1/frank batches of --batch messages (JSON bodies built
 * beforehand) to a server started with --http-threads 2, for --seconds; then the same with one
 * message per request. The ratio HTTP / library is what the transport and JSON cost. The CPU
 * time per frank is printed beside each rate (this process's from getrusage in process, the
 * server's from /proc over HTTP): it varies much less than rates on a shared machine, and the
 * ratio of the two is the transport's cost in CPU.
 *
 * Reports. --reports reports of one short text message and --big-reports with one 1 MiB
 * attachment, sent one at a time (each a distinct message, franked beforehand through the batch
 * route), timed from the request to the 201: verification, matching against the banks, the
 * review copy and the records, all committed. Peers: the same reports through td_report_submit
 * in process (no HTTP, no JSON: td_report_parse is timed apart), td_frank_verify alone (the
 * tag, frank and signature of the short message) and td_frank_attachment_open of 1 MiB
 * (SHA-256, key commitment, AES-256-GCM), and the server's floor, a GET /healthz round trip.
 * /proc/loadavg is printed at the start and the end: the machine is shared.
 *
 * Usage: bench_frank_http [--seconds S] [--threads T] [--batch N] [--reports N]
 *                         [--big-reports N] [--server PATH] [--keep] */
#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/bench.h"
#include "support/client.h"
#include "support/server.h"
#include "takedown/casework.h"
#include "takedown/frank.h"
#include "takedown/reports.h"

#define RESP_CAP (8 << 20) /* largest answer read */
#define MAX_THREADS 16
#define N_BODIES 8 /* distinct batch bodies each client cycles through */
#define BIG_BYTES (1 << 20)

static const char *server_path = TD_CLI_PATH;
static double seconds = 5;
static int threads = 2, batch = TD_FRANK_BATCH_MAX, n_reports = 200, n_big = 20;

/* ---- small helpers ---- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_frank_http: out of memory\n");
        exit(1);
    }
    return p;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_frank_http: %s: %s\n", what, detail ? detail : "");
    exit(1);
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50, p95 and mean of v[0..n) in milliseconds (sorts v). */
static void stats_ms(double *v, size_t n, double *p50, double *p95, double *mean)
{
    double sum = 0;
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    *p50 = v[n / 2] * 1e3;
    *p95 = v[(size_t)((double)(n - 1) * 0.95)] * 1e3;
    *mean = sum / (double)n * 1e3;
}

static void hex(const uint8_t *b, size_t n, char *out) { sodium_bin2hex(out, 2 * n + 1, b, n); }

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* CPU seconds (user + system) a process has used so far, from /proc; 0 if unreadable. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], b[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    const char *p = strrchr(b, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the HTTP client: one curl handle per thread, kept alive ---- */

static bench_server server; /* its url is the base of every request */

/* ---- the server ---- */

static char platform_key[128];

static int start_server(const char *dir)
{
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/server.log", dir);
    const char *args[] = {"--http-threads", "2", NULL};
    const char *env[] = {"TAKEDOWN_MAX_CONNECTIONS_PER_ADDRESS=0", NULL};
    return bench_server_start(&server, server_path, dir, args, env, log_path) &&
           server.admin_key[0] != '\0';
}

static void stop_server(void) { bench_server_stop(&server, 40); }

/* ---- messages ---- */

/* The delivery context of message i (a few hundred senders and conversations). */
static void context_of(size_t i, char sender[32], char conv[32])
{
    snprintf(sender, 32, "user-%zu", i % 997);
    snprintf(conv, 32, "room-%zu", i % 211);
}

/* Franking requests of n random tags (ids borrowed from names[], which must outlive req). */
typedef struct names {
    char sender[32], conv[32];
} names;

static void make_requests(td_frank_request *req, names *nm, size_t n, size_t first)
{
    for (size_t i = 0; i < n; i++) {
        randombytes_buf(req[i].tag, sizeof req[i].tag);
        context_of(first + i, nm[i].sender, nm[i].conv);
        req[i].ctx.sender = nm[i].sender;
        req[i].ctx.sender_len = strlen(nm[i].sender);
        req[i].ctx.conversation = nm[i].conv;
        req[i].ctx.conversation_len = strlen(nm[i].conv);
        req[i].ctx.accepted_ms = 1717200000000LL + (int64_t)(first + i);
    }
}

/* A JSON batch body of the n requests. */
static char *batch_body(const td_frank_request *req, size_t n)
{
    size_t cap = 64 + n * 256, o = 0;
    char *b = xmalloc(cap), tag[65];
    o += (size_t)snprintf(b + o, cap - o, "{\"messages\":[");
    for (size_t i = 0; i < n; i++) {
        hex(req[i].tag, 32, tag);
        o +=
            (size_t)snprintf(b + o, cap - o,
                             "%s{\"franking_tag\":\"%s\",\"sender\":\"%s\",\"conversation\":\"%s\","
                             "\"accepted_ms\":%lld}",
                             i ? "," : "", tag, req[i].ctx.sender, req[i].ctx.conversation,
                             (long long)req[i].ctx.accepted_ms);
    }
    snprintf(b + o, cap - o, "]}");
    return b;
}

/* ---- franking in process ---- */

typedef struct lib_job {
    td_reports *rep;
    const td_frank_request *req;
    size_t n;
    double until;
    unsigned long long franked;
} lib_job;

static void *lib_worker(void *arg)
{
    lib_job *j = arg;
    td_frank_proof *out = xmalloc(j->n * sizeof *out);
    td_error err;
    while (bench_now() < j->until) {
        if (td_reports_frank_batch(j->rep, j->req, j->n, out, &err) != TD_OK)
            die("td_reports_frank_batch", err.message);
        j->franked += j->n;
    }
    free(out);
    return NULL;
}

/* CPU seconds this process has used (user + system). */
static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Franks per second of td_reports_frank_batch on t threads; the CPU time per frank in *cpu. */
static double lib_rate(td_reports *rep, const td_frank_request *req, size_t n, int t, double *cpu)
{
    lib_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    double cpu0 = self_cpu_s(), t0 = bench_now();
    for (int i = 0; i < t; i++) {
        jobs[i] = (lib_job){rep, req, n, t0 + seconds, 0};
        pthread_create(&th[i], NULL, lib_worker, &jobs[i]);
    }
    unsigned long long total = 0;
    for (int i = 0; i < t; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].franked;
    }
    double dt = bench_now() - t0;
    *cpu = total ? (self_cpu_s() - cpu0) / (double)total : 0;
    return (double)total / dt;
}

/* The floor: Ed25519 signatures per second of the bytes a frank signs (one thread). */
static double sign_rate(const td_frank_request *req, size_t n, double *cpu)
{
    uint8_t pk[32], sk[64], sig[64], frank[32];
    uint8_t msg[TD_FRANK_SIGNED_MAX];
    crypto_sign_keypair(pk, sk);
    randombytes_buf(frank, sizeof frank);
    unsigned long long done = 0;
    double cpu0 = self_cpu_s(), t0 = bench_now();
    while (bench_now() - t0 < seconds) {
        for (size_t i = 0; i < n; i++) {
            size_t len = 0;
            td_error err;
            if (td_frank_signed_encode(1, frank, req[i].tag, &req[i].ctx, msg, &len, &err) != TD_OK)
                die("td_frank_signed_encode", err.message);
            crypto_sign_detached(sig, NULL, msg, len, sk);
        }
        done += n;
    }
    double dt = bench_now() - t0;
    *cpu = (self_cpu_s() - cpu0) / (double)done;
    return (double)done / dt;
}

/* ---- franking over HTTP ---- */

typedef struct http_job {
    char **bodies;
    size_t n_bodies, per_body;
    double until;
    unsigned long long franked, requests, failed;
} http_job;

static void *http_worker(void *arg)
{
    http_job *j = arg;
    bench_client c;
    bench_client_init(&c, "bench_frank_http", server.url, RESP_CAP);
    for (size_t k = 0; bench_now() < j->until; k++) {
        const char *b = j->bodies[k % j->n_bodies];
        long st = bench_client_call(&c, "POST", "/v1/frank", platform_key, b, strlen(b), NULL);
        j->requests++;
        /* Each answer is one proof of ~220 bytes per message. */
        if (st == 200 && c.len > j->per_body * 200)
            j->franked += j->per_body;
        else
            j->failed++;
    }
    bench_client_free(&c);
    return NULL;
}

static double http_rate(char **bodies, size_t n_bodies, size_t per_body, double *cpu_per_frank,
                        unsigned long long *failed)
{
    http_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    double cpu0 = proc_cpu_s(server.pid), t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (http_job){bodies, n_bodies, per_body, t0 + seconds, 0, 0, 0};
        pthread_create(&th[i], NULL, http_worker, &jobs[i]);
    }
    unsigned long long total = 0;
    *failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].franked;
        *failed += jobs[i].failed;
    }
    double dt = bench_now() - t0;
    *cpu_per_frank = total ? (proc_cpu_s(server.pid) - cpu0) / (double)total : 0;
    return (double)total / dt;
}

/* ---- reports ---- */

/* A client's message: text, salt, optional attachment, its tag, and the proof once franked. */
typedef struct rmsg {
    char text[96];
    names nm;
    int64_t accepted_ms;
    uint8_t salt[16], tag[32];
    uint8_t att_key[32];
    uint8_t *blob;
    size_t blob_len;
    td_frank_proof proof;
} rmsg;

static void rmsg_make(rmsg *m, size_t i, int big)
{
    memset(m, 0, sizeof *m);
    snprintf(m->text, sizeof m->text, "reported message %zu, benchmark run %u", i,
             (unsigned)randombytes_random());
    context_of(i, m->nm.sender, m->nm.conv);
    m->accepted_ms = 1717300000000LL + (int64_t)i;
    randombytes_buf(m->salt, sizeof m->salt);
    td_frank_attachment_ref ref;
    td_error err;
    if (big) {
        uint8_t *plain = xmalloc(BIG_BYTES);
        randombytes_buf(plain, BIG_BYTES);
        randombytes_buf(m->att_key, sizeof m->att_key);
        if (td_frank_attachment_seal(m->att_key, plain, BIG_BYTES, &m->blob, &m->blob_len, &err))
            die("td_frank_attachment_seal", err.message);
        free(plain);
        crypto_hash_sha256(ref.blob_sha256, m->blob, m->blob_len);
        td_frank_key_commitment(m->att_key, ref.key_commitment);
    }
    uint8_t *enc;
    size_t len;
    if (td_frank_message_encode(m->text, strlen(m->text), big ? &ref : NULL, big ? 1 : 0, &enc,
                                &len, &err) != TD_OK)
        die("td_frank_message_encode", err.message);
    td_frank_tag(m->salt, enc, len, m->tag);
    td_free(enc);
}

static void rmsg_free(rmsg *m) { td_free(m->blob); }

static td_frank_context rmsg_ctx(const rmsg *m)
{
    return (td_frank_context){m->nm.sender, strlen(m->nm.sender), m->nm.conv, strlen(m->nm.conv),
                              m->accepted_ms};
}

/* The report body of one message. */
static char *report_json(const rmsg *m)
{
    char salt[33], frank[65], sig[129], key[65];
    hex(m->salt, 16, salt);
    hex(m->proof.frank, 32, frank);
    hex(m->proof.signature, 64, sig);
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "text", m->text, "salt",
                            salt, "sender", m->nm.sender, "conversation", m->nm.conv, "accepted_ms",
                            (json_int_t)m->accepted_ms, "key_id", (json_int_t)m->proof.key_id,
                            "frank", frank, "signature", sig);
    if (m->blob) {
        size_t cap = sodium_base64_ENCODED_LEN(m->blob_len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = xmalloc(cap);
        sodium_bin2base64(b64, cap, m->blob, m->blob_len, sodium_base64_VARIANT_ORIGINAL);
        hex(m->att_key, 32, key);
        json_object_set_new(msg, "attachments", json_pack("[{s:s, s:s}]", "blob", b64, "key", key));
        free(b64);
    }
    json_t *j = json_pack("{s:s, s:[o]}", "reporter", "bench-reporter", "messages", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        die("json_dumps", NULL);
    return s;
}

/* Franks the messages through the batch route (as the messaging server would at delivery). */
static void frank_over_http(bench_client *c, rmsg *ms, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t k = n - done < (size_t)batch ? n - done : (size_t)batch;
        td_frank_request *req = xmalloc(k * sizeof *req);
        for (size_t i = 0; i < k; i++) {
            memcpy(req[i].tag, ms[done + i].tag, 32);
            req[i].ctx = rmsg_ctx(&ms[done + i]);
        }
        char *body = batch_body(req, k);
        json_t *j = bench_client_must(c, 200, "POST", "/v1/frank", platform_key, body);
        json_t *franks = json_object_get(j, "franks");
        for (size_t i = 0; i < k; i++) {
            json_t *p = json_array_get(franks, i);
            td_frank_proof *pr = &ms[done + i].proof;
            size_t got = 0;
            pr->key_id = (uint32_t)json_integer_value(json_object_get(p, "key_id"));
            const char *f = json_string_value(json_object_get(p, "frank")),
                       *s = json_string_value(json_object_get(p, "signature"));
            if (!f || !s || sodium_hex2bin(pr->frank, 32, f, 64, NULL, &got, NULL) != 0 ||
                sodium_hex2bin(pr->signature, 64, s, 128, NULL, &got, NULL) != 0)
                die("a frank answer is malformed", c->resp);
        }
        json_decref(j);
        free(body);
        free(req);
        done += k;
    }
}

/* Times each report over HTTP (seconds into lat[]). */
static void http_reports(bench_client *c, rmsg *ms, size_t n, double *lat)
{
    for (size_t i = 0; i < n; i++) {
        char *body = report_json(&ms[i]);
        size_t len = strlen(body);
        double t0 = bench_now();
        long st = bench_client_call(c, "POST", "/v1/reports", platform_key, body, len, NULL);
        lat[i] = bench_now() - t0;
        if (st != 201 || strstr(c->resp, "\"duplicate\":true"))
            die("POST /v1/reports", c->resp);
        free(body);
    }
}

/* The same reports in process: parse (timed apart) then submit. */
static void lib_reports(td_reports *rep, rmsg *ms, size_t n, double *parse, double *submit)
{
    td_error err;
    for (size_t i = 0; i < n; i++) {
        td_frank_request req;
        memcpy(req.tag, ms[i].tag, 32);
        req.ctx = rmsg_ctx(&ms[i]);
        if (td_reports_frank_batch(rep, &req, 1, &ms[i].proof, &err) != TD_OK)
            die("td_reports_frank_batch", err.message);
        char *body = report_json(&ms[i]);
        td_report_input in;
        td_report_parsed *owner = NULL;
        td_report_rejection rej;
        td_report out;
        double t0 = bench_now();
        if (td_report_parse(body, strlen(body), &in, &owner, &rej, &err) != TD_OK)
            die("td_report_parse", err.message);
        double t1 = bench_now();
        if (td_report_submit(rep, &in, &out, &rej, &err) != TD_OK)
            die("td_report_submit", err.message);
        double t2 = bench_now();
        td_report_input_free(owner);
        parse[i] = t1 - t0;
        submit[i] = t2 - t1;
        free(body);
    }
}

/* td_frank_verify of the short message (tag, frank, signature) and td_frank_attachment_open of
 * 1 MiB, in microseconds and milliseconds. */
static void crypto_floor(double *verify_us, double *open_ms)
{
    td_frank_key key;
    td_error err;
    rmsg m;
    if (td_frank_key_generate(1, 1717200000000LL, &key, &err) != TD_OK)
        die("td_frank_key_generate", err.message);
    rmsg_make(&m, 0, 0);
    td_frank_context ctx = rmsg_ctx(&m);
    if (td_frank_issue(&key, m.tag, &ctx, &m.proof, &err) != TD_OK)
        die("td_frank_issue", err.message);
    uint8_t *enc;
    size_t len;
    if (td_frank_message_encode(m.text, strlen(m.text), NULL, 0, &enc, &len, &err) != TD_OK)
        die("td_frank_message_encode", err.message);
    size_t reps = 0;
    double t0 = bench_now();
    while (bench_now() - t0 < 1.0) {
        td_frank_failure why;
        if (td_frank_verify(&key, m.salt, enc, len, &ctx, &m.proof, &why, &err) != TD_OK)
            die("td_frank_verify", err.message);
        reps++;
    }
    *verify_us = (bench_now() - t0) / (double)reps * 1e6;
    td_free(enc);
    rmsg big;
    rmsg_make(&big, 1, 1);
    td_frank_attachment_ref ref;
    crypto_hash_sha256(ref.blob_sha256, big.blob, big.blob_len);
    td_frank_key_commitment(big.att_key, ref.key_commitment);
    reps = 0;
    t0 = bench_now();
    while (bench_now() - t0 < 1.0 || reps < 3) {
        uint8_t *plain;
        size_t plain_len;
        if (td_frank_attachment_open(&ref, big.att_key, big.blob, big.blob_len, &plain, &plain_len,
                                     &err) != TD_OK)
            die("td_frank_attachment_open", err.message);
        td_free(plain);
        reps++;
    }
    *open_ms = (bench_now() - t0) / (double)reps * 1e3;
    rmsg_free(&big);
    td_frank_key_wipe(&key);
}

/* ---- main ---- */

static td_service *open_lib(const char *dir, td_reports **rep)
{
    td_service_options so;
    td_service *svc;
    td_reports_options ro;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    if (td_service_open(dir, &so, &svc, &err) != TD_OK)
        die("td_service_open", err.message);
    td_reports_options_default(&ro);
    ro.tick_ms = 0;
    ro.rotate_ms = 0;
    if (td_reports_open(svc, &ro, rep, &err) != TD_OK)
        die("td_reports_open", err.message);
    return svc;
}

int main(int argc, char **argv)
{
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reports") == 0 && i + 1 < argc)
            n_reports = atoi(argv[++i]);
        else if (strcmp(argv[i], "--big-reports") == 0 && i + 1 < argc)
            n_big = atoi(argv[++i]);
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server_path = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: bench_frank_http [--seconds S] [--threads T] [--batch N] "
                            "[--reports N] [--big-reports N] [--server PATH] [--keep]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > MAX_THREADS || batch < 1 || batch > TD_FRANK_BATCH_MAX ||
        n_reports < 2 || n_big < 2 || seconds <= 0) {
        fprintf(stderr, "bench_frank_http: a setting is out of range\n");
        return 2;
    }
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        die("initialisation failed", NULL);
    char root[] = "/tmp/bench-frank-XXXXXX", lib_dir[64], srv_dir[64], load[64];
    if (!mkdtemp(root))
        die("mkdtemp", root);
    snprintf(lib_dir, sizeof lib_dir, "%s/lib", root);
    snprintf(srv_dir, sizeof srv_dir, "%s/server", root);
    mkdir(lib_dir, 0700);
    mkdir(srv_dir, 0700);
    loadavg(load);
    printf("bench_frank_http: %d client threads, batches of %d, %.0f s per rate; server with 2 "
           "HTTP threads\nload at start: %s\n\n",
           threads, batch, seconds, load);

    /* Franking in process. */
    td_reports *rep;
    td_service *svc = open_lib(lib_dir, &rep);
    td_frank_request *req = xmalloc((size_t)batch * N_BODIES * sizeof *req);
    names *nm = xmalloc((size_t)batch * N_BODIES * sizeof *nm);
    make_requests(req, nm, (size_t)batch * N_BODIES, 0);
    double cpu_sign, cpu_lib1, cpu_libt;
    double sign1 = sign_rate(req, (size_t)batch, &cpu_sign);
    double lib1 = lib_rate(rep, req, (size_t)batch, 1, &cpu_lib1);
    double libt = lib_rate(rep, req, (size_t)batch, threads, &cpu_libt);

    /* Franking over HTTP. */
    if (!start_server(srv_dir))
        die("the server did not start", srv_dir);
    bench_client c;
    bench_client_init(&c, "bench_frank_http", server.url, RESP_CAP);
    json_t *j = bench_client_must(&c, 201, "POST", "/v1/keys", server.admin_key,
                                  "{\"role\": \"platform\", \"name\": \"bench-messaging\"}");
    snprintf(platform_key, sizeof platform_key, "%s", json_string_value(json_object_get(j, "key")));
    json_decref(j);
    char *bodies[N_BODIES], *singles[N_BODIES * 8];
    size_t body_bytes = 0;
    for (int b = 0; b < N_BODIES; b++) {
        bodies[b] = batch_body(req + (size_t)b * (size_t)batch, (size_t)batch);
        body_bytes += strlen(bodies[b]);
    }
    for (int b = 0; b < N_BODIES * 8; b++) {
        char *s = batch_body(req + b, 1); /* {"messages":[item]}: cut to the item */
        size_t n = strlen(s);
        memmove(s, s + strlen("{\"messages\":["), n - strlen("{\"messages\":[") + 1);
        s[strlen(s) - 2] = '\0';
        singles[b] = s;
    }
    unsigned long long failed_b = 0, failed_s = 0;
    double cpu_b = 0, cpu_s = 0;
    double http_b = http_rate(bodies, N_BODIES, (size_t)batch, &cpu_b, &failed_b);
    double http_s = http_rate(singles, N_BODIES * 8, 1, &cpu_s, &failed_s);

    printf("franking: franks/s, and CPU time per frank (us)\n");
    printf("  Ed25519 signature alone, 1 thread (floor)       %10.0f   %5.1f us\n", sign1,
           cpu_sign * 1e6);
    printf("  td_reports_frank_batch, 1 thread                %10.0f   %5.1f us   %.2f x the "
           "signature's rate\n",
           lib1, cpu_lib1 * 1e6, lib1 / sign1);
    printf("  td_reports_frank_batch, %d threads               %10.0f   %5.1f us\n", threads, libt,
           cpu_libt * 1e6);
    printf("  POST /v1/frank, batches of %4d, %d clients     %10.0f   %5.1f us   %.2f x the "
           "library's rate on %d threads, %.2f x its CPU per frank (server CPU; %.0f KiB per "
           "request body%s)\n",
           batch, threads, http_b, cpu_b * 1e6, http_b / libt, threads, cpu_b / cpu_libt,
           (double)body_bytes / N_BODIES / 1024, failed_b ? ", FAILURES" : "");
    printf("  POST /v1/frank, one message per request         %10.0f   %5.1f us   %.3f x the "
           "batch route's rate%s\n\n",
           http_s, cpu_s * 1e6, http_s / http_b, failed_s ? ", FAILURES" : "");

    /* Reports. */
    double verify_us, open_ms;
    crypto_floor(&verify_us, &open_ms);
    size_t nr = (size_t)n_reports, nb = (size_t)n_big;
    rmsg *small = xmalloc(nr * sizeof *small), *big = xmalloc(nb * sizeof *big);
    rmsg *lsmall = xmalloc(nr * sizeof *lsmall), *lbig = xmalloc(nb * sizeof *lbig);
    for (size_t i = 0; i < nr; i++) {
        rmsg_make(&small[i], i, 0);
        rmsg_make(&lsmall[i], i, 0);
    }
    for (size_t i = 0; i < nb; i++) {
        rmsg_make(&big[i], nr + i, 1);
        rmsg_make(&lbig[i], nr + i, 1);
    }
    frank_over_http(&c, small, nr);
    frank_over_http(&c, big, nb);
    double *lat = xmalloc((nr + nb) * sizeof *lat), *parse = xmalloc((nr + nb) * sizeof *parse),
           *submit = xmalloc((nr + nb) * sizeof *submit), *health = xmalloc(nr * sizeof *health);
    for (size_t i = 0; i < nr; i++) {
        double t0 = bench_now();
        if (bench_client_call(&c, "GET", "/healthz", NULL, NULL, 0, NULL) != 200)
            die("GET /healthz", c.resp);
        health[i] = bench_now() - t0;
    }
    double h50, h95, hmean;
    stats_ms(health, nr, &h50, &h95, &hmean);
    double cpu0 = proc_cpu_s(server.pid);
    http_reports(&c, small, nr, lat);
    double cpu_small = (proc_cpu_s(server.pid) - cpu0) / (double)nr;
    cpu0 = proc_cpu_s(server.pid);
    http_reports(&c, big, nb, lat + nr);
    double cpu_big = (proc_cpu_s(server.pid) - cpu0) / (double)nb;
    lib_reports(rep, lsmall, nr, parse, submit);
    lib_reports(rep, lbig, nb, parse + nr, submit + nr);

    double s50, s95, smean, b50, b95, bmean, ls50, ls95, lsmean, lb50, lb95, lbmean, ps50, ps95,
        psmean, pb50, pb95, pbmean;
    stats_ms(lat, nr, &s50, &s95, &smean);
    stats_ms(lat + nr, nb, &b50, &b95, &bmean);
    stats_ms(submit, nr, &ls50, &ls95, &lsmean);
    stats_ms(submit + nr, nb, &lb50, &lb95, &lbmean);
    stats_ms(parse, nr, &ps50, &ps95, &psmean);
    stats_ms(parse + nr, nb, &pb50, &pb95, &pbmean);
    printf("reports, one at a time (ms: p50 / p95 / mean)\n");
    printf("  GET /healthz round trip (floor)                 %7.3f / %7.3f / %7.3f\n", h50, h95,
           hmean);
    printf("  td_frank_verify, short message                  %7.3f ms (%.1f us)\n",
           verify_us / 1e3, verify_us);
    printf("  td_frank_attachment_open, 1 MiB                 %7.3f ms\n", open_ms);
    printf("  POST /v1/reports, short text (%zu)              %7.3f / %7.3f / %7.3f   server CPU "
           "%.3f ms per report\n",
           nr, s50, s95, smean, cpu_small * 1e3);
    printf("    in process: td_report_parse                   %7.3f / %7.3f / %7.3f\n", ps50, ps95,
           psmean);
    printf("    in process: td_report_submit                  %7.3f / %7.3f / %7.3f   HTTP / "
           "in process (p50) %.2f\n",
           ls50, ls95, lsmean, s50 / (ps50 + ls50));
    printf("  POST /v1/reports, 1 MiB attachment (%zu)         %7.3f / %7.3f / %7.3f   server CPU "
           "%.3f ms per report\n",
           nb, b50, b95, bmean, cpu_big * 1e3);
    printf("    in process: td_report_parse                   %7.3f / %7.3f / %7.3f\n", pb50, pb95,
           pbmean);
    printf("    in process: td_report_submit                  %7.3f / %7.3f / %7.3f   HTTP / "
           "in process (p50) %.2f\n",
           lb50, lb95, lbmean, b50 / (pb50 + lb50));
    loadavg(load);
    printf("\nload at end: %s\n", load);

    bench_client_free(&c);
    stop_server();
    td_reports_close(rep);
    td_service_close(svc);
    for (int b = 0; b < N_BODIES; b++)
        free(bodies[b]);
    for (int b = 0; b < N_BODIES * 8; b++)
        free(singles[b]);
    for (size_t i = 0; i < nr; i++) {
        rmsg_free(&small[i]);
        rmsg_free(&lsmall[i]);
    }
    for (size_t i = 0; i < nb; i++) {
        rmsg_free(&big[i]);
        rmsg_free(&lbig[i]);
    }
    free(small), free(big), free(lsmall), free(lbig), free(lat), free(parse), free(submit),
        free(health), free(req), free(nm);
    if (!keep)
        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("kept %s\n", root);
    curl_global_cleanup();
    return 0;
}
