/* The takedown command line, run as a user would run it. Digests are checked against coreutils'
 * md5sum and sha256sum, hashes against the conformance expectations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "support/api_client.h"
#include "support/fake_clock.h"
#include "support/support.h"
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
 * them; the reserved role 'peer' is refused. */
static void test_key_roles(void **state)
{
    (void)state;
    const char *dir = temp_path("cli-keys");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    static const char *const roles[] = {"admin",     "moderator", "platform", "auditor",
                                        "authority", "custodian", "legal"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        assert_int_equal(run("key create --data '%s' --role %s --name %s-key 2>/dev/null", dir,
                             roles[i], roles[i]),
                         0);
        assert_int_equal(strncmp(out, "tdk_", 4), 0);
    }
    assert_int_equal(run("key create --data '%s' --role peer --name p 2>&1", dir), 2);
    assert_non_null(strstr(out, "custodian or legal"));
    assert_int_equal(run("key create --data '%s' --role nobody 2>&1", dir), 2);

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
