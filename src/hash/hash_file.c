/* Everything derived from one image file: PDQ (and its dihedral variants), MD5, SHA-256. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "takedown/hash.h"

void td_hash_options_default(td_hash_options *opts)
{
    memset(opts, 0, sizeof *opts);
    td_decode_options_default(&opts->decode);
}

td_status td_hash_bytes(const char *name, const uint8_t *data, size_t len,
                        const td_hash_options *opts, td_file_hashes *out, td_error *err)
{
    td_hash_options defaults;
    td_image img = {0};
    td_status st;
    if (!opts) {
        td_hash_options_default(&defaults);
        opts = &defaults;
    }
    memset(out, 0, sizeof *out);
    if (!name)
        name = "(memory)";

    td_decode_options decode = opts->decode;
    if (opts->fast) {
        if (decode.min_side == 0)
            decode.min_side = TD_PDQ_FAST_MIN_SIDE;
        decode.luma_only = 1;
    }
    st = td_image_decode(data, len, &decode, &img, err);
    if (st != TD_OK) {
        td__error_prefix(err, "%s: ", name);
        return st;
    }
    out->format = td_image_sniff(data, len);
    out->width = img.width;
    out->height = img.height;
    out->n_pdq = opts->dihedral ? TD_DIH_COUNT : 1;
    st = td_pdq_hash_image(&img, opts->dihedral, out->pdq, &out->quality, err);
    td_image_clear(&img);
    if (st == TD_OK && (st = td_md5_hex(data, len, out->md5)) == TD_OK)
        st = td_sha256_hex(data, len, out->sha256);
    if (st != TD_OK) {
        if (!err || err->code != st)
            td__error_set(err, st, "%s", td_strerror(st));
        td__error_prefix(err, "%s: ", name);
    }
    return st;
}

td_status td_hash_file(const char *path, const td_hash_options *opts, td_file_hashes *out,
                       td_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    td_decode_options defaults;
    uint64_t max_bytes;
    if (opts) {
        max_bytes = opts->decode.max_file_bytes;
    } else {
        td_decode_options_default(&defaults);
        max_bytes = defaults.max_file_bytes;
    }
    td_status st = td_file_read(path, max_bytes, &data, &len, err);
    if (st != TD_OK) {
        td__error_prefix(err, "%s: ", path);
        return st;
    }
    st = td_hash_bytes(path, data, len, opts, out, err);
    td_free(data);
    return st;
}
