/* takedown key: create, list and revoke API keys on a data directory, e.g. to give a platform
 * its key before the server runs, or to recover when the admin key is lost. The key is printed
 * once on stdout (only its SHA-256 is stored). Runs next to a live server (SQLite WAL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "takedown/casework.h"

const char td_cli_key_usage[] =
    "Usage: takedown key create --data DIR --role ROLE [--name NAME]\n"
    "       takedown key list --data DIR\n"
    "       takedown key revoke --data DIR ID\n"
    "\n"
    "ROLE: admin, moderator, platform, auditor, authority, custodian, legal or peer (another\n"
    "takedown instance reading this one's signed feeds). An authority's key is then linked to its "
    "authority over HTTP\n"
    "(POST /v1/authorities/{id}/keys); a custodian's key is named as the custodian (--name,\n"
    "as in 'takedown evidence init'). 'create' prints the new key on stdout (shown once).\n"
    "DIR defaults to $TAKEDOWN_DATA, then ./takedown-data.\n";

/* The roles a key may be created with: those POST /v1/keys admits (every role has routes). */
static int creatable(td_role role) { return role >= TD_ROLE_ADMIN && role <= TD_ROLE_LEGAL; }

static td_service *open_service(const char *dir, const td_config *cfg)
{
    td_service_options opts;
    td_error err;
    td_service *svc = NULL;
    if (td_service_options_from_config(&opts, cfg, &err) != TD_OK) {
        fprintf(stderr, "takedown key: %s\n", err.message);
        return NULL;
    }
    opts.webhook_worker = 0;
    opts.follow_interval_ms = 0;
    if (td_service_open(dir, &opts, &svc, &err) != TD_OK) {
        fprintf(stderr, "takedown key: %s: %s\n", dir, err.message);
        return NULL;
    }
    return svc;
}

static int key_list(td_service *svc)
{
    td_key_info *keys = NULL;
    size_t n = 0;
    td_error err;
    if (td_key_list(svc, &keys, &n, &err) != TD_OK) {
        fprintf(stderr, "takedown key: %s\n", err.message);
        return 1;
    }
    printf("%-6s %-10s %-24s %-13s %s\n", "id", "role", "name", "prefix", "state");
    for (size_t i = 0; i < n; i++)
        printf("%-6lld %-10s %-24s %-13s %s\n", (long long)keys[i].id, td_role_name(keys[i].role),
               keys[i].name, keys[i].prefix, keys[i].revoked_ms ? "revoked" : "valid");
    td_free(keys);
    return 0;
}

int td_cli_key(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(td_cli_key_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1], *data = NULL, *role = NULL, *name = NULL, *id_text = NULL;
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--data") == 0)
            slot = &data;
        else if (strcmp(argv[i], "--role") == 0)
            slot = &role;
        else if (strcmp(argv[i], "--name") == 0)
            slot = &name;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "takedown key: %s needs a value\n", argv[i]);
                return 2;
            }
            *slot = argv[++i];
        } else if (argv[i][0] != '-' && !id_text) {
            id_text = argv[i];
        } else {
            fprintf(stderr, "takedown key: unexpected argument '%s'\n%s", argv[i],
                    td_cli_key_usage);
            return 2;
        }
    }
    int create = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0,
        revoke = strcmp(sub, "revoke") == 0;
    td_role rl = TD_ROLE_ADMIN;
    long long id = 0;
    if (!create && !list && !revoke) {
        fprintf(stderr, "takedown key: unknown subcommand '%s'\n%s", sub, td_cli_key_usage);
        return 2;
    }
    if (create && (!role || td_role_parse(role, &rl) != TD_OK || !creatable(rl))) {
        fprintf(stderr, "takedown key create: --role must be admin, moderator, platform, auditor, "
                        "authority, custodian, legal or peer\n");
        return 2;
    }
    if (revoke) {
        char *end = NULL;
        id = id_text ? strtoll(id_text, &end, 10) : 0;
        if (!id_text || *end || id <= 0) {
            fprintf(stderr, "takedown key revoke: give the key's id (see 'takedown key list')\n");
            return 2;
        }
    } else if (id_text) {
        fprintf(stderr, "takedown key: unexpected argument '%s'\n", id_text);
        return 2;
    }
    td_config *cfg = td__cli_config_env("key");
    if (!cfg)
        return 1;
    if (!data)
        data = td_config_string(cfg, "data");
    td_service *svc = open_service(data, cfg);
    if (!svc) {
        td_config_free(cfg);
        return 1;
    }
    int rc = 0;
    td_error err;
    if (create) {
        char key[TD_KEY_TEXT_MAX];
        td_key_info info;
        if (td_key_create(svc, rl, name, key, &info, &err) != TD_OK) {
            fprintf(stderr, "takedown key create: %s\n", err.message);
            rc = 1;
        } else {
            printf("%s\n", key);
            fprintf(stderr, "takedown: key %lld (%s, %s) created\n", (long long)info.id,
                    td_role_name(info.role), info.name);
        }
        memset(key, 0, sizeof key);
    } else if (list) {
        rc = key_list(svc);
    } else if (td_key_revoke(svc, id, &err) != TD_OK) {
        fprintf(stderr, "takedown key revoke: %s\n", err.message);
        rc = 1;
    }
    td_service_close(svc);
    td_config_free(cfg);
    return rc;
}
