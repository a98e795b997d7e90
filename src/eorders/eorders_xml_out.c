/* Writing the operator's e-Evidence messages (TS 104 144 clause 6) as ETSI TS 103 120
 * HI1Message XML: data preserved, outcome, non-execution (Annex III) and correspondence, from a
 * JSON object whose shape per message is in docs/evidence-orders-xml.md.
 *
 * The JSON comes from our own orders layer, but it is read as strictly as an authority's: unknown
 * members are refused and every value is checked (UUIDs, digests, times, texts that XML 1.0 can
 * carry), because a message that leaves the operator is a legal act and must say exactly what was
 * meant. The tree is built with libxml2's tree API, which escapes every text, and serialised once;
 * what comes out reads back with td_eevidence_parse (the tests and the fuzzer check it). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/utf8.h"
#include "eorders/eorders_xml_int.h"

static const char *const message_names[TD_EEV_MSG_COUNT] = {"datapreserved", "outcome",
                                                            "nonexecution", "correspondence"};

const char *td_eevidence_message_name(td_eevidence_message kind)
{
    return (unsigned)kind < TD_EEV_MSG_COUNT ? message_names[kind] : NULL;
}

/* The "action" a read-back of each message has; accepted in the input so that what
 * td_eevidence_parse gives can be written again. */
static const char *const message_actions[TD_EEV_MSG_COUNT] = {"data_preserved", "outcome",
                                                              "non_execution", "correspondence"};

typedef struct out {
    td_error *err;
    td_status st;
    xmlDocPtr doc;
    xmlNodePtr actions;
    unsigned next_action;
    xmlNsPtr core, common, task, auth, docns, notification, delivery, xsi, eev;
    void **keep; /* trimmed copies of the input's texts */
    size_t n_keep, cap_keep;
    td_eevidence_party sender; /* owns the objects we create */
    td_eevidence_party owner;  /* owns the order's objects we update */
    char now[40];              /* the header's Timestamp */
} out;

static td_status fail(out *o, td_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static td_status fail(out *o, td_status code, const char *fmt, ...)
{
    if (o->st != TD_OK)
        return o->st;
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->st = code;
    td__error_set(o->err, code, "%s", msg);
    return code;
}

/* ---- reading the JSON ---- */

/* 1 if s[0..n) is text XML 1.0 can carry: no control character but tab, line feed and carriage
 * return, no U+FFFE / U+FFFF (jansson has checked the UTF-8 and refused NUL already). */
static int xml_text_ok(const char *s, size_t n)
{
    for (size_t i = 0, step; i < n; i += step) {
        uint32_t cp;
        step = td__utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (step == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE ||
            cp == 0xFFFF)
            return 0;
    }
    return 1;
}

static void only(out *o, json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            fail(o, TD_ERR_INVALID, "%s%.64s: unknown member", path, key);
            return;
        }
    }
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A copy of s[0..n) kept until the build ends. */
static const char *keep_copy(out *o, const char *s, size_t n)
{
    if (o->n_keep == o->cap_keep) {
        size_t cap = o->cap_keep ? 2 * o->cap_keep : 32;
        void **bigger = td__realloc(o->keep, cap * sizeof *bigger);
        if (!bigger) {
            fail(o, TD_ERR_NOMEM, "out of memory");
            return NULL;
        }
        o->keep = bigger;
        o->cap_keep = cap;
    }
    char *copy = td__malloc(n + 1);
    if (!copy) {
        fail(o, TD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    o->keep[o->n_keep++] = copy;
    return copy;
}

/* A string member: NULL when absent (a failure when required), a failure when not a string, too
 * long, empty or not fit for XML. Blanks around it are dropped, as every reader of the XML drops
 * them (raw: kept, for a text that travels base64-encoded). */
static const char *str_as(out *o, json_t *obj, const char *path, const char *key, int required,
                          size_t max, int raw)
{
    if (o->st != TD_OK)
        return NULL;
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            fail(o, TD_ERR_INVALID, "%s%s: missing", path, key);
        return NULL;
    }
    if (!json_is_string(v)) {
        fail(o, TD_ERR_INVALID, "%s%s: not a string", path, key);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    while (!raw && n > 0 && blank(s[n - 1]))
        n--;
    while (!raw && n > 0 && blank(*s)) {
        s++;
        n--;
    }
    if (n == 0)
        fail(o, TD_ERR_INVALID, "%s%s: empty", path, key);
    else if (n > max)
        fail(o, TD_ERR_LIMIT, "%s%s: longer than %zu bytes", path, key, max);
    else if (!xml_text_ok(s, n))
        fail(o, TD_ERR_INVALID, "%s%s: a control character XML cannot carry", path, key);
    return o->st == TD_OK ? keep_copy(o, s, n) : NULL;
}

static const char *str(out *o, json_t *obj, const char *path, const char *key, int required,
                       size_t max)
{
    return str_as(o, obj, path, key, required, max, 0);
}

static const char *uuid(out *o, json_t *obj, const char *path, const char *key, int required,
                        char lower[37])
{
    const char *s = str(o, obj, path, key, required, 36);
    if (s && !td__eev_uuid_valid(s, strlen(s))) {
        fail(o, TD_ERR_INVALID, "%s%s: not a UUID", path, key);
        return NULL;
    }
    if (s)
        td__eev_uuid_lower(s, lower);
    return s ? lower : NULL;
}

static int64_t when(out *o, json_t *obj, const char *path, const char *key)
{
    const char *s = str(o, obj, path, key, 0, 40);
    int64_t t = s ? td__eev_time_parse(s, strlen(s)) : -1;
    if (s && t < 0)
        fail(o, TD_ERR_INVALID, "%s%s: not a date and time with a zone (RFC 3339)", path, key);
    return t;
}

static void check_action(out *o, json_t *in, td_eevidence_message kind)
{
    const char *a = str(o, in, "", "action", 0, 32);
    if (a && strcmp(a, message_actions[kind]) != 0)
        fail(o, TD_ERR_INVALID, "action: '%.32s' in a %s message", a, message_names[kind]);
}

/* An array of distinct UUIDs (0..max of them) into ids. */
static size_t uuid_array(out *o, json_t *in, const char *key, char (*ids)[37], size_t max,
                         const char *order)
{
    json_t *arr = json_object_get(in, key);
    if (!arr || o->st != TD_OK)
        return 0;
    if (!json_is_array(arr)) {
        fail(o, TD_ERR_INVALID, "%s: not an array", key);
        return 0;
    }
    if (json_array_size(arr) > max) {
        fail(o, TD_ERR_LIMIT, "%s: more than %zu", key, max);
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(arr) && o->st == TD_OK; i++) {
        json_t *v = json_array_get(arr, i);
        const char *s = json_string_value(v);
        if (!s || !td__eev_uuid_valid(s, strlen(s))) {
            fail(o, TD_ERR_INVALID, "%s[%zu]: not a UUID", key, i);
            return 0;
        }
        td__eev_uuid_lower(s, ids[n]);
        for (size_t k = 0; k < n; k++)
            if (strcmp(ids[k], ids[n]) == 0)
                fail(o, TD_ERR_INVALID, "%s[%zu]: named twice", key, i);
        if (order && strcmp(ids[n], order) == 0)
            fail(o, TD_ERR_INVALID, "%s[%zu]: the order itself", key, i);
        n++;
    }
    return n;
}

/* An attached document {"name", "content_type", "contents" (base64)}: the base64 is checked and
 * written again in its canonical form (the caller frees *b64). */
static void attachment(out *o, json_t *in, const char *key, const char **name,
                       const char **content_type, char **b64)
{
    *b64 = NULL;
    json_t *a = json_object_get(in, key);
    if (!a || o->st != TD_OK)
        return;
    char path[64];
    snprintf(path, sizeof path, "%s.", key);
    if (!json_is_object(a)) {
        fail(o, TD_ERR_INVALID, "%s: not an object", key);
        return;
    }
    static const char *const known[] = {"name", "content_type", "contents", NULL};
    only(o, a, path, known);
    *name = str(o, a, path, "name", 0, TD_EEV_ID_MAX);
    *content_type = str(o, a, path, "content_type", 1, TD__EEV_MAX_CONTENT_TYPE);
    const char *text = str(o, a, path, "contents", 1, TD_EEV_MAX_XML);
    if (!text)
        return;
    unsigned char *bin = NULL;
    size_t n = 0;
    td_status st = td__eev_base64_decode(text, strlen(text), &bin, &n);
    if (st == TD_ERR_NOMEM) {
        fail(o, st, "out of memory");
        return;
    }
    if (st != TD_OK || n == 0) {
        fail(o, TD_ERR_INVALID, "%scontents: not base64 of a non-empty document", path);
        return;
    }
    *b64 = td__eev_base64_encode(bin, n);
    td__free(bin);
    if (!*b64)
        fail(o, TD_ERR_NOMEM, "out of memory");
}

/* The owner of the order's objects we update: "owner" {"country", "unique_id"}, by default the
 * header's receiver (the issuing authority). */
static void read_owner(out *o, json_t *in, const td_eevidence_header *hdr)
{
    o->owner = hdr->receiver;
    json_t *w = json_object_get(in, "owner");
    if (!w || o->st != TD_OK)
        return;
    if (!json_is_object(w)) {
        fail(o, TD_ERR_INVALID, "owner: not an object");
        return;
    }
    static const char *const known[] = {"country", "unique_id", NULL};
    only(o, w, "owner.", known);
    const char *cc = str(o, w, "owner.", "country", 1, 2);
    const char *id = str(o, w, "owner.", "unique_id", 1, TD_EEV_ID_MAX);
    if (cc && !td__eev_country_valid(cc, strlen(cc)))
        fail(o, TD_ERR_INVALID, "owner.country: not two capital letters");
    if (o->st != TD_OK)
        return;
    memcpy(o->owner.country, cc, 3);
    memcpy(o->owner.unique_id, id, strlen(id) + 1);
}

/* ---- writing the tree ---- */

static xmlNodePtr el(out *o, xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    if (o->st != TD_OK)
        return NULL;
    xmlNodePtr n = xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
    if (!n)
        fail(o, TD_ERR_NOMEM, "out of memory building the XML");
    return n;
}

/* A dictionary entry: common:Owner, common:Name, common:Value. */
static void dict(out *o, xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *owner,
                 const char *dname, const char *value)
{
    xmlNodePtr d = el(o, parent, ns, name, NULL);
    el(o, d, o->common, "Owner", owner);
    el(o, d, o->common, "Name", dname);
    el(o, d, o->common, "Value", value);
}

/* One ActionRequest with its HI1Object of type xsi_type; returns the HI1Object. deliver_for is
 * the DELIVER verb's Identifier (NULL: CREATE or UPDATE as update says). */
static xmlNodePtr object(out *o, int update, const char *deliver_for, const char *xsi_type,
                         const char *id, const td_eevidence_party *owner, char (*assoc)[37],
                         size_t n_assoc)
{
    char num[16];
    snprintf(num, sizeof num, "%u", o->next_action++);
    xmlNodePtr ar = el(o, o->actions, o->core, "ActionRequest", NULL);
    el(o, ar, o->core, "ActionIdentifier", num);
    xmlNodePtr verb = el(o, ar, o->core,
                         deliver_for ? "DELIVER"
                         : update    ? "UPDATE"
                                     : "CREATE",
                         NULL);
    if (deliver_for)
        el(o, verb, o->core, "Identifier", deliver_for);
    xmlNodePtr hi1 = el(o, verb, o->core, "HI1Object", NULL);
    if (hi1 && !xmlNewNsProp(hi1, o->xsi, (const xmlChar *)"type", (const xmlChar *)xsi_type))
        fail(o, TD_ERR_NOMEM, "out of memory building the XML");
    el(o, hi1, o->core, "ObjectIdentifier", id);
    el(o, hi1, o->core, "CountryCode", owner->country);
    el(o, hi1, o->core, "OwnerIdentifier", owner->unique_id);
    if (n_assoc) {
        xmlNodePtr a = el(o, hi1, o->core, "AssociatedObjects", NULL);
        for (size_t i = 0; i < n_assoc; i++)
            el(o, a, o->core, "AssociatedObject", assoc[i]);
    }
    return hi1;
}

static void party(out *o, xmlNodePtr header, const char *name, const td_eevidence_party *p)
{
    xmlNodePtr n = el(o, header, o->core, name, NULL);
    el(o, n, o->core, "CountryCode", p->country);
    el(o, n, o->core, "UniqueIdentifier", p->unique_id);
}

/* Checks the caller's header and writes the root, the Header and the empty ActionRequests. */
static void start(out *o, const td_eevidence_header *hdr)
{
    const td_eevidence_party *parties[2] = {&hdr->sender, &hdr->receiver};
    static const char *const party_names[2] = {"sender", "receiver"};
    for (int i = 0; i < 2 && o->st == TD_OK; i++) {
        size_t n = strnlen(parties[i]->unique_id, sizeof parties[i]->unique_id);
        if (!td__eev_country_valid(parties[i]->country, strnlen(parties[i]->country, 3)))
            fail(o, TD_ERR_INVALID, "header: the %s's country is not two capital letters",
                 party_names[i]);
        else if (n == 0 || n > TD_EEV_ID_MAX || !xml_text_ok(parties[i]->unique_id, n) ||
                 blank(parties[i]->unique_id[0]) || blank(parties[i]->unique_id[n - 1]))
            fail(o, TD_ERR_INVALID,
                 "header: the %s's unique identifier is empty, not text or has blanks around it",
                 party_names[i]);
    }
    char tid[37];
    size_t tn = strnlen(hdr->transaction_id, sizeof hdr->transaction_id);
    if (tn == 0)
        td__eev_uuid_new(tid);
    else if (!td__eev_uuid_valid(hdr->transaction_id, tn))
        fail(o, TD_ERR_INVALID, "header: the transaction identifier is not a UUID");
    else
        td__eev_uuid_lower(hdr->transaction_id, tid);
    size_t sn = strnlen(hdr->timestamp, sizeof hdr->timestamp);
    int64_t ms = sn ? td__eev_time_parse(hdr->timestamp, sn) : td__wall_ms();
    if (ms < 0)
        fail(o, TD_ERR_INVALID, "header: the timestamp is not a date and time with a zone");
    const char *versions[3] = {hdr->etsi_version, hdr->profile_owner, hdr->profile_version};
    static const char *const defaults[3] = {TD_EEV_ETSI_VERSION, TD_EEV_PROFILE_OWNER,
                                            TD_EEV_PROFILE_VERSION};
    for (int i = 0; i < 3; i++) {
        size_t n = strnlen(versions[i], sizeof hdr->etsi_version);
        if (n == sizeof hdr->etsi_version || !xml_text_ok(versions[i], n) ||
            (n && (blank(versions[i][0]) || blank(versions[i][n - 1]))))
            fail(o, TD_ERR_INVALID, "header: a version field is not text or has blanks around it");
        if (n == 0)
            versions[i] = defaults[i];
    }
    if (o->st != TD_OK)
        return;
    td__eev_time_format_micro(ms, o->now);
    o->sender = hdr->sender;

    o->doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root =
        o->doc ? xmlNewDocNode(o->doc, NULL, (const xmlChar *)"HI1Message", NULL) : NULL;
    if (!root) {
        fail(o, TD_ERR_NOMEM, "out of memory building the XML");
        return;
    }
    xmlDocSetRootElement(o->doc, root);
    o->core = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_CORE, NULL);
    o->common = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_COMMON, (const xmlChar *)"common");
    o->task = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_TASK, (const xmlChar *)"task");
    o->auth = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_AUTH, (const xmlChar *)"auth");
    o->docns = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_DOC, (const xmlChar *)"doc");
    o->notification =
        xmlNewNs(root, (const xmlChar *)TD__EEV_NS_NOTIFICATION, (const xmlChar *)"notification");
    o->delivery = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_DELIVERY, (const xmlChar *)"delivery");
    o->xsi = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_XSI, (const xmlChar *)"xsi");
    o->eev = xmlNewNs(root, (const xmlChar *)TD__EEV_NS_EEV, (const xmlChar *)"eev");
    if (!o->core || !o->common || !o->task || !o->auth || !o->docns || !o->notification ||
        !o->delivery || !o->xsi || !o->eev) {
        fail(o, TD_ERR_NOMEM, "out of memory building the XML");
        return;
    }
    xmlSetNs(root, o->core);
    xmlNodePtr header = el(o, root, o->core, "Header", NULL);
    party(o, header, "SenderIdentifier", &hdr->sender);
    party(o, header, "ReceiverIdentifier", &hdr->receiver);
    el(o, header, o->core, "TransactionIdentifier", tid);
    el(o, header, o->core, "Timestamp", o->now);
    xmlNodePtr version = el(o, header, o->core, "Version", NULL);
    el(o, version, o->core, "ETSIVersion", versions[0]);
    el(o, version, o->core, "NationalProfileOwner", versions[1]);
    el(o, version, o->core, "NationalProfileVersion", versions[2]);
    xmlNodePtr payload = el(o, root, o->core, "Payload", NULL);
    xmlNodePtr request = el(o, payload, o->core, "RequestPayload", NULL);
    o->actions = el(o, request, o->core, "ActionRequests", NULL);
}

static void document(out *o, const char *id, char (*assoc)[37], const char *name, const char *type,
                     const char *content_type, const char *b64)
{
    xmlNodePtr d = object(o, 0, NULL, "doc:DocumentObject", id, &o->sender, assoc, 1);
    if (name)
        el(o, d, o->docns, "DocumentName", name);
    dict(o, d, o->docns, "DocumentType", "ETSI", "EPOCDocumentType", type);
    if (b64) {
        xmlNodePtr body = el(o, d, o->docns, "DocumentBody", NULL);
        el(o, body, o->docns, "Contents", b64);
        el(o, body, o->docns, "ContentType", content_type);
    }
}

static void notification(out *o, const char *id, char (*assoc)[37], size_t n_assoc,
                         const char *details, const char *type, const char *timestamp,
                         xmlNodePtr *node)
{
    xmlNodePtr n =
        object(o, 0, NULL, "notification:NotificationObject", id, &o->sender, assoc, n_assoc);
    if (details)
        el(o, n, o->notification, "NotificationDetails", details);
    dict(o, n, o->notification, "NotificationType", "ETSI", "EPOCNotificationType", type);
    el(o, n, o->notification, "NewNotification", "true");
    el(o, n, o->notification, "NotificationTimestamp", timestamp);
    *node = n;
}

/* ---- the messages ---- */

static void data_preserved(out *o, json_t *in)
{
    static const char *const known[] = {"action",  "order",        "owner", "tasks",
                                        "details", "preserved_at", NULL};
    only(o, in, "", known);
    char order[37];
    uuid(o, in, "", "order", 1, order);
    const char *details = str(o, in, "", "details", 0, TD_EEV_MAX_TEXT);
    int64_t at = when(o, in, "", "preserved_at");
    json_t *tasks = json_object_get(in, "tasks");
    if (o->st == TD_OK && (!json_is_array(tasks) || json_array_size(tasks) == 0))
        fail(o, TD_ERR_INVALID, "tasks: an array of one or more {\"id\", \"status\"} expected");
    if (o->st == TD_OK && json_array_size(tasks) > TD_EEV_MAX_OBJECTS - 1)
        fail(o, TD_ERR_LIMIT, "tasks: more than %d", TD_EEV_MAX_OBJECTS - 1);
    if (o->st != TD_OK)
        return;
    size_t n = json_array_size(tasks);
    char(*assoc)[37] = td__calloc(n + 1, sizeof *assoc);
    if (!assoc) {
        fail(o, TD_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(assoc[0], order, 37);
    for (size_t i = 0; i < n && o->st == TD_OK; i++) {
        json_t *t = json_array_get(tasks, i);
        char path[32];
        snprintf(path, sizeof path, "tasks[%zu].", i);
        if (!json_is_object(t)) {
            fail(o, TD_ERR_INVALID, "tasks[%zu]: not an object", i);
            break;
        }
        static const char *const tk[] = {"id", "status", NULL};
        only(o, t, path, tk);
        uuid(o, t, path, "id", 1, assoc[i + 1]);
        const char *status = str(o, t, path, "status", 1, 16);
        const char *x = status ? td__eev_xml_of(td__eev_task_status, status) : NULL;
        if (status && !x)
            fail(o, TD_ERR_INVALID, "%sstatus: preserved or invalid expected", path);
        for (size_t k = 1; k <= i && o->st == TD_OK; k++)
            if (strcmp(assoc[k], assoc[i + 1]) == 0)
                fail(o, TD_ERR_INVALID, "%sid: named twice", path);
        if (o->st == TD_OK && strcmp(assoc[i + 1], order) == 0)
            fail(o, TD_ERR_INVALID, "%sid: the order itself", path);
        xmlNodePtr task =
            object(o, 1, NULL, "task:LDTaskObject", assoc[i + 1], &o->owner, assoc, 1);
        dict(o, task, o->task, "Status", "ETSI", "LDTaskStatus", x);
    }
    char id[37], stamp[40];
    td__eev_uuid_new(id);
    if (at >= 0)
        td__eev_time_format(at, stamp);
    xmlNodePtr node = NULL;
    notification(o, id, assoc, n + 1, details, "DataPreserved", at >= 0 ? stamp : o->now, &node);
    td__free(assoc);
}

static void outcome(out *o, json_t *in)
{
    static const char *const known[] = {"action", "order", "tasks", "delivery_id", "package", NULL};
    only(o, in, "", known);
    char(*assoc)[37] = td__calloc(TD_EEV_MAX_OBJECTS, sizeof *assoc);
    if (!assoc) {
        fail(o, TD_ERR_NOMEM, "out of memory");
        return;
    }
    uuid(o, in, "", "order", 1, assoc[0]);
    size_t n = uuid_array(o, in, "tasks", assoc + 1, TD_EEV_MAX_OBJECTS - 1, assoc[0]);
    const char *delivery_id = str(o, in, "", "delivery_id", 0, TD_EEV_ID_MAX);
    json_t *pkg = json_object_get(in, "package");
    if (o->st == TD_OK && !json_is_object(pkg))
        fail(o, TD_ERR_INVALID, "package: missing or not an object");
    static const char *const pk[] = {"sha256", "size",         "manifest_sha256",
                                     "uri",    "content_type", NULL};
    if (o->st == TD_OK)
        only(o, pkg, "package.", pk);
    const char *sha = str(o, pkg, "package.", "sha256", 1, 64);
    const char *manifest = str(o, pkg, "package.", "manifest_sha256", 1, 64);
    const char *uri = str(o, pkg, "package.", "uri", 1, TD__EEV_MAX_URI);
    const char *ctype = str(o, pkg, "package.", "content_type", 0, TD__EEV_MAX_CONTENT_TYPE);
    json_t *size = json_object_get(pkg, "size");
    if (o->st == TD_OK && !td__eev_hex64(sha))
        fail(o, TD_ERR_INVALID, "package.sha256: 64 lower-case hex digits expected");
    if (o->st == TD_OK && !td__eev_hex64(manifest))
        fail(o, TD_ERR_INVALID, "package.manifest_sha256: 64 lower-case hex digits expected");
    if (o->st == TD_OK && (!json_is_integer(size) || json_integer_value(size) < 0 ||
                           json_integer_value(size) > ((json_int_t)1 << 53)))
        fail(o, TD_ERR_INVALID, "package.size: a non-negative integer expected");
    if (o->st == TD_OK && !td__eev_uri_ok(uri))
        fail(o, TD_ERR_INVALID, "package.uri: an absolute URI without blanks expected");
    if (o->st != TD_OK) {
        td__free(assoc);
        return;
    }
    char id[37], did[37], num[24];
    td__eev_uuid_new(id);
    if (!delivery_id) {
        td__eev_uuid_new(did);
        delivery_id = did;
    }
    xmlNodePtr d = object(o, 0, assoc[0], "delivery:DeliveryObject", id, &o->sender, assoc, n + 1);
    el(o, d, o->delivery, "DeliveryID", delivery_id);
    el(o, d, o->delivery, "SequenceNumber", "1");
    el(o, d, o->delivery, "LastSequence", "true");
    xmlNodePtr manifest_el = el(o, d, o->delivery, "Manifest", NULL);
    dict(o, manifest_el, o->delivery, "Specification", TD__EEV_OWNER, "ManifestSpecification",
         "EvidencePackage");
    xmlNodePtr p = el(o, d, o->eev, "Package", NULL);
    el(o, p, o->eev, "SHA256", sha);
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(size));
    el(o, p, o->eev, "Size", num);
    el(o, p, o->eev, "ManifestSHA256", manifest);
    el(o, p, o->eev, "URI", uri);
    if (ctype)
        el(o, p, o->eev, "ContentType", ctype);
    td__free(assoc);
}

static void non_execution(out *o, json_t *in)
{
    static const char *const known[] = {"action",  "order", "owner",           "reason",
                                        "details", "tasks", "conflict_of_law", "clarification",
                                        "form",    NULL};
    only(o, in, "", known);
    char(*assoc)[37] = td__calloc(TD_EEV_MAX_OBJECTS, sizeof *assoc);
    if (!assoc) {
        fail(o, TD_ERR_NOMEM, "out of memory");
        return;
    }
    uuid(o, in, "", "order", 1, assoc[0]);
    const char *reason = str(o, in, "", "reason", 1, 64);
    const char *code = reason ? td__eev_xml_of(td__eev_reasons, reason) : NULL;
    if (reason && !code) {
        char list[320];
        td__eev_list(td__eev_reasons, 1, list, sizeof list);
        fail(o, TD_ERR_INVALID, "reason: one of %s expected", list);
    }
    const char *details = str(o, in, "", "details", 0, TD_EEV_MAX_TEXT);
    const char *clarification = str(o, in, "", "clarification", 0, TD_EEV_MAX_TEXT);
    size_t n = uuid_array(o, in, "tasks", assoc + 1, TD_EEV_MAX_OBJECTS - 1, assoc[0]);
    if (o->st == TD_OK && json_object_get(in, "tasks") && n == 0)
        fail(o, TD_ERR_INVALID, "tasks: empty (leave it out for the whole order)");
    json_t *col = json_object_get(in, "conflict_of_law");
    static const char *const ck[] = {"law",  "provisions",   "nature", "why_applies",
                                     "link", "consequences", "other",  NULL};
    static const char *const cx[] = {"TitleOfLaw",      "StatutoryProvisions", "NatureOfObligation",
                                     "WhyApplies",      "LinkToThirdCountry",  "Consequences",
                                     "OtherInformation"};
    const char *colv[7] = {NULL};
    if (o->st == TD_OK && reason && (strcmp(reason, "conflict_of_law") == 0) != (col != NULL))
        fail(o, TD_ERR_INVALID,
             "conflict_of_law: required with the reason conflict_of_law, "
             "and only with it");
    if (col && o->st == TD_OK) {
        if (!json_is_object(col))
            fail(o, TD_ERR_INVALID, "conflict_of_law: not an object");
        else
            only(o, col, "conflict_of_law.", ck);
        for (size_t i = 0; i < 7; i++)
            colv[i] = str(o, col, "conflict_of_law.", ck[i], i < 6, TD_EEV_MAX_TEXT);
    }
    const char *form_name = NULL, *form_type = NULL;
    char *form_b64 = NULL;
    attachment(o, in, "form", &form_name, &form_type, &form_b64);
    /* The tasks (or the AuthorisationObject), the notification and the form must fit in one
     * message that a reader accepts. */
    if (o->st == TD_OK && (n ? n : 1) + 1 + (form_b64 != NULL) > TD_EEV_MAX_OBJECTS)
        fail(o, TD_ERR_LIMIT, "tasks: with the notification and the form, more than %d objects",
             TD_EEV_MAX_OBJECTS);
    if (o->st == TD_OK) {
        if (n == 0) {
            xmlNodePtr a =
                object(o, 1, NULL, "auth:AuthorisationObject", assoc[0], &o->owner, NULL, 0);
            dict(o, a, o->auth, "AuthorisationStatus", "ETSI", "AuthorisationStatus", "Invalid");
        }
        for (size_t i = 0; i < n; i++) {
            xmlNodePtr t =
                object(o, 1, NULL, "task:LDTaskObject", assoc[i + 1], &o->owner, assoc, 1);
            dict(o, t, o->task, "Status", "ETSI", "LDTaskStatus", "Invalid");
        }
        char id[37];
        td__eev_uuid_new(id);
        xmlNodePtr note = NULL;
        notification(o, id, assoc, n + 1, details, "NonExecution", o->now, &note);
        xmlNodePtr f = el(o, note, o->eev, "Form3Information", NULL);
        el(o, f, o->eev, "Reason", code);
        if (col) {
            xmlNodePtr c = el(o, f, o->eev, "ConflictOfLaw", NULL);
            for (size_t i = 0; i < 7; i++)
                if (colv[i])
                    el(o, c, o->eev, cx[i], colv[i]);
        }
        if (clarification)
            el(o, f, o->eev, "RequestForClarification", clarification);
        if (form_b64) {
            char did[37];
            td__eev_uuid_new(did);
            document(o, did, assoc, form_name ? form_name : "Form 3", "Form3", form_type, form_b64);
        }
    }
    td__free(form_b64);
    td__free(assoc);
}

static void correspondence(out *o, json_t *in)
{
    static const char *const known[] = {"action", "order", "kind", "text", "attachment", NULL};
    only(o, in, "", known);
    char order[1][37];
    uuid(o, in, "", "order", 1, order[0]);
    const char *kind = str(o, in, "", "kind", 1, 64);
    const char *type =
        !kind                                                 ? NULL
        : strcmp(kind, "request_additional_information") == 0 ? "RequestAdditionalInformation"
        : strcmp(kind, "provide_additional_information") == 0 ? "ProvideAdditionalInformation"
                                                              : NULL;
    if (kind && !type)
        fail(o, TD_ERR_INVALID,
             "kind: the operator sends request_additional_information or "
             "provide_additional_information");
    const char *text = str_as(o, in, "", "text", 1, TD_EEV_MAX_TEXT, 1);
    const char *att_name = NULL, *att_type = NULL;
    char *att_b64 = NULL;
    attachment(o, in, "attachment", &att_name, &att_type, &att_b64);
    char *body = text ? td__eev_base64_encode((const unsigned char *)text, strlen(text)) : NULL;
    if (text && !body)
        fail(o, TD_ERR_NOMEM, "out of memory");
    if (o->st == TD_OK) {
        char id[1][37];
        td__eev_uuid_new(id[0]);
        document(o, id[0], order, "Correspondence", type, "text/plain; charset=utf-8", body);
        if (att_b64) {
            char aid[37];
            td__eev_uuid_new(aid);
            document(o, aid, id, att_name ? att_name : "Attachment", "OtherAttachment", att_type,
                     att_b64);
        }
    }
    td__free(body);
    td__free(att_b64);
}

/* ---- the entry point ---- */

td_status td_eevidence_build(td_eevidence_message kind, const char *json_in,
                             const td_eevidence_header *hdr, char **xml_out, size_t *len,
                             td_error *err)
{
    td_error_clear(err);
    if (xml_out)
        *xml_out = NULL;
    if (len)
        *len = 0;
    if (!xml_out || !json_in || !hdr || (unsigned)kind >= TD_EEV_MSG_COUNT)
        return td__error_set(err, TD_ERR_INVALID, "bad arguments to td_eevidence_build");
    size_t in_len = strlen(json_in);
    if (in_len > TD_EEV_MAX_XML)
        return td__error_set(err, TD_ERR_LIMIT, "JSON of %zu bytes, over the limit of %u", in_len,
                             TD_EEV_MAX_XML);
    td_status st = td__eev_init(err);
    if (st != TD_OK)
        return st;
    json_error_t jerr;
    json_t *in = json_loadb(json_in, in_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!in || !json_is_object(in)) {
        json_decref(in);
        return td__error_set(err, TD_ERR_INVALID, "%s: not a JSON object (%s)", message_names[kind],
                             in ? "another JSON value" : jerr.text);
    }
    out o;
    memset(&o, 0, sizeof o);
    o.err = err;
    td__eev_quiet quiet;
    td__eev_quiet_begin(&quiet);
    check_action(&o, in, kind);
    read_owner(&o, in, hdr);
    if (o.st == TD_OK)
        start(&o, hdr);
    if (o.st == TD_OK) {
        switch (kind) {
        case TD_EEV_MSG_DATA_PRESERVED: data_preserved(&o, in); break;
        case TD_EEV_MSG_OUTCOME: outcome(&o, in); break;
        case TD_EEV_MSG_NON_EXECUTION: non_execution(&o, in); break;
        case TD_EEV_MSG_CORRESPONDENCE: correspondence(&o, in); break;
        default: break;
        }
    }
    char *text = NULL;
    size_t n = 0;
    if (o.st == TD_OK) {
        xmlChar *mem = NULL;
        int size = 0;
        xmlDocDumpFormatMemoryEnc(o.doc, &mem, &size, "UTF-8", 1);
        if (!mem || size <= 0)
            fail(&o, TD_ERR_NOMEM, "out of memory writing the XML");
        else if ((size_t)size > TD_EEV_MAX_XML)
            fail(&o, TD_ERR_LIMIT, "%s: the XML would be %d bytes, over the limit of %u",
                 message_names[kind], size, TD_EEV_MAX_XML);
        else if ((text = td__malloc((size_t)size + 1)) == NULL)
            fail(&o, TD_ERR_NOMEM, "out of memory");
        else {
            memcpy(text, mem, (size_t)size);
            text[size] = '\0';
            n = (size_t)size;
        }
        xmlFree(mem);
    }
    xmlFreeDoc(o.doc);
    for (size_t i = 0; i < o.n_keep; i++)
        td__free(o.keep[i]);
    td__free(o.keep);
    td__eev_quiet_end(&quiet);
    json_decref(in);
    if (o.st != TD_OK) {
        td__free(text);
        if (o.st != TD_ERR_NOMEM && err &&
            strncmp(err->message, message_names[kind], strlen(message_names[kind])) != 0)
            td__error_prefix(err, "%s: ", message_names[kind]);
        return o.st;
    }
    *xml_out = text;
    if (len)
        *len = n;
    return TD_OK;
}
