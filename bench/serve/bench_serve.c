/* bench_serve: requests/s and latency of POST /v1/check on the real `takedown serve`.
 *
 * Setup goes through the library, not the API (adding millions of signals one request at a
 * time would measure the setup, not the check): a bank of N random PDQ hashes is imported with
 * the streaming importer into a data directory, a platform key is created, then the server binary
 * is started on it. Two workloads follow, each a closed loop of C keep-alive connections (one
 * thread each, raw sockets so the client costs little CPU next to the server):
 *   hash  JSON bodies with one precomputed PDQ hash (1 in 10 is in the bank)
 *   jpeg  photo bytes (wallpapers): the server decodes, hashes with dihedral variants, checks.
 * Usage: bench_serve [--signals N] [--seconds S] [--connections C[,C...]] [--server-threads T]
 *                    [--server PATH] [--compare PATH] [--data DIR] [PHOTO_DIR...]
 * --compare runs the hash workload against a second `takedown` binary (an earlier build),
 * alternating with the first at each connection count, and prints the ratio of their request
 * rates and of the server CPU time each request cost (read from /proc: on a shared machine it
 * varies much less than the rate). An earlier build may not open a data directory migrated by this
 * one: give it its own
 * (--compare-data, prepared by that build's bench_serve with the same --signals, so it holds the
 * same hashes) and a platform key made by that build (--compare-key). The servers are told not to
 * limit connections per address (TAKEDOWN_MAX_CONNECTIONS_PER_ADDRESS=0: every client connection
 * comes from 127.0.0.1). An existing DIR holding the bank is reused (the import is skipped). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/bench.h"
#include "support/server.h"
#include "takedown/casework.h"

#define KNOWN 1000

static void random_hex(uint64_t *rng, char out[65])
{
    for (int k = 0; k < 4; k++)
        snprintf(out + 16 * k, 17, "%016llx", (unsigned long long)bench_rand(rng));
}

static char known[KNOWN][65];

/* ---- setup through the library ---- */

static int setup(const char *dir, uint64_t n, char *key, size_t key_cap)
{
    td_service_options opts;
    td_service *svc;
    td_error err;
    td_service_options_default(&opts);
    opts.webhook_worker = 0;
    opts.follow_interval_ms = 0;
    opts.import_max_lines = n + 10;
    mkdir(dir, 0700);
    double t0 = bench_now();
    if (td_service_open(dir, &opts, &svc, &err) != TD_OK) {
        fprintf(stderr, "bench_serve: %s: %s\n", dir, err.message);
        return 0;
    }
    td_bank bank;
    td_bank_init(&bank);
    snprintf(bank.name, sizeof bank.name, "BENCH");
    bank.action = TD_ACTION_BLOCK;
    td_status st = td_bank_get(svc, "BENCH", &bank, &err);
    if (st == TD_ERR_NOT_FOUND)
        st = td_bank_create(svc, &bank, &bank, &err);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < KNOWN; i++)
        random_hex(&rng, known[i]);
    if (st == TD_OK && (uint64_t)bank.signal_count < n) {
        printf("importing %llu hashes...\n", (unsigned long long)n);
        fflush(stdout);
        td_import_options io;
        td_import_options_init(&io);
        io.format = TD_LIST_LINES;
        io.max_lines = n + 10;
        td_import *imp = NULL;
        st = td_import_begin(svc, "BENCH", &io, &imp, &err);
        size_t cap = 1 << 20, len = 0;
        char *buf = malloc(cap);
        uint64_t r2 = 0x9e3779b97f4a7c15ULL;
        for (uint64_t i = 0; st == TD_OK && i < n; i++) {
            char hex[65];
            random_hex(&r2, hex); /* the first KNOWN are the known[] hashes */
            len += (size_t)snprintf(buf + len, cap - len, "pdq %s\n", hex);
            if (cap - len < 100 || i + 1 == n) {
                st = td_import_feed(imp, buf, len, &err);
                len = 0;
            }
        }
        free(buf);
        td_import_result res;
        memset(&res, 0, sizeof res);
        if (st == TD_OK)
            st = td_import_finish(imp, &res, &err);
        else
            td_import_abort(imp);
        printf("imported %llu in %.1f s\n", (unsigned long long)res.added, bench_now() - t0);
        td_import_result_clear(&res);
    }
    if (st == TD_OK) {
        char k[TD_KEY_TEXT_MAX];
        st = td_key_create(svc, TD_ROLE_PLATFORM, "bench", k, NULL, &err);
        snprintf(key, key_cap, "%s", k);
    }
    if (st != TD_OK)
        fprintf(stderr, "bench_serve: %s\n", err.message);
    td_service_close(svc);
    return st == TD_OK;
}

/* ---- the server ---- */

static bench_server server;
static const char *server_path = TD_CLI_PATH;

static int start_server(const char *dir, int threads, int *port)
{
    char t[16];
    snprintf(t, sizeof t, "%d", threads);
    const char *args[] = {"--http-threads", t, NULL};
    const char *env[] = {"TAKEDOWN_MAX_CONNECTIONS_PER_ADDRESS=0", NULL};
    double t0 = bench_now();
    if (!bench_server_start(&server, server_path, dir, args, env, NULL))
        return 0;
    *port = server.port;
    printf("server ready in %.1f s (index loaded), port %d, %d threads\n", bench_now() - t0, *port,
           threads);
    return 1;
}

/* ---- the client ---- */

typedef struct photo {
    char *data;
    size_t len;
} photo;

static photo *photos;
static size_t n_photos;
static char api_key[128];
static int server_port;
static volatile int running;

typedef struct worker {
    int jpeg;
    unsigned seed;
    double *lat;
    size_t n, cap;
    size_t errors;
    double measure_from;
} worker;

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)server_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Reads one response; returns its status (0 on a broken connection). */
static int read_response(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    char *hdr_end = NULL;
    while (!hdr_end) {
        if (got + 1 >= cap)
            return 0;
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            return 0;
        got += (size_t)r;
        buf[got] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    int status = (int)strtol(buf + 9, NULL, 10);
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t body = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t have = got - (size_t)(hdr_end + 4 - buf);
    while (have < body) {
        ssize_t r = recv(fd, buf, cap - 1, 0);
        if (r <= 0)
            return 0;
        have += (size_t)r;
    }
    return status;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t rng = w->seed * 0x9e3779b97f4a7c15ULL + 1;
    char head[1024], body[256], resp[65536];
    int fd = connect_server();
    size_t i = w->seed;
    while (running && fd >= 0) {
        const char *payload;
        size_t plen;
        const char *ctype;
        if (w->jpeg) {
            photo *p = &photos[i++ % n_photos];
            payload = p->data;
            plen = p->len;
            ctype = "image/jpeg";
        } else {
            char hex[65];
            if (bench_rand(&rng) % 10 == 0)
                memcpy(hex, known[bench_rand(&rng) % KNOWN], 65);
            else
                random_hex(&rng, hex);
            plen = (size_t)snprintf(body, sizeof body, "{\"pdq\": \"%s\"}", hex);
            payload = body;
            ctype = "application/json";
        }
        int hl = snprintf(head, sizeof head,
                          "POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                          "%s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                          api_key, ctype, plen);
        double t0 = bench_now();
        int status = 0;
        if (send_all(fd, head, (size_t)hl) && send_all(fd, payload, plen))
            status = read_response(fd, resp, sizeof resp);
        double t1 = bench_now();
        if (status == 0) {
            close(fd);
            fd = connect_server();
        }
        if (t0 < w->measure_from)
            continue;
        if (status != 200)
            w->errors++;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 65536;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        }
        w->lat[w->n++] = t1 - t0;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define MAX_CONNS 1024

/* CPU seconds (user + system) a process has used so far, from /proc (0 if unreadable). The
 * machine is shared and noisy: the server's CPU time per request varies much less from run to
 * run than the request rate does. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is field 3, utime 14,
     * stime 15. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Runs one workload; returns the request rate and, in *us_per_req (may be NULL), the server's CPU
 * microseconds per request. */
static double run_load(const char *name, int jpeg, int conns, double seconds, double *us_per_req)
{
    static pthread_t th[MAX_CONNS];
    static worker ws[MAX_CONNS];
    double warmup = 1.0;
    running = 1;
    double start = bench_now();
    for (int i = 0; i < conns; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].jpeg = jpeg;
        ws[i].seed = (unsigned)i + 1;
        ws[i].measure_from = start + warmup;
        pthread_create(&th[i], NULL, worker_main, &ws[i]);
    }
    struct timespec ts = {(time_t)warmup, 0};
    nanosleep(&ts, NULL);
    double srv0 = proc_cpu_s(server.pid), cli0 = proc_cpu_s(getpid());
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9);
    nanosleep(&ts, NULL);
    double srv_cpu = proc_cpu_s(server.pid) - srv0, cli_cpu = proc_cpu_s(getpid()) - cli0;
    running = 0;
    size_t total = 0, errors = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        total += ws[i].n;
        errors += ws[i].errors;
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
        k += ws[i].n;
        free(ws[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)(total * 0.99)] : 0;
    printf("%-6s %d connections, %.0f s: %zu requests, %.0f req/s, p50 %.2f ms, p99 %.2f ms, "
           "max %.2f ms, errors %zu\n",
           name, conns, seconds, total, total / seconds, p50 * 1e3, p99 * 1e3,
           total ? all[total - 1] * 1e3 : 0, errors);
    double us = total ? srv_cpu / (double)total * 1e6 : 0.0;
    printf("cpu    server %.2f s (%.0f us per request), client %.2f s, in the %.0f s measured\n",
           srv_cpu, us, cli_cpu, seconds);
    if (us_per_req)
        *us_per_req = us;
    if (jpeg)
        printf("jpeg   %.1f images/s (%zu photos, decoded, PDQ + 8 dihedral variants, MD5, "
               "SHA-256, checked)\n",
               total / seconds, n_photos);
    free(all);
    return total / seconds;
}

static void load_photos(const char *dir, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) && n_photos < max) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            load_photos(path, max);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (n < 4 ||
            (strcasecmp(e->d_name + n - 4, ".jpg") && strcasecmp(e->d_name + n - 5, ".jpeg")))
            continue;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        photo *np = realloc(photos, (n_photos + 1) * sizeof *photos);
        photos = np;
        photos[n_photos].data = malloc((size_t)st.st_size);
        photos[n_photos].len = fread(photos[n_photos].data, 1, (size_t)st.st_size, f);
        fclose(f);
        n_photos++;
    }
    closedir(d);
}

static void stop_server(void) { bench_server_stop(&server, 40); }

/* "4,64,300" into list (at most cap entries, each 1..MAX_CONNS); the count, 0 if malformed. */
static int parse_conns(const char *text, int *list, int cap)
{
    int n = 0;
    char *end;
    while (*text && n < cap) {
        long v = strtol(text, &end, 10);
        if (end == text || v < 1 || v > MAX_CONNS)
            return 0;
        list[n++] = (int)v;
        text = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return 0;
    }
    return n;
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000;
    double seconds = 10;
    int conns[8] = {4}, n_conns = 1, threads = 2;
    const char *dir = NULL, *compare = NULL, *compare_dir = NULL, *compare_key = NULL;
    char dir_buf[256];
    const char *photo_dirs[16];
    int n_dirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--signals") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            n_conns = parse_conns(argv[++i], conns, 8);
        else if (strcmp(argv[i], "--server-threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server_path = argv[++i];
        else if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc)
            compare = argv[++i];
        else if (strcmp(argv[i], "--compare-data") == 0 && i + 1 < argc)
            compare_dir = argv[++i];
        else if (strcmp(argv[i], "--compare-key") == 0 && i + 1 < argc)
            compare_key = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (argv[i][0] != '-' && n_dirs < 16)
            photo_dirs[n_dirs++] = argv[i];
        else
            n_conns = 0;
        if (n_conns == 0) {
            fprintf(stderr,
                    "usage: bench_serve [--signals N] [--seconds S] [--connections C[,C...]] "
                    "[--server-threads T] [--server PATH] [--compare PATH [--compare-data DIR "
                    "--compare-key KEY]] [--data DIR] [PHOTO_DIR...]\n");
            return 2;
        }
    }
    if (!dir) {
        snprintf(dir_buf, sizeof dir_buf, "/tmp/takedown-bench-serve-%llu", (unsigned long long)n);
        dir = dir_buf;
    }
    if (!setup(dir, n, api_key, sizeof api_key))
        return 1;
    signal(SIGPIPE, SIG_IGN);
    char own_key[sizeof api_key];
    snprintf(own_key, sizeof own_key, "%s", api_key);
    const char *servers[2] = {server_path, compare};
    const char *dirs[2] = {dir, compare_dir ? compare_dir : dir};
    const char *keys[2] = {own_key, compare_key ? compare_key : own_key};
    int n_servers = compare ? 2 : 1;
    for (int c = 0; c < n_conns; c++) {
        double rate[2] = {0, 0}, us[2] = {0, 0};
        for (int k = 0; k < n_servers; k++) {
            server_path = servers[k];
            snprintf(api_key, sizeof api_key, "%s", keys[k]);
            if (!start_server(dirs[k], threads, &server_port)) {
                fprintf(stderr, "bench_serve: %s did not start\n", server_path);
                return 1;
            }
            printf("server %s; index: %llu PDQ hashes; client: %d keep-alive connections on the "
                   "same machine\n",
                   server_path, (unsigned long long)n, conns[c]);
            rate[k] = run_load("hash", 0, conns[c], seconds, &us[k]);
            stop_server();
        }
        if (compare)
            printf("ratio  %d connections: %.2f req/s, %.2f server CPU per request (%s over %s)\n",
                   conns[c], rate[1] > 0 ? rate[0] / rate[1] : 0.0, us[1] > 0 ? us[0] / us[1] : 0.0,
                   servers[0], servers[1]);
    }
    server_path = servers[0];
    snprintf(api_key, sizeof api_key, "%s", own_key);
    for (int i = 0; i < n_dirs; i++)
        load_photos(photo_dirs[i], 40);
    if (n_photos) {
        if (!start_server(dir, threads, &server_port))
            return 1;
        run_load("jpeg", 1, threads > 2 ? threads : 2, seconds, NULL);
        stop_server();
    } else {
        printf("jpeg   skipped (no photo folder given)\n");
    }
    return 0;
}
