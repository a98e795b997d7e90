/* HMA's hashing and matching routes (/h/..., /m/...), in HMA 1.1.7's shapes (docs/hma.md,
 * "Hashing and matching"). What HMA does, and where takedown differs:
 * - signal types carry python-threatexchange's names: pdq (content type photo), video_md5 and
 *   video_sha256 (content type video), and for lookups raw_text and url;
 * - raw_lookup answers every signal the value matches, disabled or not, as HMA's index does;
 *   lookup drops disabled signals, then keeps the banks whose matching_enabled_ratio reaches
 *   one coin flip per lookup, drawn as Python's random.Random(seed).random() (HMA's seed
 *   semantics: the same seed gives the same flip, no seed a fresh one);
 * - parameters are parsed as HMA's pydantic models parse them (booleans: true/1/yes/on/t/y and
 *   false/0/no/off/f/n, any case), a missing required one is HMA's 422 list of errors; unlike
 *   HMA, a parameter or form field a route does not take is refused (400), never ignored. */
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/handlers_hma.h"
#include "server/multipart.h"
#include "server/serialize.h"
#include "server/server_int.h"
#include "takedown/media.h"
#include "takedown/video.h"

/* ---- signal and content types ---- */

typedef struct hma_type {
    const char *name;    /* python-threatexchange's */
    td_signal_type type; /* takedown's */
    const char *content; /* the content type whose media it hashes, or NULL (lookups only) */
} hma_type;

static const hma_type hma_types[] = {
    {"pdq", TD_SIGNAL_PDQ, "photo"},
    {"video_md5", TD_SIGNAL_MD5, "video"},
    {"video_sha256", TD_SIGNAL_SHA256, "video"},
    {"raw_text", TD_SIGNAL_TEXT, NULL},
    {"url", TD_SIGNAL_URL, NULL},
};
#define N_HMA_TYPES (sizeof hma_types / sizeof hma_types[0])

static const hma_type *hma_type_find(const char *name)
{
    for (size_t i = 0; name && i < N_HMA_TYPES; i++)
        if (strcmp(hma_types[i].name, name) == 0)
            return &hma_types[i];
    return NULL;
}

/* HMA's _validate_and_transform_signal_type: the type, or NULL after its 400. (HMA's
 * SignalTypeConfig.enabled is enabled_ratio >= 0, so a known type is always enabled.) */
static const hma_type *valid_type(td__req *r, const char *name)
{
    const hma_type *t = hma_type_find(name);
    if (!t)
        td__reply_error(r, 400, "invalid_signal_type", "No such SignalType '%s'", name);
    return t;
}

/* ---- query parameters (td__only_query: unknown, repeated or bare ones refused) ---- */

/* td__only_query for a GET route, which takes no body either: a body is refused, not ignored. */
static int only_query_no_body(td__req *r, const char *const *names)
{
    if (r->body_len) {
        td__reply_error(r, 400, "unexpected_body", "%s %s takes no body", r->method, r->path);
        return 0;
    }
    return td__only_query(r, names);
}

/* HMA's answer to a request its pydantic model refuses: 422 with the list of errors. */
static void reply_invalid(td__req *r, const char *type, const char *loc, const char *msg,
                          const char *input)
{
    json_t *e = json_pack("{s:s,s:[s],s:s}", "type", type, "loc", loc, "msg", msg);
    if (e && input)
        json_object_set_new(e, "input", json_string(input));
    json_t *a = json_array();
    if (!e || !a || json_array_append_new(a, e) != 0) {
        json_decref(a);
        td__reply_error(r, 500, "internal", "out of memory");
        return;
    }
    td__reply_json(r, 422, a);
}

/* A required parameter of a pydantic model; NULL after the 422. */
static const char *required(td__req *r, const char *name)
{
    const char *v = td__query(r, name);
    if (!v)
        reply_invalid(r, "missing", name, "Field required", NULL);
    return v;
}

/* A boolean as pydantic reads one from a string; 0 and a 422 when it is not one. */
static int pydantic_bool(td__req *r, const char *name, int *out)
{
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    const char *v = td__query(r, name);
    *out = 0;
    if (!v)
        return 1;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcasecmp(v, no[i]) == 0)
            return 1;
    }
    reply_invalid(r, "bool_parsing", name,
                  "Input should be a valid boolean, unable to interpret input", v);
    return 0;
}

/* ---- Python's random.Random(seed).random() ----
 * HMA flips its coin with random.Random(request.args.get("seed")).random(). For a str seed,
 * CPython (3.2 and later, seed version 2) takes the integer whose big-endian bytes are
 * seed.encode() + sha512(seed.encode()).digest(), splits it into 32-bit words from the least
 * significant, seeds MT19937 with init_by_array on them, and random() builds a double from two
 * outputs: (a >> 5) * 2^26 + (b >> 6), over 2^53. */

#define MT_N 624
#define MT_M 397

typedef struct mt19937 {
    uint32_t s[MT_N];
    int i;
} mt19937;

static void mt_init(mt19937 *m, uint32_t seed)
{
    m->s[0] = seed;
    for (int i = 1; i < MT_N; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->i = MT_N;
}

static void mt_init_by_array(mt19937 *m, const uint32_t *key, size_t n)
{
    mt_init(m, 19650218u);
    size_t i = 1, j = 0;
    for (size_t k = MT_N > n ? MT_N : n; k; k--) {
        m->s[i] =
            (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++, j++;
        if (i >= MT_N) {
            m->s[0] = m->s[MT_N - 1];
            i = 1;
        }
        if (j >= n)
            j = 0;
    }
    for (size_t k = MT_N - 1; k; k--) {
        m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        if (++i >= MT_N) {
            m->s[0] = m->s[MT_N - 1];
            i = 1;
        }
    }
    m->s[0] = 0x80000000u;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->i >= MT_N) {
        for (int k = 0; k < MT_N; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % MT_N] & 0x7fffffffu);
            m->s[k] = m->s[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

#define SEED_MAX 1024 /* bytes of a seed */

/* random.Random(seed).random() for a str seed of len bytes (UTF-8). */
static double py_random_seeded(const char *seed, size_t len)
{
    uint8_t bytes[SEED_MAX + crypto_hash_sha512_BYTES];
    uint32_t key[(SEED_MAX + crypto_hash_sha512_BYTES) / 4 + 1];
    memcpy(bytes, seed, len);
    crypto_hash_sha512(bytes + len, (const unsigned char *)seed, len);
    size_t total = len + crypto_hash_sha512_BYTES, lead = 0;
    while (lead < total && bytes[lead] == 0)
        lead++;
    size_t sig = total - lead; /* significant bytes of the integer */
    size_t words = sig ? (sig + 3) / 4 : 1;
    for (size_t w = 0; w < words; w++) {
        uint32_t v = 0;
        for (size_t b = 4; b-- > 0;) { /* word w: bytes total-4w-4 .. total-4w-1, big-endian */
            size_t pos = 4 * w + b;
            uint8_t byte = pos < total ? bytes[total - 1 - pos] : 0;
            v = (v << 8) | byte;
        }
        key[w] = v;
    }
    mt19937 m;
    mt_init_by_array(&m, key, words);
    uint32_t a = mt_next(&m) >> 5, b = mt_next(&m) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

/* HMA's coin: seeded by the seed parameter, else fresh (Python seeds from the OS then). */
static double coin_flip(const char *seed)
{
    if (seed)
        return py_random_seeded(seed, strlen(seed));
    uint64_t a = randombytes_random() >> 5, b = randombytes_random() >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

/* ---- lookups ---- */

/* How HMA prints a match's distance (SignalSimilarityInfo.pretty_str): the number for types
 * with a distance, "-" for exact ones. */
static json_t *distance_json(const td_lookup_hit *h)
{
    if (h->type != TD_SIGNAL_PDQ && h->type != TD_SIGNAL_TEXT)
        return json_string("-");
    char buf[16];
    snprintf(buf, sizeof buf, "%d", h->distance);
    return json_string(buf);
}

/* Whether bank is in the comma-separated list (HMA: set(banks.split(","))). */
static int bank_listed(const char *list, const char *bank)
{
    size_t n = strlen(bank);
    for (const char *p = list;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && memcmp(p, bank, n) == 0)
            return 1;
        if (!c)
            return 0;
        p = c + 1;
    }
}

/* HMA's query_index: the type must be one HMA knows (400 "No such SignalType"), the value
 * valid for it (400 "invalid signal: ..."). 0 after a reply. */
static int query_index(td__req *r, const char *type, const char *signal, td_lookup_hit **hits,
                       size_t *n)
{
    const hma_type *t = valid_type(r, type);
    if (!t)
        return 0;
    /* python-threatexchange's PDQ takes lower-case digits only, as they are given */
    if (t->type == TD_SIGNAL_PDQ) {
        size_t len = strlen(signal);
        int ok = len == 64;
        for (size_t i = 0; ok && i < len; i++)
            ok = (signal[i] >= '0' && signal[i] <= '9') || (signal[i] >= 'a' && signal[i] <= 'f');
        if (!ok) {
            td__reply_error(r, 400, "invalid_signal", "invalid signal: invalid PDQ hash");
            return 0;
        }
    }
    td_error err;
    td_status st =
        td_lookup_signal_all(r->svc, td_signal_type_name(t->type), signal, hits, n, &err);
    if (st == TD_ERR_INVALID || st == TD_ERR_UNSUPPORTED) {
        td__reply_error(r, 400, "invalid_signal", "invalid signal: %s", err.message);
        return 0;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    return 1;
}

/* The enabled_ratio of a bank, cached per request in a small table. */
typedef struct ratio_cache {
    int64_t id[32];
    double ratio[32];
    size_t n;
} ratio_cache;

static int bank_ratio(td__req *r, ratio_cache *c, const td_lookup_hit *h, double *out)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->id[i] == h->bank_id) {
            *out = c->ratio[i];
            return 1;
        }
    td_bank b;
    td_error err;
    td_status st = td_bank_get(r->svc, h->bank, &b, &err);
    if (st == TD_ERR_NOT_FOUND) { /* deleted since the lookup: it takes no part */
        *out = -1.0;
        return 1;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    *out = b.enabled_ratio;
    if (c->n < sizeof c->id / sizeof c->id[0]) {
        c->id[c->n] = h->bank_id;
        c->ratio[c->n++] = *out;
    }
    return 1;
}

/* HMA's lookup(): {bank: [{"bank_content_id", "distance"}]} of the enabled signals whose bank's
 * matching_enabled_ratio reaches the coin flip (0 when bypassed), within banks when given.
 * NULL after a reply. */
static json_t *lookup(td__req *r, const char *type, const char *signal, int bypass,
                      const char *banks, const char *seed)
{
    td_lookup_hit *hits = NULL;
    size_t n = 0;
    if (!query_index(r, type, signal, &hits, &n))
        return NULL;
    /* a signal type whose enabled_ratio is 0 matches nothing (as in takedown's check path) */
    const hma_type *t = hma_type_find(type);
    double type_ratio = 1.0;
    td_error err;
    td_status st = td_signal_type_ratio_get(r->svc, t->type, &type_ratio, &err);
    if (st != TD_OK) {
        td_free(hits);
        td__reply_status(r, st, &err);
        return NULL;
    }
    if (type_ratio <= 0)
        n = 0;
    double coin = bypass ? 0.0 : coin_flip(seed);
    ratio_cache cache;
    cache.n = 0;
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        const td_lookup_hit *h = &hits[i];
        double ratio;
        if (!h->signal_enabled || (banks && *banks && !bank_listed(banks, h->bank)))
            continue;
        if (!bank_ratio(r, &cache, h, &ratio)) {
            json_decref(o);
            td_free(hits);
            return NULL;
        }
        if (!(ratio >= coin))
            continue;
        json_t *list = json_object_get(o, h->bank);
        if (!list) {
            list = json_array();
            if (json_object_set_new(o, h->bank, list) != 0)
                break;
        }
        json_array_append_new(list,
                              json_pack("{s:I,s:o}", "bank_content_id", (json_int_t)h->content_id,
                                        "distance", distance_json(h)));
    }
    td_free(hits);
    if (!o)
        td__reply_error(r, 500, "internal", "out of memory");
    return o;
}

/* ---- hashing ---- */

/* The types of content_type to hash: all of them, or the comma-separated `types` (HMA's
 * _parse_request_signal_type). Fills want[] (by hma_types index); 0 after a reply. */
static int pick_types(td__req *r, const char *content, const char *types, int want[N_HMA_TYPES])
{
    int any = 0, on[N_HMA_TYPES];
    for (size_t i = 0; i < N_HMA_TYPES; i++) {
        on[i] = hma_types[i].content && strcmp(hma_types[i].content, content) == 0;
        want[i] = !types && on[i];
    }
    if (!types)
        return 1;
    for (const char *p = types;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len) {
            size_t i = 0;
            for (; i < N_HMA_TYPES; i++)
                if (on[i] && strlen(hma_types[i].name) == len &&
                    memcmp(hma_types[i].name, p, len) == 0)
                    break;
            if (i == N_HMA_TYPES) {
                td__reply_error(r, 400, "invalid_signal_type",
                                "signal type '%.*s' doesn't exist or is disabled", (int)len, p);
                return 0;
            }
            want[i] = 1;
            any = 1;
        }
        if (!c)
            break;
        p = c + 1;
    }
    if (!any) {
        td__reply_error(r, 400, "invalid_signal_type", "empty signal type selection");
        return 0;
    }
    return 1;
}

/* A content type name HMA knows (photo, video); 0 after HMA's 400. */
static int content_type_ok(td__req *r, const char *name)
{
    if (strcmp(name, "photo") == 0 || strcmp(name, "video") == 0)
        return 1;
    td__reply_error(r, 400, "invalid_content_type", "no such content_type: '%s'", name);
    return 0;
}

/* Hashes media of content type `content` into {signal type: value}. NULL after a reply. */
static json_t *hash_media(td__req *r, const char *content, const char *types, const uint8_t *data,
                          size_t len)
{
    int want[N_HMA_TYPES];
    if (!pick_types(r, content, types, want))
        return NULL;
    json_t *o = json_object();
    if (!o) {
        td__reply_error(r, 500, "internal", "out of memory");
        return NULL;
    }
    if (strcmp(content, "photo") == 0 && want[0]) {
        td_hash_options hopts;
        td_hash_options_default(&hopts);
        td_file_hashes h;
        td_error err;
        td_status st = td_hash_bytes("photo", data, len, &hopts, &h, &err);
        if (st != TD_OK) {
            json_decref(o);
            if (st == TD_ERR_NOMEM || st == TD_ERR_INTERNAL || st == TD_ERR_IO)
                td__reply_status(r, st, &err);
            else if (st == TD_ERR_LIMIT)
                td__reply_error(r, 413, "too_large", "%s", err.message);
            else
                td__reply_error(r, 400, "undecodable", "could not hash the photo: %s", err.message);
            return NULL;
        }
        /* python-threatexchange: a PDQ of quality below 50 is no hash, "" */
        char pdq[TD_PDQ_HEX_LEN + 1] = "";
        if (h.quality >= TD_PDQ_MIN_QUALITY)
            td_pdq_to_hex(&h.pdq[0], pdq);
        json_object_set_new(o, "pdq", json_string(pdq));
        return o;
    }
    /* video: digests of the file's bytes, as python-threatexchange's BytesHashers take them */
    char md5[TD_MD5_HEX_LEN + 1], sha[TD_SHA256_HEX_LEN + 1];
    td_status st = TD_OK;
    if (want[1] && (st = td_md5_hex(data, len, md5)) == TD_OK)
        json_object_set_new(o, "video_md5", json_string(md5));
    if (st == TD_OK && want[2] && (st = td_sha256_hex(data, len, sha)) == TD_OK)
        json_object_set_new(o, "video_sha256", json_string(sha));
    if (st != TD_OK) {
        json_decref(o);
        td__reply_status(r, st, NULL);
        return NULL;
    }
    return o;
}

/* HMA's hash_url_content: fetches url (server/fetch.c's policy: opt-in, allow list, no private
 * addresses, no redirects, time and size limits) and hashes it as content_type, or as what the
 * bytes are (HMA reads the answer's Content-Type header; takedown looks at the bytes). */
static json_t *hash_url(td__req *r, const char *url, const char *content, const char *types)
{
    if (content && !content_type_ok(r, content))
        return NULL;
    const td_server_options *o = &r->srv->opts;
    td__fetch_policy policy = {o->fetch_enabled,       o->fetch_allow,
                               o->fetch_allow_private, o->fetch_connect_timeout_ms,
                               o->fetch_timeout_ms,    o->max_media_bytes};
    uint8_t *data = NULL;
    size_t len = 0;
    long upstream = 0;
    td_error err;
    switch (td__fetch(&policy, url, &data, &len, &upstream, &err)) {
    case TD__FETCH_OK: break;
    case TD__FETCH_DISABLED:
        td__reply_error(r, 403, "fetch_disabled", "%s", err.message);
        return NULL;
    case TD__FETCH_BAD_URL:
    case TD__FETCH_NOT_ALLOWED:
    case TD__FETCH_PRIVATE:
        td__reply_error(r, 400, "invalid_url", "Invalid or unsafe URL provided: %s", err.message);
        return NULL;
    case TD__FETCH_TIMEOUT:
    case TD__FETCH_UPSTREAM:
        td__reply_error(r, 400, "fetch_failed", "Failed to fetch URL: %s", err.message);
        return NULL;
    case TD__FETCH_TOO_LARGE:
        td__reply_error(r, 413, "too_large", "Content too large: %s", err.message);
        return NULL;
    default: td__reply_status(r, TD_ERR_NOMEM, &err); return NULL;
    }
    if (!content) {
        if (td_image_sniff(data, len) != TD_FORMAT_UNKNOWN)
            content = "photo";
        else if (td_video_sniff(data, len))
            content = "video";
        else {
            td__free(data);
            td__reply_error(r, 400, "invalid_content_type",
                            "unsupported url ContentType: the content is neither a picture nor a "
                            "video takedown recognises; if you know the expected type, provide it "
                            "with the content_type query param");
            return NULL;
        }
    }
    json_t *h = hash_media(r, content, types, data, len);
    td__free(data);
    return h;
}

/* HMA's hash_media_from_form_data: one file in a multipart/form-data body, whose field name is
 * its content type. *content receives "photo" or "video". NULL after a reply. */
static json_t *hash_upload(td__req *r, const char *types, const char **content)
{
    char boundary[71];
    td__mpart parts[TD__MPART_MAX];
    size_t n = 0;
    char why[TD__MPART_WHY_MAX];
    if (!td__multipart_boundary(r->content_type, boundary)) {
        td__reply_error(r, 400, "missing_file", "Missing multipart/form-data file upload");
        return NULL;
    }
    if (td__multipart_parse(boundary, r->body, r->body_len, parts, &n, why) != 0) {
        td__reply_error(r, 400, "invalid_multipart", "malformed multipart/form-data body: %s", why);
        return NULL;
    }
    const td__mpart *file = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].is_file) { /* HMA ignores form fields; takedown takes none */
            td__reply_error(r, 400, "unknown_field", "unknown form field '%s'", parts[i].name);
            return NULL;
        }
        if (file) {
            td__reply_error(r, 400, "too_many_files", "Only one file allowed per request");
            return NULL;
        }
        file = &parts[i];
    }
    if (!file) {
        td__reply_error(r, 400, "missing_file", "Missing multipart/form-data file upload");
        return NULL;
    }
    if (!content_type_ok(r, file->name))
        return NULL;
    *content = strcmp(file->name, "photo") == 0 ? "photo" : "video";
    return hash_media(r, *content, types, file->data, file->len);
}

/* ---- the routes ---- */

/* GET /h/hash?url=[&content_type=][&types=] */
void td__h_hma_hash(td__req *r)
{
    static const char *const names[] = {"url", "content_type", "types", NULL};
    if (!only_query_no_body(r, names))
        return;
    const char *url = required(r, "url");
    if (!url)
        return;
    json_t *h = hash_url(r, url, td__query(r, "content_type"), td__query(r, "types"));
    if (h)
        td__reply_json(r, 200, h);
}

/* POST /h/hash[?types=]: a multipart/form-data upload, field "photo" or "video". */
void td__h_hma_hash_post(td__req *r)
{
    static const char *const names[] = {"types", NULL};
    if (!td__only_query(r, names))
        return;
    const char *content;
    json_t *h = hash_upload(r, td__query(r, "types"), &content);
    if (h)
        td__reply_json(r, 200, h);
}

/* {signal type: lookup()} for each hash computed (a PDQ of low quality, "", matches nothing). */
static json_t *lookup_hashes(td__req *r, json_t *hashes, int bypass, const char *banks,
                             const char *seed)
{
    json_t *out = json_object();
    const char *type;
    json_t *v;
    json_object_foreach(hashes, type, v)
    {
        json_t *m = *json_string_value(v)
                        ? lookup(r, type, json_string_value(v), bypass, banks, seed)
                        : json_object();
        if (!m) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, type, m);
    }
    return out;
}

static int seed_ok(td__req *r, const char *seed)
{
    if (seed && strlen(seed) > SEED_MAX) {
        td__reply_error(r, 400, "invalid_query", "'seed' is longer than %d bytes", SEED_MAX);
        return 0;
    }
    return 1;
}

/* GET /m/lookup: by signal_type and signal, or by url (then by signal type, or the one
 * signal_type asks for). */
void td__h_hma_lookup(td__req *r)
{
    static const char *const names[] = {"url",    "content_type",    "types",
                                        "signal", "signal_type",     "banks",
                                        "seed",   "bypass_coinflip", NULL};
    if (!only_query_no_body(r, names))
        return;
    int bypass;
    if (!pydantic_bool(r, "bypass_coinflip", &bypass))
        return;
    const char *url = td__query(r, "url"), *signal = td__query(r, "signal");
    const char *type = td__query(r, "signal_type"), *banks = td__query(r, "banks");
    const char *seed = td__query(r, "seed");
    if (!seed_ok(r, seed))
        return;
    if (url && *url) {
        if (signal) {
            td__reply_error(r, 400, "unknown_query",
                            "'signal' is not taken with 'url' (the URL's media is hashed)");
            return;
        }
        json_t *h = hash_url(r, url, td__query(r, "content_type"), td__query(r, "types"));
        if (!h)
            return;
        json_t *all = lookup_hashes(r, h, bypass, banks, seed);
        json_decref(h);
        if (!all)
            return;
        if (type) { /* HMA answers the matches of that type alone, {} when it was not hashed */
            json_t *one = json_object_get(all, type);
            one = one ? json_incref(one) : json_object();
            json_decref(all);
            all = one;
        }
        td__reply_json(r, 200, all);
        return;
    }
    if (td__query(r, "content_type") || td__query(r, "types")) {
        td__reply_error(r, 400, "unknown_query", "'%s' is taken with 'url' only",
                        td__query(r, "content_type") ? "content_type" : "types");
        return;
    }
    if (!signal || !*signal || !type || !*type) {
        td__reply_error(r, 400, "missing_query",
                        "Either url or both signal and signal_type are required");
        return;
    }
    json_t *m = lookup(r, type, signal, bypass, banks, seed);
    if (m)
        td__reply_json(r, 200, m);
}

/* POST /m/lookup[?bypass_coinflip=true][&banks=][&seed=][&types=]: an uploaded file. */
void td__h_hma_lookup_post(td__req *r)
{
    static const char *const names[] = {"types", "banks", "seed", "bypass_coinflip", NULL};
    if (!td__only_query(r, names))
        return;
    /* HMA compares this one to "true" (anything else is false); takedown refuses values that
     * are neither rather than read them as false */
    const char *b = td__query(r, "bypass_coinflip");
    if (b && strcmp(b, "true") != 0 && strcmp(b, "false") != 0) {
        td__reply_error(r, 400, "invalid_query", "'bypass_coinflip' must be true or false");
        return;
    }
    const char *seed = td__query(r, "seed");
    if (!seed_ok(r, seed))
        return;
    const char *content;
    json_t *h = hash_upload(r, td__query(r, "types"), &content);
    if (!h)
        return;
    json_t *all = lookup_hashes(r, h, b && strcmp(b, "true") == 0, td__query(r, "banks"), seed);
    json_decref(h);
    if (all)
        td__reply_json(r, 200, all);
}

/* GET /m/raw_lookup?signal_type=&signal=[&banks=][&include_distance=] */
void td__h_hma_raw_lookup(td__req *r)
{
    static const char *const names[] = {"signal", "signal_type", "banks", "include_distance", NULL};
    if (!only_query_no_body(r, names))
        return;
    const char *signal = required(r, "signal");
    if (!signal)
        return;
    const char *type = required(r, "signal_type");
    if (!type)
        return;
    int with_distance;
    if (!pydantic_bool(r, "include_distance", &with_distance))
        return;
    const char *banks = td__query(r, "banks");
    td_lookup_hit *hits = NULL;
    size_t n = 0;
    if (!query_index(r, type, signal, &hits, &n))
        return;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const td_lookup_hit *h = &hits[i];
        if (banks && *banks && !bank_listed(banks, h->bank))
            continue;
        if (with_distance)
            json_array_append_new(a, json_pack("{s:I,s:o}", "bank_content_id",
                                               (json_int_t)h->content_id, "distance",
                                               distance_json(h)));
        else
            json_array_append_new(a, json_integer(h->content_id));
    }
    td_free(hits);
    td__reply_json(r, 200, json_pack("{s:o}", "matches", a));
}

/* POST /m/compare {"pdq": [h1, h2], ...} -> {"pdq": [match, {"distance": d}], ...}; exact types
 * answer [match, {"distance": "-"}]. */
void td__h_hma_compare(td__req *r)
{
    static const char *const names[] = {NULL};
    if (!td__only_query(r, names))
        return;
    json_error_t jerr;
    json_t *obj = r->body_len ? json_loadb((const char *)r->body, r->body_len,
                                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr)
                              : NULL;
    if (!obj && r->body_len) {
        td__reply_error(r, 400, "invalid_json", "malformed JSON at line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        return;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_json", "Request input was not a dict");
        return;
    }
    json_t *out = json_object();
    const char *key;
    json_t *pair;
    json_object_foreach(obj, key, pair)
    {
        if (!json_is_array(pair)) {
            td__reply_error(r, 400, "invalid_type", "Comparison hashes for %s was not a list", key);
            goto fail;
        }
        if (json_array_size(pair) != 2) {
            td__reply_error(r, 400, "invalid_type",
                            "Comparison hash list length must be exactly 2");
            goto fail;
        }
        const hma_type *t = valid_type(r, key);
        if (!t)
            goto fail;
        if (t->type != TD_SIGNAL_PDQ && t->type != TD_SIGNAL_MD5 && t->type != TD_SIGNAL_SHA256) {
            td__reply_error(r, 400, "invalid_signal_type", "%s does not support hash comparison",
                            key);
            goto fail;
        }
        char v[2][65];
        for (int k = 0; k < 2; k++) {
            const char *s = json_string_value(json_array_get(pair, (size_t)k));
            td_error err;
            if (!s) {
                td__reply_error(r, 400, "invalid_hash", "Invalid %s hash: not a string", key);
                goto fail;
            }
            size_t len = strlen(s);
            int ok = 1;
            if (t->type == TD_SIGNAL_PDQ) { /* lower-case digits, as given */
                ok = len == 64;
                for (size_t i = 0; ok && i < len; i++)
                    ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
                if (ok)
                    memcpy(v[k], s, 65);
            } else { /* stripped and lower-cased, as python-threatexchange does */
                while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
                    s++, len--;
                while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                               s[len - 1] == '\r'))
                    len--;
                ok = td_signal_value_normalize(t->type, s, len, v[k], &err) == TD_OK;
            }
            if (!ok) {
                td__reply_error(r, 400, "invalid_hash",
                                "Invalid %s hash: '%.80s' is not a valid %s", key,
                                json_string_value(json_array_get(pair, (size_t)k)),
                                t->type == TD_SIGNAL_PDQ   ? "PDQ hash"
                                : t->type == TD_SIGNAL_MD5 ? "MD5 hash"
                                                           : "SHA256 hash");
                goto fail;
            }
        }
        json_t *res;
        if (t->type == TD_SIGNAL_PDQ) {
            td_pdq pa, pb;
            if (td_pdq_from_hex(v[0], 64, &pa) != TD_OK ||
                td_pdq_from_hex(v[1], 64, &pb) != TD_OK) {
                td__reply_error(r, 400, "invalid_hash", "Invalid %s hash", key);
                goto fail;
            }
            int d = td_pdq_distance(&pa, &pb);
            /* python-threatexchange's PDQ_CONFIDENT_MATCH_THRESHOLD */
            res = json_pack("[b,{s:i}]", d <= 31, "distance", d);
        } else {
            res = json_pack("[b,{s:s}]", strcmp(v[0], v[1]) == 0, "distance", "-");
        }
        json_object_set_new(out, key, res);
    }
    json_decref(obj);
    td__reply_json(r, 200, out);
    return;
fail:
    json_decref(obj);
    json_decref(out);
}

/* GET /m/index/status[?signal_type=]: {type: {"present", "built_to", "size"}}, as HMA's
 * checkpoints say it: the signals of the type stored (enabled or not), the newest one's time
 * (unix seconds; -1 while there is none). takedown's indexes follow every change as it is
 * committed, so they are present once the service has loaded them. */
void td__h_hma_index_status(td__req *r)
{
    static const char *const names[] = {"signal_type", NULL};
    if (!only_query_no_body(r, names))
        return;
    const char *only = td__query(r, "signal_type");
    if (only && !hma_type_find(only)) {
        td__reply_error(r, 400, "invalid_signal_type", "No such signal type '%s'", only);
        return;
    }
    int ready = td_service_ready(r->svc);
    json_t *o = json_object();
    for (size_t i = 0; o && i < N_HMA_TYPES; i++) {
        if (only && strcmp(only, hma_types[i].name) != 0)
            continue;
        td_signal_type_stats s;
        td_error err;
        td_status st = td_signal_type_stats_get(r->svc, hma_types[i].type, &s, &err);
        if (st != TD_OK) {
            json_decref(o);
            td__reply_status(r, st, &err);
            return;
        }
        json_int_t built = s.newest_ms > 0 ? (json_int_t)(s.newest_ms / 1000) : -1;
        json_object_set_new(o, hma_types[i].name,
                            json_pack("{s:b,s:I,s:I}", "present", ready, "built_to", built, "size",
                                      (json_int_t)s.stored));
    }
    td__reply_json(r, 200, o);
}
