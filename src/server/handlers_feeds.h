/* The signed feed routes (handlers_feeds.c). */
#ifndef TD_SERVER_HANDLERS_FEEDS_H
#define TD_SERVER_HANDLERS_FEEDS_H

#include <jansson.h>

#include "server/server_int.h"
#include "takedown/feeds.h"

/* The server's feeds handle (NULL: the feed routes answer 503). */
td_feeds *td__req_feeds(td__req *r);

void td__h_feed_keys(td__req *r);
void td__h_feed_page(td__req *r);
void td__h_feed_opinions_add(td__req *r);
void td__h_feed_opinions_list(td__req *r);
void td__h_signal_get(td__req *r);

/* {"seen": n, "true_positive": n, "false_positive": n}. */
json_t *td__json_opinion_counts(const td_feed_opinion_counts *c);

#endif
