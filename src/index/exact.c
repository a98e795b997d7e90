/* Exact-match maps (md5, sha256, URL or text keys): an open-addressing table of (key, id) pairs
 * with linear probing and backward-shift deletion, behind a reader-writer lock, so that every
 * add or remove is seen whole or not at all. Keys up to 32 bytes (the binary digests) sit inside
 * the slot; longer ones are copied to the heap. The hash is seeded per map so that keys chosen by
 * an uploader cannot be aimed at one probe chain. */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hex.h"
#include "takedown/index.h"

#define INLINE_KEY 32
#define MIN_SLOTS 64

typedef struct slot {
    uint64_t hash; /* 0 = empty */
    uint64_t id;
    uint32_t len;
    union {
        uint8_t bytes[INLINE_KEY];
        uint8_t *heap;
    } key;
} slot;

struct td_index_map {
    pthread_rwlock_t lock;
    slot *slots;
    size_t mask; /* slots - 1 */
    size_t count;
    uint64_t seed;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    return x ^ (x >> 33);
}

static uint64_t key_hash(const td_index_map *map, const uint8_t *k, size_t len)
{
    uint64_t h = mix(map->seed ^ len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, k + i, 8);
        h = mix(h ^ v);
    }
    uint64_t tail = 0;
    memcpy(&tail, k + i, len - i);
    h = mix(h ^ tail ^ ((uint64_t)(len - i) << 56));
    return h | 1;
}

static const uint8_t *slot_key(const slot *s)
{
    return s->len <= INLINE_KEY ? s->key.bytes : s->key.heap;
}

static int slot_is(const slot *s, uint64_t h, const uint8_t *k, size_t len)
{
    return s->hash == h && s->len == len && memcmp(slot_key(s), k, len) == 0;
}

td_status td_index_map_new(td_index_map **out, td_error *err)
{
    td_index_map *map = td__calloc(1, sizeof *map);
    *out = NULL;
    if (!map || !(map->slots = td__calloc(MIN_SLOTS, sizeof *map->slots))) {
        td__free(map);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    map->mask = MIN_SLOTS - 1;
    if (getrandom(&map->seed, sizeof map->seed, GRND_NONBLOCK) != sizeof map->seed)
        map->seed = mix((uint64_t)td__wall_ms() ^ (uint64_t)(uintptr_t)map);
    pthread_rwlock_init(&map->lock, NULL);
    *out = map;
    return TD_OK;
}

void td_index_map_free(td_index_map *map)
{
    if (!map)
        return;
    for (size_t i = 0; i <= map->mask; i++)
        if (map->slots[i].hash && map->slots[i].len > INLINE_KEY)
            td__free(map->slots[i].key.heap);
    td__free(map->slots);
    pthread_rwlock_destroy(&map->lock);
    td__free(map);
}

static int grow(td_index_map *map)
{
    size_t n = (map->mask + 1) * 2;
    slot *ns = td__calloc(n, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i <= map->mask; i++) {
        const slot *s = &map->slots[i];
        if (!s->hash)
            continue;
        size_t j = s->hash & (n - 1);
        while (ns[j].hash)
            j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    td__free(map->slots);
    map->slots = ns;
    map->mask = n - 1;
    return 0;
}

static td_status check_key(const void *key, size_t len, td_error *err)
{
    if (!key && len)
        return td__error_set(err, TD_ERR_INVALID, "map: no key given");
    if (len > TD_INDEX_MAP_MAX_KEY)
        return td__error_set(err, TD_ERR_LIMIT, "map: key of %zu bytes exceeds %d", len,
                             TD_INDEX_MAP_MAX_KEY);
    return TD_OK;
}

td_status td_index_map_add(td_index_map *map, const void *key, size_t len, uint64_t id,
                           td_error *err)
{
    td_status st = check_key(key, len, err);
    if (st != TD_OK)
        return st;
    uint64_t h = key_hash(map, key, len);
    pthread_rwlock_wrlock(&map->lock);
    size_t i = h & map->mask;
    for (; map->slots[i].hash; i = (i + 1) & map->mask) {
        if (map->slots[i].id == id && slot_is(&map->slots[i], h, key, len)) {
            pthread_rwlock_unlock(&map->lock);
            return TD_OK;
        }
    }
    if (map->count >= TD_INDEX_MAX_ENTRIES) {
        pthread_rwlock_unlock(&map->lock);
        return td__error_set(err, TD_ERR_LIMIT, "map: more than %zu entries", TD_INDEX_MAX_ENTRIES);
    }
    slot s = {h, id, (uint32_t)len, {{0}}};
    if (len > INLINE_KEY) {
        if (!(s.key.heap = td__malloc(len))) {
            pthread_rwlock_unlock(&map->lock);
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        }
        memcpy(s.key.heap, key, len);
    } else if (len) {
        memcpy(s.key.bytes, key, len);
    }
    /* Keep the load under 3/4. */
    if ((map->count + 1) * 4 > (map->mask + 1) * 3) {
        if (grow(map) != 0) {
            if (len > INLINE_KEY)
                td__free(s.key.heap);
            pthread_rwlock_unlock(&map->lock);
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        }
        for (i = h & map->mask; map->slots[i].hash; i = (i + 1) & map->mask)
            ;
    }
    map->slots[i] = s;
    map->count++;
    pthread_rwlock_unlock(&map->lock);
    return TD_OK;
}

td_status td_index_map_remove(td_index_map *map, const void *key, size_t len, uint64_t id,
                              int *removed, td_error *err)
{
    td_status st = check_key(key, len, err);
    if (removed)
        *removed = 0;
    if (st != TD_OK)
        return st;
    uint64_t h = key_hash(map, key, len);
    pthread_rwlock_wrlock(&map->lock);
    size_t i = h & map->mask;
    for (; map->slots[i].hash; i = (i + 1) & map->mask)
        if (map->slots[i].id == id && slot_is(&map->slots[i], h, key, len))
            break;
    if (map->slots[i].hash) {
        if (map->slots[i].len > INLINE_KEY)
            td__free(map->slots[i].key.heap);
        /* Backward shift: pull later members of the chain into the hole when their home slot
         * does not lie cyclically in (hole, j]. */
        size_t hole = i, j = i;
        for (;;) {
            j = (j + 1) & map->mask;
            if (!map->slots[j].hash)
                break;
            size_t home = map->slots[j].hash & map->mask;
            int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!stays) {
                map->slots[hole] = map->slots[j];
                hole = j;
            }
        }
        memset(&map->slots[hole], 0, sizeof map->slots[hole]);
        map->count--;
        if (removed)
            *removed = 1;
    }
    pthread_rwlock_unlock(&map->lock);
    return TD_OK;
}

td_status td_index_map_find(td_index_map *map, const void *key, size_t len, uint64_t *ids,
                            size_t cap, size_t *count, td_error *err)
{
    td_status st = check_key(key, len, err);
    size_t n = 0;
    *count = 0;
    if (st != TD_OK)
        return st;
    uint64_t h = key_hash(map, key, len);
    pthread_rwlock_rdlock(&map->lock);
    for (size_t i = h & map->mask; map->slots[i].hash; i = (i + 1) & map->mask) {
        if (slot_is(&map->slots[i], h, key, len)) {
            if (n < cap)
                ids[n] = map->slots[i].id;
            n++;
        }
    }
    pthread_rwlock_unlock(&map->lock);
    *count = n;
    return TD_OK;
}

size_t td_index_map_size(td_index_map *map)
{
    pthread_rwlock_rdlock(&map->lock);
    size_t n = map->count;
    pthread_rwlock_unlock(&map->lock);
    return n;
}

static td_status decode_hex(const char *hex, uint8_t *out, size_t *len, td_error *err)
{
    size_t n = hex ? strlen(hex) : 0;
    *len = 0;
    if (n != TD_MD5_HEX_LEN && n != TD_SHA256_HEX_LEN)
        return td__error_set(err, TD_ERR_INVALID,
                             "map: a digest has 32 (md5) or 64 (sha256) hex digits, not %zu", n);
    if (td__hex_decode(hex, n, out) != 0)
        return td__error_set(err, TD_ERR_INVALID, "map: '%.*s' is not hex", (int)n, hex);
    *len = n / 2;
    return TD_OK;
}

td_status td_index_map_add_hex(td_index_map *map, const char *hex, uint64_t id, td_error *err)
{
    uint8_t k[32];
    size_t len;
    td_status st = decode_hex(hex, k, &len, err);
    return st != TD_OK ? st : td_index_map_add(map, k, len, id, err);
}

td_status td_index_map_remove_hex(td_index_map *map, const char *hex, uint64_t id, int *removed,
                                  td_error *err)
{
    uint8_t k[32];
    size_t len;
    if (removed)
        *removed = 0;
    td_status st = decode_hex(hex, k, &len, err);
    return st != TD_OK ? st : td_index_map_remove(map, k, len, id, removed, err);
}

td_status td_index_map_find_hex(td_index_map *map, const char *hex, uint64_t *ids, size_t cap,
                                size_t *count, td_error *err)
{
    uint8_t k[32];
    size_t len;
    *count = 0;
    td_status st = decode_hex(hex, k, &len, err);
    return st != TD_OK ? st : td_index_map_find(map, k, len, ids, cap, count, err);
}
