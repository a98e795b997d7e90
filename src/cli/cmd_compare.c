/* takedown compare HASH HASH: the Hamming distance of two PDQ hashes and the match verdict. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "takedown/takedown.h"

const char td_cli_compare_usage[] =
    "Usage: takedown compare HASH HASH\n"
    "\n"
    "Prints the Hamming distance between two PDQ hashes (64 hex digits each) and whether they\n"
    "match (distance <= 31): 'distance 12 match' or 'distance 140 no-match'.\n"
    "Exit status: 0 match, 1 no match, 2 usage error.\n";

int td_cli_compare(int argc, char **argv)
{
    td_pdq a, b;
    if (argc != 3) {
        fputs(td_cli_compare_usage, stderr);
        return 2;
    }
    for (int i = 1; i <= 2; i++) {
        if (td_pdq_from_hex(argv[i], strlen(argv[i]), i == 1 ? &a : &b) != TD_OK) {
            fprintf(stderr, "takedown compare: '%s' is not a PDQ hash (64 hex digits)\n", argv[i]);
            return 2;
        }
    }
    int d = td_pdq_distance(&a, &b);
    int match = d <= TD_PDQ_MATCH_DISTANCE;
    printf("distance %d %s\n", d, match ? "match" : "no-match");
    return match ? 0 : 1;
}
