/* The connection guard: keeps one hostile client from starving the others (DESIGN.md, security
 * model; docs/api.md "Connection and rate limits").
 *
 * libmicrohttpd's own timeout restarts on every byte and its connection limit is global, so a
 * client that opens many connections and trickles bytes into them can hold every slot. The guard
 * tracks each connection from accept to close and enforces what a trickle cannot extend:
 *  - a deadline to deliver complete request headers, counted from the accept (or from the end
 *    of the previous response), not from the last byte; authenticated keep-alive connections
 *    get the idle timeout instead, counted the same way;
 *  - a minimum average receive rate for bodies, after a grace of one header deadline;
 *  - a limit of connections per client address (IPv6 by /64), and a global limit kept by
 *    shedding: when either is reached, the oldest idle connection that never presented a valid
 *    key is closed to make room, so probes, checks and order intake on a new connection are
 *    still served; only when no such connection exists is the newcomer refused;
 *  - token-bucket request rates per address, per API key and per address for requests without
 *    a valid key, answered 429 with Retry-After (the health probes are exempt).
 * A connection is closed with shutdown(2) while the guard's lock is held; libmicrohttpd then
 * sees the end of the stream and frees it. The fd is only closed after the close notification,
 * which takes the same lock, so the guard never touches a descriptor that was reused. */
#ifndef TD_SERVER_GUARD_H
#define TD_SERVER_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct td__guard td__guard;
typedef struct td__conn td__conn;

typedef struct td__guard_limits {
    unsigned max_connections;      /* kept by shedding */
    unsigned per_address;          /* connections per client address (0: no limit) */
    unsigned header_timeout_s;     /* complete headers within this of accept / last response */
    unsigned idle_timeout_s;       /* authenticated keep-alive: next request within this */
    unsigned min_receive_rate;     /* bytes/s a body must average after the grace (0: none) */
    unsigned rate_per_address;     /* requests/s per address (0: none) */
    unsigned rate_per_key;         /* requests/s per API key (0: none) */
    unsigned rate_unauthenticated; /* requests/s per address without a valid key (0: none) */
    unsigned rate_burst_s;         /* bucket capacity in seconds of rate (>= 1) */
} td__guard_limits;

/* Figures for /metrics. */
typedef struct td__guard_stats {
    unsigned long long open, authenticated; /* connections now (not yet shed) */
    unsigned long long shed_header, shed_idle, shed_body, shed_overload, refused_address;
    unsigned long long limited_address, limited_key, limited_unauthenticated;
} td__guard_stats;

/* Starts the guard and its deadline thread. NULL on failure. */
td__guard *td__guard_new(const td__guard_limits *limits);
/* Stops the thread and frees the guard; call after the HTTP daemon stopped. Accepts NULL. */
void td__guard_free(td__guard *g);

/* libmicrohttpd's connection notifications: a new connection (fd, peer address) returns its
 * record, which may already be shed (over a limit); closed forgets it. */
td__conn *td__guard_open(td__guard *g, int fd, const struct sockaddr *addr);
void td__guard_close(td__guard *g, td__conn *c);

/* A request's phases on connection c (NULL: ignored). */
void td__guard_request_begin(td__guard *g, td__conn *c); /* headers complete */
void td__guard_body(td__guard *g, td__conn *c, size_t bytes);
void td__guard_handling(td__guard *g, td__conn *c); /* body complete: no deadline */
void td__guard_request_end(td__guard *g, td__conn *c);
void td__guard_authenticated(td__guard *g, td__conn *c);

/* Rate limits. Each returns 0 when the request may go on, else the seconds to wait (>= 1) and
 * counts the refusal. by_address applies to every request but the probes; key to requests
 * with a valid key; unauthenticated to requests without one. */
unsigned td__guard_rate_address(td__guard *g, const td__conn *c);
unsigned td__guard_rate_key(td__guard *g, int64_t key_id);
unsigned td__guard_rate_unauthenticated(td__guard *g, const td__conn *c);

void td__guard_get_stats(td__guard *g, td__guard_stats *out);

/* Runs the deadline checks once at time now_s (the thread does it four times a second). */
void td__guard_sweep(td__guard *g, double now_s);

#endif
