/* API keys: 32 random bytes from libsodium, shown once as "tdk_" + 64 hex digits; only the
 * SHA-256 of the key text is stored. A presented key is hashed and looked up by that hash, and
 * the stored hash is compared again in constant time before the key counts. Creating and
 * revoking a key are audit entries (key.create, key.revoke) that name the key by id, role and
 * name, never by its text. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

static void key_hash(const char *key, size_t len, unsigned char out[crypto_hash_sha256_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)key, len);
}

static void info_row(td_stmt *q, td_key_info *k)
{
    memset(k, 0, sizeof *k);
    k->id = td_stmt_column_int64(q, 0);
    k->role = (td_role)td_stmt_column_int64(q, 1);
    td__copy_trunc(k->name, sizeof k->name, td_stmt_column_text(q, 2));
    td__copy_trunc(k->prefix, sizeof k->prefix, td_stmt_column_text(q, 3));
    k->created_ms = td_stmt_column_int64(q, 4);
    k->revoked_ms = td_stmt_column_int64(q, 5);
    k->platform_key = td_stmt_column_int64(q, 6);
}

/* The platform (its first key's id) of platform key id, on connection c. */
td_status td__key_platform(td_store_conn *c, int64_t id, int64_t *platform, td_error *err)
{
    td_stmt *q;
    int row = 0, ok = 0;
    td_status st;
    *platform = 0;
    if ((st = td_store_prepare(c, "SELECT role, platform_key FROM api_keys WHERE id = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row && td_stmt_column_int64(q, 0) == TD_ROLE_PLATFORM) {
        int64_t first = td_stmt_column_int64(q, 1);
        *platform = first > 0 ? first : id;
        ok = 1;
    }
    td_stmt_reset(q);
    return ok ? TD_OK
              : td__error_set(err, TD_ERR_INVALID, "platform_key: %lld is not a platform key",
                              (long long)id);
}

static td_status create_on(td_service *svc, td_store_conn *c, const td_principal *who, td_role role,
                           const char *name, int64_t platform, char key_out[TD_KEY_TEXT_MAX],
                           td_key_info *out, td_error *err)
{
    unsigned char raw[32], hash[crypto_hash_sha256_BYTES];
    char key[TD_KEY_TEXT_MAX], prefix[13];
    td_stmt *q;
    int row;
    memcpy(key, "tdk_", 4);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(key + 4, sizeof key - 4, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    key_hash(key, TD_KEY_TEXT_LEN, hash);
    memcpy(prefix, key, 12);
    prefix[12] = '\0';
    int64_t now = td__now(svc);
    td_status st = td_store_prepare(c,
                                    "INSERT INTO api_keys (hash, prefix, role, name, created_ms,"
                                    " platform_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                                    &q, err);
    if (st || (st = td_stmt_bind_blob(q, 1, hash, sizeof hash, err)) ||
        (st = td_stmt_bind_text(q, 2, prefix, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, role, err)) ||
        (st = td_stmt_bind_text(q, 4, name ? name : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) ||
        (st = td_stmt_bind_int64(q, 6, platform, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    int64_t id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    char def[TD_NAME_MAX + 1];
    if (!name || !*name) {
        snprintf(def, sizeof def, "key-%lld", (long long)id);
        if ((st = td_store_prepare(c, "UPDATE api_keys SET name = $1 WHERE id = $2", &q, err)) ||
            (st = td_stmt_bind_text(q, 1, def, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, id, err)) || (st = td_stmt_run(q, NULL, err)))
            goto out;
        name = def;
    }
    if ((st = td__audit_id(svc, c, who, "key.create", "key", id,
                           json_pack("{s:s, s:s, s:I}", "role", td_role_name(role), "name", name,
                                     "platform_key", (json_int_t)platform),
                           err)))
        goto out;
    memcpy(key_out, key, TD_KEY_TEXT_MAX);
    if (out) {
        memset(out, 0, sizeof *out);
        out->id = id;
        out->role = role;
        td__copy_trunc(out->name, sizeof out->name, name);
        memcpy(out->prefix, prefix, sizeof out->prefix);
        out->created_ms = now;
        out->platform_key = platform;
    }
out:
    sodium_memzero(key, sizeof key);
    return st;
}

static td_status check_name(const char *name, td_error *err)
{
    size_t n = name ? strnlen(name, TD_NAME_MAX + 1) : 0;
    if (n > TD_NAME_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "key name longer than %d bytes", TD_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return td__error_set(err, TD_ERR_INVALID, "key name has a control character");
    return TD_OK;
}

td_status td_key_create(td_service *svc, td_role role, const char *name,
                        char key_out[TD_KEY_TEXT_MAX], td_key_info *out, td_error *err)
{
    return td_key_create_for(svc, role, name, 0, key_out, out, err);
}

td_status td_key_create_for(td_service *svc, td_role role, const char *name, int64_t platform_key,
                            char key_out[TD_KEY_TEXT_MAX], td_key_info *out, td_error *err)
{
    return td_key_create_as(svc, NULL, role, name, platform_key, key_out, out, err);
}

typedef struct create_args {
    td_service *svc;
    const td_principal *who;
    td_role role;
    const char *name;
    int64_t platform_key;
    char *key_out;
    td_key_info *out;
} create_args;

static td_status create_body(td_store_conn *c, void *ctx, td_error *err)
{
    create_args *a = ctx;
    int64_t platform = 0;
    td_status st;
    if (a->platform_key && (st = td__key_platform(c, a->platform_key, &platform, err)))
        return st;
    return create_on(a->svc, c, a->who, a->role, a->name, platform, a->key_out, a->out, err);
}

td_status td_key_create_as(td_service *svc, const td_principal *who, td_role role, const char *name,
                           int64_t platform_key, char key_out[TD_KEY_TEXT_MAX], td_key_info *out,
                           td_error *err)
{
    key_out[0] = '\0';
    if (role < TD_ROLE_ADMIN || role > TD_ROLE_LEGAL)
        return td__error_set(err, TD_ERR_INVALID, "unknown role");
    if (platform_key && role != TD_ROLE_PLATFORM)
        return td__error_set(err, TD_ERR_INVALID, "platform_key: only for keys of role platform");
    if (platform_key < 0)
        return td__error_set(err, TD_ERR_INVALID, "platform_key: not a key id");
    td_status st = check_name(name, err);
    if (st)
        return st;
    create_args a = {svc, who, role, name, platform_key, key_out, out};
    if ((st = td_store_write(svc->store, create_body, &a, err)))
        key_out[0] = '\0';
    return st;
}

td_status td_key_verify(td_service *svc, const char *key, td_principal *out, td_error *err)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    td_store_conn *c;
    td_stmt *q;
    int row;
    size_t n = key ? strnlen(key, TD_KEY_TEXT_LEN + 1) : 0;
    if (n != TD_KEY_TEXT_LEN || memcmp(key, "tdk_", 4) != 0)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown API key");
    key_hash(key, n, hash);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT id, role, name, revoked_ms, hash, platform_key"
                               " FROM api_keys WHERE hash = $1",
                               &q, err)) ||
        (st = td_stmt_bind_blob(q, 1, hash, sizeof hash, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row || td_stmt_column_bytes(q, 4) != sizeof hash ||
        sodium_memcmp(td_stmt_column_blob(q, 4), hash, sizeof hash) != 0 ||
        td_stmt_column_int64(q, 3) != 0) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "unknown or revoked API key");
        goto out;
    }
    memset(out, 0, sizeof *out);
    out->id = td_stmt_column_int64(q, 0);
    out->role = (td_role)td_stmt_column_int64(q, 1);
    td__copy_trunc(out->name, sizeof out->name, td_stmt_column_text(q, 2));
    out->platform = td_stmt_column_int64(q, 5);
out:
    td_store_release(svc->store, c);
    return st;
}

static void info_item(td_stmt *q, void *item) { info_row(q, item); }

td_status td_key_list(td_service *svc, td_key_info **out, size_t *count, td_error *err)
{
    return td_store_read_rows(svc->store,
                              "SELECT id, role, name, prefix, created_ms, revoked_ms, platform_key"
                              " FROM api_keys ORDER BY id",
                              NULL, 0, TD_KEY_LIST_MAX, sizeof **out, info_item, (void **)out,
                              count, err);
}

td_status td_key_revoke(td_service *svc, int64_t id, td_error *err)
{
    return td_key_revoke_as(svc, NULL, id, err);
}

typedef struct revoke_args {
    td_service *svc;
    const td_principal *who;
    int64_t id;
} revoke_args;

static td_status revoke_body(td_store_conn *c, void *ctx, td_error *err)
{
    revoke_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "UPDATE api_keys SET revoked_ms = $1 WHERE id = $2"
                               " AND revoked_ms = 0",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, td__now(a->svc), err)) ||
        (st = td_stmt_bind_int64(q, 2, a->id, err)) || (st = td_stmt_run(q, &changed, err)))
        return st;
    if (!changed)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no valid key %lld", (long long)a->id);
    return td__audit_id(a->svc, c, a->who, "key.revoke", "key", a->id, NULL, err);
}

td_status td_key_revoke_as(td_service *svc, const td_principal *who, int64_t id, td_error *err)
{
    revoke_args a = {svc, who, id};
    return td_store_write(svc->store, revoke_body, &a, err);
}

typedef struct ensure_args {
    td_service *svc;
    char *key_out;
    int created;
} ensure_args;

static td_status ensure_body(td_store_conn *c, void *ctx, td_error *err)
{
    ensure_args *a = ctx;
    td_stmt *q;
    int row;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT id FROM api_keys WHERE role = $1 AND revoked_ms = 0"
                               " LIMIT 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, TD_ROLE_ADMIN, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (row)
        return TD_OK;
    if ((st = create_on(a->svc, c, NULL, TD_ROLE_ADMIN, "admin", 0, a->key_out, NULL, err)))
        return st;
    a->created = 1;
    return TD_OK;
}

td_status td_key_ensure_admin(td_service *svc, char key_out[TD_KEY_TEXT_MAX], int *created,
                              td_error *err)
{
    key_out[0] = '\0';
    *created = 0;
    /* Check and create in one write transaction: two servers starting together make one key. */
    ensure_args a = {svc, key_out, 0};
    td_status st = td_store_write(svc->store, ensure_body, &a, err);
    if (st)
        key_out[0] = '\0';
    else
        *created = a.created;
    return st;
}
