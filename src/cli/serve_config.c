/* Configuration for the CLI commands (see serve_config.h): each source is applied to one
 * td_config by an explicit call, in order of precedence, and the result is handed to the
 * library. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve_config.h"

extern char **environ;

static void print_options(void)
{
    printf("%-24s %-16s %s\n", "option", "default", "help");
    for (const td_config_option *o = td_config_options(); o->name; o++) {
        if (o->type == TD_CONFIG_STRING)
            printf("%-24s %-16s %s\n", o->name, o->def_text, o->help);
        else
            printf("%-24s %-16lld %s\n", o->name, (long long)o->def, o->help);
    }
}

/* Prints a configuration error of the file or a flag. */
static void report(const char *where, const td_error *err)
{
    const char *hint = err->code == TD_ERR_NOT_FOUND ? " (see --options)" : "";
    if (where)
        fprintf(stderr, "takedown: %s: %s%s\n", where, err->message, hint);
    else
        fprintf(stderr, "takedown: %s%s\n", err->message, hint);
}

/* Applies the --config files, in the order given. */
static int apply_files(td_config *cfg, int argc, char **argv, const char *command)
{
    td_error err;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") != 0)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "takedown %s: --config needs a file\n", command);
            return 0;
        }
        if (td_config_load_file(cfg, argv[i + 1], &err) != TD_OK) {
            report(NULL, &err);
            return 0;
        }
        i++;
    }
    return 1;
}

/* Applies every --NAME VALUE pair but --config; *rc is set when the command should stop. */
static int apply_flags(td_config *cfg, int argc, char **argv, const char *command,
                       const char *usage, int *rc)
{
    td_error err;
    *rc = 2;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            *rc = 0;
            return 0;
        }
        if (strcmp(a, "--options") == 0) {
            print_options();
            *rc = 0;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "takedown %s: unexpected argument '%s'\n%s", command, a, usage);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "takedown %s: %s needs a value\n", command, a);
            return 0;
        }
        if (strcmp(a, "--config") == 0)
            continue;
        if (td_config_set(cfg, a + 2, argv[i + 1], &err) != TD_OK) {
            char where[128];
            snprintf(where, sizeof where, "flag %.100s", a);
            report(where, &err);
            return 0;
        }
    }
    return 1;
}

td_config *td__cli_config(int argc, char **argv, const char *command, const char *usage, int *rc)
{
    td_config *cfg = NULL;
    td_error err;
    *rc = 2;
    if (td_config_new(&cfg, &err) != TD_OK) {
        fprintf(stderr, "takedown %s: %s\n", command, err.message);
        return NULL;
    }
    /* Lowest precedence first: the file, the environment, then the flags. A malformed
     * environment value is reported after the flags, so that --help and --options still work. */
    if (!apply_files(cfg, argc, argv, command))
        goto fail;
    td_status env_st = td_config_load_env(cfg, environ, &err);
    if (!apply_flags(cfg, argc, argv, command, usage, rc))
        goto fail;
    if (env_st != TD_OK) {
        fprintf(stderr, "takedown %s: %s\n", command, err.message);
        goto fail;
    }
    return cfg;
fail:
    td_config_free(cfg);
    return NULL;
}

td_config *td__cli_config_env(const char *command)
{
    td_config *cfg = NULL;
    td_error err;
    if (td_config_new(&cfg, &err) != TD_OK || td_config_load_env(cfg, environ, &err) != TD_OK) {
        fprintf(stderr, "takedown %s: %s\n", command, err.message);
        td_config_free(cfg);
        return NULL;
    }
    return cfg;
}

int td__cli_parse_listen(const char *text, char *host, size_t cap, unsigned *port)
{
    const char *colon;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return 0;
        hlen = (size_t)(close - text - 1);
        text++;
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return 0;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= cap)
        return 0;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    char *end = NULL;
    if (!isdigit((unsigned char)colon[1]))
        return 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || p > 65535)
        return 0;
    *port = (unsigned)p;
    return 1;
}
