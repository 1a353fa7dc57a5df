#ifndef VLKIT_CKERNELS_H
#define VLKIT_CKERNELS_H
/* Innermost micro-kernels, with runtime CPU dispatch. Everything around them is Swift. */
#include <stddef.h>
#include <stdint.h>
#include "ck_math.h"
#include "ck_gemm.h"
#include "ck_quant.h"
#include "ck_ggml.h"
#include "ck_atomic.h"

/* Name of the instruction set the kernels chose at run time ("avx512", "avx2", "neon", "portable"). */
const char *ck_isa(void);

/* Keeps large freed blocks in the malloc heap instead of returning them to the system, so
   activations reallocated every training step are reused rather than faulted in and zeroed
   by the kernel again (glibc; a no-op elsewhere). */
void ck_keep_freed_memory(void);

/* Asks the kernel to back a 2 MiB-aligned buffer with huge pages (Linux, where transparent huge
   pages are "madvise" by default; a no-op elsewhere). Streaming GB of weights through 4 KiB pages
   costs a TLB miss every 4 KiB: decoding bf16 weights read ~15% slower. */
void ck_advise_huge_pages(void *p, size_t bytes);

#endif
