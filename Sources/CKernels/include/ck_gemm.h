#ifndef VLKIT_CK_GEMM_H
#define VLKIT_CK_GEMM_H
/* GEMM/GEMV micro-kernels, dispatched by CPU features. Packing, blocking and threading are Swift. */
#include <stddef.h>
#include <stdint.h>

/* Register tile of the dispatched micro-kernel: MR rows × NR columns. */
size_t ck_gemm_mr(void);
size_t ck_gemm_nr(void);

/* tile[mr × nr] = alpha · Σ_p a[p·MR + i] · b[p·NR + j] over p < k (a, b packed and zero-padded
   to MR/NR); stored to c (row stride ldc) or added to it when accumulate != 0. */
void ck_gemm_micro(size_t k, const float *a, const float *b, float *c, size_t ldc, size_t mr, size_t nr,
                   int accumulate, float alpha);

/* Packs columns j < cols of op(B) = Bᵀ (B stored [n, k], row stride ldb) for p < kc into an
   NR-wide panel dst[p·NR + j], zero-padding j ≥ cols. */
void ck_pack_b_trans(const float *b, size_t ldb, size_t kc, size_t cols, float *dst);

/* Packs rows i < rows ≤ MR of A (row stride lda) for p < kc into an MR-high panel dst[p·MR + i],
   zero-padding i ≥ rows. */
void ck_pack_a(const float *a, size_t lda, size_t rows, size_t kc, float *dst);

/* Packs rows i < rows ≤ MR of op(A) = Aᵀ (A stored [k, m], row stride lda: row i of op(A) is
   column i of A) for p < kc into dst[p·MR + i], zero-padded. */
void ck_pack_a_trans(const float *a, size_t lda, size_t rows, size_t kc, float *dst);
/* Packs columns j < cols of B (stored [k, n], row stride ldb) for p < kc into dst[p·NR + j], zero-padded. */
void ck_pack_b_rows(const float *b, size_t ldb, size_t kc, size_t cols, float *dst);

/* bf16 products (AVX512_BF16 `vdpbf16ps`): whether the CPU has them. Activations are rounded to
   bf16 (relative error ~1e-3 against f32). */
int ck_has_bf16_dot(void);
/* Packs rows i < rows of an f32 panel of op(A) (A [m, k], row stride lda) for k-pairs q < kc/2 into
   dst[q·12 + i] = (bf16(a[i][2q]), bf16(a[i][2q+1])) as 32-bit words; kc is even, zero-padded. */
void ck_pack_a_bf16(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst);
/* Packs columns j < cols of Wᵀ (bf16 W stored [n, k], row stride ldw elements) for k-pairs q < kc/2
   into dst[q·32 + j] (32-bit pairs of consecutive k); kc is even, zero-padded. */
void ck_pack_b_bf16(const uint16_t *w, size_t ldw, size_t kc, size_t cols, uint32_t *dst);
/* tile[mr × nr] = alpha · Σ_q dot2(a[q·12 + i], b[q·32 + j]) over q < kq, stored or accumulated. */
void ck_gemm_micro_bf16(size_t kq, const uint32_t *a, const uint32_t *b, float *c, size_t ldc, size_t mr, size_t nr,
                        int accumulate, float alpha);

/* Weight-streaming bf16 GEMM (only with ck_has_bf16_dot): activations are the vector operand and the
   weights, read in place, the broadcast one. Packs rows i < rows ≤ 32 of A (row stride lda) for
   k-pairs q < ceil(kc/2) into dst[q·32 + i] as bf16 pairs (zero-padded). */
void ck_pack_at_bf16(const float *a, size_t lda, size_t rows, size_t kc, uint32_t *dst);
/* c[i·ldc + j] = (accumulate ? c[i·ldc + j] : bias[j]) + alpha · Σ_q dot2(a[q·32 + i], pair q of weight
   row j) for i < rows ≤ 32, j < wrows ≤ 12; w is row 0 of the strip (bf16 [·, ldw], ldw even, 4-byte
   aligned); bias may be NULL (0). */
void ck_gemm_wt_bf16(size_t kq, const uint32_t *a, const uint16_t *w, size_t ldw, size_t wrows, float *c, size_t ldc, size_t rows,
                     int accumulate, float alpha, const float *bias);

/* The same with the lanes as c's columns and no bias: c[j·ldc + i] (+)= … for j < wrows ≤ 12, i < cols ≤ 32. */
void ck_gemm_wt_bf16_direct(size_t kq, const uint32_t *a, const uint16_t *w, size_t ldw, size_t wrows, float *c, size_t ldc, size_t cols,
                            int accumulate, float alpha);
/* Packs columns i < cols ≤ 32 of B [kc, ·] (row stride ldb) as the 32-row operand of the two kernels
   above (the rows of Bᵀ): dst[q·32 + i] = (bf16(b[2q][i]), bf16(b[2q+1][i])), zero-padded. */
void ck_pack_bt_bf16(const float *b, size_t ldb, size_t kc, size_t cols, uint32_t *dst);
/* dst[i·ldd + j] = x[i·ldx + j] rounded to bf16 (nearest even), i < rows, j < cols. */
void ck_round_bf16(const float *x, size_t ldx, size_t rows, size_t cols, uint16_t *dst, size_t ldd);

/* Decode paths. y[j] (+)= alpha · Σ_p x[p] · w[j·ldw + p] for j < n (weights [n, k], PyTorch's layout). */
void ck_gemv_t(size_t n, size_t k, const float *w, size_t ldw, const float *x, float *y, float alpha, int accumulate);
/* y[j] (+)= alpha · Σ_p x[p] · b[p·ldb + j] for j < n (b [k, n]). */
void ck_gemv_n(size_t n, size_t k, const float *b, size_t ldb, const float *x, float *y, float alpha, int accumulate);

/* The same with bf16 weights [n, k] (widened exactly). */
void ck_gemv_t_bf16(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int accumulate);

/* The same on bf16 dot products (x rounded to bf16; AVX512_BF16, else the exact one). */
void ck_gemv_t_bf16_dot(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int accumulate);

#endif
