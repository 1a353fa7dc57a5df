#ifndef VLKIT_CK_MATH_H
#define VLKIT_CK_MATH_H
/* Vectorised elementwise math over float arrays (y may equal x), dispatched by CPU features.
   Accuracy: relative error below ~2e-7 for exp; activations agree with libm to ~1e-6. */
#include <stddef.h>

void ck_exp(const float *x, float *y, size_t n);
void ck_sigmoid(const float *x, float *y, size_t n);
void ck_tanh(const float *x, float *y, size_t n);
void ck_silu(const float *x, float *y, size_t n);
void ck_quick_gelu(const float *x, float *y, size_t n);
/* One AdamW update of n weights in place (torch.optim.AdamW's order of operations). */
typedef struct { float decay, beta1, beta2, bias2_sqrt, eps, step_size; } ck_adamw_params;
void ck_adamw(float *w, const float *g, float *m, float *v, size_t n, const ck_adamw_params *h);

/* Derivatives of silu and quick_gelu at x. */
void ck_silu_grad(const float *x, float *y, size_t n);
void ck_quick_gelu_grad(const float *x, float *y, size_t n);
void ck_gelu_erf(const float *x, float *y, size_t n);
/* d gelu(x) / dx for the erf form. */
void ck_gelu_erf_grad(const float *x, float *y, size_t n);
void ck_gelu_tanh(const float *x, float *y, size_t n);
/* y = exp(x - shift), returns the sum of y (softmax numerators). */
float ck_exp_shift_sum(const float *x, float *y, size_t n, float shift);
/* max of x[0..<n] (−inf when n = 0). */
float ck_max(const float *x, size_t n);
/* y = softmax(x) over n elements; a row of -inf gives zeros. */
void ck_softmax(const float *x, float *y, size_t n);
/* Σ x (streams memory; the bandwidth benchmark's read loop). */
float ck_sum(const float *x, size_t n);
/* One row of layer norm (centered != 0) or RMS norm: xhat = (x − mean) · rstd, y = xhat · w + b;
   w, b and xhat may be NULL. Returns rstd = 1 / sqrt(var + eps). */
float ck_norm_row(const float *x, size_t n, const float *w, const float *b, float eps, int centered, float *y, float *xhat);

/* y[i] = a[i·sa] op b[i·sb] for i < n, steps sa, sb ∈ {0, 1} (0: a scalar repeated); y may equal a or b. */
enum { CK_ADD = 0, CK_SUB = 1, CK_MUL = 2, CK_DIV = 3 };
void ck_binary(int op, const float *a, size_t sa, const float *b, size_t sb, float *y, size_t n);

#endif
