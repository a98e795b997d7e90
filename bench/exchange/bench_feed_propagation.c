/* Propagation through signed feeds between takedown instances (docs/feeds.md, issue 14 point 6):
 * three real `takedown serve` processes on this machine. A publishes bank SRC; B follows it by
 * polling every --poll-ms (no push); C polls once a minute and is woken by a push (the signed
 * webhook of POST /v1/exchanges/{id}/push, sent here as A's incident module would).
 *
 * Measured, side by side:
 * - one hash added on A until an upload check of it on C answers `block` (with a push), against
 *   the same on B (without a push: its next poll), median and worst of --rounds;
 * - 100,000 signals (--signals) imported on A until C holds them all (with a push), against the
 *   same list imported into C directly (POST /v1/banks/{b}/import, the peer of the feed).
 * Goals (issue 14): <= 2 s for one hash with a push, <= 10 s for 100,000 signals.
 *
 * Usage: bench_feed_propagation [--signals N] [--rounds N] [--poll-ms MS] [--keep] */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/bench.h"
#include "support/client.h"
#include "support/server.h"

#define NAME "bench_feed_propagation"
#define PUSH_SECRET "bench-push-secret-0123456789"

static const char *const args[] = {"--exchange-allow-private", "1", "--exchange-min-interval-ms",
                                   "100", NULL};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void die(const char *what)
{
    fprintf(stderr, NAME ": %s\n", what);
    exit(1);
}

static bench_server A, B, C;
static bench_client ca, cb, cc;
static char peer_b[128], peer_c[128], pk_hex[65], plat_b[128], plat_c[128];
static long long xc;

static void key(bench_client *c, const char *admin, const char *role, char out[128])
{
    char body[64];
    snprintf(body, sizeof body, "{\"role\": \"%s\"}", role);
    json_t *j = bench_client_must(c, 201, "POST", "/v1/keys", admin, body);
    snprintf(out, 128, "%s", json_string_value(json_object_get(j, "key")));
    json_decref(j);
}

static long long subscribe(bench_client *c, const char *admin, const char *url, const char *peer,
                           long interval_ms, int push)
{
    char body[1024];
    json_decref(bench_client_must(c, 201, "POST", "/v1/banks", admin,
                                  "{\"name\": \"FROM_A\", \"action\": \"block\"}"));
    snprintf(body, sizeof body,
             "{\"name\": \"from-a\", \"type\": \"takedown\", \"url\": \"%s\", \"group\": \"SRC\","
             " \"bank\": \"FROM_A\", \"interval_ms\": %ld, \"credentials\": {\"api_key\": \"%s\","
             " \"public_key\": \"%s\"}%s}",
             url, interval_ms, peer, pk_hex, push ? ", \"push_secret\": \"" PUSH_SECRET "\"" : "");
    json_t *j = bench_client_must(c, 201, "POST", "/v1/exchanges", admin, body);
    long long id = (long long)json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

static void push_c(void)
{
    const char *body = "{\"event\":\"feed.changed\",\"bank\":\"SRC\"}";
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char header[128], path[64];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)PUSH_SECRET, strlen(PUSH_SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    int n = snprintf(header, sizeof header, "X-Takedown-Signature: sha256=");
    for (size_t i = 0; i < sizeof mac; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%02x", mac[i]);
    snprintf(path, sizeof path, "/v1/exchanges/%lld/push", xc);
    if (bench_client_call(&cc, "POST", path, NULL, body, strlen(body), header) != 202)
        die("the push was not accepted");
}

static int blocks(bench_client *c, const char *key_text, const char *md5)
{
    char body[96];
    int n = snprintf(body, sizeof body, "{\"md5\": \"%s\"}", md5);
    if (bench_client_call(c, "POST", "/v1/check", key_text, body, (size_t)n, NULL) != 200)
        die("a check failed");
    return strstr(c->resp, "\"verdict\":\"block\"") != NULL;
}

/* One hash added on A; seconds until the check on the subscriber blocks it. */
static double one_hash(bench_client *sub, const char *sub_key, int push, unsigned round)
{
    char md5[33], body[128];
    snprintf(md5, sizeof md5, "%08x%08x%08x%08x", 0xfeedu, round, push ? 1u : 2u, 0xbeefu);
    snprintf(body, sizeof body, "{\"type\": \"md5\", \"value\": \"%s\"}", md5);
    double t0 = bench_now();
    json_decref(bench_client_must(&ca, 201, "POST", "/v1/banks/SRC/signals", A.admin_key, body));
    if (push)
        push_c();
    while (!blocks(sub, sub_key, md5)) {
        if (bench_now() - t0 > 120)
            die("a hash did not propagate within 120 s");
        sleep_ms(5);
    }
    return bench_now() - t0;
}

static long long count(bench_client *c, const char *admin, const char *bank)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/banks/%s", bank);
    json_t *j = bench_client_must(c, 200, "GET", path, admin, NULL);
    long long n = (long long)json_integer_value(json_object_get(j, "signal_count"));
    json_decref(j);
    return n;
}

static char *list_text(unsigned first, unsigned n, size_t *len)
{
    size_t cap = (size_t)n * 40 + 1, k = 0;
    char *b = malloc(cap);
    if (!b)
        die("out of memory");
    for (unsigned i = first; i < first + n; i++)
        k += (size_t)snprintf(b + k, cap - k, "md5 %08x%08x%08x%08x\n", i, i * 2654435761u,
                              i ^ 0x5bd1e995u, i * 40503u);
    *len = k;
    return b;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    unsigned signals = 100000, rounds = 5;
    long poll_ms = 1000;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--signals") == 0 && i + 1 < argc)
            signals = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--poll-ms") == 0 && i + 1 < argc)
            poll_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: " NAME " [--signals N] [--rounds N] [--poll-ms MS] [--keep]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 100 || signals < 1 || poll_ms < 100)
        die("--rounds 1..100, --signals >= 1, --poll-ms >= 100");
    if (sodium_init() < 0)
        die("libsodium");
    char root[] = "/tmp/bench-feed-XXXXXX", da[64], db[64], dc[64], log[96];
    if (!mkdtemp(root))
        die("mkdtemp");
    snprintf(da, sizeof da, "%s/a", root);
    snprintf(db, sizeof db, "%s/b", root);
    snprintf(dc, sizeof dc, "%s/c", root);
    snprintf(log, sizeof log, "%s/servers.log", root);
    if (!bench_server_start(&A, TD_CLI_PATH, da, args, NULL, log) ||
        !bench_server_start(&B, TD_CLI_PATH, db, args, NULL, log) ||
        !bench_server_start(&C, TD_CLI_PATH, dc, args, NULL, log))
        die("a server did not start (see the log in the bench folder)");
    bench_client_init(&ca, NAME, A.url, 64 << 20);
    bench_client_init(&cb, NAME, B.url, 1 << 20);
    bench_client_init(&cc, NAME, C.url, 1 << 20);
    json_decref(bench_client_must(&ca, 201, "POST", "/v1/banks", A.admin_key,
                                  "{\"name\": \"SRC\", \"action\": \"block\"}"));
    key(&ca, A.admin_key, "peer", peer_b);
    key(&ca, A.admin_key, "peer", peer_c);
    json_t *k = bench_client_must(&ca, 200, "GET", "/v1/feeds/keys", NULL, NULL);
    snprintf(pk_hex, sizeof pk_hex, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(k, "keys"), 0), "public_key")));
    json_decref(k);
    (void)subscribe(&cb, B.admin_key, A.url, peer_b, poll_ms, 0);
    xc = subscribe(&cc, C.admin_key, A.url, peer_c, 60000, 1);
    key(&cb, B.admin_key, "platform", plat_b);
    key(&cc, C.admin_key, "platform", plat_c);

    printf(NAME ": A publishes, B polls every %ld ms, C polls every 60 s and is pushed; %u "
                "rounds\n",
           poll_ms, rounds);
    double *tp = calloc(rounds, sizeof *tp), *tn = calloc(rounds, sizeof *tn);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (unsigned r = 0; r < rounds; r++) {
        /* A random pause first, so that the rounds meet the poll at random phases. */
        sleep_ms((int)(bench_rand(&rng) % (uint64_t)poll_ms));
        tp[r] = one_hash(&cc, plat_c, 1, r);
        sleep_ms((int)(bench_rand(&rng) % (uint64_t)poll_ms));
        tn[r] = one_hash(&cb, plat_b, 0, r);
    }
    qsort(tp, rounds, sizeof *tp, cmp);
    qsort(tn, rounds, sizeof *tn, cmp);
    double mp = tp[rounds / 2], mn = tn[rounds / 2];
    printf("one hash A -> upload blocked, with a push (C):   median %.3f s, worst %.3f s "
           "(goal <= 2 s: %s)\n",
           mp, tp[rounds - 1], tp[rounds - 1] <= 2.0 ? "met" : "missed");
    printf("one hash A -> upload blocked, polling (B):       median %.3f s, worst %.3f s\n", mn,
           tn[rounds - 1]);
    printf("  push / poll: %.3f\n", mp / mn);

    /* 100,000 signals A -> C, and the same list imported into C directly. */
    size_t len;
    char *list = list_text(1, signals, &len);
    long long base = count(&cc, C.admin_key, "FROM_A");
    double t0 = bench_now();
    if (bench_client_call(&ca, "POST", "/v1/banks/SRC/import", A.admin_key, list, len, NULL) != 200)
        die("the import on A failed");
    double t_import_a = bench_now() - t0;
    push_c();
    while (count(&cc, C.admin_key, "FROM_A") < base + signals) {
        if (bench_now() - t0 > 600)
            die("the signals did not reach C within 600 s");
        sleep_ms(20);
    }
    double t_feed = bench_now() - t0;
    json_decref(bench_client_must(&cc, 201, "POST", "/v1/banks", C.admin_key,
                                  "{\"name\": \"DIRECT\", \"action\": \"block\"}"));
    t0 = bench_now();
    if (bench_client_call(&cc, "POST", "/v1/banks/DIRECT/import", C.admin_key, list, len, NULL) !=
        200)
        die("the direct import on C failed");
    double t_direct = bench_now() - t0;
    free(list);
    printf("%u signals imported on A (%.3f s) -> all on C (push): %.3f s, %.0f signals/s "
           "(goal <= 10 s: %s)\n",
           signals, t_import_a, t_feed, signals / t_feed, t_feed <= 10.0 ? "met" : "missed");
    printf("the same list imported into C directly:          %.3f s, %.0f signals/s\n", t_direct,
           signals / t_direct);
    printf("  feed / direct import: %.2f\n", t_feed / t_direct);

    bench_client_free(&ca);
    bench_client_free(&cb);
    bench_client_free(&cc);
    bench_server_stop(&A, 40);
    bench_server_stop(&B, 40);
    bench_server_stop(&C, 40);
    free(tp);
    free(tn);
    if (!keep) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, NAME ": could not remove %s\n", root);
    } else {
        printf("data kept in %s\n", root);
    }
    return 0;
}
