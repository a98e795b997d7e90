/* takedown match: every entry of a hash list (or index snapshot) within a Hamming distance of
 * each query. Thin: loading, hashing and searching are library calls; this file only parses
 * arguments and prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "takedown/index.h"
#include "takedown/takedown.h"

const char td_cli_match_usage[] =
    "Usage: takedown match (--db FILE | --index SNAPSHOT) [options] QUERY...\n"
    "\n"
    "Prints every hash of FILE (or of a snapshot made by 'takedown index build') within the\n"
    "radius of each query. QUERY is a PDQ hash (64 hex digits) or an image file, hashed first.\n"
    "FILE holds one hash per line: bare hex or 'pdq <hex>', anything after the hash ignored;\n"
    "blank lines and lines starting with '#' are skipped.\n"
    "\n"
    "  --db FILE         the hash list to search\n"
    "  --index SNAPSHOT  an index snapshot to search instead\n"
    "  --radius R        maximum Hamming distance, 0..63 (default 31)\n"
    "  --dihedral        also search the 7 rotated/flipped variants of image queries\n"
    "  --queries QFILE   more query hashes, one per line (same format as FILE)\n"
    "  --json            one JSON object per match: query, line, distance, variant\n"
    "  --stats           load/build time and query time on stderr\n"
    "\n"
    "Output: 'QUERY LINE DISTANCE' per match (LINE is 1-based in FILE), plus the variant name\n"
    "with --dihedral. Exit status: 0 some match, 1 no match, 2 error.\n";

typedef struct query {
    char *label; /* what the user gave: hex or path */
    td_pdq hashes[TD_DIH_COUNT];
    int n;
} query;

static double now_ms(void) { return (double)td__monotonic_ns() / 1e6; }

static int is_hex64(const char *s)
{
    size_t n = strlen(s);
    if (n != TD_PDQ_HEX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int cmp_match(const void *a, const void *b)
{
    const td_index_match *x = a, *y = b;
    if (x->variant != y->variant)
        return x->variant - y->variant;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return 0;
}

static td_index *load_index(const char *db, const char *snapshot, size_t *entries)
{
    td_error err;
    td_index *idx = NULL;
    td_error_clear(&err);
    if (snapshot) {
        if (td_index_load(&idx, snapshot, NULL, &err) != TD_OK) {
            fprintf(stderr, "takedown match: %s\n", err.message);
            return NULL;
        }
        td_index_stats stats;
        td_index_get_stats(idx, &stats);
        *entries = stats.live;
        return idx;
    }
    td_index_hashlist list;
    if (td_index_hashlist_read(db, NULL, &list, &err) != TD_OK) {
        fprintf(stderr, "takedown match: %s\n", err.message);
        return NULL;
    }
    if (td_index_build(&idx, list.hashes, list.lines, list.count, NULL, &err) != TD_OK) {
        fprintf(stderr, "takedown match: %s: %s\n", db, err.message);
        idx = NULL;
    }
    *entries = list.count;
    td_index_hashlist_clear(&list);
    return idx;
}

/* Adds the queries of argv and of qfile; returns -1 after printing an error. */
static int collect_queries(char **args, int nargs, const char *qfile, int dihedral, query **out,
                           size_t *count)
{
    td_index_hashlist qlist = {0};
    td_error err;
    td_error_clear(&err);
    if (qfile && td_index_hashlist_read(qfile, NULL, &qlist, &err) != TD_OK) {
        fprintf(stderr, "takedown match: %s\n", err.message);
        return -1;
    }
    size_t total = (size_t)nargs + qlist.count;
    query *qs = td__calloc(total ? total : 1, sizeof *qs);
    if (!qs) {
        td_index_hashlist_clear(&qlist);
        fprintf(stderr, "takedown match: out of memory\n");
        return -1;
    }
    size_t n = 0;
    int rc = 0;
    for (int i = 0; i < nargs && rc == 0; i++) {
        query *q = &qs[n];
        if (is_hex64(args[i])) {
            td_index_hashlist one;
            if (td_index_hashlist_parse(args[i], strlen(args[i]), NULL, &one, &err) != TD_OK ||
                one.count != 1) {
                fprintf(stderr, "takedown match: '%s' is not a PDQ hash\n", args[i]);
                rc = -1;
            } else {
                q->hashes[0] = one.hashes[0];
                q->n = 1;
            }
            td_index_hashlist_clear(&one);
        } else {
            td_hash_options opts;
            td_file_hashes fh;
            td_hash_options_default(&opts);
            opts.dihedral = dihedral;
            if (td_hash_file(args[i], &opts, &fh, &err) != TD_OK) {
                fprintf(stderr, "takedown match: %s\n", err.message);
                rc = -1;
            } else {
                if (fh.quality < TD_PDQ_MIN_QUALITY)
                    fprintf(stderr, "takedown match: warning: %s has PDQ quality %d (< %d)\n",
                            args[i], fh.quality, TD_PDQ_MIN_QUALITY);
                q->n = fh.n_pdq < 1 ? 1 : fh.n_pdq;
                memcpy(q->hashes, fh.pdq, sizeof q->hashes);
            }
        }
        if (rc == 0) {
            q->label = args[i];
            n++;
        }
    }
    for (size_t i = 0; i < qlist.count && rc == 0; i++) {
        char hex[TD_PDQ_HEX_LEN + 1];
        td_pdq_to_hex(&qlist.hashes[i], hex);
        qs[n].label = td__strdup(hex);
        qs[n].hashes[0] = qlist.hashes[i];
        qs[n].n = 1;
        if (!qs[n].label) {
            fprintf(stderr, "takedown match: out of memory\n");
            rc = -1;
        }
        n++;
    }
    td_index_hashlist_clear(&qlist);
    *out = qs;
    *count = n;
    return rc;
}

int td_cli_match(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"index", required_argument, NULL, 'i'},
                                             {"radius", required_argument, NULL, 'r'},
                                             {"dihedral", no_argument, NULL, 'D'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"queries", required_argument, NULL, 'q'},
                                             {"stats", no_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = NULL, *snapshot = NULL, *qfile = NULL;
    int radius = TD_INDEX_DEFAULT_RADIUS, dihedral = 0, json = 0, stats = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'i': snapshot = optarg; break;
        case 'q': qfile = optarg; break;
        case 'D': dihedral = 1; break;
        case 'j': json = 1; break;
        case 's': stats = 1; break;
        case 'r': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v > TD_INDEX_MAX_RADIUS) {
                fprintf(stderr, "takedown match: --radius must be 0..%d, not '%s'\n",
                        TD_INDEX_MAX_RADIUS, optarg);
                return 2;
            }
            radius = (int)v;
            break;
        }
        case 'h': fputs(td_cli_match_usage, stdout); return 0;
        default: fputs(td_cli_match_usage, stderr); return 2;
        }
    }
    if ((db == NULL) == (snapshot == NULL) || (optind >= argc && !qfile)) {
        fputs(td_cli_match_usage, stderr);
        return 2;
    }

    double t0 = now_ms();
    size_t entries = 0;
    td_index *idx = load_index(db, snapshot, &entries);
    if (!idx)
        return 2;
    double t1 = now_ms();
    query *qs = NULL;
    size_t nq = 0;
    int rc = collect_queries(argv + optind, argc - optind, qfile, dihedral, &qs, &nq) ? 2 : 1;
    double t2 = now_ms();

    td_index_results res;
    td_error err;
    size_t matches = 0;
    double tq = 0;
    td_index_results_init(&res, 0);
    for (size_t i = 0; i < nq && rc != 2; i++) {
        double a = now_ms();
        res.count = 0;
        if (td_index_query_batch(idx, qs[i].hashes, (size_t)qs[i].n, radius, &res, &err) != TD_OK) {
            fprintf(stderr, "takedown match: %s: %s\n", qs[i].label, err.message);
            rc = 2;
            break;
        }
        tq += now_ms() - a;
        qsort(res.items, res.count, sizeof *res.items, cmp_match);
        for (size_t j = 0; j < res.count; j++) {
            const td_index_match *m = &res.items[j];
            const char *vname = td_dihedral_name((td_dihedral)m->variant);
            if (json) {
                fputs("{\"query\":", stdout);
                json_string(qs[i].label);
                printf(",\"line\":%llu,\"distance\":%u,\"variant\":\"%s\"}\n",
                       (unsigned long long)m->id, m->distance, vname);
            } else if (dihedral) {
                printf("%s %llu %u %s\n", qs[i].label, (unsigned long long)m->id, m->distance,
                       vname);
            } else {
                printf("%s %llu %u\n", qs[i].label, (unsigned long long)m->id, m->distance);
            }
        }
        matches += res.count;
    }
    if (rc != 2 && matches)
        rc = 0;
    if (stats)
        fprintf(stderr,
                "load: %.1f ms (%zu entries, %s, kernel %s)\nhash queries: %.1f ms\n"
                "query: %.3f ms for %zu queries (%.0f/s), radius %d, %zu matches\n",
                t1 - t0, entries, snapshot ? "snapshot" : "built from list", td_index_kernel_name(),
                t2 - t1, tq, nq, tq > 0 ? nq / (tq / 1e3) : 0.0, radius, matches);
    td_index_results_clear(&res);
    for (size_t i = 0; i < nq; i++)
        if (qs[i].label && (i >= (size_t)(argc - optind)))
            td__free(qs[i].label);
    td__free(qs);
    td_index_free(idx);
    fflush(stdout);
    return rc;
}
