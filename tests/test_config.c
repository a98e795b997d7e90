/* The configuration table and td_config: every option in one table, the sources applied in
 * order of precedence (defaults < file < environment < flags), bad values refused with the
 * limit named, and the *_options_from_config functions reading only the td_config given. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/casework.h"
#include "takedown/config.h"
#include "takedown/evidence.h"
#include "takedown/orders.h"
#include "takedown/reports.h"

static td_config *fresh(void)
{
    td_config *cfg = NULL;
    td_error err;
    assert_int_equal(td_config_new(&cfg, &err), TD_OK);
    return cfg;
}

static int64_t int_of(const td_config *cfg, const char *name)
{
    int64_t v = -1;
    td_error err;
    assert_int_equal(td_config_int(cfg, name, &v, &err), TD_OK);
    return v;
}

/* Integer and string options sit in the one table, each with its help and default. */
static void test_table(void **state)
{
    (void)state;
    int strings = 0, ints = 0;
    for (const td_config_option *o = td_config_options(); o->name; o++) {
        assert_non_null(o->help);
        assert_ptr_equal(td_config_find(o->name), o);
        if (o->type == TD_CONFIG_STRING) {
            strings++;
            assert_non_null(o->def_text);
        } else {
            ints++;
            assert_true(o->min <= o->def && o->def <= o->max);
        }
    }
    /* listen, data, store, fetch_allow, eorder_escalation_pct, public_url, eevidence_outbound_url,
     * eevidence_sender_country, eevidence_sender_id, hma_listen, hma_role, review_reasons,
     * review_qa_share */
    assert_int_equal(strings, 13);
    assert_string_equal(td_config_find("review_reasons")->def_text, "");
    assert_string_equal(td_config_find("review_qa_share")->def_text, "0.05");
    assert_string_equal(td_config_find("hma_listen")->def_text, "");
    assert_string_equal(td_config_find("hma_role")->def_text, "platform");
    /* ... and 64 integers: frank_key_rotate_ms, frank_key_retention_ms and
     * report_max_attachment_bytes for E2EE reports, review_media, review_media_grace_ms and
     * review_media_max_bytes for review copies, then seven exchange_* options */
    assert_int_equal(ints, 64);
    assert_int_equal(td_config_find("review_media")->def, 1);
    assert_int_equal(td_config_find("review_media_grace_ms")->def, 7 * 86400000LL);
    assert_int_equal(td_config_find("review_media_max_bytes")->def, 0);
    assert_int_equal(td_config_find("exchange_reactions_per_minute")->def, 60);
    assert_int_equal(td_config_find("frank_key_retention_ms")->type, TD_CONFIG_INT);
    assert_int_equal(td_config_find("report_max_attachment_bytes")->def, 32 << 20);
    assert_int_equal(td_config_find("listen")->type, TD_CONFIG_STRING);
    assert_int_equal(td_config_find("max-body-bytes")->type, TD_CONFIG_INT);
    assert_null(td_config_find("no_such_option"));

    td_config *cfg = fresh();
    assert_string_equal(td_config_string(cfg, "listen"), "127.0.0.1:8080");
    assert_string_equal(td_config_string(NULL, "data"), "takedown-data");
    assert_string_equal(td_config_string(cfg, "store"), "");
    assert_null(td_config_string(cfg, "max_body_bytes"));
    assert_int_equal(int_of(cfg, "max_body_bytes"), 1 << 20);
    assert_int_equal(int_of(NULL, "order_deadline_ms"), 3600000);
    td_config_free(cfg);
    td_config_free(NULL);
}

static void test_set_and_errors(void **state)
{
    (void)state;
    td_config *cfg = fresh();
    td_error err;
    assert_int_equal(td_config_set(cfg, "max-body-bytes", "2M", &err), TD_OK);
    assert_int_equal(int_of(cfg, "max_body_bytes"), 2 << 20);
    assert_int_equal(td_config_set(cfg, "fetch_allow", "example.org", &err), TD_OK);
    assert_string_equal(td_config_string(cfg, "fetch_allow"), "example.org");

    assert_int_equal(td_config_set(cfg, "no_such_option", "1", &err), TD_ERR_NOT_FOUND);
    assert_string_equal(err.message, "unknown option 'no_such_option'");
    assert_int_equal(td_config_set(cfg, "max_body_bytes", "x", &err), TD_ERR_INVALID);
    assert_string_equal(err.message, "max_body_bytes: 'x' is not a number");
    assert_int_equal(td_config_set(cfg, "max_body_bytes", "5", &err), TD_ERR_LIMIT);
    assert_string_equal(err.message, "max_body_bytes: 5 is outside 1024..1073741824");
    assert_int_equal(td_config_set(cfg, "listen", "", &err), TD_ERR_INVALID);
    assert_string_equal(err.message, "'listen' needs a value");
    /* refused values leave the earlier ones */
    assert_int_equal(int_of(cfg, "max_body_bytes"), 2 << 20);
    assert_string_equal(td_config_string(cfg, "listen"), "127.0.0.1:8080");
    td_config_free(cfg);
}

/* Each source overrides the one before, for integer and string options alike. */
static void test_precedence(void **state)
{
    (void)state;
    static const char file[] = "# comment\n"
                               "\n"
                               "  listen = 127.0.0.1:1001  \n"
                               "data = from-file\n"
                               "store = postgresql://file/db\n"
                               "max_body_bytes = 4K\n"
                               "http_threads = 3\n"
                               "jobs = 5\n";
    const char *path = write_temp("precedence.conf", file, sizeof file - 1);
    char *env[] = {"PATH=/bin",
                   "TAKEDOWN_DATA=from-env",
                   "TAKEDOWN_STORE=",
                   "TAKEDOWN_HTTP_THREADS=7",
                   "TAKEDOWN_JOBS=6",
                   "TAKEDOWN_NOT_AN_OPTION=1",
                   "TAKEDOWN_max_pixels=1",
                   NULL};
    td_config *cfg = fresh();
    td_error err;
    assert_int_equal(td_config_load_file(cfg, path, &err), TD_OK);
    assert_int_equal(td_config_load_env(cfg, env, &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "jobs", "8", &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "fetch-allow", "*", &err), TD_OK);

    assert_string_equal(td_config_string(cfg, "listen"), "127.0.0.1:1001");      /* file */
    assert_string_equal(td_config_string(cfg, "data"), "from-env");              /* env over file */
    assert_string_equal(td_config_string(cfg, "store"), "postgresql://file/db"); /* empty env */
    assert_string_equal(td_config_string(cfg, "fetch_allow"), "*");              /* flag */
    assert_int_equal(int_of(cfg, "max_body_bytes"), 4096);                       /* file */
    assert_int_equal(int_of(cfg, "http_threads"), 7);                            /* env */
    assert_int_equal(int_of(cfg, "jobs"), 8);                                    /* flag */
    assert_int_equal(int_of(cfg, "max_pixels"), 100000000); /* lower case: not an option */
    td_config_free(cfg);
}

static void test_source_errors(void **state)
{
    (void)state;
    td_config *cfg = fresh();
    td_error err;
    static const char unknown[] = "jobs = 2\nno_such = 1\n";
    const char *path = write_temp("unknown.conf", unknown, sizeof unknown - 1);
    assert_int_equal(td_config_load_file(cfg, path, &err), TD_ERR_NOT_FOUND);
    char expected[600];
    snprintf(expected, sizeof expected, "%s line 2: unknown option 'no_such'", path);
    assert_string_equal(err.message, expected);

    static const char range[] = "max_connections = 0\n";
    path = write_temp("range.conf", range, sizeof range - 1);
    assert_int_equal(td_config_load_file(cfg, path, &err), TD_ERR_LIMIT);
    snprintf(expected, sizeof expected, "%s line 1: max_connections: 0 is outside 1..100000", path);
    assert_string_equal(err.message, expected);

    static const char noeq[] = "listen 127.0.0.1:1\n";
    path = write_temp("noeq.conf", noeq, sizeof noeq - 1);
    assert_int_equal(td_config_load_file(cfg, path, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "line 1: expected 'name = value'"));

    assert_int_equal(td_config_load_file(cfg, temp_path("missing.conf"), &err), TD_ERR_IO);
    assert_non_null(strstr(err.message, "cannot open config file"));

    char *env[] = {"TAKEDOWN_VPDQ_DISTANCE=64", NULL};
    assert_int_equal(td_config_load_env(cfg, env, &err), TD_ERR_LIMIT);
    assert_string_equal(err.message,
                        "environment TAKEDOWN_VPDQ_DISTANCE: vpdq_distance: 64 is outside 0..63");
    td_config_free(cfg);
}

/* The library's option builders read the td_config they are given, the defaults without one. */
static void test_options_from_config(void **state)
{
    (void)state;
    td_config *cfg = fresh();
    td_error err;
    assert_int_equal(td_config_set(cfg, "webhook_max_attempts", "3", &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "vpdq_ms_per_hash", "500", &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "order_deadline_ms", "7200000", &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "order_escalation_step_ms", "0", &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "audit_checkpoint_entries", "7", &err), TD_OK);
    assert_int_equal(td_config_set(cfg, "evidence_max_item_bytes", "1M", &err), TD_OK);

    td_service_options so;
    assert_int_equal(td_service_options_from_config(&so, cfg, &err), TD_OK);
    assert_int_equal(so.webhook_max_attempts, 3);
    assert_true(so.video.seconds_per_hash == 0.5);
    assert_ptr_equal(so.config, cfg);
    assert_int_equal(td_service_options_from_config(&so, NULL, &err), TD_OK);
    assert_int_equal(so.webhook_max_attempts, 12);
    assert_null(so.config);

    td_orders_options oo;
    assert_int_equal(td_orders_options_from_config(&oo, cfg, &err), TD_OK);
    assert_int_equal(oo.deadline_ms, 7200000);
    assert_int_equal(oo.n_marks, 0);
    assert_int_equal(td_orders_options_from_config(&oo, NULL, &err), TD_OK);
    assert_int_equal(oo.deadline_ms, 3600000);
    assert_int_equal(oo.n_marks, 3);

    td_audit_options ao;
    assert_int_equal(td_audit_options_from_config(&ao, cfg, &err), TD_OK);
    assert_int_equal(ao.checkpoint_entries, 7);

    td_evidence_options eo;
    assert_int_equal(td_evidence_options_from_config(&eo, cfg, &err), TD_OK);
    assert_int_equal(eo.max_item_bytes, 1 << 20);

    td_reports_options ro;
    assert_int_equal(td_config_set(cfg, "frank_key_retention_ms", "0", &err), TD_OK);
    assert_int_equal(td_reports_options_from_config(&ro, cfg, &err), TD_OK);
    assert_int_equal(ro.retention_ms, 0);
    assert_int_equal(ro.rotate_ms, 30 * (int64_t)86400000);
    assert_int_equal(td_reports_options_from_config(&ro, NULL, &err), TD_OK);
    assert_int_equal(ro.retention_ms, 90 * (int64_t)86400000);
    td_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_set_and_errors),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_source_errors),
        cmocka_unit_test(test_options_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
