/* The connection guard (see guard.h for what it enforces and why). One lock protects the list
 * of connections; every operation on it is a few pointer moves or, at accept and in the sweep, a
 * walk of at most a few thousand records. The rate buckets have their own lock. */
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/wait.h"
#include "server/guard.h"
#include "server/server_int.h"

enum { PHASE_WAIT, PHASE_BODY, PHASE_HANDLING };

#define ADDR_KEY 16
#define SWEEP_INTERVAL_MS 250

struct td__conn {
    td__conn *prev, *next;
    int fd;
    unsigned char addr[ADDR_KEY]; /* the client's address key (addr_key) */
    int phase;
    double phase_start; /* accept, end of the previous response, or end of the headers */
    uint64_t body_bytes;
    int authenticated; /* a request on it presented a valid key */
    int shed;          /* shut down by the guard: waiting for the close notification */
};

/* ---- rate buckets ----
 * An open-addressed table of token buckets keyed by (kind, address or key id). A bucket that
 * cannot find a slot among its probe window evicts the least recently used one: a forgotten
 * bucket comes back full, which only ever errs towards letting a request through. */

#define RATE_SLOTS 8192
#define RATE_PROBE 8

typedef struct rate_slot {
    unsigned char key[1 + ADDR_KEY];
    unsigned char used;
    double tokens, last;
} rate_slot;

struct td__guard {
    td__guard_limits lim;
    pthread_mutex_t lock;
    td__conn *head, *tail; /* in order of accept */
    unsigned long long live, live_authenticated;
    pthread_mutex_t rate_lock;
    rate_slot *slots;
    atomic_ullong shed_header, shed_idle, shed_body, shed_overload, refused_address;
    atomic_ullong limited_address, limited_key, limited_unauthenticated;
    pthread_t thread;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stop;
};

/* IPv4 (also as IPv4-mapped IPv6) by address, IPv6 by /64: one host usually holds a whole /64. */
static void addr_key(const struct sockaddr *sa, unsigned char out[ADDR_KEY])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, ADDR_KEY);
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        out[0] = 4;
        memcpy(out + 1, &v4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        const unsigned char *b = v6->sin6_addr.s6_addr;
        if (memcmp(b, mapped, sizeof mapped) == 0) {
            out[0] = 4;
            memcpy(out + 1, b + 12, 4);
        } else {
            out[0] = 6;
            memcpy(out + 1, b, 8);
        }
    }
}

static void shed(td__guard *g, td__conn *c, atomic_ullong *reason)
{
    c->shed = 1;
    g->live--;
    if (c->authenticated)
        g->live_authenticated--;
    atomic_fetch_add(reason, 1);
    /* The peer sees the end of the stream; libmicrohttpd reads it and frees the connection. */
    shutdown(c->fd, SHUT_RDWR);
}

/* The connection to close first: idle (between requests), never authenticated, oldest.
 * same_addr restricts the choice to that address; skip is never chosen. */
static td__conn *victim(td__guard *g, const unsigned char *same_addr, const td__conn *skip)
{
    td__conn *best = NULL;
    for (td__conn *c = g->head; c; c = c->next) {
        if (c == skip || c->shed || c->authenticated || c->phase != PHASE_WAIT)
            continue;
        if (same_addr && memcmp(c->addr, same_addr, ADDR_KEY) != 0)
            continue;
        if (!best || c->phase_start < best->phase_start)
            best = c;
    }
    return best;
}

td__conn *td__guard_open(td__guard *g, int fd, const struct sockaddr *addr)
{
    td__conn *c = td__calloc(1, sizeof *c);
    if (!c) {
        /* Without a record the connection cannot be watched: refuse it. */
        shutdown(fd, SHUT_RDWR);
        return NULL;
    }
    c->fd = fd;
    addr_key(addr, c->addr);
    c->phase = PHASE_WAIT;
    pthread_mutex_lock(&g->lock);
    c->phase_start = td__srv_now();
    c->prev = g->tail;
    if (g->tail)
        g->tail->next = c;
    else
        g->head = c;
    g->tail = c;
    g->live++;
    if (g->lim.per_address) {
        unsigned n = 0;
        for (td__conn *o = g->head; o; o = o->next)
            n += !o->shed && memcmp(o->addr, c->addr, ADDR_KEY) == 0;
        if (n > g->lim.per_address) {
            td__conn *v = victim(g, c->addr, c);
            shed(g, v ? v : c, &g->refused_address);
        }
    }
    if (!c->shed && g->live > g->lim.max_connections) {
        td__conn *v = victim(g, NULL, c);
        shed(g, v ? v : c, &g->shed_overload);
    }
    pthread_mutex_unlock(&g->lock);
    return c;
}

void td__guard_close(td__guard *g, td__conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        g->tail = c->prev;
    if (!c->shed) {
        g->live--;
        if (c->authenticated)
            g->live_authenticated--;
    }
    pthread_mutex_unlock(&g->lock);
    td__free(c);
}

static void set_phase(td__guard *g, td__conn *c, int phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->phase = phase;
    c->phase_start = td__srv_now();
    c->body_bytes = 0;
    pthread_mutex_unlock(&g->lock);
}

void td__guard_request_begin(td__guard *g, td__conn *c) { set_phase(g, c, PHASE_BODY); }
void td__guard_handling(td__guard *g, td__conn *c) { set_phase(g, c, PHASE_HANDLING); }
void td__guard_request_end(td__guard *g, td__conn *c) { set_phase(g, c, PHASE_WAIT); }

void td__guard_body(td__guard *g, td__conn *c, size_t bytes)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->body_bytes += bytes;
    pthread_mutex_unlock(&g->lock);
}

void td__guard_authenticated(td__guard *g, td__conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (!c->authenticated && !c->shed)
        g->live_authenticated++;
    c->authenticated = 1;
    pthread_mutex_unlock(&g->lock);
}

void td__guard_sweep(td__guard *g, double now)
{
    double header = g->lim.header_timeout_s, idle = g->lim.idle_timeout_s;
    double rate = g->lim.min_receive_rate;
    pthread_mutex_lock(&g->lock);
    for (td__conn *c = g->head; c; c = c->next) {
        if (c->shed)
            continue;
        double elapsed = now - c->phase_start;
        if (c->phase == PHASE_WAIT) {
            if (c->authenticated && elapsed > idle)
                shed(g, c, &g->shed_idle);
            else if (!c->authenticated && elapsed > header)
                shed(g, c, &g->shed_header);
        } else if (c->phase == PHASE_BODY && rate > 0 && elapsed > header &&
                   (double)c->body_bytes < rate * (elapsed - header)) {
            shed(g, c, &g->shed_body);
        }
    }
    pthread_mutex_unlock(&g->lock);
}

static void *sweeper_main(void *arg)
{
    td__guard *g = arg;
    pthread_mutex_lock(&g->stop_lock);
    while (!g->stop) {
        if (td__wait_interval(&g->stop_cond, &g->stop_lock, &g->stop, SWEEP_INTERVAL_MS))
            break;
        pthread_mutex_unlock(&g->stop_lock);
        td__guard_sweep(g, td__srv_now());
        pthread_mutex_lock(&g->stop_lock);
    }
    pthread_mutex_unlock(&g->stop_lock);
    return NULL;
}

td__guard *td__guard_new(const td__guard_limits *limits)
{
    td__guard *g = td__calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->lim = *limits;
    if (!g->lim.rate_burst_s)
        g->lim.rate_burst_s = 1;
    g->slots = td__calloc(RATE_SLOTS, sizeof *g->slots);
    if (!g->slots) {
        td__free(g);
        return NULL;
    }
    td__cond_init_monotonic(&g->stop_cond);
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->rate_lock, NULL);
    pthread_mutex_init(&g->stop_lock, NULL);
    if (pthread_create(&g->thread, NULL, sweeper_main, g) != 0) {
        pthread_cond_destroy(&g->stop_cond);
        pthread_mutex_destroy(&g->lock);
        pthread_mutex_destroy(&g->rate_lock);
        pthread_mutex_destroy(&g->stop_lock);
        td__free(g->slots);
        td__free(g);
        return NULL;
    }
    return g;
}

void td__guard_free(td__guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->stop_lock);
    g->stop = 1;
    pthread_cond_signal(&g->stop_cond);
    pthread_mutex_unlock(&g->stop_lock);
    pthread_join(g->thread, NULL);
    /* The daemon stopped first, so every connection was notified closed; free any left over. */
    for (td__conn *c = g->head, *next; c; c = next) {
        next = c->next;
        td__free(c);
    }
    pthread_cond_destroy(&g->stop_cond);
    pthread_mutex_destroy(&g->lock);
    pthread_mutex_destroy(&g->rate_lock);
    pthread_mutex_destroy(&g->stop_lock);
    td__free(g->slots);
    td__free(g);
}

/* ---- rates ---- */

static uint64_t key_hash(const unsigned char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h;
}

/* Takes one token from the bucket of key (kind and ADDR_KEY bytes) filling at rate per second
 * up to rate * burst; 0 when there was one, else the whole seconds until there is. */
static unsigned take(td__guard *g, const unsigned char key[1 + ADDR_KEY], unsigned rate)
{
    double cap = (double)rate * g->lim.rate_burst_s;
    double now = td__srv_now();
    size_t base = (size_t)(key_hash(key, 1 + ADDR_KEY) & (RATE_SLOTS - 1));
    unsigned wait = 0;
    pthread_mutex_lock(&g->rate_lock);
    rate_slot *slot = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < RATE_PROBE; i++) {
        rate_slot *s = &g->slots[(base + i) & (RATE_SLOTS - 1)];
        if (s->used && memcmp(s->key, key, sizeof s->key) == 0) {
            slot = s;
            break;
        }
        if (!s->used && !free_slot)
            free_slot = s;
        if (s->used && (!oldest || s->last < oldest->last))
            oldest = s;
    }
    if (!slot) {
        slot = free_slot ? free_slot : oldest;
        memcpy(slot->key, key, sizeof slot->key);
        slot->used = 1;
        slot->tokens = cap;
        slot->last = now;
    }
    slot->tokens += (now - slot->last) * rate;
    if (slot->tokens > cap)
        slot->tokens = cap;
    slot->last = now;
    if (slot->tokens >= 1.0)
        slot->tokens -= 1.0;
    else
        wait = (unsigned)ceil((1.0 - slot->tokens) / rate);
    pthread_mutex_unlock(&g->rate_lock);
    return wait;
}

static unsigned take_addr(td__guard *g, const td__conn *c, unsigned char kind, unsigned rate,
                          atomic_ullong *counter)
{
    if (!rate || !c)
        return 0;
    unsigned char key[1 + ADDR_KEY];
    key[0] = kind;
    memcpy(key + 1, c->addr, ADDR_KEY);
    unsigned wait = take(g, key, rate);
    if (wait)
        atomic_fetch_add(counter, 1);
    return wait;
}

unsigned td__guard_rate_address(td__guard *g, const td__conn *c)
{
    return take_addr(g, c, 'A', g->lim.rate_per_address, &g->limited_address);
}

unsigned td__guard_rate_unauthenticated(td__guard *g, const td__conn *c)
{
    return take_addr(g, c, 'U', g->lim.rate_unauthenticated, &g->limited_unauthenticated);
}

unsigned td__guard_rate_key(td__guard *g, int64_t key_id)
{
    if (!g->lim.rate_per_key)
        return 0;
    unsigned char key[1 + ADDR_KEY] = {'K'};
    memcpy(key + 1, &key_id, sizeof key_id);
    unsigned wait = take(g, key, g->lim.rate_per_key);
    if (wait)
        atomic_fetch_add(&g->limited_key, 1);
    return wait;
}

void td__guard_get_stats(td__guard *g, td__guard_stats *out)
{
    pthread_mutex_lock(&g->lock);
    out->open = g->live;
    out->authenticated = g->live_authenticated;
    pthread_mutex_unlock(&g->lock);
    out->shed_header = atomic_load(&g->shed_header);
    out->shed_idle = atomic_load(&g->shed_idle);
    out->shed_body = atomic_load(&g->shed_body);
    out->shed_overload = atomic_load(&g->shed_overload);
    out->refused_address = atomic_load(&g->refused_address);
    out->limited_address = atomic_load(&g->limited_address);
    out->limited_key = atomic_load(&g->limited_key);
    out->limited_unauthenticated = atomic_load(&g->limited_unauthenticated);
}
