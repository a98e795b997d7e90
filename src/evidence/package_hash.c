/* The SHA-256 of a record, computed beside its encryption or decryption.
 *
 * SHA-256 (OpenSSL, with the CPU's SHA extensions where it has them: about 1.6 GB/s here) costs
 * more than half of what XChaCha20-Poly1305 does (libsodium, about 1.2 GB/s), and the hash of
 * a record is one chain that cannot be split. So it runs on a second thread, a few batches behind
 * the caller's thread, which seals or opens the next ones meanwhile
 * (bench/evidence/bench_package.c).
 *
 * Jobs are ranges of the caller's memory, queued in order (at most TD__PKG_HASH_JOBS), which
 * both threads only read until they are done. The chain is fed by whoever holds it: the thread
 * takes the oldest job a piece at a time, and a caller that has to wait (for a free slot, for a
 * buffer's job, for the digest) takes the next piece itself when the thread is not in the middle
 * of one. On a busy machine the second thread is often not running when work is queued (its
 * wake-up waits for a core); the caller then hashes instead of sleeping. Without a thread
 * (pthread_create failed) every job is hashed when it is posted, with the same results.
 *
 * The thread starts only once THREAD_FROM bytes were posted: a small package (a report, a
 * single image) is hashed on the caller's thread, which costs less than starting one. */
#include <string.h>

#include "core/error.h"
#include "evidence/package_int.h"

/* Hashed in one go by whoever holds the chain: small enough that a caller waiting for the
 * thread's piece waits little, large enough that the lock is rare. */
#define PIECE ((size_t)256 * 1024)
/* Bytes hashed on the caller's thread before the second thread is started. */
#define THREAD_FROM ((uint64_t)4 * 1024 * 1024)

/* With the lock held: takes the next piece of the oldest job, if nobody is hashing. */
static int take_piece(td__pkg_hasher *h, const uint8_t **p, size_t *n)
{
    if (h->hashing || h->done == h->posted)
        return 0;
    const td__pkg_hash_job *j = &h->jobs[h->done % TD__PKG_HASH_JOBS];
    *p = j->p + h->head_off;
    *n = j->n - h->head_off < PIECE ? j->n - h->head_off : PIECE;
    h->head_off += *n;
    h->hashing = 1;
    return 1;
}

/* With the lock held: the piece taken is hashed (ok: OpenSSL agreed). */
static void finish_piece(td__pkg_hasher *h, int ok)
{
    h->failed |= !ok;
    h->hashing = 0;
    if (h->head_off == h->jobs[h->done % TD__PKG_HASH_JOBS].n) {
        h->done++;
        h->head_off = 0;
        pthread_cond_broadcast(&h->progress);
    }
    if (h->done != h->posted)
        pthread_cond_signal(&h->work);
}

/* With the lock held: hashes one piece (released meanwhile). 0 when there was none to take. */
static int hash_one(td__pkg_hasher *h)
{
    const uint8_t *p;
    size_t n;
    if (!take_piece(h, &p, &n))
        return 0;
    pthread_mutex_unlock(&h->lock);
    int ok = EVP_DigestUpdate(h->md, p, n) == 1;
    pthread_mutex_lock(&h->lock);
    finish_piece(h, ok);
    return 1;
}

static void *hasher_main(void *arg)
{
    td__pkg_hasher *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop)
        if (!hash_one(h))
            pthread_cond_wait(&h->work, &h->lock);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* With the lock held: hashes (or, while the thread holds the chain, waits) until at least
 * `done` jobs are done. */
static void help_until(td__pkg_hasher *h, uint64_t done)
{
    while (h->done < done)
        if (!hash_one(h))
            pthread_cond_wait(&h->progress, &h->lock);
}

td_status td__pkg_hasher_init(td__pkg_hasher *h, td_error *err)
{
    memset(h, 0, sizeof *h);
    if (!(h->md = EVP_MD_CTX_new()))
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return td__error_set(err, TD_ERR_NOMEM, "package: cannot create a lock");
    }
    if (pthread_cond_init(&h->work, NULL) != 0) {
        pthread_mutex_destroy(&h->lock);
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return td__error_set(err, TD_ERR_NOMEM, "package: cannot create a condition");
    }
    if (pthread_cond_init(&h->progress, NULL) != 0) {
        pthread_cond_destroy(&h->work);
        pthread_mutex_destroy(&h->lock);
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return td__error_set(err, TD_ERR_NOMEM, "package: cannot create a condition");
    }
    h->ready = 1;
    return TD_OK;
}

void td__pkg_hasher_wait_done(td__pkg_hasher *h, uint64_t done)
{
    if (!h->threaded)
        return;
    pthread_mutex_lock(&h->lock);
    help_until(h, done);
    pthread_mutex_unlock(&h->lock);
}

void td__pkg_hasher_wait(td__pkg_hasher *h)
{
    if (!h->threaded)
        return;
    pthread_mutex_lock(&h->lock);
    help_until(h, h->posted);
    pthread_mutex_unlock(&h->lock);
}

void td__pkg_hasher_free(td__pkg_hasher *h)
{
    if (!h->ready)
        return;
    if (h->threaded) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_cond_broadcast(&h->work);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL); /* after the piece in hand, if any */
    }
    pthread_cond_destroy(&h->progress);
    pthread_cond_destroy(&h->work);
    pthread_mutex_destroy(&h->lock);
    EVP_MD_CTX_free(h->md); /* cleanses the state */
    memset(h, 0, sizeof *h);
}

int td__pkg_hasher_reset(td__pkg_hasher *h)
{
    td__pkg_hasher_wait(h);
    h->failed = 0;
    return EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

uint64_t td__pkg_hasher_post(td__pkg_hasher *h, const uint8_t *p, size_t n)
{
    if (!n)
        return h->posted;
    if (!h->threaded && !h->tried && h->inline_bytes + n >= THREAD_FROM) {
        /* Every job so far is done (hashed when posted): the thread starts on an empty queue. */
        h->tried = 1;
        h->threaded = pthread_create(&h->thread, NULL, hasher_main, h) == 0;
    }
    if (!h->threaded) {
        h->inline_bytes += n;
        h->failed |= EVP_DigestUpdate(h->md, p, n) != 1;
        h->done = ++h->posted;
        return h->posted;
    }
    pthread_mutex_lock(&h->lock);
    /* A free slot: the oldest job done (hashed here if need be). */
    if (h->posted >= TD__PKG_HASH_JOBS)
        help_until(h, h->posted + 1 - TD__PKG_HASH_JOBS);
    h->jobs[h->posted % TD__PKG_HASH_JOBS] = (td__pkg_hash_job){p, n};
    uint64_t id = ++h->posted;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->lock);
    return id;
}

int td__pkg_hasher_final(td__pkg_hasher *h, uint8_t out[32])
{
    unsigned int len = 0;
    td__pkg_hasher_wait(h);
    if (h->failed || EVP_DigestFinal_ex(h->md, out, &len) != 1 || len != 32)
        return -1;
    return 0;
}
