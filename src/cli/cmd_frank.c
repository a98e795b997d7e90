/* takedown frank: message franking for those who adopt it (docs/franking.md). `tag` computes what
 * a sending client computes (a salt and the franking tag of a message, with its attachments'
 * commitments when it has any); `verify` checks a franked message with the server's published
 * public key only, as a recipient or a peer can: the tag recomputed from the message and salt,
 * and the server's signature over key id, frank, tag and context. The frank itself is an HMAC
 * under the server's secret: only the service verifies it (a report). No data directory. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/alloc.h"
#include "takedown/frank.h"

const char td_cli_frank_usage[] =
    "Usage: takedown frank tag [--salt HEX] MESSAGE\n"
    "       takedown frank verify (--public-key HEX | --keys FILE) --key-id N --salt HEX MESSAGE\n"
    "                             --sender ID --conversation ID --accepted-ms MS\n"
    "                             --frank HEX --signature HEX\n"
    "\n"
    "MESSAGE: --text STRING or --message-file FILE (the message's bytes), and for a message\n"
    "with attachments --attach BLOBFILE:KEYHEX (repeatable; the blob as delivered, nonce ||\n"
    "AES-256-GCM ciphertext || tag, and its 32-byte key): the franked bytes are then the\n"
    "'tdfm1' envelope of the text and the attachments' commitments (--envelope: the envelope\n"
    "without attachments). Each attachment must open under its key.\n"
    "\n"
    "tag     what a sending client computes: prints 'salt HEX' and 'tag HEX' (HMAC-SHA256 keyed\n"
    "        with the salt over the message). Without --salt, a random one (16 bytes).\n"
    "verify  what a recipient or a peer can check with the server's public key: the tag\n"
    "        recomputed from the message and salt, and the server's Ed25519 signature over key\n"
    "        id, frank, tag and context. --public-key: 64 hex digits; --keys: the JSON of\n"
    "        GET /v1/frank/keys ({\"keys\": [{\"key_id\": N, \"public_key\": HEX}, ...]}), where "
    "the\n"
    "        key of --key-id is looked up (a key marked \"destroyed\" verifies nothing).\n"
    "        Prints 'valid' (exit 0) or 'invalid: REASON' (exit 1). The frank's HMAC needs the\n"
    "        server's secret: only the service checks it (a report).\n"
    "\n"
    "Exit status: 0 done / valid, 1 invalid or failed, 2 usage error.\n";

#define FILE_MAX ((size_t)256 << 20) /* a message or blob file */
#define KEYS_FILE_MAX ((size_t)4 << 20)

typedef struct attach_arg {
    char path[PATH_MAX];
    uint8_t key[TD_FRANK_ATTACH_KEY_LEN];
} attach_arg;

typedef struct options {
    const char *salt, *text, *message_file, *public_key, *keys, *key_id, *sender, *conversation,
        *accepted_ms, *frank, *signature;
    int envelope;
    attach_arg attach[TD_FRANK_ATTACH_MAX];
    size_t n_attach;
} options;

/* Exactly 2 * n hex digits into out. */
static int hex_exact(const char *hex, uint8_t *out, size_t n)
{
    size_t bin_len = 0;
    const char *end = NULL;
    size_t len = strlen(hex);
    return len == 2 * n && sodium_hex2bin(out, n, hex, len, NULL, &bin_len, &end) == 0 &&
                   bin_len == n && end == hex + len
               ? 0
               : -1;
}

static void print_hex(const char *name, const uint8_t *b, size_t n)
{
    char hex[2 * 64 + 1];
    sodium_bin2hex(hex, sizeof hex, b, n);
    printf("%s %s\n", name, hex);
}

/* A whole file of at most cap bytes (td__free the result; an empty file gives a 1-byte buffer). */
static uint8_t *read_file(const char *path, size_t cap, size_t *len)
{
    struct stat sb;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "takedown frank: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > cap) {
        fprintf(stderr, "takedown frank: %s: not a regular file of at most %zu bytes\n", path, cap);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = td__malloc(size ? size : 1);
    if (!buf || fread(buf, 1, size, f) != size) {
        fprintf(stderr, "takedown frank: %s: %s\n", path, buf ? "short read" : "out of memory");
        td__free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = size;
    return buf;
}

/* --attach BLOBFILE:KEYHEX: the key is after the last colon (a path may hold colons). */
static int parse_attach(const char *arg, attach_arg *out)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof out->path ||
        hex_exact(colon + 1, out->key, sizeof out->key) != 0) {
        fprintf(stderr, "takedown frank: --attach '%s': expected BLOBFILE:KEYHEX (64 hex digits)\n",
                arg);
        return -1;
    }
    memcpy(out->path, arg, (size_t)(colon - arg));
    out->path[colon - arg] = '\0';
    return 0;
}

/* The franked bytes of the message the options describe (td__free *msg). 0, 1 (failure) or 2
 * (usage). */
static int message_bytes(const options *o, uint8_t **msg, size_t *len)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    *msg = NULL;
    *len = 0;
    if (!o->text == !o->message_file) {
        fputs("takedown frank: give the message with --text or --message-file (one of them)\n",
              stderr);
        return 2;
    }
    if (o->text) {
        text_len = strlen(o->text);
        text = td__malloc(text_len ? text_len : 1);
        if (!text) {
            fputs("takedown frank: out of memory\n", stderr);
            return 1;
        }
        memcpy(text, o->text, text_len);
    } else if (!(text = read_file(o->message_file, FILE_MAX, &text_len))) {
        return 1;
    }
    if (!o->envelope && o->n_attach == 0) {
        *msg = text;
        *len = text_len;
        return 0;
    }
    /* The envelope: each attachment opened under its key (a client never commits to a key its
     * blob does not open under), then its commitments. */
    td_frank_attachment_ref refs[TD_FRANK_ATTACH_MAX];
    td_error err;
    int rc = 0;
    for (size_t i = 0; i < o->n_attach && rc == 0; i++) {
        const char *path = o->attach[i].path;
        size_t blob_len = 0, plain_len = 0;
        uint8_t *plain = NULL;
        uint8_t *blob = read_file(path, FILE_MAX, &blob_len);
        if (!blob) {
            rc = 1;
            break;
        }
        crypto_hash_sha256(refs[i].blob_sha256, blob, blob_len);
        td_frank_key_commitment(o->attach[i].key, refs[i].key_commitment);
        if (td_frank_attachment_open(&refs[i], o->attach[i].key, blob, blob_len, &plain, &plain_len,
                                     &err) != TD_OK) {
            fprintf(stderr, "takedown frank: attachment %zu (%s): %s\n", i, path, err.message);
            rc = 1;
        }
        td_free(plain);
        td__free(blob);
    }
    if (rc == 0 && td_frank_message_encode((const char *)text, text_len, refs, o->n_attach, msg,
                                           len, &err) != TD_OK) {
        fprintf(stderr, "takedown frank: %s\n", err.message);
        rc = 1;
    }
    td__free(text);
    return rc;
}

static int cmd_tag(const options *o)
{
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN];
    if (o->salt) {
        if (hex_exact(o->salt, salt, sizeof salt) != 0) {
            fprintf(stderr, "takedown frank tag: --salt: 32 hex digits expected\n");
            return 2;
        }
    } else {
        randombytes_buf(salt, sizeof salt);
    }
    uint8_t *msg = NULL;
    size_t len = 0;
    int rc = message_bytes(o, &msg, &len);
    if (rc != 0)
        return rc;
    td_frank_tag(salt, msg, len, tag);
    td_free(msg);
    print_hex("salt", salt, sizeof salt);
    print_hex("tag", tag, sizeof tag);
    return 0;
}

/* The public key of key_id in a GET /v1/frank/keys document. 0, or 1 with the reason printed. */
static int key_from_file(const char *path, uint32_t key_id, uint8_t pub[TD_FRANK_PUBKEY_LEN])
{
    size_t len = 0;
    uint8_t *text = read_file(path, KEYS_FILE_MAX, &len);
    if (!text)
        return 1;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    td__free(text);
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        fprintf(stderr, "takedown frank verify: %s: not a key list ({\"keys\": [...]})%s%s\n", path,
                doc ? "" : ": ", doc ? "" : jerr.text);
        json_decref(doc);
        return 1;
    }
    int rc = -1;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        json_t *id = json_object_get(k, "key_id");
        if (!json_is_integer(id) || json_integer_value(id) != (json_int_t)key_id)
            continue;
        const char *hex = json_string_value(json_object_get(k, "public_key"));
        const char *status = json_string_value(json_object_get(k, "status"));
        if (json_is_true(json_object_get(k, "destroyed")) ||
            (status && strcmp(status, "destroyed") == 0)) {
            printf("invalid: key %u was destroyed at the end of its retention; its franks no "
                   "longer verify\n",
                   key_id);
            rc = 1;
        } else if (!hex || hex_exact(hex, pub, TD_FRANK_PUBKEY_LEN) != 0) {
            fprintf(stderr,
                    "takedown frank verify: %s: key %u has no public_key of 64 hex "
                    "digits\n",
                    path, key_id);
            rc = 1;
        } else {
            rc = 0;
        }
        break;
    }
    if (rc < 0) {
        printf("invalid: key %u is not in %s\n", key_id, path);
        rc = 1;
    }
    json_decref(doc);
    return rc;
}

static int cmd_verify(const options *o)
{
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN], pub[TD_FRANK_PUBKEY_LEN];
    td_frank_proof proof;
    td_frank_context ctx;
    char *end = NULL;
    memset(&proof, 0, sizeof proof);
    if (!o->public_key == !o->keys || !o->key_id || !o->salt || !o->sender || !o->conversation ||
        !o->accepted_ms || !o->frank || !o->signature) {
        fputs("takedown frank verify: --public-key or --keys, --key-id, --salt, --sender, "
              "--conversation, --accepted-ms, --frank and --signature are required\n",
              stderr);
        return 2;
    }
    errno = 0;
    unsigned long long id = strtoull(o->key_id, &end, 10);
    if (!*o->key_id || *end || *o->key_id == '-' || errno || id == 0 || id > UINT32_MAX) {
        fprintf(stderr, "takedown frank verify: --key-id: '%s' is not a key id (1..%u)\n",
                o->key_id, UINT32_MAX);
        return 2;
    }
    errno = 0;
    long long ms = strtoll(o->accepted_ms, &end, 10);
    if (!*o->accepted_ms || *end || errno || ms < 0) {
        fprintf(stderr, "takedown frank verify: --accepted-ms: '%s' is not a time in ms\n",
                o->accepted_ms);
        return 2;
    }
    if (hex_exact(o->salt, salt, sizeof salt) != 0 ||
        hex_exact(o->frank, proof.frank, sizeof proof.frank) != 0 ||
        hex_exact(o->signature, proof.signature, sizeof proof.signature) != 0 ||
        (o->public_key && hex_exact(o->public_key, pub, sizeof pub) != 0)) {
        fputs("takedown frank verify: --salt (32), --frank (64), --signature (128) and "
              "--public-key (64) take that many hex digits\n",
              stderr);
        return 2;
    }
    proof.key_id = (uint32_t)id;
    ctx.sender = o->sender;
    ctx.sender_len = strlen(o->sender);
    ctx.conversation = o->conversation;
    ctx.conversation_len = strlen(o->conversation);
    ctx.accepted_ms = ms;
    uint8_t *msg = NULL;
    size_t len = 0;
    int rc = message_bytes(o, &msg, &len);
    if (rc != 0)
        return rc;
    td_frank_tag(salt, msg, len, tag);
    td_free(msg);
    if (o->keys && key_from_file(o->keys, proof.key_id, pub) != 0)
        return 1;
    td_error err;
    if (td_frank_verify_signature(pub, tag, &ctx, &proof, &err) != TD_OK) {
        printf("invalid: %s\n", err.message);
        return 1;
    }
    puts("valid");
    return 0;
}

int td_cli_frank(int argc, char **argv)
{
    static options o; /* 16 paths of PATH_MAX: off the stack */
    memset(&o, 0, sizeof o);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(td_cli_frank_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--envelope") == 0) {
            o.envelope = 1;
            continue;
        }
        if (strcmp(argv[i], "--attach") == 0 && i + 1 < argc) {
            if (o.n_attach == TD_FRANK_ATTACH_MAX) {
                fprintf(stderr, "takedown frank: at most %d attachments\n", TD_FRANK_ATTACH_MAX);
                return 2;
            }
            if (parse_attach(argv[++i], &o.attach[o.n_attach]) != 0)
                return 2;
            o.n_attach++;
            continue;
        }
        static const struct {
            const char *name;
            size_t offset;
        } flags[] = {
            {"--salt", offsetof(options, salt)},
            {"--text", offsetof(options, text)},
            {"--message-file", offsetof(options, message_file)},
            {"--public-key", offsetof(options, public_key)},
            {"--keys", offsetof(options, keys)},
            {"--key-id", offsetof(options, key_id)},
            {"--sender", offsetof(options, sender)},
            {"--conversation", offsetof(options, conversation)},
            {"--accepted-ms", offsetof(options, accepted_ms)},
            {"--frank", offsetof(options, frank)},
            {"--signature", offsetof(options, signature)},
        };
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            if (strcmp(argv[i], flags[f].name) == 0)
                slot = (const char **)((char *)&o + flags[f].offset);
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "takedown frank: unknown or incomplete option '%s'\n%s", argv[i],
                    td_cli_frank_usage);
            return 2;
        }
        *slot = argv[++i];
    }
    if (sodium_init() < 0) {
        fputs("takedown frank: libsodium does not initialise\n", stderr);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "tag") == 0) {
        if (o.public_key || o.keys || o.key_id || o.sender || o.conversation || o.accepted_ms ||
            o.frank || o.signature) {
            fputs("takedown frank tag: takes --salt and the message only\n", stderr);
            return 2;
        }
        rc = cmd_tag(&o);
    } else if (strcmp(argv[1], "verify") == 0) {
        rc = cmd_verify(&o);
    } else {
        fprintf(stderr, "takedown frank: unknown subcommand '%s'\n%s", argv[1], td_cli_frank_usage);
        return 2;
    }
    fflush(stdout);
    return rc;
}
