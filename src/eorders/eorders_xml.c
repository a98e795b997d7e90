/* Reading an e-Evidence HI1Message (ETSI TS 103 120 as profiled by TS 104 144) into takedown's
 * JSON: the intake document of docs/evidence-orders.md for an EPOC or EPOC-PR, an event on an
 * existing order for the other endpoints. The mapping is in docs/evidence-orders-xml.md.
 *
 * Two passes. libxml2 builds the tree with our SAX callbacks in front of its own, so that every
 * limit (depth, element count, attribute and text lengths) is checked while the bytes are read and
 * a DOCTYPE stops the parse before its internal subset is looked at: no DTD is loaded, no entity
 * declared or substituted, nothing fetched from the network, and a billion-laughs document never
 * gets past its first line. The walk over the tree then reads only the elements the mapping names,
 * by namespace and local name, and refuses what does not fit the endpoint. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "eorders/eorders_xml_int.h"

/* ---- endpoint names ---- */

static const char *const endpoint_names[TD_EEV_ENDPOINT_COUNT] = {
    "production",
    "preservation",
    "subsequentproduction",
    "preservationextension",
    "endpreservation",
    "newdeadline",
    "withdraw",
    "groundsforrefusal",
    "correspondence",
    "datapreserved",
    "outcome",
    "nonexecution",
};

const char *td_eevidence_endpoint_name(td_eevidence_endpoint ep)
{
    return (unsigned)ep < TD_EEV_ENDPOINT_COUNT ? endpoint_names[ep] : NULL;
}

int td_eevidence_endpoint_from_name(const char *name, size_t len)
{
    for (int i = 0; name && i < TD_EEV_ENDPOINT_COUNT; i++)
        if (strlen(endpoint_names[i]) == len && memcmp(endpoint_names[i], name, len) == 0)
            return i;
    return -1;
}

/* ---- the SAX pass: limits while libxml2 builds the tree ---- */

typedef struct sax_state {
    td_status status; /* the first failure (ours or libxml2's) */
    char message[TD_ERROR_MESSAGE_MAX];
    int depth;
    size_t nodes;
    size_t text_len; /* text since the last tag */
    const xmlChar *names[TD_EEV_MAX_DEPTH + 1];
    unsigned char contents[TD_EEV_MAX_DEPTH + 1]; /* the element is doc:Contents (base64) */
} sax_state;

static void sax_stop(xmlParserCtxtPtr ctxt, td_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records our failure and halts libxml2: no further callback, no further byte read. */
static void sax_stop(xmlParserCtxtPtr ctxt, td_status code, const char *fmt, ...)
{
    sax_state *st = ctxt->_private;
    if (st->status == TD_OK) {
        st->status = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->message, sizeof st->message, fmt, ap);
        va_end(ap);
    }
    xmlStopParser(ctxt);
}

static const char *current_name(const sax_state *st)
{
    return st->depth > 0 ? (const char *)st->names[st->depth] : "(document)";
}

static int count_node(xmlParserCtxtPtr ctxt)
{
    sax_state *st = ctxt->_private;
    if (st->status != TD_OK)
        return 0;
    if (++st->nodes > TD_EEV_MAX_NODES) {
        sax_stop(ctxt, TD_ERR_LIMIT, "more than %d elements, comments and processing instructions",
                 TD_EEV_MAX_NODES);
        return 0;
    }
    return 1;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    sax_state *st = ctxt->_private;
    if (!count_node(ctxt))
        return;
    if (st->depth >= TD_EEV_MAX_DEPTH) {
        sax_stop(ctxt, TD_ERR_LIMIT, "elements nested deeper than %d (at <%.64s>)",
                 TD_EEV_MAX_DEPTH, (const char *)localname);
        return;
    }
    if (nb_attributes > TD_EEV_MAX_ATTRS || nb_namespaces > TD_EEV_MAX_ATTRS) {
        sax_stop(ctxt, TD_ERR_LIMIT,
                 "<%.64s> has more than %d attributes or namespace declarations",
                 (const char *)localname, TD_EEV_MAX_ATTRS);
        return;
    }
    for (int i = 0; i < nb_attributes; i++) {
        const xmlChar *value = attributes[5 * i + 3], *end = attributes[5 * i + 4];
        if (end - value > TD_EEV_MAX_ATTR_LEN) {
            sax_stop(ctxt, TD_ERR_LIMIT, "attribute %.64s of <%.64s> is longer than %d bytes",
                     (const char *)attributes[5 * i], (const char *)localname, TD_EEV_MAX_ATTR_LEN);
            return;
        }
    }
    for (int i = 0; i < nb_namespaces; i++) {
        const xmlChar *href = namespaces[2 * i + 1];
        if (href && strlen((const char *)href) > TD_EEV_MAX_ATTR_LEN) {
            sax_stop(ctxt, TD_ERR_LIMIT, "a namespace name on <%.64s> is longer than %d bytes",
                     (const char *)localname, TD_EEV_MAX_ATTR_LEN);
            return;
        }
    }
    st->depth++;
    st->names[st->depth] = localname;
    st->contents[st->depth] = uri && strcmp((const char *)uri, TD__EEV_NS_DOC) == 0 &&
                              strcmp((const char *)localname, "Contents") == 0;
    st->text_len = 0;
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    sax_state *st = ctxt->_private;
    if (st->status != TD_OK)
        return;
    if (st->depth > 0)
        st->depth--;
    st->text_len = 0;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

static int text_fits(xmlParserCtxtPtr ctxt, int len)
{
    sax_state *st = ctxt->_private;
    if (st->status != TD_OK)
        return 0;
    size_t max = st->contents[st->depth] ? TD_EEV_MAX_XML : TD_EEV_MAX_TEXT;
    st->text_len += (size_t)(len > 0 ? len : 0);
    if (st->text_len > max) {
        sax_stop(ctxt, TD_ERR_LIMIT, "the text of <%.64s> is longer than %zu bytes",
                 current_name(st), max);
        return 0;
    }
    return 1;
}

static void on_characters(void *ctx, const xmlChar *ch, int len)
{
    if (text_fits(ctx, len))
        xmlSAX2Characters(ctx, ch, len);
}

static void on_cdata(void *ctx, const xmlChar *ch, int len)
{
    if (text_fits(ctx, len))
        xmlSAX2CDataBlock(ctx, ch, len);
}

static void on_comment(void *ctx, const xmlChar *value)
{
    if (count_node(ctx))
        xmlSAX2Comment(ctx, value);
}

static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
    if (count_node(ctx))
        xmlSAX2ProcessingInstruction(ctx, target, data);
}

/* Any DOCTYPE ends the parse here, before the internal subset (and its entity declarations) is
 * read: the only way entities can come into a document, so none ever does. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
    (void)external_id;
    (void)system_id;
    sax_stop(ctx, TD_ERR_INVALID,
             "a DOCTYPE (<!DOCTYPE %.64s>) is refused: no DTD, no entity declarations",
             name ? (const char *)name : "");
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    sax_stop(ctx, TD_ERR_INVALID, "an entity declaration (%.64s) is refused",
             name ? (const char *)name : "");
}

static void on_reference(void *ctx, const xmlChar *name)
{
    sax_stop(ctx, TD_ERR_INVALID, "the entity reference &%.64s; is refused",
             name ? (const char *)name : "");
}

/* libxml2's own errors, on this parser context only: the first becomes the answer. */
static void on_error(void *ctx, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ctx;
    sax_state *st = ctxt ? ctxt->_private : NULL;
    if (!st || !e || e->level < XML_ERR_ERROR || st->status != TD_OK)
        return;
    char text[TD_ERROR_MESSAGE_MAX];
    snprintf(text, sizeof text, "%s", e->message ? e->message : "malformed XML");
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    st->status = e->code == XML_ERR_NO_MEMORY ? TD_ERR_NOMEM : TD_ERR_INVALID;
    snprintf(st->message, sizeof st->message, "malformed XML at line %d: %.400s", e->line, text);
}

/* Parses xml into a tree with the limits above; NULL and err filled on failure. */
static xmlDocPtr parse_tree(const char *xml, size_t len, td_status *status, td_error *err)
{
    sax_state st;
    memset(&st, 0, sizeof st);
    *status = TD_OK;
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(xml, (int)len);
    if (!ctxt) {
        *status = td__error_set(err, TD_ERR_NOMEM, "out of memory starting the XML parser");
        return NULL;
    }
    /* No XML_PARSE_NOENT (entities stay unsubstituted), no DTDLOAD / DTDATTR / DTDVALID, no
     * XINCLUDE, no HUGE (libxml2's own length limits stay too); NONET in case anything would
     * still fetch; the encoding declaration is ignored (the bytes were checked to be UTF-8). */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC | XML_PARSE_COMPACT);
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->_private = &st;
    xmlSAXHandlerPtr sax = ctxt->sax;
    sax->startElementNs = on_start;
    sax->endElementNs = on_end;
    sax->characters = on_characters;
    sax->ignorableWhitespace = on_characters;
    sax->cdataBlock = on_cdata;
    sax->comment = on_comment;
    sax->processingInstruction = on_pi;
    sax->internalSubset = on_doctype;
    sax->externalSubset = on_doctype;
    sax->entityDecl = on_entity_decl;
    sax->reference = on_reference;
    sax->serror = on_error;
    xmlParseDocument(ctxt);
    xmlDocPtr doc = ctxt->myDoc;
    int well_formed = ctxt->wellFormed;
    ctxt->myDoc = NULL;
    xmlFreeParserCtxt(ctxt);
    if (st.status == TD_OK && (!doc || !well_formed)) {
        st.status = TD_ERR_INVALID;
        snprintf(st.message, sizeof st.message, "malformed XML");
    }
    if (st.status != TD_OK) {
        xmlFreeDoc(doc);
        *status = td__error_set(err, st.status, "%s", st.message);
        return NULL;
    }
    return doc;
}

/* ---- the walk over the tree ---- */

typedef enum obj_kind { OBJ_AUTH, OBJ_TASK, OBJ_DOC, OBJ_NOTIFICATION, OBJ_DELIVERY } obj_kind;
#define OBJ_KINDS 5

static const char *const obj_label[OBJ_KINDS] = {
    "auth:AuthorisationObject", "task:LDTaskObject", "doc:DocumentObject",
    "notification:NotificationObject", "delivery:DeliveryObject"};
static const char *const obj_ns[OBJ_KINDS] = {TD__EEV_NS_AUTH, TD__EEV_NS_TASK, TD__EEV_NS_DOC,
                                              TD__EEV_NS_NOTIFICATION, TD__EEV_NS_DELIVERY};
static const char *const obj_local[OBJ_KINDS] = {"AuthorisationObject", "LDTaskObject",
                                                 "DocumentObject", "NotificationObject",
                                                 "DeliveryObject"};

typedef enum verb { VERB_CREATE, VERB_UPDATE, VERB_DELIVER } verb;
static const char *const verb_names[] = {"CREATE", "UPDATE", "DELIVER"};

typedef struct object {
    obj_kind kind;
    verb verb;
    const char *action; /* its ActionIdentifier */
    xmlNode *node;      /* the HI1Object */
    char id[37];        /* ObjectIdentifier, lower case */
    char target[37];    /* DELIVER: the Identifier it delivers for */
    xmlNode *assoc;     /* AssociatedObjects, or NULL */
} object;

typedef struct walk {
    td_eevidence_endpoint ep;
    td_error *err;
    td_status st;
    char where[192]; /* the object being read, prefixed to messages */
    void **keep;     /* memory freed when the walk ends */
    size_t n_keep, cap_keep;
    object obj[TD_EEV_MAX_OBJECTS];
    size_t n_obj;
} walk;

static td_status fail(walk *w, td_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static td_status fail(walk *w, td_status code, const char *fmt, ...)
{
    if (w->st != TD_OK)
        return w->st;
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->st = code;
    if (w->where[0])
        td__error_set(w->err, code, "%s: %s", w->where, msg);
    else
        td__error_set(w->err, code, "%s", msg);
    return code;
}

static void nomem(walk *w) { fail(w, TD_ERR_NOMEM, "out of memory"); }

/* Hands p to the walk (freed at its end); p is freed now if that fails. */
static void *keep(walk *w, void *p)
{
    if (!p) {
        nomem(w);
        return NULL;
    }
    if (w->n_keep == w->cap_keep) {
        size_t cap = w->cap_keep ? 2 * w->cap_keep : 64;
        void **bigger = td__realloc(w->keep, cap * sizeof *bigger);
        if (!bigger) {
            td__free(p);
            nomem(w);
            return NULL;
        }
        w->keep = bigger;
        w->cap_keep = cap;
    }
    w->keep[w->n_keep++] = p;
    return p;
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n_keep; i++)
        td__free(w->keep[i]);
    td__free(w->keep);
}

static int is_el(const xmlNode *n, const char *ns, const char *local)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, local) == 0;
}

static int in_ns(const xmlNode *n, const char *ns)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0;
}

static xmlNode *first_el(const xmlNode *parent, const char *ns, const char *local)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (is_el(c, ns, local))
            return c;
    return NULL;
}

static size_t count_el(const xmlNode *parent, const char *ns, const char *local)
{
    size_t n = 0;
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        n += is_el(c, ns, local);
    return n;
}

/* The one child ns:local of parent: NULL if absent (a failure when required), a failure when it
 * appears twice. */
static xmlNode *one_el(walk *w, const xmlNode *parent, const char *ns, const char *local,
                       const char *label, int required)
{
    if (w->st != TD_OK)
        return NULL;
    size_t n = count_el(parent, ns, local);
    if (n > 1) {
        fail(w, TD_ERR_INVALID, "%s appears %zu times (once expected)", label, n);
        return NULL;
    }
    if (n == 0 && required)
        fail(w, TD_ERR_INVALID, "%s is missing", label);
    return n ? first_el(parent, ns, local) : NULL;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The text of element n, without the blanks around it; the copy lives as long as the walk. A
 * failure when n has element children. */
static const char *text_of(walk *w, xmlNode *n, const char *label)
{
    if (w->st != TD_OK)
        return NULL;
    for (xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            fail(w, TD_ERR_INVALID, "%s: text expected, found the element <%.64s>", label,
                 (const char *)c->name);
            return NULL;
        }
    xmlChar *raw = xmlNodeGetContent(n);
    if (!raw && n->children) {
        nomem(w);
        return NULL;
    }
    const char *s = raw ? (const char *)raw : "";
    size_t len = strlen(s);
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    char *copy = td__malloc(len + 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    xmlFree(raw);
    return keep(w, copy);
}

/* The text of the one child ns:local: NULL when absent or empty (a failure when required). */
static const char *child_text(walk *w, const xmlNode *parent, const char *ns, const char *local,
                              const char *label, int required)
{
    xmlNode *n = one_el(w, parent, ns, local, label, required);
    const char *s = n ? text_of(w, n, label) : NULL;
    if (s && !*s) {
        if (required)
            fail(w, TD_ERR_INVALID, "%s is empty", label);
        return NULL;
    }
    return s;
}

/* A dictionary entry (common:Owner, common:Name, common:Value): its Value. */
static const char *dict_value(walk *w, const xmlNode *parent, const char *ns, const char *local,
                              const char *label, int required)
{
    xmlNode *n = one_el(w, parent, ns, local, label, required);
    if (!n)
        return NULL;
    char vlabel[128];
    snprintf(vlabel, sizeof vlabel, "%s/common:Value", label);
    return child_text(w, n, TD__EEV_NS_COMMON, "Value", vlabel, 1);
}

static int64_t time_of(walk *w, const char *text, const char *label)
{
    int64_t t = text ? td__eev_time_parse(text, strlen(text)) : -1;
    if (text && t < 0)
        fail(w, TD_ERR_INVALID, "%s '%.40s' is not a date and time with a zone (RFC 3339)", label,
             text);
    return t;
}

/* An integer in [lo, hi]; -1 (and a failure) if not. */
static long long integer_of(walk *w, const char *text, const char *label, long long lo,
                            long long hi)
{
    char *end = NULL;
    long long v = text ? strtoll(text, &end, 10) : -1;
    if (!text || !*text || *end || v < lo || v > hi) {
        fail(w, TD_ERR_INVALID, "%s '%.40s' is not an integer from %lld to %lld", label,
             text ? text : "", lo, hi);
        return -1;
    }
    return v;
}

static int boolean_of(walk *w, const char *text, const char *label)
{
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
        return 1;
    if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
        return 0;
    fail(w, TD_ERR_INVALID, "%s '%.40s' is not true or false", label, text);
    return -1;
}

/* A UUID (ObjectIdentifier, AssociatedObject, TransactionIdentifier) into out, lower case. */
static int uuid_of(walk *w, const char *text, const char *label, char out[37])
{
    if (!text)
        return 0;
    if (!td__eev_uuid_valid(text, strlen(text))) {
        fail(w, TD_ERR_INVALID, "%s '%.40s' is not a UUID", label, text);
        return 0;
    }
    td__eev_uuid_lower(text, out);
    return 1;
}

/* Copies an identifier into a fixed buffer of TD_EEV_ID_MAX + 1 bytes. */
static void copy_id(walk *w, const char *text, const char *label, char *out)
{
    if (!text)
        return;
    size_t n = strlen(text);
    if (n > TD_EEV_ID_MAX) {
        fail(w, TD_ERR_LIMIT, "%s is longer than %d bytes", label, TD_EEV_ID_MAX);
        return;
    }
    memcpy(out, text, n + 1);
}

/* ---- JSON, with out-of-memory remembered ---- */

static void put(walk *w, json_t *obj, const char *key, json_t *v)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        nomem(w);
}

static void put_str(walk *w, json_t *obj, const char *key, const char *s)
{
    if (s)
        put(w, obj, key, json_string(s));
}

static void put_time(walk *w, json_t *obj, const char *key, int64_t ms)
{
    if (ms < 0)
        return;
    char text[32];
    td__eev_time_format(ms, text);
    put(w, obj, key, json_string(text));
}

static void append(walk *w, json_t *arr, json_t *v)
{
    if (!v || json_array_append_new(arr, v) != 0)
        nomem(w);
}

/* Puts obj under key when it has members, else drops it. */
static void put_if_any(walk *w, json_t *parent, const char *key, json_t *obj)
{
    if (obj && json_object_size(obj) > 0)
        put(w, parent, key, obj);
    else
        json_decref(obj);
}

/* ---- takedown's eev: extension elements: known names only, each once unless repeatable ---- */

static void eev_only(walk *w, const xmlNode *parent, const char *label, const char *const *names,
                     const char *repeatable)
{
    for (const xmlNode *c = parent->children; c && w->st == TD_OK; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!in_ns(c, TD__EEV_NS_EEV)) {
            fail(w, TD_ERR_INVALID, "%s: unexpected element <%.64s> (only eev: elements here)",
                 label, (const char *)c->name);
            return;
        }
        int known = 0;
        for (size_t i = 0; names[i]; i++)
            known |= strcmp((const char *)c->name, names[i]) == 0;
        if (!known) {
            fail(w, TD_ERR_INVALID, "%s: unknown element eev:%.64s", label, (const char *)c->name);
            return;
        }
        if ((!repeatable || strcmp((const char *)c->name, repeatable) != 0) &&
            count_el(parent, TD__EEV_NS_EEV, (const char *)c->name) > 1) {
            fail(w, TD_ERR_INVALID, "%s: eev:%.64s appears more than once", label,
                 (const char *)c->name);
            return;
        }
    }
}

/* The eev: children an object may carry directly (anything else in our namespace is refused,
 * so that a misspelt extension element is an error, not a silently missing member). */
static void eev_children(walk *w, const object *o, const char *const *names)
{
    for (const xmlNode *c = o->node->children; c && w->st == TD_OK; c = c->next) {
        if (!in_ns(c, TD__EEV_NS_EEV))
            continue;
        int known = 0;
        for (size_t i = 0; names && names[i]; i++)
            known |= strcmp((const char *)c->name, names[i]) == 0;
        if (!known)
            fail(w, TD_ERR_INVALID, "eev:%.64s is not expected in %s on endpoint %s",
                 (const char *)c->name, obj_label[o->kind], endpoint_names[w->ep]);
    }
}

static const char *eev_text(walk *w, const xmlNode *parent, const char *local, const char *label)
{
    char full[128];
    snprintf(full, sizeof full, "%s/eev:%s", label, local);
    return child_text(w, parent, TD__EEV_NS_EEV, local, full, 0);
}

/* ---- objects ---- */

static void set_where(walk *w, const object *o)
{
    snprintf(w->where, sizeof w->where, "ActionRequest %.20s (%s %s)", o->action,
             obj_label[o->kind], o->id[0] ? o->id : "?");
}

static int assoc_has(const object *o, const char *id)
{
    for (xmlNode *c = o->assoc ? o->assoc->children : NULL; c; c = c->next) {
        if (!is_el(c, TD__EEV_NS_CORE, "AssociatedObject"))
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        const char *s = t ? (const char *)t : "";
        while (is_blank(*s))
            s++;
        int same = strncasecmp(s, id, 36) == 0;
        const char *rest = same ? s + 36 : s;
        while (same && *rest) {
            same = is_blank(*rest);
            rest++;
        }
        xmlFree(t);
        if (same)
            return 1;
    }
    return 0;
}

/* The AssociatedObjects of o, checked to be UUIDs: how many, the first cap of them into out. */
static size_t assoc_list(walk *w, const object *o, char (*out)[37], size_t cap)
{
    size_t n = 0;
    for (xmlNode *c = o->assoc ? o->assoc->children : NULL; c && w->st == TD_OK; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is_el(c, TD__EEV_NS_CORE, "AssociatedObject")) {
            fail(w, TD_ERR_INVALID, "AssociatedObjects: unexpected element <%.64s>",
                 (const char *)c->name);
            return 0;
        }
        char id[37];
        if (!uuid_of(w, text_of(w, c, "AssociatedObject"), "AssociatedObject", id))
            return 0;
        if (n == TD_EEV_MAX_OBJECTS) {
            fail(w, TD_ERR_LIMIT, "more than %d AssociatedObjects", TD_EEV_MAX_OBJECTS);
            return 0;
        }
        if (n < cap)
            memcpy(out[n], id, 37);
        n++;
    }
    return n;
}

/* Resolves the xsi:type of an HI1Object (a QName: its prefix is looked up in scope). */
static int object_kind(walk *w, xmlNode *hi1, obj_kind *kind)
{
    xmlChar *type = xmlGetNsProp(hi1, (const xmlChar *)"type", (const xmlChar *)TD__EEV_NS_XSI);
    if (!type) {
        fail(w, TD_ERR_INVALID, "HI1Object without xsi:type");
        return 0;
    }
    const char *t = (const char *)type, *colon = strchr(t, ':');
    char prefix[64] = "";
    const char *local = t;
    if (colon) {
        size_t n = (size_t)(colon - t);
        if (n >= sizeof prefix) {
            xmlFree(type);
            fail(w, TD_ERR_INVALID, "HI1Object xsi:type has a prefix that is too long");
            return 0;
        }
        memcpy(prefix, t, n);
        prefix[n] = '\0';
        local = colon + 1;
    }
    xmlNsPtr ns = xmlSearchNs(hi1->doc, hi1, colon ? (const xmlChar *)prefix : NULL);
    int found = 0;
    for (int k = 0; k < OBJ_KINDS && ns && ns->href; k++)
        if (strcmp((const char *)ns->href, obj_ns[k]) == 0 && strcmp(local, obj_local[k]) == 0) {
            *kind = (obj_kind)k;
            found = 1;
        }
    if (!found)
        fail(w, TD_ERR_INVALID,
             "HI1Object xsi:type '%.64s'%s is not accepted (AuthorisationObject, LDTaskObject, "
             "DocumentObject, NotificationObject, DeliveryObject in their TS 103 120 namespaces)",
             t, colon && !ns ? " (undeclared prefix)" : "");
    xmlFree(type);
    return found;
}

static void read_action(walk *w, xmlNode *ar)
{
    w->where[0] = '\0';
    const char *action =
        child_text(w, ar, TD__EEV_NS_CORE, "ActionIdentifier", "ActionRequest/ActionIdentifier", 1);
    if (!action)
        return;
    snprintf(w->where, sizeof w->where, "ActionRequest %.20s", action);
    xmlNode *verb_el = NULL;
    verb v = VERB_CREATE;
    for (xmlNode *c = ar->children; c && w->st == TD_OK; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_el(c, TD__EEV_NS_CORE, "ActionIdentifier"))
            continue;
        int known = -1;
        for (int i = 0; i < 3; i++)
            if (is_el(c, TD__EEV_NS_CORE, verb_names[i]))
                known = i;
        if (known < 0) {
            fail(w, TD_ERR_INVALID, "%.64s is not accepted (CREATE, UPDATE or DELIVER)",
                 (const char *)c->name);
            return;
        }
        if (verb_el) {
            fail(w, TD_ERR_INVALID, "more than one verb");
            return;
        }
        verb_el = c;
        v = (verb)known;
    }
    if (w->st != TD_OK)
        return;
    if (!verb_el) {
        fail(w, TD_ERR_INVALID, "no verb (CREATE, UPDATE or DELIVER)");
        return;
    }
    xmlNode *hi1 = one_el(w, verb_el, TD__EEV_NS_CORE, "HI1Object", "HI1Object", 1);
    object *o = &w->obj[w->n_obj];
    memset(o, 0, sizeof *o);
    if (!hi1 || !object_kind(w, hi1, &o->kind))
        return;
    o->verb = v;
    o->action = action;
    o->node = hi1;
    set_where(w, o);
    uuid_of(w, child_text(w, hi1, TD__EEV_NS_CORE, "ObjectIdentifier", "ObjectIdentifier", 1),
            "ObjectIdentifier", o->id);
    set_where(w, o);
    const char *cc = child_text(w, hi1, TD__EEV_NS_CORE, "CountryCode", "CountryCode", 1);
    if (cc && !td__eev_country_valid(cc, strlen(cc)))
        fail(w, TD_ERR_INVALID, "CountryCode '%.16s' is not two capital letters", cc);
    const char *owner =
        child_text(w, hi1, TD__EEV_NS_CORE, "OwnerIdentifier", "OwnerIdentifier", 1);
    if (owner && strlen(owner) > TD_EEV_ID_MAX)
        fail(w, TD_ERR_LIMIT, "OwnerIdentifier is longer than %d bytes", TD_EEV_ID_MAX);
    o->assoc = one_el(w, hi1, TD__EEV_NS_CORE, "AssociatedObjects", "AssociatedObjects", 0);
    if (v == VERB_DELIVER) {
        if (o->kind != OBJ_DELIVERY)
            fail(w, TD_ERR_INVALID, "DELIVER carries a delivery:DeliveryObject only");
        uuid_of(w, child_text(w, verb_el, TD__EEV_NS_CORE, "Identifier", "DELIVER/Identifier", 1),
                "DELIVER/Identifier", o->target);
    } else if (o->kind == OBJ_DELIVERY) {
        fail(w, TD_ERR_INVALID, "a delivery:DeliveryObject comes with DELIVER, not %s",
             verb_names[v]);
    }
    for (size_t i = 0; i < w->n_obj && w->st == TD_OK; i++)
        if (strcmp(w->obj[i].id, o->id) == 0)
            fail(w, TD_ERR_INVALID, "ObjectIdentifier %s appears twice in the message", o->id);
    if (w->st == TD_OK)
        w->n_obj++;
}

/* ---- the header ---- */

static void read_party(walk *w, xmlNode *header, const char *local, td_eevidence_party *p)
{
    char label[96];
    snprintf(label, sizeof label, "Header/%s", local);
    xmlNode *n = one_el(w, header, TD__EEV_NS_CORE, local, label, 1);
    if (!n)
        return;
    char cl[128], ul[128];
    snprintf(cl, sizeof cl, "%s/CountryCode", label);
    snprintf(ul, sizeof ul, "%s/UniqueIdentifier", label);
    const char *cc = child_text(w, n, TD__EEV_NS_CORE, "CountryCode", cl, 1);
    const char *id = child_text(w, n, TD__EEV_NS_CORE, "UniqueIdentifier", ul, 1);
    if (w->st != TD_OK)
        return;
    if (!td__eev_country_valid(cc, strlen(cc))) {
        fail(w, TD_ERR_INVALID, "%s '%.16s' is not two capital letters", cl, cc);
        return;
    }
    memcpy(p->country, cc, 3);
    copy_id(w, id, ul, p->unique_id);
}

static void copy_small(walk *w, const char *text, const char *label, char *out, size_t cap)
{
    if (!text)
        return;
    size_t n = strlen(text);
    if (n >= cap) {
        fail(w, TD_ERR_LIMIT, "%s is longer than %zu bytes", label, cap - 1);
        return;
    }
    memcpy(out, text, n + 1);
}

static void read_header(walk *w, xmlNode *root, td_eevidence_header *h)
{
    xmlNode *header = one_el(w, root, TD__EEV_NS_CORE, "Header", "Header", 1);
    if (!header)
        return;
    read_party(w, header, "SenderIdentifier", &h->sender);
    read_party(w, header, "ReceiverIdentifier", &h->receiver);
    uuid_of(w,
            child_text(w, header, TD__EEV_NS_CORE, "TransactionIdentifier",
                       "Header/TransactionIdentifier", 1),
            "Header/TransactionIdentifier", h->transaction_id);
    const char *ts = child_text(w, header, TD__EEV_NS_CORE, "Timestamp", "Header/Timestamp", 1);
    copy_small(w, ts, "Header/Timestamp", h->timestamp, sizeof h->timestamp);
    if (ts)
        h->timestamp_ms = time_of(w, ts, "Header/Timestamp");
    xmlNode *version = one_el(w, header, TD__EEV_NS_CORE, "Version", "Header/Version", 1);
    if (!version)
        return;
    copy_small(
        w, child_text(w, version, TD__EEV_NS_CORE, "ETSIVersion", "Header/Version/ETSIVersion", 1),
        "Header/Version/ETSIVersion", h->etsi_version, sizeof h->etsi_version);
    copy_small(w,
               child_text(w, version, TD__EEV_NS_CORE, "NationalProfileOwner",
                          "Header/Version/NationalProfileOwner", 0),
               "Header/Version/NationalProfileOwner", h->profile_owner, sizeof h->profile_owner);
    copy_small(w,
               child_text(w, version, TD__EEV_NS_CORE, "NationalProfileVersion",
                          "Header/Version/NationalProfileVersion", 0),
               "Header/Version/NationalProfileVersion", h->profile_version,
               sizeof h->profile_version);
}

/* ---- documents ---- */

typedef struct doc_info {
    const object *o;
    const char *type;      /* DocumentType's Value */
    const char *reference; /* doc:DocumentReference */
    const char *content_type;
    const unsigned char *body; /* decoded DocumentBody/Contents, or NULL */
    size_t body_len;
} doc_info;

/* Reads a DocumentObject and adds its entry to docs (JSON array). */
static void read_document(walk *w, const object *o, json_t *docs, doc_info *d)
{
    memset(d, 0, sizeof *d);
    d->o = o;
    set_where(w, o);
    d->type = dict_value(w, o->node, TD__EEV_NS_DOC, "DocumentType", "doc:DocumentType", 1);
    const char *name =
        child_text(w, o->node, TD__EEV_NS_DOC, "DocumentName", "doc:DocumentName", 0);
    d->reference =
        child_text(w, o->node, TD__EEV_NS_DOC, "DocumentReference", "doc:DocumentReference", 0);
    xmlNode *body = one_el(w, o->node, TD__EEV_NS_DOC, "DocumentBody", "doc:DocumentBody", 0);
    if (body) {
        xmlNode *contents =
            one_el(w, body, TD__EEV_NS_DOC, "Contents", "doc:DocumentBody/doc:Contents", 1);
        d->content_type = child_text(w, body, TD__EEV_NS_DOC, "ContentType",
                                     "doc:DocumentBody/doc:ContentType", 1);
        const char *b64 = contents ? text_of(w, contents, "doc:DocumentBody/doc:Contents") : NULL;
        if (b64) {
            unsigned char *bin = NULL;
            size_t n = 0;
            td_status st = td__eev_base64_decode(b64, strlen(b64), &bin, &n);
            if (st == TD_ERR_NOMEM)
                nomem(w);
            else if (st != TD_OK)
                fail(w, TD_ERR_INVALID, "doc:DocumentBody/doc:Contents is not base64");
            else if (keep(w, bin)) {
                d->body = bin;
                d->body_len = n;
            }
        }
    }
    if (w->st != TD_OK)
        return;
    json_t *j = json_object();
    put_str(w, j, "object_id", o->id);
    put_str(w, j, "type", d->type);
    put_str(w, j, "name", name);
    put_str(w, j, "reference", d->reference);
    if (d->body) {
        char hex[65];
        td__eev_sha256_hex(d->body, d->body_len, hex);
        put_str(w, j, "content_type", d->content_type);
        put(w, j, "size", json_integer((json_int_t)d->body_len));
        put_str(w, j, "sha256", hex);
    }
    append(w, docs, j);
}

/* Reads every DocumentObject of the message (in order) into docs and infos[]. */
static size_t read_documents(walk *w, json_t *docs, doc_info *infos)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_obj && w->st == TD_OK; i++) {
        if (w->obj[i].kind != OBJ_DOC)
            continue;
        if (n == TD_EEV_MAX_DOCUMENTS) {
            fail(w, TD_ERR_LIMIT, "more than %d doc:DocumentObjects in one message",
                 TD_EEV_MAX_DOCUMENTS);
            return n;
        }
        read_document(w, &w->obj[i], docs, &infos[n]);
        n++;
    }
    return n;
}

static int is_form(const char *type)
{
    return strncmp(type, "Form", 4) == 0 && type[4] >= '1' && type[4] <= '6' && !type[5];
}

static int is_grounds(const char *type) { return strstr(type, "GroundsForRefusal") != NULL; }

/* ---- the intake document (production, preservation) ---- */

static int is_cancelled(const char *s)
{
    return s && (strcmp(s, "Cancelled") == 0 || strcmp(s, "Canceled") == 0);
}

typedef struct ident {
    const char *type, *value;
    long long port; /* -1: none */
    int64_t at;     /* -1: none */
} ident;

static int same_ident(const ident *a, const ident *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->value, b->value) == 0 && a->port == b->port &&
           a->at == b->at;
}

static const char *const takedown_formats[] = {
    "ipv4",    "ipv6",         "ipv4_range",  "ipv6_range", "email", "phone",
    "user_id", "account_name", "content_url", "content_id", NULL};

/* An authority (issuing or validating) from auth:AuthorisationApprovalDetails. */
static json_t *authority_of(walk *w, xmlNode *approval, const char *label, json_t **contact,
                            int64_t *approved_at)
{
    char l[160];
    xmlNode *details = one_el(w, approval, TD__EEV_NS_COMMON, "ApproverDetails",
                              (snprintf(l, sizeof l, "%s/common:ApproverDetails", label), l), 1);
    const char *reference =
        child_text(w, approval, TD__EEV_NS_COMMON, "ApprovalReference",
                   (snprintf(l, sizeof l, "%s/common:ApprovalReference", label), l), 1);
    const char *when =
        child_text(w, approval, TD__EEV_NS_COMMON, "ApprovalTimestamp",
                   (snprintf(l, sizeof l, "%s/common:ApprovalTimestamp", label), l), 0);
    *approved_at = time_of(w, when, l);
    if (!details)
        return NULL;
    const char *name = child_text(
        w, details, TD__EEV_NS_COMMON, "ApproverName",
        (snprintf(l, sizeof l, "%s/common:ApproverDetails/common:ApproverName", label), l), 1);
    const char *role = child_text(
        w, details, TD__EEV_NS_COMMON, "ApproverRole",
        (snprintf(l, sizeof l, "%s/common:ApproverDetails/common:ApproverRole", label), l), 1);
    const char *type = role ? td__eev_json_of(td__eev_roles, role) : NULL;
    if (role && !type) {
        char list[256];
        td__eev_list(td__eev_roles, 0, list, sizeof list);
        fail(w, TD_ERR_INVALID, "%s '%.64s' is not one of %s", l, role, list);
    }
    /* The first contact details are the authority's contact (sections I and J). */
    xmlNode *cd = first_el(details, TD__EEV_NS_COMMON, "ApproverContactDetails");
    if (cd) {
        *contact = json_object();
        put_str(
            w, *contact, "name",
            child_text(w, cd, TD__EEV_NS_COMMON, "Name", "common:ApproverContactDetails/Name", 0));
        put_str(w, *contact, "email",
                child_text(w, cd, TD__EEV_NS_COMMON, "EmailAddress",
                           "common:ApproverContactDetails/EmailAddress", 0));
        put_str(w, *contact, "phone",
                child_text(w, cd, TD__EEV_NS_COMMON, "PhoneNumber",
                           "common:ApproverContactDetails/PhoneNumber", 0));
    }
    if (w->st != TD_OK)
        return NULL;
    json_t *a = json_object();
    put_str(w, a, "name", name);
    put_str(w, a, "type", type);
    put_str(w, a, "file_number", reference);
    return a;
}

static json_t *contact_of(walk *w, const xmlNode *n, const char *label)
{
    static const char *const names[] = {"Name", "Email", "Phone", NULL};
    eev_only(w, n, label, names, NULL);
    json_t *c = json_object();
    put_str(w, c, "name", eev_text(w, n, "Name", label));
    put_str(w, c, "email", eev_text(w, n, "Email", label));
    put_str(w, c, "phone", eev_text(w, n, "Phone", label));
    return c;
}

/* Sections A..L of the intake document, each a JSON object (or NULL) until they are put in order.
 */
enum { SA, SB, SC, SD, SE, SF, SG, SH, SI, SJ, SK, SL, N_SECTIONS };

/* The sections beyond TS 103 120, from takedown's eev:Certificate in the AuthorisationObject. */
static void read_certificate(walk *w, const xmlNode *auth, json_t **sec, const char **language,
                             int production)
{
    static const char *const sections[] = {
        "Addressee",       "EmergencyReason",  "EarlierOrder", "SubscriberData", "Offence",
        "UserInformation", "ExecutionContact", "Recipient",    "Language",       NULL};
    xmlNode *cert = one_el(w, auth, TD__EEV_NS_EEV, "Certificate", "eev:Certificate", 0);
    if (!cert)
        return;
    eev_only(w, cert, "eev:Certificate", sections, NULL);
    xmlNode *n;
    if ((n = first_el(cert, TD__EEV_NS_EEV, "Addressee"))) {
        static const char *const names[] = {"Name", "Establishment", NULL};
        eev_only(w, n, "eev:Addressee", names, NULL);
        put_str(w, sec[SB], "addressee", eev_text(w, n, "Name", "eev:Addressee"));
        put_str(w, sec[SB], "establishment", eev_text(w, n, "Establishment", "eev:Addressee"));
    }
    const char *reason = eev_text(w, cert, "EmergencyReason", "eev:Certificate");
    if (reason && !production)
        fail(w, TD_ERR_INVALID, "eev:EmergencyReason belongs to an EPOC, not an EPOC-PR");
    put_str(w, sec[SC], "emergency_reason", reason);
    if ((n = first_el(cert, TD__EEV_NS_EEV, "EarlierOrder"))) {
        static const char *const names[] = {"Framework", "Reference", "Id", NULL};
        eev_only(w, n, "eev:EarlierOrder", names, NULL);
        json_t *e = json_object();
        put_str(w, e, "framework", eev_text(w, n, "Framework", "eev:EarlierOrder"));
        put_str(w, e, "reference", eev_text(w, n, "Reference", "eev:EarlierOrder"));
        put_str(w, e, "id", eev_text(w, n, "Id", "eev:EarlierOrder"));
        put_if_any(w, sec[SD], "earlier_order", e);
    }
    if ((n = first_el(cert, TD__EEV_NS_EEV, "SubscriberData"))) {
        static const char *const names[] = {"Item", NULL};
        eev_only(w, n, "eev:SubscriberData", names, "Item");
        json_t *items = json_array();
        for (xmlNode *c = n->children; c && w->st == TD_OK; c = c->next)
            if (is_el(c, TD__EEV_NS_EEV, "Item")) {
                const char *t = text_of(w, c, "eev:SubscriberData/eev:Item");
                if (t && *t)
                    append(w, items, json_string(t));
            }
        put(w, sec[SF], "subscriber", items);
    }
    if ((n = first_el(cert, TD__EEV_NS_EEV, "Offence"))) {
        static const char *const names[] = {"Description",     "LegalClassification",
                                            "MaxPenaltyYears", "ListedTerrorism",
                                            "Summary",         NULL};
        eev_only(w, n, "eev:Offence", names, NULL);
        json_t *G = sec[SG];
        put_str(w, G, "offence", eev_text(w, n, "Description", "eev:Offence"));
        put_str(w, G, "legal_classification", eev_text(w, n, "LegalClassification", "eev:Offence"));
        const char *years = eev_text(w, n, "MaxPenaltyYears", "eev:Offence");
        if (years) {
            long long y = integer_of(w, years, "eev:Offence/eev:MaxPenaltyYears", 0, 1000);
            if (y >= 0)
                put(w, G, "max_penalty_years", json_integer(y));
        }
        const char *listed = eev_text(w, n, "ListedTerrorism", "eev:Offence");
        if (listed) {
            int b = boolean_of(w, listed, "eev:Offence/eev:ListedTerrorism");
            if (b >= 0)
                put(w, G, "listed_terrorism", json_boolean(b));
        }
        put_str(w, G, "summary", eev_text(w, n, "Summary", "eev:Offence"));
    }
    if ((n = first_el(cert, TD__EEV_NS_EEV, "UserInformation"))) {
        static const char *const names[] = {"Mode", "Until", NULL};
        eev_only(w, n, "eev:UserInformation", names, NULL);
        put_str(w, sec[SH], "user_information", eev_text(w, n, "Mode", "eev:UserInformation"));
        put_time(w, sec[SH], "until",
                 time_of(w, eev_text(w, n, "Until", "eev:UserInformation"),
                         "eev:UserInformation/eev:Until"));
    }
    if ((n = first_el(cert, TD__EEV_NS_EEV, "ExecutionContact")))
        put_if_any(w, sec[SK], "contact", contact_of(w, n, "eev:ExecutionContact"));
    if ((n = first_el(cert, TD__EEV_NS_EEV, "Recipient"))) {
        static const char *const names[] = {"Name", "MemberState", "X25519PublicKey", NULL};
        eev_only(w, n, "eev:Recipient", names, NULL);
        put_str(w, sec[SL], "recipient", eev_text(w, n, "Name", "eev:Recipient"));
        put_str(w, sec[SL], "member_state", eev_text(w, n, "MemberState", "eev:Recipient"));
        put_str(w, sec[SL], "x25519_public_key",
                eev_text(w, n, "X25519PublicKey", "eev:Recipient"));
    }
    *language = eev_text(w, cert, "Language", "eev:Certificate");
}

/* One LDTaskObject: its identifier (E) and category (F). */
static void read_task(walk *w, const object *o, ident *id, int *category, int64_t *from,
                      int64_t *to)
{
    static const char *const allowed[] = {"Target", NULL};
    set_where(w, o);
    eev_children(w, o, allowed);
    xmlNode *rd = one_el(w, o->node, TD__EEV_NS_TASK, "RequestDetails", "task:RequestDetails", 1);
    if (!rd)
        return;
    const char *type =
        dict_value(w, rd, TD__EEV_NS_TASK, "Type", "task:RequestDetails/task:Type", 1);
    const char *cat = type ? td__eev_json_of(td__eev_categories, type) : NULL;
    if (type && !cat) {
        char list[160];
        td__eev_list(td__eev_categories, 0, list, sizeof list);
        fail(w, TD_ERR_INVALID, "task:RequestDetails/task:Type '%.64s' is not one of %s", type,
             list);
    }
    *category = cat ? td__eev_index(td__eev_category_names, 4, cat) : -1;
    *from = time_of(
        w, child_text(w, rd, TD__EEV_NS_TASK, "StartTime", "task:RequestDetails/task:StartTime", 0),
        "task:RequestDetails/task:StartTime");
    *to = time_of(
        w, child_text(w, rd, TD__EEV_NS_TASK, "EndTime", "task:RequestDetails/task:EndTime", 0),
        "task:RequestDetails/task:EndTime");
    if (w->st == TD_OK && (*from < 0) != (*to < 0))
        fail(w, TD_ERR_INVALID, "task:RequestDetails has one of StartTime and EndTime only");
    xmlNode *values = one_el(w, rd, TD__EEV_NS_TASK, "RequestValues",
                             "task:RequestDetails/task:RequestValues", 1);
    if (!values)
        return;
    size_t n = count_el(values, TD__EEV_NS_TASK, "RequestValue");
    if (n != 1) {
        fail(w, TD_ERR_INVALID,
             "task:RequestValues has %zu task:RequestValue (one LDTaskObject per identifier and "
             "category)",
             n);
        return;
    }
    xmlNode *rv = first_el(values, TD__EEV_NS_TASK, "RequestValue");
    xmlNode *ft =
        one_el(w, rv, TD__EEV_NS_TASK, "FormatType", "task:RequestValue/task:FormatType", 1);
    id->value = child_text(w, rv, TD__EEV_NS_TASK, "Value", "task:RequestValue/task:Value", 1);
    if (!ft)
        return;
    const char *owner =
        child_text(w, ft, TD__EEV_NS_TASK, "FormatOwner", "task:FormatType/task:FormatOwner", 1);
    const char *name =
        child_text(w, ft, TD__EEV_NS_TASK, "FormatName", "task:FormatType/task:FormatName", 1);
    if (w->st != TD_OK)
        return;
    if (strcmp(owner, "ETSI") == 0) {
        id->type = td__eev_json_of(td__eev_formats, name);
        if (!id->type) {
            char list[192];
            td__eev_list(td__eev_formats, 0, list, sizeof list);
            fail(w, TD_ERR_INVALID, "ETSI format '%.64s' is not mapped (%s)", name, list);
        }
    } else if (strcmp(owner, TD__EEV_OWNER) == 0) {
        int i = td__eev_index(takedown_formats, 16, name);
        if (i < 0)
            fail(w, TD_ERR_INVALID, "takedown format '%.64s' is not an identifier type", name);
        else
            id->type = takedown_formats[i];
    } else {
        fail(w, TD_ERR_INVALID, "task:FormatOwner '%.64s' is not ETSI or %s", owner, TD__EEV_OWNER);
    }
    id->port = -1;
    id->at = -1;
    xmlNode *target = one_el(w, o->node, TD__EEV_NS_EEV, "Target", "eev:Target", 0);
    if (target) {
        static const char *const names[] = {"Port", "ObservedAt", NULL};
        eev_only(w, target, "eev:Target", names, NULL);
        const char *port = eev_text(w, target, "Port", "eev:Target");
        if (port)
            id->port = integer_of(w, port, "eev:Target/eev:Port", 0, 65535);
        id->at = time_of(w, eev_text(w, target, "ObservedAt", "eev:Target"),
                         "eev:Target/eev:ObservedAt");
    }
}

static json_t *ident_json(walk *w, const ident *id)
{
    json_t *j = json_object();
    put_str(w, j, "type", id->type);
    put_str(w, j, "value", id->value);
    if (id->port >= 0)
        put(w, j, "port", json_integer(id->port));
    put_time(w, j, "at", id->at);
    return j;
}

static void read_flags(walk *w, const xmlNode *auth, int *ea_notified)
{
    xmlNode *flags =
        one_el(w, auth, TD__EEV_NS_AUTH, "AuthorisationFlags", "auth:AuthorisationFlags", 0);
    for (xmlNode *c = flags ? flags->children : NULL; c && w->st == TD_OK; c = c->next) {
        if (!is_el(c, TD__EEV_NS_AUTH, "AuthorisationFlag"))
            continue;
        const char *v =
            child_text(w, c, TD__EEV_NS_COMMON, "Value", "auth:AuthorisationFlag/common:Value", 1);
        if (v && strcmp(v, "EnforcingAuthorityNotified") == 0)
            *ea_notified = 1;
    }
}

/* Issuing and validating authority (sections A, I, J): one approval each, told apart by
 * ApprovalType. */
static void read_approvals(walk *w, const object *auth, json_t **sec)
{
    int issuing = 0, validating = 0;
    int64_t issued_at = -1;
    for (xmlNode *c = auth->node->children; c && w->st == TD_OK; c = c->next) {
        if (!is_el(c, TD__EEV_NS_AUTH, "AuthorisationApprovalDetails"))
            continue;
        const char *type = child_text(w, c, TD__EEV_NS_COMMON, "ApprovalType",
                                      "auth:AuthorisationApprovalDetails/common:ApprovalType", 1);
        if (!type)
            return;
        int is_issuing = strcmp(type, "IssuingAuthority") == 0;
        if (!is_issuing && strcmp(type, "ValidatingAuthority") != 0) {
            fail(w, TD_ERR_INVALID,
                 "common:ApprovalType '%.64s' is not IssuingAuthority or ValidatingAuthority",
                 type);
            return;
        }
        if (is_issuing ? issuing : validating) {
            fail(w, TD_ERR_INVALID, "two auth:AuthorisationApprovalDetails of type %s", type);
            return;
        }
        json_t *contact = NULL;
        int64_t at = -1;
        json_t *a = authority_of(w, c,
                                 is_issuing ? "auth:AuthorisationApprovalDetails (issuing)"
                                            : "auth:AuthorisationApprovalDetails (validating)",
                                 &contact, &at);
        if (w->st != TD_OK) {
            json_decref(a);
            json_decref(contact);
            return;
        }
        if (is_issuing) {
            issuing = 1;
            if (at < 0) {
                json_decref(a);
                json_decref(contact);
                fail(w, TD_ERR_INVALID,
                     "auth:AuthorisationApprovalDetails (issuing): "
                     "common:ApprovalTimestamp is missing (A.issued_at)");
                return;
            }
            put(w, sec[SA], "issuing_authority", a);
            issued_at = at;
            put_if_any(w, sec[SI], "contact", contact);
        } else {
            validating = 1;
            put(w, sec[SA], "validating_authority", a);
            put_if_any(w, sec[SJ], "contact", contact);
        }
    }
    if (w->st == TD_OK && !issuing)
        fail(w, TD_ERR_INVALID,
             "no auth:AuthorisationApprovalDetails with common:ApprovalType IssuingAuthority");
    put_time(w, sec[SA], "issued_at", issued_at);
}

/* The AuthorisationObject: sections A, B, C, I, J, the flags and the certificate's sections. */
static void read_authorisation(walk *w, const object *auth, json_t **sec, int *ea_notified,
                               const char **language)
{
    int production = w->ep == TD_EEV_PRODUCTION;
    static const char *const auth_eev[] = {"Certificate", NULL};
    set_where(w, auth);
    eev_children(w, auth, auth_eev);
    const char *legal = dict_value(w, auth->node, TD__EEV_NS_AUTH, "AuthorisationLegalType",
                                   "auth:AuthorisationLegalType", 1);
    const char *want = production ? "EPOC" : "EPOCPR";
    if (legal && strcmp(legal, want) != 0)
        fail(w, TD_ERR_INVALID, "auth:AuthorisationLegalType is '%.32s' but endpoint %s expects %s",
             legal, endpoint_names[w->ep], want);
    const char *status = dict_value(w, auth->node, TD__EEV_NS_AUTH, "AuthorisationDesiredStatus",
                                    "auth:AuthorisationDesiredStatus", 0);
    if (is_cancelled(status))
        fail(w, TD_ERR_INVALID, "a new order with desired status %s", status);
    const char *priority = dict_value(w, auth->node, TD__EEV_NS_AUTH, "AuthorisationPriority",
                                      "auth:AuthorisationPriority", production);
    if (priority && !production) {
        fail(w, TD_ERR_INVALID, "auth:AuthorisationPriority belongs to an EPOC, not an EPOC-PR");
    } else if (priority) {
        const char *deadline = td__eev_json_of(td__eev_priorities, priority);
        if (!deadline) {
            char list[128];
            td__eev_list(td__eev_priorities, 0, list, sizeof list);
            fail(w, TD_ERR_INVALID, "auth:AuthorisationPriority '%.64s' is not one of %s", priority,
                 list);
        }
        put_str(w, sec[SC], "deadline", deadline);
    }
    put_str(w, sec[SA], "issuing_state",
            child_text(w, auth->node, TD__EEV_NS_CORE, "CountryCode", "CountryCode", 1));
    read_approvals(w, auth, sec);
    read_flags(w, auth->node, ea_notified);
    read_certificate(w, auth->node, sec, language, production);
    xmlNode *cspid =
        one_el(w, auth->node, TD__EEV_NS_AUTH, "AuthorisationCSPID", "auth:AuthorisationCSPID", 0);
    xmlNode *csp = cspid ? first_el(cspid, TD__EEV_NS_AUTH, "CSPID") : NULL;
    if (csp) {
        const char *ms = child_text(w, csp, TD__EEV_NS_CORE, "CountryCode",
                                    "auth:AuthorisationCSPID/auth:CSPID/CountryCode", 0);
        if (ms && !td__eev_country_valid(ms, strlen(ms)))
            fail(w, TD_ERR_INVALID, "auth:CSPID/CountryCode '%.16s' is not two capital letters",
                 ms);
        put_str(w, sec[SB], "member_state", ms);
    }
    w->where[0] = '\0';
}

/* The LDTaskObjects: sections E and F, and the task list the operator answers with. */
static void read_tasks(walk *w, const object *auth, json_t **sec, json_t *tasks)
{
    ident *ids = keep(w, td__calloc(TD_EEV_MAX_OBJECTS, sizeof *ids));
    size_t n_ids = 0;
    int has_cat[4] = {0, 0, 0, 0};
    int64_t from = -1, to = -1;
    json_t *identifiers = json_array();
    for (size_t i = 0; ids && i < w->n_obj && w->st == TD_OK; i++) {
        const object *o = &w->obj[i];
        if (o->kind != OBJ_TASK)
            continue;
        set_where(w, o);
        if (!assoc_has(o, auth->id)) {
            fail(w, TD_ERR_INVALID, "AssociatedObjects does not name the AuthorisationObject %s",
                 auth->id);
            break;
        }
        ident id = {NULL, NULL, -1, -1};
        int cat = -1;
        int64_t f = -1, t = -1;
        read_task(w, o, &id, &cat, &f, &t);
        if (w->st != TD_OK)
            break;
        if (f >= 0 && (from < 0 || f < from))
            from = f;
        if (t > to)
            to = t;
        has_cat[cat] = 1;
        size_t k = 0;
        while (k < n_ids && !same_ident(&ids[k], &id))
            k++;
        if (k == n_ids) {
            ids[n_ids++] = id;
            append(w, identifiers, ident_json(w, &id));
        }
        json_t *task = json_object();
        put_str(w, task, "id", o->id);
        put(w, task, "identifier", json_integer((json_int_t)k));
        put_str(w, task, "category", td__eev_category_names[cat]);
        append(w, tasks, task);
    }
    w->where[0] = '\0';
    put(w, sec[SE], "identifiers", identifiers);
    if (from >= 0) {
        json_t *range = json_object();
        put_time(w, range, "from", from);
        put_time(w, range, "to", to);
        put(w, sec[SE], "time_range", range);
    }
    /* data_categories before the certificate's subscriber list, as in the contract. */
    json_t *cats = json_array();
    for (int c = 0; c < 4; c++)
        if (has_cat[c])
            append(w, cats, json_string(td__eev_category_names[c]));
    json_t *subscriber = json_incref(json_object_get(sec[SF], "subscriber"));
    json_object_clear(sec[SF]);
    put(w, sec[SF], "data_categories", cats);
    if (subscriber)
        put(w, sec[SF], "subscriber", subscriber);
}

/* The signed certificate (Form1 / Form2) and attachments. */
static void read_forms(walk *w, const object *auth, json_t *docs)
{
    doc_info infos[TD_EEV_MAX_DOCUMENTS];
    size_t n_docs = read_documents(w, docs, infos), n_forms = 0;
    const char *form = w->ep == TD_EEV_PRODUCTION ? "Form1" : "Form2";
    for (size_t i = 0; i < n_docs && w->st == TD_OK; i++) {
        set_where(w, infos[i].o);
        int is_cert = strcmp(infos[i].type, form) == 0;
        if (!assoc_has(infos[i].o, auth->id))
            fail(w, TD_ERR_INVALID, "AssociatedObjects does not name the AuthorisationObject %s",
                 auth->id);
        else if (!is_cert && strcmp(infos[i].type, "OtherAttachment") != 0)
            fail(w, TD_ERR_INVALID,
                 "doc:DocumentType '%.64s' is not expected on endpoint %s (%s or OtherAttachment)",
                 infos[i].type, endpoint_names[w->ep], form);
        else if (!infos[i].body)
            fail(w, TD_ERR_INVALID, "the %s has no doc:DocumentBody", infos[i].type);
        n_forms += is_cert;
    }
    w->where[0] = '\0';
    if (w->st == TD_OK && n_forms != 1)
        fail(w, TD_ERR_INVALID,
             "%zu doc:DocumentObject of type %s (the signed certificate: one expected)", n_forms,
             form);
}

static json_t *intake(walk *w)
{
    int production = w->ep == TD_EEV_PRODUCTION;
    const object *auth = NULL;
    size_t n_auth = 0, n_tasks = 0;
    for (size_t i = 0; i < w->n_obj && w->st == TD_OK; i++) {
        const object *o = &w->obj[i];
        set_where(w, o);
        if (o->kind == OBJ_NOTIFICATION || o->kind == OBJ_DELIVERY)
            fail(w, TD_ERR_INVALID, "not expected on endpoint %s", endpoint_names[w->ep]);
        else if (o->verb != VERB_CREATE)
            fail(w, TD_ERR_INVALID, "%s where CREATE is expected on endpoint %s",
                 verb_names[o->verb], endpoint_names[w->ep]);
        if (o->kind == OBJ_AUTH) {
            auth = o;
            n_auth++;
        }
        n_tasks += o->kind == OBJ_TASK;
    }
    w->where[0] = '\0';
    if (w->st == TD_OK && n_auth != 1)
        fail(w, TD_ERR_INVALID, "%zu auth:AuthorisationObject in the message (one expected)",
             n_auth);
    if (w->st == TD_OK && n_tasks == 0)
        fail(w, TD_ERR_INVALID,
             "no task:LDTaskObject in the message (one per identifier and data category)");
    if (w->st != TD_OK)
        return NULL;

    json_t *sec[N_SECTIONS], *docs = json_array(), *tasks = json_array(), *doc = json_object();
    int ok = docs && tasks && doc;
    for (int i = 0; i < N_SECTIONS; i++)
        ok &= (sec[i] = json_object()) != NULL;
    int ea_notified = 0;
    const char *language = NULL;
    if (!ok)
        nomem(w);
    else {
        read_authorisation(w, auth, sec, &ea_notified, &language);
        if (w->st == TD_OK)
            read_tasks(w, auth, sec, tasks);
        if (w->st == TD_OK)
            read_forms(w, auth, docs);
    }
    /* In the order of the contract's example: framework, A..L, the flag, the language; then the
     * transport's own members. */
    if (w->st == TD_OK)
        put(w, doc, "framework", json_string(production ? "eu_epoc" : "eu_epoc_pr"));
    for (int i = 0; i < N_SECTIONS; i++) {
        char key[2] = {(char)('A' + i), '\0'};
        if (w->st == TD_OK && sec[i] && json_object_size(sec[i]) > 0)
            put(w, doc, key, sec[i]);
        else
            json_decref(sec[i]);
    }
    if (w->st == TD_OK && production)
        put(w, doc, "enforcing_state_notified", json_boolean(ea_notified));
    if (w->st == TD_OK) {
        put_str(w, doc, "language", language);
        put_str(w, doc, "ext_id", auth->id);
        put(w, doc, "documents", docs);
        put(w, doc, "tasks", tasks);
    } else {
        json_decref(docs);
        json_decref(tasks);
    }
    if (w->st != TD_OK) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ---- events on an existing order ---- */

static const char *desired_status(walk *w, const object *auth)
{
    set_where(w, auth);
    return dict_value(w, auth->node, TD__EEV_NS_AUTH, "AuthorisationDesiredStatus",
                      "auth:AuthorisationDesiredStatus", 0);
}

/* The objects of an event message: every kind outside allowed is refused, the one
 * AuthorisationObject (if any) must be an UPDATE. */
static const object *event_objects(walk *w, unsigned allowed, size_t *n_kind)
{
    const object *auth = NULL;
    memset(n_kind, 0, OBJ_KINDS * sizeof *n_kind);
    for (size_t i = 0; i < w->n_obj && w->st == TD_OK; i++) {
        const object *o = &w->obj[i];
        set_where(w, o);
        if (!(allowed & (1u << o->kind)))
            fail(w, TD_ERR_INVALID, "not expected on endpoint %s", endpoint_names[w->ep]);
        else if (o->kind == OBJ_AUTH && o->verb != VERB_UPDATE)
            fail(w, TD_ERR_INVALID,
                 "%s of an AuthorisationObject: a new order goes to production or preservation; "
                 "an event updates the order's AuthorisationObject",
                 verb_names[o->verb]);
        else if (o->kind == OBJ_TASK && o->verb != VERB_UPDATE)
            fail(w, TD_ERR_INVALID, "%s where UPDATE is expected", verb_names[o->verb]);
        else if ((o->kind == OBJ_DOC || o->kind == OBJ_NOTIFICATION) && o->verb != VERB_CREATE)
            fail(w, TD_ERR_INVALID, "%s where CREATE is expected", verb_names[o->verb]);
        if (o->kind == OBJ_AUTH) {
            if (auth)
                fail(w, TD_ERR_INVALID, "a second auth:AuthorisationObject");
            auth = o;
        }
        n_kind[o->kind]++;
    }
    w->where[0] = '\0';
    return auth;
}

/* The order the event is about: the AuthorisationObject's identifier, else the first
 * AssociatedObject of the primary object. Every other document must hang off the order or the
 * primary object. */
static int event_order(walk *w, const object *auth, const object *primary, const doc_info *docs,
                       size_t n_docs, char order[37])
{
    if (w->st != TD_OK)
        return 0;
    if (auth) {
        memcpy(order, auth->id, 37);
        if (primary && primary->assoc && !assoc_has(primary, order)) {
            set_where(w, primary);
            fail(w, TD_ERR_INVALID, "AssociatedObjects does not name the AuthorisationObject %s",
                 order);
            return 0;
        }
    } else if (primary) {
        char list[1][37];
        set_where(w, primary);
        size_t n = assoc_list(w, primary, list, 1);
        if (w->st != TD_OK)
            return 0;
        if (n == 0) {
            fail(w, TD_ERR_INVALID,
                 "AssociatedObjects is missing: it names the order's "
                 "AuthorisationObject");
            return 0;
        }
        memcpy(order, list[0], 37);
    } else {
        fail(w, TD_ERR_INVALID,
             "no object names the order: an UPDATE of its "
             "auth:AuthorisationObject or a document associated with it");
        return 0;
    }
    for (size_t i = 0; i < n_docs; i++) {
        const object *o = docs[i].o;
        if (o == primary || assoc_has(o, order) || (primary && assoc_has(o, primary->id)))
            continue;
        set_where(w, o);
        fail(w, TD_ERR_INVALID,
             "AssociatedObjects names neither the order %s nor the message's "
             "main object",
             order);
        return 0;
    }
    w->where[0] = '\0';
    return 1;
}

/* The one document whose type is accepted by want (the event's main document); the others must
 * be attachments. */
static const doc_info *primary_doc(walk *w, const doc_info *docs, size_t n_docs,
                                   int (*want)(const char *), const char *what)
{
    const doc_info *found = NULL;
    for (size_t i = 0; i < n_docs && w->st == TD_OK; i++) {
        set_where(w, docs[i].o);
        if (want(docs[i].type)) {
            if (found)
                fail(w, TD_ERR_INVALID, "a second %s", what);
            found = &docs[i];
        } else if (strcmp(docs[i].type, "OtherAttachment") != 0) {
            fail(w, TD_ERR_INVALID, "doc:DocumentType '%.64s' is not expected on endpoint %s",
                 docs[i].type, endpoint_names[w->ep]);
        }
    }
    w->where[0] = '\0';
    if (w->st == TD_OK && !found)
        fail(w, TD_ERR_INVALID, "no %s in the message", what);
    return found;
}

static int want_form5(const char *t) { return strcmp(t, "Form5") == 0; }
static int want_form6(const char *t) { return strcmp(t, "Form6") == 0; }
static int want_form3(const char *t) { return strcmp(t, "Form3") == 0; }
static int want_correspondence(const char *t)
{
    return strcmp(t, "OtherAttachment") != 0 && !is_form(t) && !is_grounds(t);
}

static void read_grounds(walk *w, const doc_info *d, json_t *ev)
{
    const char *kind = strcmp(d->type, "NoGroundsForRefusal") == 0        ? "none"
                       : strcmp(d->type, "PartialGroundsForRefusal") == 0 ? "partial"
                                                                          : "full";
    set_where(w, d->o);
    static const char *const allowed[] = {"Grounds", NULL};
    eev_children(w, d->o, allowed);
    put_str(w, ev, "kind", kind);
    xmlNode *g = one_el(w, d->o->node, TD__EEV_NS_EEV, "Grounds", "eev:Grounds", 0);
    json_t *cats = json_array();
    const char *ground = NULL;
    if (g) {
        static const char *const names[] = {"Category", "Ground", NULL};
        eev_only(w, g, "eev:Grounds", names, "Category");
        int seen[4] = {0, 0, 0, 0};
        for (xmlNode *c = g->children; c && w->st == TD_OK; c = c->next) {
            if (!is_el(c, TD__EEV_NS_EEV, "Category"))
                continue;
            const char *t = text_of(w, c, "eev:Grounds/eev:Category");
            int k = t ? td__eev_index(td__eev_category_names, 4, t) : -1;
            if (t && k < 0)
                fail(w, TD_ERR_INVALID,
                     "eev:Grounds/eev:Category '%.64s' is not one of "
                     "subscriber, identification, traffic, content",
                     t);
            else if (t)
                seen[k] = 1;
        }
        for (int k = 0; k < 4; k++)
            if (seen[k])
                append(w, cats, json_string(td__eev_category_names[k]));
        ground = eev_text(w, g, "Ground", "eev:Grounds");
        if (ground && td__eev_index(td__eev_ground_names, 4, ground) < 0)
            fail(w, TD_ERR_INVALID,
                 "eev:Grounds/eev:Ground '%.64s' is not one of "
                 "immunities_or_privileges, fundamental_rights, ne_bis_in_idem, dual_criminality",
                 ground);
    }
    if (w->st == TD_OK) {
        if (strcmp(kind, "none") == 0 && (json_array_size(cats) || ground))
            fail(w, TD_ERR_INVALID, "NoGroundsForRefusal names no category and no ground");
        else if (strcmp(kind, "partial") == 0 && !json_array_size(cats))
            fail(w, TD_ERR_INVALID,
                 "PartialGroundsForRefusal names no eev:Grounds/eev:Category (the refused data)");
        else if (strcmp(kind, "none") != 0 && !ground)
            fail(w, TD_ERR_INVALID, "%s without eev:Grounds/eev:Ground", d->type);
    }
    /* Full refusal without categories refuses all of them. */
    if (w->st == TD_OK && strcmp(kind, "full") == 0 && !json_array_size(cats))
        for (int k = 0; k < 4; k++)
            append(w, cats, json_string(td__eev_category_names[k]));
    put(w, ev, "categories", cats);
    put_str(w, ev, "ground", ground);
    w->where[0] = '\0';
}

static void read_correspondence(walk *w, const doc_info *d, json_t *ev)
{
    const char *kind =
        strcmp(d->type, "RequestAdditionalInformation") == 0   ? "request_additional_information"
        : strcmp(d->type, "ProvideAdditionalInformation") == 0 ? "provide_additional_information"
                                                               : "other";
    put_str(w, ev, "kind", kind);
    if (strcmp(kind, "other") == 0)
        put_str(w, ev, "document_type", d->type);
    /* The text: a text/plain body, UTF-8; other bodies are attachments only. */
    const char *text = "";
    char *copy = NULL;
    if (d->body && d->content_type && strncmp(d->content_type, "text/plain", 10) == 0) {
        set_where(w, d->o);
        if (d->body_len > TD_EEV_MAX_TEXT) {
            fail(w, TD_ERR_LIMIT, "the correspondence text is longer than %u bytes",
                 TD_EEV_MAX_TEXT);
            return;
        }
        for (size_t k = 0, step; k < d->body_len; k += step) {
            uint32_t cp;
            step = td__utf8_next(d->body + k, d->body_len - k, &cp);
            if (step == 0 || cp == 0) {
                fail(w, TD_ERR_INVALID, "the text/plain body is not UTF-8 text");
                return;
            }
        }
        copy = keep(w, td__malloc(d->body_len + 1));
        if (!copy)
            return;
        memcpy(copy, d->body, d->body_len);
        copy[d->body_len] = '\0';
        text = copy;
        w->where[0] = '\0';
    }
    put_str(w, ev, "text", text);
}

/* The LDTask UPDATEs of datapreserved / nonexecution: [{"id", "status"}]. */
static json_t *task_updates(walk *w, int ids_only, const char *order)
{
    json_t *tasks = json_array();
    for (size_t i = 0; i < w->n_obj && w->st == TD_OK; i++) {
        const object *o = &w->obj[i];
        if (o->kind != OBJ_TASK)
            continue;
        set_where(w, o);
        eev_children(w, o, NULL);
        if (strcmp(o->id, order) == 0)
            fail(w, TD_ERR_INVALID, "an LDTaskObject with the order's identifier");
        const char *s = dict_value(w, o->node, TD__EEV_NS_TASK, "Status", "task:Status", 1);
        const char *status = s ? td__eev_json_of(td__eev_task_status, s) : NULL;
        if (s && !status)
            fail(w, TD_ERR_INVALID, "task:Status '%.64s' is not Preserved or Invalid", s);
        if (ids_only && status && strcmp(status, "invalid") != 0)
            fail(w, TD_ERR_INVALID, "task:Status %s in a non-execution (Invalid expected)", s);
        if (w->st != TD_OK)
            break;
        if (ids_only) {
            append(w, tasks, json_string(o->id));
        } else {
            json_t *t = json_object();
            put_str(w, t, "id", o->id);
            put_str(w, t, "status", status);
            append(w, tasks, t);
        }
    }
    w->where[0] = '\0';
    return tasks;
}

static const object *the_one(walk *w, obj_kind kind, const size_t *n_kind)
{
    if (n_kind[kind] != 1) {
        fail(w, TD_ERR_INVALID, "%zu %s in the message (one expected on endpoint %s)", n_kind[kind],
             obj_label[kind], endpoint_names[w->ep]);
        return NULL;
    }
    for (size_t i = 0; i < w->n_obj; i++)
        if (w->obj[i].kind == kind)
            return &w->obj[i];
    return NULL;
}

static const char *notification_type(walk *w, const object *n, const char *expected)
{
    set_where(w, n);
    const char *t = dict_value(w, n->node, TD__EEV_NS_NOTIFICATION, "NotificationType",
                               "notification:NotificationType", 1);
    if (t && strcmp(t, expected) != 0)
        fail(w, TD_ERR_INVALID, "notification:NotificationType is '%.64s', %s expected", t,
             expected);
    return t;
}

static void read_form3(walk *w, const object *n, json_t *ev)
{
    static const char *const allowed[] = {"Form3Information", NULL};
    eev_children(w, n, allowed);
    xmlNode *f = one_el(w, n->node, TD__EEV_NS_EEV, "Form3Information", "eev:Form3Information", 1);
    if (!f)
        return;
    static const char *const names[] = {"Reason", "ConflictOfLaw", "RequestForClarification", NULL};
    eev_only(w, f, "eev:Form3Information", names, NULL);
    const char *r =
        child_text(w, f, TD__EEV_NS_EEV, "Reason", "eev:Form3Information/eev:Reason", 1);
    const char *reason = r ? td__eev_json_of(td__eev_reasons, r) : NULL;
    if (r && !reason) {
        char list[320];
        td__eev_list(td__eev_reasons, 0, list, sizeof list);
        fail(w, TD_ERR_INVALID, "eev:Form3Information/eev:Reason '%.64s' is not one of %s", r,
             list);
    }
    put_str(w, ev, "reason", reason);
    put_str(w, ev, "details",
            child_text(w, n->node, TD__EEV_NS_NOTIFICATION, "NotificationDetails",
                       "notification:NotificationDetails", 0));
    xmlNode *col = one_el(w, f, TD__EEV_NS_EEV, "ConflictOfLaw", "eev:ConflictOfLaw", 0);
    if (col) {
        static const char *const cn[] = {
            "TitleOfLaw",         "StatutoryProvisions", "NatureOfObligation", "WhyApplies",
            "LinkToThirdCountry", "Consequences",        "OtherInformation",   NULL};
        static const char *const keys[] = {"law",  "provisions",   "nature", "why_applies",
                                           "link", "consequences", "other"};
        eev_only(w, col, "eev:ConflictOfLaw", cn, NULL);
        json_t *c = json_object();
        for (size_t i = 0; cn[i]; i++) {
            char label[96];
            snprintf(label, sizeof label, "eev:ConflictOfLaw/eev:%s", cn[i]);
            /* All but OtherInformation are what Annex III asks for. */
            put_str(w, c, keys[i], child_text(w, col, TD__EEV_NS_EEV, cn[i], label, i < 6));
        }
        put(w, ev, "conflict_of_law", c);
    }
    if (w->st == TD_OK && reason && (strcmp(reason, "conflict_of_law") == 0) != (col != NULL))
        fail(w, TD_ERR_INVALID,
             "eev:ConflictOfLaw goes with the reason ConflictOfLaw, and only "
             "with it");
    put_str(w, ev, "clarification",
            eev_text(w, f, "RequestForClarification", "eev:Form3Information"));
}

static void read_package(walk *w, const object *d, json_t *ev)
{
    static const char *const allowed[] = {"Package", NULL};
    set_where(w, d);
    eev_children(w, d, allowed);
    const char *delivery_id =
        child_text(w, d->node, TD__EEV_NS_DELIVERY, "DeliveryID", "delivery:DeliveryID", 1);
    if (delivery_id && strlen(delivery_id) > TD_EEV_ID_MAX)
        fail(w, TD_ERR_LIMIT, "delivery:DeliveryID is longer than %d bytes", TD_EEV_ID_MAX);
    put_str(w, ev, "delivery_id", delivery_id);
    xmlNode *p = one_el(w, d->node, TD__EEV_NS_EEV, "Package", "eev:Package", 1);
    if (!p)
        return;
    static const char *const names[] = {"SHA256", "Size",        "ManifestSHA256",
                                        "URI",    "ContentType", NULL};
    eev_only(w, p, "eev:Package", names, NULL);
    const char *sha = child_text(w, p, TD__EEV_NS_EEV, "SHA256", "eev:Package/eev:SHA256", 1);
    const char *size = child_text(w, p, TD__EEV_NS_EEV, "Size", "eev:Package/eev:Size", 1);
    const char *manifest =
        child_text(w, p, TD__EEV_NS_EEV, "ManifestSHA256", "eev:Package/eev:ManifestSHA256", 1);
    const char *uri = child_text(w, p, TD__EEV_NS_EEV, "URI", "eev:Package/eev:URI", 1);
    const char *ctype =
        child_text(w, p, TD__EEV_NS_EEV, "ContentType", "eev:Package/eev:ContentType", 0);
    long long n = size ? integer_of(w, size, "eev:Package/eev:Size", 0, (long long)1 << 53) : -1;
    if (sha && !td__eev_hex64(sha))
        fail(w, TD_ERR_INVALID, "eev:Package/eev:SHA256 is not 64 lower-case hex digits");
    if (manifest && !td__eev_hex64(manifest))
        fail(w, TD_ERR_INVALID, "eev:Package/eev:ManifestSHA256 is not 64 lower-case hex digits");
    if (uri && !td__eev_uri_ok(uri))
        fail(w, TD_ERR_INVALID, "eev:Package/eev:URI is not an absolute URI without blanks");
    if (ctype && strlen(ctype) > TD__EEV_MAX_CONTENT_TYPE)
        fail(w, TD_ERR_LIMIT, "eev:Package/eev:ContentType is longer than %d bytes",
             TD__EEV_MAX_CONTENT_TYPE);
    json_t *pkg = json_object();
    put_str(w, pkg, "sha256", sha);
    if (n >= 0)
        put(w, pkg, "size", json_integer(n));
    put_str(w, pkg, "manifest_sha256", manifest);
    put_str(w, pkg, "uri", uri);
    put_str(w, pkg, "content_type", ctype);
    put(w, ev, "package", pkg);
    w->where[0] = '\0';
}

static json_t *event(walk *w)
{
    static const char *const actions[TD_EEV_ENDPOINT_COUNT] = {
        NULL,
        NULL,
        "subsequent_production",
        "extend_preservation",
        "end_preservation",
        "new_deadline",
        "withdraw",
        "grounds",
        "correspondence",
        "data_preserved",
        "outcome",
        "non_execution",
    };
    const unsigned A = 1u << OBJ_AUTH, T = 1u << OBJ_TASK, D = 1u << OBJ_DOC,
                   N = 1u << OBJ_NOTIFICATION, V = 1u << OBJ_DELIVERY;
    unsigned allowed;
    switch (w->ep) {
    case TD_EEV_DATA_PRESERVED: allowed = T | N; break;
    case TD_EEV_OUTCOME: allowed = V; break;
    case TD_EEV_NON_EXECUTION: allowed = A | T | N | D; break;
    default: allowed = A | D; break;
    }
    size_t n_kind[OBJ_KINDS];
    const object *auth = event_objects(w, allowed, n_kind);
    if (w->st != TD_OK)
        return NULL;
    json_t *ev = json_object(), *docs = json_array();
    if (!ev || !docs) {
        json_decref(ev);
        json_decref(docs);
        nomem(w);
        return NULL;
    }
    put(w, ev, "action", json_string(actions[w->ep]));
    doc_info infos[TD_EEV_MAX_DOCUMENTS];
    size_t n_docs = read_documents(w, docs, infos);
    if (auth && w->st == TD_OK) {
        static const char *const deadline_only[] = {"NewDeadline", NULL};
        set_where(w, auth);
        eev_children(w, auth, w->ep == TD_EEV_NEW_DEADLINE ? deadline_only : NULL);
        w->where[0] = '\0';
    }

    /* The object that names the order, besides an AuthorisationObject. */
    const doc_info *pd = NULL;
    const object *primary = NULL;
    switch (w->ep) {
    case TD_EEV_SUBSEQUENT_PRODUCTION:
        pd = primary_doc(w, infos, n_docs, want_form5, "Form5 document (Annex V)");
        break;
    case TD_EEV_PRESERVATION_EXTENSION:
        pd = primary_doc(w, infos, n_docs, want_form6, "Form6 document (Annex VI)");
        break;
    case TD_EEV_GROUNDS_FOR_REFUSAL:
        pd = primary_doc(w, infos, n_docs, is_grounds,
                         "grounds for refusal document (DocumentType NoGroundsForRefusal, "
                         "PartialGroundsForRefusal or FullGroundsForRefusal)");
        break;
    case TD_EEV_CORRESPONDENCE:
        pd = primary_doc(w, infos, n_docs, want_correspondence, "correspondence document");
        break;
    case TD_EEV_END_PRESERVATION:
    case TD_EEV_NEW_DEADLINE:
    case TD_EEV_WITHDRAW:
    case TD_EEV_NON_EXECUTION:
        for (size_t i = 0; i < n_docs && w->st == TD_OK; i++) {
            int form3 = w->ep == TD_EEV_NON_EXECUTION && want_form3(infos[i].type);
            if (!form3 && strcmp(infos[i].type, "OtherAttachment") != 0) {
                set_where(w, infos[i].o);
                fail(w, TD_ERR_INVALID,
                     "doc:DocumentType '%.64s' is not expected on endpoint %s (attachments only)",
                     infos[i].type, endpoint_names[w->ep]);
            }
        }
        w->where[0] = '\0';
        if (w->ep == TD_EEV_NON_EXECUTION)
            primary = the_one(w, OBJ_NOTIFICATION, n_kind);
        else if (w->st == TD_OK && !auth && w->ep != TD_EEV_END_PRESERVATION)
            fail(w, TD_ERR_INVALID, "no auth:AuthorisationObject: endpoint %s updates the order's",
                 endpoint_names[w->ep]);
        else if (!auth && n_docs)
            primary = infos[0].o;
        break;
    case TD_EEV_DATA_PRESERVED: primary = the_one(w, OBJ_NOTIFICATION, n_kind); break;
    case TD_EEV_OUTCOME: primary = the_one(w, OBJ_DELIVERY, n_kind); break;
    default: break;
    }
    if (pd)
        primary = pd->o;
    char order[37] = "";
    if (w->st == TD_OK && w->ep == TD_EEV_OUTCOME)
        memcpy(order, primary->target, 37);
    else if (w->st == TD_OK)
        event_order(w, auth, primary, infos, n_docs, order);
    if (w->st != TD_OK) {
        json_decref(ev);
        json_decref(docs);
        return NULL;
    }
    put_str(w, ev, "order", order);

    const char *status = auth ? desired_status(w, auth) : NULL;
    switch (w->ep) {
    case TD_EEV_SUBSEQUENT_PRODUCTION:
        set_where(w, pd->o);
        if (!pd->reference)
            fail(w, TD_ERR_INVALID,
                 "doc:DocumentReference (the production order's reference) "
                 "is missing");
        put_str(w, ev, "reference", pd->reference);
        break;
    case TD_EEV_END_PRESERVATION:
        if (is_cancelled(status))
            fail(w, TD_ERR_INVALID, "desired status %s is a withdrawal: endpoint withdraw", status);
        break;
    case TD_EEV_NEW_DEADLINE: {
        set_where(w, auth);
        const char *t =
            child_text(w, auth->node, TD__EEV_NS_EEV, "NewDeadline", "eev:NewDeadline", 1);
        int64_t ms = time_of(w, t, "eev:NewDeadline");
        if (is_cancelled(status))
            fail(w, TD_ERR_INVALID, "desired status %s is a withdrawal: endpoint withdraw", status);
        put_time(w, ev, "deadline", ms);
        break;
    }
    case TD_EEV_WITHDRAW:
        set_where(w, auth);
        if (!is_cancelled(status))
            fail(w, TD_ERR_INVALID,
                 "auth:AuthorisationDesiredStatus is '%.64s'; a withdrawal is Cancelled",
                 status ? status : "(missing)");
        break;
    case TD_EEV_GROUNDS_FOR_REFUSAL: read_grounds(w, pd, ev); break;
    case TD_EEV_CORRESPONDENCE: read_correspondence(w, pd, ev); break;
    case TD_EEV_DATA_PRESERVED: {
        notification_type(w, primary, "DataPreserved");
        eev_children(w, primary, NULL);
        put_str(w, ev, "details",
                child_text(w, primary->node, TD__EEV_NS_NOTIFICATION, "NotificationDetails",
                           "notification:NotificationDetails", 0));
        const char *t =
            child_text(w, primary->node, TD__EEV_NS_NOTIFICATION, "NotificationTimestamp",
                       "notification:NotificationTimestamp", 0);
        put_time(w, ev, "preserved_at", time_of(w, t, "notification:NotificationTimestamp"));
        json_t *tasks = task_updates(w, 0, order);
        if (w->st == TD_OK && json_array_size(tasks) == 0)
            fail(w, TD_ERR_INVALID, "no task:LDTaskObject UPDATE with its task:Status");
        put(w, ev, "tasks", tasks);
        break;
    }
    case TD_EEV_NON_EXECUTION: {
        notification_type(w, primary, "NonExecution");
        read_form3(w, primary, ev);
        json_t *tasks = task_updates(w, 1, order);
        if (json_array_size(tasks))
            put(w, ev, "tasks", tasks);
        else
            json_decref(tasks);
        if (auth) {
            set_where(w, auth);
            const char *s = dict_value(w, auth->node, TD__EEV_NS_AUTH, "AuthorisationStatus",
                                       "auth:AuthorisationStatus", 0);
            if (s && strcmp(s, "Invalid") != 0)
                fail(w, TD_ERR_INVALID,
                     "auth:AuthorisationStatus '%.64s' in a non-execution (Invalid expected)", s);
        }
        break;
    }
    case TD_EEV_OUTCOME: {
        read_package(w, primary, ev);
        char ids[TD_EEV_MAX_OBJECTS][37];
        set_where(w, primary);
        size_t n = assoc_list(w, primary, ids, TD_EEV_MAX_OBJECTS);
        json_t *tasks = json_array();
        for (size_t i = 0; i < n && w->st == TD_OK; i++) {
            for (size_t k = 0; k < i; k++)
                if (strcmp(ids[k], ids[i]) == 0) {
                    fail(w, TD_ERR_INVALID, "AssociatedObjects names %s twice", ids[i]);
                    break;
                }
            if (strcmp(ids[i], order) != 0)
                append(w, tasks, json_string(ids[i]));
        }
        if (w->st == TD_OK && json_array_size(tasks) > TD_EEV_MAX_OBJECTS - 1)
            fail(w, TD_ERR_LIMIT, "more than %d delivered tasks", TD_EEV_MAX_OBJECTS - 1);
        put(w, ev, "tasks", tasks);
        break;
    }
    default: break;
    }
    w->where[0] = '\0';
    if (n_docs)
        put(w, ev, "documents", docs);
    else
        json_decref(docs);
    if (w->st != TD_OK) {
        json_decref(ev);
        return NULL;
    }
    return ev;
}

/* ---- the entry point ---- */

td_status td_eevidence_parse(td_eevidence_endpoint ep, const char *xml, size_t len, char **json_out,
                             td_eevidence_header *hdr_out, td_error *err)
{
    td_error_clear(err);
    if (json_out)
        *json_out = NULL;
    if (hdr_out)
        memset(hdr_out, 0, sizeof *hdr_out);
    if (!json_out || (!xml && len) || (unsigned)ep >= TD_EEV_ENDPOINT_COUNT)
        return td__error_set(err, TD_ERR_INVALID, "bad arguments to td_eevidence_parse");
    if (len == 0)
        return td__error_set(err, TD_ERR_INVALID, "empty message");
    if (len > TD_EEV_MAX_XML)
        return td__error_set(err, TD_ERR_LIMIT, "message of %zu bytes, over the limit of %u", len,
                             TD_EEV_MAX_XML);
    /* UTF-8 only: checked here so that libxml2 never guesses another encoding from the first
     * bytes (UTF-16, EBCDIC) nor believes the declaration. */
    for (size_t i = 0, step; i < len; i += step) {
        uint32_t cp;
        step = td__utf8_next((const unsigned char *)xml + i, len - i, &cp);
        if (step == 0)
            return td__error_set(err, TD_ERR_INVALID, "not UTF-8 (byte %zu)", i);
        if (cp == 0)
            return td__error_set(err, TD_ERR_INVALID, "a NUL byte at %zu", i);
    }
    td_status st = td__eev_init(err);
    if (st != TD_OK)
        return st;
    td__eev_quiet quiet;
    td__eev_quiet_begin(&quiet);
    xmlDocPtr doc = parse_tree(xml, len, &st, err);
    walk *w = NULL;
    json_t *out = NULL;
    td_eevidence_header hdr;
    memset(&hdr, 0, sizeof hdr);
    if (doc) {
        w = td__calloc(1, sizeof *w);
        if (!w)
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if (w) {
        w->ep = ep;
        w->err = err;
        xmlNode *root = xmlDocGetRootElement(doc);
        if (!root || !is_el(root, TD__EEV_NS_CORE, "HI1Message")) {
            const char *ns = root && root->ns && root->ns->href ? (const char *)root->ns->href : "";
            fail(w, TD_ERR_INVALID,
                 "the root element is <%.64s> in namespace '%.96s'; HI1Message in %s expected",
                 root ? (const char *)root->name : "", ns, TD__EEV_NS_CORE);
        } else {
            read_header(w, root, &hdr);
            xmlNode *payload = one_el(w, root, TD__EEV_NS_CORE, "Payload", "Payload", 1);
            xmlNode *req = payload ? first_el(payload, TD__EEV_NS_CORE, "RequestPayload") : NULL;
            if (payload && !req && w->st == TD_OK)
                fail(w, TD_ERR_INVALID,
                     first_el(payload, TD__EEV_NS_CORE, "ResponsePayload")
                         ? "Payload holds a ResponsePayload; a RequestPayload "
                           "is expected"
                         : "Payload/RequestPayload is missing");
            xmlNode *ars = req ? one_el(w, req, TD__EEV_NS_CORE, "ActionRequests",
                                        "RequestPayload/ActionRequests", 1)
                               : NULL;
            for (xmlNode *c = ars ? ars->children : NULL; c && w->st == TD_OK; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                    continue;
                if (!is_el(c, TD__EEV_NS_CORE, "ActionRequest")) {
                    fail(w, TD_ERR_INVALID, "ActionRequests: unexpected element <%.64s>",
                         (const char *)c->name);
                } else if (w->n_obj == TD_EEV_MAX_OBJECTS) {
                    fail(w, TD_ERR_LIMIT, "more than %d ActionRequests (objects) in one message",
                         TD_EEV_MAX_OBJECTS);
                } else {
                    read_action(w, c);
                }
            }
            w->where[0] = '\0';
            if (ars && w->st == TD_OK && w->n_obj == 0)
                fail(w, TD_ERR_INVALID, "ActionRequests holds no ActionRequest");
            if (w->st == TD_OK)
                out = ep == TD_EEV_PRODUCTION || ep == TD_EEV_PRESERVATION ? intake(w) : event(w);
        }
        st = w->st;
        if (st == TD_OK && !out)
            st = td__error_set(err, TD_ERR_INTERNAL, "no document and no error");
    }
    char *text = NULL;
    if (st == TD_OK) {
        size_t n = json_dumpb(out, NULL, 0, JSON_COMPACT);
        text = n ? td__malloc(n + 1) : NULL;
        if (!text || json_dumpb(out, text, n, JSON_COMPACT) != n) {
            td__free(text);
            text = NULL;
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory writing the JSON");
        } else {
            text[n] = '\0';
        }
    }
    json_decref(out);
    if (w)
        walk_free(w);
    td__free(w);
    xmlFreeDoc(doc);
    td__eev_quiet_end(&quiet);
    if (st != TD_OK)
        return st;
    *json_out = text;
    if (hdr_out)
        *hdr_out = hdr;
    return TD_OK;
}
