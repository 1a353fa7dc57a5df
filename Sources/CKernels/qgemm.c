/* Int8 GEMM for block-quantised weights on AVX512-VNNI (`vpdpbusd`, 64 byte products a cycle).
   Activations are quantised per 32-value block to int8 (as the GEMV and llama.cpp's q8_0 do).
   `vpdpbusd` multiplies unsigned by signed bytes, so the weights are packed offset to unsigned
   (q8 + 128, q4 + 8) and the activation tile carries −offset · Σ block values per row, the
   integer accumulator's starting value that cancels the offset exactly. */
#include "ck_quant.h"
#include "half.h"
#include "strips.h"
#include "store32.h"
#include <string.h>
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define BLOCK 32
#define MR 6
#define NR 32
/* One block of an A tile: MR int32 start values, MR f32 scales, then 8 quads × MR rows × 4 bytes. */
#define A_BLOCK_BYTES (MR * 4 + MR * 4 + BLOCK * MR)
/* One block of a B panel: NR f32 scales, then 8 quads × NR columns × 4 bytes. */
#define B_BLOCK_BYTES (NR * 4 + BLOCK * NR)

size_t ck_qgemm_mr(void) { return MR; }
size_t ck_qgemm_nr(void) { return NR; }
size_t ck_qgemm_a_block_bytes(void) { return A_BLOCK_BYTES; }
size_t ck_qgemm_b_block_bytes(void) { return B_BLOCK_BYTES; }

int ck_has_qgemm(void) {
#if defined(__x86_64__)
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f");
    }
    return known && ck_quant_isa_limit() >= 2;
#else
    return 0;
#endif
}

void ck_qgemm_pack_a(const float *a, size_t lda, size_t rows, size_t k, int offset, void *dst) {
    for (size_t b = 0; b < k / BLOCK; b++) {
        uint8_t *blk = (uint8_t *)dst + b * A_BLOCK_BYTES;
        int32_t start[MR] = {0};
        float scale[MR] = {0};
        int8_t *q = (int8_t *)(blk + MR * 8);
        memset(q, 0, BLOCK * MR);
        for (size_t i = 0; i < rows; i++) {
            const float *x = a + i * lda + b * BLOCK;
            float amax = 0;
            for (int p = 0; p < BLOCK; p++) amax = fmaxf(amax, fabsf(x[p]));
            float s = amax / 127.0f, inv = s > 0 ? 1.0f / s : 0;
            int sum = 0;
            for (int p = 0; p < BLOCK; p++) {
                int v = (int)lrintf(x[p] * inv);
                q[(p / 4) * MR * 4 + i * 4 + p % 4] = (int8_t)v;
                sum += v;
            }
            scale[i] = s;
            start[i] = -offset * sum;
        }
        memcpy(blk, start, sizeof start);
        memcpy(blk + MR * 4, scale, sizeof scale);
    }
}

/* Packing B straight from the strips (strips.h): quad qd of a block, 16 columns × 4 bytes, is the
   strip's vector qd (q8) or the low nibbles of vector qd / the high ones of vector qd − 4 (q4). Two
   strips make the 32 columns; a strip past the matrix's last row is zeros. */
#if defined(__x86_64__)
#define QP_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c")))
QP_ATTR static void pack_b_avx512(int q4, const uint8_t *q, const uint16_t *scales, size_t k, size_t j0, size_t cols, size_t p0, size_t kc,
                                  uint8_t *dst) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (size_t b = 0; b < kc / BLOCK; b++) {
        uint8_t *blk = dst + b * B_BLOCK_BYTES, *quads = blk + NR * 4;
        for (size_t s = 0; s < NR / STRIP; s++) {
            size_t j = j0 + s * STRIP, block = p0 / BLOCK + b;
            if (s * STRIP >= cols) {
                memset(blk + s * 64, 0, 64);
                for (int qd = 0; qd < 8; qd++) _mm512_storeu_si512(quads + qd * NR * 4 + s * 64, _mm512_setzero_si512());
                continue;
            }
            _mm512_storeu_ps(blk + s * 64, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + strip_scale_index(k, j, block)))));
            if (q4) {
                const uint8_t *src = q + q4_row_block(k, j, block);
                for (int i = 0; i < 4; i++) {
                    __m512i bytes = _mm512_loadu_si512(src + 64 * i);
                    _mm512_storeu_si512(quads + i * NR * 4 + s * 64, _mm512_and_si512(bytes, low));
                    _mm512_storeu_si512(quads + (i + 4) * NR * 4 + s * 64, _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low));
                }
            } else {
                const uint8_t *src = q + q8_row_block(k, j, block);
                for (int i = 0; i < 8; i++) _mm512_storeu_si512(quads + i * NR * 4 + s * 64, _mm512_loadu_si512(src + 64 * i));
            }
        }
    }
}
#endif

/* Only with ck_has_qgemm(); j0 is a multiple of 16; q4 != 0 for q4 weights, else q8. */
void ck_qgemm_pack_b(int q4, const void *q, const uint16_t *scales, size_t k, size_t j0, size_t cols, size_t p0, size_t kc, void *dst) {
#if defined(__x86_64__)
    pack_b_avx512(q4, q, scales, k, j0, cols, p0, kc, dst);
#endif
}

#if defined(__x86_64__)
#define QG_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))

QG_ATTR static inline __attribute__((always_inline)) void micro_rows(const int R, size_t blocks, const uint8_t *a, const uint8_t *b,
                                                                     float *c, size_t ldc, size_t nr, int acc, float alpha) {
    __m512 f[MR][2];
    for (int i = 0; i < R; i++) { f[i][0] = _mm512_setzero_ps(); f[i][1] = _mm512_setzero_ps(); }
    for (size_t blk = 0; blk < blocks; blk++, a += A_BLOCK_BYTES, b += B_BLOCK_BYTES) {
        const int32_t *start = (const int32_t *)a;
        const float *as = (const float *)(a + MR * 4);
        const int32_t *aq = (const int32_t *)(a + MR * 8);
        const uint8_t *bq = b + NR * 4;
        __m512i s[MR][2];
        for (int i = 0; i < R; i++) s[i][0] = s[i][1] = _mm512_set1_epi32(start[i]);
        for (int quad = 0; quad < BLOCK / 4; quad++) {
            __m512i b0 = _mm512_loadu_si512(bq + quad * NR * 4), b1 = _mm512_loadu_si512(bq + quad * NR * 4 + 64);
            for (int i = 0; i < R; i++) {
                __m512i x = _mm512_set1_epi32(aq[quad * MR + i]);
                s[i][0] = _mm512_dpbusd_epi32(s[i][0], b0, x);
                s[i][1] = _mm512_dpbusd_epi32(s[i][1], b1, x);
            }
        }
        __m512 w0 = _mm512_loadu_ps((const float *)b), w1 = _mm512_loadu_ps((const float *)b + 16);
        for (int i = 0; i < R; i++) {
            __m512 x = _mm512_set1_ps(as[i]);
            f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][0]), _mm512_mul_ps(w0, x), f[i][0]);
            f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][1]), _mm512_mul_ps(w1, x), f[i][1]);
        }
    }
    for (int i = 0; i < R; i++) store_row32(c + i * ldc, f[i][0], f[i][1], nr, alpha, acc);
}

#define QG_CASE(R) case R: micro_rows(R, blocks, a, b, c, ldc, nr, acc, alpha); return;
QG_ATTR static void micro_vnni(size_t blocks, const uint8_t *a, const uint8_t *b, float *c, size_t ldc, size_t mr, size_t nr,
                               int acc, float alpha) {
    switch (mr) {
        QG_CASE(6) QG_CASE(5) QG_CASE(4) QG_CASE(3) QG_CASE(2) QG_CASE(1)
        default: return;
    }
}
#endif

void ck_qgemm_micro(size_t blocks, const void *a, const void *b, float *c, size_t ldc, size_t mr, size_t nr, int accumulate, float alpha) {
#if defined(__x86_64__)
    micro_vnni(blocks, a, b, c, ldc, mr, nr, accumulate, alpha);
#endif
}
