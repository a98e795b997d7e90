/* The evidence delivery package against libsodium's raw secretstream, over the same bytes, with the
 * same chunk size and the same file work, in the same run:
 *
 *   seal    package: td_package_create / record_write (1 MiB pieces) / finish (fsync, link);
 *           raw: init_push, one push per chunk, write(2) each, fsync.
 *   open    package: td_package_open into a directory (records/.partial-0, fsync, link);
 *           raw: read(2) each chunk, pull, write(2) the plaintext to a file, fsync.
 *   verify  package: td_package_open without an output directory; raw: read and pull only.
 *
 * The package does more than the raw stream (SHA-256 of every byte, framing, the record and
 * manifest messages, the signature): the ratio package / raw is what that costs. The data is
 * generated (an 8 MiB random pool read at shifting offsets) and streamed: memory must stay
 * constant whatever --mib is, which the peak RSS shows (getrusage ru_maxrss; run with a small and a
 * large --mib to compare). Files go to --dir (default $TMPDIR or /tmp) and are deleted at the end.
 *
 * Each measurement starts after sync(2), so that the writeback of an earlier step's files does not
 * fall into it.
 *
 * The package hashes on a second thread (src/evidence/package_hash.c): on an idle machine with two
 * cores that hides most of SHA-256's cost; on a busy one the threads share what CPU there is and
 * the wall-clock ratio approaches the CPU-time ratio, which is printed too (process CPU time,
 * all threads, of each measurement). To tell which, the two costs are measured alone first, in
 * memory on one thread (no file, no other work): the stream's decryption and OpenSSL's SHA-256
 * over the same bytes, and what they bound the verify ratio to with and without a second core.
 *
 *   bench_package [--mib N] [--chunk BYTES] [--runs R] [--dir DIR] [--only STEP]
 *     --mib    record size in MiB (default 1024)
 *     --chunk  chunk size of both (default 65536)
 *     --runs   repeat each measurement, keep the best (default 1)
 *     --only   seal, open or verify: measure that step alone (the files it reads are written
 *              first, unmeasured), e.g. to profile one step with perf
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/bench.h"
#include "takedown/evidence_package.h"

#define POOL ((size_t)8 << 20)
#define PIECE ((size_t)1 << 20)
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

static uint8_t *pool;
static uint64_t total; /* bytes of the record */
static size_t chunk = 65536;

/* The generated data: piece k of the record, PIECE bytes (or fewer at the end). */
static const uint8_t *piece(uint64_t k) { return pool + (k * 4099 * 64) % (POOL - PIECE); }

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_package: %s: %s\n", what, detail);
    exit(1);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            die("write", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static size_t read_full(int fd, uint8_t *p, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = read(fd, p + have, n - have);
        if (r < 0)
            die("read", strerror(errno));
        if (r == 0)
            break;
        have += (size_t)r;
    }
    return have;
}

/* CPU time of the process, all threads. */
static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

/* A measurement starts once earlier steps' dirty pages are on disk (so that their writeback does
 * not land in it) and covers wall and CPU time; cleanup before it is not counted. */
static double cpu_at_start, last_cpu;

static double start(void)
{
    sync();
    cpu_at_start = cpu_s();
    return bench_now();
}

static double stop(double t0)
{
    double wall = bench_now() - t0;
    last_cpu = cpu_s() - cpu_at_start;
    return wall;
}

/* ---- the package ---- */

static uint8_t rcpt_pk[32], rcpt_sk[32], sign_pk[32], sign_sk[64];
static char written_sha[65];

static double package_seal(const char *path)
{
    td_package_writer *w = NULL;
    td_package_options o = {{NULL, NULL}, chunk};
    td_error err;
    unlink(path);
    double t0 = start();
    if (td_package_create(path, rcpt_pk, sign_sk, "bench", &o, &w, &err) ||
        td_package_record_begin(w, "data.bin", "content", NULL, NULL, &err))
        die("package", err.message);
    for (uint64_t off = 0, k = 0; off < total; off += PIECE, k++) {
        size_t n = total - off < PIECE ? (size_t)(total - off) : PIECE;
        if (td_package_record_write(w, piece(k), n, &err))
            die("package write", err.message);
    }
    if (td_package_record_end(w, written_sha, &err) ||
        td_package_finish(w, "{\"bench\":true}", NULL, &err))
        die("package finish", err.message);
    return stop(t0);
}

static void remove_output(const char *dir)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/records/data.bin", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/records", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/manifest.sig", dir);
    unlink(p);
    rmdir(dir);
}

static double package_open(const char *path, const char *out_dir)
{
    td_package_report rep;
    td_error err;
    if (out_dir)
        remove_output(out_dir);
    double t0 = start();
    if (td_package_open(path, rcpt_sk, sign_pk, out_dir, &rep, &err))
        die("package open", err.message);
    double t = stop(t0);
    if (rep.n_records != 1 || rep.records[0].size != total ||
        strcmp(rep.records[0].sha256, written_sha) != 0)
        die("package open", "the record read back differs");
    td_package_report_clear(&rep);
    return t;
}

/* ---- the raw stream: what the package is compared with ---- */

static uint8_t raw_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];

static double raw_seal(const char *path, uint8_t *buf, uint8_t *cbuf)
{
    crypto_secretstream_xchacha20poly1305_state ss;
    uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    unlink(path);
    double t0 = start();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        die(path, strerror(errno));
    crypto_secretstream_xchacha20poly1305_init_push(&ss, header, raw_key);
    write_all(fd, header, sizeof header);
    /* The same 1 MiB pieces, cut into chunks. */
    uint64_t off = 0;
    for (uint64_t k = 0; off < total; k++) {
        const uint8_t *p = piece(k);
        size_t n = total - off < PIECE ? (size_t)(total - off) : PIECE;
        for (size_t i = 0; i < n; i += chunk) {
            size_t c = n - i < chunk ? n - i : chunk;
            uint8_t tag =
                off + i + c == total ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
            crypto_secretstream_xchacha20poly1305_push(&ss, cbuf, NULL, p + i, c, NULL, 0, tag);
            write_all(fd, cbuf, c + ABYTES);
        }
        off += n;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        die(path, strerror(errno));
    (void)buf;
    return stop(t0);
}

static double raw_open(const char *path, const char *out, uint8_t *buf, uint8_t *cbuf)
{
    crypto_secretstream_xchacha20poly1305_state ss;
    uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES], tag = 0;
    if (out)
        unlink(out);
    double t0 = start();
    int fd = open(path, O_RDONLY | O_CLOEXEC), ofd = -1;
    if (fd < 0)
        die(path, strerror(errno));
    if (out && (ofd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        die(out, strerror(errno));
    if (read_full(fd, header, sizeof header) != sizeof header ||
        crypto_secretstream_xchacha20poly1305_init_pull(&ss, header, raw_key) != 0)
        die(path, "bad header");
    uint64_t got = 0;
    while (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        size_t c = total - got < chunk ? (size_t)(total - got) : chunk;
        unsigned long long plen = 0;
        if (read_full(fd, cbuf, c + ABYTES) != c + ABYTES ||
            crypto_secretstream_xchacha20poly1305_pull(&ss, buf, &plen, &tag, cbuf, c + ABYTES,
                                                       NULL, 0) != 0)
            die(path, "authentication failed");
        if (ofd >= 0)
            write_all(ofd, buf, (size_t)plen);
        got += plen;
    }
    if (ofd >= 0 && (fsync(ofd) != 0 || close(ofd) != 0))
        die(out, strerror(errno));
    close(fd);
    if (got != total)
        die(path, "short");
    return stop(t0);
}

/* ---- the two costs alone ---- */

/* CPU time of this thread: what a step costs, whatever else the machine runs. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Decryption (pull) and SHA-256 (OpenSSL, what the package uses) of `mib` MiB in memory, one
 * thread, in CPU time: the pool's first 4 MiB sealed once as 64 KiB messages, then opened again
 * and again. */
static void primitives(long mib)
{
    enum { N = 64 };
    const size_t c = 65536;
    uint8_t *sealed = malloc(N * (c + ABYTES)), *plain = malloc(c);
    uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES], tag;
    crypto_secretstream_xchacha20poly1305_state ss;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!sealed || !plain || !md)
        die("memory", "out of memory");
    crypto_secretstream_xchacha20poly1305_init_push(&ss, header, raw_key);
    for (size_t i = 0; i < N; i++)
        crypto_secretstream_xchacha20poly1305_push(&ss, sealed + i * (c + ABYTES), NULL,
                                                   pool + i * c, c, NULL, 0, 0);
    uint64_t bytes = (uint64_t)mib << 20, done = 0;
    double t0 = thread_cpu_s();
    while (done < bytes) {
        crypto_secretstream_xchacha20poly1305_init_pull(&ss, header, raw_key);
        for (size_t i = 0; i < N && done < bytes; i++, done += c)
            if (crypto_secretstream_xchacha20poly1305_pull(
                    &ss, plain, NULL, &tag, sealed + i * (c + ABYTES), c + ABYTES, NULL, 0) != 0)
                die("primitives", "pull failed");
    }
    double pull_s = thread_cpu_s() - t0;
    unsigned char digest[32];
    unsigned int dlen = 0;
    t0 = thread_cpu_s();
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        die("primitives", "SHA-256 failed");
    for (done = 0; done < bytes; done += PIECE)
        if (EVP_DigestUpdate(md, pool + (done % (POOL - PIECE)), PIECE) != 1)
            die("primitives", "SHA-256 failed");
    if (EVP_DigestFinal_ex(md, digest, &dlen) != 1)
        die("primitives", "SHA-256 failed");
    double sha_s = thread_cpu_s() - t0;
    EVP_MD_CTX_free(md);
    free(sealed);
    free(plain);
    double m = (double)mib;
    printf("alone    decrypt %7.1f MiB/s   SHA-256 %7.1f MiB/s   (per CPU second, in memory, %ld "
           "MiB): "
           "decrypt+hash on one core %5.1f%% of decrypt, on two %5.1f%%\n",
           m / pull_s, m / sha_s, mib, 100.0 * pull_s / (pull_s + sha_s),
           100.0 * (sha_s > pull_s ? pull_s / sha_s : 1.0));
}

typedef struct timing {
    double wall, cpu; /* of the best run (least wall time) */
} timing;

/* Runs one measurement and keeps it in *t if it is the fastest so far. */
#define MEASURE(t, call)                                                                           \
    do {                                                                                           \
        double w_ = (call);                                                                        \
        if (w_ < (t).wall) {                                                                       \
            (t).wall = w_;                                                                         \
            (t).cpu = last_cpu;                                                                    \
        }                                                                                          \
    } while (0)

static void line(const char *what, timing p, timing r)
{
    double mib = (double)total / (1024.0 * 1024.0);
    printf("%-7s package %7.1f MiB/s (%6.2f s, cpu %6.2f s)   raw secretstream %7.1f MiB/s "
           "(%6.2f s, cpu %6.2f s)   ratio %5.1f%% (cpu %5.1f%%)\n",
           what, mib / p.wall, p.wall, p.cpu, mib / r.wall, r.wall, r.cpu, 100.0 * r.wall / p.wall,
           100.0 * r.cpu / p.cpu);
}

int main(int argc, char **argv)
{
    long mib = 1024, runs = 1;
    const char *only = NULL;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--mib") == 0)
            mib = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--chunk") == 0)
            chunk = (size_t)strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--runs") == 0)
            runs = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--dir") == 0)
            dir = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--only") == 0)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_package [--mib N] [--chunk BYTES] [--runs R] "
                            "[--dir DIR] [--only seal|open|verify]\n");
            return 2;
        }
    }
    if (mib < 1 || runs < 1 || chunk < TD_PACKAGE_CHUNK_MIN || chunk > TD_PACKAGE_CHUNK_MAX)
        die("arguments", "--mib >= 1, --runs >= 1, --chunk 1024..1048576");
    int do_seal = !only || strcmp(only, "seal") == 0, do_open = !only || strcmp(only, "open") == 0,
        do_verify = !only || strcmp(only, "verify") == 0;
    if (!do_seal && !do_open && !do_verify)
        die("arguments", "--only seal, open or verify");
    if (sodium_init() < 0)
        die("libsodium", "does not initialise");
    total = (uint64_t)mib << 20;
    pool = malloc(POOL);
    uint8_t *buf = malloc(chunk), *cbuf = malloc(chunk + ABYTES);
    if (!pool || !buf || !cbuf)
        die("memory", "out of memory");
    randombytes_buf(pool, POOL);
    crypto_box_keypair(rcpt_pk, rcpt_sk);
    crypto_sign_keypair(sign_pk, sign_sk);
    crypto_secretstream_xchacha20poly1305_keygen(raw_key);

    char pkg[4096], out_dir[4096], raw[4096], raw_out[4096];
    snprintf(pkg, sizeof pkg, "%s/bench-package-%ld.tdpkg", dir, (long)getpid());
    snprintf(out_dir, sizeof out_dir, "%s/bench-package-%ld.out", dir, (long)getpid());
    snprintf(raw, sizeof raw, "%s/bench-package-%ld.raw", dir, (long)getpid());
    snprintf(raw_out, sizeof raw_out, "%s/bench-package-%ld.raw-out", dir, (long)getpid());
    printf("bench_package: one record of %ld MiB, chunk %zu bytes, files in %s, best of %ld\n", mib,
           chunk, dir, runs);
    primitives(mib < 512 ? mib : 512);

    timing ps = {1e30, 0}, rs = ps, po = ps, ro = ps, pv = ps, rv = ps;
    if (!do_seal) { /* the files to read, unmeasured */
        raw_seal(raw, buf, cbuf);
        package_seal(pkg);
    }
    for (long r = 0; r < runs; r++) {
        if (do_seal) {
            MEASURE(rs, raw_seal(raw, buf, cbuf));
            MEASURE(ps, package_seal(pkg));
        }
        if (do_open) {
            MEASURE(ro, raw_open(raw, raw_out, buf, cbuf));
            MEASURE(po, package_open(pkg, out_dir));
        }
        if (do_verify) {
            MEASURE(rv, raw_open(raw, NULL, buf, cbuf));
            MEASURE(pv, package_open(pkg, NULL));
        }
    }
    struct stat sb;
    uint64_t pkg_size = stat(pkg, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    unlink(pkg);
    unlink(raw);
    unlink(raw_out);
    remove_output(out_dir);

    if (do_seal)
        line("seal", ps, rs);
    if (do_open)
        line("open", po, ro);
    if (do_verify)
        line("verify", pv, rv);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("package file: %llu bytes for %llu of data (overhead %.4f%%)\n",
           (unsigned long long)pkg_size, (unsigned long long)total,
           100.0 * (double)(pkg_size - total) / (double)total);
    printf("peak RSS: %.1f MiB (whole process; of which the data pool %.0f MiB)\n",
           (double)ru.ru_maxrss / 1024.0, (double)POOL / (1024.0 * 1024.0));
    free(pool);
    free(buf);
    free(cbuf);
    return 0;
}
