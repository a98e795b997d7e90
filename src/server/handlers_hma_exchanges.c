/* HMA 1.1.7's exchange routes (/c/exchanges..., /c/exchange/...; docs/hma.md, "Exchanges") on
 * top of takedown's exchanges (exchange.h). HMA's API types are python-threatexchange's
 * SignalExchangeAPI names; the two takedown implements map to its own clients:
 *
 *   fb_threatexchange -> threatexchange (credentials {"api_token"} stored as {"token"})
 *   tat               -> tcap (credentials {"username", "password"})
 *
 * HMA keeps credentials per API type, takedown per exchange: the API's credentials are sealed as
 * the type's (td_exchange_type_credentials_set_as) and serve every exchange of that type without
 * credentials of its own. An HMA exchange is an exchange whose bank has its name (HMA creates
 * that bank with the exchange and deletes it with the exchange); its "enabled" is takedown's.
 * The other API types HMA knows answer HMA's own errors, naming the type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers_hma.h"
#include "server/server_int.h"

typedef struct hma_api {
    const char *name; /* HMA's */
    td_exchange_type type;
    const char *url; /* the source's API root (takedown's exchanges name it) */
    const char *group_field;
    const char *group_help;
    const char *const *cred_fields; /* HMA's credential fields, NULL-ended */
    const char *const *cred_help;
} hma_api;

static const char *const te_cred[] = {"api_token", NULL};
static const char *const te_cred_help[] = {
    "Meta app access token. Create one at https://developers.facebook.com/tools/accesstoken/ "
    "for your ThreatExchange app.",
    NULL};
static const char *const tat_cred[] = {"username", "password", NULL};
static const char *const tat_cred_help[] = {"TCAP username", "TCAP password", NULL};

static const hma_api apis[] = {
    {"fb_threatexchange", TD_EXCHANGE_THREATEXCHANGE, "https://graph.facebook.com/v21.0",
     "privacy_group", "ThreatPrivacyGroup ID for this collaboration", te_cred, te_cred_help},
    {"tat", TD_EXCHANGE_TCAP, "https://app.terrorismanalytics.org", NULL, NULL, tat_cred,
     tat_cred_help},
};
#define N_APIS (sizeof apis / sizeof apis[0])

/* API types of python-threatexchange that HMA can install and takedown does not implement, with
 * why (docs/hma.md). */
static const struct {
    const char *name, *why;
} unsupported[] = {
    {"sample", "HMA's built-in sample data, not a source"},
    {"infinite_random", "HMA's random test data, not a source"},
    {"ncmec", "NCMEC's hash sharing is for child sexual abuse material, outside takedown's scope"},
    {"stop_ncii", "StopNCII is for intimate images, outside takedown's scope"},
    {"local_file", "a file on the server's disk: takedown's url_list exchanges read a URL"},
};

static const hma_api *api_by_name(const char *name)
{
    for (size_t i = 0; i < N_APIS; i++)
        if (strcmp(apis[i].name, name) == 0)
            return &apis[i];
    return NULL;
}

static const hma_api *api_by_type(td_exchange_type type)
{
    for (size_t i = 0; i < N_APIS; i++)
        if (apis[i].type == type)
            return &apis[i];
    return NULL;
}

/* HMA's name of an exchange's type: takedown's own for the types HMA has no name for. */
static const char *api_name_of(td_exchange_type type)
{
    const hma_api *a = api_by_type(type);
    return a ? a->name : td_exchange_type_name(type);
}

/* Replies HMA's error for an API name it does not serve ("<before>'<name>'<after>"), saying
 * why when HMA knows the type. */
static void no_such_api(td__req *r, unsigned status, const char *before, const char *name,
                        const char *after)
{
    char msg[TD__MAX_PARAM_LEN + 64];
    snprintf(msg, sizeof msg, "%s'%s'%s", before, name, after);
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (strcmp(unsupported[i].name, name) == 0) {
            td__reply_error(r, status, "no_such_api",
                            "%s: takedown does not implement this exchange API (%s)", msg,
                            unsupported[i].why);
            return;
        }
    td__reply_error(r, status, "no_such_api", "%s", msg);
}

static td_exchanges *exchanges_or_503(td__req *r)
{
    td_exchanges *ex = td__req_exchanges(r);
    if (!ex)
        td__reply_error(r, 503, "unavailable", "hash exchanges are not available (see the log)");
    return ex;
}

/* ---- exchange APIs ---- */

void td__h_hma_exchange_apis(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    json_t *a = json_array();
    for (size_t i = 0; a && i < N_APIS; i++)
        json_array_append_new(a, json_string(apis[i].name));
    td__reply_json(r, 200, a);
}

static void api_config_reply(td__req *r, td_exchanges *ex, const hma_api *api)
{
    int has = 0;
    td_error err;
    td_status st = td_exchange_type_credentials_has(ex, api->type, &has, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    /* HMA's spelling. */
    td__reply_json(
        r, 200,
        json_pack("{s:b, s:b}", "supports_authentification", 1, "has_set_authentification", has));
}

void td__h_hma_exchange_api_get(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    const hma_api *api = api_by_name(r->params[0]);
    if (!api) {
        no_such_api(r, 400, "no such Exchange API ", r->params[0], "");
        return;
    }
    api_config_reply(r, ex, api);
}

/* HMA's credential object for api as takedown's credentials (jansson text, free()); replies
 * 400 and returns NULL when a field is missing, unknown or not a non-empty string. */
static char *credentials_text(td__req *r, const hma_api *api, json_t *cred)
{
    if (!td__only_members_at(r, cred, "credential_json", api->cred_fields))
        return NULL;
    json_t *out = json_object();
    for (size_t i = 0; out && api->cred_fields[i]; i++) {
        const char *f = api->cred_fields[i];
        const char *v = json_string_value(json_object_get(cred, f));
        if (!v || !*v) {
            json_decref(out);
            td__reply_error(r, 400, "invalid_credentials",
                            "credential_json: '%s' is required (a non-empty string)", f);
            return NULL;
        }
        /* ThreatExchange's token is takedown's "token". */
        json_object_set_new(out, strcmp(f, "api_token") == 0 ? "token" : f, json_string(v));
    }
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (!text)
        td__reply_error(r, 500, "internal", "out of memory");
    return text;
}

void td__h_hma_exchange_api_set(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    const hma_api *api = api_by_name(r->params[0]);
    if (!api) {
        no_such_api(r, 400, "no such Exchange API ", r->params[0], "");
        return;
    }
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    static const char *const members[] = {"credential_json", NULL};
    json_t *cred = json_object_get(obj, "credential_json");
    char *text = NULL;
    if (!td__only_members(r, obj, members))
        goto done;
    if (cred && !json_is_null(cred)) {
        if (!json_is_object(cred)) {
            td__reply_error(r, 400, "invalid_type", "'credential_json' must be an object");
            goto done;
        }
        /* HMA: an empty object unsets the credentials. */
        if (json_object_size(cred) > 0 && !(text = credentials_text(r, api, cred)))
            goto done;
        td_error err;
        td_status st = td_exchange_type_credentials_set_as(ex, &r->who, api->type, text, &err);
        if (st != TD_OK) {
            td__reply_status(r, st, &err);
            goto done;
        }
        /* The exchanges that use them pull now rather than after their backoff. */
        td_exchange *list = NULL;
        size_t n = 0;
        if (text && td_exchange_list(ex, &list, &n, &err) == TD_OK) {
            for (size_t i = 0; i < n; i++)
                if (list[i].type == api->type && !list[i].has_credentials && list[i].enabled)
                    td_exchange_kick(ex, list[i].id);
            td_free(list);
        }
    }
    api_config_reply(r, ex, api);
done:
    free(text); /* jansson's */
    json_decref(obj);
}

/* HMA's field descriptor (utils/exchange_schema.py). */
static json_t *field(const char *name, const char *type, int required, json_t *def,
                     const char *help)
{
    return json_pack("{s:s, s:s, s:b, s:o, s:s, s:n}", "name", name, "type", type, "required",
                     required, "default", def ? def : json_null(), "help", help ? help : "",
                     "choices");
}

void td__h_hma_exchange_api_schema(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    const hma_api *api = api_by_name(r->params[0]);
    if (!api) {
        no_such_api(r, 404, "Exchange API ", r->params[0], " not found");
        return;
    }
    json_t *cfg = json_array(), *cred = json_array();
    if (cfg && api->group_field)
        json_array_append_new(cfg, field(api->group_field, "number", 1, NULL, api->group_help));
    /* takedown's extension: the source's API root (docs/hma.md). */
    if (cfg)
        json_array_append_new(cfg, field("url", "string", 0, json_string(api->url),
                                         "takedown: the source's API root"));
    for (size_t i = 0; cred && api->cred_fields[i]; i++)
        json_array_append_new(cred,
                              field(api->cred_fields[i], "string", 1, NULL, api->cred_help[i]));
    td__reply_json(r, 200,
                   json_pack("{s:{s:o}, s:{s:o}}", "config_schema", "fields",
                             cfg ? cfg : json_array(), "credentials_schema", "fields",
                             cred ? cred : json_array()));
}

/* ---- exchanges ---- */

/* The exchange named name (HMA's names are takedown's); replies 404 and returns 0 when there is
 * none (or another error). */
static int exchange_by_name(td__req *r, td_exchanges *ex, const char *name, td_exchange *out,
                            int reply)
{
    td_exchange *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_exchange_list(ex, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return -1;
    }
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(list[i].name, name) == 0) {
            *out = list[i];
            found = 1;
        }
    td_free(list);
    if (!found && reply)
        td__reply_error(r, 404, "not_found", "Exchange '%s' not found", name);
    return found;
}

/* HMA's JSON of an exchange: its collaboration config (name, api, enabled and the API's own
 * fields). */
static json_t *exchange_json(const td_exchange *e)
{
    json_t *j = json_pack("{s:s, s:s, s:b}", "name", e->name, "api", api_name_of(e->type),
                          "enabled", e->enabled);
    const hma_api *api = api_by_type(e->type);
    if (j && api && api->group_field) {
        char *end = NULL;
        long long g = strtoll(e->group, &end, 10);
        json_object_set_new(j, api->group_field,
                            end && end != e->group && !*end ? json_integer(g)
                                                            : json_string(e->group));
    }
    return j;
}

void td__h_hma_exchanges_list(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    td_exchange *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_exchange_list(ex, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(list[i].name));
    td_free(list);
    td__reply_json(r, 200, a);
}

/* HMA's bank name rule: /^[A-Z0-9_]+$/. */
static int hma_bank_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* api_json into e for api: the API's group field, "enabled", and takedown's "url". Replies 400
 * and returns 0 on a missing, unknown or malformed field. */
static int parse_api_json(td__req *r, const hma_api *api, json_t *aj, td_exchange *e)
{
    const char *members[4] = {"enabled", "url", NULL, NULL};
    members[2] = api->group_field;
    if (!td__only_members_at(r, aj, "api_json", members))
        return 0;
    json_t *en = json_object_get(aj, "enabled");
    if (en && !json_is_boolean(en)) {
        td__reply_error(r, 400, "invalid_api_json",
                        "Failed to parse `api_json` - 'enabled' must be a boolean");
        return 0;
    }
    e->enabled = en ? json_is_true(en) : 1; /* HMA: enabled unless said */
    json_t *url = json_object_get(aj, "url");
    const char *u = url ? json_string_value(url) : api->url;
    if (!u || strlen(u) >= sizeof e->url) {
        td__reply_error(r, 400, "invalid_api_json",
                        "Failed to parse `api_json` - 'url' must be a URL string");
        return 0;
    }
    snprintf(e->url, sizeof e->url, "%s", u);
    if (api->group_field) {
        json_t *g = json_object_get(aj, api->group_field);
        if (!json_is_integer(g) || json_integer_value(g) <= 0) {
            td__reply_error(r, 400, "invalid_api_json",
                            "Failed to parse `api_json` - '%s' is required (a positive integer)",
                            api->group_field);
            return 0;
        }
        snprintf(e->group, sizeof e->group, "%lld", (long long)json_integer_value(g));
    }
    return 1;
}

void td__h_hma_exchanges_create(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    static const char *const members[] = {"bank", "api", "api_json", NULL};
    td_exchange e, out;
    td_exchange_init(&e);
    td_error err;
    json_t *bank = json_object_get(obj, "bank"), *aj = json_object_get(obj, "api_json");
    const char *api_name = json_string_value(json_object_get(obj, "api"));
    if (!td__only_members(r, obj, members))
        goto done;
    /* HMA's checks, in HMA's order and words. */
    if (!bank || json_is_null(bank)) {
        td__reply_error(r, 400, "missing_field", "bank is required");
        goto done;
    }
    if (!json_is_string(bank) || !hma_bank_name(json_string_value(bank)) ||
        strlen(json_string_value(bank)) > TD_NAME_MAX) {
        td__reply_error(r, 400, "invalid_name", "Field `bank` must match /^[A-Z0-9_]+$/");
        goto done;
    }
    if (aj && !json_is_object(aj)) {
        td__reply_error(r, 400, "invalid_type", "Field `api_json` must be object");
        goto done;
    }
    if (!json_object_get(obj, "api") || json_is_null(json_object_get(obj, "api"))) {
        td__reply_error(r, 400, "missing_field", "Field `api_type` is required");
        goto done;
    }
    const hma_api *api = api_name ? api_by_name(api_name) : NULL;
    if (!api) {
        if (api_name)
            no_such_api(r, 400, "No such exchange type ", api_name, "");
        else
            td__reply_error(r, 400, "invalid_type", "Field `api` must be a string");
        goto done;
    }
    json_t *empty = json_object();
    int ok = parse_api_json(r, api, aj ? aj : empty, &e);
    json_decref(empty);
    if (!ok)
        goto done;
    e.type = api->type;
    snprintf(e.name, sizeof e.name, "%s", json_string_value(bank));
    snprintf(e.bank, sizeof e.bank, "%s", e.name);
    /* HMA creates the exchange's bank with it (and refuses a name a bank has). */
    td_bank b, made;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", e.name);
    if (exchange_by_name(r, ex, e.name, &out, 0) != 0) {
        if (!r->handled)
            td__reply_error(r, 409, "conflict", "an exchange named %s exists", e.name);
        goto done;
    }
    td_status st = td_bank_create_as(r->svc, &r->who, &b, &made, &err);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 409, "conflict",
                        "a bank named %s exists: an exchange's bank is its own (HMA names "
                        "them alike)",
                        e.name);
        goto done;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        goto done;
    }
    st = td_exchange_create_as(ex, &r->who, &e, NULL, NULL, &out, &err);
    if (st != TD_OK) {
        td_error e2;
        if (td_bank_delete_as(r->svc, &r->who, e.name, &e2) != TD_OK) { /* left as it is */
        }
        td__reply_status(r, st, &err);
        goto done;
    }
    td__reply_json(r, 201, json_pack("{s:s}", "message", "Created successfully"));
done:
    json_decref(obj);
}

void td__h_hma_exchange_get(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    td_exchange e;
    if (!ex || exchange_by_name(r, ex, r->params[0], &e, 1) != 1)
        return;
    td__reply_json(r, 200, exchange_json(&e));
}

/* pydantic's lax booleans (HMA's ExchangeUpdateRequest.enabled: Optional[bool]): true/false,
 * the integers 0 and 1, and its strings. Returns -1 for anything else. */
static int lax_bool(json_t *v)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *const no[] = {"false", "0", "no", "off", "f", "n"};
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    const char *s = json_string_value(v);
    char low[8];
    size_t n = s ? strlen(s) : 0;
    if (!s || n >= sizeof low)
        return -1;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(low, yes[i]) == 0)
            return 1;
        if (strcmp(low, no[i]) == 0)
            return 0;
    }
    return -1;
}

void td__h_hma_exchange_update(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    static const char *const members[] = {"enabled", NULL};
    td_exchange e, out;
    if (!td__only_members(r, obj, members))
        goto done;
    json_t *v = json_object_get(obj, "enabled");
    int enabled = v && !json_is_null(v) ? lax_bool(v) : -2;
    if (enabled == -1) {
        /* pydantic's validation error: 422. */
        td__reply_error(r, 422, "invalid_type", "enabled: Input should be a valid boolean");
        goto done;
    }
    if (exchange_by_name(r, ex, r->params[0], &e, 1) != 1)
        goto done;
    if (enabled >= 0) {
        td_exchange values;
        td_exchange_init(&values);
        values.enabled = enabled;
        td_error err;
        td_status st = td_exchange_update_as(ex, &r->who, e.id, TD_EXCHANGE_SET_ENABLED, &values,
                                             NULL, NULL, &out, &err);
        if (st != TD_OK) {
            td__reply_status(r, st, &err);
            goto done;
        }
        e = out;
    }
    td__reply_json(r, 200, exchange_json(&e));
done:
    json_decref(obj);
}

void td__h_hma_exchange_delete(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    td_exchange e;
    int found = ex ? exchange_by_name(r, ex, r->params[0], &e, 0) : -1;
    if (found < 0)
        return;
    if (found) {
        td_error err;
        td_status st = td_exchange_delete_as(ex, &r->who, e.id, &err);
        /* HMA deletes the exchange's bank with it: an HMA exchange's bank has its name. */
        if (st == TD_OK && strcmp(e.bank, e.name) == 0) {
            st = td_bank_delete_as(r->svc, &r->who, e.bank, &err);
            if (st == TD_ERR_NOT_FOUND)
                st = TD_OK;
        }
        if (st != TD_OK) {
            td__reply_status(r, st, &err);
            return;
        }
    }
    /* HMA answers 200 for a name it does not have, too. */
    td__reply_json(r, 200, json_pack("{s:s}", "message", "Exchange deleted"));
}

/* Unix seconds of a time in ms, or null when it never happened. */
static json_t *unix_or_null(int64_t ms) { return ms > 0 ? json_integer(ms / 1000) : json_null(); }

void td__h_hma_exchange_status(td__req *r)
{
    if (!td__only_query(r, NULL))
        return;
    td_exchanges *ex = exchanges_or_503(r);
    td_exchange e;
    if (!ex || exchange_by_name(r, ex, r->params[0], &e, 1) != 1)
        return;
    /* HMA's FetchStatus. fetched_items: what the exchange's bank holds (HMA counts the items it
     * keeps for the exchange). */
    td_bank b;
    td_error err;
    json_int_t held = 0;
    if (td_bank_get(r->svc, e.bank, &b, &err) == TD_OK)
        held = (json_int_t)b.signal_count;
    int fetched = e.last_fetch_ms > 0;
    int ok = fetched && e.consecutive_failures == 0 && !e.last_error[0];
    json_t *j =
        json_pack("{s:o, s:n, s:o, s:o, s:b, s:I}", "checkpoint_ts",
                  e.checkpoint[0] ? unix_or_null(e.last_success_ms) : json_null(),
                  "running_fetch_start_ts", "last_fetch_complete_ts", unix_or_null(e.last_fetch_ms),
                  "last_fetch_succeeded", fetched ? json_boolean(ok) : json_null(), "up_to_date",
                  ok && !e.resyncing, "fetched_items", held);
    td__reply_json(r, 200, j);
}
