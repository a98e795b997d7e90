/* takedown evidence: create the evidence master key with its custodians, show the state of the
 * evidence store, and, for a recipient authority, make its key pair and open a delivery package.
 * The master key exists only as Shamir shares: `init` prints each custodian's share once on stdout
 * and nothing keeps them (the store holds a commitment to each share, never the share). Sealing
 * then works without any custodian; opening needs k of them (over HTTP, docs/evidence.md). All the
 * work is in libtakedown (include/takedown/evidence.h, evidence_package.h).
 * Runs next to a live server (SQLite WAL): a server started without the master key retries the
 * preservation of confirmed orders on its clock once the key exists. `keygen` and `open` need no
 * data directory: they are what an authority runs on its own machine (docs/evidence-package.md). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "core/alloc.h"
#include "takedown/evidence_package.h"
#include "takedown/orders.h"

const char td_cli_evidence_usage[] =
    "Usage: takedown evidence init --data DIR --threshold K --custodians NAME1,NAME2,...\n"
    "       takedown evidence status --data DIR\n"
    "       takedown evidence keygen --out KEYFILE\n"
    "       takedown evidence open --key KEYFILE [--signer PUBKEY_HEX_OR_FILE] PACKAGE DIR\n"
    "\n"
    "init    create the evidence master key, split among the named custodians so that any K of\n"
    "        them can open sealed evidence (2 <= K <= number of custodians <= 255); prints one\n"
    "        line per custodian with its share, SHOWN ONCE: hand each share to its custodian\n"
    "        and keep no copy. Refused when a master key exists already.\n"
    "status  the master key (threshold, custodians) and counts of cases, items and open\n"
    "        release requests (JSON); never any content or key\n"
    "keygen  for a recipient authority: create an X25519 key pair, the secret key in KEYFILE\n"
    "        (64 hex digits, mode 0600, never overwritten); prints the public key (64 hex\n"
    "        digits), which goes into section L of its evidence orders\n"
    "open    decrypt and verify an evidence delivery package into DIR (DIR/records/NAME,\n"
    "        DIR/manifest.json, DIR/manifest.sig) with the secret key of KEYFILE; --signer is\n"
    "        the operator's Ed25519 public key (64 hex digits, or a file holding them): without\n"
    "        it the package's origin is NOT checked. Prints the verified manifest's summary;\n"
    "        any tampering is reported on stderr, nothing is left in DIR, exit status 1.\n"
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

/* ---- the recipient's side: keygen and open ---- */

#define KEY_HEX (2 * TD_PACKAGE_X25519_KEY_LEN)

/* 64 hex digits, surrounded by whitespace at most, into 32 bytes. */
static int parse_key_hex(const char *text, size_t len, uint8_t out[32])
{
    size_t bin_len = 0;
    const char *end = NULL;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                   text[len - 1] == '\t'))
        len--;
    while (len && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')) {
        text++;
        len--;
    }
    return len == KEY_HEX && sodium_hex2bin(out, 32, text, len, NULL, &bin_len, &end) == 0 &&
                   bin_len == 32 && end == text + len
               ? 0
               : -1;
}

/* Reads a small key file (at most 1 KiB) into buf; -1 with a message on failure. private_key:
 * refused when group or others may read it, like ssh does. */
static int read_key_file(const char *path, char *buf, size_t cap, size_t *len, int private_key)
{
    struct stat sb;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "takedown evidence: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "takedown evidence: %s is not a regular file\n", path);
        fclose(f);
        return -1;
    }
    if (private_key && (sb.st_mode & 077)) {
        fprintf(stderr,
                "takedown evidence: %s may be read by group or others (mode %03o): refused; "
                "chmod 600 it\n",
                path, (unsigned)(sb.st_mode & 0777));
        fclose(f);
        return -1;
    }
    *len = fread(buf, 1, cap, f);
    int too_long = *len == cap;
    fclose(f);
    if (too_long) {
        fprintf(stderr, "takedown evidence: %s is not a key file (too long)\n", path);
        return -1;
    }
    return 0;
}

static int cmd_keygen(const char *out)
{
    uint8_t pk[TD_PACKAGE_X25519_KEY_LEN], sk[TD_PACKAGE_X25519_KEY_LEN];
    char sk_hex[KEY_HEX + 2], pk_hex[KEY_HEX + 1];
    td_error err;
    if (!out) {
        fputs("takedown evidence keygen: --out KEYFILE is required\n", stderr);
        return 2;
    }
    if (td_package_keygen(pk, sk, &err) != TD_OK) {
        fprintf(stderr, "takedown evidence keygen: %s\n", err.message);
        return 1;
    }
    sodium_bin2hex(sk_hex, sizeof sk_hex, sk, sizeof sk);
    sodium_memzero(sk, sizeof sk);
    sk_hex[KEY_HEX] = '\n';
    int rc = 1;
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "takedown evidence keygen: cannot create %s: %s%s\n", out, strerror(errno),
                errno == EEXIST ? " (a key file is never overwritten)" : "");
    } else {
        ssize_t w = write(fd, sk_hex, KEY_HEX + 1);
        int ok = w == KEY_HEX + 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok) {
            fprintf(stderr, "takedown evidence keygen: writing %s failed\n", out);
            unlink(out);
        } else {
            sodium_bin2hex(pk_hex, sizeof pk_hex, pk, sizeof pk);
            printf("%s\n", pk_hex);
            fflush(stdout);
            fprintf(stderr,
                    "# secret key in %s (keep it; it opens every package sent to this public "
                    "key)\n",
                    out);
            rc = 0;
        }
    }
    sodium_memzero(sk_hex, sizeof sk_hex);
    return rc;
}

/* The signer's public key: 64 hex digits given directly, else a file holding them. */
static int load_signer(const char *arg, uint8_t pk[TD_PACKAGE_SIGN_PK_LEN])
{
    char buf[1024];
    size_t len = 0;
    if (parse_key_hex(arg, strlen(arg), pk) == 0)
        return 0;
    if (read_key_file(arg, buf, sizeof buf, &len, 0) != 0)
        return -1;
    if (parse_key_hex(buf, len, pk) != 0) {
        fprintf(stderr,
                "takedown evidence open: --signer: '%s' is neither 64 hex digits nor a file "
                "holding them\n",
                arg);
        return -1;
    }
    return 0;
}

static void print_summary(const td_package_report *r, const char *signer_hex, const char *dir)
{
    json_t *m = json_loadb(r->manifest, r->manifest_len, 0, NULL);
    char *extra =
        m ? json_dumps(json_object_get(m, "extra"), JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    printf("package   %s\n", r->package_id);
    printf("created   %s\n", r->created);
    if (signer_hex)
        printf("signer    %s (signature verified with %s)\n", r->signer_key_id, signer_hex);
    else
        printf("signer    %s (signature NOT checked: no --signer given, origin not "
               "established)\n",
               r->signer_key_id);
    printf("manifest  sha256 %s (%zu bytes)\n", r->manifest_sha256, r->manifest_len);
    printf("records   %zu, %llu bytes\n", r->n_records, (unsigned long long)r->total_bytes);
    for (size_t i = 0; i < r->n_records; i++)
        printf("  %s  %s  %s  %llu  sha256 %s\n", r->records[i].name, r->records[i].category,
               r->records[i].content_type, (unsigned long long)r->records[i].size,
               r->records[i].sha256);
    printf("extra     %s\n", extra ? extra : "{}");
    printf("written   %s/records/, %s/manifest.json, %s/manifest.sig\n", dir, dir, dir);
    free(extra);
    json_decref(m);
}

static int cmd_open(const char *key_path, const char *signer, const char *package, const char *dir)
{
    uint8_t sk[TD_PACKAGE_X25519_KEY_LEN], signer_pk[TD_PACKAGE_SIGN_PK_LEN];
    char buf[1024], signer_hex[2 * TD_PACKAGE_SIGN_PK_LEN + 1];
    size_t len = 0;
    if (!key_path || !package || !dir) {
        fputs("takedown evidence open: --key KEYFILE, PACKAGE and DIR are required\n", stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fputs("takedown evidence open: libsodium does not initialise\n", stderr);
        return 1;
    }
    if (signer && load_signer(signer, signer_pk) != 0)
        return 1;
    if (read_key_file(key_path, buf, sizeof buf, &len, 1) != 0)
        return 1;
    int bad = parse_key_hex(buf, len, sk) != 0;
    sodium_memzero(buf, sizeof buf);
    if (bad) {
        fprintf(stderr, "takedown evidence open: %s does not hold 64 hex digits\n", key_path);
        return 1;
    }
    td_package_report report;
    td_error err;
    td_status st = td_package_open(package, sk, signer ? signer_pk : NULL, dir, &report, &err);
    sodium_memzero(sk, sizeof sk);
    int rc = 0;
    if (st != TD_OK) {
        fprintf(stderr, "takedown evidence open: %s\n", err.message);
        fprintf(stderr, "takedown evidence open: REFUSED (%s); nothing was left in %s\n",
                td_package_problem_name(report.problem), dir);
        rc = 1;
    } else {
        if (signer)
            sodium_bin2hex(signer_hex, sizeof signer_hex, signer_pk, sizeof signer_pk);
        print_summary(&report, signer ? signer_hex : NULL, dir);
        fflush(stdout);
        if (!signer)
            fputs("takedown evidence open: WARNING: the signature was not checked (no --signer): "
                  "the package is intact, but anyone who knows your public key could have made "
                  "it\n",
                  stderr);
    }
    td_package_report_clear(&report);
    return rc;
}

int td_cli_evidence(int argc, char **argv)
{
    const char *dir = NULL, *threshold = NULL, *custodians = NULL, *key = NULL, *signer = NULL,
               *out = NULL;
    const char *args[2] = {NULL, NULL};
    int n_args = 0;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(td_cli_evidence_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            if (n_args == 2) {
                fprintf(stderr, "takedown evidence: unexpected argument '%s'\n%s", argv[i],
                        td_cli_evidence_usage);
                return 2;
            }
            args[n_args++] = argv[i];
            continue;
        }
        if (strcmp(argv[i], "--data") == 0)
            slot = &dir;
        else if (strcmp(argv[i], "--threshold") == 0)
            slot = &threshold;
        else if (strcmp(argv[i], "--custodians") == 0)
            slot = &custodians;
        else if (strcmp(argv[i], "--key") == 0)
            slot = &key;
        else if (strcmp(argv[i], "--signer") == 0)
            slot = &signer;
        else if (strcmp(argv[i], "--out") == 0)
            slot = &out;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "takedown evidence: unknown or incomplete option '%s'\n%s", argv[i],
                    td_cli_evidence_usage);
            return 2;
        }
        *slot = argv[++i];
    }
    int is_open = strcmp(argv[1], "open") == 0;
    if (n_args && !is_open) {
        fprintf(stderr, "takedown evidence %s: unexpected argument '%s'\n", argv[1], args[0]);
        return 2;
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(dir, threshold, custodians);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(dir);
    if (strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(out);
    if (is_open)
        return cmd_open(key, signer, args[0], args[1]);
    fprintf(stderr, "takedown evidence: unknown subcommand '%s'\n%s", argv[1],
            td_cli_evidence_usage);
    return 2;
}
