/* Small shared pieces of the service: the clock, bounded copies, names of enumerations. */
#include <strings.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

int64_t td__now(td_service *svc) { return td_clock_now(&svc->opts.clock); }

td_status td__copy(char *dst, size_t dst_size, const char *src, const char *what, td_error *err)
{
    size_t n = src ? strnlen(src, dst_size) : 0;
    if (n >= dst_size) {
        dst[0] = '\0';
        return td__error_set(err, TD_ERR_LIMIT, "%s longer than %zu bytes", what, dst_size - 1);
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return TD_OK;
}

void td__copy_trunc(char *dst, size_t dst_size, const char *src)
{
    size_t n = src ? strnlen(src, dst_size - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

td_status td__grow(void **items, size_t *cap, size_t need, size_t size, td_error *err)
{
    if (need <= *cap)
        return TD_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (__builtin_mul_overflow(n, (size_t)2, &n))
            return td__error_set(err, TD_ERR_NOMEM, "list too long");
    }
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        return td__error_set(err, TD_ERR_NOMEM, "list too long");
    void *p = td__realloc(*items, bytes);
    if (!p)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    *items = p;
    *cap = n;
    return TD_OK;
}

static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (names[i] && strcasecmp(names[i], name) == 0)
            return i;
    return -1;
}

static const char *const action_names[] = {"log", "review", "block"};
const char *td_action_name(td_action a) { return (unsigned)a < 3 ? action_names[a] : "?"; }
td_status td_action_parse(const char *name, td_action *out)
{
    int i = lookup(action_names, 3, name);
    if (i < 0)
        return TD_ERR_INVALID;
    *out = (td_action)i;
    return TD_OK;
}

static const char *const kind_names[] = {"normal", "allow"};
const char *td_bank_kind_name(td_bank_kind k) { return (unsigned)k < 2 ? kind_names[k] : "?"; }
td_status td_bank_kind_parse(const char *name, td_bank_kind *out)
{
    int i = lookup(kind_names, 2, name);
    if (i < 0)
        return TD_ERR_INVALID;
    *out = (td_bank_kind)i;
    return TD_OK;
}

static const char *const verdict_names[] = {"allow", "review", "block"};
const char *td_verdict_name(td_verdict v) { return (unsigned)v < 3 ? verdict_names[v] : "?"; }

static const char *const role_names[] = {NULL,        "admin", "moderator", "platform", "auditor",
                                         "authority", "peer",  "custodian", "legal"};
#define N_ROLE_NAMES ((int)(sizeof role_names / sizeof role_names[0]))
_Static_assert(sizeof role_names / sizeof role_names[0] == TD_ROLE_LEGAL + 1, "one name per role");
const char *td_role_name(td_role r) { return r >= 1 && r < N_ROLE_NAMES ? role_names[r] : "?"; }
td_status td_role_parse(const char *name, td_role *out)
{
    int i = lookup(role_names, N_ROLE_NAMES, name);
    if (i < 1)
        return TD_ERR_INVALID;
    *out = (td_role)i;
    return TD_OK;
}

static const char *const state_names[] = {NULL, "open", "claimed", "escalated", "closed"};
const char *td_case_state_name(td_case_state s) { return s >= 1 && s <= 4 ? state_names[s] : "?"; }
td_status td_case_state_parse(const char *name, td_case_state *out)
{
    int i = lookup(state_names, 5, name);
    if (i < 1)
        return TD_ERR_INVALID;
    *out = (td_case_state)i;
    return TD_OK;
}

static const char *const decision_names[] = {NULL, "remove", "keep", "escalate"};
const char *td_decision_name(td_decision_kind k)
{
    return k >= 1 && k <= 3 ? decision_names[k] : "none";
}
td_status td_decision_parse(const char *name, td_decision_kind *out)
{
    int i = lookup(decision_names, 4, name);
    if (i < 1)
        return TD_ERR_INVALID;
    *out = (td_decision_kind)i;
    return TD_OK;
}

static const char *const delivery_names[] = {NULL, "pending", "delivered", "dead"};
const char *td_delivery_state_name(td_delivery_state s)
{
    return s >= 1 && s <= 3 ? delivery_names[s] : "?";
}

void td_hashes_init(td_hashes *h)
{
    memset(h, 0, sizeof *h);
    h->quality = -1;
}

int td__signal_indexable(td_signal_type type, int quality, int enabled)
{
    return enabled && !(type == TD_SIGNAL_PDQ && quality >= 0 && quality < TD_PDQ_MIN_QUALITY);
}
