/* Elementwise math written as plain loops over an inline exp, compiled three times (AVX-512,
   AVX2+FMA, baseline) so the compiler vectorises each; the widest the CPU supports is used. */
#include "ck_math.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp(x) = 2^n · e^r with n = round(x / ln 2), |r| ≤ ln2/2; degree-6 polynomial for e^r. */
/* Below -87.33 the result is subnormal: returned as 0 (so exp(-inf) = 0); above 88.72, inf; NaN stays NaN. */
static inline float exp_inline(float x0) {
    float x = x0 < -87.0f ? -87.0f : (x0 > 88.0f ? 88.0f : x0);
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float result = p * scale;
    result = x0 < -87.33f ? 0.0f : result;
    result = x0 > 88.72f ? __builtin_inff() : result;
    return x0 != x0 ? x0 : result;
}

/* erf via Abramowitz–Stegun 7.1.26 refined: max abs error ~1.2e-7 with this rational form. */
static inline float erf_inline(float x) {
    float a = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.5f * a);
    /* Numerical Recipes erfc approximation (fractional error < 1.2e-7). */
    float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                 t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
    float erfc = t * exp_inline(-a * a + poly);
    float e = 1.0f - erfc;
    return x < 0 ? -e : e;
}

static inline float tanh_inline(float x) {
    float a = x < 0 ? -x : x;
    if (a < 0.0005f) return x;  /* avoids cancellation near 0 */
    float e = exp_inline(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    return x < 0 ? -t : t;
}

/* Elementwise loops may run in place (y == x): each y[i] depends on x[i] alone, so vectorising is
   safe, but the compiler's overlap check would otherwise send in-place calls to the scalar loop. */
#if defined(__clang__)
#define ELEMENTWISE _Pragma("clang loop vectorize(assume_safety)")
#else
#define ELEMENTWISE
#endif

#define DEFINE_KERNELS(SUFFIX, ATTR)                                                                  \
    ATTR static void exp_##SUFFIX(const float *x, float *y, size_t n) {                               \
        ELEMENTWISE for (size_t i = 0; i < n; i++) y[i] = exp_inline(x[i]);                                       \
    }                                                                                                 \
    ATTR static void sigmoid_##SUFFIX(const float *x, float *y, size_t n) {                           \
        ELEMENTWISE for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + exp_inline(-x[i]));                      \
    }                                                                                                 \
    ATTR static void tanh_##SUFFIX(const float *x, float *y, size_t n) {                              \
        ELEMENTWISE for (size_t i = 0; i < n; i++) y[i] = tanh_inline(x[i]);                                      \
    }                                                                                                 \
    ATTR static void silu_##SUFFIX(const float *x, float *y, size_t n) {                              \
        ELEMENTWISE for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + exp_inline(-x[i]));                      \
    }                                                                                                 \
    ATTR static void quick_gelu_##SUFFIX(const float *x, float *y, size_t n) {                        \
        ELEMENTWISE for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + exp_inline(-1.702f * x[i]));             \
    }                                                                                                 \
    ATTR static void adamw_##SUFFIX(float *w, const float *g, float *m, float *v, size_t n,            \
                                    const ck_adamw_params *h) {                                       \
        const ck_adamw_params p = *h;                                                                 \
        ELEMENTWISE for (size_t i = 0; i < n; i++) {                                                  \
            float wi = w[i] * p.decay;                                                                \
            float mi = p.beta1 * m[i] + (1.0f - p.beta1) * g[i];                                      \
            float vi = p.beta2 * v[i] + (1.0f - p.beta2) * g[i] * g[i];                               \
            m[i] = mi; v[i] = vi;                                                                     \
            w[i] = wi - p.step_size * (mi / (__builtin_sqrtf(vi) / p.bias2_sqrt + p.eps));            \
        }                                                                                             \
    }                                                                                                 \
    ATTR static void silu_grad_##SUFFIX(const float *x, float *y, size_t n) {                         \
        ELEMENTWISE for (size_t i = 0; i < n; i++) {                                                              \
            float s = 1.0f / (1.0f + exp_inline(-x[i]));                                              \
            y[i] = s * (1.0f + x[i] * (1.0f - s));                                                    \
        }                                                                                             \
    }                                                                                                 \
    ATTR static void quick_gelu_grad_##SUFFIX(const float *x, float *y, size_t n) {                   \
        ELEMENTWISE for (size_t i = 0; i < n; i++) {                                                              \
            float s = 1.0f / (1.0f + exp_inline(-1.702f * x[i]));                                     \
            y[i] = s + 1.702f * x[i] * s * (1.0f - s);                                                \
        }                                                                                             \
    }                                                                                                 \
    ATTR static void gelu_erf_##SUFFIX(const float *x, float *y, size_t n) {                          \
        ELEMENTWISE for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erf_inline(x[i] * 0.70710678118654752f)); \
    }                                                                                                 \
    ATTR static void gelu_erf_grad_##SUFFIX(const float *x, float *y, size_t n) {                     \
        ELEMENTWISE for (size_t i = 0; i < n; i++) {                                                              \
            float v = x[i];                                                                           \
            y[i] = 0.5f * (1.0f + erf_inline(v * 0.70710678118654752f))                               \
                 + v * 0.39894228040143268f * exp_inline(-0.5f * v * v);                              \
        }                                                                                             \
    }                                                                                                 \
    ATTR static void gelu_tanh_##SUFFIX(const float *x, float *y, size_t n) {                         \
        ELEMENTWISE for (size_t i = 0; i < n; i++) {                                                              \
            float v = x[i];                                                                           \
            y[i] = 0.5f * v * (1.0f + tanh_inline(0.79788456080286536f * (v + 0.044715f * v * v * v))); \
        }                                                                                             \
    }                                                                                                 \
    ATTR static float exp_shift_sum_##SUFFIX(const float *x, float *y, size_t n, float shift) {       \
        ELEMENTWISE for (size_t i = 0; i < n; i++) { y[i] = exp_inline(x[i] - shift); }                           \
        /* 16 partial sums: a single running sum would be a chain of dependent scalar adds. */        \
        float part[16] = {0};                                                                         \
        size_t i = 0;                                                                                 \
        for (; i + 16 <= n; i += 16)                                                                  \
            for (int j = 0; j < 16; j++) part[j] += y[i + j];                                         \
        float s = 0;                                                                                  \
        for (int j = 0; j < 16; j++) s += part[j];                                                    \
        for (; i < n; i++) s += y[i];                                                                 \
        return s;                                                                                     \
    }

#define DEFINE_MAX(SUFFIX, ATTR)                                                                      \
    ATTR static float max_##SUFFIX(const float *x, size_t n) {                                        \
        float m[16];                                                                                  \
        for (int j = 0; j < 16; j++) m[j] = -__builtin_inff();                                        \
        size_t i = 0;                                                                                 \
        for (; i + 16 <= n; i += 16)                                                                  \
            for (int j = 0; j < 16; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];                    \
        float mx = -__builtin_inff();                                                                 \
        for (int j = 0; j < 16; j++) mx = m[j] > mx ? m[j] : mx;                                      \
        for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;                                                \
        return mx;                                                                                    \
    }

#if defined(__x86_64__)
DEFINE_MAX(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))))
DEFINE_MAX(avx2, __attribute__((target("avx2,fma"))))
#endif
DEFINE_MAX(base, )

#define DEFINE_SOFTMAX(SUFFIX, ATTR)                                                                  \
    ATTR static void softmax_##SUFFIX(const float *x, float *y, size_t n) {                           \
        float mx = max_##SUFFIX(x, n);                                                                \
        size_t i;                                                                                     \
        if (mx == -__builtin_inff()) { for (i = 0; i < n; i++) y[i] = 0; return; }                    \
        float s[16] = {0};                                                                            \
        for (i = 0; i + 16 <= n; i += 16)                                                             \
            for (int j = 0; j < 16; j++) { y[i + j] = exp_inline(x[i + j] - mx); s[j] += y[i + j]; }  \
        float total = 0;                                                                              \
        for (int j = 0; j < 16; j++) total += s[j];                                                   \
        for (; i < n; i++) { y[i] = exp_inline(x[i] - mx); total += y[i]; }                           \
        float inv = 1.0f / total;                                                                     \
        for (i = 0; i < n; i++) y[i] *= inv;                                                          \
    }

#if defined(__x86_64__)
DEFINE_SOFTMAX(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))))
DEFINE_SOFTMAX(avx2, __attribute__((target("avx2,fma"))))
#endif
DEFINE_SOFTMAX(base, )

#define DEFINE_SUM(SUFFIX, ATTR)                                                                      \
    ATTR static float sum_##SUFFIX(const float *x, size_t n) {                                        \
        float acc[16] = {0};                                                                          \
        size_t i = 0;                                                                                 \
        for (; i + 16 <= n; i += 16)                                                                  \
            for (int j = 0; j < 16; j++) acc[j] += x[i + j];                                          \
        float s = 0;                                                                                  \
        for (int j = 0; j < 16; j++) s += acc[j];                                                     \
        for (; i < n; i++) s += x[i];                                                                 \
        return s;                                                                                     \
    }

#if defined(__x86_64__)
DEFINE_SUM(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))))
DEFINE_SUM(avx2, __attribute__((target("avx2,fma"))))
#endif
DEFINE_SUM(base, )

/* One row of layer norm (centered) or RMS norm (not): xhat = (x − mean) · rstd, y = xhat · w + b
   (w, b and xhat may be NULL). Sums run in 16 lanes so they vectorise. Returns rstd. */
#define DEFINE_NORM(SUFFIX, ATTR)                                                                     \
    ATTR static float norm_row_##SUFFIX(const float *x, size_t n, const float *w, const float *b, float eps, \
                                        int centered, float *y, float *xhat) {                       \
        float acc[16] = {0}, mean = 0, var = 0;                                                       \
        size_t i = 0;                                                                                 \
        if (centered) {                                                                               \
            for (; i + 16 <= n; i += 16)                                                              \
                for (int j = 0; j < 16; j++) acc[j] += x[i + j];                                      \
            for (int j = 0; j < 16; j++) mean += acc[j];                                              \
            for (; i < n; i++) mean += x[i];                                                          \
            mean /= (float)n;                                                                         \
        }                                                                                             \
        float sq[16] = {0};                                                                           \
        for (i = 0; i + 16 <= n; i += 16)                                                             \
            for (int j = 0; j < 16; j++) { float c = x[i + j] - mean; sq[j] += c * c; }               \
        for (int j = 0; j < 16; j++) var += sq[j];                                                    \
        for (; i < n; i++) { float c = x[i] - mean; var += c * c; }                                   \
        float rs = 1.0f / sqrtf(var / (float)n + eps);                                                \
        if (xhat) { ELEMENTWISE for (i = 0; i < n; i++) xhat[i] = (x[i] - mean) * rs; }               \
        if (w && b) { ELEMENTWISE for (i = 0; i < n; i++) y[i] = (x[i] - mean) * rs * w[i] + b[i]; }  \
        else if (w) { ELEMENTWISE for (i = 0; i < n; i++) y[i] = (x[i] - mean) * rs * w[i]; }         \
        else if (b) { ELEMENTWISE for (i = 0; i < n; i++) y[i] = (x[i] - mean) * rs + b[i]; }         \
        else { ELEMENTWISE for (i = 0; i < n; i++) y[i] = (x[i] - mean) * rs; }                       \
        return rs;                                                                                    \
    }

#if defined(__x86_64__)
DEFINE_NORM(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))))
DEFINE_NORM(avx2, __attribute__((target("avx2,fma"))))
#endif
DEFINE_NORM(base, )

#if defined(__x86_64__)
DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))))
DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))))
#endif
DEFINE_KERNELS(base, )

typedef enum { ISA_BASE, ISA_AVX2, ISA_AVX512 } isa_t;

static isa_t detect(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_BASE;
}

static isa_t isa(void) {
    static int cached = -1;
    if (cached < 0) cached = (int)detect();
    return (isa_t)cached;
}

#if defined(__x86_64__)
#define DISPATCH(NAME, ...)                                     \
    switch (isa()) {                                            \
    case ISA_AVX512: return NAME##_avx512(__VA_ARGS__);         \
    case ISA_AVX2: return NAME##_avx2(__VA_ARGS__);             \
    default: return NAME##_base(__VA_ARGS__);                   \
    }
#else
#define DISPATCH(NAME, ...) return NAME##_base(__VA_ARGS__);
#endif

void ck_exp(const float *x, float *y, size_t n) { DISPATCH(exp, x, y, n) }
void ck_sigmoid(const float *x, float *y, size_t n) { DISPATCH(sigmoid, x, y, n) }
void ck_tanh(const float *x, float *y, size_t n) { DISPATCH(tanh, x, y, n) }
void ck_silu(const float *x, float *y, size_t n) { DISPATCH(silu, x, y, n) }
void ck_quick_gelu(const float *x, float *y, size_t n) { DISPATCH(quick_gelu, x, y, n) }
void ck_adamw(float *w, const float *g, float *m, float *v, size_t n, const ck_adamw_params *h) { DISPATCH(adamw, w, g, m, v, n, h) }
void ck_silu_grad(const float *x, float *y, size_t n) { DISPATCH(silu_grad, x, y, n) }
void ck_quick_gelu_grad(const float *x, float *y, size_t n) { DISPATCH(quick_gelu_grad, x, y, n) }
void ck_gelu_erf(const float *x, float *y, size_t n) { DISPATCH(gelu_erf, x, y, n) }
void ck_gelu_erf_grad(const float *x, float *y, size_t n) { DISPATCH(gelu_erf_grad, x, y, n) }
void ck_gelu_tanh(const float *x, float *y, size_t n) { DISPATCH(gelu_tanh, x, y, n) }
float ck_exp_shift_sum(const float *x, float *y, size_t n, float shift) { DISPATCH(exp_shift_sum, x, y, n, shift) }
float ck_sum(const float *x, size_t n) { DISPATCH(sum, x, n) }
void ck_softmax(const float *x, float *y, size_t n) { DISPATCH(softmax, x, y, n) }
float ck_max(const float *x, size_t n) { DISPATCH(max, x, n) }
float ck_norm_row(const float *x, size_t n, const float *w, const float *b, float eps, int centered, float *y, float *xhat) {
    DISPATCH(norm_row, x, n, w, b, eps, centered, y, xhat)
}

/* y[i] = a[i·sa] op b[i·sb] with steps 0 (a broadcast scalar) or 1; one loop per case so each vectorises. */
#define BINARY_LOOPS(EXPR)                                                                              \
    if (sa && sb) { ELEMENTWISE for (size_t i = 0; i < n; i++) { float x = a[i], z = b[i]; y[i] = EXPR; } } \
    else if (sa) { float z = b[0]; ELEMENTWISE for (size_t i = 0; i < n; i++) { float x = a[i]; y[i] = EXPR; } } \
    else if (sb) { float x = a[0]; ELEMENTWISE for (size_t i = 0; i < n; i++) { float z = b[i]; y[i] = EXPR; } } \
    else { float x = a[0], z = b[0]; for (size_t i = 0; i < n; i++) y[i] = EXPR; }

void ck_binary(int op, const float *a, size_t sa, const float *b, size_t sb, float *y, size_t n) {
    switch (op) {
    case CK_ADD: BINARY_LOOPS(x + z) break;
    case CK_SUB: BINARY_LOOPS(x - z) break;
    case CK_MUL: BINARY_LOOPS(x * z) break;
    case CK_DIV: BINARY_LOOPS(x / z) break;
    default: break;
    }
}
