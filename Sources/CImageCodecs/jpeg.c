#include "image_codecs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
} jpeg_failure;

static void on_error(j_common_ptr cinfo) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(f->message, 256, "corrupt JPEG: %s", text);
    longjmp(f->jump, 1);
}

static void on_warning(j_common_ptr cinfo, int level) {
    /* A premature end of data is a warning in libjpeg (it pads with grey); Pillow refuses it. */
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

/* EXIF orientation (tag 0x0112 of IFD0) from an APP1 "Exif\0\0" payload; 1 when absent. */
static int exif_orientation(const uint8_t *p, size_t n) {
    if (n < 14 || memcmp(p, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = p + 6;
    size_t len = n - 6;
    int little = t[0] == 'I' && t[1] == 'I';
    if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
#define U16(o) (little ? (uint32_t)(t[o] | t[(o) + 1] << 8) : (uint32_t)(t[o] << 8 | t[(o) + 1]))
#define U32(o) (little ? ((uint32_t)t[o] | (uint32_t)t[(o) + 1] << 8 | (uint32_t)t[(o) + 2] << 16 | (uint32_t)t[(o) + 3] << 24) \
                       : ((uint32_t)t[o] << 24 | (uint32_t)t[(o) + 1] << 16 | (uint32_t)t[(o) + 2] << 8 | (uint32_t)t[(o) + 3]))
    uint32_t ifd = U32(4);
    if ((size_t)ifd + 2 > len) return 1;
    uint32_t count = U16(ifd);
    for (uint32_t i = 0; i < count; i++) {
        size_t e = ifd + 2 + 12 * (size_t)i;
        if (e + 12 > len) return 1;
        if (U16(e) == 0x0112) {
            uint32_t v = U16(e + 8);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
#undef U16
#undef U32
    return 1;
}

int ci_decode_jpeg(const uint8_t *data, size_t size, int64_t max_pixels, int header_only, ci_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure err;
    uint8_t *volatile rgb = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = on_error;
    err.base.emit_message = on_warning;
    err.message = out->error;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        return 2;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    out->orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1) out->orientation = exif_orientation(m->data, m->data_length);
    if (out->width <= 0 || out->height <= 0) {
        snprintf(out->error, 256, "the JPEG is %d×%d pixels", out->width, out->height);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    if (max_pixels > 0 && (int64_t)out->width * out->height > max_pixels) {
        snprintf(out->error, 256, "%d×%d pixels exceed the limit of %lld", out->width, out->height, (long long)max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 3;
    }
    if (header_only) { jpeg_destroy_decompress(&cinfo); return 0; }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        snprintf(out->error, 256, "CMYK JPEGs are not supported");
        jpeg_destroy_decompress(&cinfo);
        return 4;
    }
    cinfo.out_color_space = JCS_RGB;  /* greyscale is replicated, as Pillow's L → RGB */
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)out->width * 3;
    rgb = malloc(stride * (size_t)out->height);
    if (!rgb) { jpeg_destroy_decompress(&cinfo); snprintf(out->error, 256, "out of memory"); return 5; }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->rgb = rgb;
    return 0;
}
