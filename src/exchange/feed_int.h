/* Inside the signed feeds (feeds.h): the handle, and the page parser a subscriber (client_peer.c)
 * and the fuzz harness share. */
#ifndef TD_EXCHANGE_FEED_INT_H
#define TD_EXCHANGE_FEED_INT_H

#include "exchange/client.h"
#include "takedown/feeds.h"

struct td_feeds {
    td_service *svc;
    uint8_t *sk; /* 64 bytes, libsodium guarded memory */
    uint8_t pk[32];
    char key_id[TD_FEED_KEY_ID_LEN + 1];
};

/* The changes of a verified page (a JSON array) into page, items of the types in `types`
 * (bit 1 << type; 0: all) carrying one of `tags` (none: all); others counted in
 * page->skipped. At most max_items changes (0: TD_FEED_PAGE_MAX). A change that does not parse
 * fails the whole page (TD_ERR_INVALID naming the change and member); page is then cleared. */
__attribute__((warn_unused_result)) td_status
td__feed_changes_parse(const char *changes, size_t len, unsigned types, const td_labels *tags,
                       size_t max_items, td__xpage *page, td_error *err);

/* A page answer as received: verified against expect (td_feed_page_verify), then its changes
 * parsed into page, whose checkpoint and more are the page's "to" and "more". */
__attribute__((warn_unused_result)) td_status
td__feed_page_parse(const char *json, size_t len, const td_feed_expect *expect, unsigned types,
                    const td_labels *tags, size_t max_items, td__xpage *page, td_error *err);

#endif
