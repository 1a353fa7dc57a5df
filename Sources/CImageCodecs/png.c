#include "image_codecs.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size, offset;
    char *message;
} png_source;

static void read_bytes(png_structp png, png_bytep out, png_size_t n) {
    png_source *s = png_get_io_ptr(png);
    if (s->offset + n > s->size) png_error(png, "truncated file");
    memcpy(out, s->data + s->offset, n);
    s->offset += n;
}

static void on_error(png_structp png, png_const_charp text) {
    png_source *s = png_get_error_ptr(png);
    snprintf(s->message, 256, "corrupt PNG: %s", text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

/* Pillow's conversions to RGB: 16-bit colour keeps the high byte, 16-bit grey is clipped to 255
   (mode I;16 → RGB), alpha and tRNS are dropped (not composited), palettes and low bit depths expand. */
/* Width and height straight from the IHDR chunk, so the pixel limit holds before libpng reads on. */
static int ihdr_size(const uint8_t *data, size_t size, uint32_t *w, uint32_t *h) {
    if (size < 24 || memcmp(data + 12, "IHDR", 4) != 0) return 0;
    *w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
    *h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
    return 1;
}

int ci_decode_png(const uint8_t *data, size_t size, int64_t max_pixels, int header_only, ci_image *out) {
    uint32_t hw, hh;
    if (!ihdr_size(data, size, &hw, &hh)) {
        snprintf(out->error, 256, "corrupt PNG: no IHDR chunk");
        return 2;
    }
    if (hw == 0 || hh == 0) {
        snprintf(out->error, 256, "corrupt PNG: the image is %u×%u pixels", hw, hh);
        return 2;
    }
    out->width = (int)(hw > 0x7fffffff ? 0x7fffffff : hw);
    out->height = (int)(hh > 0x7fffffff ? 0x7fffffff : hh);
    if (max_pixels > 0 && (int64_t)hw * (int64_t)hh > max_pixels) {
        snprintf(out->error, 256, "%u×%u pixels exceed the limit of %lld", hw, hh, (long long)max_pixels);
        return 3;
    }
    if (header_only) return 0;
    png_source src = {data, size, 0, out->error};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    if (!png) { snprintf(out->error, 256, "out of memory"); return 5; }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rgb = NULL;
    uint8_t *volatile rows16 = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rgb); free(rows16); free(rows);
        return 2;
    }
    png_set_read_fn(png, &src, read_bytes);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    out->width = (int)png_get_image_width(png, info);
    out->height = (int)png_get_image_height(png, info);
    out->orientation = 1;
    if (out->width <= 0 || out->height <= 0) {
        snprintf(out->error, 256, "the PNG is %d×%d pixels", out->width, out->height);
        png_destroy_read_struct(&png, &info, NULL);
        return 2;
    }
    if (max_pixels > 0 && (int64_t)out->width * out->height > max_pixels) {
        snprintf(out->error, 256, "%d×%d pixels exceed the limit of %lld", out->width, out->height, (long long)max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return 3;
    }
    if (header_only) { png_destroy_read_struct(&png, &info, NULL); return 0; }
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    int grey16 = depth == 16 && type == PNG_COLOR_TYPE_GRAY;
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !grey16) png_set_strip_16(png);
    png_set_strip_alpha(png);  /* also the alpha that palette expansion makes from tRNS */
    if ((type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) && !grey16) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t w = (size_t)out->width, h = (size_t)out->height;
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (grey16 ? w * 2 : w * 3)) {
        snprintf(out->error, 256, "unsupported PNG layout (colour type %d, %d bits)", type, depth);
        png_destroy_read_struct(&png, &info, NULL);
        return 4;
    }
    rgb = malloc(w * h * 3);
    rows16 = grey16 ? malloc(rowbytes * h) : NULL;
    rows = malloc(sizeof(png_bytep) * h);
    if (!rgb || !rows || (grey16 && !rows16)) {
        snprintf(out->error, 256, "out of memory");
        png_destroy_read_struct(&png, &info, NULL);
        free(rgb); free(rows16); free(rows);
        return 5;
    }
    for (size_t y = 0; y < h; y++) rows[y] = grey16 ? rows16 + y * rowbytes : rgb + y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (grey16) {
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++) {
                unsigned v = (unsigned)rows16[y * rowbytes + 2 * x] << 8 | rows16[y * rowbytes + 2 * x + 1];
                uint8_t g = v > 255 ? 255 : (uint8_t)v;
                rgb[(y * w + x) * 3] = rgb[(y * w + x) * 3 + 1] = rgb[(y * w + x) * 3 + 2] = g;
            }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows16);
    free(rows);
    out->rgb = rgb;
    return 0;
}
