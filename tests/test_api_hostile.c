/* Hostile clients against the real `takedown serve` over real loopback sockets (docs/api.md,
 * "Connection and rate limits").
 *
 * An attacker without a key opens 1,100 connections from one address (half of them idle, half
 * trickling a request line a byte at a time, reopening whatever is closed) and then 1,200 from
 * twenty addresses, over the connection limit. Meanwhile a legitimate client at another address
 * must get its health probes, checks and a signed removal order through, and an authenticated
 * keep-alive connection opened before the flood must still be served after it. The deadlines are
 * measured from the attacker's side: no trickling connection lives longer than the header
 * deadline (plus the guard's sweep and a margin), and a body sent below the minimum rate is cut
 * after its grace. Then the request rates: per key, per address and without a valid key, each
 * answered 429 with Retry-After while other keys, other addresses and the probes go on.
 *
 * The loopback network is 127.0.0.0/8: binding a client socket to 127.0.0.2 gives the server a
 * second client address on one machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"

#define CHECK_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
/* The server runs with a 2-second header deadline (default 10) so that the test is short. */
#define HEADER_S 2
#define HEADER_FLAG "2"
/* The guard sweeps four times a second; the rest is scheduling on a loaded 2-core machine (an
 * ASan build next to other work). Without the guard a trickling connection would live the idle
 * timeout (30 s here), so the bound still tells the two apart. */
#define DEADLINE_SLACK_S 3.0

static struct {
    char dir[4096];
    api_server srv;
    int port;
    char admin[128], platform[128], authority[128];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    int orders_sent;
} S;

/* ---- a raw HTTP/1.1 client, bound to a chosen loopback address ---- */

static int connect_from(const char *src, int nonblocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct raw_resp {
    int status; /* 0: no answer */
    char head[4096];
    char body[262144];
} raw_resp;

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void format_request(char *out, size_t cap, const char *method, const char *path,
                           const char *key, const char *extra, const char *body, int keep_alive)
{
    char auth[200] = "";
    if (key)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", key);
    snprintf(out, cap,
             "%s %s HTTP/1.1\r\nHost: test\r\n%s%s%s%s%sContent-Length: %zu\r\n"
             "Content-Type: application/json\r\n\r\n%s",
             method, path, keep_alive ? "" : "Connection: close\r\n", auth, extra ? extra : "",
             extra ? "\r\n" : "", "", body ? strlen(body) : (size_t)0, body ? body : "");
}

/* Reads one response (headers, then Content-Length bytes of body). */
static void read_response(int fd, raw_resp *out)
{
    char buf[sizeof out->head + sizeof out->body];
    size_t n = 0;
    memset(out, 0, sizeof *out);
    char *end = NULL;
    while (!end && n < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t head_len = (size_t)(end - buf) + 4;
    if (head_len >= sizeof out->head)
        return;
    memcpy(out->head, buf, head_len);
    const char *cl = strcasestr(out->head, "\r\nContent-Length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    if (want >= sizeof out->body)
        return;
    size_t have = n - head_len;
    memcpy(out->body, buf + head_len, have);
    while (have < want) {
        ssize_t r = recv(fd, out->body + have, want - have, 0);
        if (r <= 0)
            return;
        have += (size_t)r;
    }
    out->body[have] = '\0';
    if (sscanf(out->head, "HTTP/1.1 %d", &out->status) != 1)
        out->status = 0;
}

/* One request on a new connection from src; returns the status (0: no answer in time). */
static int raw_request(const char *src, const char *method, const char *path, const char *key,
                       const char *extra, const char *body, raw_resp *out)
{
    char req[8192];
    format_request(req, sizeof req, method, path, key, extra, body, 0);
    int fd = connect_from(src, 0);
    memset(out, 0, sizeof *out);
    if (fd < 0)
        return 0;
    if (send_all(fd, req, strlen(req)) == 0)
        read_response(fd, out);
    close(fd);
    return out->status;
}

/* The value of a response header, or "". */
static void header_value(const raw_resp *r, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strcasestr(r->head, pat);
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

/* ---- the attacker ---- */

typedef struct flood {
    const char *const *sources; /* client addresses, used in turn */
    size_t n_sources;
    size_t n_conns;
    double seconds;
    /* Results. */
    unsigned long long opened, closed_by_server;
    double longest_trickle_s; /* the longest life of a trickling connection the server closed */
} flood;

typedef struct slot {
    int fd;
    int trickle;
    double opened, next_byte;
    size_t sent;
} slot;

/* A request line that never ends: one byte at a time, every 0.4 s. */
static const char TRICKLE[] = "GET /v1/banks HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static void *flood_main(void *arg)
{
    flood *f = arg;
    slot *slots = calloc(f->n_conns, sizeof *slots);
    struct pollfd *pf = calloc(f->n_conns, sizeof *pf);
    if (!slots || !pf)
        return NULL;
    for (size_t i = 0; i < f->n_conns; i++) {
        slots[i].fd = -1;
        slots[i].trickle = (int)(i & 1);
    }
    double end = api_now_s() + f->seconds;
    while (api_now_s() < end) {
        double now = api_now_s();
        for (size_t i = 0; i < f->n_conns; i++) {
            slot *s = &slots[i];
            if (s->fd < 0) {
                s->fd = connect_from(f->sources[i % f->n_sources], 1);
                s->opened = now;
                s->next_byte = now + 0.4;
                s->sent = 0;
                f->opened += s->fd >= 0;
            } else if (s->trickle && now >= s->next_byte && s->sent < sizeof TRICKLE - 1) {
                if (send(s->fd, TRICKLE + s->sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
                    s->sent++;
                s->next_byte = now + 0.4;
            }
            pf[i].fd = s->fd;
            pf[i].events = POLLIN;
            pf[i].revents = 0;
        }
        poll(pf, f->n_conns, 100);
        now = api_now_s();
        for (size_t i = 0; i < f->n_conns; i++) {
            slot *s = &slots[i];
            if (s->fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char b[512];
            ssize_t r = recv(s->fd, b, sizeof b, MSG_DONTWAIT);
            if (r > 0)
                continue; /* an answer (a refusal): the close follows */
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                continue;
            f->closed_by_server++;
            /* Only connections that got past the accept queue and trickled are timed. */
            if (s->trickle && s->sent > 0 && now - s->opened > f->longest_trickle_s)
                f->longest_trickle_s = now - s->opened;
            close(s->fd);
            s->fd = -1;
        }
    }
    for (size_t i = 0; i < f->n_conns; i++)
        if (slots[i].fd >= 0)
            close(slots[i].fd);
    free(slots);
    free(pf);
    return NULL;
}

/* ---- set-up ---- */

static void start_server(const char *const *extra)
{
    const char *flags[24] = {"--http_header_timeout_s", HEADER_FLAG, "--http_timeout_s", "30"};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i]; i++)
        flags[n++] = extra[i];
    flags[n] = NULL;
    api_server_start(&S.srv, S.dir, flags);
    const char *colon = strrchr(S.srv.base, ':');
    S.port = (int)strtol(colon + 1, NULL, 10);
}

static int group_setup(void **state)
{
    (void)state;
    /* 2,300 client sockets at once, and as many on the server's side. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (api_group_init(S.dir, sizeof S.dir, "api-hostile-data") != 0)
        return -1;
    start_server(NULL);
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    const char *A = S.admin;
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", A,
                         "{\"role\": \"platform\", \"name\": \"uploads\"}");
    snprintf(S.platform, sizeof S.platform, "%s", api_jstr(j, "key"));
    json_decref(j);
    j = api_call(&S.srv, 201, "POST", "/v1/keys", A,
                 "{\"role\": \"authority\", \"name\": \"bka-desk\"}");
    snprintf(S.authority, sizeof S.authority, "%s", api_jstr(j, "key"));
    long long authority_key = (long long)api_jint(j, "id");
    json_decref(j);
    api_register_authority(&S.srv, A, "BKA", "2020-01-01T00:00:00.000Z", authority_key, S.pk, S.sk);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    return 0;
}

/* ---- what the legitimate client must get through ---- */

static void legitimate_round(const char *src)
{
    raw_resp r;
    double t0 = api_now_s();
    assert_int_equal(raw_request(src, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
    assert_int_equal(raw_request(src, "GET", "/readyz", NULL, NULL, NULL, &r), 200);
    assert_int_equal(
        raw_request(src, "POST", "/v1/check", S.platform, NULL, "{\"pdq\": \"" CHECK_PDQ "\"}", &r),
        200);
    assert_non_null(strstr(r.body, "\"matches\""));
    char doc[4096], ref[64], sig[256];
    snprintf(ref, sizeof ref, "BKA-FLOOD-%d", ++S.orders_sent);
    api_order_doc(doc, sizeof doc, "BKA", ref, NULL, "https://platform.example/v/1", NULL);
    api_sign_header(S.sk, doc, strlen(doc), sig, sizeof sig);
    int st = raw_request(src, "POST", "/v1/orders", S.authority, sig, doc, &r);
    if (st != 201)
        fail_msg("order intake during the flood answered %d: %s", st, r.body);
    print_message("legitimate round from %s: probes, a check and an order in %.3f s\n", src,
                  api_now_s() - t0);
}

static void run_flood_with_client(flood *f)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flood_main, f), 0);
    /* Let the connections pile up and the first deadlines pass, then act every second. */
    api_sleep_ms(1500);
    for (int round = 0; round < 3; round++) {
        legitimate_round("127.0.0.2");
        api_sleep_ms(1000);
    }
    pthread_join(t, NULL);
}

/* A metric's value from /metrics (the whole line's name and labels given), read each time from
 * another address so that the reads are not themselves rate limited. */
static double metric(const char *series)
{
    static int next = 1;
    char src[32];
    raw_resp r;
    snprintf(src, sizeof src, "127.0.2.%d", next++ % 250 + 1);
    assert_int_equal(raw_request(src, "GET", "/metrics", NULL, NULL, NULL, &r), 200);
    const char *p = strstr(r.body, series);
    if (!p)
        fail_msg("no %s in /metrics", series);
    return strtod(p + strlen(series), NULL);
}

/* ---- tests ---- */

/* 1,100 connections from one address, half idle and half trickling. */
static void test_flood_one_address(void **state)
{
    (void)state;
    static const char *const one[] = {"127.0.0.1"};
    flood f = {one, 1, 1100, 6.0, 0, 0, 0.0};
    run_flood_with_client(&f);
    print_message("one address: %llu connections opened, %llu closed by the server, longest "
                  "trickle %.2f s\n",
                  f.opened, f.closed_by_server, f.longest_trickle_s);
    assert_true(f.opened >= 1100);
    /* Over the address limit (256) each newcomer closed the address's oldest idle connection:
     * the attacker churns through its own connections and never holds more than 256. The first
     * burst alone is 1,100 at once, none of which can finish a request. */
    assert_true(metric("takedown_http_connections_shed_total{reason=\"address_limit\"} ") >=
                1100 - 256);
}

/* Under the address limit, idle and trickling connections alike are closed at the header
 * deadline, counted from the accept: the bytes they trickle do not extend it. */
static void test_header_deadline(void **state)
{
    (void)state;
    static const char *const one[] = {"127.0.0.11"};
    double before = metric("takedown_http_connections_shed_total{reason=\"header_deadline\"} ");
    flood f = {one, 1, 100, 3 * HEADER_S + 1.0, 0, 0, 0.0};
    flood_main(&f);
    double after = metric("takedown_http_connections_shed_total{reason=\"header_deadline\"} ");
    print_message("100 connections, half trickling a byte every 0.4 s: %llu closed by the server, "
                  "the longest trickle lived %.2f s\n",
                  f.closed_by_server, f.longest_trickle_s);
    assert_true(f.closed_by_server >= 100);
    assert_true(after - before >= 100);
    assert_true(f.longest_trickle_s >= HEADER_S);
    assert_true(f.longest_trickle_s <= HEADER_S + DEADLINE_SLACK_S);
}

/* 1,200 connections from twenty addresses (127.0.1.10-29, 60 each, under the address limit): over
 * the connection limit (1,024), the oldest keyless idle ones make room. An authenticated keep-alive
 * connection opened before is not among them. */
static void test_flood_many_addresses(void **state)
{
    (void)state;
    static char names[20][16];
    static const char *sources[20];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "127.0.1.%d", i + 10);
        sources[i] = names[i];
    }
    int ka = connect_from("127.0.0.3", 0);
    assert_true(ka >= 0);
    char req[1024];
    raw_resp r;
    format_request(req, sizeof req, "GET", "/v1/banks", S.platform, NULL, NULL, 1);
    assert_int_equal(send_all(ka, req, strlen(req)), 0);
    read_response(ka, &r);
    assert_int_equal(r.status, 200);

    double shed_before =
        metric("takedown_http_connections_shed_total{reason=\"connection_limit\"} ");
    flood f = {sources, 20, 1200, 6.0, 0, 0, 0.0};
    run_flood_with_client(&f);
    print_message("twenty addresses: %llu connections opened, %llu closed by the server\n",
                  f.opened, f.closed_by_server);
    assert_true(metric("takedown_http_connections_shed_total{reason=\"connection_limit\"} ") >
                shed_before);
    /* The keep-alive connection, idle for the whole flood, still answers. */
    assert_int_equal(send_all(ka, req, strlen(req)), 0);
    read_response(ka, &r);
    assert_int_equal(r.status, 200);
    close(ka);
}

/* A body below the minimum rate (1024 bytes/s after the grace) is cut, however it trickles. */
static void test_slow_body(void **state)
{
    (void)state;
    int fd = connect_from("127.0.0.4", 0);
    assert_true(fd >= 0);
    char head[512];
    snprintf(head, sizeof head,
             "POST /v1/check HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
             S.platform);
    double t0 = api_now_s();
    assert_int_equal(send_all(fd, head, strlen(head)), 0);
    double closed = 0;
    while (api_now_s() - t0 < 10) {
        if (send(fd, "          ", 10, MSG_NOSIGNAL) != 10) {
            closed = api_now_s() - t0;
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0) {
            char b[256];
            if (recv(fd, b, sizeof b, MSG_DONTWAIT) <= 0) {
                closed = api_now_s() - t0;
                break;
            }
        }
    }
    close(fd);
    print_message("a 50 bytes/s body was cut after %.2f s\n", closed);
    assert_true(closed >= HEADER_S);
    assert_true(closed <= HEADER_S + DEADLINE_SLACK_S);
    assert_true(metric("takedown_http_connections_shed_total{reason=\"slow_body\"} ") >= 1);
    /* Nothing was lost: the service still answers. */
    raw_resp r;
    assert_int_equal(raw_request("127.0.0.4", "GET", "/healthz", NULL, NULL, NULL, &r), 200);
}

static void expect_limited(const raw_resp *r, const char *what)
{
    char retry[32];
    if (r->status != 429)
        fail_msg("%s: expected 429, got %d: %s", what, r->status, r->body);
    header_value(r, "Retry-After", retry, sizeof retry);
    assert_true(strtol(retry, NULL, 10) >= 1);
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "rate_limited");
    json_decref(j);
}

/* Request rates: per key, per address, and without a valid key; probes are exempt. */
static void test_rate_limits(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    static const char *const rates[] = {"--rate_limit_per_key",
                                        "5",
                                        "--rate_limit_burst_s",
                                        "1",
                                        "--rate_limit_unauthenticated",
                                        "3",
                                        "--rate_limit_per_address",
                                        "8",
                                        NULL};
    start_server(rates);
    raw_resp r;
    const char *check = "{\"pdq\": \"" CHECK_PDQ "\"}";
    /* Per address: eight requests (two keys, under their own limit), the ninth waits; the
     * probes from that address and another address go on. */
    for (int i = 0; i < 8; i++)
        assert_int_equal(raw_request("127.0.0.8", "GET", "/v1/banks", i & 1 ? S.admin : S.platform,
                                     NULL, NULL, &r),
                         200);
    raw_request("127.0.0.8", "GET", "/v1/banks", S.admin, NULL, NULL, &r);
    expect_limited(&r, "ninth request from one address");
    assert_int_equal(raw_request("127.0.0.8", "GET", "/readyz", NULL, NULL, NULL, &r), 200);
    assert_int_equal(raw_request("127.0.0.9", "GET", "/v1/banks", S.admin, NULL, NULL, &r), 200);
    api_sleep_ms(1100); /* every bucket full again */

    /* Per key: five at once, the sixth waits; another key goes on. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(raw_request("127.0.0.5", "POST", "/v1/check", S.platform, NULL, check, &r),
                         200);
    raw_request("127.0.0.5", "POST", "/v1/check", S.platform, NULL, check, &r);
    expect_limited(&r, "sixth request with one key");
    assert_int_equal(raw_request("127.0.0.6", "GET", "/v1/banks", S.admin, NULL, NULL, &r), 200);
    /* Probes are never limited. */
    for (int i = 0; i < 30; i++)
        assert_int_equal(raw_request("127.0.0.5", "GET", "/healthz", NULL, NULL, NULL, &r), 200);
    /* The key's bucket refills at 5/s. */
    api_sleep_ms(1100);
    assert_int_equal(raw_request("127.0.0.5", "POST", "/v1/check", S.platform, NULL, check, &r),
                     200);

    /* Without a valid key: three wrong keys, then 429; a valid key from the address still
     * works (the limit is on guessing, not on the address). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(raw_request("127.0.0.7", "GET", "/v1/banks", "tdk_wrong", NULL, NULL, &r),
                         401);
    raw_request("127.0.0.7", "GET", "/v1/banks", "tdk_wrong", NULL, NULL, &r);
    expect_limited(&r, "fourth wrong key");
    assert_int_equal(raw_request("127.0.0.7", "GET", "/v1/banks", S.admin, NULL, NULL, &r), 200);

    assert_true(metric("takedown_http_rate_limited_total{limit=\"key\"} ") >= 1);
    assert_true(metric("takedown_http_rate_limited_total{limit=\"unauthenticated\"} ") >= 1);
    assert_true(metric("takedown_http_rate_limited_total{limit=\"address\"} ") >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_one_address), cmocka_unit_test(test_flood_many_addresses),
        cmocka_unit_test(test_header_deadline),   cmocka_unit_test(test_slow_body),
        cmocka_unit_test(test_rate_limits),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
