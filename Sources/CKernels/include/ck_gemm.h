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

/* Decode paths. y[j] (+)= alpha · Σ_p x[p] · w[j·ldw + p] for j < n (weights [n, k], PyTorch's layout). */
void ck_gemv_t(size_t n, size_t k, const float *w, size_t ldw, const float *x, float *y, float alpha, int accumulate);
/* y[j] (+)= alpha · Σ_p x[p] · b[p·ldb + j] for j < n (b [k, n]). */
void ck_gemv_n(size_t n, size_t k, const float *b, size_t ldb, const float *x, float *y, float alpha, int accumulate);

/* The same with bf16 weights [n, k]. */
void ck_gemv_t_bf16(size_t n, size_t k, const uint16_t *w, size_t ldw, const float *x, float *y, float alpha, int accumulate);

#endif
