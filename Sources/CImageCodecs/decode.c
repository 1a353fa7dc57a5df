#include "image_codecs.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ci_decode_jpeg(const uint8_t *data, size_t size, int64_t max_pixels, int header_only, ci_image *out);
int ci_decode_png(const uint8_t *data, size_t size, int64_t max_pixels, int header_only, ci_image *out);

static int run(const uint8_t *data, size_t size, int64_t max_pixels, int header_only, ci_image *out) {
    memset(out, 0, sizeof *out);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return ci_decode_jpeg(data, size, max_pixels, header_only, out);
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(data, png_magic, 8) == 0) return ci_decode_png(data, size, max_pixels, header_only, out);
    snprintf(out->error, sizeof out->error, "not a JPEG or PNG image");
    return 1;
}

int ci_decode(const uint8_t *data, size_t size, int64_t max_pixels, ci_image *out) { return run(data, size, max_pixels, 0, out); }
int ci_probe(const uint8_t *data, size_t size, ci_image *out) { return run(data, size, 0, 1, out); }
void ci_free(ci_image *image) { free(image->rgb); image->rgb = NULL; }
