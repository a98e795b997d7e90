/* Pages of an exchange client (client.h): the items a fetch parsed, owned by the page. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/client.h"

void td__xpage_clear(td__xpage *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        td__free(p->items[i].value);
    td__free(p->items);
    memset(p, 0, sizeof *p);
}

td_status td__xpage_add(td__xpage *p, const td__xitem *item, const char *value, size_t value_len,
                        size_t max_items, td_error *err)
{
    if (max_items && p->n >= max_items)
        return td__error_set(err, TD_ERR_LIMIT, "more than %zu items in a page", max_items);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        td__xitem *items = td__realloc(p->items, cap * sizeof *items);
        if (!items)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        p->items = items;
        p->cap = cap;
    }
    char *v = td__malloc(value_len + 1);
    if (!v)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    p->items[p->n] = *item;
    p->items[p->n].value = v;
    p->items[p->n].value_len = value_len;
    p->n++;
    return TD_OK;
}
