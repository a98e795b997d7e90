/* libFuzzer driver for the image decoders, compiled once per format (fuzz/CMakeLists.txt builds
 * fuzz_bmp, fuzz_gif, fuzz_jpeg, fuzz_png and fuzz_webp from it with TD_FUZZ_FORMAT set to the
 * td_format value). Inputs sniffed as another format are skipped, so that every run reaches the
 * chosen decoder; the limits are small to keep each run fast. */
#include <stddef.h>
#include <stdint.h>

#include "takedown/media.h"

#ifndef TD_FUZZ_FORMAT
#error "TD_FUZZ_FORMAT must name the decoder's td_format (e.g. TD_FORMAT_PNG)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (td_image_sniff(data, size) != TD_FUZZ_FORMAT)
        return -1; /* not added to the corpus */
    td_decode_options opts;
    td_decode_options_default(&opts);
    opts.max_file_bytes = (uint64_t)4 << 20;
    opts.max_pixels = (uint64_t)4 << 20;
    opts.min_side = size & 1 ? 0 : 64; /* exercise JPEG DCT scaling on half of the inputs */
    td_image img;
    td_error err;
    if (td_image_decode(data, size, &opts, &img, &err) == TD_OK) {
        /* Touch every byte so that a short pixel buffer shows up under ASan. */
        volatile uint8_t sink = 0;
        size_t n = (size_t)img.width * img.height * img.channels;
        for (size_t i = 0; i < n; i++)
            sink ^= img.pixels[i];
        (void)sink;
        td_image_clear(&img);
    }
    return 0;
}
