/* The takedown command line, run as a user would run it. Digests are checked against coreutils'
 * md5sum and sha256sum, hashes against the conformance expectations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "support/api_client.h"
#include "support/fake_clock.h"
#include "support/support.h"
#include "takedown/frank.h"
#include "takedown/evidence_orders.h"

#define OUT_MAX (1 << 20)
static char out[OUT_MAX];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", TD_CLI_PATH, args);
    return run_capture(cmd, out, sizeof out);
}

#define BRIDGE "threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"
#define BRIDGE_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"

static void test_hash_text(void **state)
{
    (void)state;
    const char *path = conf_path(BRIDGE);
    char expected[4200];
    assert_int_equal(run("hash '%s'", path), 0);
    snprintf(expected, sizeof expected, "pdq %s 100 %s\n", BRIDGE_PDQ, path);
    assert_string_equal(out, expected);
}

static void test_hash_te_format(void **state)
{
    (void)state;
    assert_int_equal(run("hash --format te '%s'", conf_path(BRIDGE)), 0);
    assert_string_equal(out, "pdq " BRIDGE_PDQ "\n");
}

static void coreutils_digest(const char *tool, const char *path, char *hex, size_t cap)
{
    char cmd[8400], buf[256];
    snprintf(cmd, sizeof cmd, "%s '%s'", tool, path);
    assert_int_equal(run_capture(cmd, buf, sizeof buf), 0);
    size_t n = strcspn(buf, " ");
    assert_true(n < cap);
    memcpy(hex, buf, n);
    hex[n] = '\0';
}

static void test_hash_json_and_errors(void **state)
{
    (void)state;
    /* A folder with a good image, a text file and an empty file: two errors, one result. */
    const char *dir = temp_path("cli-dir");
    char cmd[4400];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s/sub' && cp '%s' '%s/sub/a.jpg' && "
             "echo hello > '%s/b.jpg' && : > '%s/c.png'",
             dir, dir, conf_path(BRIDGE), dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("hash --json --jobs 2 '%s'", dir), 1);

    char md5[64], sha[128], a_path[4200];
    snprintf(a_path, sizeof a_path, "%s/sub/a.jpg", dir);
    coreutils_digest("md5sum", a_path, md5, sizeof md5);
    coreutils_digest("sha256sum", a_path, sha, sizeof sha);

    int lines = 0, errors = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        if (!o)
            fail_msg("not JSON: %s", line);
        const char *path = json_string_value(json_object_get(o, "path"));
        assert_non_null(path);
        if (json_object_get(o, "error")) {
            const char *msg = json_string_value(json_object_get(o, "error"));
            assert_non_null(strstr(msg, path)); /* the message names the file */
            errors++;
        } else {
            assert_string_equal(path, a_path);
            assert_string_equal(json_string_value(json_object_get(o, "pdq")), BRIDGE_PDQ);
            assert_int_equal(json_integer_value(json_object_get(o, "quality")), 100);
            assert_string_equal(json_string_value(json_object_get(o, "md5")), md5);
            assert_string_equal(json_string_value(json_object_get(o, "sha256")), sha);
            assert_null(json_object_get(o, "pdq_dihedral"));
        }
        json_decref(o);
    }
    assert_int_equal(lines, 3);
    assert_int_equal(errors, 2);
}

static void test_hash_dihedral_json(void **state)
{
    (void)state;
    assert_int_equal(run("hash --json --dihedral '%s'", conf_path(BRIDGE)), 0);
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    assert_non_null(o);
    json_t *list = json_object_get(o, "pdq_dihedral");
    assert_true(json_is_array(list));
    assert_int_equal(json_array_size(list), 8);
    assert_string_equal(json_string_value(json_array_get(list, 0)), BRIDGE_PDQ);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(strlen(json_string_value(json_array_get(list, i))), 64);
    json_decref(o);
    /* Text mode: the original line, then one line per other variant. */
    assert_int_equal(run("hash --dihedral '%s'", conf_path(BRIDGE)), 0);
    assert_non_null(strstr(out, "pdq:rot90 "));
    assert_non_null(strstr(out, "pdq:flipminus1 "));
}

/* The output order is the input order, whatever the number of workers. */
static void test_jobs_keep_order(void **state)
{
    (void)state;
    static char one[OUT_MAX];
    const char *dir = conf_path("threatexchange/pdq/data/reg-test-input");
    run("hash --jobs 1 '%s'", dir);
    memcpy(one, out, sizeof one);
    run("hash --jobs 2 '%s'", dir);
    assert_string_equal(out, one);
    assert_non_null(strstr(one, "bridge-1-original.jpg"));
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(run("hash --json --max-pixels 1000 '%s'", conf_path(BRIDGE)), 1);
    assert_non_null(strstr(out, "max_pixels"));
    assert_int_equal(run("hash --json --max-file-size 100 '%s'", conf_path(BRIDGE)), 1);
    assert_non_null(strstr(out, "max_file_bytes"));
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "TAKEDOWN_MAX_PIXELS=1000 %s hash --json '%s'", TD_CLI_PATH,
             conf_path(BRIDGE));
    assert_int_equal(run_capture(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "max_pixels"));
    assert_int_equal(run("hash --max-pixels banana '%s' 2>&1", conf_path(BRIDGE)), 2);
    assert_non_null(strstr(out, "not a number"));
}

static void test_compare(void **state)
{
    (void)state;
    assert_int_equal(run("compare %s %s", BRIDGE_PDQ,
                         "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b23"),
                     0);
    assert_string_equal(out, "distance 1 match\n");
    assert_int_equal(run("compare %s %s", BRIDGE_PDQ,
                         "0707f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"),
                     0);
    assert_string_equal(out, "distance 16 match\n");
    assert_int_equal(run("compare %s %s", BRIDGE_PDQ,
                         "07070f311f0b57b0f9c8f5ddfc709c0f4c91d12a699de1e2cc194c63b16364dd"),
                     1);
    assert_string_equal(out, "distance 256 no-match\n");
    assert_int_equal(run("compare abc %s 2>&1", BRIDGE_PDQ), 2);
}

static void test_version_and_help(void **state)
{
    (void)state;
    assert_int_equal(run("--version"), 0);
    assert_int_equal(strncmp(out, "takedown ", 9), 0);
    assert_int_equal(run("help hash"), 0);
    assert_non_null(strstr(out, "Usage: takedown hash"));
    assert_int_equal(run("help"), 0);
    assert_non_null(strstr(out, "compare"));
    assert_int_equal(run("frobnicate 2>&1"), 2);
    assert_non_null(strstr(out, "unknown command"));
}

/* The transparency report of a fresh data directory: every figure present, all zero. */
static void test_report_transparency(void **state)
{
    (void)state;
    const char *dir = temp_path("cli-report");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("report transparency --data '%s' --from 2026-01-01 --to 2027-01-01", dir),
                     0);
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    if (!o)
        fail_msg("not JSON: %s", out);
    json_t *orders = json_object_get(o, "orders");
    assert_true(json_is_object(orders));
    assert_int_equal(json_integer_value(json_object_get(orders, "received")), 0);
    json_decref(o);
    assert_int_equal(run("report transparency --data '%s' --from 2026-01-01 --to 2027-01-01 "
                         "--format md",
                         dir),
                     0);
    assert_non_null(strstr(out, "| orders.received | 0 |"));
    /* The chart figures, arrays by index: 2026-01-01 is a Thursday, its week starts on Monday
     * 2025-12-29; no orders, no median. */
    assert_non_null(strstr(out, "| orders_per_week[0].week_start | \"2025-12-29\" |"));
    assert_non_null(strstr(out, "| orders_per_week[52].week_start | \"2026-12-28\" |"));
    assert_null(strstr(out, "orders_per_week[53]"));
    assert_non_null(strstr(out, "| removal_time_histogram.buckets[7].to_minutes | null |"));
    assert_non_null(strstr(out, "| removal_time_histogram.median_s | null |"));
    assert_non_null(strstr(out, "| decisions_per_outcome.escalate | 0 |"));
    assert_int_equal(
        run("report transparency --data '%s' --from 2027-01-01 --to 2026-01-01 2>&1", dir), 2);
}

/* An evidence order of the StA Berlin: framework, file number, with or without a judge validating
 * it (a production order for content without one is not executed at receipt). Times in 2099, so
 * that a server running on the real clock finds nothing due while the test compares. */
static char *eorder_doc(const char *framework, int serial, int judge, char *doc, size_t cap)
{
    snprintf(doc, cap,
             "{\"framework\": \"%s\", \"A\": {\"issuing_state\": \"DE\", \"issuing_authority\":"
             " {\"name\": \"StA Berlin\", \"type\": \"public_prosecutor\", \"file_number\":"
             " \"StA-%d\"}%s, \"issued_at\": \"2099-01-01T09:00:00Z\"},"
             " \"B\": {\"addressee\": \"Example Platform Ltd\", \"establishment\":"
             " \"designated_establishment\", \"member_state\": \"IE\"}%s,"
             " \"E\": {\"identifiers\": [{\"type\": \"user_id\", \"value\": \"u-1\"}],"
             " \"time_range\": {\"from\": \"2098-11-01T00:00:00Z\", \"to\":"
             " \"2098-11-30T00:00:00Z\"}}, \"F\": {\"data_categories\": [\"content\"]},"
             " \"G\": {\"offence\": \"Participation in a terrorist group\","
             " \"legal_classification\": \"129a StGB\", \"listed_terrorism\": true,"
             " \"summary\": \"Propaganda.\"}, \"H\": {\"user_information\": \"restricted\"},"
             " \"K\": {\"contact\": {\"name\": \"Desk\", \"email\": \"desk@sta.example\"}},"
             " \"L\": {\"recipient\": \"StA Berlin\", \"x25519_public_key\":"
             " \"0101010101010101010101010101010101010101010101010101010101010101\"}}",
             framework, serial,
             judge ? ", \"validating_authority\": {\"name\": \"AG Tiergarten\", \"type\":"
                     " \"judge_or_court\", \"file_number\": \"AG-1\"}"
                   : "",
             strcmp(framework, "eu_epoc") == 0 ? ", \"C\": {\"deadline\": \"ten_days_asap\"}" : "");
    return doc;
}

static void receive_signed(td_eorders *eo, const char *body, const uint8_t *sk, int expect_state)
{
    uint8_t sig[crypto_sign_BYTES];
    char b64[128], header[160];
    td_eorder_receipt rc;
    td_eorder_rejection why;
    td_error err;
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, strlen(body), sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(header, sizeof header, "ed25519=%s", b64);
    td_eorder_intake in = {(const uint8_t *)body, strlen(body), header, NULL, NULL, 0, NULL};
    if (td_eorder_receive(eo, &in, &rc, &why, &err) != TD_OK)
        fail_msg("intake: %s (%s)", err.message, why.field);
    assert_int_equal(rc.state, expect_state);
}

/* The command's report carries the evidence orders' figures: a data directory with evidence
 * orders made through the library (three EPOCs, one of them without a judge and so not executed,
 * one of the others withdrawn; one EPOC-PR), the command's figures are those the orders make,
 * and the same as GET /v1/reports/transparency's on that directory. */
static void test_report_evidence_orders(void **state)
{
    (void)state;
    char dir[4096], body[4096], cmd[8400];
    assert_int_equal(api_group_init(dir, sizeof dir, "cli-report-eo"), 0);
    assert_int_equal(mkdir(dir, 0700), 0);

    /* The orders, received at 2099-01-02 on the library's injected clock. */
    td_service_options so;
    td_service *svc;
    td_orders *orders;
    td_eorders *eo;
    td_authority a;
    td_error err;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    fake_clock_set(td_order_time_parse("2099-01-02T00:00:00Z", 20));
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    assert_int_equal(td_service_open(dir, &so, &svc, &err), TD_OK);
    assert_int_equal(td_orders_open(svc, NULL, &orders, &err), TD_OK);
    td_eorders_options eopts;
    td_eorders_options_default(&eopts);
    eopts.orders = orders;
    assert_int_equal(td_eorders_open(svc, &eopts, &eo, &err), TD_OK);
    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    td_authority_input in = {TD_AUTHORITY_EVIDENCE, "StA Berlin", "DE", "desk@sta.example", hex, 0};
    assert_int_equal(td_authority_register(orders, "admin", &in, &a, &err), TD_OK);
    receive_signed(eo, eorder_doc("eu_epoc", 1, 1, body, sizeof body), sk, TD_EORDER_COLLECTING);
    receive_signed(eo, eorder_doc("eu_epoc", 2, 1, body, sizeof body), sk, TD_EORDER_COLLECTING);
    receive_signed(eo, eorder_doc("eu_epoc", 3, 0, body, sizeof body), sk, TD_EORDER_NOT_EXECUTED);
    receive_signed(eo, eorder_doc("eu_epoc_pr", 4, 0, body, sizeof body), sk, TD_EORDER_COLLECTING);
    td_eorder_rejection why;
    static const char withdraw[] = "{\"action\": \"withdraw\"}";
    assert_int_equal(td_eorder_event(eo, "authority:StA Berlin", "eo-2", withdraw,
                                     sizeof withdraw - 1, 0, NULL, &why, &err),
                     TD_OK);
    td_eorders_close(eo);
    td_orders_close(orders);
    td_service_close(svc);

    assert_int_equal(run("report transparency --data '%s' --from 2099-01-01 --to 2099-02-01", dir),
                     0);
    json_error_t jerr;
    json_t *cli = json_loads(out, 0, &jerr);
    if (!cli)
        fail_msg("not JSON: %s", out);
    json_t *e = json_object_get(cli, "evidence_orders");
    json_t *received = json_object_get(e, "received");
    assert_int_equal(json_integer_value(json_object_get(received, "eu_epoc")), 3);
    assert_int_equal(json_integer_value(json_object_get(received, "eu_epoc_pr")), 1);
    assert_int_equal(json_integer_value(json_object_get(received, "uk_opo")), 0);
    assert_int_equal(json_integer_value(json_object_get(received, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(e, "withdrawn")), 1);
    assert_int_equal(json_integer_value(json_object_get(e, "delivered")), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "breaches")), 0);
    json_t *ne = json_object_get(e, "not_executed");
    assert_int_equal(json_object_size(ne), 1);
    assert_int_equal(json_integer_value(json_object_get(ne, "invalid_issuing_authority")), 1);
    assert_true(json_is_null(json_object_get(e, "median_receipt_to_delivery_ms")));
    /* The removal orders' report is still there. */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(cli, "orders"), "received")), 0);
    /* Another period has none of them. */
    assert_int_equal(run("report transparency --data '%s' --from 2098-01-01 --to 2099-01-01", dir),
                     0);
    json_t *before = json_loads(out, 0, &jerr);
    assert_non_null(before);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(before, "evidence_orders"), "received"), "total")),
        0);
    json_decref(before);
    assert_int_equal(run("report transparency --data '%s' --from 2099-01-01 --to 2099-02-01 "
                         "--format md",
                         dir),
                     0);
    assert_non_null(strstr(out, "| evidence_orders.received.eu_epoc | 3 |"));
    assert_non_null(strstr(out, "| evidence_orders.not_executed.invalid_issuing_authority | 1 |"));

    /* The HTTP report of the same directory: the same document but for the audit log's size and
     * root (starting the server appends its admin key's entry). */
    api_server srv;
    api_server_start(&srv, dir, NULL);
    assert_true(srv.admin[0] != '\0');
    json_t *http = api_call(&srv, 200, "GET",
                            "/v1/reports/transparency?from=2099-01-01T00:00:00Z"
                            "&to=2099-02-01T00:00:00Z",
                            srv.admin, NULL);
    api_server_stop(&srv);
    json_object_del(cli, "audit_log");
    json_object_del(http, "audit_log");
    char *a_text = json_dumps(cli, JSON_SORT_KEYS), *b_text = json_dumps(http, JSON_SORT_KEYS);
    if (!json_equal(cli, http))
        fail_msg("command:\n%s\nHTTP:\n%s", a_text, b_text);
    free(a_text);
    free(b_text);
    json_decref(http);
    json_decref(cli);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Keys of every role the server admits, as docs/cli.md and `takedown help evidence` say to create
 * them (peer: another instance reading the signed feeds); an unknown role is refused. */
static void test_key_roles(void **state)
{
    (void)state;
    const char *dir = temp_path("cli-keys");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    static const char *const roles[] = {"admin",     "moderator", "platform", "auditor",
                                        "authority", "custodian", "legal",    "peer"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        assert_int_equal(run("key create --data '%s' --role %s --name %s-key 2>/dev/null", dir,
                             roles[i], roles[i]),
                         0);
        assert_int_equal(strncmp(out, "tdk_", 4), 0);
    }
    assert_int_equal(run("key create --data '%s' --role nobody 2>&1", dir), 2);
    assert_non_null(strstr(out, "legal or peer"));

    /* `takedown help evidence` names the command a custodian's key is made with: run it as
     * written, the data directory from the environment. */
    assert_int_equal(run("help evidence"), 0);
    const char *howto = "takedown key create --role custodian --name NAME";
    assert_non_null(strstr(out, howto));
    snprintf(cmd, sizeof cmd, "TAKEDOWN_DATA='%s' %s key create --role custodian --name alice", dir,
             TD_CLI_PATH);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_int_equal(strncmp(out, "tdk_", 4), 0);

    assert_int_equal(run("key list --data '%s'", dir), 0);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        assert_non_null(strstr(out, roles[i]));
    assert_non_null(strstr(out, "alice"));
}

/* takedown serve's configuration: every option listed from the one table, bad values refused
 * with the limit named, and flags over the environment over the config file for a string option
 * (the listen address it refuses shows which source won). */
static void test_serve_config(void **state)
{
    (void)state;
    char cmd[2048];
    assert_int_equal(run("serve --options"), 0);
    assert_non_null(strstr(out, "listen                   127.0.0.1:8080"));
    assert_non_null(strstr(out, "fetch_allow"));
    assert_non_null(strstr(out, "max_body_bytes           1048576"));
    assert_non_null(strstr(out, "order_first_contact_ms"));

    assert_int_equal(run("serve --max_body_bytes x 2>&1"), 2);
    assert_string_equal(out,
                        "takedown: flag --max_body_bytes: max_body_bytes: 'x' is not a number\n");
    assert_int_equal(run("serve --max-body-bytes 5 2>&1"), 2);
    assert_string_equal(out, "takedown: flag --max-body-bytes: max_body_bytes: 5 is outside "
                             "1024..1073741824\n");
    assert_int_equal(run("serve --no-such-option 1 2>&1"), 2);
    assert_string_equal(out,
                        "takedown: flag --no-such-option: unknown option 'no-such-option' (see "
                        "--options)\n");
    snprintf(cmd, sizeof cmd, "TAKEDOWN_HTTP_THREADS=many %s serve 2>&1", TD_CLI_PATH);
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    assert_string_equal(out, "takedown serve: environment TAKEDOWN_HTTP_THREADS: http_threads: "
                             "'many' is not a number\n");

    static const char conf[] = "listen = from-file\nmax_body_bytes = 2M\n";
    const char *path = write_temp("serve.conf", conf, sizeof conf - 1);
    assert_int_equal(run("serve --config '%s' 2>&1", path), 2);
    assert_string_equal(out, "takedown serve: listen address 'from-file' is not ADDR:PORT\n");
    snprintf(cmd, sizeof cmd, "TAKEDOWN_LISTEN=from-env %s serve --config '%s' 2>&1", TD_CLI_PATH,
             path);
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    assert_string_equal(out, "takedown serve: listen address 'from-env' is not ADDR:PORT\n");
    snprintf(cmd, sizeof cmd,
             "TAKEDOWN_LISTEN=from-env %s serve --config '%s' --listen from-flag 2>&1", TD_CLI_PATH,
             path);
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    assert_string_equal(out, "takedown serve: listen address 'from-flag' is not ADDR:PORT\n");

    static const char bad[] = "# limits\nmax_connections = 0\n";
    path = write_temp("serve-bad.conf", bad, sizeof bad - 1);
    assert_int_equal(run("serve --config '%s' 2>&1", path), 2);
    assert_non_null(strstr(out, "line 2: max_connections: 0 is outside 1..100000"));
}

/* ---- takedown frank ---- */

/* The commands of docs/franking.md's console blocks, run as written (in a fresh folder, since
 * one of them writes a file), each output compared with the lines the page shows after it. A
 * command is a "$ " line and the lines its trailing backslashes continue; it must exit with 1
 * when its output says "invalid", else with 0. */
static void test_frank_docs_commands(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/docs/franking.md", TD_SOURCE_DIR);
    char *md = (char *)read_all(path, &len);
    md[len] = '\0';
    const char *dir = test_fresh_dir("cli-frank-docs-XXXXXX");
    static char cmd[16384], expected[16384], full[20000];
    int commands = 0;
    for (const char *block = strstr(md, "```console\n"); block;
         block = strstr(block, "```console\n")) {
        const char *p = block + strlen("```console\n");
        const char *end = strstr(p, "\n```");
        assert_non_null(end);
        while (p < end) {
            assert_int_equal(strncmp(p, "$ ", 2), 0);
            p += 2;
            size_t c = 0, e = 0;
            for (;;) { /* the command, joined across backslash-newlines */
                const char *eol = strchr(p, '\n');
                size_t n = (size_t)(eol - p);
                int more = n > 0 && p[n - 1] == '\\';
                assert_true(c + n < sizeof cmd);
                memcpy(cmd + c, p, more ? n - 1 : n);
                c += more ? n - 1 : n;
                p = eol + 1;
                if (!more)
                    break;
                while (*p == ' ')
                    p++;
                cmd[c++] = ' ';
            }
            cmd[c] = '\0';
            while (p < end + 1 && strncmp(p, "$ ", 2) != 0 && p <= end) { /* its output */
                const char *eol = strchr(p, '\n');
                size_t n = (size_t)(eol - p) + 1;
                assert_true(e + n < sizeof expected);
                memcpy(expected + e, p, n);
                e += n;
                p = eol + 1;
            }
            expected[e] = '\0';
            assert_int_equal(strncmp(cmd, "takedown ", 9) == 0 || strncmp(cmd, "echo ", 5) == 0, 1);
            snprintf(full, sizeof full, "cd '%s' && %s%s 2>&1", dir,
                     strncmp(cmd, "takedown ", 9) == 0 ? TD_CLI_PATH " " : "",
                     strncmp(cmd, "takedown ", 9) == 0 ? cmd + 9 : cmd);
            int rc = run_capture(full, out, sizeof out);
            if (strcmp(out, expected) != 0)
                fail_msg("docs/franking.md: '%s' printed\n%s\ninstead of\n%s", cmd, out, expected);
            assert_int_equal(rc, strncmp(expected, "invalid", 7) == 0 ? 1 : 0);
            commands++;
        }
        block = end;
    }
    assert_true(commands >= 5);
    free(md);
}

static void hex_of(const uint8_t *b, size_t n, char *dst) { sodium_bin2hex(dst, 2 * n + 1, b, n); }

/* `frank tag` against the library: text, raw bytes from a file, the empty message, an envelope
 * with attachments, a generated salt. */
static void test_frank_tag(void **state)
{
    (void)state;
    uint8_t salt[16], tag[32];
    char salt_hex[33], tag_hex[65], want[256];
    randombytes_buf(salt, sizeof salt);
    hex_of(salt, 16, salt_hex);

    td_frank_tag(salt, (const uint8_t *)"hello, world", 12, tag);
    hex_of(tag, 32, tag_hex);
    snprintf(want, sizeof want, "salt %s\ntag %s\n", salt_hex, tag_hex);
    assert_int_equal(run("frank tag --salt %s --text 'hello, world'", salt_hex), 0);
    assert_string_equal(out, want);

    static const uint8_t bytes[] = {0, 1, 2, 0xff, 0xfe, '\n', 0, 'x'};
    const char *file = write_temp("frank-msg.bin", bytes, sizeof bytes);
    td_frank_tag(salt, bytes, sizeof bytes, tag);
    hex_of(tag, 32, tag_hex);
    snprintf(want, sizeof want, "salt %s\ntag %s\n", salt_hex, tag_hex);
    assert_int_equal(run("frank tag --salt %s --message-file '%s'", salt_hex, file), 0);
    assert_string_equal(out, want);

    td_frank_tag(salt, NULL, 0, tag);
    hex_of(tag, 32, tag_hex);
    snprintf(want, sizeof want, "salt %s\ntag %s\n", salt_hex, tag_hex);
    assert_int_equal(run("frank tag --salt %s --text ''", salt_hex), 0);
    assert_string_equal(out, want);

    /* An envelope: two attachments sealed by the library, their references computed here. */
    td_frank_attachment_ref refs[2];
    char arg[2][4200];
    for (int i = 0; i < 2; i++) {
        uint8_t key[32], *blob;
        size_t blob_len;
        char key_hex[65], name[32];
        randombytes_buf(key, sizeof key);
        assert_int_equal(td_frank_attachment_seal(key, (const uint8_t *)"file bytes",
                                                  10 + (size_t)i, &blob, &blob_len, NULL),
                         TD_OK);
        crypto_hash_sha256(refs[i].blob_sha256, blob, blob_len);
        td_frank_key_commitment(key, refs[i].key_commitment);
        snprintf(name, sizeof name, "frank-blob-%d", i);
        hex_of(key, 32, key_hex);
        snprintf(arg[i], sizeof arg[i], "%s:%s", write_temp(name, blob, blob_len), key_hex);
        td_free(blob);
    }
    uint8_t *env;
    size_t env_len;
    assert_int_equal(td_frank_message_encode("see both", 8, refs, 2, &env, &env_len, NULL), TD_OK);
    td_frank_tag(salt, env, env_len, tag);
    td_free(env);
    hex_of(tag, 32, tag_hex);
    snprintf(want, sizeof want, "salt %s\ntag %s\n", salt_hex, tag_hex);
    assert_int_equal(run("frank tag --salt %s --text 'see both' --attach '%s' --attach '%s'",
                         salt_hex, arg[0], arg[1]),
                     0);
    assert_string_equal(out, want);
    /* --envelope without attachments. */
    assert_int_equal(td_frank_message_encode("see both", 8, NULL, 0, &env, &env_len, NULL), TD_OK);
    td_frank_tag(salt, env, env_len, tag);
    td_free(env);
    hex_of(tag, 32, tag_hex);
    snprintf(want, sizeof want, "salt %s\ntag %s\n", salt_hex, tag_hex);
    assert_int_equal(run("frank tag --salt %s --text 'see both' --envelope", salt_hex), 0);
    assert_string_equal(out, want);
    /* An attachment with a key it does not open under is refused. */
    char wrong[4200];
    snprintf(wrong, sizeof wrong, "%.*s%064d", (int)(strrchr(arg[0], ':') - arg[0] + 1), arg[0], 0);
    assert_int_equal(run("frank tag --text x --attach '%s' 2>&1", wrong), 1);
    assert_non_null(strstr(out, "attachment 0"));

    /* A generated salt: printed, and the tag is the one of that salt. */
    assert_int_equal(run("frank tag --text 'hello, world'"), 0);
    char got_salt[64], got_tag[80];
    assert_int_equal(sscanf(out, "salt %63s\ntag %79s", got_salt, got_tag), 2);
    assert_int_equal(strlen(got_salt), 32);
    size_t bl;
    assert_int_equal(sodium_hex2bin(salt, 16, got_salt, 32, NULL, &bl, NULL), 0);
    td_frank_tag(salt, (const uint8_t *)"hello, world", 12, tag);
    hex_of(tag, 32, tag_hex);
    assert_string_equal(got_tag, tag_hex);

    /* Usage errors. */
    assert_int_equal(run("frank tag --salt 00 --text x 2>&1"), 2);
    assert_int_equal(run("frank tag --salt %s 2>&1", salt_hex), 2);
    assert_int_equal(run("frank tag --text x --message-file '%s' 2>&1", file), 2);
    assert_int_equal(run("frank tag --text x --attach nokey 2>&1"), 2);
    assert_int_equal(run("frank frobnicate 2>&1"), 2);
}

/* `frank verify` on a proof the library made: valid; each field changed, invalid. */
static void test_frank_verify(void **state)
{
    (void)state;
    td_frank_key key;
    td_frank_proof proof;
    uint8_t salt[16], tag[32];
    static const char text[] = "the reported message";
    td_frank_context ctx = {"sender-1", 8, "conv-9", 6, 1767225600123};
    assert_int_equal(td_frank_key_generate(42, 0, &key, NULL), TD_OK);
    randombytes_buf(salt, sizeof salt);
    td_frank_tag(salt, (const uint8_t *)text, strlen(text), tag);
    assert_int_equal(td_frank_issue(&key, tag, &ctx, &proof, NULL), TD_OK);
    char pub[65], salt_hex[33], frank[65], sig[129];
    hex_of(key.sign_public, 32, pub);
    hex_of(salt, 16, salt_hex);
    hex_of(proof.frank, 32, frank);
    hex_of(proof.signature, 64, sig);
    td_frank_key_wipe(&key);

    enum { SALT, TEXT, SENDER, CONV, TIME, FRANK, SIG, KEYID, FIELDS };
    for (int flip = -1; flip < FIELDS; flip++) {
        char s[33], f[65], g[129], t[64], snd[16], cnv[16], ms[32], id[16];
        snprintf(s, sizeof s, "%s", salt_hex);
        snprintf(f, sizeof f, "%s", frank);
        snprintf(g, sizeof g, "%s", sig);
        snprintf(t, sizeof t, "%s", text);
        snprintf(snd, sizeof snd, "%s", "sender-1");
        snprintf(cnv, sizeof cnv, "%s", "conv-9");
        snprintf(ms, sizeof ms, "%s", "1767225600123");
        snprintf(id, sizeof id, "%s", "42");
        switch (flip) { /* each: a hex digit replaced by another, or a letter changed */
        case SALT: s[5] = s[5] == '0' ? '1' : '0'; break;
        case TEXT: t[0] ^= 0x20; break;
        case SENDER: snd[7] ^= 1; break;
        case CONV: cnv[0] ^= 0x20; break;
        case TIME: ms[12] ^= 1; break;
        case FRANK: f[63] = f[63] == '0' ? '1' : '0'; break;
        case SIG: g[0] = g[0] == '0' ? '1' : '0'; break;
        case KEYID: id[1] ^= 1; break;
        default: break;
        }
        int rc = run("frank verify --public-key %s --key-id %s --salt %s --text '%s' --sender %s "
                     "--conversation %s --accepted-ms %s --frank %s --signature %s",
                     pub, id, s, t, snd, cnv, ms, f, g);
        if (flip < 0) {
            assert_int_equal(rc, 0);
            assert_string_equal(out, "valid\n");
        } else {
            if (rc != 1 || strncmp(out, "invalid: ", 9) != 0)
                fail_msg("field %d changed: exit %d, %s", flip, rc, out);
        }
    }

    /* --keys: found, absent, destroyed. */
    char keys[512];
    snprintf(keys, sizeof keys,
             "{\"keys\": [{\"key_id\": 7, \"public_key\": \"%064d\"}, {\"key_id\": 42, "
             "\"public_key\": \"%s\", \"created_ms\": 0}]}",
             0, pub);
    const char *kf = write_temp("frank-keys.json", keys, strlen(keys));
#define VERIFY_KEYS(file, id)                                                                      \
    run("frank verify --keys '%s' --key-id %d --salt %s --text '%s' --sender sender-1 "            \
        "--conversation conv-9 --accepted-ms 1767225600123 --frank %s --signature %s",             \
        file, id, salt_hex, text, frank, sig)
    assert_int_equal(VERIFY_KEYS(kf, 42), 0);
    assert_string_equal(out, "valid\n");
    assert_int_equal(VERIFY_KEYS(kf, 43), 1);
    assert_non_null(strstr(out, "key 43 is not in"));
    assert_int_equal(VERIFY_KEYS(kf, 7), 1);
    snprintf(keys, sizeof keys,
             "{\"keys\": [{\"key_id\": 42, \"public_key\": \"%s\", \"destroyed\": true}]}", pub);
    kf = write_temp("frank-keys-destroyed.json", keys, strlen(keys));
    assert_int_equal(VERIFY_KEYS(kf, 42), 1);
    assert_non_null(strstr(out, "destroyed"));
#undef VERIFY_KEYS
    kf = write_temp("frank-keys-bad.json", "[1, 2]", 6);
    assert_int_equal(run("frank verify --keys '%s' --key-id 42 --salt %s --text x --sender a "
                         "--conversation b --accepted-ms 1 --frank %s --signature %s 2>&1",
                         kf, salt_hex, frank, sig),
                     1);

    /* Usage errors: a missing option, a bad key id, a negative time, short hex. */
    assert_int_equal(
        run("frank verify --public-key %s --key-id 42 --salt %s --text x 2>&1", pub, salt_hex), 2);
    assert_int_equal(run("frank verify --public-key %s --key-id 0 --salt %s --text x --sender a "
                         "--conversation b --accepted-ms 1 --frank %s --signature %s 2>&1",
                         pub, salt_hex, frank, sig),
                     2);
    assert_int_equal(run("frank verify --public-key %s --key-id 1 --salt %s --text x --sender a "
                         "--conversation b --accepted-ms -5 --frank %s --signature %s 2>&1",
                         pub, salt_hex, frank, sig),
                     2);
    assert_int_equal(run("frank verify --public-key %s --key-id 1 --salt %s --text x --sender a "
                         "--conversation b --accepted-ms 1 --frank %s --signature abc 2>&1",
                         pub, salt_hex, frank),
                     2);
    /* An id the context refuses is an invalid proof, named. */
    assert_int_equal(run("frank verify --public-key %s --key-id 42 --salt %s --text x --sender '' "
                         "--conversation b --accepted-ms 1 --frank %s --signature %s",
                         pub, salt_hex, frank, sig),
                     1);
    assert_non_null(strstr(out, "sender"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_text),
        cmocka_unit_test(test_hash_te_format),
        cmocka_unit_test(test_hash_json_and_errors),
        cmocka_unit_test(test_hash_dihedral_json),
        cmocka_unit_test(test_jobs_keep_order),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_version_and_help),
        cmocka_unit_test(test_report_transparency),
        cmocka_unit_test(test_report_evidence_orders),
        cmocka_unit_test(test_key_roles),
        cmocka_unit_test(test_serve_config),
        cmocka_unit_test(test_frank_docs_commands),
        cmocka_unit_test(test_frank_tag),
        cmocka_unit_test(test_frank_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
