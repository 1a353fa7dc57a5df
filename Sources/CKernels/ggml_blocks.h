/* ggml's block layouts (as GGUF files store them; layouts in ggml_dequant.c's note), shared by the
   de-quantisation and the GEMV. Internal to CKernels. */
#ifndef VLKIT_CK_GGML_BLOCKS_H
#define VLKIT_CK_GGML_BLOCKS_H
#include <stdint.h>
#include <string.h>

/* ggml's type ids (enum ggml_type). */
enum {
    GG_F32 = 0, GG_F16 = 1, GG_Q4_0 = 2, GG_Q4_1 = 3, GG_Q5_0 = 6, GG_Q5_1 = 7, GG_Q8_0 = 8, GG_Q8_1 = 9,
    GG_Q2_K = 10, GG_Q3_K = 11, GG_Q4_K = 12, GG_Q5_K = 13, GG_Q6_K = 14, GG_Q8_K = 15, GG_BF16 = 30
};

#define GG_QK 32   /* weights per block of the 32-weight types */
#define GG_QKK 256 /* weights per super-block of the K types */

/* The instruction sets the GEMV and the de-quantisation may use (ggml_gemv.c): 2 AVX512-VNNI, 1 AVX512F/BW/VL/DQ
   with FMA and F16C, 0 portable C; what the CPU has, capped by ck_ggml_limit_isa. */
int gg_isa_level(void);

static inline uint16_t gg_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t gg_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Q4_K / Q5_K: the 12 scale bytes hold eight 6-bit scales and eight 6-bit mins (sub-blocks of 32).
   Bytes 0–3: scales 0–3 in bits 0–5; bytes 4–7: mins 0–3 in bits 0–5; bytes 8–11: scales 4–7 in the
   low nibble, mins 4–7 in the high nibble; the top two bits of bytes 0–3 (4–7) are bits 4–5 of
   scales (mins) 4–7. Unpacked four at a time as 32-bit words: out[0..7] scales, out[8..15] mins. */
static inline void gg_k4_scales(const uint8_t *s, uint8_t out[16]) {
    uint32_t w0 = gg_u32(s), w1 = gg_u32(s + 4), w2 = gg_u32(s + 8), r[4];
    r[0] = w0 & 0x3F3F3F3Fu;
    r[1] = (w2 & 0x0F0F0F0Fu) | (((w0 >> 6) & 0x03030303u) << 4);
    r[2] = w1 & 0x3F3F3F3Fu;
    r[3] = ((w2 >> 4) & 0x0F0F0F0Fu) | (((w1 >> 6) & 0x03030303u) << 4);
    memcpy(out, r, 16);
}

/* Q3_K: 16 signed 6-bit scales (sub-blocks of 16) stored + 32. Bytes 0–7: low nibbles of scales
   0–7, high nibbles of scales 8–15; bits 2c…2c+1 of byte 8+i are bits 4–5 of scale 4c+i. */
static inline void gg_k3_scales(const uint8_t *s, int8_t out[16]) {
    uint32_t w0 = gg_u32(s), w1 = gg_u32(s + 4), w2 = gg_u32(s + 8), r[4];
    r[0] = (w0 & 0x0F0F0F0Fu) | ((w2 & 0x03030303u) << 4);
    r[1] = (w1 & 0x0F0F0F0Fu) | (((w2 >> 2) & 0x03030303u) << 4);
    r[2] = ((w0 >> 4) & 0x0F0F0F0Fu) | (((w2 >> 4) & 0x03030303u) << 4);
    r[3] = ((w1 >> 4) & 0x0F0F0F0Fu) | (((w2 >> 6) & 0x03030303u) << 4);
    uint8_t u[16];
    memcpy(u, r, 16);
    for (int i = 0; i < 16; i++) out[i] = (int8_t)(u[i] - 32);
}
#endif
