/* IEEE binary16 ↔ binary32 by bit manipulation (the block scales of quantised weights are stored
   as halves, as llama.cpp's q8_0/q4_0; the hot x86 loops convert with vcvtph2ps instead). */
#ifndef VLKIT_CK_HALF_H
#define VLKIT_CK_HALF_H
#include <stdint.h>
#include <string.h>
#include <math.h>

static inline float ck_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {  /* zero or subnormal: man · 2^-24 */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    bits = exp == 31 ? sign | 0x7F800000 | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Rounds to nearest, ties to even; too large → infinity. */
static inline uint16_t ck_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7FFFFFFF;
    if (ax > 0x7F800000) return (uint16_t)(sign | 0x7E00);                 /* NaN */
    if (ax >= 0x47800000) return (uint16_t)(sign | 0x7C00);                /* ≥ 65536 */
    if (ax < 0x38800000) {                                                 /* below 2^-14: subnormal */
        float v;
        memcpy(&v, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(v * 16777216.0f));
    }
    uint32_t r = ax + 0x0FFF + ((ax >> 13) & 1) - 0x38000000;
    return (uint16_t)(sign | (r >> 13));
}
#endif
