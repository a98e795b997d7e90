/* takedown: one binary, one subcommand per task. All behaviour lives in libtakedown; this file
 * only dispatches and prints help. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "takedown/takedown.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
};

static const struct command commands[] = {
    {"hash", td_cli_hash, td_cli_hash_usage, "hash image files (PDQ, MD5, SHA-256)"},
    {"compare", td_cli_compare, td_cli_compare_usage, "distance between two PDQ hashes"},
    {"match", td_cli_match, td_cli_match_usage, "find hashes within a distance in a list"},
    {"index", td_cli_index, td_cli_index_usage, "build an index snapshot from a hash list"},
    {"serve", td_cli_serve, td_cli_serve_usage, "run the matching service (HTTP API)"},
    {"key", td_cli_key, td_cli_key_usage, "create, list and revoke API keys"},
    {"audit", td_cli_audit, td_cli_audit_usage, "verify the audit log, checkpoints and proofs"},
    {"report", td_cli_report, td_cli_report_usage, "transparency report of a period (Art. 7)"},
    {"evidence", td_cli_evidence, td_cli_evidence_usage,
     "evidence master key, custodians, store status; delivery packages"},
    {"frank", td_cli_frank, td_cli_frank_usage,
     "message franking: a client's tag, public verification of a franked message"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_overview(FILE *out)
{
    fprintf(out,
            "takedown %s: detect known terrorist content, execute removal orders, keep "
            "evidence.\n\nUsage: takedown COMMAND [OPTIONS] [ARGS]\n\nCommands:\n",
            td_version());
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n\n", "help", "help [COMMAND]: this text, or a command's usage");
    fprintf(out, "Options: --version, --help\n");
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("takedown %s\n", td_version());
        return 0;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc < 3) {
            print_overview(stdout);
            return 0;
        }
        const struct command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "takedown: unknown command '%s' (see 'takedown help')\n", argv[2]);
            return 2;
        }
        fputs(c->usage, stdout);
        return 0;
    }
    const struct command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "takedown: unknown command '%s' (see 'takedown help')\n", name);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
