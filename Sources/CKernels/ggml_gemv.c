/* GEMV straight from ggml's blocks (layouts in ggml_dequant.c): y[j] (+)= alpha · Σ_p x[p] · W[j][p], each
   row streamed once and never widened to floats.

   x preparation (as llama.cpp quantises activations to Q8_0 / Q8_K): x is cut into blocks of the weight
   type's block size (32 or 256 values); each block becomes int8 values q = round(x / d), d = amax / 127
   (so |x − d·q| ≤ amax / 254), and the per-block integers the weights' offsets and mins need:
     32-weight types    sx = d · Σq, times −offset for Q4_0, Q5_0, Q8_0 (8, 16, and 128 for Q8_0's int8
                        weights read as unsigned by vpdpbusd): a block's dot is d_w · d · (the integer dot
                        of its stored unsigned values with q) + d_w · sx, or + m_w · sx for Q4_1, Q5_1;
     K types            Σq per 16 values (Q2_K, Q3_K, Q6_K; mins and the −4 / −32 offsets) or per 32
                        (Q4_K, Q5_K; mins), which stay inside the integer sums.
   So the dots are exact integer arithmetic (vpmaddubsw / vpdpbusd: unsigned weights × int8 x, then ×
   the sub-block scales with vpmaddwd / vpdpwssd), scaled once per block by d_w · d_x in float.
   The int8 values are stored in the order the AVX-512 kernels read a block's weights: natural for Q8_0,
   Q6_K and the 32-weight blocks after the last whole group of eight; within such groups the nibble
   types pair blocks 2p, 2p+1 as (values 0–15 of both, then 16–31 of both); for Q4_K/Q5_K the 64-byte
   vectors are sub-blocks (0,2), (1,3), (4,6), (5,7) (the low and high nibbles of qs[0…63], qs[64…127]);
   for Q2_K/Q3_K vector c holds weights 32c… and 128+32c… (bit pair c of qs[0…63]). The prepared x is the
   same on every instruction-set level; the portable C path computes the same integers.

   Prepared layout (from a 64-byte aligned base): int8 q[k] (rounded up to 64 bytes), float d[blocks]
   (rounded up to 64), then float sx[blocks] or int16 sums[16 · blocks]. */
#include "ck_ggml.h"
#include "ggml_blocks.h"
#include "half.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef struct {
    const int8_t *q;
    const float *d;
    const float *sx;
    const int16_t *sums;
} gx;

static int is_k(int type) { return type == GG_Q2_K || type == GG_Q3_K || type == GG_Q4_K || type == GG_Q5_K || type == GG_Q6_K; }

int ck_ggml_has_gemv(int type) {
    return type == GG_Q4_0 || type == GG_Q4_1 || type == GG_Q5_0 || type == GG_Q5_1 || type == GG_Q8_0 || is_k(type);
}

static size_t up64(size_t n) { return (n + 63) / 64 * 64; }

size_t ck_ggml_x_bytes(int type, size_t k) {
    if (!ck_ggml_has_gemv(type)) return 0;
    size_t nb = k / ck_ggml_block_size(type);
    return up64(k) + up64(nb * 4) + up64(nb * (is_k(type) ? 32 : 4)) + 64;
}

static gx gx_parts(int type, const void *prepared, size_t k) {
    const uint8_t *p = prepared;
    size_t nb = k / ck_ggml_block_size(type);
    const uint8_t *extra = p + up64(k) + up64(nb * 4);
    return (gx){(const int8_t *)p, (const float *)(p + up64(k)), (const float *)extra, (const int16_t *)extra};
}

/* Where value i of a K super-block goes among its 256 prepared values (see the note above). */
static inline size_t x_within(int type, size_t i) {
    if (type == GG_Q4_K || type == GG_Q5_K) {
        size_t s = i / 32;
        return 64 * ((s / 4) * 2 + s % 2) + 32 * ((s / 2) % 2) + i % 32;
    }
    if (type == GG_Q2_K || type == GG_Q3_K) return 64 * ((i % 128) / 32) + 32 * (i / 128) + i % 32;
    return i;
}

/* Where value i of block b (of nb) goes among the prepared values: the nibble types' whole groups of
   eight blocks pair blocks 2p and 2p+1 as their low halves (values 0–15), then high halves. */
static inline size_t x_position(int type, size_t b, size_t nb, size_t i) {
    if ((type == GG_Q4_0 || type == GG_Q4_1 || type == GG_Q5_0 || type == GG_Q5_1) && b < nb / 8 * 8)
        return 64 * (b / 2) + 32 * (i / 16) + 16 * (b % 2) + i % 16;
    return b * ck_ggml_block_size(type) + x_within(type, i);
}

void ck_ggml_prepare_x(int type, const float *x, size_t k, void *prepared) {
    if (!ck_ggml_has_gemv(type)) return;
    size_t size = ck_ggml_block_size(type), nb = k / size, group = type == GG_Q4_K || type == GG_Q5_K ? 32 : 16;
    uint8_t *base = prepared;
    int8_t *q = (int8_t *)base;
    float *d = (float *)(base + up64(k));
    uint8_t *extra = base + up64(k) + up64(nb * 4);
    int offset = type == GG_Q4_0 ? 8 : type == GG_Q5_0 ? 16 : type == GG_Q8_0 ? 128 : 0;
    for (size_t b = 0; b < nb; b++) {
        const float *xb = x + b * size;
        float amax = 0;
        for (size_t i = 0; i < size; i++) amax = fmaxf(amax, fabsf(xb[i]));
        float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0.0f;
        int sum = 0, sums[16] = {0};
        for (size_t i = 0; i < size; i++) {
            long v = lrintf(xb[i] * inv);
            v = v < -127 ? -127 : (v > 127 ? 127 : v);
            q[x_position(type, b, nb, i)] = (int8_t)v;
            sum += (int)v;
            sums[i / group] += (int)v;
        }
        d[b] = scale;
        if (is_k(type)) {
            int16_t *s = (int16_t *)extra + 16 * b;
            for (int g = 0; g < 16; g++) s[g] = (int16_t)sums[g];
        } else {
            ((float *)extra)[b] = scale * (float)(offset ? -offset * sum : sum);
        }
    }
}

/* ---- portable C ---- */

/* The stored unsigned values of a 32-weight block (Q8_0: int8 + 128) in natural order. */
static void unsigned32(int type, const uint8_t *blk, int u[32]) {
    if (type == GG_Q8_0) {
        for (int i = 0; i < 32; i++) u[i] = (int8_t)blk[2 + i] + 128;
        return;
    }
    const uint8_t *qs = blk + (type == GG_Q4_0 ? 2 : type == GG_Q4_1 ? 4 : type == GG_Q5_0 ? 6 : 8);
    uint32_t qh = type == GG_Q5_0 ? gg_u32(blk + 2) : type == GG_Q5_1 ? gg_u32(blk + 4) : 0;
    for (int i = 0; i < 16; i++) {
        u[i] = (qs[i] & 0x0F) | (int)((qh >> i) & 1) << 4;
        u[i + 16] = (qs[i] >> 4) | (int)((qh >> (i + 16)) & 1) << 4;
    }
}

static float row32_c(int type, const uint8_t *row, size_t nb, gx x) {
    size_t bytes = ck_ggml_block_bytes(type);
    int has_min = type == GG_Q4_1 || type == GG_Q5_1;
    float s = 0;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes;
        int u[32];
        unsigned32(type, blk, u);
        int32_t dot = 0;
        for (int i = 0; i < 32; i++) dot += u[i] * x.q[x_position(type, b, nb, (size_t)i)];
        float d = ck_half_to_float(gg_u16(blk));
        s += d * x.d[b] * (float)dot + (has_min ? ck_half_to_float(gg_u16(blk + 2)) : d) * x.sx[b];
    }
    return s;
}

/* The stored unsigned values of a K super-block in natural order (Q3_K: low + 4·high, 0…7). */
static void unsigned256(int type, const uint8_t *blk, int u[256]) {
    for (int i = 0; i < GG_QKK; i++) {
        int h = i / 128, c = (i % 128) / 32, l = i % 32, s = i / 32;
        switch (type) {
        case GG_Q2_K: u[i] = (blk[16 + 32 * h + l] >> (2 * c)) & 3; break;
        case GG_Q3_K: u[i] = ((blk[32 + 32 * h + l] >> (2 * c)) & 3) + 4 * ((blk[l] >> (4 * h + c)) & 1); break;
        case GG_Q4_K: u[i] = (blk[16 + 32 * (s / 2) + l] >> (4 * (s % 2))) & 0x0F; break;
        case GG_Q5_K: u[i] = ((blk[48 + 32 * (s / 2) + l] >> (4 * (s % 2))) & 0x0F) | ((blk[16 + l] >> s) & 1) << 4; break;
        default: /* Q6_K */
            u[i] = ((blk[64 * h + l + 32 * (c & 1)] >> (4 * (c >> 1))) & 0x0F) | ((blk[128 + 32 * h + l] >> (2 * c)) & 3) << 4;
        }
    }
}

static float rowk_c(int type, const uint8_t *row, size_t nb, gx x) {
    size_t bytes = ck_ggml_block_bytes(type);
    float s = 0;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes;
        const int8_t *xq = x.q + b * GG_QKK;
        const int16_t *sums = x.sums + 16 * b;
        int u[256], dots[16] = {0};
        unsigned256(type, blk, u);
        for (int i = 0; i < GG_QKK; i++) dots[i / 16] += u[i] * xq[x_within(type, (size_t)i)];
        int32_t sumi = 0, summ = 0;
        float d, dmin = 0;
        switch (type) {
        case GG_Q2_K:
            for (int g = 0; g < 16; g++) sumi += (blk[g] & 0x0F) * dots[g], summ += (blk[g] >> 4) * sums[g];
            d = ck_half_to_float(gg_u16(blk + 80)), dmin = ck_half_to_float(gg_u16(blk + 82));
            break;
        case GG_Q3_K: {
            int8_t sc[16];
            gg_k3_scales(blk + 96, sc);
            for (int g = 0; g < 16; g++) sumi += sc[g] * (dots[g] - 4 * sums[g]);
            d = ck_half_to_float(gg_u16(blk + 108));
            break;
        }
        case GG_Q4_K: case GG_Q5_K: {
            uint8_t sm[16];
            gg_k4_scales(blk + 4, sm);
            for (int t = 0; t < 8; t++) sumi += sm[t] * (dots[2 * t] + dots[2 * t + 1]), summ += sm[8 + t] * sums[t];
            d = ck_half_to_float(gg_u16(blk)), dmin = ck_half_to_float(gg_u16(blk + 2));
            break;
        }
        default: /* Q6_K */
            for (int g = 0; g < 16; g++) sumi += (int8_t)blk[192 + g] * (dots[g] - 32 * sums[g]);
            d = ck_half_to_float(gg_u16(blk + 208));
        }
        s += d * x.d[b] * (float)sumi - dmin * x.d[b] * (float)summ;
    }
    return s;
}

static void gemv_c(int type, size_t n, size_t nb, const uint8_t *w, size_t row_bytes, gx x, float *y, float alpha, int accumulate) {
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = w + j * row_bytes;
        float s = is_k(type) ? rowk_c(type, row, nb, x) : row32_c(type, row, nb, x);
        y[j] = (accumulate ? y[j] : 0.0f) + alpha * s;
    }
}

/* ---- AVX-512 (ggml_gemv_x86.h, once per instruction set) ---- */

#if defined(__x86_64__)
#define GG_VNNI 0
#define GG_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define GG_NAME(f) f##_avx512
#include "ggml_gemv_x86.h"
#undef GG_VNNI
#undef GG_ATTR
#undef GG_NAME

#define GG_VNNI 1
#define GG_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define GG_NAME(f) f##_vnni
#include "ggml_gemv_x86.h"
#undef GG_VNNI
#undef GG_ATTR
#undef GG_NAME
#endif

static int isa_limit = 2;
void ck_ggml_limit_isa(int level) { isa_limit = level; }

/* 2: AVX512-VNNI, 1: AVX512BW, 0: portable; capped by ck_ggml_limit_isa. */
int gg_isa_level(void) {
    static int known = -1;
    if (known < 0) {
        int level = 0;
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
            level = __builtin_cpu_supports("avx512vnni") ? 2 : 1;
#endif
        known = level;
    }
    return known < isa_limit ? known : isa_limit;
}

void ck_ggml_gemv(int type, size_t n, size_t k, const void *w, size_t row_bytes, const void *prepared, float *y, float alpha,
                  int accumulate) {
    if (!ck_ggml_has_gemv(type)) return;
    size_t nb = k / ck_ggml_block_size(type);
    gx x = gx_parts(type, prepared, k);
    switch (gg_isa_level()) {
#if defined(__x86_64__)
    case 2: gemv_vnni(type, n, nb, w, row_bytes, x, y, alpha, accumulate); return;
    case 1: gemv_avx512(type, n, nb, w, row_bytes, x, y, alpha, accumulate); return;
#endif
    default: gemv_c(type, n, nb, w, row_bytes, x, y, alpha, accumulate);
    }
}
