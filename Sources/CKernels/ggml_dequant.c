/* ggml's block-quantised types: geometry and de-quantisation (the same arithmetic, in the same order,
   as ggml's dequantize_row_* and gguf-py, so the floats come out bit for bit; the GEMV is in
   ggml_gemv.c). The portable code below is the reference; on x86 an AVX-512 path (ggml_dequant_x86.h,
   chosen at run time, capped by ck_ggml_limit_isa) computes the same floats 16 at a time.
   Block layouts (little-endian; "d", "m", "dmin" are IEEE halves):

   32-weight blocks. Byte j of the 16 nibble bytes qs holds weight j (low nibble) and j+16 (high);
   bit i of the 32-bit qh is bit 4 of weight i.
     Q4_0 (18 B): d, qs[16]                  w = d·(q − 8)
     Q4_1 (20 B): d, m, qs[16]               w = d·q + m
     Q5_0 (22 B): d, qh[4], qs[16]           w = d·(q − 16)
     Q5_1 (24 B): d, m, qh[4], qs[16]        w = d·q + m
     Q8_0 (34 B): d, int8 q[32]              w = d·q
   256-weight super-blocks of sub-blocks:
     Q2_K (84 B): scales[16], qs[64], d, dmin. 16 sub-blocks of 16; scales[s] = scale (low nibble)
       and min (high nibble); w = d·sc·q − dmin·mn. Byte l of qs[32h … 32h+31] holds, in bit pair c,
       weight 128h + 32c + l.
     Q3_K (110 B): hmask[32], qs[64], scales[12], d. qs as Q2_K; bit 4h+c of hmask[l] is the high
       bit of that same weight, and a clear bit subtracts 4: q = low − 4·(1 − high) ∈ −4…3; 16 signed
       6-bit scales (ggml_blocks.h); w = d·sc·q.
     Q4_K (144 B): d, dmin, scales[12], qs[128]. 8 sub-blocks of 32, 6-bit scales and mins
       (ggml_blocks.h); qs[32c … 32c+31] holds sub-block 2c in low nibbles, 2c+1 in high ones;
       w = d·sc·q − dmin·mn.
     Q5_K (176 B): d, dmin, scales[12], qh[32], qs[128]. As Q4_K, plus bit s of qh[l] is bit 4 of
       weight l of sub-block s.
     Q6_K (210 B): ql[128], qh[64], int8 scales[16], d. 16 sub-blocks of 16; for each half h
       (weights 128h …): ql[64h + l] holds weight l (low nibble) and l + 64 (high), ql[64h + 32 + l]
       weights l + 32 and l + 96; bit pair c of qh[32h + l] gives bits 4–5 of weight l + 32c;
       w = d·sc·(q − 32). */
#include "ck_ggml.h"
#include "ggml_blocks.h"
#include "half.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The products are rounded as ggml and numpy round them: never fused into an FMA. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

size_t ck_ggml_block_size(int type) {
    switch (type) {
    case GG_F32: case GG_F16: case GG_BF16: return 1;
    case GG_Q4_0: case GG_Q4_1: case GG_Q5_0: case GG_Q5_1: case GG_Q8_0: case GG_Q8_1: return GG_QK;
    case GG_Q2_K: case GG_Q3_K: case GG_Q4_K: case GG_Q5_K: case GG_Q6_K: case GG_Q8_K: return GG_QKK;
    default: return 0;
    }
}

size_t ck_ggml_block_bytes(int type) {
    switch (type) {
    case GG_F32: return 4;
    case GG_F16: case GG_BF16: return 2;
    case GG_Q4_0: return 18;
    case GG_Q4_1: return 20;
    case GG_Q5_0: return 22;
    case GG_Q5_1: return 24;
    case GG_Q8_0: return 34;
    case GG_Q8_1: return 36;
    case GG_Q2_K: return 84;
    case GG_Q3_K: return 110;
    case GG_Q4_K: return 144;
    case GG_Q5_K: return 176;
    case GG_Q6_K: return 210;
    case GG_Q8_K: return 292;
    default: return 0;
    }
}

/* One block each; b points at the block, y at its first weight. */

static void dq_q4_0(const uint8_t *b, float *y) {
    float d = ck_half_to_float(gg_u16(b));
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[2 + j] & 0x0F) - 8);
        y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
}

static void dq_q4_1(const uint8_t *b, float *y) {
    float d = ck_half_to_float(gg_u16(b)), m = ck_half_to_float(gg_u16(b + 2));
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0x0F) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

static void dq_q5_0(const uint8_t *b, float *y) {
    float d = ck_half_to_float(gg_u16(b));
    uint32_t qh = gg_u32(b + 2);
    for (int j = 0; j < 16; j++) {
        int lo = (b[6 + j] & 0x0F) | (int)((qh >> j) & 1) << 4, hi = (b[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)(lo - 16);
        y[j + 16] = d * (float)(hi - 16);
    }
}

static void dq_q5_1(const uint8_t *b, float *y) {
    float d = ck_half_to_float(gg_u16(b)), m = ck_half_to_float(gg_u16(b + 2));
    uint32_t qh = gg_u32(b + 4);
    for (int j = 0; j < 16; j++) {
        int lo = (b[8 + j] & 0x0F) | (int)((qh >> j) & 1) << 4, hi = (b[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)lo + m;
        y[j + 16] = d * (float)hi + m;
    }
}

static void dq_q8_0(const uint8_t *b, float *y) {
    float d = ck_half_to_float(gg_u16(b));
    for (int j = 0; j < 32; j++) y[j] = d * (float)(int8_t)b[2 + j];
}

static void dq_q2_k(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *qs = b + 16;
    float d = ck_half_to_float(gg_u16(b + 80)), dmin = ck_half_to_float(gg_u16(b + 82));
    for (int i = 0; i < GG_QKK; i++) {
        int h = i / 128, c = (i % 128) / 32, l = i % 32, s = i / 16;
        float dl = d * (float)(sc[s] & 0x0F), ml = dmin * (float)(sc[s] >> 4);
        y[i] = dl * (float)((qs[32 * h + l] >> (2 * c)) & 3) - ml;
    }
}

static void dq_q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *qs = b + 32;
    int8_t sc[16];
    gg_k3_scales(b + 96, sc);
    float d = ck_half_to_float(gg_u16(b + 108));
    for (int i = 0; i < GG_QKK; i++) {
        int h = i / 128, c = (i % 128) / 32, l = i % 32;
        int q = ((qs[32 * h + l] >> (2 * c)) & 3) - ((hm[l] >> (4 * h + c)) & 1 ? 0 : 4);
        y[i] = (d * (float)sc[i / 16]) * (float)q;
    }
}

/* Q4_K and Q5_K (qh null for Q4_K). */
static void dq_q45_k(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *y) {
    uint8_t sm[16];
    gg_k4_scales(b + 4, sm);
    float d = ck_half_to_float(gg_u16(b)), dmin = ck_half_to_float(gg_u16(b + 2));
    for (int s = 0; s < 8; s++) {
        float ds = d * (float)sm[s], ms = dmin * (float)sm[8 + s];
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 0x0F;
            if (qh) q |= ((qh[l] >> s) & 1) << 4;
            y[32 * s + l] = ds * (float)q - ms;
        }
    }
}

static void dq_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = ck_half_to_float(gg_u16(b + 208));
    for (int i = 0; i < GG_QKK; i++) {
        int h = i / 128, r = i % 128, l = r % 32, c = r / 32;
        int lo = (ql[64 * h + l + 32 * (c & 1)] >> (4 * (c >> 1))) & 0x0F, hi = (qh[32 * h + l] >> (2 * c)) & 3;
        y[i] = (d * (float)sc[i / 16]) * (float)((lo | hi << 4) - 32);
    }
}

#if defined(__x86_64__)
#include "ggml_dequant_x86.h"
#endif

int ck_ggml_dequantize(int type, const void *src, size_t n, float *dst) {
    const uint8_t *s = src;
#if defined(__x86_64__)
    if (type != GG_F32 && gg_isa_level() >= 1 && dequantize_avx512(type, s, n, dst)) return 0;
#endif
    switch (type) {
    case GG_F32: memcpy(dst, src, n * 4); return 0;
    case GG_F16: for (size_t i = 0; i < n; i++) dst[i] = ck_half_to_float(gg_u16(s + 2 * i)); return 0;
    case GG_BF16:
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)gg_u16(s + 2 * i) << 16;
            memcpy(dst + i, &bits, 4);
        }
        return 0;
    default: break;
    }
    void (*block)(const uint8_t *, float *) = NULL;
    switch (type) {
    case GG_Q4_0: block = dq_q4_0; break;
    case GG_Q4_1: block = dq_q4_1; break;
    case GG_Q5_0: block = dq_q5_0; break;
    case GG_Q5_1: block = dq_q5_1; break;
    case GG_Q8_0: block = dq_q8_0; break;
    case GG_Q2_K: block = dq_q2_k; break;
    case GG_Q3_K: block = dq_q3_k; break;
    case GG_Q6_K: block = dq_q6_k; break;
    case GG_Q4_K: case GG_Q5_K: break;
    default: return -1;
    }
    size_t size = ck_ggml_block_size(type), bytes = ck_ggml_block_bytes(type);
    for (size_t b = 0; b < n / size; b++) {
        const uint8_t *blk = s + b * bytes;
        if (type == GG_Q4_K) dq_q45_k(blk, NULL, blk + 16, dst + b * size);
        else if (type == GG_Q5_K) dq_q45_k(blk, blk + 16, blk + 48, dst + b * size);
        else block(blk, dst + b * size);
    }
    return 0;
}
