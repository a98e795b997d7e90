/* takedown evidence: create the evidence master key with its custodians, and show the state of
 * the evidence store. The master key exists only as Shamir shares: `init` prints each
 * custodian's share once on stdout and nothing keeps them (the store holds a commitment to each
 * share, never the share). Sealing then works without any custodian; opening needs k of them
 * (over HTTP, docs/evidence.md). All the work is in libtakedown (include/takedown/evidence.h).
 * Runs next to a live server (SQLite WAL): a server started without the master key retries the
 * preservation of confirmed orders on its clock once the key exists. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "core/alloc.h"
#include "takedown/orders.h"

const char td_cli_evidence_usage[] =
    "Usage: takedown evidence init --data DIR --threshold K --custodians NAME1,NAME2,...\n"
    "       takedown evidence status --data DIR\n"
    "\n"
    "init    create the evidence master key, split among the named custodians so that any K of\n"
    "        them can open sealed evidence (2 <= K <= number of custodians <= 255); prints one\n"
    "        line per custodian with its share, SHOWN ONCE: hand each share to its custodian\n"
    "        and keep no copy. Refused when a master key exists already.\n"
    "status  the master key (threshold, custodians) and counts of cases, items and open\n"
    "        release requests (JSON); never any content or key\n"
    "\n"
    "A custodian approves a release over HTTP with an API key of role 'custodian' whose name\n"
    "is the custodian's name (takedown key create --role custodian --name NAME).\n";

#define MAX_CUSTODIANS 255
#define MAX_NAME 128

typedef struct session {
    td_config *cfg; /* borrowed by the service: freed after it */
    td_service *svc;
    td_orders *orders;
} session;

static int open_session(const char *dir, session *s)
{
    td_service_options so;
    td_orders_options oo;
    td_error err;
    memset(s, 0, sizeof *s);
    if (!dir) {
        fputs("takedown evidence: --data DIR is required\n", stderr);
        return -1;
    }
    if (!(s->cfg = td__cli_config_env("evidence")))
        return -1;
    if (td_service_options_from_config(&so, s->cfg, &err) != TD_OK) {
        fprintf(stderr, "takedown evidence: %s\n", err.message);
        goto fail;
    }
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    if (td_service_open(dir, &so, &s->svc, &err) != TD_OK) {
        fprintf(stderr, "takedown evidence: %s: %s\n", dir, err.message);
        goto fail;
    }
    if (td_orders_options_from_config(&oo, s->cfg, &err) != TD_OK ||
        td_orders_open(s->svc, &oo, &s->orders, &err) != TD_OK) {
        fprintf(stderr, "takedown evidence: %s\n", err.message);
        goto fail;
    }
    return 0;
fail:
    td_service_close(s->svc);
    s->svc = NULL;
    td_config_free(s->cfg);
    s->cfg = NULL;
    return -1;
}

static void close_session(session *s)
{
    td_orders_close(s->orders);
    td_service_close(s->svc);
    td_config_free(s->cfg);
}

/* Splits "a, b,c" into trimmed names (in place); returns the count or -1. */
static int split_names(char *list, const char **names, int cap)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
            t[--len] = '\0';
        if (!len || len > MAX_NAME) {
            fprintf(stderr, "takedown evidence: custodian names are 1 to %d bytes\n", MAX_NAME);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(names[i], t) == 0) {
                fprintf(stderr, "takedown evidence: custodian '%s' is named twice\n", t);
                return -1;
            }
        if (n == cap) {
            fprintf(stderr, "takedown evidence: at most %d custodians\n", cap);
            return -1;
        }
        names[n++] = t;
    }
    return n;
}

static int cmd_init(const char *dir, const char *threshold, const char *custodians)
{
    const char *names[MAX_CUSTODIANS];
    char *end = NULL;
    if (!threshold || !custodians) {
        fputs("takedown evidence init: --threshold K and --custodians NAME1,NAME2,... are "
              "required\n",
              stderr);
        return 2;
    }
    long k = strtol(threshold, &end, 10);
    if (!*threshold || *end || k < 2 || k > MAX_CUSTODIANS) {
        fprintf(stderr, "takedown evidence init: --threshold: '%s' is not a number from 2\n",
                threshold);
        return 2;
    }
    char *list = td__strdup(custodians);
    if (!list) {
        fputs("takedown evidence init: out of memory\n", stderr);
        return 1;
    }
    int n = split_names(list, names, MAX_CUSTODIANS);
    if (n < 0 || k > n) {
        if (n >= 0)
            fprintf(stderr,
                    "takedown evidence init: a threshold of %ld needs at least %ld custodians "
                    "(%d named)\n",
                    k, k, n);
        td__free(list);
        return 2;
    }
    if (sodium_init() < 0) {
        fputs("takedown evidence init: libsodium does not initialise\n", stderr);
        td__free(list);
        return 1;
    }
    session s;
    if (open_session(dir, &s)) {
        td__free(list);
        return 1;
    }
    int rc = 1;
    td_error err;
    td_evidence *ev = td_orders_evidence(s.orders);
    td_evidence_status status;
    td_share *shares = sodium_allocarray((size_t)n, sizeof *shares);
    if (!shares) {
        fputs("takedown evidence init: out of memory\n", stderr);
    } else if (td_evidence_get_status(ev, &status, &err) != TD_OK) {
        fprintf(stderr, "takedown evidence init: %s\n", err.message);
    } else if (status.has_master) {
        fprintf(stderr,
                "takedown evidence init: a master key exists already (%u of %u custodians); it "
                "is never created twice\n",
                status.k, status.n);
    } else if (td_evidence_init_master(ev, "cli", (unsigned)k, (unsigned)n, names, shares, &err) !=
               TD_OK) {
        fprintf(stderr, "takedown evidence init: %s\n", err.message);
    } else {
        printf("# evidence master key created: any %ld of these %d custodians open evidence.\n"
               "# Each share is SHOWN ONCE and stored nowhere: hand it to its custodian only.\n",
               k, n);
        for (int i = 0; i < n; i++) {
            char text[TD_SHARE_TEXT_LEN + 1];
            td_share_format(&shares[i], text);
            printf("custodian %s share %s\n", names[i], text);
            sodium_memzero(text, sizeof text);
        }
        fflush(stdout);
        rc = 0;
    }
    sodium_free(shares); /* wipes */
    close_session(&s);
    td__free(list);
    return rc;
}

static int cmd_status(const char *dir)
{
    session s;
    td_error err;
    td_evidence_status st;
    td_evidence_custodian *cust = NULL;
    size_t n_cust = 0;
    if (open_session(dir, &s))
        return 1;
    td_evidence *ev = td_orders_evidence(s.orders);
    int rc = 1;
    if (td_evidence_get_status(ev, &st, &err) != TD_OK ||
        td_evidence_custodians(ev, &cust, &n_cust, &err) != TD_OK) {
        fprintf(stderr, "takedown evidence status: %s\n", err.message);
    } else {
        json_t *j = json_pack("{s:b}", "master", st.has_master);
        if (j && st.has_master) {
            json_t *names = json_array();
            for (size_t i = 0; names && i < n_cust; i++)
                json_array_append_new(names, json_string(cust[i].name));
            json_object_set_new(j, "threshold", json_integer(st.k));
            json_object_set_new(j, "custodians", names ? names : json_null());
            json_object_set_new(j, "master_created_ms", json_integer(st.master_created_ms));
        }
        if (j) {
            json_object_set_new(j, "cases", json_integer(st.cases));
            json_object_set_new(j, "cases_held", json_integer(st.cases_held));
            json_object_set_new(j, "cases_purged", json_integer(st.cases_purged));
            json_object_set_new(j, "items", json_integer(st.items));
            json_object_set_new(j, "requests_open", json_integer(st.requests_open));
        }
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!text) {
            fputs("takedown evidence status: out of memory\n", stderr);
            goto out;
        }
        puts(text);
        free(text);
        rc = 0;
    }
out:
    td_free(cust);
    close_session(&s);
    return rc;
}

int td_cli_evidence(int argc, char **argv)
{
    const char *dir = NULL, *threshold = NULL, *custodians = NULL;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(td_cli_evidence_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--data") == 0)
            slot = &dir;
        else if (strcmp(argv[i], "--threshold") == 0)
            slot = &threshold;
        else if (strcmp(argv[i], "--custodians") == 0)
            slot = &custodians;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "takedown evidence: unknown or incomplete option '%s'\n%s", argv[i],
                    td_cli_evidence_usage);
            return 2;
        }
        *slot = argv[++i];
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(dir, threshold, custodians);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(dir);
    fprintf(stderr, "takedown evidence: unknown subcommand '%s'\n%s", argv[1],
            td_cli_evidence_usage);
    return 2;
}
