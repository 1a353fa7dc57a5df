#ifndef VLKIT_CK_ATOMIC_H
#define VLKIT_CK_ATOMIC_H
/* Sequentially consistent atomics on a 64-bit counter, for the worker pool's hand-offs. */
#include <stdint.h>

static inline int64_t ck_atomic_load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void ck_atomic_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline int64_t ck_atomic_add(int64_t *p, int64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline void ck_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
