/* Labels on banks and signals, and the severity scale that orders the review queue. Kept apart
 * from the service so the list parser (and its fuzzer) can use it alone. */
#include <string.h>

#include "casework/service_int.h"
#include "core/error.h"

static int label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

static td_status add_n(td_labels *labels, const char *s, size_t n, td_error *err)
{
    if (n == 0)
        return td__error_set(err, TD_ERR_INVALID, "empty label");
    if (n > TD_LABEL_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "label longer than %d bytes", TD_LABEL_MAX);
    for (size_t i = 0; i < n; i++)
        if (!label_char((unsigned char)s[i]))
            return td__error_set(err, TD_ERR_INVALID,
                                 "label has a character outside [A-Za-z0-9_.:/-] (0x%02x)",
                                 (unsigned char)s[i]);
    for (int i = 0; i < labels->count; i++)
        if (strlen(labels->v[i]) == n && memcmp(labels->v[i], s, n) == 0)
            return TD_OK;
    if (labels->count >= TD_LABELS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "more than %d labels", TD_LABELS_MAX);
    memcpy(labels->v[labels->count], s, n);
    labels->v[labels->count][n] = '\0';
    labels->count++;
    return TD_OK;
}

td_status td_labels_add(td_labels *labels, const char *label, td_error *err)
{
    if (!label)
        return td__error_set(err, TD_ERR_INVALID, "empty label");
    return add_n(labels, label, strnlen(label, TD_LABEL_MAX + 1), err);
}

td_status td_labels_parse(td_labels *labels, const char *text, size_t len, td_error *err)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (text[i] == ' ' || text[i] == ',' || text[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && text[i] != ' ' && text[i] != ',' && text[i] != '\t')
            i++;
        if (i > start) {
            td_status st = add_n(labels, text + start, i - start, err);
            if (st)
                return st;
        }
    }
    return TD_OK;
}

/* Behaviour labels (GIFCT taxonomy) by severity. A label matches by its part after the last ':'
 * so "behaviour:glorification" and "glorification" weigh the same. */
static const struct {
    const char *name;
    int severity;
} severities[] = {
    {"imminent_threat", 100}, {"imminent_credible_threat", 100},
    {"threat", 90},           {"graphic_violence", 80},
    {"violence", 75},         {"instruction", 60},
    {"recruitment", 50},      {"radicalisation", 50},
    {"radicalization", 50},   {"incitement", 50},
    {"glorification", 40},    {"propaganda", 30},
};

int td_labels_severity(const td_labels *labels)
{
    int best = 0;
    for (int i = 0; i < labels->count; i++) {
        const char *name = strrchr(labels->v[i], ':');
        name = name ? name + 1 : labels->v[i];
        for (size_t k = 0; k < sizeof severities / sizeof severities[0]; k++)
            if (strcasecmp(name, severities[k].name) == 0 && severities[k].severity > best)
                best = severities[k].severity;
    }
    return best;
}

void td__labels_join(const td_labels *labels, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < labels->count; i++) {
        size_t l = strlen(labels->v[i]);
        if (n + l + 2 > cap)
            break;
        if (n)
            out[n++] = ' ';
        memcpy(out + n, labels->v[i], l + 1);
        n += l;
    }
}

void td__labels_merge(td_labels *into, const td_labels *from)
{
    for (int i = 0; i < from->count; i++)
        if (td_labels_add(into, from->v[i], NULL) != TD_OK)
            break;
}

void td__labels_load(td_labels *labels, const char *text)
{
    memset(labels, 0, sizeof *labels);
    /* Stored labels were validated on the way in; a bad one only shortens the list. */
    td_status st = td_labels_parse(labels, text, strlen(text), NULL);
    (void)st;
}
