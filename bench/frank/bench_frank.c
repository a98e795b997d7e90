/* Message franking on one core, against the primitives it is made of, in the same run:
 *
 *   issue   td_frank_issue: the canonical context, HMAC-SHA256 over tag || context (OpenSSL),
 *           the signed bytes, an Ed25519 signature (libsodium); td_frank_keyring_issue adds the
 *           key ring's read lock. Peers: crypto_sign_detached over the same signed bytes, and
 *           HMAC-SHA256 over the same tag || context (OpenSSL's EVP_MAC as the library calls it,
 *           OpenSSL's one-shot HMAC(), libsodium's crypto_auth_hmacsha256). The ratio
 *           issue / (sign + HMAC) is what franking costs over its primitives.
 *   verify  td_frank_verify of a report: the tag recomputed over the message, the frank, the
 *           constant-time comparison, Ed25519 verification; for a 100-byte, a 64 KiB and a
 *           1 MiB message. Peers: HMAC-SHA256 over the message, crypto_sign_verify_detached,
 *           and their sum.
 *
 * Each figure is the best of --runs runs of at least --seconds each (a run repeats the operation
 * until that time has passed), the operations of a group interleaved run by run, on the calling
 * thread only; CPU time of the thread (the ratios use it: other processes' load does not count)
 * and wall time are printed. The load average is printed before and after, and whether the CPU
 * has the SHA extensions (SHA-256's speed bounds the large messages).
 *
 *   bench_frank [--seconds S] [--runs R]   (defaults 0.5 and 3) */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/bench.h"
#include "takedown/frank.h"

static double min_seconds = 0.5;
static long runs = 3;

typedef void (*op_fn)(void *arg);

typedef struct op {
    const char *name;
    op_fn fn;
    double cpu_ns, wall_ns; /* per call, the best run */
} op;

/* CPU time of the calling thread: what the operation itself took, whatever else the machine
 * runs (wall time is printed beside it). */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The operations of a group in turn, --runs times over (interleaved, so that a change in the
 * machine's load does not favour one of them); each run repeats an operation for at least
 * --seconds. The best run of each is kept. */
static void measure(op *ops, size_t n, void *arg)
{
    for (size_t i = 0; i < n; i++)
        ops[i].cpu_ns = ops[i].wall_ns = 1e30;
    for (long r = 0; r < runs; r++)
        for (size_t i = 0; i < n; i++) {
            double t0 = bench_now(), c0 = thread_cpu(), t;
            long count = 0, batch = 1;
            do {
                for (long k = 0; k < batch; k++)
                    ops[i].fn(arg);
                count += batch;
                if (batch < 1 << 20)
                    batch *= 2;
                t = bench_now() - t0;
            } while (t < min_seconds);
            double cpu = (thread_cpu() - c0) * 1e9 / (double)count, wall = t * 1e9 / (double)count;
            if (cpu < ops[i].cpu_ns)
                ops[i].cpu_ns = cpu;
            if (wall < ops[i].wall_ns)
                ops[i].wall_ns = wall;
        }
}

static void print_ops(const op *ops, size_t n)
{
    printf("  %-52s %12s %12s %12s\n", "", "CPU/call", "wall/call", "calls/s CPU");
    for (size_t i = 0; i < n; i++)
        printf("  %-52s %9.2f us %9.2f us %12.0f\n", ops[i].name, ops[i].cpu_ns / 1000.0,
               ops[i].wall_ns / 1000.0, 1e9 / ops[i].cpu_ns);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_frank: %s\n", what);
    exit(1);
}

/* ---- the workloads ---- */

typedef struct work {
    td_frank_key key;
    td_frank_keyring *ring;
    td_frank_context ctx;
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN];
    uint8_t context[TD_FRANK_CONTEXT_MAX], signed_msg[TD_FRANK_SIGNED_MAX];
    uint8_t tag_ctx[TD_FRANK_TAG_LEN + TD_FRANK_CONTEXT_MAX];
    size_t context_len, signed_len, tag_ctx_len;
    const uint8_t *msg;
    size_t msg_len;
    td_frank_proof proof;
    EVP_MAC *mac;
    uint8_t out[64];
    unsigned sink;
} work;

static void op_issue(void *arg)
{
    work *w = arg;
    if (td_frank_issue(&w->key, w->tag, &w->ctx, &w->proof, NULL) != TD_OK)
        die("td_frank_issue failed");
}

static void op_ring_issue(void *arg)
{
    work *w = arg;
    if (td_frank_keyring_issue(w->ring, w->tag, &w->ctx, &w->proof, NULL) != TD_OK)
        die("td_frank_keyring_issue failed");
}

static void op_sign(void *arg)
{
    work *w = arg;
    crypto_sign_detached(w->out, NULL, w->signed_msg, w->signed_len, w->key.sign_secret);
}

/* HMAC-SHA256 of data under key with OpenSSL's EVP_MAC, the library's way (a context per call,
 * the HMAC implementation fetched once). */
static void evp_hmac(work *w, const uint8_t *key, size_t key_len, const uint8_t *data, size_t len)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end()};
    size_t out_len = 0;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(w->mac);
    if (!c || !EVP_MAC_init(c, key, key_len, params) || !EVP_MAC_update(c, data, len) ||
        !EVP_MAC_final(c, w->out, &out_len, 32))
        die("EVP_MAC failed");
    EVP_MAC_CTX_free(c);
}

static void op_frank_evp(void *arg)
{
    work *w = arg;
    evp_hmac(w, w->key.hmac_key, 32, w->tag_ctx, w->tag_ctx_len);
}

static void op_frank_oneshot(void *arg)
{
    work *w = arg;
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), w->key.hmac_key, 32, w->tag_ctx, w->tag_ctx_len, w->out, &n))
        die("HMAC failed");
}

static void op_frank_sodium(void *arg)
{
    work *w = arg;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, w->key.hmac_key, 32);
    crypto_auth_hmacsha256_update(&st, w->tag_ctx, w->tag_ctx_len);
    crypto_auth_hmacsha256_final(&st, w->out);
}

static void op_verify(void *arg)
{
    work *w = arg;
    td_frank_failure why;
    if (td_frank_verify(&w->key, w->salt, w->msg, w->msg_len, &w->ctx, &w->proof, &why, NULL) !=
        TD_OK)
        die("td_frank_verify refused a valid report");
}

static void op_tag_evp(void *arg)
{
    work *w = arg;
    evp_hmac(w, w->salt, TD_FRANK_SALT_LEN, w->msg, w->msg_len);
}

static void op_tag_sodium(void *arg)
{
    work *w = arg;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, w->salt, TD_FRANK_SALT_LEN);
    crypto_auth_hmacsha256_update(&st, w->msg, w->msg_len);
    crypto_auth_hmacsha256_final(&st, w->out);
}

static void op_sig_verify(void *arg)
{
    work *w = arg;
    if (crypto_sign_verify_detached(w->proof.signature, w->signed_msg, w->signed_len,
                                    w->key.sign_public) != 0)
        die("the signature does not verify");
}

/* ---- output ---- */

static void loadavg(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            snprintf(buf, sizeof buf, "?\n");
        fclose(f);
    }
    printf("load average %s: %s", when, buf);
}

static int cpu_has(const char *flag)
{
    char line[8192], want[64];
    int found = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(want, sizeof want, " %s ", flag);
    while (f && !found && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            size_t n = strlen(line);
            if (n && line[n - 1] == '\n')
                line[n - 1] = ' ';
            found = strstr(line, want) != NULL;
            break;
        }
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
            min_seconds = strtod(argv[++i], NULL);
        else if (i + 1 < argc && strcmp(argv[i], "--runs") == 0)
            runs = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_frank [--seconds S] [--runs R]\n");
            return 2;
        }
    }
    if (min_seconds <= 0 || runs < 1)
        die("--seconds > 0 and --runs >= 1");
    if (sodium_init() < 0)
        die("libsodium does not initialise");
    static work w;
    if (td_frank_key_generate(1, 0, &w.key, NULL) != TD_OK ||
        td_frank_keyring_new(&w.ring, NULL) != TD_OK ||
        td_frank_keyring_put(w.ring, &w.key, NULL) != TD_OK)
        die("key");
    if (!(w.mac = EVP_MAC_fetch(NULL, "HMAC", NULL)))
        die("EVP_MAC_fetch");
    /* A typical delivery: account and conversation ids of a few dozen bytes. */
    static const char sender[] = "user:8f14e45fceea167a5a36dedd4bea2543";
    static const char conv[] = "conversation:c9f0f895fb98ab9159f51fd0297e236d";
    w.ctx = (td_frank_context){sender, sizeof sender - 1, conv, sizeof conv - 1,
                               INT64_C(1767225600000)};
    randombytes_buf(w.salt, sizeof w.salt);
    randombytes_buf(w.tag, sizeof w.tag);
    if (td_frank_context_encode(&w.ctx, w.context, &w.context_len, NULL) != TD_OK)
        die("context");
    memcpy(w.tag_ctx, w.tag, TD_FRANK_TAG_LEN);
    memcpy(w.tag_ctx + TD_FRANK_TAG_LEN, w.context, w.context_len);
    w.tag_ctx_len = TD_FRANK_TAG_LEN + w.context_len;
    if (td_frank_issue(&w.key, w.tag, &w.ctx, &w.proof, NULL) != TD_OK ||
        td_frank_signed_encode(1, w.proof.frank, w.tag, &w.ctx, w.signed_msg, &w.signed_len,
                               NULL) != TD_OK)
        die("issue");

    printf("bench_frank: one thread, best of %ld runs of >= %.2f s each; SHA extensions: %s, "
           "AES-NI: %s\n",
           runs, min_seconds, cpu_has("sha_ni") ? "yes" : "no", cpu_has("aes") ? "yes" : "no");
    printf("OpenSSL %s, libsodium %s\n", OpenSSL_version(OPENSSL_VERSION_STRING),
           sodium_version_string());
    loadavg("at start");

    printf("\nissue (context %zu bytes, HMAC input %zu bytes, signed bytes %zu)\n", w.context_len,
           w.tag_ctx_len, w.signed_len);
    op iss[] = {
        {"td_frank_issue", op_issue, 0, 0},
        {"td_frank_keyring_issue (read lock)", op_ring_issue, 0, 0},
        {"peer: crypto_sign_detached (Ed25519)", op_sign, 0, 0},
        {"peer: HMAC-SHA256, EVP_MAC (the library's call)", op_frank_evp, 0, 0},
        {"peer: HMAC-SHA256, OpenSSL HMAC() one-shot", op_frank_oneshot, 0, 0},
        {"peer: HMAC-SHA256, libsodium", op_frank_sodium, 0, 0},
    };
    measure(iss, sizeof iss / sizeof iss[0], &w);
    print_ops(iss, sizeof iss / sizeof iss[0]);
    double issue = iss[0].cpu_ns, sign = iss[2].cpu_ns, h_evp = iss[3].cpu_ns;
    double h_sod = iss[5].cpu_ns;
    printf("  %-52s %10.3f\n", "ratio issue / (sign + EVP_MAC HMAC)", issue / (sign + h_evp));
    printf("  %-52s %10.3f\n", "ratio issue / (sign + libsodium HMAC)", issue / (sign + h_sod));
    printf("  %-52s %9.1f%%\n", "share of the signature in issue", 100.0 * sign / issue);

    static const size_t sizes[] = {100, 64 << 10, 1 << 20};
    uint8_t *msg = malloc((size_t)1 << 20);
    if (!msg)
        die("out of memory");
    randombytes_buf(msg, (size_t)1 << 20);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        w.msg = msg;
        w.msg_len = sizes[s];
        uint8_t tag[TD_FRANK_TAG_LEN];
        td_frank_tag(w.salt, msg, sizes[s], tag);
        if (td_frank_issue(&w.key, tag, &w.ctx, &w.proof, NULL) != TD_OK ||
            td_frank_signed_encode(1, w.proof.frank, tag, &w.ctx, w.signed_msg, &w.signed_len,
                                   NULL) != TD_OK)
            die("issue");
        memcpy(w.tag_ctx, tag, TD_FRANK_TAG_LEN);
        printf("\nverify a report of %zu bytes\n", sizes[s]);
        op ver[] = {
            {"td_frank_verify", op_verify, 0, 0},
            {"peer: tag, HMAC-SHA256 of the message, EVP_MAC", op_tag_evp, 0, 0},
            {"peer: tag, HMAC-SHA256 of the message, libsodium", op_tag_sodium, 0, 0},
            {"peer: frank, HMAC-SHA256 of tag || context", op_frank_evp, 0, 0},
            {"peer: crypto_sign_verify_detached (Ed25519)", op_sig_verify, 0, 0},
        };
        measure(ver, sizeof ver / sizeof ver[0], &w);
        print_ops(ver, sizeof ver / sizeof ver[0]);
        double v = ver[0].cpu_ns, t_evp = ver[1].cpu_ns, fr = ver[3].cpu_ns, sv = ver[4].cpu_ns;
        printf("  %-52s %10.3f\n", "ratio verify / (tag + frank + Ed25519), EVP_MAC",
               v / (t_evp + fr + sv));
        printf("  share: tag %.1f%%, Ed25519 %.1f%%; message hashed at %.0f MiB/s\n",
               100.0 * t_evp / v, 100.0 * sv / v,
               (double)sizes[s] / (t_evp / 1e9) / (1024.0 * 1024.0));
    }
    printf("\n");
    loadavg("at end");
    free(msg);
    EVP_MAC_free(w.mac);
    td_frank_keyring_free(w.ring);
    td_frank_key_wipe(&w.key);
    return 0;
}
