/* Image-or-video dispatch: the one place that decides, from the first bytes, whether media goes
 * to the image hasher (PDQ, variants, digests) or the video hasher (digests, vPDQ, TMK), so the
 * CLI and the service route the same bytes the same way. A known image format wins; anything
 * else a video container probe recognises is a video; the rest goes to the image path, whose
 * decoder names the problem. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "takedown/video_hash.h"

/* Enough for every signature td_image_sniff and td_video_sniff look at. */
#define SNIFF_BYTES 256

td_media_kind td_media_sniff(const uint8_t *data, size_t len)
{
    if (td_image_sniff(data, len) == TD_FORMAT_UNKNOWN && td_video_sniff(data, len))
        return TD_MEDIA_VIDEO;
    return TD_MEDIA_IMAGE;
}

void td_media_hash_options_default(td_media_hash_options *opts)
{
    memset(opts, 0, sizeof *opts);
    td_hash_options_default(&opts->image);
    td_video_hash_options_default(&opts->video);
}

void td_media_hashes_clear(td_media_hashes *h)
{
    if (!h)
        return;
    if (h->kind == TD_MEDIA_VIDEO)
        td_video_hashes_clear(&h->video);
    memset(h, 0, sizeof *h);
}

td_status td_hash_media(const char *name, const uint8_t *data, size_t len,
                        const td_media_hash_options *opts, td_media_hashes *out, td_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = td_media_sniff(data, len);
    if (out->kind == TD_MEDIA_VIDEO)
        return td_video_hash_bytes(name, data, len, opts ? &opts->video : NULL, &out->video, err);
    return td_hash_bytes(name, data, len, opts ? &opts->image : NULL, &out->image, err);
}

td_status td_hash_media_file(const char *path, const td_media_hash_options *opts,
                             td_media_hashes *out, td_error *err)
{
    uint8_t head[SNIFF_BYTES];
    size_t n = 0;
    memset(out, 0, sizeof *out);
    /* A file that cannot be opened goes the image way, whose reader reports it. */
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    out->kind = td_media_sniff(head, n);
    if (out->kind == TD_MEDIA_VIDEO)
        return td_video_hash_file(path, opts ? &opts->video : NULL, &out->video, err);
    return td_hash_file(path, opts ? &opts->image : NULL, &out->image, err);
}
