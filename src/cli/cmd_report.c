/* takedown report transparency: the Art. 7 transparency report of a period with the evidence
 * orders' figures, computed by the library from the recorded events (td_eorders_transparency, the
 * function behind GET /v1/reports/transparency), as JSON or as a Markdown table. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "core/alloc.h"
#include "takedown/takedown.h"
#include "takedown/evidence_orders.h"
#include "takedown/orders.h"

const char td_cli_report_usage[] =
    "Usage: takedown report transparency --data DIR --from DATE --to DATE [--format json|md]\n"
    "\n"
    "Prints the transparency report (EU Regulation 2021/784, Art. 7) for [from, to): orders\n"
    "received and executed, items removed after orders and after own measures, orders not\n"
    "executed and why, complaints and outcomes, proceedings, reinstatements; every figure is\n"
    "counted from the recorded events; and the evidence orders of the period (received per\n"
    "framework, delivered, not executed and why, preservations, withdrawals, breaches), as\n"
    "GET /v1/reports/transparency gives them. DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC).\n";

/* Milliseconds since the epoch of a UTC date, or -1. */
static int64_t parse_date(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(text, "%Y-%m-%d", &tm);
        if (!end || *end)
            return -1;
    }
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}

/* One table row per leaf of the report, named by its dotted path. */
static void print_markdown(const char *prefix, json_t *value)
{
    if (json_is_object(value)) {
        const char *key;
        json_t *child;
        json_object_foreach(value, key, child)
        {
            char path[512];
            snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
            print_markdown(path, child);
        }
        return;
    }
    if (json_is_array(value) && json_array_size(value) > 0) {
        size_t i;
        json_t *child;
        json_array_foreach(value, i, child)
        {
            char path[512];
            snprintf(path, sizeof path, "%s[%zu]", prefix, i);
            print_markdown(path, child);
        }
        return;
    }
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    printf("| %s | %s |\n", prefix, text ? text : "");
    free(text);
}

static int transparency(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 't'},
                                             {"format", required_argument, NULL, 'F'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *format = "json", *from_text = "", *to_text = "";
    int64_t from = -1, to = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'f': from = parse_date(from_text = optarg); break;
        case 't': to = parse_date(to_text = optarg); break;
        case 'F': format = optarg; break;
        default: fputs(td_cli_report_usage, stderr); return 2;
        }
    }
    if (!dir || from < 0 || to < 0 || to <= from ||
        (strcmp(format, "json") != 0 && strcmp(format, "md") != 0)) {
        fputs("takedown report: need --data, and --from before --to as dates; --format json or "
              "md\n",
              stderr);
        return 2;
    }

    td_error err;
    td_service_options so;
    td_config *cfg = NULL;
    td_service *svc = NULL;
    td_orders *orders = NULL;
    td_eorders_options eo;
    td_eorders *eorders = NULL;
    char *json = NULL;
    int rc = 1;
    if (!(cfg = td__cli_config_env("report")))
        goto done;
    if (td_service_options_from_config(&so, cfg, &err) != TD_OK ||
        td_service_open(dir, &so, &svc, &err) != TD_OK ||
        td_orders_open(svc, NULL, &orders, &err) != TD_OK ||
        td_eorders_options_from_config(&eo, cfg, &err) != TD_OK) {
        fprintf(stderr, "takedown report: %s\n", err.message);
        goto done;
    }
    eo.orders = orders;
    if (td_eorders_open(svc, &eo, &eorders, &err) != TD_OK ||
        td_eorders_transparency(eorders, from, to, &json, &err) != TD_OK) {
        fprintf(stderr, "takedown report: %s\n", err.message);
        goto done;
    }
    if (strcmp(format, "json") == 0) {
        puts(json);
    } else {
        json_error_t jerr;
        json_t *report = json_loads(json, 0, &jerr);
        if (!report) {
            fprintf(stderr, "takedown report: unreadable report: %s\n", jerr.text);
            goto done;
        }
        printf("# Transparency report, %s to %s\n\n| figure | value |\n| --- | --- |\n", from_text,
               to_text);
        print_markdown("", report);
        json_decref(report);
    }
    rc = 0;
done:
    td_free(json);
    td_eorders_close(eorders);
    td_orders_close(orders);
    td_service_close(svc);
    td_config_free(cfg);
    return rc;
}

int td_cli_report(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "transparency") == 0)
        return transparency(argc - 1, argv + 1);
    fputs(td_cli_report_usage, stderr);
    return 2;
}
