#ifndef VLKIT_CK_GGML_H
#define VLKIT_CK_GGML_H
/* ggml's block-quantised tensor types as GGUF files store them (type ids of enum ggml_type; block
   layouts as in ggml-common.h): de-quantisation of every supported type, and GEMV straight from the
   blocks for the types models are shipped in, so weights stay quantised in memory.
   A row of k weights is k / block_size(type) consecutive blocks. */
#include <stddef.h>
#include <stdint.h>

/* Weights a block holds and bytes it takes; 0 for a type these kernels do not know. */
size_t ck_ggml_block_size(int type);
size_t ck_ggml_block_bytes(int type);

/* Writes the n weights (n a multiple of the block size) that start at src to dst, exactly as ggml's
   dequantize_row_* does (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
   Returns 0, or -1 for an unsupported type. */
int ck_ggml_dequantize(int type, const void *src, size_t n, float *dst);

/* GEMV: y[j] (+)= alpha · Σ_p x[p] · W[j][p] for rows j < n of a row-major matrix of the given type
   (row j starts at w + j · row_bytes; k a multiple of the block size). x is prepared once into
   ck_ggml_x_bytes(type, k) bytes (64-byte aligned) and then read by every call with the same type
   and k. Returns 1 when ck_ggml_gemv supports the type. */
int ck_ggml_has_gemv(int type);
size_t ck_ggml_x_bytes(int type, size_t k);
void ck_ggml_prepare_x(int type, const float *x, size_t k, void *prepared);
void ck_ggml_gemv(int type, size_t n, size_t k, const void *w, size_t row_bytes, const void *prepared, float *y,
                  float alpha, int accumulate);

/* Caps the instruction sets the GEMV uses (as ck_quant_limit_isa: 0 portable C, higher = more of the
   CPU's), so tests can check every path on one machine. */
void ck_ggml_limit_isa(int level);

#endif
