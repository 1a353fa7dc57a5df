/* Block-quantised weights: quantisation, GEMV with on-the-fly dequantisation (AVX-512 and
   portable), and dequantising GEMM packing. */
#include "ck_quant.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define BLOCK 32

void ck_quantize_q8(const float *w, size_t n, size_t k, int8_t *q, float *scales) {
    for (size_t j = 0; j < n; j++)
        for (size_t b = 0; b < k / BLOCK; b++) {
            const float *x = w + j * k + b * BLOCK;
            float amax = 0;
            for (int i = 0; i < BLOCK; i++) amax = fmaxf(amax, fabsf(x[i]));
            float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0;
            scales[j * (k / BLOCK) + b] = scale;
            for (int i = 0; i < BLOCK; i++) q[j * k + b * BLOCK + i] = (int8_t)lrintf(x[i] * inv);
        }
}

void ck_quantize_q4(const float *w, size_t n, size_t k, uint8_t *q, float *scales) {
    for (size_t j = 0; j < n; j++)
        for (size_t b = 0; b < k / BLOCK; b++) {
            const float *x = w + j * k + b * BLOCK;
            float amax = 0, signed_max = 0;
            for (int i = 0; i < BLOCK; i++) if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); signed_max = x[i]; }
            /* As llama.cpp's q4_0: the largest magnitude maps to −8, so its sign gets the wider side. */
            float scale = signed_max / -8.0f, inv = scale != 0 ? 1.0f / scale : 0;
            scales[j * (k / BLOCK) + b] = scale;
            uint8_t *out = q + (j * k + b * BLOCK) / 2;
            for (int i = 0; i < BLOCK; i += 2) {
                int a = (int)lrintf(x[i] * inv), c = (int)lrintf(x[i + 1] * inv);
                a = a < -8 ? -8 : (a > 7 ? 7 : a);
                c = c < -8 ? -8 : (c > 7 ? 7 : c);
                out[i / 2] = (uint8_t)((a & 0xF) | ((c & 0xF) << 4));
            }
        }
}

static inline int nibble(uint8_t byte, int high) {
    int v = high ? byte >> 4 : byte & 0xF;
    return v >= 8 ? v - 16 : v;
}

static void gemv_q8_base(size_t n, size_t k, const int8_t *q, const float *scales, const float *x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK;
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (size_t b = 0; b < nb; b++) {
            float d = 0;
            for (int i = 0; i < BLOCK; i++) d += (float)q[j * k + b * BLOCK + i] * x[b * BLOCK + i];
            s += d * scales[j * nb + b];
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * s;
    }
}

static void gemv_q4_base(size_t n, size_t k, const uint8_t *q, const float *scales, const float *x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK;
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *blk = q + (j * k + b * BLOCK) / 2;
            float d = 0;
            for (int i = 0; i < BLOCK; i++) d += (float)nibble(blk[i / 2], i & 1) * x[b * BLOCK + i];
            s += d * scales[j * nb + b];
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * s;
    }
}

#if defined(__x86_64__)
#define Q_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

Q_ATTR static void gemv_q8_avx512(size_t n, size_t k, const int8_t *q, const float *scales, const float *x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK;
    for (size_t j = 0; j < n; j++) {
        const int8_t *row = q + j * k;
        const float *sc = scales + j * nb;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
        for (size_t b = 0; b < nb; b++) {
            __m512 d = _mm512_set1_ps(sc[b]);
            __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(row + b * BLOCK))));
            __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(row + b * BLOCK + 16))));
            s0 = _mm512_fmadd_ps(_mm512_mul_ps(w0, d), _mm512_loadu_ps(x + b * BLOCK), s0);
            s1 = _mm512_fmadd_ps(_mm512_mul_ps(w1, d), _mm512_loadu_ps(x + b * BLOCK + 16), s1);
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    }
}

Q_ATTR static void gemv_q4_avx512(size_t n, size_t k, const uint8_t *q, const float *scales, const float *x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK;
    const __m128i low = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = q + j * k / 2;
        const float *sc = scales + j * nb;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
        for (size_t b = 0; b < nb; b++) {
            __m128i bytes = _mm_loadu_si128((const __m128i *)(row + b * BLOCK / 2));
            /* Interleave low and high nibbles back into k order, then make them signed. */
            __m128i lo = _mm_and_si128(bytes, low), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low);
            __m128i first = _mm_sub_epi8(_mm_xor_si128(_mm_unpacklo_epi8(lo, hi), eight), eight);
            __m128i second = _mm_sub_epi8(_mm_xor_si128(_mm_unpackhi_epi8(lo, hi), eight), eight);
            __m512 d = _mm512_set1_ps(sc[b]);
            __m512 w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(first)), d);
            __m512 w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(second)), d);
            s0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + b * BLOCK), s0);
            s1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + b * BLOCK + 16), s1);
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    }
}

/* With AVX512-VNNI: x is quantised once per call to int8, one scale per 32-value block (as
   llama.cpp's q8_0 activations), and each pair of blocks of a row is one `vpdpbusd` of unsigned
   weight bytes (q8 + 128, q4 + 8) by signed x bytes. What the pair needs besides the row's bytes
   is shared by all rows: x's block scales spread over the 16 lanes, and the integer start value
   that cancels the weight offset (−offset · Σ x of the block, in the block's first lane). */
#define VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))

typedef struct { int8_t *xq; float *scale; int32_t *start; } vnni_x;  /* 64 bytes a block pair each */

/* The 16 lanes of a pair belong to blocks 0 and 1 as 8 + 8 (q8) or 4, 4, 4, 4 alternating (q4,
   whose x is stored as [block 0 even elements, block 1 even, block 0 odd, block 1 odd]: the order of
   the low and high nibbles of its bytes). */
VNNI_ATTR static void prepare_x(const float *x, size_t k, int offset, int perm_q4, vnni_x v) {
    size_t nb = k / BLOCK, pairs = (nb + 1) / 2;
    memset(v.xq, 0, pairs * 64);
    memset(v.start, 0, pairs * 64);
    memset(v.scale, 0, pairs * 64);
    for (size_t b = 0; b < nb; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * BLOCK), v1 = _mm512_loadu_ps(x + b * BLOCK + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0;
        int sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            int q = (int)lrintf(x[b * BLOCK + i] * inv);
            sum += q;
            /* q4 pair layout: [b0 even, b1 even, b0 odd, b1 odd], 16 bytes each. */
            size_t at = perm_q4 ? (b / 2) * 64 + (i & 1) * 32 + (b & 1) * 16 + i / 2 : b * BLOCK + i;
            v.xq[at] = (int8_t)q;
        }
        v.start[(b / 2) * 16 + (perm_q4 ? (b & 1) * 4 : (b & 1) * 8)] = -offset * sum;
        for (int lane = 0; lane < 16; lane++)
            if ((perm_q4 ? (lane / 4) & 1 : lane / 8) == (int)(b & 1)) v.scale[(b / 2) * 16 + lane] = scale;
    }
}

VNNI_ATTR static void gemv_q8_vnni(size_t n, size_t k, const int8_t *q, const float *scales, const float *x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK, pairs = (nb + 1) / 2;
    int8_t xq[pairs * 64] __attribute__((aligned(64)));
    float xscale[pairs * 16] __attribute__((aligned(64)));
    int32_t start[pairs * 16] __attribute__((aligned(64)));
    prepare_x(x, k, 128, 0, (vnni_x){xq, xscale, start});
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    for (size_t j = 0; j < n; j++) {
        const int8_t *row = q + j * k;
        const float *sc = scales + j * nb;
        __m512 sum = _mm512_setzero_ps();
        for (size_t pr = 0; pr < pairs; pr++) {
            int two = 2 * pr + 1 < nb;
            __m512i w = two ? _mm512_loadu_si512(row + pr * 64) : _mm512_maskz_loadu_epi8(0xFFFFFFFFull, row + pr * 64);
            __m512i d = _mm512_dpbusd_epi32(_mm512_load_si512(start + pr * 16), _mm512_xor_si512(w, flip), _mm512_load_si512(xq + pr * 64));
            __m512 ws = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_maskz_loadu_ps(two ? 3 : 1, sc + 2 * pr)));
            sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(ws, _mm512_load_ps(xscale + pr * 16)), sum);
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * _mm512_reduce_add_ps(sum);
    }
}

VNNI_ATTR static void gemv_q4_vnni(size_t n, size_t k, const uint8_t *q, const float *scales, const float *x, float *y, float alpha, int acc) {
    size_t nb = k / BLOCK, pairs = (nb + 1) / 2;
    int8_t xq[pairs * 64] __attribute__((aligned(64)));
    float xscale[pairs * 16] __attribute__((aligned(64)));
    int32_t start[pairs * 16] __attribute__((aligned(64)));
    prepare_x(x, k, 8, 1, (vnni_x){xq, xscale, start});
    const __m256i flip = _mm256_set1_epi8((char)0x88), low = _mm256_set1_epi8(0x0F);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = q + j * k / 2;
        const float *sc = scales + j * nb;
        __m512 sum = _mm512_setzero_ps();
        for (size_t pr = 0; pr < pairs; pr++) {
            int two = 2 * pr + 1 < nb;
            __m256i bytes = two ? _mm256_loadu_si256((const __m256i *)(row + pr * 32)) : _mm256_maskz_loadu_epi8(0xFFFF, row + pr * 32);
            bytes = _mm256_xor_si256(bytes, flip);  /* each nibble + 8 (two's complement → offset) */
            __m256i lo = _mm256_and_si256(bytes, low), hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low);
            __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);  /* [b0 even, b1 even, b0 odd, b1 odd] */
            __m512i d = _mm512_dpbusd_epi32(_mm512_load_si512(start + pr * 16), w, _mm512_load_si512(xq + pr * 64));
            __m512 ws = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_maskz_loadu_ps(two ? 3 : 1, sc + 2 * pr)));
            sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(ws, _mm512_load_ps(xscale + pr * 16)), sum);
        }
        y[j] = (acc ? y[j] : 0.0f) + alpha * _mm512_reduce_add_ps(sum);
    }
}

static int has_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static int has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#endif

void ck_gemv_q8(size_t n, size_t k, const int8_t *q, const float *scales, const float *x, float *y, float alpha, int accumulate) {
#if defined(__x86_64__)
    if (has_vnni()) { gemv_q8_vnni(n, k, q, scales, x, y, alpha, accumulate); return; }
    if (has_avx512()) { gemv_q8_avx512(n, k, q, scales, x, y, alpha, accumulate); return; }
#endif
    gemv_q8_base(n, k, q, scales, x, y, alpha, accumulate);
}

void ck_gemv_q4(size_t n, size_t k, const uint8_t *q, const float *scales, const float *x, float *y, float alpha, int accumulate) {
#if defined(__x86_64__)
    if (has_vnni()) { gemv_q4_vnni(n, k, q, scales, x, y, alpha, accumulate); return; }
    if (has_avx512()) { gemv_q4_avx512(n, k, q, scales, x, y, alpha, accumulate); return; }
#endif
    gemv_q4_base(n, k, q, scales, x, y, alpha, accumulate);
}

/* Rows j0 … j0+rows−1, columns p0 … p0+kc−1, dequantised into out[r·kc + p]. Written once and
   compiled per instruction set: each block's stretch is a short loop the compiler vectorises. */
static inline __attribute__((always_inline)) void dequantize_q8_rows(const int8_t *q, const float *scales, size_t k, size_t j0,
                                                                      size_t rows, size_t p0, size_t kc, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const int8_t *row = q + (j0 + r) * k;
        const float *sc = scales + (j0 + r) * (k / BLOCK);
        float *o = out + r * kc;
        for (size_t p = p0; p < p0 + kc;) {
            size_t stop = (p / BLOCK + 1) * BLOCK;
            if (stop > p0 + kc) stop = p0 + kc;
            float s = sc[p / BLOCK];
            for (; p < stop; p++) *o++ = (float)row[p] * s;
        }
    }
}

static inline __attribute__((always_inline)) void dequantize_q4_rows(const uint8_t *q, const float *scales, size_t k, size_t j0,
                                                                      size_t rows, size_t p0, size_t kc, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = q + (j0 + r) * k / 2;
        const float *sc = scales + (j0 + r) * (k / BLOCK);
        float *o = out + r * kc;
        for (size_t p = p0; p < p0 + kc;) {
            size_t stop = (p / BLOCK + 1) * BLOCK;
            if (stop > p0 + kc) stop = p0 + kc;
            float s = sc[p / BLOCK];
            if ((p & 1) == 0 && ((stop - p) & 1) == 0) {  /* whole bytes: both nibbles at once */
                for (; p < stop; p += 2) {
                    uint8_t b = row[p / 2];
                    *o++ = (float)((int)(b & 0xF) - ((b & 0x8) << 1)) * s;
                    *o++ = (float)((int)(b >> 4) - ((b & 0x80) >> 3)) * s;
                }
            } else {
                for (; p < stop; p++) *o++ = (float)nibble(row[p / 2], p & 1) * s;
            }
        }
    }
}

#if defined(__x86_64__)
Q_ATTR static void dequantize_q8_rows_avx512(const int8_t *q, const float *scales, size_t k, size_t j0, size_t rows, size_t p0,
                                             size_t kc, float *out) { dequantize_q8_rows(q, scales, k, j0, rows, p0, kc, out); }
Q_ATTR static void dequantize_q4_rows_avx512(const uint8_t *q, const float *scales, size_t k, size_t j0, size_t rows, size_t p0,
                                             size_t kc, float *out) { dequantize_q4_rows(q, scales, k, j0, rows, p0, kc, out); }
#endif

void ck_dequantize_rows_q8(const int8_t *q, const float *scales, size_t k, size_t j0, size_t rows, size_t p0, size_t kc, float *out) {
#if defined(__x86_64__)
    if (has_avx512()) { dequantize_q8_rows_avx512(q, scales, k, j0, rows, p0, kc, out); return; }
#endif
    dequantize_q8_rows(q, scales, k, j0, rows, p0, kc, out);
}

void ck_dequantize_rows_q4(const uint8_t *q, const float *scales, size_t k, size_t j0, size_t rows, size_t p0, size_t kc, float *out) {
#if defined(__x86_64__)
    if (has_avx512()) { dequantize_q4_rows_avx512(q, scales, k, j0, rows, p0, kc, out); return; }
#endif
    dequantize_q4_rows(q, scales, k, j0, rows, p0, kc, out);
}
