#ifndef VLKIT_IMAGE_CODECS_H
#define VLKIT_IMAGE_CODECS_H
/* JPEG and PNG decoding to 8-bit RGB with Pillow's conversions (Image.open(...).convert("RGB")),
   and PNG encoding. libjpeg/libpng errors are caught with setjmp here, so they never unwind through Swift. */
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int width, height;
    uint8_t *rgb;      /* width·height·3 bytes, owned: release with ci_free */
    int orientation;   /* EXIF orientation 1–8 (1 when absent) */
    char error[256];   /* the reason when decoding fails */
} ci_image;

/* 0: decoded; 1: not a JPEG or PNG; 2: corrupt or truncated; 3: above max_pixels (checked from the
   header, before the pixels are decoded); 4: unsupported variant; 5: out of memory. */
int ci_decode(const uint8_t *data, size_t size, int64_t max_pixels, ci_image *out);
/* Reads only the header: width and height (and orientation for JPEG); same codes. */
int ci_probe(const uint8_t *data, size_t size, ci_image *out);
void ci_free(ci_image *image);

typedef struct {
    uint8_t *data;     /* size bytes, owned: release with ci_free_buffer */
    size_t size, capacity;
    char error[256];   /* the reason when encoding fails */
} ci_buffer;

/* Encodes width·height·3 bytes of 8-bit RGB, rows top to bottom, as a PNG in memory.
   0: encoded; 4: a size PNG cannot hold; 5: out of memory; 6: libpng failed. */
int ci_encode_png(const uint8_t *rgb, int width, int height, ci_buffer *out);
void ci_free_buffer(ci_buffer *buffer);

#endif
