/* Meta's HMA ("Hasher-Matcher-Actioner") 1.1.7 API: its routes' handlers (docs/hma.md).
 * handlers_hma.c: status, site map, OpenAPI document and what the routes share;
 * handlers_hma_match.c: hashing and matching (/h/..., /m/...);
 * handlers_hma_curation.c: banks, bank content, signal and content types (/c/...);
 * handlers_hma_exchanges.c: exchange APIs and exchanges (/c/exchanges..., /c/exchange/...). */
#ifndef TD_SERVER_HANDLERS_HMA_H
#define TD_SERVER_HANDLERS_HMA_H

#include "server/server_int.h"

void td__h_hma_status(td__req *r);
void td__h_hma_status_live(td__req *r);
void td__h_hma_site_map(td__req *r);
void td__h_hma_openapi(td__req *r);
/* GET / on the HMA listener (a redirect to /status): outside the route table, where "/" is the
 * web console of the main listener. */
extern const td__route td__hma_home_route;
/* Exchanges (handlers_hma_exchanges.c). */
void td__h_hma_exchange_apis(td__req *r);
void td__h_hma_exchange_api_get(td__req *r);
void td__h_hma_exchange_api_set(td__req *r);
void td__h_hma_exchange_api_schema(td__req *r);
void td__h_hma_exchanges_list(td__req *r);
void td__h_hma_exchanges_create(td__req *r);
void td__h_hma_exchange_get(td__req *r);
void td__h_hma_exchange_update(td__req *r);
void td__h_hma_exchange_delete(td__req *r);
void td__h_hma_exchange_status(td__req *r);
void td__h_hma_hash(td__req *r);
void td__h_hma_hash_post(td__req *r);
void td__h_hma_lookup(td__req *r);
void td__h_hma_lookup_post(td__req *r);
void td__h_hma_raw_lookup(td__req *r);
void td__h_hma_compare(td__req *r);
void td__h_hma_index_status(td__req *r);
void td__h_hma_banks_list(td__req *r);
void td__h_hma_banks_create(td__req *r);
void td__h_hma_bank_get(td__req *r);
void td__h_hma_bank_update(td__req *r);
void td__h_hma_bank_delete(td__req *r);
void td__h_hma_signal_add(td__req *r);
void td__h_hma_content_get(td__req *r);
void td__h_hma_content_update(td__req *r);
void td__h_hma_content_delete(td__req *r);
void td__h_hma_content_add(td__req *r);
void td__h_hma_signal_types(td__req *r);
void td__h_hma_signal_type_update(td__req *r);
void td__h_hma_signal_type_index(td__req *r);
void td__h_hma_content_types(td__req *r);

#endif
