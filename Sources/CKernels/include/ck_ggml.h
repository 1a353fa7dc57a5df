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
   (row j starts at w + j · row_bytes; k a multiple of the block size); y[j] is overwritten when
   accumulate is 0. Callers split rows across threads; one call runs on one thread.
   x (finite) is prepared once into ck_ggml_x_bytes(type, k) bytes (64-byte aligned) and then read by
   every call with the same type and k: as llama.cpp does, it is quantised per block of the type's
   block size (32 or 256 values) to int8 with scale amax/127, so each value moves by at most amax/254
   of its block; the blocks' dots are then exact integer arithmetic scaled in float. Measured on random
   blocks and x with outliers (k = 4096): errors of 1–3·10⁻⁴ of Σ|x·w| for the 32-weight types and
   4–8·10⁻⁴ for the K types (one x scale per 256 values), about 0.5–2% of the dot itself. The
   prepared bytes do not depend on the instruction-set level.
   ck_ggml_has_gemv is 1 for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (x_bytes 0 and
   prepare/gemv no-ops for other types). */
int ck_ggml_has_gemv(int type);
size_t ck_ggml_x_bytes(int type, size_t k);
void ck_ggml_prepare_x(int type, const float *x, size_t k, void *prepared);
void ck_ggml_gemv(int type, size_t n, size_t k, const void *w, size_t row_bytes, const void *prepared, float *y,
                  float alpha, int accumulate);

/* Caps the instruction sets the GEMV and ck_ggml_dequantize use (2: AVX512-VNNI, 1: AVX512BW without VNNI,
   0: portable C; never more than the CPU has), so tests can check every path on one machine. The
   de-quantisation has one AVX-512 path (levels 1 and 2) and gives the same bits on every level. Not for
   use while kernels run. */
void ck_ggml_limit_isa(int level);

#endif
