// FAISS as bench_index's peer: IndexBinaryFlat (exhaustive) and IndexBinaryMultiHash(256, 16, 16)
// as HMA and python-threatexchange configure it. FAISS's binary range_search returns distances
// strictly below its radius, so a search "within r" asks for r + 1.
#include <cstdlib>
#include <cstring>
#include <exception>

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryHash.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <omp.h>

#include "peer.h"

struct peer {
    faiss::IndexBinary *index;
};

extern "C" peer *peer_new(peer_kind kind, int nflip)
{
    try {
        peer *p = new peer;
        if (kind == PEER_FLAT) {
            p->index = new faiss::IndexBinaryFlat(256);
        } else {
            auto *mh = new faiss::IndexBinaryMultiHash(256, 16, 16);
            mh->nflip = nflip;
            p->index = mh;
        }
        return p;
    } catch (const std::exception &) {
        return nullptr;
    }
}

extern "C" const char *peer_name(peer_kind kind)
{
    return kind == PEER_FLAT ? "faiss-flat" : "faiss-mih";
}

extern "C" int peer_add(peer *p, const uint8_t *codes, size_t n)
{
    try {
        p->index->add((faiss::IndexBinary::idx_t)n, codes);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

extern "C" int peer_range(peer *p, const uint8_t *queries, size_t nq, int radius, size_t *lims,
                          int64_t **ids)
{
    try {
        faiss::RangeSearchResult res((faiss::IndexBinary::idx_t)nq);
        p->index->range_search((faiss::IndexBinary::idx_t)nq, queries, radius + 1, &res);
        size_t total = res.lims[nq];
        std::memcpy(lims, res.lims, (nq + 1) * sizeof *lims);
        *ids = static_cast<int64_t *>(std::malloc((total ? total : 1) * sizeof **ids));
        if (!*ids)
            return -1;
        for (size_t i = 0; i < total; i++)
            (*ids)[i] = res.labels[i];
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

extern "C" void peer_threads(int n) { omp_set_num_threads(n); }

extern "C" void peer_free(peer *p)
{
    if (!p)
        return;
    delete p->index;
    delete p;
}
