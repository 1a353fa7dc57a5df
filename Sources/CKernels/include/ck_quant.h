#ifndef VLKIT_CK_QUANT_H
#define VLKIT_CK_QUANT_H
/* Weight-only block quantisation of [n, k] matrices: blocks of 32 consecutive weights of a row share
   one scale, stored as an IEEE half (uint16_t bits); w = q·scale. q8: q (−127…127) stored as q + 128;
   q4: q (−8…7) stored as q + 8, two per byte. Both in strips of 16 rows (layout and scale order in
   strips.h). k is a multiple of 32. Matrix pointers passed to these functions start at a strip. */
#include <stddef.h>
#include <stdint.h>

/* Caps the instruction sets these kernels use (2: all the CPU has, 1: AVX-512 without VNNI,
   0: portable C), so tests can check every path on one machine. Not for use while kernels run. */
void ck_quant_limit_isa(int level);
int ck_quant_isa_limit(void);

void ck_quantize_q8(const float *w, size_t n, size_t k, uint8_t *q, uint16_t *scales);
void ck_quantize_q4(const float *w, size_t n, size_t k, uint8_t *q, uint16_t *scales);
/* Rows of ggml Q8_0 / Q4_0 blocks (row j at rows + j·row_bytes) into the q8 / q4 strips, losslessly. */
void ck_repack_ggml_q8_0(const void *rows, size_t row_bytes, size_t n, size_t k, uint8_t *q, uint16_t *scales);
void ck_repack_ggml_q4_0(const void *rows, size_t row_bytes, size_t n, size_t k, uint8_t *q, uint16_t *scales);

/* GEMV: x is prepared once (ck_gemv_prepare_x into ck_gemv_x_bytes(k) bytes, 64-byte aligned) and
   then read by every call over any rows of any matrix with the same k and format. With
   AVX512-VNNI, preparing quantises x per 32-value block to int8 range (relative error ~0.4%), as
   llama.cpp does for these formats; otherwise it copies x. */
size_t ck_gemv_x_bytes(size_t k);
void ck_gemv_prepare_x(int q4, const float *x, size_t k, void *prepared);
/* y[j] (+)= alpha · Σ_p x[p] · w[j][p] for j < n, rows j of the quantised matrix (row strides k and k/32). */
void ck_gemv_q8(size_t n, size_t k, const uint8_t *q, const uint16_t *scales, const void *x, float *y, float alpha, int accumulate);
void ck_gemv_q4(size_t n, size_t k, const uint8_t *q, const uint16_t *scales, const void *x, float *y, float alpha, int accumulate);

/* Dequantises rows j0 … j0+rows−1, columns p0 … p0+kc−1 into out[r·kc + p] (row-major; a
   transposing pack then makes GEMM panels of it). */
void ck_dequantize_rows_q8(const uint8_t *q, const uint16_t *scales, size_t k, size_t j0, size_t rows, size_t p0, size_t kc, float *out);
void ck_dequantize_rows_q4(const uint8_t *q, const uint16_t *scales, size_t k, size_t j0, size_t rows, size_t p0, size_t kc, float *out);

/* Int8 GEMM (AVX512-VNNI) for m > 1: C[m, n] (+)= alpha · A · Wᵀ with A f32 quantised per 32-value
   block to int8 and W in either format. MR × NR register tiles; k-ranges are whole blocks.
   Call these only when ck_has_qgemm() says the CPU has the instructions. */
int ck_has_qgemm(void);
size_t ck_qgemm_mr(void);
size_t ck_qgemm_nr(void);
/* Bytes one 32-value block takes in a packed A tile (MR rows) and in a packed B panel (NR columns). */
size_t ck_qgemm_a_block_bytes(void);
size_t ck_qgemm_b_block_bytes(void);
/* Quantises rows i < rows ≤ MR of A (row stride lda, k a multiple of 32) into a tile of k/32 blocks;
   offset is the weights' unsigned offset (128 for q8, 8 for q4). */
void ck_qgemm_pack_a(const float *a, size_t lda, size_t rows, size_t k, int offset, void *dst);
/* Packs weight rows j0 … j0+cols−1 (cols ≤ NR, j0 a multiple of 16), columns p0 … p0+kc−1 (whole
   blocks) of a q4 (q4 != 0) or q8 matrix into a panel. */
void ck_qgemm_pack_b(int q4, const void *q, const uint16_t *scales, size_t k, size_t j0, size_t cols, size_t p0, size_t kc, void *dst);
/* tile[mr × nr] = alpha · Σ over `blocks` blocks of the packed tile and panel; stored to c (row stride ldc)
   or added to it when accumulate != 0. */
void ck_qgemm_micro(size_t blocks, const void *a, const void *b, float *c, size_t ldc, size_t mr, size_t nr, int accumulate, float alpha);

#endif
