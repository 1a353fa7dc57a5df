/* The AVX-512 row kernels of ggml_gemv.c, written once and included twice: with GG_VNNI 1 (AVX512-VNNI's
   vpdpbusd / vpdpwssd) and GG_VNNI 0 (AVX512BW: vpmaddubsw + vpmaddwd + vpaddd, the same integers).
   GG_ATTR is the target attribute and GG_NAME(f) names a function for this variant. Prepared x (gx)
   and the arrangements it assumes are described at the top of ggml_gemv.c. */

#if GG_VNNI
#define GG_DPBUSD256(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#define GG_DPBUSD(acc, u, s) _mm512_dpbusd_epi32(acc, u, s)
#define GG_DPWSSD(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
#else
#define GG_DPBUSD256(acc, u, s) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
#define GG_DPBUSD(acc, u, s) _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)))
#define GG_DPWSSD(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#endif
/* Σ over 64 weights u (unsigned, ≤ 63) · x (int8), each pair's int16 product sum (≤ 2·63·127, no
   saturation) times the int16 scale of its lane, added to acc's int32 lanes. */
#define GG_SCALED_DOT(acc, u, xq, scales) GG_DPWSSD(acc, _mm512_maddubs_epi16(u, _mm512_loadu_si512(xq)), scales)

/* A half at p as float. (_cvtsh_ss inserts into a live register: a false dependency on the accumulators.) */
GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(half)(const uint8_t *p) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(gg_u16(p))));
}

/* gg_k4_scales in registers: the 12 bytes at s as scales 0–7 then mins 0–7 (bytes 12–15 at s are read
   and ignored: the weights follow in the block). */
GG_ATTR static inline __attribute__((always_inline)) __m128i GG_NAME(k4_scales)(const uint8_t *s) {
    __m128i v = _mm_loadu_si128((const __m128i *)s);
    __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
    a = _mm_and_si128(_mm_srlv_epi32(a, _mm_set_epi32(4, 0, 0, 0)), _mm_set_epi32(0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F));
    b = _mm_and_si128(_mm_srli_epi32(b, 2), _mm_set_epi32(0x30303030, 0, 0x30303030, 0));
    return _mm_or_si128(a, b);
}

/* gg_k3_scales in registers: the 12 scale bytes of a Q3_K block as 16 signed bytes (the load ends at
   the block's last byte). */
GG_ATTR static inline __attribute__((always_inline)) __m128i GG_NAME(k3_scales)(const uint8_t *blk) {
    __m128i v = _mm_srli_si128(_mm_loadu_si128((const __m128i *)(blk + 94)), 2);
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0)), _mm_set_epi32(4, 4, 0, 0)),
                               _mm_set1_epi8(0x0F));
    __m128i hi = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 2, 2)), _mm_set_epi32(6, 4, 2, 0));
    hi = _mm_and_si128(_mm_slli_epi32(hi, 4), _mm_set1_epi8(0x30));
    return _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
}

/* The 32 unsigned weights of a 32-weight block in natural order (Q8_0: the int8 weights + 128 with
   VNNI, their magnitudes without it). */
GG_ATTR static inline __attribute__((always_inline)) __m256i GG_NAME(unsigned32)(const int type, const uint8_t *blk) {
    if (type == GG_Q8_0) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
        return GG_VNNI ? _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)) : _mm256_abs_epi8(w);
    }
    const size_t at = type == GG_Q4_0 ? 2 : type == GG_Q4_1 ? 4 : type == GG_Q5_0 ? 6 : 8; /* qs */
    __m128i q = _mm_loadu_si128((const __m128i *)(blk + at)), low = _mm_set1_epi8(0x0F);
    __m256i u = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, low)),
                                        _mm_and_si128(_mm_srli_epi16(q, 4), low), 1);
    if (type == GG_Q5_0 || type == GG_Q5_1)
        u = _mm256_mask_add_epi8(u, (__mmask32)gg_u32(blk + (type == GG_Q5_0 ? 2 : 4)), u, _mm256_set1_epi8(0x10));
    return u;
}

GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(sum128)(__m128 h) {
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(sum256)(__m256 a) {
    return GG_NAME(sum128)(_mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1)));
}

/* One 32-weight block (x in natural order): acc += d_w · d_x · (its int32 dot lanes); returns the
   block's factor of the prepared sx (d_w, m_w for Q4_1 / Q5_1, 0 for Q8_0's signed dot). */
GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(block32)(const int type, const uint8_t *blk, const int8_t *xq,
                                                                           float dx, __m256 *acc) {
    __m256i u = GG_NAME(unsigned32)(type, blk), xv = _mm256_loadu_si256((const __m256i *)xq);
    if (type == GG_Q8_0 && !GG_VNNI) {
        /* |w| · (x with w's sign): the int16 pair sums stay ≤ 2·128·127. */
        __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
        xv = _mm256_mask_sub_epi8(xv, _mm256_movepi8_mask(w), _mm256_setzero_si256(), xv);
    }
    __m256i dot = GG_DPBUSD256(_mm256_setzero_si256(), u, xv);
    float d = GG_NAME(half)(blk);
    *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d * dx), *acc);
    return type == GG_Q4_1 || type == GG_Q5_1 ? GG_NAME(half)(blk + 2) : type == GG_Q8_0 && !GG_VNNI ? 0.0f : d;
}

/* The int32 lanes of a pair of 32-weight blocks 2p, 2p+1 in one vector, as block indices 0…7 of a group:
   Q8_0 lanes 0–7 and 8–15, the nibble types 0–3, 8–11 (low nibbles, high nibbles of block 2p) and
   4–7, 12–15. */
GG_ATTR static inline __attribute__((always_inline)) __m512i GG_NAME(pair_lanes)(const int type, int p) {
    int a = 2 * p, b = 2 * p + 1;
    if (type == GG_Q8_0) return _mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b);
    return _mm512_setr_epi32(a, a, a, a, b, b, b, b, a, a, a, a, b, b, b, b);
}

/* Four halves at p, p + stride, … as one 64-bit word (general-purpose registers: faster here than a
   gather). */
static inline __attribute__((always_inline)) uint64_t GG_NAME(halves4)(const uint8_t *p, size_t stride) {
    return (uint64_t)gg_u16(p) | (uint64_t)gg_u16(p + stride) << 16 | (uint64_t)gg_u16(p + 2 * stride) << 32
         | (uint64_t)gg_u16(p + 3 * stride) << 48;
}

/* Eight blocks from blk (block b of the row), two per vector, with their eight scales d_w · d_x and sx
   terms computed at once. Prepared x holds such a group as four 64-byte pairs (Q8_0: natural; the nibble
   types: the low halves (values 0–15) of both blocks, then the high halves). */
GG_ATTR static inline __attribute__((always_inline)) void GG_NAME(group8)(const int type, const uint8_t *blk, size_t b, gx x,
                                                                         __m512 acc[4], __m256 *offsets) {
    const size_t bytes = type == GG_Q4_0 ? 18 : type == GG_Q4_1 ? 20 : type == GG_Q5_0 ? 22 : type == GG_Q5_1 ? 24 : 34;
    const int at = type == GG_Q4_0 ? 2 : type == GG_Q4_1 ? 4 : type == GG_Q5_0 ? 6 : 8; /* qs */
    const int has_min = type == GG_Q4_1 || type == GG_Q5_1, signed_dot = type == GG_Q8_0 && !GG_VNNI;
    __m256 d = _mm256_cvtph_ps(_mm_set_epi64x((long long)GG_NAME(halves4)(blk + 4 * bytes, bytes),
                                              (long long)GG_NAME(halves4)(blk, bytes)));
    __m512 scale = _mm512_castps256_ps512(_mm256_mul_ps(d, _mm256_loadu_ps(x.d + b)));
    if (has_min)
        d = _mm256_cvtph_ps(_mm_set_epi64x((long long)GG_NAME(halves4)(blk + 4 * bytes + 2, bytes),
                                           (long long)GG_NAME(halves4)(blk + 2, bytes)));
    if (!signed_dot) *offsets = _mm256_fmadd_ps(d, _mm256_loadu_ps(x.sx + b), *offsets);
    const __m128i low = _mm_set1_epi8(0x0F);
    for (int p = 0; p < 4; p++) {
        const uint8_t *b0 = blk + 2 * p * bytes, *b1 = b0 + bytes;
        __m512i xv = _mm512_loadu_si512(x.q + (b + 2 * p) * GG_QK), u;
        if (type == GG_Q8_0) {
            __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + 2))),
                                           _mm256_loadu_si256((const __m256i *)(b1 + 2)), 1);
            if (GG_VNNI) {
                u = _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
            } else {
                u = _mm512_abs_epi8(w);
                xv = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(w), _mm512_setzero_si512(), xv);
            }
        } else {
            __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b0 + at))),
                                                _mm_loadu_si128((const __m128i *)(b1 + at)), 1);
            __m256i l = _mm256_and_si256(v, _mm256_broadcastsi128_si256(low));
            __m256i h = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_broadcastsi128_si256(low));
            u = _mm512_inserti64x4(_mm512_castsi256_si512(l), h, 1);
            if (type == GG_Q5_0 || type == GG_Q5_1) {
                int qh = type == GG_Q5_0 ? 2 : 4;
                uint32_t h0 = gg_u32(b0 + qh), h1 = gg_u32(b1 + qh);
                uint64_t m = (uint64_t)((h0 & 0xFFFFu) | h1 << 16) | (uint64_t)((h0 >> 16) | (h1 & 0xFFFF0000u)) << 32;
                u = _mm512_mask_add_epi8(u, (__mmask64)m, u, _mm512_set1_epi8(0x10));
            }
        }
        __m512i dot = GG_DPBUSD(_mm512_setzero_si512(), u, xv);
        acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(GG_NAME(pair_lanes)(type, p), scale), acc[p]);
    }
}

/* Σ over a row of 32-weight blocks: d_w · d_x · (the block's unsigned dot) + (d_w or m_w) · sx. Groups
   of eight blocks, then one at a time. */
GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(row32)(const int type, const uint8_t *row, size_t nb, gx x) {
    const size_t bytes = type == GG_Q4_0 ? 18 : type == GG_Q4_1 ? 20 : type == GG_Q5_0 ? 22 : type == GG_Q5_1 ? 24 : 34;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __m256 tail = _mm256_setzero_ps(), offsets = _mm256_setzero_ps();
    size_t b = 0;
    for (; b + 8 <= nb; b += 8) GG_NAME(group8)(type, row + b * bytes, b, x, acc, &offsets);
    float tail_offsets = 0;
    for (; b < nb; b++) tail_offsets += GG_NAME(block32)(type, row + b * bytes, x.q + b * GG_QK, x.d[b], &tail) * x.sx[b];
    __m512 a = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    return _mm512_reduce_add_ps(a) + GG_NAME(sum256)(_mm256_add_ps(tail, offsets)) + tail_offsets;
}

/* vpshufb controls over a broadcast 16-byte table: the 128-bit lane L of the result holds eight int16
   copies of table byte iL (zero-extended). */
GG_ATTR static inline __attribute__((always_inline)) __m512i GG_NAME(pick_u8)(int i0, int i1, int i2, int i3) {
#define GG_PICK(i) (int)(0x80008000u | (uint32_t)(i) | (uint32_t)(i) << 16)
    return _mm512_set_epi32(GG_PICK(i3), GG_PICK(i3), GG_PICK(i3), GG_PICK(i3), GG_PICK(i2), GG_PICK(i2), GG_PICK(i2),
                            GG_PICK(i2), GG_PICK(i1), GG_PICK(i1), GG_PICK(i1), GG_PICK(i1), GG_PICK(i0), GG_PICK(i0),
                            GG_PICK(i0), GG_PICK(i0));
#undef GG_PICK
}

/* Eight int16 copies of s16's int16 i0 in the first 128-bit lane, of i1 in the second, … (the signed
   scales of Q3_K and Q6_K, sign-extended once per block). */
GG_ATTR static inline __attribute__((always_inline)) __m512i GG_NAME(perm_s16)(__m512i s16, int i0, int i1, int i2, int i3) {
    __m512i idx = _mm512_set_epi16(i3, i3, i3, i3, i3, i3, i3, i3, i2, i2, i2, i2, i2, i2, i2, i2, i1, i1, i1, i1, i1, i1, i1, i1,
                                   i0, i0, i0, i0, i0, i0, i0, i0);
    return _mm512_permutexvar_epi16(idx, s16);
}

/* Two bytes per half of a zmm: byte a in the low 32 bytes, b in the high 32 (test masks). */
GG_ATTR static inline __attribute__((always_inline)) __m512i GG_NAME(halves)(int a, int b) {
    return _mm512_inserti64x4(_mm512_set1_epi8((char)a), _mm256_set1_epi8((char)b), 1);
}

/* Q4_K (q5 = 0) and Q5_K. x arranged so that the four 64-byte vectors of a super-block's values are
   sub-blocks (0, 2), (1, 3), (4, 6), (5, 7): the nibbles of qs[0…63] and qs[64…127] as they lie. */
GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(row_q45k)(const int q5, const uint8_t *row, size_t nb, gx x) {
    const size_t bytes = q5 ? 176 : 144;
    const __m512i low = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const __m512i c0 = GG_NAME(pick_u8)(0, 0, 2, 2), c1 = GG_NAME(pick_u8)(1, 1, 3, 3);
    const __m512i c2 = GG_NAME(pick_u8)(4, 4, 6, 6), c3 = GG_NAME(pick_u8)(5, 5, 7, 7);
    const __m512i t0 = GG_NAME(halves)(1, 4), t1 = GG_NAME(halves)(2, 8), t2 = GG_NAME(halves)(16, 64),
                  t3 = GG_NAME(halves)(32, 128);
    __m512 acc = _mm512_setzero_ps();
    __m128 macc = _mm_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes, *qs = blk + (q5 ? 48 : 16);
        __m128i scm = GG_NAME(k4_scales)(blk + 4);
        __m512i table = _mm512_broadcast_i32x4(scm);
        __m512i A = _mm512_loadu_si512(qs), B = _mm512_loadu_si512(qs + 64);
        __m512i v0 = _mm512_and_si512(A, low), v1 = _mm512_and_si512(_mm512_srli_epi16(A, 4), low);
        __m512i v2 = _mm512_and_si512(B, low), v3 = _mm512_and_si512(_mm512_srli_epi16(B, 4), low);
        if (q5) {
            __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 16)));
            v0 = _mm512_mask_add_epi8(v0, _mm512_test_epi8_mask(H, t0), v0, bit4);
            v1 = _mm512_mask_add_epi8(v1, _mm512_test_epi8_mask(H, t1), v1, bit4);
            v2 = _mm512_mask_add_epi8(v2, _mm512_test_epi8_mask(H, t2), v2, bit4);
            v3 = _mm512_mask_add_epi8(v3, _mm512_test_epi8_mask(H, t3), v3, bit4);
        }
        const int8_t *xq = x.q + b * GG_QKK;
        __m512i s = _mm512_setzero_si512();
        s = GG_SCALED_DOT(s, v0, xq, _mm512_shuffle_epi8(table, c0));
        s = GG_SCALED_DOT(s, v1, xq + 64, _mm512_shuffle_epi8(table, c1));
        s = GG_SCALED_DOT(s, v2, xq + 128, _mm512_shuffle_epi8(table, c2));
        s = GG_SCALED_DOT(s, v3, xq + 192, _mm512_shuffle_epi8(table, c3));
        float dx = x.d[b];
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(GG_NAME(half)(blk) * dx), acc);
        /* Σ mins · (Σ xq of the sub-block), 8 sub-blocks */
        __m128i m = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(scm, 8)), _mm_loadu_si128((const __m128i *)(x.sums + 16 * b)));
        macc = _mm_fmadd_ps(_mm_cvtepi32_ps(m), _mm_set1_ps(GG_NAME(half)(blk + 2) * dx), macc);
    }
    return _mm512_reduce_add_ps(acc) - GG_NAME(sum128)(macc);
}

/* Q6_K: x in natural order. Per half, ql[0…63] gives weights 0…63 (low nibbles) and 64…127 (high);
   the qh bit pairs are shifted into place per 32-byte half of the vector. */
GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(row_q6k)(const uint8_t *row, size_t nb, gx x) {
    const __m512i low = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
    const __m512i sh_lo = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0), sh_hi = _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4);
    __m512 acc = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 210;
        const int8_t *xq = x.q + b * GG_QKK;
        __m128i sc = _mm_loadu_si128((const __m128i *)(blk + 192));
        __m512i table = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc));
        __m512i s = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i L = _mm512_loadu_si512(blk + 64 * h);
            __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h)));
            __m512i lo = _mm512_and_si512(L, low), hi = _mm512_and_si512(_mm512_srli_epi16(L, 4), low);
            lo = _mm512_or_si512(lo, _mm512_and_si512(_mm512_slli_epi16(_mm512_srlv_epi64(H, sh_lo), 4), top));
            hi = _mm512_or_si512(hi, _mm512_and_si512(_mm512_slli_epi16(_mm512_srlv_epi64(H, sh_hi), 4), top));
            int g = 8 * h;
            s = GG_SCALED_DOT(s, lo, xq + 128 * h, GG_NAME(perm_s16)(table, g, g + 1, g + 2, g + 3));
            s = GG_SCALED_DOT(s, hi, xq + 128 * h + 64, GG_NAME(perm_s16)(table, g + 4, g + 5, g + 6, g + 7));
        }
        /* the −32 offset: Σ_g sc_g · 32 · (Σ xq of the 16-weight group) */
        __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), _mm256_loadu_si256((const __m256i *)(x.sums + 16 * b)));
        s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(_mm256_slli_epi32(corr, 5)));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(GG_NAME(half)(blk + 208) * x.d[b]), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* Q2_K (q3 = 0) and Q3_K. x arranged so that vector c (bit pair c of qs) holds weights 32c … 32c+31
   and 128+32c … 128+32c+31; its 128-bit lanes are the 16-weight groups 2c, 2c+1, 8+2c, 9+2c. */
GG_ATTR static inline __attribute__((always_inline)) float GG_NAME(row_q23k)(const int q3, const uint8_t *row, size_t nb, gx x) {
    const size_t bytes = q3 ? 110 : 84;
    const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    __m512 acc = _mm512_setzero_ps();
    __m256 macc = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes, *qs = blk + (q3 ? 32 : 16);
        const int8_t *xq = x.q + b * GG_QKK;
        __m256i sums = _mm256_loadu_si256((const __m256i *)(x.sums + 16 * b));
        __m512i Q = _mm512_loadu_si512(qs), v[4];
        for (int c = 0; c < 4; c++) v[c] = _mm512_and_si512(_mm512_srli_epi16(Q, 2 * c), three);
        __m512i s = _mm512_setzero_si512();
        float dx = x.d[b];
        if (q3) {
            __m128i sc = GG_NAME(k3_scales)(blk);
            __m512i table = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc));
            __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)blk));
            for (int c = 0; c < 4; c++) {
                __m512i u = _mm512_mask_add_epi8(v[c], _mm512_test_epi8_mask(H, GG_NAME(halves)(1 << c, 1 << (4 + c))), v[c], four);
                s = GG_SCALED_DOT(s, u, xq + 64 * c, GG_NAME(perm_s16)(table, 2 * c, 2 * c + 1, 8 + 2 * c, 9 + 2 * c));
            }
            /* the −4 offset of the stored values low + 4·high */
            __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), sums);
            s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(_mm256_slli_epi32(corr, 2)));
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(GG_NAME(half)(blk + 108) * dx), acc);
        } else {
            __m128i raw = _mm_loadu_si128((const __m128i *)blk), low = _mm_set1_epi8(0x0F);
            __m512i table = _mm512_broadcast_i32x4(_mm_and_si128(raw, low));
            for (int c = 0; c < 4; c++) {
                __m512i scales = _mm512_shuffle_epi8(table, GG_NAME(pick_u8)(2 * c, 2 * c + 1, 8 + 2 * c, 9 + 2 * c));
                s = GG_SCALED_DOT(s, v[c], xq + 64 * c, scales);
            }
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(GG_NAME(half)(blk + 80) * dx), acc);
            __m256i m = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low)), sums);
            macc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(GG_NAME(half)(blk + 82) * dx), macc);
        }
    }
    return _mm512_reduce_add_ps(acc) - GG_NAME(sum256)(macc);
}

GG_ATTR static void GG_NAME(gemv)(int type, size_t n, size_t nb, const uint8_t *w, size_t row_bytes, gx x, float *y, float alpha,
                                  int accumulate) {
#define GG_ROWS(expr)                                                                                                  \
    for (size_t j = 0; j < n; j++) {                                                                                   \
        const uint8_t *row = w + j * row_bytes;                                                                        \
        float s = (expr);                                                                                              \
        y[j] = (accumulate ? y[j] : 0.0f) + alpha * s;                                                                 \
    }                                                                                                                  \
    break
    switch (type) {
    case GG_Q4_0: GG_ROWS(GG_NAME(row32)(GG_Q4_0, row, nb, x));
    case GG_Q4_1: GG_ROWS(GG_NAME(row32)(GG_Q4_1, row, nb, x));
    case GG_Q5_0: GG_ROWS(GG_NAME(row32)(GG_Q5_0, row, nb, x));
    case GG_Q5_1: GG_ROWS(GG_NAME(row32)(GG_Q5_1, row, nb, x));
    case GG_Q8_0: GG_ROWS(GG_NAME(row32)(GG_Q8_0, row, nb, x));
    case GG_Q2_K: GG_ROWS(GG_NAME(row_q23k)(0, row, nb, x));
    case GG_Q3_K: GG_ROWS(GG_NAME(row_q23k)(1, row, nb, x));
    case GG_Q4_K: GG_ROWS(GG_NAME(row_q45k)(0, row, nb, x));
    case GG_Q5_K: GG_ROWS(GG_NAME(row_q45k)(1, row, nb, x));
    case GG_Q6_K: GG_ROWS(GG_NAME(row_q6k)(row, nb, x));
    default: break;
    }
#undef GG_ROWS
}

#undef GG_DPBUSD256
#undef GG_DPBUSD
#undef GG_DPWSSD
#undef GG_SCALED_DOT
