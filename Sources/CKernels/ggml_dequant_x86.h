/* The AVX-512 de-quantisation of ggml_dequant.c (AVX512F/BW/VL/DQ; vcvtph2ps for the half scales), chosen
   at run time. Every weight is computed as the portable path computes it: the same integer q, converted
   exactly to float, and the same products and sums of floats in the same order, each rounded on its own
   (vmulps, vaddps, vsubps; never an FMA, which the pragma of ggml_dequant.c forbids the compiler to
   form), so the two paths agree bit for bit. The scales of a K block are multiplied out (d · sc,
   dmin · mn) once per block, 16 at a time, as the portable code does per sub-block.
   The integers are unpacked 16 at a time, zero- or sign-extended from 16 bytes into int32 lanes
   (vpmovzxbd / vpmovsxbd from memory), then masked and shifted in the lanes. */

#define DQ_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c")))
#define DQ_INLINE DQ_ATTR static inline __attribute__((always_inline))

/* The half at p, as float in every lane. */
DQ_INLINE __m512 dq_half(const uint8_t *p) { return _mm512_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(gg_u16(p)))); }

/* The 16 bytes at p as unsigned (signed) int32 lanes. */
DQ_INLINE __m512i dq_u8(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
DQ_INLINE __m512i dq_i8(const uint8_t *p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)); }

DQ_INLINE __m512i dq_and(__m512i a, int m) { return _mm512_and_si512(a, _mm512_set1_epi32(m)); }

/* y[0…15] = d · q and d · q + m (d and m float lanes, q int32 lanes). */
DQ_INLINE void dq_put(float *y, __m512 d, __m512i q) { _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q))); }
DQ_INLINE void dq_put_add(float *y, __m512 d, __m512i q, __m512 m) {
    _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(q)), m));
}
/* y[0…15] = d · q − m with d, m the floats at pd, pm. */
DQ_INLINE void dq_put_sub(float *y, const float *pd, __m512i q, const float *pm) {
    _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(*pd), _mm512_cvtepi32_ps(q)), _mm512_set1_ps(*pm)));
}

/* ---- 32-weight blocks: qs at `at`, the low nibbles of its 16 bytes are weights 0–15, the high ones 16–31 ---- */

DQ_ATTR static void dq_q4_0_avx512(const uint8_t *s, size_t nb, float *y) {
    const __m512i eight = _mm512_set1_epi32(8);
    for (size_t b = 0; b < nb; b++, s += 18, y += 32) {
        __m512 d = dq_half(s);
        __m512i q = dq_u8(s + 2);
        dq_put(y, d, _mm512_sub_epi32(dq_and(q, 0x0F), eight));
        dq_put(y + 16, d, _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight));
    }
}

DQ_ATTR static void dq_q4_1_avx512(const uint8_t *s, size_t nb, float *y) {
    for (size_t b = 0; b < nb; b++, s += 20, y += 32) {
        __m512 d = dq_half(s), m = dq_half(s + 2);
        __m512i q = dq_u8(s + 4);
        dq_put_add(y, d, dq_and(q, 0x0F), m);
        dq_put_add(y + 16, d, _mm512_srli_epi32(q, 4), m);
    }
}

/* Q5_0: q − 16 is the nibble where bit 4 (bit j of qh) is set, the nibble − 16 where it is clear. */
DQ_ATTR static void dq_q5_0_avx512(const uint8_t *s, size_t nb, float *y) {
    const __m512i sixteen = _mm512_set1_epi32(16);
    for (size_t b = 0; b < nb; b++, s += 22, y += 32) {
        __m512 d = dq_half(s);
        uint32_t qh = gg_u32(s + 2);
        __m512i q = dq_u8(s + 6), lo = dq_and(q, 0x0F), hi = _mm512_srli_epi32(q, 4);
        dq_put(y, d, _mm512_mask_sub_epi32(lo, (__mmask16)~qh, lo, sixteen));
        dq_put(y + 16, d, _mm512_mask_sub_epi32(hi, (__mmask16)~(qh >> 16), hi, sixteen));
    }
}

DQ_ATTR static void dq_q5_1_avx512(const uint8_t *s, size_t nb, float *y) {
    const __m512i sixteen = _mm512_set1_epi32(16);
    for (size_t b = 0; b < nb; b++, s += 24, y += 32) {
        __m512 d = dq_half(s), m = dq_half(s + 2);
        uint32_t qh = gg_u32(s + 4);
        __m512i q = dq_u8(s + 8), lo = dq_and(q, 0x0F), hi = _mm512_srli_epi32(q, 4);
        dq_put_add(y, d, _mm512_mask_or_epi32(lo, (__mmask16)qh, lo, sixteen), m);
        dq_put_add(y + 16, d, _mm512_mask_or_epi32(hi, (__mmask16)(qh >> 16), hi, sixteen), m);
    }
}

DQ_ATTR static void dq_q8_0_avx512(const uint8_t *s, size_t nb, float *y) {
    for (size_t b = 0; b < nb; b++, s += 34, y += 32) {
        __m512 d = dq_half(s);
        dq_put(y, d, dq_i8(s + 2));
        dq_put(y + 16, d, dq_i8(s + 18));
    }
}

/* ---- 256-weight super-blocks ---- */

DQ_ATTR static void dq_q2_k_avx512(const uint8_t *s, size_t nb, float *y) {
    float dl[16], ml[16];
    for (size_t b = 0; b < nb; b++, s += 84, y += GG_QKK) {
        __m512i sc = dq_u8(s);
        _mm512_storeu_ps(dl, _mm512_mul_ps(dq_half(s + 80), _mm512_cvtepi32_ps(dq_and(sc, 0x0F))));
        _mm512_storeu_ps(ml, _mm512_mul_ps(dq_half(s + 82), _mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4))));
        for (int h = 0; h < 2; h++)
            for (int l0 = 0; l0 < 32; l0 += 16) {
                __m512i q = dq_u8(s + 16 + 32 * h + l0);
                for (int c = 0; c < 4; c++) {
                    int i = 128 * h + 32 * c + l0;
                    dq_put_sub(y + i, dl + i / 16, dq_and(_mm512_srli_epi32(q, 2 * c), 3), ml + i / 16);
                }
            }
    }
}

/* Q3_K: a clear high bit (bit 4h + c of hmask[l]) subtracts 4 from the two low bits. */
DQ_ATTR static void dq_q3_k_avx512(const uint8_t *s, size_t nb, float *y) {
    const __m512i four = _mm512_set1_epi32(4);
    int8_t sc[16];
    float ds[16];
    for (size_t b = 0; b < nb; b++, s += 110, y += GG_QKK) {
        gg_k3_scales(s + 96, sc);
        _mm512_storeu_ps(ds, _mm512_mul_ps(dq_half(s + 108), _mm512_cvtepi32_ps(dq_i8((const uint8_t *)sc))));
        for (int l0 = 0; l0 < 32; l0 += 16) {
            __m512i hm = dq_u8(s + l0);
            for (int h = 0; h < 2; h++) {
                __m512i q = dq_u8(s + 32 + 32 * h + l0);
                for (int c = 0; c < 4; c++) {
                    int i = 128 * h + 32 * c + l0;
                    __m512i low = dq_and(_mm512_srli_epi32(q, 2 * c), 3);
                    __mmask16 high = _mm512_test_epi32_mask(hm, _mm512_set1_epi32(1 << (4 * h + c)));
                    dq_put(y + i, _mm512_set1_ps(ds[i / 16]), _mm512_mask_sub_epi32(low, (__mmask16)~high, low, four));
                }
            }
        }
    }
}

/* Q4_K and Q5_K: byte l of qs[32c …] holds weight l of sub-block 2c (low nibble) and 2c + 1 (high);
   for Q5_K bit s of qh[l] is bit 4 of weight l of sub-block s. */
DQ_INLINE void dq_q45_k_avx512(const uint8_t *s, size_t nb, float *y, const int five) {
    const __m512i sixteen = _mm512_set1_epi32(16);
    uint8_t sm[16];
    float f[16]; /* d · scales 0–7, dmin · mins 0–7 */
    for (size_t b = 0; b < nb; b++, s += five ? 176 : 144, y += GG_QKK) {
        gg_k4_scales(s + 4, sm);
        __m512 dm = _mm512_mask_blend_ps(0xFF00, dq_half(s), dq_half(s + 2));
        _mm512_storeu_ps(f, _mm512_mul_ps(dm, _mm512_cvtepi32_ps(dq_u8(sm))));
        const uint8_t *qs = s + (five ? 48 : 16);
        __m512i qh[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        if (five) qh[0] = dq_u8(s + 16), qh[1] = dq_u8(s + 32);
        for (int c = 0; c < 4; c++)
            for (int half = 0; half < 2; half++) {
                int l0 = 16 * half;
                __m512i q = dq_u8(qs + 32 * c + l0), lo = dq_and(q, 0x0F), hi = _mm512_srli_epi32(q, 4);
                if (five) {
                    lo = _mm512_mask_or_epi32(lo, _mm512_test_epi32_mask(qh[half], _mm512_set1_epi32(1 << (2 * c))), lo,
                                              sixteen);
                    hi = _mm512_mask_or_epi32(hi, _mm512_test_epi32_mask(qh[half], _mm512_set1_epi32(2 << (2 * c))), hi,
                                              sixteen);
                }
                dq_put_sub(y + 64 * c + l0, f + 2 * c, lo, f + 8 + 2 * c);
                dq_put_sub(y + 64 * c + 32 + l0, f + 2 * c + 1, hi, f + 9 + 2 * c);
            }
    }
}

DQ_ATTR static void dq_q4_k_avx512(const uint8_t *s, size_t nb, float *y) { dq_q45_k_avx512(s, nb, y, 0); }
DQ_ATTR static void dq_q5_k_avx512(const uint8_t *s, size_t nb, float *y) { dq_q45_k_avx512(s, nb, y, 1); }

/* Q6_K, per half h and 16 l: ql[64h + l] holds weights l, l + 64 (low, high nibble), ql[64h + 32 + l]
   weights l + 32, l + 96; bit pair c of qh[32h + l] is bits 4–5 of weight l + 32c. */
DQ_ATTR static void dq_q6_k_avx512(const uint8_t *s, size_t nb, float *y) {
    const __m512i thirtytwo = _mm512_set1_epi32(32), bits45 = _mm512_set1_epi32(0x30);
    float ds[16];
    for (size_t b = 0; b < nb; b++, s += 210, y += GG_QKK) {
        _mm512_storeu_ps(ds, _mm512_mul_ps(dq_half(s + 208), _mm512_cvtepi32_ps(dq_i8(s + 192))));
        for (int h = 0; h < 2; h++)
            for (int l0 = 0; l0 < 32; l0 += 16) {
                const uint8_t *ql = s + 64 * h + l0;
                __m512i a = dq_u8(ql), c1 = dq_u8(ql + 32), qh = dq_u8(s + 128 + 32 * h + l0), q[4];
                /* lo | (hb & 0x30): ternary-logic table A | (B & C) */
                q[0] = _mm512_ternarylogic_epi32(dq_and(a, 0x0F), _mm512_slli_epi32(qh, 4), bits45, 0xF8);
                q[1] = _mm512_ternarylogic_epi32(dq_and(c1, 0x0F), _mm512_slli_epi32(qh, 2), bits45, 0xF8);
                q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(a, 4), qh, bits45, 0xF8);
                q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(c1, 4), _mm512_srli_epi32(qh, 2), bits45, 0xF8);
                for (int c = 0; c < 4; c++) {
                    int i = 128 * h + 32 * c + l0;
                    dq_put(y + i, _mm512_set1_ps(ds[i / 16]), _mm512_sub_epi32(q[c], thirtytwo));
                }
            }
    }
}

/* ---- halves and bfloat16: 16 at a time, the last ones masked ---- */

/* vcvtph2ps quiets signalling NaNs; the portable conversion keeps every NaN's bits (sign, all-ones exponent,
   mantissa << 13), so NaN lanes are rebuilt that way (without a branch: random halves are NaN often enough
   to mispredict). */
DQ_ATTR static void dq_f16_avx512(const uint8_t *s, size_t n, float *y) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m256i h = k == 0xFFFF ? _mm256_loadu_si256((const __m256i *)(s + 2 * i))
                                : _mm256_maskz_loadu_epi16(k, s + 2 * i);
        __m512 f = _mm512_cvtph_ps(h);
        __m512i u = _mm512_cvtepu16_epi32(h);
        __mmask16 nan = _mm512_cmpgt_epu32_mask(dq_and(u, 0x7FFF), _mm512_set1_epi32(0x7C00));
        __m512i bits = _mm512_or_si512(_mm512_slli_epi32(dq_and(u, 0x8000), 16), _mm512_set1_epi32(0x7F800000));
        bits = _mm512_or_si512(bits, _mm512_slli_epi32(dq_and(u, 0x3FF), 13));
        f = _mm512_mask_mov_ps(f, nan, _mm512_castsi512_ps(bits));
        _mm512_mask_storeu_ps(y + i, k, f);
    }
}

DQ_ATTR static void dq_bf16_avx512(const uint8_t *s, size_t n, float *y) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, s + 2 * i));
        _mm512_mask_storeu_ps(y + i, k, _mm512_castsi512_ps(_mm512_slli_epi32(u, 16)));
    }
}

/* 1 if the type has an AVX-512 path (and dst now holds the n weights), 0 if not. */
DQ_ATTR static int dequantize_avx512(int type, const uint8_t *s, size_t n, float *y) {
    switch (type) {
    case GG_F16: dq_f16_avx512(s, n, y); return 1;
    case GG_BF16: dq_bf16_avx512(s, n, y); return 1;
    case GG_Q4_0: dq_q4_0_avx512(s, n / GG_QK, y); return 1;
    case GG_Q4_1: dq_q4_1_avx512(s, n / GG_QK, y); return 1;
    case GG_Q5_0: dq_q5_0_avx512(s, n / GG_QK, y); return 1;
    case GG_Q5_1: dq_q5_1_avx512(s, n / GG_QK, y); return 1;
    case GG_Q8_0: dq_q8_0_avx512(s, n / GG_QK, y); return 1;
    case GG_Q2_K: dq_q2_k_avx512(s, n / GG_QKK, y); return 1;
    case GG_Q3_K: dq_q3_k_avx512(s, n / GG_QKK, y); return 1;
    case GG_Q4_K: dq_q4_k_avx512(s, n / GG_QKK, y); return 1;
    case GG_Q5_K: dq_q5_k_avx512(s, n / GG_QKK, y); return 1;
    case GG_Q6_K: dq_q6_k_avx512(s, n / GG_QKK, y); return 1;
    default: return 0;
    }
}

#undef DQ_INLINE
#undef DQ_ATTR
