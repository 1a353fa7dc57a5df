/* Block-quantised weights: quantisation, GEMV with on-the-fly dequantisation (AVX-512 and
   portable), and dequantising GEMM packing. Block scales are halves (half.h). */
#include "ck_quant.h"
#include "half.h"
#include "strips.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define BLOCK 32

void ck_quantize_q8(const float *w, size_t n, size_t k, uint8_t *q, uint16_t *scales) {
    int8_t *values = malloc(k);
    for (size_t j = 0; j < n; j++) {
        for (size_t b = 0; b < k / BLOCK; b++) {
            const float *x = w + j * k + b * BLOCK;
            float amax = 0;
            for (int i = 0; i < BLOCK; i++) amax = fmaxf(amax, fabsf(x[i]));
            float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0;
            scales[strip_scale_index(k, j, b)] = ck_float_to_half(scale);
            for (int i = 0; i < BLOCK; i++) values[b * BLOCK + i] = (int8_t)lrintf(x[i] * inv);
        }
        q8_store_row(values, k, j, q);
    }
    free(values);
}

void ck_quantize_q4(const float *w, size_t n, size_t k, uint8_t *q, uint16_t *scales) {
    int8_t *values = malloc(k);
    for (size_t j = 0; j < n; j++) {
        for (size_t b = 0; b < k / BLOCK; b++) {
            const float *x = w + j * k + b * BLOCK;
            float amax = 0, signed_max = 0;
            for (int i = 0; i < BLOCK; i++) if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); signed_max = x[i]; }
            /* As llama.cpp's q4_0: the largest magnitude maps to −8, so its sign gets the wider side. */
            float scale = signed_max / -8.0f, inv = scale != 0 ? 1.0f / scale : 0;
            scales[strip_scale_index(k, j, b)] = ck_float_to_half(scale);
            for (int i = 0; i < BLOCK; i++) {
                int v = (int)lrintf(x[i] * inv);
                values[b * BLOCK + i] = (int8_t)(v < -8 ? -8 : (v > 7 ? 7 : v));
            }
        }
        q4_store_row(values, k, j, q);
    }
    free(values);
}

static int isa_limit = 2;
void ck_quant_limit_isa(int level) { isa_limit = level; }
int ck_quant_isa_limit(void) { return isa_limit; }

#if defined(__x86_64__)
static int has_vnni(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    }
    return known && isa_limit >= 2;
}

static int has_avx512(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
             && __builtin_cpu_supports("f16c");
    }
    return known && isa_limit >= 1;
}
#endif

/* The signed values of row j's block b, either format. */
static inline __attribute__((always_inline)) void unpack_signed(int q4, const uint8_t *q, size_t k, size_t j, size_t b, int8_t v[BLOCK]) {
    if (!q4) {
        q8_unpack_block(q, k, j, b, v);
        return;
    }
    uint8_t u[BLOCK];
    q4_unpack_block(q, k, j, b, u);
    for (int i = 0; i < BLOCK; i++) v[i] = (int8_t)(u[i] - 8);
}

static void gemv_base(int q4, size_t n, size_t k, const uint8_t *q, const uint16_t *scales, const float *x, float *y, float alpha, int acc) {
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (size_t b = 0; b < k / BLOCK; b++) {
            int8_t v[BLOCK];
            unpack_signed(q4, q, k, j, b, v);
            float d = 0;
            for (int i = 0; i < BLOCK; i++) d += (float)v[i] * x[b * BLOCK + i];
            s += d * ck_half_to_float(scales[strip_scale_index(k, j, b)]);
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * s;
    }
}

#if defined(__x86_64__)
#define Q_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

Q_ATTR static void gemv_avx512(int q4, size_t n, size_t k, const uint8_t *q, const uint16_t *scales, const float *x, float *y, float alpha,
                               int acc) {
    for (size_t j = 0; j < n; j++) {
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
        for (size_t b = 0; b < k / BLOCK; b++) {
            int8_t v[BLOCK];
            unpack_signed(q4, q, k, j, b, v);
            __m512 d = _mm512_set1_ps(_cvtsh_ss(scales[strip_scale_index(k, j, b)]));
            __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)v)));
            __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(v + 16))));
            s0 = _mm512_fmadd_ps(_mm512_mul_ps(w0, d), _mm512_loadu_ps(x + b * BLOCK), s0);
            s1 = _mm512_fmadd_ps(_mm512_mul_ps(w1, d), _mm512_loadu_ps(x + b * BLOCK + 16), s1);
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    }
}

/* With AVX512-VNNI, x is quantised once per GEMV to int8, one scale per 32-value block (as
   llama.cpp's q8_0 activations): xq[k], then scale[k/32], then start[k/32], the integer start value
   that cancels the weights' unsigned offset (q8 + 128, q4 + 8): −offset · Σ x of the block. */
#define VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))

typedef struct { int8_t *xq; float *scale; int32_t *start; } vnni_x;

static vnni_x vnni_parts(const void *prepared, size_t k) {
    uint8_t *p = (uint8_t *)prepared;
    size_t values = (k + 63) / 64 * 64;
    return (vnni_x){(int8_t *)p, (float *)(p + values), (int32_t *)(p + values + k / BLOCK * 4)};
}

VNNI_ATTR static void prepare_x_vnni(const float *x, size_t k, int offset, vnni_x v) {
    for (size_t b = 0; b < k / BLOCK; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * BLOCK), v1 = _mm512_loadu_ps(x + b * BLOCK + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0;
        __m512 vinv = _mm512_set1_ps(inv);
        /* Rounds to nearest even, as lrintf in the default rounding mode. */
        __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vinv)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vinv));
        _mm_storeu_si128((__m128i *)(v.xq + b * BLOCK), _mm512_cvtepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(v.xq + b * BLOCK + 16), _mm512_cvtepi32_epi8(i1));
        v.scale[b] = scale;
        v.start[b] = -offset * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
}

/* A strip's 16 rows are the 16 lanes (layout in strips.h). Per block, q8's eight vectors and q4's
   four (low and high nibbles) are each one `vpdpbusd` against four x values broadcast; the block's
   int32 sums are then scaled by the rows' 16 half scales at once. */
VNNI_ATTR static inline __attribute__((always_inline)) void gemv_vnni(const int q4, size_t n, size_t k, const uint8_t *q,
                                                                      const uint16_t *scales, vnni_x x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK, block_bytes = q4 ? 256 : 512;
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (size_t j0 = 0; j0 < n; j0 += STRIP) {
        const uint8_t *strip = q + j0 * nb * block_bytes / STRIP;
        const uint16_t *sc = scales + j0 * nb;
        __m512 sum = _mm512_setzero_ps();
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *blk = strip + b * block_bytes;
            const int32_t *xb = (const int32_t *)(x.xq + b * BLOCK);
            __m512i d0 = _mm512_set1_epi32(x.start[b]), d1 = _mm512_setzero_si512();
            for (int i = 0; i < 4; i++) {
                __m512i first, second;  /* weights 4i … 4i+3 and 16+4i … 16+4i+3 of the 16 rows */
                if (q4) {
                    __m512i bytes = _mm512_loadu_si512(blk + 64 * i);
                    first = _mm512_and_si512(bytes, low);
                    second = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low);
                } else {
                    first = _mm512_loadu_si512(blk + 64 * i);
                    second = _mm512_loadu_si512(blk + 64 * (i + 4));
                }
                d0 = _mm512_dpbusd_epi32(d0, first, _mm512_set1_epi32(xb[i]));
                d1 = _mm512_dpbusd_epi32(d1, second, _mm512_set1_epi32(xb[i + 4]));
            }
            __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + b * STRIP)));
            sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(d0, d1)), _mm512_mul_ps(ws, _mm512_set1_ps(x.scale[b])), sum);
        }
        size_t rows = n - j0 < STRIP ? n - j0 : STRIP;
        __mmask16 m = (__mmask16)((1u << rows) - 1);
        __m512 out = _mm512_mul_ps(sum, _mm512_set1_ps(alpha));
        if (acc) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(m, y + j0));
        _mm512_mask_storeu_ps(y + j0, m, out);
    }
}

VNNI_ATTR static void gemv_q8_vnni(size_t n, size_t k, const uint8_t *q, const uint16_t *scales, vnni_x x, float *y, float alpha, int acc) {
    gemv_vnni(0, n, k, q, scales, x, y, alpha, acc);
}

VNNI_ATTR static void gemv_q4_vnni(size_t n, size_t k, const uint8_t *q, const uint16_t *scales, vnni_x x, float *y, float alpha, int acc) {
    gemv_vnni(1, n, k, q, scales, x, y, alpha, acc);
}
#endif

/* The prepared x: with AVX512-VNNI the int8 values, scales and start values; otherwise x itself. */
size_t ck_gemv_x_bytes(size_t k) {
    size_t quantised = (k + 63) / 64 * 64 + k / BLOCK * 8, copy = k * sizeof(float);
    return (quantised > copy ? quantised : copy) + 64;
}

void ck_gemv_prepare_x(int q4, const float *x, size_t k, void *prepared) {
#if defined(__x86_64__)
    if (has_vnni()) { prepare_x_vnni(x, k, q4 ? 8 : 128, vnni_parts(prepared, k)); return; }
#endif
    memcpy(prepared, x, k * sizeof(float));
}

void ck_gemv_q8(size_t n, size_t k, const uint8_t *q, const uint16_t *scales, const void *x, float *y, float alpha, int accumulate) {
#if defined(__x86_64__)
    if (has_vnni()) { gemv_q8_vnni(n, k, q, scales, vnni_parts(x, k), y, alpha, accumulate); return; }
    if (has_avx512()) { gemv_avx512(0, n, k, q, scales, x, y, alpha, accumulate); return; }
#endif
    gemv_base(0, n, k, q, scales, x, y, alpha, accumulate);
}

void ck_gemv_q4(size_t n, size_t k, const uint8_t *q, const uint16_t *scales, const void *x, float *y, float alpha, int accumulate) {
#if defined(__x86_64__)
    if (has_vnni()) { gemv_q4_vnni(n, k, q, scales, vnni_parts(x, k), y, alpha, accumulate); return; }
    if (has_avx512()) { gemv_avx512(1, n, k, q, scales, x, y, alpha, accumulate); return; }
#endif
    gemv_base(1, n, k, q, scales, x, y, alpha, accumulate);
}

/* Rows j0 … j0+rows−1, columns p0 … p0+kc−1 (not necessarily whole blocks), dequantised into
   out[r·kc + p]. Written once and compiled per instruction set. */
static inline __attribute__((always_inline)) void dequantize_rows(int q4, const uint8_t *q, const uint16_t *scales, size_t k, size_t j0,
                                                                   size_t rows, size_t p0, size_t kc, float *out) {
    for (size_t r = 0; r < rows; r++) {
        float *o = out + r * kc;
        for (size_t b0 = p0 / BLOCK * BLOCK; b0 < p0 + kc; b0 += BLOCK) {
            int8_t v[BLOCK];
            unpack_signed(q4, q, k, j0 + r, b0 / BLOCK, v);
            float s = ck_half_to_float(scales[strip_scale_index(k, j0 + r, b0 / BLOCK)]);
            size_t lo = b0 > p0 ? b0 : p0, hi = b0 + BLOCK < p0 + kc ? b0 + BLOCK : p0 + kc;
            for (size_t p = lo; p < hi; p++) o[p - p0] = (float)v[p - b0] * s;
        }
    }
}

#if defined(__x86_64__)
Q_ATTR static void dequantize_rows_avx512(int q4, const uint8_t *q, const uint16_t *scales, size_t k, size_t j0, size_t rows, size_t p0,
                                          size_t kc, float *out) { dequantize_rows(q4, q, scales, k, j0, rows, p0, kc, out); }
#endif

void ck_dequantize_rows_q8(const uint8_t *q, const uint16_t *scales, size_t k, size_t j0, size_t rows, size_t p0, size_t kc, float *out) {
#if defined(__x86_64__)
    if (has_avx512()) { dequantize_rows_avx512(0, q, scales, k, j0, rows, p0, kc, out); return; }
#endif
    dequantize_rows(0, q, scales, k, j0, rows, p0, kc, out);
}

void ck_dequantize_rows_q4(const uint8_t *q, const uint16_t *scales, size_t k, size_t j0, size_t rows, size_t p0, size_t kc, float *out) {
#if defined(__x86_64__)
    if (has_avx512()) { dequantize_rows_avx512(1, q, scales, k, j0, rows, p0, kc, out); return; }
#endif
    dequantize_rows(1, q, scales, k, j0, rows, p0, kc, out);
}

/* ggml's Q8_0 and Q4_0 blocks are exactly these formats (a half scale per 32 weights; int8 values, or
   nibbles q with w = d·(q − 8)), so GGUF files of those types are repacked into strips losslessly. */
void ck_repack_ggml_q8_0(const void *rows, size_t row_bytes, size_t n, size_t k, uint8_t *q, uint16_t *scales) {
    int8_t *values = malloc(k);
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = (const uint8_t *)rows + j * row_bytes;
        for (size_t b = 0; b < k / BLOCK; b++) {
            const uint8_t *blk = row + b * 34;
            scales[strip_scale_index(k, j, b)] = (uint16_t)(blk[0] | (blk[1] << 8));
            memcpy(values + b * BLOCK, blk + 2, BLOCK);
        }
        q8_store_row(values, k, j, q);
    }
    free(values);
}

void ck_repack_ggml_q4_0(const void *rows, size_t row_bytes, size_t n, size_t k, uint8_t *q, uint16_t *scales) {
    int8_t *values = malloc(k);
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = (const uint8_t *)rows + j * row_bytes;
        for (size_t b = 0; b < k / BLOCK; b++) {
            const uint8_t *blk = row + b * 18;
            scales[strip_scale_index(k, j, b)] = (uint16_t)(blk[0] | (blk[1] << 8));
            for (int i = 0; i < 16; i++) {
                values[b * BLOCK + i] = (int8_t)((blk[2 + i] & 0x0F) - 8);
                values[b * BLOCK + 16 + i] = (int8_t)((blk[2 + i] >> 4) - 8);
            }
        }
        q4_store_row(values, k, j, q);
    }
    free(values);
}
