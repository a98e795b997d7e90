/* Stand-in for the FAISS peer when libfaiss-dev is not installed. */
#include "peer.h"

peer *peer_new(peer_kind kind, int nflip)
{
    (void)kind;
    (void)nflip;
    return NULL;
}

const char *peer_name(peer_kind kind) { return kind == PEER_FLAT ? "faiss-flat" : "faiss-mih"; }

int peer_add(peer *p, const uint8_t *codes, size_t n)
{
    (void)p;
    (void)codes;
    (void)n;
    return -1;
}

int peer_range(peer *p, const uint8_t *queries, size_t nq, int radius, size_t *lims, int64_t **ids)
{
    (void)p;
    (void)queries;
    (void)nq;
    (void)radius;
    (void)lims;
    (void)ids;
    return -1;
}

void peer_threads(int n) { (void)n; }

void peer_free(peer *p) { (void)p; }
