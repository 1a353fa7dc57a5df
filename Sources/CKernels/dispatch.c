#include "ckernels.h"

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
