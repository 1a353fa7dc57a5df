/* Micro-kernels: AVX-512 8×32 (16 zmm accumulators), AVX2+FMA 6×16 (12 ymm), and a portable
   4×16 loop. The kernel is chosen once from the CPU's features. */
#include "ck_gemm.h"
#include <string.h>
#include "store32.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef void (*micro_fn)(size_t, const float *, const float *, float *, size_t, size_t, size_t, int, float);
typedef void (*gemv_t_fn)(size_t, size_t, const float *, size_t, const float *, float *, float, int);
typedef void (*gemv_n_fn)(size_t, size_t, const float *, size_t, const float *, float *, float, int);
typedef void (*gemv_bf16_fn)(size_t, size_t, const uint16_t *, size_t, const float *, float *, float, int);

/* Writes a computed tile (row stride `ts`) into c, for the partial-tile paths. */
static void store_tile(const float *t, size_t ts, float *c, size_t ldc, size_t mr, size_t nr, int acc, float alpha) {
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) c[i * ldc + j] = (acc ? c[i * ldc + j] : 0.0f) + alpha * t[i * ts + j];
}

/* ---------- portable ---------- */
#define BASE_MR 4
#define BASE_NR 16
static void micro_base(size_t k, const float *a, const float *b, float *c, size_t ldc, size_t mr, size_t nr, int acc, float alpha) {
    float t[BASE_MR * BASE_NR] = {0};
    for (size_t p = 0; p < k; p++)
        for (size_t i = 0; i < BASE_MR; i++) {
            float av = a[p * BASE_MR + i];
            for (size_t j = 0; j < BASE_NR; j++) t[i * BASE_NR + j] += av * b[p * BASE_NR + j];
        }
    store_tile(t, BASE_NR, c, ldc, mr, nr, acc, alpha);
}

static void gemv_t_base(size_t n, size_t k, const float *w, size_t ldw, const float *x, float *y, float alpha, int acc) {
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (size_t p = 0; p < k; p++) s += w[j * ldw + p] * x[p];
        y[j] = (acc ? y[j] : 0.0f) + alpha * s;
    }
}

static void gemv_n_base(size_t n, size_t k, const float *b, size_t ldb, const float *x, float *y, float alpha, int acc) {
    if (!acc) memset(y, 0, n * sizeof(float));
    for (size_t p = 0; p < k; p++) {
        float s = alpha * x[p];
        for (size_t j = 0; j < n; j++) y[j] += s * b[p * ldb + j];
    }
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void gemv_t_bf16_base(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int acc) {
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (size_t p = 0; p < k; p++) s += bf16_to_f32(w[j * ldw + p]) * x[p];
        y[j] = (acc ? y[j] : 0.0f) + alpha * s;
    }
}

#if defined(__x86_64__)
/* ---------- AVX2 + FMA: 6 × 16 ---------- */
#define AVX2_ATTR __attribute__((target("avx2,fma")))
AVX2_ATTR static void micro_avx2(size_t k, const float *a, const float *b, float *c, size_t ldc, size_t mr, size_t nr, int acc, float alpha) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (size_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(b + p * 16), b1 = _mm256_loadu_ps(b + p * 16 + 8);
        const float *ap = a + p * 6;
        __m256 x;
        x = _mm256_broadcast_ss(ap + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(ap + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(ap + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(ap + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(ap + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(ap + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    __m256 rows[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    __m256 va = _mm256_set1_ps(alpha);
    if (mr == 6 && nr == 16) {
        for (size_t i = 0; i < 6; i++) {
            float *cr = c + i * ldc;
            __m256 r0 = _mm256_mul_ps(va, rows[2 * i]), r1 = _mm256_mul_ps(va, rows[2 * i + 1]);
            if (acc) { r0 = _mm256_add_ps(r0, _mm256_loadu_ps(cr)); r1 = _mm256_add_ps(r1, _mm256_loadu_ps(cr + 8)); }
            _mm256_storeu_ps(cr, r0);
            _mm256_storeu_ps(cr + 8, r1);
        }
        return;
    }
    float t[6 * 16];
    for (size_t i = 0; i < 6; i++) { _mm256_storeu_ps(t + i * 16, rows[2 * i]); _mm256_storeu_ps(t + i * 16 + 8, rows[2 * i + 1]); }
    store_tile(t, 16, c, ldc, mr, nr, acc, alpha);
}

AVX2_ATTR static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_ATTR static void gemv_t_avx2(size_t n, size_t k, const float *w, size_t ldw, const float *x, float *y, float alpha, int acc) {
    for (size_t j = 0; j < n; j++) {
        const float *row = w + j * ldw;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        size_t p = 0;
        for (; p + 16 <= k; p += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + p), _mm256_loadu_ps(x + p), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + p + 8), _mm256_loadu_ps(x + p + 8), s1);
        }
        float s = hsum256(_mm256_add_ps(s0, s1));
        for (; p < k; p++) s += row[p] * x[p];
        y[j] = (acc ? y[j] : 0.0f) + alpha * s;
    }
}

AVX2_ATTR static void gemv_n_avx2(size_t n, size_t k, const float *b, size_t ldb, const float *x, float *y, float alpha, int acc) {
    if (!acc) memset(y, 0, n * sizeof(float));
    for (size_t p = 0; p < k; p++) {
        __m256 s = _mm256_set1_ps(alpha * x[p]);
        const float *row = b + p * ldb;
        size_t j = 0;
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_fmadd_ps(s, _mm256_loadu_ps(row + j), _mm256_loadu_ps(y + j)));
        for (; j < n; j++) y[j] += alpha * x[p] * row[j];
    }
}

/* ---------- AVX-512: 12 × 32 (24 zmm accumulators: enough independent FMAs for two 512-bit pipes) ---------- */
#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define AVX512_MR 12
/* Writes R rows of a 32-wide accumulator tile to C (masked to nr columns), scaled by alpha,
   stored or added. */
AVX512_ATTR static inline __attribute__((always_inline)) void store_rows_avx512(
    __m512 r[][2], const int R, float *c, size_t ldc, size_t nr, int acc, float alpha) {
    __m512 va = _mm512_set1_ps(alpha);
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : (nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1));
    for (int i = 0; i < R; i++) {
        float *cr = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, r[i][0]), r1 = _mm512_mul_ps(va, r[i][1]);
        if (acc) {
            r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(m0, cr));
            r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        _mm512_mask_storeu_ps(cr, m0, r0);
        _mm512_mask_storeu_ps(cr + 16, m1, r1);
    }
}
/* R rows of a 12-row packed panel; compiled once per R so remainder tiles cost only their rows. */
AVX512_ATTR static inline __attribute__((always_inline)) void micro_avx512_rows(
    const int R, size_t k, const float *a, const float *b, float *c, size_t ldc, size_t nr, int acc, float alpha) {
    __m512 r[AVX512_MR][2];
    for (int i = 0; i < R; i++) { r[i][0] = _mm512_setzero_ps(); r[i][1] = _mm512_setzero_ps(); }
    /* The C rows are ldc apart (often pages apart): fetch them while the products run. */
    for (int i = 0; i < R; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    for (size_t p = 0; p < k; p++) {
        __m512 b0 = _mm512_loadu_ps(b + p * 32), b1 = _mm512_loadu_ps(b + p * 32 + 16);
        const float *ap = a + p * AVX512_MR;
        for (int i = 0; i < R; i++) {
            __m512 x = _mm512_set1_ps(ap[i]);
            r[i][0] = _mm512_fmadd_ps(x, b0, r[i][0]);
            r[i][1] = _mm512_fmadd_ps(x, b1, r[i][1]);
        }
    }
    store_rows_avx512(r, R, c, ldc, nr, acc, alpha);
}

#define ROWS_CASE(R) case R: micro_avx512_rows(R, k, a, b, c, ldc, nr, acc, alpha); return;
AVX512_ATTR static void micro_avx512(size_t k, const float *a, const float *b, float *c, size_t ldc, size_t mr, size_t nr, int acc, float alpha) {
    switch (mr) {
        ROWS_CASE(12) ROWS_CASE(11) ROWS_CASE(10) ROWS_CASE(9) ROWS_CASE(8) ROWS_CASE(7)
        ROWS_CASE(6) ROWS_CASE(5) ROWS_CASE(4) ROWS_CASE(3) ROWS_CASE(2) ROWS_CASE(1)
        default: return;
    }
}

/* Transposing pack with gathers: one zmm = 16 weight rows at one k index. */
/* 16 vectors (rows) → 16 vectors (columns), in registers. */
AVX512_ATTR static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        for (int j = 0; j < 2; j++) {
            r[i + j] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + j]), _mm512_castps_pd(t[i + j + 2])));
            r[i + j + 2] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + j]), _mm512_castps_pd(t[i + j + 2])));
        }
    }
    for (int i = 0; i < 16; i += 8) {
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
        }
    }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
    }
}

/* Bᵀ panels, 32 columns wide: 16 k values of 16 rows at a time are loaded row by row and
   transposed in registers (gathers are slow); the tail of k is gathered. */
AVX512_ATTR static void pack_b_trans_avx512(const float *b, size_t ldb, size_t kc, size_t cols, float *dst) {
    static const int order[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};
    size_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        for (size_t half = 0; half < 2; half++) {
            __m512 r[16];
            for (size_t i = 0; i < 16; i++) {
                size_t j = half * 16 + i;
                r[i] = j < cols ? _mm512_loadu_ps(b + j * ldb + p) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int t = 0; t < 16; t++) _mm512_storeu_ps(dst + (p + order[t]) * 32 + half * 16, r[t]);
        }
    }
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32((int)ldb));
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : (cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1));
    const float *b1 = b + 16 * ldb;
    for (; p < kc; p++) {
        __m512 v0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, idx, b + p, 4);
        __m512 v1 = m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, idx, b1 + p, 4) : _mm512_setzero_ps();
        _mm512_storeu_ps(dst + p * 32, v0);
        _mm512_storeu_ps(dst + p * 32 + 16, v1);
    }
}

/* The same for an A panel, 12 rows wide: 16 k values at a time are loaded row by row and transposed
   in registers (gathers are slow); the tail of k is gathered. */
AVX512_ATTR static void pack_a_avx512(const float *a, size_t lda, size_t rows, size_t kc, float *dst) {
    size_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m512 r[16];
        for (size_t i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_ps(a + i * lda + p) : _mm512_setzero_ps();
        transpose16(r);
        /* After the transpose, vector j holds column p + j in the order of the lane permutation below. */
        static const int order[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};
        for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(dst + (p + order[j]) * AVX512_MR, 0x0FFF, r[j]);
    }
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0),
                                     _mm512_set1_epi32((int)lda));
    __mmask16 m = (__mmask16)((1u << rows) - 1);
    for (; p < kc; p++)
        _mm512_mask_storeu_ps(dst + p * AVX512_MR, 0x0FFF, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, a + p, 4));
}

/* Four weight rows at a time share each load of x. */
/* One row at a time with four accumulators: consecutive rows are one sequential stream for the
   hardware prefetcher (four rows at once were four streams restarting at every row; ~15% slower). */
AVX512_ATTR static void gemv_t_avx512(size_t n, size_t k, const float *w, size_t ldw, const float *x, float *y, float alpha, int acc) {
    size_t k64 = k & ~(size_t)63, kv = k & ~(size_t)15;
    __mmask16 tail = (__mmask16)((1u << (k - kv)) - 1);
    for (size_t j = 0; j < n; j++) {
        const float *r = w + j * ldw;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t p = 0;
        for (; p < k64; p += 64) {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(r + p), _mm512_loadu_ps(x + p), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(r + p + 16), _mm512_loadu_ps(x + p + 16), s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(r + p + 32), _mm512_loadu_ps(x + p + 32), s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(r + p + 48), _mm512_loadu_ps(x + p + 48), s3);
        }
        for (; p < kv; p += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(r + p), _mm512_loadu_ps(x + p), s0);
        if (tail) s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r + kv), _mm512_maskz_loadu_ps(tail, x + kv), s1);
        y[j] = (acc ? y[j] : 0.0f) + alpha * _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    }
}

AVX512_ATTR static void gemv_n_avx512(size_t n, size_t k, const float *b, size_t ldb, const float *x, float *y, float alpha, int acc) {
    if (!acc) memset(y, 0, n * sizeof(float));
    size_t nv = n & ~(size_t)15;
    __mmask16 tail = (__mmask16)((1u << (n - nv)) - 1);
    for (size_t p = 0; p < k; p++) {
        __m512 s = _mm512_set1_ps(alpha * x[p]);
        const float *row = b + p * ldb;
        for (size_t j = 0; j < nv; j += 16) _mm512_storeu_ps(y + j, _mm512_fmadd_ps(s, _mm512_loadu_ps(row + j), _mm512_loadu_ps(y + j)));
        if (tail) _mm512_mask_storeu_ps(y + nv, tail, _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(tail, row + nv), _mm512_maskz_loadu_ps(tail, y + nv)));
    }
}

/* bf16 weights widened with a shift (exact), 4 rows per pass. */
AVX512_ATTR static inline __m512 load_bf16(const uint16_t *p, __mmask16 m) {
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AVX512_ATTR static void gemv_t_bf16_avx512(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int acc) {
    size_t kv = k & ~(size_t)15;
    __mmask16 tail = (__mmask16)((1u << (k - kv)) - 1);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint16_t *r0 = w + j * ldw, *r1 = r0 + ldw, *r2 = r1 + ldw, *r3 = r2 + ldw;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (size_t p = 0; p < kv; p += 16) {
            __m512 xv = _mm512_loadu_ps(x + p);
            s0 = _mm512_fmadd_ps(load_bf16(r0 + p, 0xFFFF), xv, s0);
            s1 = _mm512_fmadd_ps(load_bf16(r1 + p, 0xFFFF), xv, s1);
            s2 = _mm512_fmadd_ps(load_bf16(r2 + p, 0xFFFF), xv, s2);
            s3 = _mm512_fmadd_ps(load_bf16(r3 + p, 0xFFFF), xv, s3);
        }
        if (tail) {
            __m512 xv = _mm512_maskz_loadu_ps(tail, x + kv);
            s0 = _mm512_fmadd_ps(load_bf16(r0 + kv, tail), xv, s0);
            s1 = _mm512_fmadd_ps(load_bf16(r1 + kv, tail), xv, s1);
            s2 = _mm512_fmadd_ps(load_bf16(r2 + kv, tail), xv, s2);
            s3 = _mm512_fmadd_ps(load_bf16(r3 + kv, tail), xv, s3);
        }
        float v[4] = {_mm512_reduce_add_ps(s0), _mm512_reduce_add_ps(s1), _mm512_reduce_add_ps(s2), _mm512_reduce_add_ps(s3)};
        for (int q = 0; q < 4; q++) y[j + q] = (acc ? y[j + q] : 0.0f) + alpha * v[q];
    }
    if (j < n) gemv_t_bf16_base(n - j, k, w + j * ldw, ldw, x, y + j, alpha, acc);
}
#endif

static void pack_a_base(const float *a, size_t lda, size_t rows, size_t kc, float *dst) {
    size_t mr = ck_gemm_mr();
    for (size_t p = 0; p < kc; p++)
        for (size_t i = 0; i < mr; i++) dst[p * mr + i] = i < rows ? a[i * lda + p] : 0.0f;
}

static void pack_b_trans_base(const float *b, size_t ldb, size_t kc, size_t cols, float *dst) {
    size_t nr = ck_gemm_nr();
    for (size_t p = 0; p < kc; p++)
        for (size_t j = 0; j < nr; j++) dst[p * nr + j] = j < cols ? b[j * ldb + p] : 0.0f;
}

/* ---------- dispatch ---------- */
static struct {
    int ready;
    size_t mr, nr;
    micro_fn micro;
    gemv_t_fn gemv_t;
    gemv_n_fn gemv_n;
    gemv_bf16_fn gemv_bf16;
    void (*pack_b_trans)(const float *, size_t, size_t, size_t, float *);
    void (*pack_a)(const float *, size_t, size_t, size_t, float *);
} K;

static void init(void) {
    if (K.ready) return;
    K.mr = BASE_MR; K.nr = BASE_NR; K.micro = micro_base; K.gemv_t = gemv_t_base; K.gemv_n = gemv_n_base;
    K.gemv_bf16 = gemv_t_bf16_base;
    K.pack_b_trans = pack_b_trans_base;
    K.pack_a = pack_a_base;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
        K.mr = AVX512_MR; K.nr = 32; K.micro = micro_avx512; K.gemv_t = gemv_t_avx512; K.gemv_n = gemv_n_avx512;
        K.gemv_bf16 = gemv_t_bf16_avx512;
        /* 32-bit gather offsets: fine for any row stride below 2^31 / 32 floats. */
        K.pack_b_trans = pack_b_trans_avx512;
        K.pack_a = pack_a_avx512;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        K.mr = 6; K.nr = 16; K.micro = micro_avx2; K.gemv_t = gemv_t_avx2; K.gemv_n = gemv_n_avx2;
    }
#endif
    __atomic_store_n(&K.ready, 1, __ATOMIC_RELEASE);
}

size_t ck_gemm_mr(void) { init(); return K.mr; }
size_t ck_gemm_nr(void) { init(); return K.nr; }

void ck_pack_b_trans(const float *b, size_t ldb, size_t kc, size_t cols, float *dst) { K.pack_b_trans(b, ldb, kc, cols, dst); }
void ck_pack_a(const float *a, size_t lda, size_t rows, size_t kc, float *dst) { K.pack_a(a, lda, rows, kc, dst); }

void ck_gemm_micro(size_t k, const float *a, const float *b, float *c, size_t ldc, size_t mr, size_t nr, int accumulate, float alpha) {
    K.micro(k, a, b, c, ldc, mr, nr, accumulate, alpha);
}

void ck_gemv_t(size_t n, size_t k, const float *w, size_t ldw, const float *x, float *y, float alpha, int accumulate) {
    init();
    K.gemv_t(n, k, w, ldw, x, y, alpha, accumulate);
}

void ck_gemv_n(size_t n, size_t k, const float *b, size_t ldb, const float *x, float *y, float alpha, int accumulate) {
    init();
    K.gemv_n(n, k, b, ldb, x, y, alpha, accumulate);
}

void ck_gemv_t_bf16(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int accumulate) {
    init();
    K.gemv_bf16(n, k, w, ldw, x, y, alpha, accumulate);
}

#if defined(__x86_64__)
/* ---------- bf16 dot products: 12 × 32 tiles of vdpbf16ps ---------- */
#define BF16_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
BF16_ATTR static inline __attribute__((always_inline)) void micro_bf16_rows(
    const int R, size_t kq, const uint32_t *a, const uint32_t *b, float *c, size_t ldc, size_t nr, int acc, float alpha) {
    __m512 r[12][2];
    for (int i = 0; i < R; i++) { r[i][0] = _mm512_setzero_ps(); r[i][1] = _mm512_setzero_ps(); }
    for (int i = 0; i < R; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    for (size_t q = 0; q < kq; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * 32), b1 = (__m512bh)_mm512_loadu_si512(b + q * 32 + 16);
        const uint32_t *ap = a + q * 12;
        for (int i = 0; i < R; i++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)ap[i]);
            r[i][0] = _mm512_dpbf16_ps(r[i][0], x, b0);
            r[i][1] = _mm512_dpbf16_ps(r[i][1], x, b1);
        }
    }
    store_rows_avx512(r, R, c, ldc, nr, acc, alpha);
}

#define BF16_CASE(R) case R: micro_bf16_rows(R, kq, a, b, c, ldc, nr, acc, alpha); return;
BF16_ATTR static void micro_bf16(size_t kq, const uint32_t *a, const uint32_t *b, float *c, size_t ldc, size_t mr, size_t nr,
                                 int acc, float alpha) {
    switch (mr) {
        BF16_CASE(12) BF16_CASE(11) BF16_CASE(10) BF16_CASE(9) BF16_CASE(8) BF16_CASE(7)
        BF16_CASE(6) BF16_CASE(5) BF16_CASE(4) BF16_CASE(3) BF16_CASE(2) BF16_CASE(1)
        default: return;
    }
}

BF16_ATTR static void pack_a_bf16_avx512(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst) {
    for (size_t q = 0; q < kc / 2; q++) {
        for (size_t i = 0; i < 12; i++) {
            if (i >= rows) { dst[q * 12 + i] = 0; continue; }
            __m128 pair = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(a + i * lda + 2 * q)));
            __m128bh h = _mm_cvtneps_pbh(pair);
            uint32_t v;
            memcpy(&v, &h, 4);
            dst[q * 12 + i] = v;
        }
    }
}
#endif

static uint16_t f32_to_bf16_rne(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

static void pack_a_bf16_base(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst) {
    for (size_t q = 0; q < kc / 2; q++)
        for (size_t i = 0; i < 12; i++)
            dst[q * 12 + i] = i < rows ? (uint32_t)f32_to_bf16_rne(a[i * lda + 2 * q]) |
                                             ((uint32_t)f32_to_bf16_rne(a[i * lda + 2 * q + 1]) << 16) : 0;
}

#if defined(__x86_64__)
/* ---------- bf16 weights streamed as they are stored: 32 activation rows × 12 weight rows ----------
   For prefill (m ≥ 32) the activations are the vector operand and the weights the broadcast one, so
   weight rows are read in place ([n, k]) and never packed; only the activations are (once). */
BF16_ATTR static void pack_at_bf16(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst) {
    static const int order[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};
    size_t kq = kc / 2;
    for (size_t half = 0; half < 2; half++) {
        for (size_t q0 = 0; q0 < kq; q0 += 16) {
            size_t left = kc - 2 * q0;
            __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
            __mmask16 m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            __m512 r[16];
            for (size_t i = 0; i < 16; i++) {
                size_t row = half * 16 + i;
                if (row >= rows) { r[i] = _mm512_setzero_ps(); continue; }
                const float *x = a + row * lda + 2 * q0;
                __m512bh pairs = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, x + 16), _mm512_maskz_loadu_ps(m0, x));
                r[i] = (__m512)pairs;
            }
            transpose16(r);  /* vector t: pair q0 + order[t] of the 16 rows */
            for (int t = 0; t < 16; t++)
                if (q0 + order[t] < kq) _mm512_storeu_ps((float *)dst + (q0 + order[t]) * 32 + half * 16, r[t]);
        }
    }
}

BF16_ATTR static inline __attribute__((always_inline)) void micro_wt_rows(
    const int R, const int H, const int direct, size_t kq, const uint32_t *a, const uint16_t *w, size_t ldw, float *c, size_t ldc,
    size_t rows, int acc, float alpha, const float *bias) {
    __m512 r[12][2];
    const uint32_t *wp[12];
    for (int j = 0; j < R; j++) { r[j][0] = r[j][1] = _mm512_setzero_ps(); wp[j] = (const uint32_t *)(w + j * ldw); }
    for (size_t q = 0; q < kq; q++) {
        __m512bh a0 = (__m512bh)_mm512_loadu_si512(a + q * 32), a1 = H == 2 ? (__m512bh)_mm512_loadu_si512(a + q * 32 + 16) : a0;
        for (int j = 0; j < R; j++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)wp[j][q]);
            r[j][0] = _mm512_dpbf16_ps(r[j][0], a0, x);
            if (H == 2) r[j][1] = _mm512_dpbf16_ps(r[j][1], a1, x);
        }
    }
    if (direct) {  /* c[j·ldc + i]: the lanes are c's columns */
        for (int j = 0; j < R; j++) store_row32(c + j * ldc, r[j][0], r[j][1], rows, alpha, acc);
        return;
    }
    float tile[12][32], add[12];
    for (int j = 0; j < R; j++) {
        _mm512_storeu_ps(tile[j], r[j][0]);
        _mm512_storeu_ps(tile[j] + 16, r[j][1]);
        add[j] = bias ? bias[j] : 0.0f;
    }
    for (size_t i = 0; i < rows; i++)
        for (int j = 0; j < R; j++) c[i * ldc + j] = (acc ? c[i * ldc + j] : add[j]) + alpha * tile[j][i];
}

/* A panel of at most 16 activation rows (the tail of m) runs half the tile. */
#define WT_CASE(R) case R: if (rows > 16) micro_wt_rows(R, 2, direct, kq, a, w, ldw, c, ldc, rows, acc, alpha, bias); \
                           else micro_wt_rows(R, 1, direct, kq, a, w, ldw, c, ldc, rows, acc, alpha, bias); return;
BF16_ATTR static void micro_wt(int direct, size_t kq, const uint32_t *a, const uint16_t *w, size_t ldw, size_t wrows, float *c, size_t ldc,
                               size_t rows, int acc, float alpha, const float *bias) {
    switch (wrows) {
        WT_CASE(12) WT_CASE(11) WT_CASE(10) WT_CASE(9) WT_CASE(8) WT_CASE(7)
        WT_CASE(6) WT_CASE(5) WT_CASE(4) WT_CASE(3) WT_CASE(2) WT_CASE(1)
        default: return;
    }
}

/* GEMV on bf16 dot products: x rounded to bf16 pairs once, then one vdpbf16ps per 32 weights. */
BF16_ATTR static void gemv_t_bf16_dot(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int acc) {
    size_t k128 = k & ~(size_t)127, k32 = k & ~(size_t)31;
    uint16_t xb[k32 ? k32 : 1];
    for (size_t p = 0; p < k32; p += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + p));
        memcpy(xb + p, &h, 32);
    }
    /* One row at a time, as gemv_t_avx512. */
    for (size_t j = 0; j < n; j++) {
        const uint16_t *r = w + j * ldw;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t p = 0;
        for (; p < k128; p += 128) {
            s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_loadu_si512(r + p), (__m512bh)_mm512_loadu_si512(xb + p));
            s1 = _mm512_dpbf16_ps(s1, (__m512bh)_mm512_loadu_si512(r + p + 32), (__m512bh)_mm512_loadu_si512(xb + p + 32));
            s2 = _mm512_dpbf16_ps(s2, (__m512bh)_mm512_loadu_si512(r + p + 64), (__m512bh)_mm512_loadu_si512(xb + p + 64));
            s3 = _mm512_dpbf16_ps(s3, (__m512bh)_mm512_loadu_si512(r + p + 96), (__m512bh)_mm512_loadu_si512(xb + p + 96));
        }
        for (; p < k32; p += 32) s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_loadu_si512(r + p), (__m512bh)_mm512_loadu_si512(xb + p));
        float v = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
        for (p = k32; p < k; p++) v += bf16_to_f32(r[p]) * x[p];
        y[j] = (acc ? y[j] : 0.0f) + alpha * v;
    }
}

#endif

int ck_has_bf16_dot(void) {
#if defined(__x86_64__)
    static int known = -1;  /* asked per attention head and per product */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    }
    return known;
#else
    return 0;
#endif
}

void ck_pack_a_bf16(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst) {
#if defined(__x86_64__)
    if (ck_has_bf16_dot()) { pack_a_bf16_avx512(a, lda, rows, kc, dst); return; }
#endif
    pack_a_bf16_base(a, lda, rows, kc, dst);
}

void ck_pack_b_bf16(const uint16_t *w, size_t ldw, size_t kc, size_t cols, uint32_t *dst) {
    /* Consecutive k values of one weight row form one 32-bit word: the f32 transposing pack applies. */
    if (ck_gemm_nr() == 32 && (ldw % 2) == 0) {
        K.pack_b_trans((const float *)w, ldw / 2, kc / 2, cols, (float *)dst);
        return;
    }
    for (size_t q = 0; q < kc / 2; q++)
        for (size_t j = 0; j < 32; j++) {
            uint32_t v = 0;
            if (j < cols) memcpy(&v, w + j * ldw + 2 * q, 4);
            dst[q * 32 + j] = v;
        }
}

void ck_gemv_t_bf16_dot(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int accumulate) {
#if defined(__x86_64__)
    if (ck_has_bf16_dot()) { gemv_t_bf16_dot(n, k, w, ldw, x, y, alpha, accumulate); return; }
#endif
    ck_gemv_t_bf16(n, k, w, ldw, x, y, alpha, accumulate);
}

void ck_gemm_micro_bf16(size_t kq, const uint32_t *a, const uint32_t *b, float *c, size_t ldc, size_t mr, size_t nr,
                        int accumulate, float alpha) {
#if defined(__x86_64__)
    micro_bf16(kq, a, b, c, ldc, mr, nr, accumulate, alpha);
#endif
}

void ck_pack_at_bf16(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst) {
#if defined(__x86_64__)
    pack_at_bf16(a, lda, rows, kc, dst);
#endif
}

void ck_gemm_wt_bf16(size_t kq, const uint32_t *a, const uint16_t *w, size_t ldw, size_t wrows, float *c, size_t ldc, size_t rows,
                     int accumulate, float alpha, const float *bias) {
#if defined(__x86_64__)
    micro_wt(0, kq, a, w, ldw, wrows, c, ldc, rows, accumulate, alpha, bias);
#endif
}

void ck_gemm_wt_bf16_direct(size_t kq, const uint32_t *a, const uint16_t *w, size_t ldw, size_t wrows, float *c, size_t ldc, size_t cols,
                            int accumulate, float alpha) {
#if defined(__x86_64__)
    micro_wt(1, kq, a, w, ldw, wrows, c, ldc, cols, accumulate, alpha, NULL);
#endif
}

#if defined(__x86_64__)
/* Two rows of 32 floats → 32 bf16 pairs, row 0 in the low halves. */
BF16_ATTR static void pack_bt_bf16_avx512(const float *b, size_t ldb, size_t kc, size_t cols, uint32_t *dst) {
    static const uint16_t order[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                       8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    const __m512i interleave = _mm512_loadu_si512(order);
    const __m512i upper = _mm512_add_epi16(interleave, _mm512_set1_epi16(16));
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    for (size_t q = 0; q < (kc + 1) / 2; q++) {
        const float *r0 = b + 2 * q * ldb, *r1 = r0 + ldb;
        int second = 2 * q + 1 < kc;
        __m512i first = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, r0 + 16), _mm512_maskz_loadu_ps(m0, r0));
        __m512i next = second ? (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, r1 + 16), _mm512_maskz_loadu_ps(m0, r1))
                              : _mm512_setzero_si512();
        _mm512_storeu_si512(dst + q * 32, _mm512_permutex2var_epi16(first, interleave, next));
        _mm512_storeu_si512(dst + q * 32 + 16, _mm512_permutex2var_epi16(first, upper, next));
    }
}

BF16_ATTR static void round_bf16_avx512(const float *x, size_t ldx, size_t rows, size_t cols, uint16_t *dst, size_t ldd) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j += 16) {
            __mmask16 m = cols - j >= 16 ? 0xFFFF : (__mmask16)((1u << (cols - j)) - 1);
            _mm256_mask_storeu_epi16(dst + i * ldd + j, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i * ldx + j)));
        }
}
#endif

void ck_pack_bt_bf16(const float *b, size_t ldb, size_t kc, size_t cols, uint32_t *dst) {
#if defined(__x86_64__)
    if (ck_has_bf16_dot()) { pack_bt_bf16_avx512(b, ldb, kc, cols, dst); return; }
#endif
    for (size_t q = 0; q < (kc + 1) / 2; q++) {
        const float *r0 = b + 2 * q * ldb, *r1 = r0 + ldb;
        int second = 2 * q + 1 < kc;
        for (size_t i = 0; i < 32; i++)
            dst[q * 32 + i] = i < cols ? (uint32_t)f32_to_bf16_rne(r0[i]) | (second ? (uint32_t)f32_to_bf16_rne(r1[i]) << 16 : 0) : 0;
    }
}

void ck_round_bf16(const float *x, size_t ldx, size_t rows, size_t cols, uint16_t *dst, size_t ldd) {
#if defined(__x86_64__)
    if (ck_has_bf16_dot()) { round_bf16_avx512(x, ldx, rows, cols, dst, ldd); return; }
#endif
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) dst[i * ldd + j] = f32_to_bf16_rne(x[i * ldx + j]);
}

/* Panels from contiguous runs: op(A) = Aᵀ of an A stored [k, m], and B stored [k, n] as it is.
   A short copy loop per k here replaces a memmove call per k (a tenth of a training step). */
/* dst[p·width + i] = src[p·ld + i] for i < count, zero up to width. */
static void copy_panel(const float *src, size_t ld, size_t count, size_t width, size_t kc, float *dst) {
    for (size_t p = 0; p < kc; p++) {
        const float *in = src + p * ld;
        float *out = dst + p * width;
        size_t i = 0;
        for (; i < count; i++) out[i] = in[i];
        for (; i < width; i++) out[i] = 0.0f;
    }
}

void ck_pack_a_trans(const float *a, size_t lda, size_t rows, size_t kc, float *dst) { copy_panel(a, lda, rows, ck_gemm_mr(), kc, dst); }

void ck_pack_b_rows(const float *b, size_t ldb, size_t kc, size_t cols, float *dst) { copy_panel(b, ldb, cols, ck_gemm_nr(), kc, dst); }
