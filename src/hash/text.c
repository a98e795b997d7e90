/* raw_text candidate index: the pigeonhole piece table and length classes (see text.h for why
 * it is exact), the q-gram count filter and the exact rule on the survivors. The rule,
 * normalisation and distance live in text_distance.c and text_normalize.c.
 *
 * Queries only read the index: every scratch buffer belongs to the call, so queries may run
 * concurrently with each other (not with add or remove). */
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "hash/text_int.h"

#define MAX_PIECE 16
#define HASH_BASE UINT64_C(0x100000001b3)
/* Documents are bucketed by length class (the top four significant bits of the length: classes
 * differ by at most 1/8), so that a query only looks at documents whose length the rule allows. */
#define N_CLASSES 256
#define N_PIECE_LENGTHS 5 /* 1, 2, 4, 8, 16 */
#define QGRAM_MIN_K 4     /* below, verifying directly is cheaper than counting q-grams */
#define PROBE_AHEAD 8     /* windows between a prefetch of the piece table and its lookup */

struct doc {
    uint64_t id;
    void *text; /* code points of `width` bytes each; NULL for a free slot */
    uint32_t len;
    uint32_t class_pos; /* index in its length class's list */
    uint32_t next;      /* next document under the same id (or next free slot), + 1; 0 ends */
    uint8_t width;
};

struct entry {
    uint32_t doc;
    uint32_t pos;
    uint32_t next; /* entry index + 1, 0 ends the chain (or the free list) */
};

struct length_class {
    uint32_t *docs;
    size_t n, cap;
    uint64_t code_points;                  /* sum of the lengths, for the query's cost estimate */
    uint32_t with_pieces[N_PIECE_LENGTHS]; /* documents indexing pieces of 1 << i code points */
    unsigned piece_lengths; /* bit l: some document indexes pieces of l code points */
};

struct td_text_index {
    struct doc *docs; /* slots; removed documents leave free slots, reused first */
    size_t n_slots, cap_docs, n_docs;
    uint32_t free_doc; /* first free slot + 1 */
    struct entry *entries;
    size_t n_entries, cap_entries, n_free_entries;
    uint32_t free_entry;
    /* the piece table: open addressing, linear probing, key 0 = empty */
    uint64_t *keys;
    uint32_t *heads;
    size_t slots, used;
    /* id -> its documents: open addressing, head 0 = empty */
    uint64_t *id_keys;
    uint32_t *id_heads;
    size_t id_slots, id_used;
    struct length_class classes[N_CLASSES];
};

static unsigned length_class(size_t n)
{
    if (n < 16)
        return (unsigned)n;
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)n);
    return 16 + (lg - 4) * 8 + (unsigned)((n >> (lg - 3)) & 7);
}

static unsigned piece_index(size_t l) { return (unsigned)__builtin_ctzll((unsigned long long)l); }

td_status td_text_index_new(td_text_index **out, td_error *err)
{
    *out = td__calloc(1, sizeof **out);
    if (!*out)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    return TD_OK;
}

void td_text_index_free(td_text_index *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_slots; i++)
        td__free(x->docs[i].text);
    for (size_t c = 0; c < N_CLASSES; c++)
        td__free(x->classes[c].docs);
    td__free(x->docs);
    td__free(x->entries);
    td__free(x->keys);
    td__free(x->heads);
    td__free(x->id_keys);
    td__free(x->id_heads);
    td__free(x);
}

size_t td_text_index_size(const td_text_index *x) { return x->n_docs; }

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 31;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 29;
    return h;
}

static uint64_t window_key(uint64_t h, size_t l, unsigned cls)
{
    return mix64(h ^ ((uint64_t)l << 8 | cls) * UINT64_C(0x9e3779b97f4a7c15)) | 1;
}

static uint64_t hash_window(const uint32_t *s, size_t l)
{
    uint64_t h = 0;
    for (size_t i = 0; i < l; i++)
        h = h * HASH_BASE + s[i] + 1;
    return h;
}

/* hash_window of a stored text's code points [from, from + l). */
static uint64_t hash_stored(const struct doc *d, size_t from, size_t l)
{
    uint64_t h = 0;
    for (size_t i = from; i < from + l; i++) {
        uint32_t c = d->width == 1   ? ((const uint8_t *)d->text)[i]
                     : d->width == 2 ? ((const uint16_t *)d->text)[i]
                                     : ((const uint32_t *)d->text)[i];
        h = h * HASH_BASE + c + 1;
    }
    return h;
}

/* The piece layout of a text of n code points: k + 1 pieces of `step`, indexed by their first
 * `l` code points (a power of two, at most MAX_PIECE). */
static void layout(size_t n, size_t *k, size_t *step, size_t *l)
{
    *k = (size_t)td__text_max_distance(n);
    *step = n / (*k + 1);
    size_t p = 1;
    while (p * 2 <= *step && p * 2 <= MAX_PIECE)
        p *= 2;
    *l = *step ? p : 0;
}

/* ---- the piece table ---- */

static size_t home_slot(const td_text_index *x, uint64_t key)
{
    return (size_t)(key >> 7) & (x->slots - 1);
}

static td_status grow_table(td_text_index *x, td_error *err)
{
    size_t slots = x->slots ? x->slots * 2 : 1024;
    uint64_t *keys = td__calloc(slots, sizeof *keys);
    uint32_t *heads = td__calloc(slots, sizeof *heads);
    if (!keys || !heads) {
        td__free(keys);
        td__free(heads);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for the text index");
    }
    for (size_t i = 0; i < x->slots; i++) {
        if (!x->keys[i])
            continue;
        size_t j = (size_t)(x->keys[i] >> 7) & (slots - 1);
        while (keys[j])
            j = (j + 1) & (slots - 1);
        keys[j] = x->keys[i];
        heads[j] = x->heads[i];
    }
    td__free(x->keys);
    td__free(x->heads);
    x->keys = keys;
    x->heads = heads;
    x->slots = slots;
    return TD_OK;
}

static size_t find_slot(const td_text_index *x, uint64_t key)
{
    size_t j = home_slot(x, key);
    while (x->keys[j] && x->keys[j] != key)
        j = (j + 1) & (x->slots - 1);
    return j;
}

/* Empties slot j of the piece table, moving later keys of the probe sequence back into the hole
 * (linear probing without tombstones). */
static void delete_slot(td_text_index *x, size_t j)
{
    size_t mask = x->slots - 1;
    x->used--;
    for (;;) {
        x->keys[j] = 0;
        x->heads[j] = 0;
        size_t k = j;
        for (;;) {
            k = (k + 1) & mask;
            if (!x->keys[k])
                return;
            size_t home = home_slot(x, x->keys[k]);
            if (((k - home) & mask) >= ((k - j) & mask))
                break; /* the key at k may move back to j */
        }
        x->keys[j] = x->keys[k];
        x->heads[j] = x->heads[k];
        j = k;
    }
}

/* Room for `more` entries and keys, before anything is inserted (so that a document is either
 * fully indexed or not at all). */
static td_status reserve_pieces(td_text_index *x, size_t more, td_error *err)
{
    while ((x->used + more) * 4 > x->slots * 3) {
        td_status s = grow_table(x, err);
        if (s != TD_OK)
            return s;
    }
    size_t fresh = more > x->n_free_entries ? more - x->n_free_entries : 0;
    if (x->n_entries + fresh > x->cap_entries) {
        size_t cap = x->cap_entries ? x->cap_entries : 4096;
        while (cap < x->n_entries + fresh)
            cap *= 2;
        if (cap > UINT32_MAX - 1)
            return td__error_set(err, TD_ERR_LIMIT, "text index full");
        struct entry *grown = td__realloc(x->entries, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for the text index");
        x->entries = grown;
        x->cap_entries = cap;
    }
    return TD_OK;
}

static void insert_piece(td_text_index *x, uint64_t key, uint32_t doc, uint32_t pos)
{
    size_t j = find_slot(x, key);
    if (!x->keys[j]) {
        x->keys[j] = key;
        x->used++;
    }
    uint32_t ei;
    if (x->free_entry) {
        ei = x->free_entry - 1;
        x->free_entry = x->entries[ei].next;
        x->n_free_entries--;
    } else {
        ei = (uint32_t)x->n_entries++;
    }
    struct entry *e = &x->entries[ei];
    e->doc = doc;
    e->pos = pos;
    e->next = x->heads[j];
    x->heads[j] = ei + 1;
}

/* Unlinks every entry of doc from the chain of key (to the free list). */
static void remove_pieces(td_text_index *x, uint64_t key, uint32_t doc)
{
    size_t j = find_slot(x, key);
    if (!x->keys[j])
        return; /* already done: two pieces of doc had the same key */
    uint32_t *link = &x->heads[j];
    while (*link) {
        uint32_t ei = *link - 1;
        struct entry *e = &x->entries[ei];
        if (e->doc != doc) {
            link = &e->next;
            continue;
        }
        *link = e->next;
        e->next = x->free_entry;
        x->free_entry = ei + 1;
        x->n_free_entries++;
    }
    if (!x->heads[j])
        delete_slot(x, j);
}

/* ---- id -> documents ---- */

static size_t id_home(const td_text_index *x, uint64_t id)
{
    return (size_t)(mix64(id * UINT64_C(0x9e3779b97f4a7c15)) & (x->id_slots - 1));
}

/* The slot of id, or the empty slot where it would go. id_slots must be non-zero. */
static size_t id_find(const td_text_index *x, uint64_t id)
{
    size_t j = id_home(x, id);
    while (x->id_heads[j] && x->id_keys[j] != id)
        j = (j + 1) & (x->id_slots - 1);
    return j;
}

static td_status id_reserve(td_text_index *x, td_error *err)
{
    if ((x->id_used + 1) * 4 <= x->id_slots * 3)
        return TD_OK;
    size_t slots = x->id_slots ? x->id_slots * 2 : 256;
    uint64_t *keys = td__mallocarray(slots, sizeof *keys);
    uint32_t *heads = td__calloc(slots, sizeof *heads);
    if (!keys || !heads) {
        td__free(keys);
        td__free(heads);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for the text index");
    }
    uint64_t *old_keys = x->id_keys;
    uint32_t *old_heads = x->id_heads;
    size_t old_slots = x->id_slots;
    x->id_keys = keys;
    x->id_heads = heads;
    x->id_slots = slots;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old_heads[i])
            continue;
        size_t j = id_find(x, old_keys[i]);
        keys[j] = old_keys[i];
        heads[j] = old_heads[i];
    }
    td__free(old_keys);
    td__free(old_heads);
    return TD_OK;
}

static void id_delete(td_text_index *x, size_t j)
{
    size_t mask = x->id_slots - 1;
    x->id_used--;
    for (;;) {
        x->id_heads[j] = 0;
        size_t k = j;
        for (;;) {
            k = (k + 1) & mask;
            if (!x->id_heads[k])
                return;
            size_t home = id_home(x, x->id_keys[k]);
            if (((k - home) & mask) >= ((k - j) & mask))
                break;
        }
        x->id_keys[j] = x->id_keys[k];
        x->id_heads[j] = x->id_heads[k];
        j = k;
    }
}

/* ---- adding and removing ---- */

/* Code points stored in 1, 2 or 4 bytes each, whichever holds the largest. */
static void *pack_text(const uint32_t *cp, size_t n, unsigned width)
{
    void *text = td__mallocarray(n ? n : 1, width);
    if (!text)
        return NULL;
    if (width == 1) {
        uint8_t *t = text;
        for (size_t i = 0; i < n; i++)
            t[i] = (uint8_t)cp[i];
    } else if (width == 2) {
        uint16_t *t = text;
        for (size_t i = 0; i < n; i++)
            t[i] = (uint16_t)cp[i];
    } else {
        memcpy(text, cp, n * sizeof *cp);
    }
    return text;
}

static unsigned width_of(const uint32_t *cp, size_t n)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++)
        top |= cp[i];
    return top < 0x100 ? 1 : top < 0x10000 ? 2 : 4;
}

static int grow_u32(uint32_t **v, size_t *cap, size_t n)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    uint32_t *grown = td__realloc(*v, c * sizeof *grown);
    if (!grown)
        return -1;
    *v = grown;
    *cap = c;
    return 0;
}

td_status td_text_index_add(td_text_index *x, uint64_t id, const char *utf8, size_t len,
                            td_error *err)
{
    if (!x->free_doc && x->n_slots >= UINT32_MAX - 1)
        return td__error_set(err, TD_ERR_LIMIT, "text index full");
    uint32_t *cp;
    size_t n;
    td_status s = td__text_normalize_u32(utf8, len, &cp, &n, err);
    if (s != TD_OK)
        return s;
    if (n > UINT32_MAX) {
        td__free(cp);
        return td__error_set(err, TD_ERR_LIMIT, "text of %zu code points, too long", n);
    }
    size_t k, step, l;
    layout(n, &k, &step, &l);
    unsigned cls = length_class(n);
    struct length_class *c = &x->classes[cls];
    /* every allocation first, so that a failure leaves the index as it was */
    if (!x->free_doc && x->n_slots == x->cap_docs) {
        size_t cap = x->cap_docs ? x->cap_docs * 2 : 256;
        struct doc *grown = td__realloc(x->docs, cap * sizeof *grown);
        if (!grown)
            s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        else
            x->docs = grown, x->cap_docs = cap;
    }
    if (s == TD_OK && grow_u32(&c->docs, &c->cap, c->n))
        s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (s == TD_OK)
        s = id_reserve(x, err);
    if (s == TD_OK && l)
        s = reserve_pieces(x, k + 1, err);
    unsigned width = width_of(cp, n);
    void *text = s == TD_OK ? pack_text(cp, n, width) : NULL;
    if (s == TD_OK && !text)
        s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (s != TD_OK) {
        td__free(cp);
        return s;
    }
    uint32_t di;
    if (x->free_doc) {
        di = x->free_doc - 1;
        x->free_doc = x->docs[di].next;
    } else {
        di = (uint32_t)x->n_slots++;
    }
    for (size_t p = 0; l && p <= k; p++)
        insert_piece(x, window_key(hash_window(cp + p * step, l), l, cls), di,
                     (uint32_t)(p * step));
    td__free(cp);
    if (l) {
        c->with_pieces[piece_index(l)]++;
        c->piece_lengths |= 1u << l;
    }
    c->code_points += n;
    size_t j = id_find(x, id);
    if (!x->id_heads[j]) {
        x->id_keys[j] = id;
        x->id_used++;
    }
    x->docs[di] = (struct doc){.id = id,
                               .text = text,
                               .len = (uint32_t)n,
                               .class_pos = (uint32_t)c->n,
                               .next = x->id_heads[j],
                               .width = (uint8_t)width};
    x->id_heads[j] = di + 1;
    c->docs[c->n++] = di;
    x->n_docs++;
    return TD_OK;
}

static void drop_doc(td_text_index *x, uint32_t di)
{
    struct doc *d = &x->docs[di];
    size_t k, step, l;
    layout(d->len, &k, &step, &l);
    unsigned cls = length_class(d->len);
    for (size_t p = 0; l && p <= k; p++)
        remove_pieces(x, window_key(hash_stored(d, p * step, l), l, cls), di);
    struct length_class *c = &x->classes[cls];
    uint32_t last = c->docs[--c->n];
    c->docs[d->class_pos] = last;
    x->docs[last].class_pos = d->class_pos;
    c->code_points -= d->len;
    if (l && --c->with_pieces[piece_index(l)] == 0)
        c->piece_lengths &= ~(1u << l);
    td__free(d->text);
    d->text = NULL;
    d->next = x->free_doc;
    x->free_doc = di + 1;
    x->n_docs--;
}

size_t td_text_index_remove(td_text_index *x, uint64_t id)
{
    if (!x->id_slots)
        return 0;
    size_t j = id_find(x, id), removed = 0;
    if (!x->id_heads[j])
        return 0;
    for (uint32_t di = x->id_heads[j]; di; removed++) {
        uint32_t next = x->docs[di - 1].next;
        drop_doc(x, di - 1);
        di = next;
    }
    id_delete(x, j);
    return removed;
}

/* ---- queries ---- */

struct found {
    td_text_match *v;
    size_t n, cap;
};

static td_status add_found(struct found *f, uint64_t id, size_t distance, td_error *err)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        td_text_match *grown = td__realloc(f->v, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        f->v = grown;
        f->cap = cap;
    }
    f->v[f->n].id = id;
    f->v[f->n].distance = distance;
    f->n++;
    return TD_OK;
}

/* Can a document of n code points match a query of m under the rule's length test alone? */
static int length_ok(size_t n, size_t m)
{
    size_t diff = n > m ? n - m : m - n;
    return (double)diff <= td__text_max_distance(n);
}

static uint64_t now_ns(void) { return (uint64_t)td__monotonic_ns(); }

/* The query's text in each width the verification needs (a document and the query are
 * compared in the wider of their two widths), and the widened document. All owned by the
 * query's call. */
struct query_text {
    const uint32_t *cp; /* normalised, 4 bytes per code point */
    size_t m;
    unsigned width; /* the narrowest that holds the query */
    void *in[2];    /* the query in 1 and 2 bytes (in[width / 2]), when needed */
    void *doc;      /* a document widened */
    size_t doc_cap; /* bytes */
};

static void *widen(const td__text_view *v, unsigned width, void *out)
{
    for (size_t i = 0; i < v->n; i++) {
        uint32_t c = v->width == 1   ? ((const uint8_t *)v->s)[i]
                     : v->width == 2 ? ((const uint16_t *)v->s)[i]
                                     : ((const uint32_t *)v->s)[i];
        if (width == 2)
            ((uint16_t *)out)[i] = (uint16_t)c;
        else
            ((uint32_t *)out)[i] = c;
    }
    return out;
}

/* The query in `width` bytes per code point (at least its own width). */
static td_status query_view(struct query_text *q, unsigned width, td__text_view *out, td_error *err)
{
    out->n = q->m;
    out->width = width;
    if (width == 4) {
        out->s = q->cp;
        return TD_OK;
    }
    unsigned i = width / 2;
    if (!q->in[i]) {
        q->in[i] = pack_text(q->cp, q->m, width);
        if (!q->in[i])
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    out->s = q->in[i];
    return TD_OK;
}

/* A document and the query in a common width. */
static td_status pair_views(struct query_text *q, const struct doc *d, td__text_view *a,
                            td__text_view *b, td_error *err)
{
    unsigned width = d->width > q->width ? d->width : q->width;
    *a = (td__text_view){d->text, d->len, d->width};
    if (d->width < width) {
        size_t bytes = (size_t)d->len * width;
        if (bytes > q->doc_cap) {
            void *grown = td__mallocarray(bytes, 1);
            if (!grown)
                return td__error_set(err, TD_ERR_NOMEM, "out of memory");
            td__free(q->doc);
            q->doc = grown;
            q->doc_cap = bytes;
        }
        a->s = widen(a, width, q->doc);
        a->width = width;
    }
    return query_view(q, width, b, err);
}

static void query_text_free(struct query_text *q)
{
    td__free(q->in[0]);
    td__free(q->in[1]);
    td__free(q->doc);
}

struct candidates {
    uint32_t *v;
    size_t n, cap;
};

/* Stage 1 by the piece table: every window of b against the pieces of the documents in classes
 * lo..hi; keeps each document with a piece within its threshold of its own position. */
static td_status probe_pieces(const td_text_index *x, const uint32_t *b, size_t m, unsigned lo,
                              unsigned hi, uint8_t *seen, struct candidates *cand, td_error *err)
{
    for (size_t l = 1; l <= MAX_PIECE; l *= 2) {
        unsigned first = N_CLASSES, last = 0;
        for (unsigned c = lo; c <= hi; c++)
            if (x->classes[c].piece_lengths & (1u << l)) {
                if (first == N_CLASSES)
                    first = c;
                last = c;
            }
        if (first == N_CLASSES || l > m)
            continue;
        uint64_t pw = 1;
        for (size_t i = 0; i < l; i++)
            pw *= HASH_BASE;
        /* the table is large: the slots of the window PROBE_AHEAD positions on are fetched
         * while this one is looked up */
        uint64_t h = hash_window(b, l), ha = h;
        for (size_t p = 0; p + l <= m; p++) {
            if (p > 0)
                h = h * HASH_BASE + b[p + l - 1] + 1 - pw * (b[p - 1] + 1);
            size_t pa = p + PROBE_AHEAD;
            if (pa + l <= m) {
                ha = pa == PROBE_AHEAD ? hash_window(b + pa, l)
                                       : ha * HASH_BASE + b[pa + l - 1] + 1 - pw * (b[pa - 1] + 1);
                for (unsigned c = first; c <= last; c++)
                    if (x->classes[c].piece_lengths & (1u << l)) {
                        size_t j = home_slot(x, window_key(ha, l, c));
                        __builtin_prefetch(&x->keys[j]);
                        __builtin_prefetch(&x->heads[j]);
                    }
            }
            for (unsigned c = first; c <= last; c++) {
                if (!(x->classes[c].piece_lengths & (1u << l)))
                    continue;
                size_t slot = find_slot(x, window_key(h, l, c));
                if (!x->keys[slot])
                    continue;
                for (uint32_t e = x->heads[slot]; e; e = x->entries[e - 1].next) {
                    const struct entry *en = &x->entries[e - 1];
                    if (seen[en->doc >> 3] & (1u << (en->doc & 7)))
                        continue;
                    size_t n = x->docs[en->doc].len;
                    size_t shift = p > en->pos ? p - en->pos : en->pos - p;
                    if (!length_ok(n, m) || (double)shift > td__text_max_distance(n))
                        continue;
                    seen[en->doc >> 3] |= (uint8_t)(1u << (en->doc & 7));
                    if (grow_u32(&cand->v, &cand->cap, cand->n))
                        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
                    cand->v[cand->n++] = en->doc;
                }
            }
        }
    }
    return TD_OK;
}

/* Stage 1: the documents that may match a query of m code points (m > 0). */
static td_status first_stage(const td_text_index *x, const uint32_t *b, size_t m,
                             struct candidates *cand, td_error *err)
{
    /* Length classes the rule allows: n in [m / 1.05, m / 0.95] (with margin). */
    unsigned lo = length_class((size_t)((double)m / 1.06)),
             hi = length_class((size_t)((double)m / 0.94) + 2);
    if (hi >= N_CLASSES)
        hi = N_CLASSES - 1;
    /* Whichever is cheaper: every compatible document directly (long queries, where few
     * documents have a compatible length), or every window of the query against the piece table
     * (random probes into a large table, one per window and length class). */
    uint64_t direct = 0, probes = 0;
    for (unsigned c = lo; c <= hi; c++) {
        direct += x->classes[c].code_points;
        probes += (uint64_t)__builtin_popcount(x->classes[c].piece_lengths) * m;
    }
    if (direct <= 32 * probes) {
        for (unsigned c = lo; c <= hi; c++)
            for (size_t i = 0; i < x->classes[c].n; i++) {
                uint32_t di = x->classes[c].docs[i];
                if (!length_ok(x->docs[di].len, m))
                    continue;
                if (grow_u32(&cand->v, &cand->cap, cand->n))
                    return td__error_set(err, TD_ERR_NOMEM, "out of memory");
                cand->v[cand->n++] = di;
            }
        return TD_OK;
    }
    uint8_t *seen = td__calloc(x->n_slots / 8 + 1, 1);
    if (!seen)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status s = probe_pieces(x, b, m, lo, hi, seen, cand, err);
    td__free(seen);
    return s;
}

td_status td_text_index_query(const td_text_index *x, const char *utf8, size_t len,
                              td_text_match **matches, size_t *count, td_text_query_stats *stats,
                              td_error *err)
{
    uint32_t *b;
    size_t m;
    *matches = NULL;
    *count = 0;
    td_text_query_stats st = {0};
    if (stats)
        memset(stats, 0, sizeof *stats);
    uint64_t t0 = now_ns();
    td_status s = td__text_normalize_u32(utf8, len, &b, &m, err);
    if (s != TD_OK)
        return s;
    uint64_t t1 = now_ns();
    struct candidates cand = {0};
    struct found f = {0};
    td__text_grams *g = NULL;
    td__text_sketch *sk = NULL;
    td__text_scratch sc = {0};
    struct query_text q = {.cp = b, .m = m, .width = width_of(b, m)};

    /* Only the empty text matches the empty query (its threshold is 0). */
    if (m == 0) {
        for (size_t i = 0; i < x->classes[0].n && s == TD_OK; i++)
            s = add_found(&f, x->docs[x->classes[0].docs[i]].id, 0, err);
        goto finish;
    }
    s = first_stage(x, b, m, &cand, err);
    if (s != TD_OK)
        goto finish;
    st.candidates = cand.n;
    /* Stage 2: the q-gram count filter; stage 3: the exact rule. */
    uint64_t t2 = now_ns();
    uint64_t verify_ns = 0;
    for (size_t i = 0; i < cand.n && s == TD_OK; i++) {
        const struct doc *d = &x->docs[cand.v[i]];
        size_t k = (size_t)td__text_max_distance(d->len);
        if (k >= QGRAM_MIN_K) {
            /* The sketch: cheap, and it rejects unrelated texts. The survivors are nearly always
             * near-duplicates; the verification's own lower bound (from the exact q-gram table)
             * rejects the rest as quickly as another filter would. */
            td__text_view av = {d->text, d->len, d->width}, bv;
            if ((s = query_view(&q, q.width, &bv, err)) != TD_OK ||
                (!sk && (s = td__text_sketch_new(&sk, bv, err)) != TD_OK))
                break;
            if (!td__text_sketch_pass(sk, av, k))
                continue;
            if (!g && (s = td__text_grams_new(&g, bv, err)) != TD_OK)
                break;
        }
        st.verified++;
        uint64_t v0 = now_ns();
        td__text_view av, bv;
        int match;
        size_t distance;
        s = pair_views(&q, d, &av, &bv, err);
        if (s == TD_OK)
            s = td__text_rule(av, bv, g, &sc, &match, &distance, err);
        if (s == TD_OK && match)
            s = add_found(&f, d->id, distance, err);
        verify_ns += now_ns() - v0;
    }
    uint64_t t3 = now_ns();
    st.normalize_ns = t1 - t0;
    st.candidate_ns = (t2 - t1) + (t3 - t2 - verify_ns);
    st.verify_ns = verify_ns;
finish:
    if (stats && s == TD_OK)
        *stats = st;
    td__text_grams_free(g);
    td__text_sketch_free(sk);
    td__text_scratch_free(&sc);
    query_text_free(&q);
    td__free(cand.v);
    td__free(b);
    if (s != TD_OK) {
        td__free(f.v);
        return s;
    }
    *matches = f.v;
    *count = f.n;
    return TD_OK;
}

td_status td_text_index_query_brute(const td_text_index *x, const char *utf8, size_t len,
                                    td_text_match **matches, size_t *count, td_error *err)
{
    uint32_t *b;
    size_t m;
    *matches = NULL;
    *count = 0;
    td_status s = td__text_normalize_u32(utf8, len, &b, &m, err);
    if (s != TD_OK)
        return s;
    struct found f = {0};
    td__text_scratch sc = {0};
    struct query_text q = {.cp = b, .m = m, .width = width_of(b, m)};
    for (size_t i = 0; i < x->n_slots && s == TD_OK; i++) {
        const struct doc *d = &x->docs[i];
        if (!d->text)
            continue;
        td__text_view av, bv;
        int match;
        size_t distance;
        s = pair_views(&q, d, &av, &bv, err);
        if (s == TD_OK)
            s = td__text_rule(av, bv, NULL, &sc, &match, &distance, err);
        if (s == TD_OK && match)
            s = add_found(&f, d->id, distance, err);
    }
    td__text_scratch_free(&sc);
    query_text_free(&q);
    td__free(b);
    if (s != TD_OK) {
        td__free(f.v);
        return s;
    }
    *matches = f.v;
    *count = f.n;
    return TD_OK;
}
