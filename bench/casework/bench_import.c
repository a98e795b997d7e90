/* Bulk import benchmark: generates N random PDQ lines ("pdq <hex>", python-threatexchange
 * format; default 1M), imports them into a fresh data directory through the public casework API
 * (streamed in 64 KiB chunks, as the server does), exports them back (both formats), closes and
 * reopens the service (loading N signals into the index), and prints lines/s for each step.
 *
 *   bench_import [-n LINES] [-d DIR] [-c] [-k]
 *     -c   import the CSV format instead of lines
 *     -k   keep the data directory (default: removed at the end)
 *     -i   import only (no export, no reopen), e.g. for profiling
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "support/bench.h"
#include "takedown/casework.h"

/* CPU time of the whole process (all threads), to read figures on a busy machine. */
static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static uint64_t next(uint64_t *s)
{
    uint64_t x = *s += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct sink {
    size_t bytes, lines;
    uint64_t sum; /* order-independent checksum of the exported lines */
    uint64_t line_hash;
} sink;

static int count_out(void *ctx, const char *data, size_t len)
{
    sink *s = ctx;
    s->bytes += len;
    for (size_t i = 0; i < len; i++) {
        s->line_hash = (s->line_hash ^ (unsigned char)data[i]) * 1099511628211ULL;
        if (data[i] == '\n') {
            s->lines++;
            s->sum += s->line_hash;
            s->line_hash = 1469598103934665603ULL;
        }
    }
    return 0;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int die(const char *what, const td_error *err)
{
    fprintf(stderr, "bench_import: %s: %s\n", what, err->message);
    return 1;
}

static td_status open_service(const char *dir, td_service **svc, td_error *err)
{
    td_service_options o;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    o.follow_interval_ms = 0;
    return td_service_open(dir, &o, svc, err);
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int csv = 0, keep = 0, import_only = 0, opt;
    char dir[4096] = "";
    while ((opt = getopt(argc, argv, "n:d:cki")) != -1) {
        switch (opt) {
        case 'n': n = (size_t)strtoull(optarg, NULL, 10); break;
        case 'd': snprintf(dir, sizeof dir, "%s", optarg); break;
        case 'c': csv = 1; break;
        case 'k': keep = 1; break;
        case 'i': import_only = 1; break;
        default:
            fprintf(stderr, "usage: bench_import [-n LINES] [-d DIR] [-c] [-k] [-i]\n");
            return 2;
        }
    }
    if (!*dir) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/bench-import-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }

    /* The list, generated up front so that only the import is timed. */
    const size_t line_len = csv ? sizeof "pdq," - 1 + 64 + sizeof ",bench,POSITIVE_CLASS," - 1 + 1
                                : sizeof "pdq " - 1 + 64 + 1;
    size_t header = csv ? strlen("signal_type,signal_str,collab,category,tags\n") : 0;
    char *list = malloc(header + n * line_len + 1);
    if (!list) {
        fprintf(stderr, "bench_import: out of memory\n");
        return 1;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t seed = 42;
    char *w = list;
    if (csv) {
        memcpy(w, "signal_type,signal_str,collab,category,tags\n", header);
        w += header;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(w, csv ? "pdq," : "pdq ", 4);
        w += 4;
        for (int k = 0; k < 4; k++) {
            uint64_t r = next(&seed);
            for (int b = 0; b < 16; b++)
                *w++ = hex[(r >> (60 - 4 * b)) & 15];
        }
        if (csv) {
            memcpy(w, ",bench,POSITIVE_CLASS,", 22);
            w += 22;
        }
        *w++ = '\n';
    }
    size_t list_len = (size_t)(w - list);

    td_service *svc = NULL;
    td_error err;
    td_bank b;
    if (open_service(dir, &svc, &err))
        return die("open", &err);
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "BENCH");
    if (td_bank_create(svc, &b, NULL, &err))
        return die("bank", &err);

    /* Import, streamed in 64 KiB chunks. */
    td_import *imp;
    td_import_options io;
    td_import_result res;
    td_import_options_init(&io);
    double t0 = bench_now(), c0 = cpu_s();
    if (td_import_begin(svc, "BENCH", &io, &imp, &err))
        return die("import begin", &err);
    for (size_t off = 0; off < list_len; off += 65536) {
        size_t len = list_len - off < 65536 ? list_len - off : 65536;
        if (td_import_feed(imp, list + off, len, &err)) {
            td_import_abort(imp);
            return die("import feed", &err);
        }
    }
    if (td_import_finish(imp, &res, &err))
        return die("import finish", &err);
    double t_import = bench_now() - t0, c_import = cpu_s() - c0;
    if (res.added != n || res.errors) {
        fprintf(stderr, "bench_import: added %llu of %zu (%llu errors)\n",
                (unsigned long long)res.added, n, (unsigned long long)res.errors);
        return 1;
    }
    td_import_result_clear(&res);
    if (import_only) {
        td_service_close(svc);
        printf("bench_import: %zu PDQ %s: import %.3f s (cpu %.3f s), %.0f lines/s\n", n,
               csv ? "CSV rows" : "lines", t_import, c_import, (double)n / t_import);
        free(list);
        if (!keep)
            remove_dir(dir);
        return 0;
    }

    /* Export, both formats. */
    sink te = {0, 0, 0, 1469598103934665603ULL}, cs = te, in = te;
    t0 = bench_now();
    c0 = cpu_s();
    if (td_export(svc, "BENCH", TD_LIST_LINES, 0, count_out, &te, &err))
        return die("export", &err);
    double t_export = bench_now() - t0, c_export = cpu_s() - c0;
    t0 = bench_now();
    c0 = cpu_s();
    if (td_export(svc, "BENCH", TD_LIST_CSV, 1, count_out, &cs, &err))
        return die("export csv", &err);
    double t_export_csv = bench_now() - t0, c_export_csv = cpu_s() - c0;
    if (!csv) {
        (void)count_out(&in, list, list_len);
        if (te.lines != n || te.sum != in.sum) {
            fprintf(stderr, "bench_import: the export differs from the imported list\n");
            return 1;
        }
    } else if (cs.lines != n + 1) {
        fprintf(stderr, "bench_import: the CSV export has %zu lines\n", cs.lines);
        return 1;
    }

    /* A check finds an imported hash. */
    td_hashes h;
    td_check_result cr;
    td_hashes_init(&h);
    h.n_pdq = 1;
    if (td_pdq_from_hex(list + header + (csv ? 4 : 4), 64, &h.pdq[0]) ||
        td_check_hashes(svc, &h, NULL, &cr, &err))
        return die("check", &err);
    if (cr.match_count < 1) {
        fprintf(stderr, "bench_import: an imported hash does not match\n");
        return 1;
    }
    td_check_result_clear(&cr);

    /* Reopen: loads N signals into the index. */
    td_service_close(svc);
    t0 = bench_now();
    c0 = cpu_s();
    if (open_service(dir, &svc, &err))
        return die("reopen", &err);
    double t_reopen = bench_now() - t0, c_reopen = cpu_s() - c0;
    td_service_stats stats;
    if (td_service_get_stats(svc, &stats, &err))
        return die("stats", &err);
    td_service_close(svc);

    printf("bench_import: %zu PDQ %s (%.1f MB)\n", n, csv ? "CSV rows" : "lines",
           (double)list_len / 1e6);
    printf("  import       %7.3f s (cpu %7.3f s)  %10.0f lines/s\n", t_import, c_import,
           (double)n / t_import);
    printf("  export (te)  %7.3f s (cpu %7.3f s)  %10.0f lines/s\n", t_export, c_export,
           (double)n / t_export);
    printf("  export (csv) %7.3f s (cpu %7.3f s)  %10.0f lines/s\n", t_export_csv, c_export_csv,
           (double)n / t_export_csv);
    printf("  reopen       %7.3f s (cpu %7.3f s)  %10.0f signals/s (%lld indexed)\n", t_reopen,
           c_reopen, (double)n / t_reopen, (long long)stats.pdq_indexed);
    free(list);
    if (!keep)
        remove_dir(dir);
    else
        printf("  data kept in %s\n", dir);
    return 0;
}
