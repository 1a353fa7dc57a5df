"""The numpy (OpenBLAS) peer of vlkit-bench's kernel cases: GEMM, GEMV, memory bandwidth, softmax,
layer norm, GELU and attention, in the same units as ours.

Run by vlkit-bench as `python numpy_peer.py CASES REPEATS` (CASES: comma-separated case names); prints
one JSON object {case name: value} on stdout.
"""
import json, sys
import numpy as np

from peer_timing import best

wanted, repeats = set(sys.argv[1].split(",")), int(sys.argv[2])
rng = np.random.default_rng(0)
out = {}
def gemm(name, m, n, k, trans_b, trans_a=False):
    if name not in wanted: return
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    a_ = a.T if trans_a else a
    f = (lambda: a_ @ b.T) if trans_b else (lambda: a_ @ b)
    out[name] = 2 * m * n * k / best(f, repeats) / 1e9
gemm("gemm_f32_1024", 1024, 1024, 1024, False)
gemm("gemm_f32_2048", 2048, 2048, 2048, False)
gemm("gemm_f32_50x768x3072", 50, 3072, 768, True)
gemm("gemm_f32_577x1024x4096", 577, 4096, 1024, True)
gemm("gemm_f32_train_fwd_2464x256x1024", 2464, 1024, 256, True)
gemm("gemm_f32_train_dx_2464x1024x256", 2464, 256, 1024, False)
gemm("gemm_f32_train_dw_1024x2464x256", 1024, 256, 2464, False, trans_a=True)
for name in ["gemm_bf16_1024", "gemm_bf16_2048"]:
    if name in wanted:
        s = int(name.split("_")[-1]); a = rng.standard_normal((s, s), dtype=np.float32)
        out[name] = 2 * s ** 3 / best(lambda: a @ a, repeats) / 1e9  # OpenBLAS f32 is the bar
if "gemv_f32_4096" in wanted:
    w = rng.standard_normal((4096, 4096), dtype=np.float32); x = rng.standard_normal(4096, dtype=np.float32)
    out["gemv_f32_4096"] = 4096 * 4096 * 4 / best(lambda: w @ x, repeats) / 1e9
if "memory_read_bandwidth" in wanted:
    big = rng.standard_normal(32 << 20, dtype=np.float32)
    out["memory_read_bandwidth"] = big.nbytes / best(lambda: big.sum(), repeats) / 1e9
x = rng.standard_normal((64, 4096), dtype=np.float32)
if "softmax_64x4096" in wanted:
    def softmax():
        e = np.exp(x - x.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)
    out["softmax_64x4096"] = x.size / best(softmax, repeats) / 1e9
if "layer_norm_64x4096" in wanted:
    w1, b0 = np.ones(4096, np.float32), np.zeros(4096, np.float32)
    def ln():
        m = x.mean(-1, keepdims=True); v = x.var(-1, keepdims=True); return (x - m) / np.sqrt(v + 1e-5) * w1 + b0
    out["layer_norm_64x4096"] = x.size / best(ln, repeats) / 1e9
if "gelu_tanh_64x4096" in wanted:
    out["gelu_tanh_64x4096"] = x.size / best(lambda: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x))), repeats) / 1e9
if "attention_577x16x64" in wanted:
    q = rng.standard_normal((16, 577, 64), dtype=np.float32)
    def attn():
        s = q @ q.transpose(0, 2, 1) * 0.125
        e = np.exp(s - s.max(-1, keepdims=True)); p = e / e.sum(-1, keepdims=True); return p @ q
    out["attention_577x16x64"] = 4 * 16 * 577 * 577 * 64 / best(attn, repeats) / 1e9
print(json.dumps(out))
