/* User notice templates inside the orders component: the placeholders, and rendering a checked
 * template (orders_template.c, no store: the fuzzer links it alone). */
#ifndef TD_ORDERS_ORDERS_TEMPLATE_INT_H
#define TD_ORDERS_ORDERS_TEMPLATE_INT_H

#include <stddef.h>

#include "takedown/orders.h"

/* The placeholders, in the order of td_notice_placeholders(). */
typedef enum td__notice_field {
    TD__NF_REASON,
    TD__NF_CATEGORY,
    TD__NF_CATEGORY_TEXT,
    TD__NF_REFERENCE,
    TD__NF_AUTHORITY,
    TD__NF_MEMBER_STATE,
    TD__NF_ISSUED_AT,
    TD__NF_REDRESS,
    TD__NF_COMPLAINT_URL,
    TD__NF_COMPLAINT_DAYS,
    TD__NF_CONTENT_ID,
    TD__NF_URL,
    TD__NF_MEASURE,
    TD__NF_TIME_OF_MEASURE,
    TD__NF_COUNT
} td__notice_field;

/* The value of each placeholder (NULL: empty). */
typedef struct td__notice_values {
    const char *v[TD__NF_COUNT];
} td__notice_values;

/* Renders a template that td_notice_template_check accepted: each value is cut to its
 * placeholder's maximum (at a UTF-8 boundary), so the result is at most TD_NOTICE_TEXT_MAX
 * bytes. *out (td__malloc'ed, NUL-terminated; free with td__free) and *out_len. */
td_status td__notice_render(const char *text, size_t len, const td__notice_values *values,
                            char **out, size_t *out_len, td_error *err);

/* What reason category c ('a'..'e') means (Art. 2(7) TCO), in English; "" for others. */
const char *td__category_text(char c);

#endif
