/* The rules of open incidents, as the check path applies them (service_int.h). The incidents
 * module (src/exchange/incidents.c) owns incidents and sets this list whole whenever one opens
 * or closes, and reloads it from the store every few seconds so that every node sharing a
 * PostgreSQL store applies the same rules; casework only reads it where a match is resolved and
 * queues what it applied to for that module to record (bounded: a slow recorder loses counts,
 * never blocks a check). */
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

td_action td_match_action(const td_match *m)
{
    if (m->incident_id && m->incident_action > m->action)
        return m->incident_action;
    return m->action;
}

td_status td__incident_rules_set(td_service *svc, const td__incident_rule *rules, size_t n,
                                 td_error *err)
{
    td__incident_rule *copy = NULL;
    if (n) {
        copy = td__mallocarray(n, sizeof *copy);
        if (!copy)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        memcpy(copy, rules, n * sizeof *copy);
    }
    pthread_mutex_lock(&svc->incident_lock);
    td__incident_rule *old = svc->incident_rules;
    svc->incident_rules = copy;
    svc->n_incident_rules = n;
    atomic_store(&svc->incident_rules_any, n > 0);
    pthread_mutex_unlock(&svc->incident_lock);
    td__free(old);
    return TD_OK;
}

int td__incident_rule_meets(const td__incident_rule *r, const char *bank, const td_labels *labels)
{
    if (r->n_banks) {
        int in = 0;
        for (int i = 0; i < r->n_banks && !in; i++)
            in = strcmp(r->banks[i], bank) == 0;
        if (!in)
            return 0;
    }
    if (!r->labels.count)
        return r->n_banks > 0; /* an empty filter meets nothing */
    for (int i = 0; i < r->labels.count; i++)
        for (int j = 0; j < labels->count; j++)
            if (strcmp(r->labels.v[i], labels->v[j]) == 0)
                return 1;
    return 0;
}

void td__incident_apply(td_service *svc, td_match *m)
{
    if (m->kind == TD_BANK_ALLOW || !atomic_load(&svc->incident_rules_any))
        return;
    pthread_mutex_lock(&svc->incident_lock);
    for (size_t i = 0; i < svc->n_incident_rules; i++) {
        const td__incident_rule *r = &svc->incident_rules[i];
        if (!td__incident_rule_meets(r, m->bank, &m->labels))
            continue;
        /* The strongest enforcement wins; among equals the oldest incident. */
        if (!m->incident_id || r->action > m->incident_action ||
            (r->action == m->incident_action && r->id < m->incident_id)) {
            m->incident_id = r->id;
            m->incident_action = r->action;
        }
    }
    pthread_mutex_unlock(&svc->incident_lock);
}

void td__incident_note(td_service *svc, const td_match *m, size_t n, td_verdict v,
                       int64_t content_ref, const char *content_id, const char *via)
{
    int64_t now = 0;
    for (size_t i = 0; i < n; i++) {
        if (!m[i].incident_id || m[i].suppressed)
            continue;
        /* One hit per incident and call: the first of its matches (best first). */
        int seen = 0, blocked = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = m[j].incident_id == m[i].incident_id && !m[j].suppressed;
        if (seen)
            continue;
        for (size_t j = i; j < n; j++)
            if (m[j].incident_id == m[i].incident_id && !m[j].suppressed &&
                td_match_action(&m[j]) == TD_ACTION_BLOCK)
                blocked = 1;
        if (!now)
            now = td__now(svc);
        td__incident_hit h;
        memset(&h, 0, sizeof h);
        h.incident_id = m[i].incident_id;
        h.signal_id = m[i].signal_id;
        h.content_ref = content_ref;
        h.at_ms = now;
        memcpy(h.bank, m[i].bank, sizeof h.bank);
        h.type = m[i].type;
        h.verdict = v;
        h.blocked = blocked && v == TD_VERDICT_BLOCK;
        td__copy_trunc(h.content_id, sizeof h.content_id, content_id ? content_id : "");
        td__copy_trunc(h.via, sizeof h.via, via);
        pthread_mutex_lock(&svc->incident_lock);
        if (svc->n_incident_hits >= TD__INCIDENT_HITS_MAX ||
            td__grow((void **)&svc->incident_hits, &svc->cap_incident_hits,
                     svc->n_incident_hits + 1, sizeof h, NULL) != TD_OK)
            svc->incident_hits_dropped++;
        else
            svc->incident_hits[svc->n_incident_hits++] = h;
        pthread_mutex_unlock(&svc->incident_lock);
    }
}

size_t td__incident_hits_take(td_service *svc, td__incident_hit **out, uint64_t *dropped)
{
    pthread_mutex_lock(&svc->incident_lock);
    size_t n = svc->n_incident_hits;
    *out = svc->incident_hits;
    *dropped = svc->incident_hits_dropped;
    svc->incident_hits = NULL;
    svc->n_incident_hits = svc->cap_incident_hits = 0;
    svc->incident_hits_dropped = 0;
    pthread_mutex_unlock(&svc->incident_lock);
    return n;
}
