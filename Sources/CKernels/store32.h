/* Stores a 32-float row held in two vectors: row[i] = alpha · v[i] (+ row[i] when acc) for i < cols. */
#ifndef VLKIT_CK_STORE32_H
#define VLKIT_CK_STORE32_H
#if defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>

__attribute__((target("avx512f"), always_inline)) static inline void store_row32(float *row, __m512 v0, __m512 v1, size_t cols,
                                                                                  float alpha, int acc) {
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    __m512 al = _mm512_set1_ps(alpha);
    v0 = _mm512_mul_ps(v0, al);
    v1 = _mm512_mul_ps(v1, al);
    if (acc) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    if (m1) _mm512_mask_storeu_ps(row + 16, m1, v1);
}
#endif
#endif
