#include "ckernels.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

void ck_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest allowed value */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

const char *ck_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
    return "portable";
#elif defined(__aarch64__)
    return "neon";
#else
    return "portable";
#endif
}

void ck_advise_huge_pages(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    size_t huge = (size_t)2 << 20, whole = bytes & ~(huge - 1);
    if (((uintptr_t)p & (huge - 1)) == 0 && whole > 0) madvise(p, whole, MADV_HUGEPAGE);
#else
    (void)p; (void)bytes;
#endif
}
