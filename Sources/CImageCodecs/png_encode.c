#include "image_codecs.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpng's write callback: appends to the growing buffer; a failed allocation becomes a libpng error. */
static void append_bytes(png_structp png, png_bytep bytes, png_size_t n) {
    ci_buffer *b = png_get_io_ptr(png);
    if (b->size + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + n) capacity *= 2;
        uint8_t *grown = realloc(b->data, capacity);
        if (!grown) png_error(png, "out of memory");
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static void flush_nothing(png_structp png) { (void)png; }

static void on_error(png_structp png, png_const_charp text) {
    ci_buffer *b = png_get_error_ptr(png);
    snprintf(b->error, sizeof b->error, "cannot encode PNG: %s", text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

int ci_encode_png(const uint8_t *rgb, int width, int height, ci_buffer *out) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || width > 0x7fffffff / 3) {  /* rows of 3·width bytes must fit a PNG */
        snprintf(out->error, sizeof out->error, "cannot encode a %d×%d image as PNG", width, height);
        return 4;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, out, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (!png || !info || !rows) {
        snprintf(out->error, sizeof out->error, "out of memory");
        png_destroy_write_struct(&png, &info);
        free(rows);
        return 5;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(out->data);
        out->data = NULL;
        out->size = out->capacity = 0;
        return 6;
    }
    png_set_write_fn(png, out, append_bytes, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * (size_t)width * 3);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return 0;
}

void ci_free_buffer(ci_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = buffer->capacity = 0;
}
