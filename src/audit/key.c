/* The log's Ed25519 signing key (and any other Ed25519 key the library keeps in a file: the
 * evidence orders' delivery key): one file in the data directory, created on first use with mode
 * 0600 and refused when group or others may read it (like ssh does with private keys). The file
 * holds the 32-byte seed in hex; the expanded key lives only in libsodium's guarded memory. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/key.h"
#include "audit/audit_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

#define SEED_HEX (2 * crypto_sign_SEEDBYTES)

static td_status write_all(int fd, const char *buf, size_t len, const char *path, td_error *err)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return td__error_set(err, TD_ERR_IO, "key file %s: write: %s", path, strerror(errno));
        buf += w;
        len -= (size_t)w;
    }
    return TD_OK;
}

static td_status create_key(const char *path, uint8_t *seed, td_error *err)
{
    char hex[SEED_HEX + 2];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return td__error_set(err, errno == EEXIST ? TD_ERR_CONFLICT : TD_ERR_IO,
                             "key file %s: create: %s", path, strerror(errno));
    randombytes_buf(seed, crypto_sign_SEEDBYTES);
    td__hex_encode(seed, crypto_sign_SEEDBYTES, hex);
    hex[SEED_HEX] = '\n';
    td_status st = write_all(fd, hex, SEED_HEX + 1, path, err);
    if (st == TD_OK && fsync(fd) != 0)
        st = td__error_set(err, TD_ERR_IO, "key file %s: fsync: %s", path, strerror(errno));
    close(fd);
    sodium_memzero(hex, sizeof hex);
    if (st)
        unlink(path);
    return st;
}

static td_status read_key(const char *path, uint8_t *seed, td_error *err)
{
    char hex[SEED_HEX + 3];
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return td__error_set(err, errno == ENOENT ? TD_ERR_NOT_FOUND : TD_ERR_IO, "key file %s: %s",
                             path, strerror(errno));
    td_status st = TD_OK;
    if (fstat(fd, &sb) != 0) {
        st = td__error_set(err, TD_ERR_IO, "key file %s: stat: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
        st = td__error_set(err, TD_ERR_INVALID,
                           "key file %s: not a regular file of mode 0600 (chmod 600 it)", path);
    } else {
        ssize_t n = read(fd, hex, sizeof hex);
        size_t len = n > 0 ? (size_t)n : 0;
        while (len && (hex[len - 1] == '\n' || hex[len - 1] == '\r'))
            len--;
        if (n < 0 || td__hex_decode_exact(hex, len, seed, crypto_sign_SEEDBYTES) != 0)
            st = td__error_set(err, TD_ERR_CORRUPT, "key file %s: not a %d-digit hex seed", path,
                               SEED_HEX);
    }
    close(fd);
    sodium_memzero(hex, sizeof hex);
    return st;
}

td_status td__key_file_load(const char *dir, const char *file, uint8_t *sk,
                            uint8_t pk[crypto_sign_PUBLICKEYBYTES], td_error *err)
{
    td_status st = td__sodium_ready(err);
    if (st)
        return st;
    size_t plen = strlen(dir) + strlen(file) + 2;
    char *path = td__malloc(plen);
    uint8_t *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    if (!path || !seed) {
        td__free(path);
        sodium_free(seed);
        return td__error_set(err, TD_ERR_NOMEM, "key file: out of memory");
    }
    snprintf(path, plen, "%s/%s", dir, file);
    st = read_key(path, seed, err);
    if (st == TD_ERR_NOT_FOUND) {
        st = create_key(path, seed, err);
        if (st == TD_ERR_CONFLICT) /* another process created it first */
            st = read_key(path, seed, err);
    }
    if (st == TD_OK)
        crypto_sign_seed_keypair(pk, sk, seed);
    sodium_free(seed);
    td__free(path);
    return st;
}

td_status td__audit_key_load(const char *dir, uint8_t *sk, uint8_t pk[crypto_sign_PUBLICKEYBYTES],
                             td_error *err)
{
    return td__key_file_load(dir, TD__AUDIT_KEY_FILE, sk, pk, err);
}
