/* Configuration for takedown serve: the file, the flags and the string options (see
 * serve_config.h). Everything lands in the environment so that the table's one reader
 * (td_config_get) gives the same answer to the CLI and to the library. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve_config.h"
#include "takedown/config.h"

#define LINE_MAX_BYTES 4096

typedef struct string_option {
    const char *name;
    const char *def;
    const char *help;
} string_option;

static const string_option string_options[] = {
    {"listen", "127.0.0.1:8080", "address and port to bind (port 0: any free port)"},
    {"data", "takedown-data", "data directory (SQLite database, snapshots)"},
    {"store", "", "postgresql:// URL of a database nodes share (empty: DATA/takedown.db)"},
    {"fetch_allow", "", "hosts media may be fetched from: comma-separated suffixes, '*': any"},
};
#define N_STRINGS (sizeof string_options / sizeof string_options[0])

static const string_option *find_string(const char *name)
{
    for (size_t i = 0; i < N_STRINGS; i++)
        if (strcmp(string_options[i].name, name) == 0)
            return &string_options[i];
    return NULL;
}

/* TAKEDOWN_<NAME>, dashes turned into underscores. */
static int env_name(const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "TAKEDOWN_");
    for (const char *p = name; *p; p++) {
        if ((size_t)n + 1 >= cap)
            return 0;
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    return 1;
}

/* Validates name = value and exports it. */
static int set_option(const char *name, const char *value, int overwrite, const char *where)
{
    char canon[96], env[128];
    size_t n = strlen(name);
    if (n >= sizeof canon) {
        fprintf(stderr, "takedown: %s: unknown option '%s'\n", where, name);
        return 0;
    }
    for (size_t i = 0; i <= n; i++)
        canon[i] = name[i] == '-' ? '_' : name[i];
    const td_config_option *opt = td_config_find(canon);
    if (!opt && !find_string(canon)) {
        fprintf(stderr, "takedown: %s: unknown option '%s' (see --options)\n", where, name);
        return 0;
    }
    if (opt) {
        int64_t v;
        td_error err;
        if (td_config_parse(opt, value, &v, &err) != TD_OK) {
            fprintf(stderr, "takedown: %s: %s\n", where, err.message);
            return 0;
        }
    } else if (!*value) {
        fprintf(stderr, "takedown: %s: '%s' needs a value\n", where, name);
        return 0;
    }
    if (!env_name(canon, env, sizeof env) || setenv(env, value, overwrite) != 0) {
        fprintf(stderr, "takedown: %s: cannot set '%s'\n", where, name);
        return 0;
    }
    return 1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int read_config_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "takedown: cannot open config file '%s'\n", path);
        return 0;
    }
    char line[LINE_MAX_BYTES];
    int lineno = 0, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        char where[512];
        snprintf(where, sizeof where, "%s line %d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "takedown: %s: line longer than %d bytes\n", where, LINE_MAX_BYTES);
            ok = 0;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "takedown: %s: expected 'name = value'\n", where);
            ok = 0;
            break;
        }
        *eq = '\0';
        ok = set_option(trim(s), trim(eq + 1), 0, where);
    }
    fclose(f);
    return ok;
}

static void print_options(void)
{
    printf("%-24s %-16s %s\n", "option", "default", "help");
    for (size_t i = 0; i < N_STRINGS; i++)
        printf("%-24s %-16s %s\n", string_options[i].name, string_options[i].def,
               string_options[i].help);
    for (const td_config_option *o = td_config_options(); o->name; o++)
        printf("%-24s %-16lld %s\n", o->name, (long long)o->def, o->help);
}

int td__cli_apply_config(int argc, char **argv, const char *command, const char *usage)
{
    /* The file first (it must not override the environment or the flags). */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "takedown %s: --config needs a file\n", command);
                return 2;
            }
            if (!read_config_file(argv[i + 1]))
                return 2;
            i++;
        }
    }
    /* Every remaining argument is a --NAME VALUE pair. */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--options") == 0) {
            print_options();
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "takedown %s: unexpected argument '%s'\n%s", command, a, usage);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "takedown %s: %s needs a value\n", command, a);
            return 2;
        }
        if (strcmp(a, "--config") != 0) {
            char where[128];
            snprintf(where, sizeof where, "flag %.100s", a);
            if (!set_option(a + 2, argv[i + 1], 1, where))
                return 2;
        }
    }
    return -1;
}

const char *td__cli_config_string(const char *name)
{
    char env[128];
    const string_option *o = find_string(name);
    if (env_name(name, env, sizeof env)) {
        const char *v = getenv(env);
        if (v && *v)
            return v;
    }
    return o ? o->def : "";
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
