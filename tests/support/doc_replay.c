/* The documentation pages' curl commands, replayed (doc_replay.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "support/doc_replay.h"
#include "support/support.h"

/* Same members (recursively for objects, first element for arrays). */
static int same_shape(json_t *shown, json_t *real, int null_is_number)
{
    if (json_is_object(shown)) {
        if (!json_is_object(real) || json_object_size(shown) != json_object_size(real))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach(shown, k, v)
        {
            json_t *r = json_object_get(real, k);
            if (!r || !same_shape(v, r, null_is_number))
                return 0;
        }
        return 1;
    }
    if (json_is_array(shown)) /* the page shows one element of a list that may be longer */
        return json_is_array(real) &&
               (json_array_size(shown) == 0) == (json_array_size(real) == 0) &&
               (json_array_size(shown) == 0 ||
                same_shape(json_array_get(shown, 0), json_array_get(real, 0), null_is_number));
    if (json_is_null(shown))
        return json_is_null(real) || (null_is_number && json_is_number(real));
    if (json_is_string(shown))
        return json_is_string(real);
    if (json_is_boolean(shown))
        return json_is_boolean(real);
    if (json_is_real(shown)) /* a ratio: 1.0 */
        return json_is_real(real);
    return json_is_integer(shown) && json_is_integer(real);
}

static const char *str_or(json_t *o, const char *k)
{
    const char *s = api_jstr(o, k);
    return s ? s : "";
}

/* Replays one command against the shown answer (JSON or text, may be NULL). */
static void replay(const doc_replay *d, const char *cmd, const char *shown, int line)
{
    char *words[64];
    int n = doc_shell_words(cmd, words, 64, d->lookup, d->ctx);
    if (n < 1 || strcmp(words[0], "curl") != 0)
        fail_msg("%s:%d: not a curl command this test replays: %s", d->page, line, cmd);
    const char *method = NULL, *url = NULL, *ctype = NULL, *data = NULL, *key = NULL;
    size_t host = strlen(d->host);
    for (int i = 1; i < n; i++) {
        const char *opt = words[i], *val = i + 1 < n ? words[i + 1] : NULL;
        if (strcmp(opt, "-s") == 0)
            continue;
        if (strcmp(opt, "-X") == 0 && val) {
            method = val;
            i++;
        } else if (strcmp(opt, "-H") == 0 && val) {
            if (strncasecmp(val, "Content-Type:", 13) == 0)
                ctype = val + 13 + strspn(val + 13, " ");
            else if (strncasecmp(val, "Authorization: Bearer ", 22) == 0)
                key = val + 22;
            else
                fail_msg("%s:%d: header '%s' is not replayed", d->page, line, val);
            i++;
        } else if (strcmp(opt, "-d") == 0 && val) {
            data = val;
            i++;
        } else if (strncmp(opt, d->host, host) == 0 && opt[host] == '/') {
            url = opt + host;
        } else {
            fail_msg("%s:%d: curl option '%s' is not replayed", d->page, line, opt);
        }
    }
    if (!url)
        fail_msg("%s:%d: no URL on %s", d->page, line, d->host);
    if (!method)
        method = data ? "POST" : "GET";
    api_request rq = {method, url, key, ctype, data, -1, 0, NULL};
    api_resp r;
    long st = api_send(d->srv, &rq, &r);
    json_t *shown_j = shown ? json_loads(shown, 0, NULL) : NULL;
    json_t *real_j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (shown_j && json_object_get(shown_j, "error")) {
        json_t *se = json_object_get(shown_j, "error"), *re = json_object_get(real_j, "error");
        if (st < 400 || st >= 500 || !re || strcmp(str_or(se, "code"), str_or(re, "code")) != 0 ||
            !same_shape(se, re, d->null_is_number))
            fail_msg("%s:%d: %s %s answered %ld %s, the page shows %s", d->page, line, method, url,
                     st, r.body ? r.body : "", shown);
        if (api_jstr(se, "field"))
            assert_string_equal(api_jstr(se, "field"), str_or(re, "field"));
        if (api_jstr(se, "reason"))
            assert_string_equal(api_jstr(se, "reason"), str_or(re, "reason"));
    } else {
        if (st < 200 || st > 299)
            fail_msg("%s:%d: %s %s answered %ld: %s", d->page, line, method, url, st,
                     r.body ? r.body : "");
        if (shown_j && !same_shape(shown_j, real_j, d->null_is_number))
            fail_msg("%s:%d: %s %s answered %s, the page shows %s", d->page, line, method, url,
                     r.body, shown);
        if (shown && !shown_j) /* a text answer: exactly the bytes shown */
            if (strcmp(r.body ? r.body : "", shown) != 0)
                fail_msg("%s:%d: answered '%s', the page shows '%s'", d->page, line,
                         r.body ? r.body : "", shown);
    }
    if (d->after)
        d->after(d->ctx, method, url, st, real_j, r.body, r.len);
    json_decref(shown_j);
    json_decref(real_j);
    api_resp_free(&r);
    for (int i = 0; i < n; i++)
        free(words[i]);
}

/* The fenced block starting at p (after its opening line), a NUL-terminated copy; *next past
 * its closing fence. */
static char *block_text(const char *p, const char **next)
{
    const char *end = strstr(p, "\n```");
    assert_non_null(end);
    size_t n = (size_t)(end - p);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, p, n);
    s[n] = '\0';
    *next = end + 4;
    return s;
}

/* Whether cmd names a URL on d's host. */
static int on_host(const doc_replay *d, const char *cmd)
{
    size_t n = strlen(d->host);
    for (const char *p = strstr(cmd, d->host); p; p = strstr(p + 1, d->host))
        if (p[n] == '/')
            return 1;
    return 0;
}

int doc_replay_page(const doc_replay *d, int *skipped)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", TD_SOURCE_DIR, d->page);
    char *md = (char *)read_all(path, &len);
    assert_non_null(md);
    md[len] = '\0';
    int replayed = 0, line = 1;
    if (skipped)
        *skipped = 0;
    for (const char *p = md; *p;) {
        if (strncmp(p, "```sh\n", 6) != 0) {
            line += *p == '\n';
            p++;
            continue;
        }
        const char *next;
        char *cmd = block_text(p + 6, &next);
        int cmd_line = line + 1;
        for (const char *q = p; q < next; q++)
            line += *q == '\n';
        p = next;
        /* The answer shown: the next fenced block, when it is JSON or text. */
        char *shown = NULL;
        const char *q = p + strspn(p, "\n");
        if (strncmp(q, "```json\n", 8) == 0 || strncmp(q, "```text\n", 8) == 0)
            shown = block_text(q + 8, &next);
        if (d->other_hosts && !on_host(d, cmd)) {
            if (skipped)
                (*skipped)++;
        } else {
            replay(d, cmd, shown, cmd_line);
            replayed++;
        }
        free(cmd);
        free(shown);
    }
    free(md);
    return replayed;
}
