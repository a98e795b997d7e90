/* A list file at a URL (the import formats: python-threatexchange's "<type> <value>" lines or
 * its CSV, docs/banks.md), fetched whole at every pull. The file is the whole truth: its SHA-256
 * is the checkpoint; the same file again is an empty page; a changed file is a resync (the
 * framework starts over, and the page that ends the resync retracts what the new file no longer
 * holds). Credentials, optional: {"bearer": "<token>"} sent as Authorization. */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/hex.h"
#include "exchange/client.h"
#include "exchange/client_parse.h"

typedef struct list_ctx {
    td__xconn *x;
    td__xpage *page;
    td_status st;
    td_error *err;
} list_ctx;

static int on_entry(void *arg, const td_list_entry *e)
{
    list_ctx *l = arg;
    td__xitem it;
    memset(&it, 0, sizeof it);
    it.type = e->type;
    it.negative = e->negative;
    snprintf(it.external_id, sizeof it.external_id, "line:%llu", (unsigned long long)e->line);
    l->st =
        td__xpage_add(l->page, &it, &e->tags, e->value, strlen(e->value), l->x->max_items, l->err);
    return l->st == TD_OK ? 0 : 1;
}

static td_status fetch(td__xconn *x, const char *checkpoint, td__xpage *page, td_error *err)
{
    td__http_response resp;
    char auth[600];
    const char *headers[2] = {NULL, NULL};
    const char *bearer = json_string_value(json_object_get(x->credentials, "bearer"));
    td__xpage_clear(page);
    if (bearer) {
        if (strlen(bearer) > 512) {
            x->outcome = TD__XFETCH_FAILED;
            return td__error_set(err, TD_ERR_INVALID, "credentials: bearer longer than 512 bytes");
        }
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        headers[0] = auth;
    }
    td__http_request req = {"GET", x->base_url, headers, NULL, 0};
    td__http_result r = td__http_send(&x->http, &req, &resp, err);
    x->last_status = resp.status;
    if (r != TD__HTTP_OK || resp.status >= 500 || resp.status == 429) {
        x->outcome = r == TD__HTTP_OK || r == TD__HTTP_TIMEOUT || r == TD__HTTP_FAILED
                         ? TD__XFETCH_RETRY
                         : TD__XFETCH_FAILED;
        if (r == TD__HTTP_OK)
            td__error_set(err, TD_ERR_IO, "the list answered %ld", resp.status);
        td__http_response_free(&resp);
        return TD_ERR_IO;
    }
    if (resp.status == 401 || resp.status == 403 || resp.status < 200 || resp.status > 299) {
        x->outcome = resp.status == 401 || resp.status == 403 ? TD__XFETCH_AUTH : TD__XFETCH_FAILED;
        td__error_set(err, TD_ERR_IO, "the list answered %ld", resp.status);
        td__http_response_free(&resp);
        return TD_ERR_IO;
    }
    SHA256(resp.body, resp.len, page->sha256);
    page->bytes = resp.len;
    td__hex_encode(page->sha256, 32, page->checkpoint);
    if (checkpoint[0] && strcmp(checkpoint, page->checkpoint) == 0) {
        td__http_response_free(&resp); /* the same file: nothing changed, nothing to parse */
        return TD_OK;
    }
    /* Another file is parsed before anything else: a malformed one is refused before it can
     * start a resync. */
    list_ctx l = {x, page, TD_OK, err};
    td_import_result res;
    memset(&res, 0, sizeof res);
    td_status st = td_list_parse(resp.body, resp.len, TD_LIST_AUTO, 4096, 50000000, 1, on_entry, &l,
                                 &res, err);
    if (st == TD_OK)
        st = l.st;
    if (st == TD_OK && res.errors)
        st = td__error_set(err, TD_ERR_CORRUPT, "line %llu: %s",
                           res.error_count ? (unsigned long long)res.error_list[0].line : 0ULL,
                           res.error_count ? res.error_list[0].message : "malformed");
    page->skipped = res.unsupported;
    td_import_result_clear(&res);
    if (st != TD_OK) {
        td__xpage_refuse(x, page, st);
    } else if (checkpoint[0]) {
        /* A changed file: a resync (the framework starts over from "" and retracts what the
         * new file no longer holds); this page's items are not applied. */
        td__xpage_drop_items(page);
        page->resync = 1;
    }
    td__http_response_free(&resp);
    return st;
}

const td__xclient td__xclient_url_list = {"url_list", fetch, NULL, NULL};
