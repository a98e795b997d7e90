/* takedown index: build an index snapshot from a hash list, or describe one. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/clock.h"
#include "takedown/index.h"

const char td_cli_index_usage[] =
    "Usage: takedown index build --db FILE -o SNAPSHOT [--stats]\n"
    "       takedown index info SNAPSHOT\n"
    "\n"
    "build: reads FILE (one PDQ hash per line, as for 'takedown match --db') and writes an index\n"
    "snapshot that 'takedown match --index SNAPSHOT' loads without rebuilding; matches report\n"
    "the line numbers of FILE. info: checks a snapshot and prints its size and layout.\n";

static double now_ms(void) { return (double)td__monotonic_ns() / 1e6; }

static int index_build(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"stats", no_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    const char *db = NULL, *out = NULL;
    int stats = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'o': out = optarg; break;
        case 's': stats = 1; break;
        default: fputs(td_cli_index_usage, stderr); return 2;
        }
    }
    if (!db || !out || optind != argc) {
        fputs(td_cli_index_usage, stderr);
        return 2;
    }
    td_error err;
    td_index_hashlist list;
    td_index *idx;
    double t0 = now_ms();
    td_error_clear(&err);
    if (td_index_hashlist_read(db, NULL, &list, &err) != TD_OK) {
        fprintf(stderr, "takedown index: %s\n", err.message);
        return 2;
    }
    double t1 = now_ms();
    td_status st = td_index_build(&idx, list.hashes, list.lines, list.count, NULL, &err);
    size_t n = list.count;
    td_index_hashlist_clear(&list);
    if (st != TD_OK) {
        fprintf(stderr, "takedown index: %s: %s\n", db, err.message);
        return 2;
    }
    double t2 = now_ms();
    st = td_index_save(idx, out, &err);
    td_index_free(idx);
    if (st != TD_OK) {
        fprintf(stderr, "takedown index: %s\n", err.message);
        return 2;
    }
    if (stats)
        fprintf(stderr, "read: %.1f ms, build: %.1f ms, write: %.1f ms, %zu entries\n", t1 - t0,
                t2 - t1, now_ms() - t2, n);
    return 0;
}

static int index_info(int argc, char **argv)
{
    if (argc != 2) {
        fputs(td_cli_index_usage, stderr);
        return 2;
    }
    td_error err;
    td_index *idx;
    td_error_clear(&err);
    if (td_index_load(&idx, argv[1], NULL, &err) != TD_OK) {
        fprintf(stderr, "takedown index: %s\n", err.message);
        return 2;
    }
    td_index_stats s;
    td_index_get_stats(idx, &s);
    printf("entries %zu\nchunks %u\nbytes %zu\nkernel %s\n", s.live, s.chunks, s.bytes,
           td_index_kernel_name());
    td_index_free(idx);
    return 0;
}

int td_cli_index(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "build") == 0)
        return index_build(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "info") == 0)
        return index_info(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(td_cli_index_usage, stdout);
        return 0;
    }
    fputs(td_cli_index_usage, stderr);
    return 2;
}
