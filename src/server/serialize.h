/* JSON views of the library's records (serialize.c). Each returns a new reference, or NULL when
 * memory is short (td__reply_json answers 503 then). */
#ifndef TD_SERVER_SERIALIZE_H
#define TD_SERVER_SERIALIZE_H

#include "server/server_int.h"

json_t *td__json_labels(const td_labels *labels);
json_t *td__json_bank(const td_bank *b);
json_t *td__json_signal(const td_signal *s);
json_t *td__json_hashes(const td_hashes *h);
json_t *td__json_match(const td_match *m);
json_t *td__json_matches(const td_match *m, size_t n);
json_t *td__json_check(const td_check_result *res);
json_t *td__json_case(const td_case *c);
json_t *td__json_decision(const td_decision *d);
json_t *td__json_content(const td_content *c);
json_t *td__json_webhook(const td_webhook *w);
json_t *td__json_delivery(const td_delivery *d);
json_t *td__json_key(const td_key_info *k);

/* Appends the array of strings obj[name] to out; replies 400 and returns 0 on a wrong type or
 * an invalid label. *present (may be NULL) tells whether the member was there. */
int td__parse_labels(td__req *r, json_t *obj, const char *name, td_labels *out, int *present);

#endif
