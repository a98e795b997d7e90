/* libFuzzer harness: the evidence package reader (td_package_open) on untrusted files. Random
 * bytes rarely get past authentication, so the first input byte picks a mode:
 *  - bit 0 clear: the rest is the package file, as is (header, framing, key and authentication
 *    checks; the seed corpus holds genuine packages for the fixed recipient key below);
 *  - bit 0 set: the rest is a script of messages that the harness encrypts into a valid stream
 *    for that key, so that everything after authentication is reached (record headers, names,
 *    the grammar, the manifest's JSON): each message is kind (1 byte), tag (1 byte), length (2
 *    bytes, big-endian), plaintext; a manifest ('M') whose tag has bit 7 set gets its length
 *    prefix and a valid signature added; kind 0xFF appends its bytes raw (trailing data);
 *  - bit 1 set: the records are written into an output directory (else verify only), and a
 *    failure must leave that directory empty;
 *  - bit 2 set: no expected signer key.
 * Invariants: TD_OK exactly when the report says verified; a verified package's records obey the
 * name rule and the limits; a failed one leaves no file behind. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/package_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHUNK 1024
#define MAX_FILE (1u << 20)

static uint8_t rcpt_pk[32], rcpt_sk[32], sign_pk[32], sign_sk[64];
static uint8_t header[TD__PKG_HEADER_LEN];
static crypto_secretstream_xchacha20poly1305_state state0; /* right after the header */
static uint8_t *file;
static char out_dir[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[32], key[32];
    if (sodium_init() < 0)
        abort();
    /* Fixed keys, so that the seed corpus's genuine packages open. */
    memset(seed, 0x42, sizeof seed);
    crypto_box_seed_keypair(rcpt_pk, rcpt_sk, seed);
    memset(seed, 0x24, sizeof seed);
    crypto_sign_seed_keypair(sign_pk, sign_sk, seed);
    memcpy(header, TD__PKG_MAGIC, TD__PKG_MAGIC_LEN);
    td__pkg_put16(header + TD__PKG_OFF_VERSION, TD__PKG_VERSION);
    td__pkg_put32(header + TD__PKG_OFF_CHUNK, CHUNK);
    for (int i = 0; i < TD__PKG_ID_LEN; i++) /* package id 000102...0f */
        header[TD__PKG_OFF_ID + i] = (uint8_t)i;
    memset(key, 0x17, sizeof key);
    if (crypto_box_seal(header + TD__PKG_OFF_SEALED, key, sizeof key, rcpt_pk) != 0 ||
        crypto_secretstream_xchacha20poly1305_init_push(&state0, header + TD__PKG_OFF_STREAM,
                                                        key) != 0)
        abort();
    file = malloc(MAX_FILE);
    snprintf(out_dir, sizeof out_dir, "%s/td-fuzz-package-%ld",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    if (!file)
        abort();
    return 0;
}

/* Encrypts the script into file after the header; returns the file's length. */
static size_t build(const uint8_t *s, size_t n)
{
    crypto_secretstream_xchacha20poly1305_state ss = state0;
    static uint8_t plain[65536 + 4 + 64], signed_msg[65536 + 64];
    size_t len = TD__PKG_HEADER_LEN, msg = 0;
    memcpy(file, header, TD__PKG_HEADER_LEN);
    while (n >= 4) {
        uint8_t kind = s[0], tag = s[1];
        size_t plen = (size_t)s[2] << 8 | s[3];
        s += 4;
        n -= 4;
        if (plen > n)
            plen = n;
        if (kind == 0xFF) { /* raw bytes */
            if (len + plen > MAX_FILE)
                break;
            memcpy(file + len, s, plen);
            len += plen;
            s += plen;
            n -= plen;
            continue;
        }
        const uint8_t *p = s;
        size_t m = plen;
        if (kind == TD__PKG_KIND_MANIFEST && (tag & 0x80)) {
            memcpy(signed_msg, TD__PKG_SIGN_CONTEXT, TD__PKG_SIGN_CONTEXT_LEN);
            memcpy(signed_msg + TD__PKG_SIGN_CONTEXT_LEN, s, plen);
            td__pkg_put32(plain, (uint32_t)plen);
            memcpy(plain + 4, s, plen);
            crypto_sign_detached(plain + 4 + plen, NULL, signed_msg,
                                 TD__PKG_SIGN_CONTEXT_LEN + plen, sign_sk);
            p = plain;
            m = plen + TD__PKG_MANIFEST_OVERHEAD;
            tag &= 0x7f;
        }
        if (len + TD__PKG_FRAME_LEN + m + TD__PKG_ABYTES > MAX_FILE)
            break;
        uint8_t ad[TD__PKG_HEADER_LEN + 1];
        size_t ad_len = 0;
        if (msg++ == 0) {
            memcpy(ad, header, TD__PKG_HEADER_LEN);
            ad_len = TD__PKG_HEADER_LEN;
        }
        ad[ad_len++] = kind;
        file[len] = kind;
        td__pkg_put32(file + len + 1, (uint32_t)(m + TD__PKG_ABYTES));
        crypto_secretstream_xchacha20poly1305_push(&ss, file + len + TD__PKG_FRAME_LEN, NULL, p, m,
                                                   ad, ad_len, tag);
        len += TD__PKG_FRAME_LEN + m + TD__PKG_ABYTES;
        s += plen;
        n -= plen;
    }
    return len;
}

/* Removes what a verified opening wrote (records/<names>, manifest.*); aborts on anything else
 * left in the directory. */
static void empty_out_dir(int verified)
{
    char path[512];
    snprintf(path, sizeof path, "%s/records", out_dir);
    DIR *d = opendir(path);
    if (d) {
        if (!verified)
            abort(); /* a failed opening removes the records directory it made */
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (e->d_name[0] == '.')
                abort(); /* a .partial- file after a finished opening */
            snprintf(path, sizeof path, "%s/records/%s", out_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
        snprintf(path, sizeof path, "%s/records", out_dir);
        rmdir(path);
    }
    snprintf(path, sizeof path, "%s/manifest.json", out_dir);
    if (unlink(path) == 0 && !verified)
        abort();
    snprintf(path, sizeof path, "%s/manifest.sig", out_dir);
    if (unlink(path) == 0 && !verified)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t len;
    if (mode & 1) {
        len = build(data + 1, size - 1);
    } else {
        len = size - 1 < MAX_FILE ? size - 1 : MAX_FILE;
        memcpy(file, data + 1, len);
    }
    int fd = memfd_create("package", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, file + off, len - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    lseek(fd, 0, SEEK_SET);
    int output = (mode & 2) != 0;
    if (output)
        mkdir(out_dir, 0700);
    td_package_report rep;
    td_error err;
    td_status st = td__package_open_fd(fd, "fuzz", rcpt_sk, (mode & 4) ? NULL : sign_pk,
                                       output ? out_dir : NULL, &rep, &err);
    close(fd);
    if ((st == TD_OK) != (rep.problem == TD_PACKAGE_VERIFIED))
        abort();
    if (st == TD_OK) {
        if (rep.n_records > TD_PACKAGE_RECORDS_MAX || !rep.manifest ||
            rep.manifest_len > TD_PACKAGE_MANIFEST_MAX || rep.signature_checked != !(mode & 4))
            abort();
        for (size_t i = 0; i < rep.n_records; i++)
            if (!td__pkg_name_ok(rep.records[i].name, strlen(rep.records[i].name)))
                abort();
    } else if (!err.message[0]) {
        abort();
    }
    if (output) {
        empty_out_dir(st == TD_OK);
        if (rmdir(out_dir) != 0) /* anything else left in it fails here */
            abort();
    }
    td_package_report_clear(&rep);
    return 0;
}
