/* What the documentation promises, checked against the real `takedown serve` (a child process on a
 * loopback port over a fresh data directory). The documents are read at test time from the source
 * tree, so an edit to them is tested as it is:
 *
 * - the shell examples of README.md, docs/api.md and docs/orders.md that call the HTTP API (curl
 *   commands with `$KEY`, `$ADMIN` or `$AUTHORITY_KEY`) are cut out of the markdown, tokenised
 *   as a shell would, and replayed with the test's keys and port (an `order.json` is the
 *   OpenAPI example of an order, signed); they must succeed (2xx);
 * - every operation of docs/openapi.yaml with an `example` request body is sent with it (ids in
 *   the path are those of records the test created, a `public_key` or `key_id` member is the
 *   test's own, a `time` member is now in whole seconds, intake bodies are signed) and must not
 *   be refused for its shape (400, 422) nor for its role;
 * - the `required` lists of the order schemas against intake: each required member left out of
 *   the example is 422 `missing_field` naming it, each optional member left out is accepted;
 * - the order document of docs/orders.md, signed, is received;
 * - the confirmation of a measure stated in whole seconds within the receipt's second;
 * - every error code the server answered during the test is listed in docs/api.md;
 * - the documents name the tree, so that they cannot drift from it: docs/architecture.md names
 *   every folder of src/ and every header (the .h files of each src/<folder>/ and of
 *   include/takedown/); docs/testing.md every test program, fuzz harness and benchmark;
 *   README.md every command `takedown help` lists and every target of the Makefile's .PHONY. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "support/api_client.h"
#include "support/doc_shell.h"
#include "support/support.h"
#include "takedown/orders.h"

#define BRIDGE_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define DOC_HOST "http://127.0.0.1:8080"
#define MAX_OPS 256
#define MAX_CODES 64

/* The two authorities the examples name: a competent authority and a referral unit. */
enum { BKA, IRU, N_AUTH };
static const char *const auth_names[N_AUTH] = {"BKA", "EU IRU"};

static struct {
    api_server srv;
    char dir[4096];
    char admin[128];
    char auth_key[N_AUTH][128];
    long long auth_key_id[N_AUTH];
    long long auth_id[N_AUTH];
    unsigned char pk[N_AUTH][crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[N_AUTH][crypto_sign_SECRETKEYBYTES];
    long long order_id, referral_id, complaint_id;
    char codes[MAX_CODES][48]; /* error codes answered so far */
    size_t n_codes;
    unsigned serial; /* makes references unique */
} S;

/* ---- documents ---- */

/* A file of the source tree, NUL-terminated. */
static char *source_file(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", TD_SOURCE_DIR, rel);
    char *text = (char *)read_all(path, len);
    text[*len] = '\0'; /* read_all allocates one byte more */
    return text;
}

/* ---- requests, with the error codes they answered ---- */

static void note_code(const api_resp *r)
{
    if (r->status < 400 || !r->body)
        return;
    json_t *j = json_loads(r->body, 0, NULL);
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (code) {
        size_t i = 0;
        while (i < S.n_codes && strcmp(S.codes[i], code) != 0)
            i++;
        if (i == S.n_codes && S.n_codes < MAX_CODES)
            snprintf(S.codes[S.n_codes++], sizeof S.codes[0], "%s", code);
    }
    json_decref(j);
}

static long send_req(const api_request *rq, api_resp *out)
{
    long st = api_send(&S.srv, rq, out);
    note_code(out);
    return st;
}

/* A JSON request that must answer `expect`; returns the parsed body. */
static json_t *call(long expect, const char *method, const char *path, const char *key,
                    const char *body, const char *extra)
{
    api_request rq = {method, path, key, body ? "application/json" : NULL, body, -1, 0, extra};
    api_resp r;
    long st = send_req(&rq, &r);
    if (st != expect)
        fail_msg("%s %s: %ld (expected %ld): %s", method, path, st, expect, r.body ? r.body : "");
    json_t *j = r.body ? api_parse_or_fail(method, path, &r) : NULL;
    api_resp_free(&r);
    return j;
}

/* A JSON request that must be refused with `status` and `code`. */
static void expect_code(long status, const char *code, const char *method, const char *path,
                        const char *body)
{
    api_request rq = {method, path, S.admin, "application/json", body, -1, 0, NULL};
    api_resp r;
    long st = send_req(&rq, &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    const char *got = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (st != status || !got || strcmp(got, code) != 0)
        fail_msg("%s %s %s: %ld (expected %ld %s): %s", method, path, body, st, status, code,
                 r.body ? r.body : "");
    json_decref(j);
    api_resp_free(&r);
}

/* Sends a signed intake document; out receives the answer. */
static long send_signed(const char *path, int auth, const char *body, api_resp *out)
{
    char sig[256];
    api_sign_header(S.sk[auth], body, strlen(body), sig, sizeof sig);
    api_request rq = {"POST", path, S.auth_key[auth], "application/json", body, -1, 0, sig};
    return send_req(&rq, out);
}

static int auth_of(json_t *doc)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(doc, "issuing_authority"), "name"));
    return name && strcmp(name, auth_names[IRU]) == 0 ? IRU : BKA;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "docs-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, NULL);
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    if (strncmp(S.admin, "tdk_", 4) != 0)
        return -1;
    for (int a = 0; a < N_AUTH; a++)
        crypto_sign_keypair(S.pk[a], S.sk[a]);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    return 0;
}

/* The API keys of both authorities, the referral unit registered and linked (the competent
 * authority is registered by the document's own example), and the content the examples name. */
static void create_fixtures(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (int a = 0; a < N_AUTH; a++) {
        char body[128];
        snprintf(body, sizeof body, "{\"role\": \"authority\", \"name\": \"docs-%d\"}", a);
        json_t *j = call(201, "POST", "/v1/keys", S.admin, body, NULL);
        snprintf(S.auth_key[a], sizeof S.auth_key[a], "%s", api_jstr(j, "key"));
        S.auth_key_id[a] = api_jint(j, "id");
        json_decref(j);
    }
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], body[512], path[96];
    sodium_bin2hex(hex, sizeof hex, S.pk[IRU], sizeof S.pk[IRU]);
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"kind\": \"referral_unit\", \"member_state\": \"EU\", "
             "\"public_key\": \"%s\"}",
             auth_names[IRU], hex);
    json_t *j = call(201, "POST", "/v1/authorities", S.admin, body, NULL);
    S.auth_id[IRU] = api_jint(j, "id");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/authorities/%lld/keys", S.auth_id[IRU]);
    snprintf(body, sizeof body, "{\"key_id\": %lld}", S.auth_key_id[IRU]);
    json_decref(call(201, "POST", path, S.admin, body, NULL));
    json_decref(call(201, "POST", "/v1/content", S.admin,
                     "{\"content_id\": \"vid-1\", \"url\": \"https://video.example/watch/1\", "
                     "\"uploader\": \"user-42\", \"hashes\": {\"pdq\": \"" BRIDGE_PDQ "\"}}",
                     NULL));
}

/* ---- docs/openapi.yaml ---- */

typedef struct doc_op {
    char method[8];
    char path[160];
    char roles[128];
    char ctype[64];
    char schema[64]; /* the request body's $ref schema name, or "" */
    char *example;   /* the request body's example (JSON), or NULL */
    int signed_body; /* a Takedown-Signature header parameter */
} doc_op;

static doc_op ops[MAX_OPS];
static size_t n_ops;
static char *openapi;

/* A line's indentation and whether its text after it starts with `key`. */
static int at(const char *line, int indent, const char *key)
{
    for (int i = 0; i < indent; i++)
        if (line[i] != ' ')
            return 0;
    return strncmp(line + indent, key, strlen(key)) == 0;
}

/* The operations of the document: the structure is regular (paths at 2 spaces, methods at 4,
 * an operation's members at 6, media types at 10 and their schema / example at 12). */
static void load_openapi(void)
{
    if (openapi)
        return;
    size_t len;
    openapi = source_file("docs/openapi.yaml", &len);
    char *copy = strdup(openapi), *save = NULL, path[160] = "";
    int in_paths = 0, in_body = 0;
    static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, "paths:") == 0) {
            in_paths = 1;
            continue;
        }
        if (line[0] != ' ')
            in_paths = 0;
        if (!in_paths)
            continue;
        size_t n = strlen(line);
        if (at(line, 2, "/") && line[n - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)(n - 3), line + 2);
            continue;
        }
        int method = -1;
        for (int m = 0; m < 5; m++) {
            char want[16];
            snprintf(want, sizeof want, "    %s:", methods[m]);
            if (strcmp(line, want) == 0)
                method = m;
        }
        if (method >= 0) {
            assert_true(n_ops < MAX_OPS);
            doc_op *op = &ops[n_ops++];
            memset(op, 0, sizeof *op);
            for (size_t i = 0; methods[method][i]; i++)
                op->method[i] = (char)(methods[method][i] - 32);
            snprintf(op->path, sizeof op->path, "%s", path);
            in_body = 0;
            continue;
        }
        if (!n_ops || at(line, 4, "parameters:") || (at(line, 2, "/")))
            continue;
        doc_op *op = &ops[n_ops - 1];
        if (at(line, 6, "x-roles: [")) {
            const char *s = line + 6 + strlen("x-roles: [");
            size_t o = 0;
            for (; *s && *s != ']' && o + 1 < sizeof op->roles; s++)
                if (*s != ' ')
                    op->roles[o++] = *s;
            op->roles[o] = '\0';
        } else if (at(line, 6, "requestBody:")) {
            in_body = 1;
        } else if (at(line, 6, "") && line[6] != ' ') {
            in_body = 0;
        }
        if (strstr(line, "name: Takedown-Signature"))
            op->signed_body = 1;
        if (!in_body)
            continue;
        if (at(line, 10, "") && line[10] != ' ' && line[n - 1] == ':' && !op->ctype[0])
            snprintf(op->ctype, sizeof op->ctype, "%.*s", (int)(n - 11), line + 10);
        const char *ref = "            schema: {$ref: \"#/components/schemas/";
        if (strncmp(line, ref, strlen(ref)) == 0)
            snprintf(op->schema, sizeof op->schema, "%.*s", (int)strcspn(line + strlen(ref), "\""),
                     line + strlen(ref));
        if (at(line, 12, "example: "))
            op->example = strdup(line + 12 + strlen("example: "));
    }
    free(copy);
}

static doc_op *find_op(const char *method, const char *path)
{
    for (size_t i = 0; i < n_ops; i++)
        if (strcmp(ops[i].method, method) == 0 && strcmp(ops[i].path, path) == 0)
            return &ops[i];
    return NULL;
}

static int has_role(const doc_op *op, const char *role)
{
    char roles[136], want[48];
    snprintf(roles, sizeof roles, ",%s,", op->roles);
    snprintf(want, sizeof want, ",%s,", role);
    return strstr(roles, want) != NULL;
}

/* An example as JSON, with the members that name things only the test knows replaced. */
static json_t *example_json(const doc_op *op)
{
    json_error_t jerr;
    json_t *j = json_loads(op->example, 0, &jerr);
    if (!j)
        fail_msg("%s %s: the example is not JSON: %s", op->method, op->path, jerr.text);
    if (json_object_get(j, "public_key")) {
        char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
        sodium_bin2hex(hex, sizeof hex, S.pk[BKA], sizeof S.pk[BKA]);
        json_object_set_new(j, "public_key", json_string(hex));
    }
    if (json_object_get(j, "key_id"))
        json_object_set_new(j, "key_id", json_integer(S.auth_key_id[BKA]));
    if (json_is_string(json_object_get(j, "time"))) {
        char now[40];
        td_order_time_format(api_wall_ms() / 1000 * 1000, now);
        char *dot = strchr(now, '.'); /* whole seconds, as a platform may send them */
        if (dot)
            snprintf(dot, sizeof now - (size_t)(dot - now), "Z");
        json_object_set_new(j, "time", json_string(now));
    }
    return j;
}

/* The path with its parameters replaced by the records the test created. */
static void concrete_path(const char *pattern, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < cap;) {
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        const char *close = strchr(p, '}');
        assert_non_null(close);
        char value[32] = "1";
        if (strncmp(p, "{id}", 4) == 0) {
            long long id = strncmp(pattern, "/v1/orders/", 11) == 0       ? S.order_id
                           : strncmp(pattern, "/v1/referrals/", 14) == 0  ? S.referral_id
                           : strncmp(pattern, "/v1/complaints/", 15) == 0 ? S.complaint_id
                                                                          : S.auth_id[BKA];
            snprintf(value, sizeof value, "%lld", id);
        } else if (strncmp(p, "{n}", 3) == 0) {
            snprintf(value, sizeof value, "0");
        } else if (strncmp(p, "{lang}", 6) == 0) {
            snprintf(value, sizeof value, "de");
        }
        o += (size_t)snprintf(out + o, cap - o, "%s", value);
        p = close + 1;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* Sends one operation's example; returns the answer's status and JSON (NULL if none). */
static long send_example(const doc_op *op, json_t **answer)
{
    char path[256];
    concrete_path(op->path, path, sizeof path);
    json_t *j = example_json(op);
    char *body = json_dumps(j, JSON_COMPACT);
    api_resp r;
    long st;
    if (op->signed_body) {
        st = send_signed(path, auth_of(j), body, &r);
    } else {
        assert_true(has_role(op, "admin"));
        api_request rq = {op->method, path, S.admin, op->ctype, body, -1, 0, NULL};
        st = send_req(&rq, &r);
    }
    if (st >= 400 && (st == 400 || st == 422 || st == 401 || st == 403 || st >= 500))
        fail_msg("%s %s (%s): the documented example answered %ld: %s", op->method, op->path, path,
                 st, r.body ? r.body : "");
    *answer = r.body ? json_loads(r.body, 0, NULL) : NULL;
    api_resp_free(&r);
    free(body);
    json_decref(j);
    return st;
}

/* Ranks: what other examples need first. */
static int rank(const doc_op *op)
{
    static const char *const first[] = {"/v1/authorities", "/v1/authorities/{id}/keys",
                                        "/v1/orders", "/v1/referrals", "/v1/complaints"};
    for (int i = 0; i < 5; i++)
        if (strcmp(op->path, first[i]) == 0 && strcmp(op->method, "POST") == 0)
            return i;
    return 5;
}

static void test_openapi_examples(void **state)
{
    (void)state;
    load_openapi();
    create_fixtures();
    size_t sent = 0;
    for (int r = 0; r <= 5; r++)
        for (size_t i = 0; i < n_ops; i++) {
            doc_op *op = &ops[i];
            if (!op->example || rank(op) != r)
                continue;
            json_t *a = NULL;
            long st = send_example(op, &a);
            sent++;
            if (r < 5 && (st < 200 || st > 299))
                fail_msg("%s %s: the example must create its record, answered %ld", op->method,
                         op->path, st);
            if (r == 0)
                S.auth_id[BKA] = api_jint(a, "id");
            else if (r == 2)
                S.order_id = api_jint(a, "id");
            else if (r == 3)
                S.referral_id = api_jint(a, "id");
            else if (r == 4)
                S.complaint_id = api_jint(a, "id");
            if (strcmp(op->path, "/v1/orders/{id}/confirm") == 0)
                assert_int_equal(st, 200);
            json_decref(a);
        }
    /* The routes that had examples when this test was written, at least. */
    assert_true(sent >= 12);
}

/* ---- (a) the shell examples ---- */

/* The signed order an intake example sends (`--data-binary @order.json`) and its signature
 * (`$(base64 -w0 order.sig)`): the document's own example of POST /v1/orders. */
static char order_json[16384], order_sig[128];

/* What the examples' variables stand for. */
static const char *variable(const char *p, size_t *skip, void *ctx)
{
    const struct {
        const char *text;
        const char *value;
    } vars[] = {
        {"$(base64 -w0 order.sig)", order_sig},
        {"$AUTHORITY_KEY", S.auth_key[BKA]},
        {"$ADMIN", S.admin},
        {"$KEY", S.admin},
    };
    (void)ctx;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        size_t n = doc_shell_match(p, vars[i].text);
        if (n) {
            *skip = n;
            return vars[i].value;
        }
    }
    return NULL;
}

/* The bytes of a file an example uploads: the sample files the examples name, from the
 * conformance set or written here. */
static char *example_file(const char *name, size_t *len)
{
    static const struct {
        const char *name, *conformance;
    } files[] = {
        {"upload.jpg", "threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"},
        {"photo.jpg", "threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"},
        {"upload.mp4", "threatexchange/tmk/sample-videos/test-padded-dimensions.mp4"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (strcmp(name, files[i].name) == 0) {
            char *b = (char *)read_all(conf_path(files[i].conformance), len);
            return b;
        }
    if (strcmp(name, "order.json") == 0) {
        *len = strlen(order_json);
        return strdup(order_json);
    }
    if (strcmp(name, "post.txt") == 0) {
        static const char text[] = "Join the live stream tonight: hxxps://channel[.]example/live\n";
        char *b = strdup(text);
        *len = strlen(text);
        return b;
    }
    fail_msg("an example uploads '%s', a file this test does not know", name);
    return NULL;
}

/* Replays one curl command; `where` names it in failures. */
static void replay(const char *cmd, const char *where)
{
    if (strstr(cmd, "order.json")) {
        doc_op *op = find_op("POST", "/v1/orders");
        assert_non_null(op);
        json_t *doc = example_json(op);
        char ref[64];
        snprintf(ref, sizeof ref, "DOCS-CURL-%u", ++S.serial);
        json_object_set_new(doc, "reference", json_string(ref));
        char *body = json_dumps(doc, JSON_COMPACT), header[256];
        snprintf(order_json, sizeof order_json, "%s", body);
        api_sign_header(S.sk[BKA], order_json, strlen(order_json), header, sizeof header);
        snprintf(order_sig, sizeof order_sig, "%s", strchr(header, '=') + 1);
        free(body);
        json_decref(doc);
    }
    char *words[64];
    int n = doc_shell_words(cmd, words, 64, variable, NULL);
    if (n < 0)
        fail_msg("%s: the example cannot be replayed (shell syntax): %s", where, cmd);
    const char *method = NULL, *url = NULL, *ctype = NULL, *extra = NULL, *data = NULL, *key = NULL;
    char *file = NULL, path[8192];
    size_t len = 0;
    for (int i = 1; i < n; i++) {
        const char *opt = words[i], *val = i + 1 < n ? words[i + 1] : NULL;
        if (strcmp(opt, "-X") == 0 && val) {
            method = val;
            i++;
        } else if (strcmp(opt, "-H") == 0 && val) {
            if (strncasecmp(val, "Content-Type:", 13) == 0)
                ctype = val + 13 + strspn(val + 13, " ");
            else if (strncasecmp(val, "Authorization: Bearer ", 22) == 0)
                key = val + 22;
            else
                extra = val;
            i++;
        } else if ((strcmp(opt, "-d") == 0 || strcmp(opt, "--data") == 0 ||
                    strcmp(opt, "--data-binary") == 0) &&
                   val) {
            if (val[0] == '@')
                data = file = example_file(val + 1, &len);
            else
                len = strlen(data = val);
            i++;
        } else if (strncmp(opt, "http", 4) == 0) {
            url = opt;
        } else {
            fail_msg("%s: curl option '%s' is not replayed by this test", where, opt);
        }
    }
    if (!url || strncmp(url, DOC_HOST "/", strlen(DOC_HOST) + 1) != 0)
        fail_msg("%s: no URL on %s: %s", where, DOC_HOST, cmd);
    snprintf(path, sizeof path, "%s", url + strlen(DOC_HOST));
    if (!method)
        method = data ? "POST" : "GET";
    /* curl's default type for -d without a Content-Type header */
    if (data && !ctype)
        ctype = "application/x-www-form-urlencoded";
    api_request rq = {method, path, key, ctype, data, (long)len, 0, extra};
    api_resp r;
    long st = send_req(&rq, &r);
    if (st < 200 || st > 299)
        fail_msg("%s: %s %s answered %ld: %s", where, method, path, st, r.body ? r.body : "");
    api_resp_free(&r);
    free(file);
    for (int i = 0; i < n; i++)
        free(words[i]);
}

/* The curl commands of a markdown file's sh blocks that use $KEY, $ADMIN or $AUTHORITY_KEY;
 * returns how many were replayed. */
static int replay_markdown(const char *rel)
{
    size_t len;
    char *md = source_file(rel, &len);
    int replayed = 0, in_sh = 0, line_no = 0;
    char *p = md;
    while (*p) {
        char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        line_no++;
        if (strncmp(p, "```", 3) == 0) {
            in_sh = !in_sh && (strncmp(p, "```sh", 5) == 0 || strncmp(p, "```bash", 7) == 0);
            p += n + (eol ? 1 : 0);
            continue;
        }
        const char *start = p + strspn(p, " ");
        if (!in_sh || strncmp(start, "curl ", 5) != 0) {
            p += n + (eol ? 1 : 0);
            continue;
        }
        /* The command runs to a newline outside quotes and not escaped. */
        char quote = 0;
        const char *q = start;
        int first_line = line_no;
        for (; *q; q++) {
            if (quote) {
                if (*q == quote)
                    quote = 0;
            } else if (*q == '\'' || *q == '"') {
                quote = *q;
            } else if (*q == '\\' && q[1] == '\n') {
                q++;
            } else if (*q == '\n') {
                break;
            }
            if (*q == '\n')
                line_no++;
        }
        char *cmd = strndup(start, (size_t)(q - start));
        if ((strstr(cmd, "$KEY") || strstr(cmd, "$ADMIN") || strstr(cmd, "$AUTHORITY_KEY")) &&
            strstr(cmd, DOC_HOST "/")) {
            char where[256];
            snprintf(where, sizeof where, "%s:%d", rel, first_line);
            replay(cmd, where);
            replayed++;
        }
        free(cmd);
        p = *q ? (char *)q + 1 : (char *)q;
    }
    free(md);
    return replayed;
}

static void test_markdown_examples(void **state)
{
    (void)state;
    if (!S.order_id)
        fail_msg("needs the examples of docs/openapi.yaml sent first (test_openapi_examples)");
    /* README first: its bank is the one the other examples' checks run against. */
    assert_true(replay_markdown("README.md") >= 2);
    assert_true(replay_markdown("docs/api.md") >= 6);
    assert_true(replay_markdown("docs/orders.md") >= 3);
}

/* ---- the order schemas' required lists ---- */

typedef struct schema_field {
    char name[64]; /* "reference", "reason.category" */
    int required;
} schema_field;

/* Whether name is one of a YAML flow list's items ("a, b, c", the text between the brackets). */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        s += strspn(s, " ,");
        size_t k = strcspn(s, ",");
        size_t t = k;
        while (t && s[t - 1] == ' ')
            t--;
        if (t == n && strncmp(s, name, n) == 0)
            return 1;
        s += k;
    }
    return 0;
}

/* Members (and members of member objects, not of arrays' items) of a schema under
 * components/schemas, with whether each is required. Returns the count. */
static size_t schema_fields(const char *schema, schema_field *out, size_t cap)
{
    char head[96];
    snprintf(head, sizeof head, "\n    %s:\n", schema);
    const char *p = strstr(openapi, head);
    if (!p)
        fail_msg("docs/openapi.yaml has no schema %s", schema);
    p += strlen(head);
    size_t n = 0;
    char top_required[1024] = "", sub_required[512] = "", parent[64] = "", level10[64] = "";
    size_t parent_first = 0;
    while (*p && (p[0] == '\n' || (p[0] == ' ' && p[4] == ' '))) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + (eol ? 1 : 0);
        static const char ident[] = "abcdefghijklmnopqrstuvwxyz_0123456789";
        size_t name_len = strspn(line + 8, ident), sub_len = strspn(line + 12, ident);
        if (at(line, 6, "required: [")) {
            snprintf(top_required, sizeof top_required, "%.*s", (int)strcspn(line + 17, "]"),
                     line + 17);
        } else if (at(line, 8, "") && name_len && line[8 + name_len] == ':') {
            /* a member at the top level */
            assert_true(n < cap);
            snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)name_len, line + 8);
            snprintf(parent, sizeof parent, "%s", out[n].name);
            parent_first = n + 1;
            sub_required[0] = level10[0] = '\0';
            n++;
        } else if (at(line, 10, "") && line[10] != ' ') {
            snprintf(level10, sizeof level10, "%.*s", (int)strcspn(line + 10, ":"), line + 10);
            if (at(line, 10, "required: [")) {
                snprintf(sub_required, sizeof sub_required, "%.*s", (int)strcspn(line + 21, "]"),
                         line + 21);
                for (size_t i = parent_first; i < n; i++)
                    out[i].required = in_list(sub_required, strchr(out[i].name, '.') + 1);
            }
        } else if (at(line, 12, "") && sub_len && line[12 + sub_len] == ':' &&
                   strcmp(level10, "properties") == 0) {
            assert_true(n < cap);
            size_t pl = strlen(parent), sl = strcspn(line + 12, ":");
            if (pl + 1 + sl >= sizeof out[n].name)
                fail_msg("%s: a member name too long for this test", schema);
            memcpy(out[n].name, parent, pl);
            out[n].name[pl] = '.';
            memcpy(out[n].name + pl + 1, line + 12, sl);
            out[n].name[pl + 1 + sl] = '\0';
            out[n].required = in_list(sub_required, strchr(out[n].name, '.') + 1);
            n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr(out[i].name, '.'))
            out[i].required = in_list(top_required, out[i].name);
    return n;
}

/* For each member of the schema of the intake route: the route's example without it. */
static void check_required(const char *path)
{
    doc_op *op = find_op("POST", path);
    if (!op || !op->example || !op->schema[0])
        fail_msg("POST %s: no example or no schema $ref in docs/openapi.yaml", path);
    schema_field fields[64];
    size_t n = schema_fields(op->schema, fields, 64);
    assert_true(n >= 6);
    json_t *example = example_json(op);
    /* The example holds only members of the schema. */
    const char *k;
    json_t *v;
    json_object_foreach(example, k, v)
    {
        size_t i = 0;
        while (i < n && strcmp(fields[i].name, k) != 0)
            i++;
        if (i == n)
            fail_msg("%s: the example of POST %s has '%s', not a member of the schema", op->schema,
                     path, k);
    }
    int auth = auth_of(example);
    for (size_t i = 0; i < n; i++) {
        json_t *doc = json_deep_copy(example);
        char ref[64];
        snprintf(ref, sizeof ref, "DOCS-REQ-%u", ++S.serial);
        json_object_set_new(doc, "reference", json_string(ref));
        const char *dot = strchr(fields[i].name, '.');
        json_t *holder = doc;
        char top[64];
        snprintf(top, sizeof top, "%.*s",
                 (int)(dot ? (size_t)(dot - fields[i].name) : strlen(fields[i].name)),
                 fields[i].name);
        const char *member = dot ? dot + 1 : fields[i].name;
        if (dot)
            holder = json_object_get(doc, top);
        if (!json_object_get(holder, member)) {
            if (fields[i].required)
                fail_msg("%s: the example of POST %s lacks the required '%s'", op->schema, path,
                         fields[i].name);
            json_decref(doc);
            continue; /* an optional member the example does not show */
        }
        json_object_del(holder, member);
        char *body = json_dumps(doc, JSON_COMPACT);
        api_resp r;
        long st = send_signed(path, auth, body, &r);
        json_t *a = r.body ? json_loads(r.body, 0, NULL) : NULL;
        json_t *e = json_object_get(a, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *field = json_string_value(json_object_get(e, "field"));
        if (fields[i].required) {
            if (st != 422 || !code || strcmp(code, "missing_field") != 0 || !field ||
                strcmp(field, fields[i].name) != 0)
                fail_msg("%s marks '%s' required, but POST %s without it answered %ld: %s",
                         op->schema, fields[i].name, path, st, r.body ? r.body : "");
        } else if (st != 201) {
            fail_msg("%s does not mark '%s' required, but POST %s without it answered %ld: %s",
                     op->schema, fields[i].name, path, st, r.body ? r.body : "");
        }
        json_decref(a);
        api_resp_free(&r);
        free(body);
        json_decref(doc);
    }
    json_decref(example);
}

static void test_order_schemas_required(void **state)
{
    (void)state;
    load_openapi();
    create_fixtures();
    if (!S.order_id)
        fail_msg("needs the examples of docs/openapi.yaml sent first (test_openapi_examples)");
    check_required("/v1/orders");
    check_required("/v1/referrals");
}

/* ---- the confirmation in whole seconds ---- */

static void test_confirm_whole_seconds(void **state)
{
    (void)state;
    load_openapi();
    create_fixtures();
    if (!S.order_id)
        fail_msg("needs the examples of docs/openapi.yaml sent first (test_openapi_examples)");
    doc_op *op = find_op("POST", "/v1/orders");
    assert_non_null(op);
    json_t *doc = example_json(op);
    char ref[64], path[96];
    snprintf(ref, sizeof ref, "DOCS-CONFIRM-%u", ++S.serial);
    json_object_set_new(doc, "reference", json_string(ref));
    char *body = json_dumps(doc, JSON_COMPACT);
    api_resp r;
    assert_int_equal(send_signed("/v1/orders", BKA, body, &r), 201);
    json_t *receipt = api_parse_or_fail("POST", "/v1/orders", &r);
    api_resp_free(&r);
    long long id = api_jint(receipt, "id");
    int64_t received = api_jint(receipt, "received_ms");
    json_decref(receipt);
    free(body);
    json_decref(doc);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", id);

    /* The receipt's second, and the one before, in whole seconds. */
    char same[40], before[40], msg[160];
    td_order_time_format(received / 1000 * 1000, same);
    td_order_time_format(received / 1000 * 1000 - 1000, before);
    snprintf(strchr(same, '.'), 2, "Z");
    snprintf(strchr(before, '.'), 2, "Z");

    /* Refusals, with documented codes. */
    snprintf(msg, sizeof msg, "{\"measure\": \"removed\", \"time\": \"%s\"}", before);
    expect_code(400, "invalid_value", "POST", path, msg);
    expect_code(400, "missing_field", "POST", path, "{\"measure\": \"removed\"}");
    expect_code(400, "missing_field", "POST", path, "{\"time\": \"2024-06-01T10:00:03Z\"}");
    expect_code(400, "invalid_value", "POST", path,
                "{\"measure\": \"removed\", \"time\": \"10:00:03\"}");
    snprintf(msg, sizeof msg, "{\"measure\": \"deleted\", \"time\": \"%s\"}", same);
    expect_code(400, "invalid_value", "POST", path, msg);
    expect_code(400, "invalid_type", "POST", path,
                "{\"measure\": \"removed\", \"time\": 1717236003}");

    /* Removed within the receipt's second, stated in whole seconds: accepted, recorded at the
     * receipt (never before it). */
    snprintf(msg, sizeof msg, "{\"measure\": \"removed\", \"time\": \"%s\"}", same);
    json_t *o = call(200, "POST", path, S.admin, msg, NULL);
    char received_at[40];
    td_order_time_format(received, received_at);
    assert_string_equal(api_jstr(o, "state"), "confirmed");
    assert_string_equal(api_jstr(o, "measure_at"), received_at);
    json_decref(o);
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", id);
    o = call(200, "GET", path, S.admin, NULL, NULL);
    assert_string_equal(api_jstr(o, "time_of_measure"), received_at);
    assert_true(json_is_true(json_object_get(o, "within_deadline")));
    json_decref(o);
    /* A referral cannot be confirmed: a documented code as well. */
    if (S.referral_id) {
        snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.referral_id);
        expect_code(400, "invalid_value", "POST", path, msg);
    }
}

/* ---- the order document of docs/orders.md ---- */

/* The JSON block under "## The order document" is an order a competent authority may send. */
static void test_orders_md_document(void **state)
{
    (void)state;
    if (!S.order_id)
        fail_msg("needs the examples of docs/openapi.yaml sent first (test_openapi_examples)");
    size_t len;
    char *md = source_file("docs/orders.md", &len);
    const char *sec = strstr(md, "\n## The order document\n");
    assert_non_null(sec);
    const char *open = strstr(sec, "\n```json\n");
    assert_non_null(open);
    open += strlen("\n```json\n");
    const char *close = strstr(open, "\n```");
    assert_non_null(close);
    json_error_t jerr;
    json_t *doc = json_loadb(open, (size_t)(close - open), 0, &jerr);
    if (!doc)
        fail_msg("docs/orders.md: the order document is not JSON: %s", jerr.text);
    json_t *auth = json_object_get(doc, "issuing_authority");
    assert_string_equal(json_string_value(json_object_get(auth, "name")), auth_names[BKA]);
    char ref[64];
    snprintf(ref, sizeof ref, "DOCS-MD-%u", ++S.serial);
    json_object_set_new(doc, "reference", json_string(ref));
    char *body = json_dumps(doc, JSON_COMPACT);
    api_resp r;
    long st = send_signed("/v1/orders", BKA, body, &r);
    if (st != 201)
        fail_msg("docs/orders.md: the order document answered %ld: %s", st, r.body ? r.body : "");
    api_resp_free(&r);
    free(body);
    json_decref(doc);
    free(md);
}

/* ---- the error table ---- */

static void test_codes_documented(void **state)
{
    (void)state;
    size_t len;
    char *api = source_file("docs/api.md", &len);
    for (size_t i = 0; i < S.n_codes; i++) {
        char want[64];
        snprintf(want, sizeof want, "`%s`", S.codes[i]);
        if (!strstr(api, want))
            fail_msg("the server answered the error code '%s', which docs/api.md does not list",
                     S.codes[i]);
    }
    assert_true(S.n_codes >= 3);
    free(api);
}

/* ---- the documents name the tree ---- */

#define MAX_NAMES 256

typedef char name_buf[256];

/* The entries of the source tree's folder rel whose names start with prefix and end with suffix:
 * the folders among them when dirs, else the regular files. Returns how many (at most
 * MAX_NAMES; more fails). */
static size_t tree_names(const char *rel, const char *prefix, const char *suffix, int dirs,
                         name_buf *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", TD_SOURCE_DIR, rel);
    DIR *d = opendir(path);
    if (!d)
        fail_msg("cannot open the folder %s", path);
    size_t n = 0, pl = strlen(prefix), sl = strlen(suffix);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < pl + sl || strncmp(e->d_name, prefix, pl) != 0 ||
            strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        char full[sizeof path + sizeof e->d_name + 1];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        if (stat(full, &st) != 0 || (dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (n == MAX_NAMES)
            fail_msg("%s: more than %d entries, over this test's table", rel, MAX_NAMES);
        snprintf(out[n++], sizeof out[0], "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* Fails unless the document's text holds want. */
static void must_name(const char *text, const char *doc, const char *want, const char *what)
{
    if (!strstr(text, want))
        fail_msg("%s does not name %s (%s): add a line for it", doc, want, what);
}

static void test_architecture_names_the_tree(void **state)
{
    (void)state;
    static name_buf folders[MAX_NAMES], headers[MAX_NAMES];
    char want[600], rel[300];
    size_t len;
    char *md = source_file("docs/architecture.md", &len);
    size_t nf = tree_names("src", "", "", 1, folders);
    assert_true(nf >= 10);
    for (size_t i = 0; i < nf; i++) {
        snprintf(want, sizeof want, "`src/%s/`", folders[i]);
        must_name(md, "docs/architecture.md", want, "a folder of src/, in the layer table");
        snprintf(rel, sizeof rel, "src/%s", folders[i]);
        size_t nh = tree_names(rel, "", ".h", 0, headers);
        for (size_t k = 0; k < nh; k++) {
            snprintf(want, sizeof want, "`src/%s/%s`", folders[i], headers[k]);
            must_name(md, "docs/architecture.md", want, "an internal header");
        }
    }
    size_t np = tree_names("include/takedown", "", ".h", 0, headers);
    assert_true(np >= 10);
    for (size_t k = 0; k < np; k++) {
        snprintf(want, sizeof want, "`include/takedown/%s`", headers[k]);
        must_name(md, "docs/architecture.md", want, "a public header");
    }
    free(md);
}

/* Every program a file of folder rel named prefix*.c (or .cpp) makes: `name` in the text. */
static size_t must_name_programs(const char *text, const char *rel, const char *prefix,
                                 const char *what)
{
    static name_buf files[MAX_NAMES];
    char want[300];
    size_t n = tree_names(rel, prefix, ".c", 0, files);
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof want, "`%.*s`", (int)(strlen(files[i]) - 2), files[i]);
        must_name(text, "docs/testing.md", want, what);
    }
    return n;
}

static void test_testing_names_every_program(void **state)
{
    (void)state;
    static name_buf names[MAX_NAMES];
    char want[300], rel[300];
    size_t len;
    char *md = source_file("docs/testing.md", &len);
    assert_true(must_name_programs(md, "tests", "test_", "a test program") >= 20);
    assert_true(must_name_programs(md, "fuzz", "fuzz_", "a fuzz harness") >= 5);
    /* The image harnesses: one driver, named by their corpus folders. */
    must_name(md, "docs/testing.md", "`fuzz/image_driver.c`", "the image fuzz driver");
    size_t nc = tree_names("fuzz/corpus", "", "", 1, names);
    for (size_t i = 0; i < nc; i++) {
        snprintf(want, sizeof want, "`fuzz_%s`", names[i]);
        must_name(md, "docs/testing.md", want, "a fuzz harness (its corpus folder)");
    }
    size_t nb = must_name_programs(md, "bench", "bench_", "a benchmark");
    size_t nd = tree_names("bench", "", "", 1, names);
    for (size_t i = 0; i < nd; i++) {
        snprintf(rel, sizeof rel, "bench/%s", names[i]);
        nb += must_name_programs(md, rel, "bench_", "a benchmark");
    }
    assert_true(nb >= 3);
    free(md);
}

static void test_readme_names_every_command(void **state)
{
    (void)state;
    size_t len;
    char *md = source_file("README.md", &len);
    char want[300], help[8192];
    /* The commands of `takedown help`: the lines after "Commands:" up to a blank one. */
    assert_int_equal(run_capture(TD_CLI_PATH " help", help, sizeof help), 0);
    const char *list = strstr(help, "\nCommands:\n");
    assert_non_null(list);
    int commands = 0;
    for (const char *l = list + strlen("\nCommands:\n"); strncmp(l, "  ", 2) == 0;) {
        snprintf(want, sizeof want, "takedown %.*s", (int)strcspn(l + 2, " \n"), l + 2);
        must_name(md, "README.md", want, "a command of `takedown help`");
        commands++;
        const char *eol = strchr(l, '\n');
        if (!eol)
            break;
        l = eol + 1;
    }
    assert_true(commands >= 8);
    /* The Makefile's targets: its .PHONY line. */
    char *mk = source_file("Makefile", &len);
    const char *phony = strstr(mk, "\n.PHONY:");
    assert_non_null(phony);
    phony += strlen("\n.PHONY:");
    int targets = 0;
    for (const char *t = phony; *t && *t != '\n';) {
        t += strspn(t, " \t");
        size_t n = strcspn(t, " \t\n");
        if (!n)
            break;
        snprintf(want, sizeof want, "`make %.*s`", (int)n, t);
        must_name(md, "README.md", want, "a target of the Makefile");
        targets++;
        t += n;
    }
    assert_true(targets >= 10);
    free(mk);
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_examples),
        cmocka_unit_test(test_order_schemas_required),
        cmocka_unit_test(test_confirm_whole_seconds),
        cmocka_unit_test(test_markdown_examples),
        cmocka_unit_test(test_orders_md_document),
        cmocka_unit_test(test_codes_documented),
        cmocka_unit_test(test_architecture_names_the_tree),
        cmocka_unit_test(test_testing_names_every_program),
        cmocka_unit_test(test_readme_names_every_command),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
