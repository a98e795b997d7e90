/* The SHA-256 of a record, computed beside its encryption. Both cost about the same per byte
 * (SHA-256 with the CPU's SHA extensions through OpenSSL; XChaCha20-Poly1305 through libsodium),
 * so hashing a batch of plaintext on a second thread while the caller's thread encrypts or
 * decrypts the same bytes brings the package close to the speed of the bare stream
 * (bench/evidence/bench_package.c). One job at a time: a job is a range of memory that both
 * threads only read, and the hasher is idle again before the memory is reused or handed back to
 * the writer's caller. Without a thread (pthread_create failed) jobs are hashed inline, with the
 * same results. */
#include <string.h>

#include "core/error.h"
#include "evidence/package_int.h"

static void *hasher_main(void *arg)
{
    td__pkg_hasher *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->busy && !h->stop)
            pthread_cond_wait(&h->cond, &h->lock);
        if (!h->busy) /* stop, and nothing left to do */
            break;
        const uint8_t *p = h->job;
        size_t n = h->job_len;
        pthread_mutex_unlock(&h->lock);
        int ok = EVP_DigestUpdate(h->md, p, n) == 1;
        pthread_mutex_lock(&h->lock);
        h->failed |= !ok;
        h->busy = 0;
        pthread_cond_broadcast(&h->cond);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
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
    if (pthread_cond_init(&h->cond, NULL) != 0) {
        pthread_mutex_destroy(&h->lock);
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return td__error_set(err, TD_ERR_NOMEM, "package: cannot create a condition");
    }
    h->ready = 1;
    h->threaded = pthread_create(&h->thread, NULL, hasher_main, h) == 0;
    return TD_OK;
}

void td__pkg_hasher_wait(td__pkg_hasher *h)
{
    if (!h->threaded)
        return;
    pthread_mutex_lock(&h->lock);
    while (h->busy)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

void td__pkg_hasher_free(td__pkg_hasher *h)
{
    if (!h->ready)
        return;
    if (h->threaded) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL); /* after the job in hand, if any */
    }
    pthread_cond_destroy(&h->cond);
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

void td__pkg_hasher_post(td__pkg_hasher *h, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    if (!h->threaded) {
        h->failed |= EVP_DigestUpdate(h->md, p, n) != 1;
        return;
    }
    pthread_mutex_lock(&h->lock);
    while (h->busy)
        pthread_cond_wait(&h->cond, &h->lock);
    h->job = p;
    h->job_len = n;
    h->busy = 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

int td__pkg_hasher_final(td__pkg_hasher *h, uint8_t out[32])
{
    unsigned int len = 0;
    td__pkg_hasher_wait(h);
    if (h->failed || EVP_DigestFinal_ex(h->md, out, &len) != 1 || len != 32)
        return -1;
    return 0;
}
