/* Pages of items read from a source (client.h). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/client.h"

void td__xpage_clear(td__xpage *p)
{
    for (size_t i = 0; i < p->n; i++)
        td__free(p->items[i].value);
    td__free(p->items);
    memset(p, 0, sizeof *p);
}

td_status td__xpage_add(td__xpage *p, const td__xitem *item, const char *value, size_t value_len,
                        size_t max_items, td_error *err)
{
    if (max_items && p->n >= max_items)
        return td__error_set(err, TD_ERR_LIMIT, "page: more than %zu items", max_items);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        td__xitem *grown = td__realloc(p->items, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        p->items = grown;
        p->cap = cap;
    }
    char *v = td__malloc(value_len + 1);
    if (!v)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    td__xitem *it = &p->items[p->n++];
    *it = *item;
    it->value = v;
    it->value_len = value_len;
    return TD_OK;
}
