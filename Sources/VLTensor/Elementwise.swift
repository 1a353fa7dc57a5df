import CKernels
import Foundation

// Elementwise ops with PyTorch broadcasting. Each op: a forward loop over contiguous f32 data
// and, when recorded, a backward closure written with the same ops.

extension Tensor {
    /// Contiguous f32 data for reading inside kernels (not recorded).
    @inline(__always) public var dense: Tensor { isContiguous && dtype == .f32 ? self : materialize(as: .f32) }
}

/// The broadcast shape of two shapes, as in PyTorch (aligned at the right; 1 stretches).
public func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        out[i] = da == 1 ? db : da
    }
    return out
}

extension Tensor {
    /// Strides that read this tensor as if expanded to `target` (0 on broadcast dimensions).
    func broadcastStrides(to target: [Int]) -> [Int] {
        let pad = target.count - rank
        return (0..<target.count).map { i in
            i < pad ? 0 : (shape[i - pad] == 1 && target[i] != 1 ? 0 : strides[i - pad])
        }
    }

    /// Sums a broadcast gradient back to `shape` (the reverse of broadcasting).
    public func sumTo(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let pad = rank - target.count
        var axes: [Int] = Array(0..<pad)
        for i in 0..<target.count where target[i] == 1 && shape[i + pad] != 1 { axes.append(i + pad) }
        var r = axes.isEmpty ? self : sum(axes: axes, keepDim: true)
        if pad > 0 || r.shape != target { r = r.reshape(target) }
        return r
    }
}

/// The four arithmetic ops, run by a vectorised C loop (the generic path calls a closure per element).
enum Arithmetic: Int32 {
    case add, sub, mul, div

    var closure: (Float, Float) -> Float {
        switch self {
        case .add: return (+)
        case .sub: return (-)
        case .mul: return (*)
        case .div: return (/)
        }
    }
}

func binaryForward(_ a: Tensor, _ b: Tensor, _ op: Arithmetic) -> Tensor {
    binaryForward(a, b, op.closure, arithmetic: op)
}

@inline(__always)
func binaryForward(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float, arithmetic: Arithmetic? = nil) -> Tensor {
    let shape = broadcastShapes(a.shape, b.shape)
    let out = Tensor.uninitialized(shape)
    let n = out.count
    if n == 0 { return out }
    let o = out.mutablePointer
    // Runs a stretch of n outputs whose inputs step by sa, sb ∈ {0, 1}.
    @inline(__always) func stretch(
        _ pa: UnsafePointer<Float>, _ sa: Int, _ pb: UnsafePointer<Float>, _ sb: Int,
        _ po: UnsafeMutablePointer<Float>, _ count: Int
    ) {
        if let arithmetic {
            ck_binary(arithmetic.rawValue, pa, sa, pb, sb, po, count)
        } else {
            for i in 0..<count { po[i] = f(pa[i * sa], pb[i * sb]) }
        }
    }
    if a.shape == b.shape || a.count == 1 || b.count == 1 {
        let ad = a.dense, bd = b.dense
        let (pa, pb) = (ad.pointer, bd.pointer)
        let (sa, sb) = (a.count == 1 && n > 1 ? 0 : 1, b.count == 1 && n > 1 ? 0 : 1)
        Parallel.forRange(n, grain: 1 << 15) { r in
            let i = r.lowerBound
            stretch(pa + i * sa, sa, pb + i * sb, sb, o + i, r.count)
        }
        return out
    }
    // General case: walk rows of the output, reading a and b through broadcast strides.
    let ad = a.dense, bd = b.dense
    let sa = ad.broadcastStrides(to: shape), sb = bd.broadcastStrides(to: shape)
    let rowsA = Tensor.rowOffsets(shape: shape, strides: sa, offset: 0)
    let rowsB = Tensor.rowOffsets(shape: shape, strides: sb, offset: 0)
    let inner = shape.last!, ia = sa.last!, ib = sb.last!
    let pa = ad.pointer, pb = bd.pointer
    Parallel.forRange(rowsA.count, grain: max(1, (1 << 15) / inner)) { rows in
        for r in rows {
            let oa = rowsA[r], ob = rowsB[r], oo = r * inner
            if ia <= 1 && ib <= 1 {
                stretch(pa + oa, ia, pb + ob, ib, o + oo, inner)
            } else {
                for j in 0..<inner { o[oo + j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
            }
        }
    }
    return out
}

@inline(__always)
func unaryForward(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let xd = x.dense
    let out = Tensor.uninitialized(x.shape)
    let p = xd.pointer, o = out.mutablePointer
    Parallel.forRange(x.count, grain: 1 << 14) { r in for i in r { o[i] = f(p[i]) } }
    return out
}

/// Applies a vectorised C kernel to contiguous chunks, in parallel.
@inline(__always)
func kernelForward(_ x: Tensor, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
    let xd = x.dense
    let out = Tensor.uninitialized(x.shape)
    let p = xd.pointer, o = out.mutablePointer
    Parallel.forRange(x.count, grain: 1 << 15) { r in kernel(p + r.lowerBound, o + r.lowerBound, r.count) }
    return out
}

// MARK: - Binary arithmetic

public func + (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryForward(a, b, .add)
    return record(out, [a, b]) { g in [g.sumTo(a.shape), g.sumTo(b.shape)] }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryForward(a, b, .sub)
    return record(out, [a, b]) { g in [g.sumTo(a.shape), (-g).sumTo(b.shape)] }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryForward(a, b, .mul)
    return record(out, [a, b]) { g in
        [a.requiresGrad ? (g * b).sumTo(a.shape) : nil, b.requiresGrad ? (g * a).sumTo(b.shape) : nil]
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryForward(a, b, .div)
    return record(out, [a, b]) { g in
        [
            a.requiresGrad ? (g / b).sumTo(a.shape) : nil,
            b.requiresGrad ? (-(g * a) / (b * b)).sumTo(b.shape) : nil,
        ]
    }
}

/// a op s for every element of a, by the vectorised C loop.
func scalarForward(_ a: Tensor, _ op: Arithmetic, _ s: Float) -> Tensor {
    let ad = a.dense
    let out = Tensor.uninitialized(a.shape)
    let p = ad.pointer, o = out.mutablePointer
    withUnsafePointer(to: s) { sp in
        Parallel.forRange(a.count, grain: 1 << 15) { r in
            ck_binary(op.rawValue, p + r.lowerBound, 1, sp, 0, o + r.lowerBound, r.count)
        }
    }
    return out
}

public func + (a: Tensor, s: Float) -> Tensor {
    record(scalarForward(a, .add, s), [a]) { g in [g] }
}
public func + (s: Float, a: Tensor) -> Tensor { a + s }
public func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
public func - (s: Float, a: Tensor) -> Tensor { (-a) + s }
public func * (a: Tensor, s: Float) -> Tensor {
    record(scalarForward(a, .mul, s), [a]) { g in [g * s] }
}
public func * (s: Float, a: Tensor) -> Tensor { a * s }
public func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
public func / (s: Float, a: Tensor) -> Tensor {
    record(unaryForward(a) { s / $0 }, [a]) { g in [-(g * s) / (a * a)] }
}

public prefix func - (a: Tensor) -> Tensor {
    record(scalarForward(a, .mul, -1), [a]) { g in [-g] }
}

extension Tensor {
    /// Elementwise maximum of two tensors (gradient to the larger; ties to `self`).
    public func maximum(_ other: Tensor) -> Tensor {
        let out = binaryForward(self, other) { Swift.max($0, $1) }
        return record(out, [self, other]) { g in
            let mask = self.greaterEqual(other)
            return [(g * mask).sumTo(self.shape), (g * (1 - mask)).sumTo(other.shape)]
        }
    }

    /// Elementwise power with a tensor exponent (x > 0 where the exponent's gradient is needed).
    public func pow(_ e: Tensor) -> Tensor {
        let out = binaryForward(self, e) { Foundation.pow($0, $1) }
        return record(out, [self, e]) { g in
            [
                self.requiresGrad ? (g * e * self.pow(e - 1)).sumTo(self.shape) : nil,
                e.requiresGrad ? (g * out * self.log()).sumTo(e.shape) : nil,
            ]
        }
    }

    // MARK: Comparisons (f32 0/1 masks, not differentiable)

    public func greater(_ o: Tensor) -> Tensor { binaryForward(self, o) { $0 > $1 ? 1 : 0 } }
    public func greaterEqual(_ o: Tensor) -> Tensor { binaryForward(self, o) { $0 >= $1 ? 1 : 0 } }
    public func less(_ o: Tensor) -> Tensor { binaryForward(self, o) { $0 < $1 ? 1 : 0 } }
    public func equal(_ o: Tensor) -> Tensor { binaryForward(self, o) { $0 == $1 ? 1 : 0 } }
    public func greater(_ s: Float) -> Tensor { unaryForward(self) { $0 > s ? 1 : 0 } }
    public func less(_ s: Float) -> Tensor { unaryForward(self) { $0 < s ? 1 : 0 } }

    // MARK: - Unary

    public func exp() -> Tensor {
        let out = kernelForward(self) { ck_exp($0, $1, $2) }
        return record(out, [self]) { g in [g * out] }
    }

    public func log() -> Tensor {
        record(unaryForward(self) { Foundation.log($0) }, [self]) { g in [g / self] }
    }

    public func sqrt() -> Tensor {
        let out = unaryForward(self) { $0.squareRoot() }
        return record(out, [self]) { g in [g / (out * 2)] }
    }

    public func rsqrt() -> Tensor {
        let out = unaryForward(self) { 1 / $0.squareRoot() }
        return record(out, [self]) { g in [g * out * out * out * -0.5] }
    }

    public func pow(_ e: Float) -> Tensor {
        let out = unaryForward(self) { Foundation.pow($0, e) }
        return record(out, [self]) { g in [g * self.pow(e - 1) * e] }
    }

    public func square() -> Tensor { self * self }

    public func abs() -> Tensor {
        record(unaryForward(self) { Swift.abs($0) }, [self]) { g in [g * self.sign()] }
    }

    public func sign() -> Tensor { unaryForward(self) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) } }

    public func tanh() -> Tensor {
        let out = kernelForward(self) { ck_tanh($0, $1, $2) }
        return record(out, [self]) { g in [g * (1 - out * out)] }
    }

    public func sigmoid() -> Tensor {
        let out = kernelForward(self) { ck_sigmoid($0, $1, $2) }
        return record(out, [self]) { g in [g * out * (1 - out)] }
    }

    public func relu() -> Tensor {
        record(unaryForward(self) { Swift.max($0, 0) }, [self]) { g in [g * self.greater(0)] }
    }

    /// GELU with the exact erf form (PyTorch `gelu`, HF "gelu").
    public func gelu() -> Tensor {
        let out = kernelForward(self) { ck_gelu_erf($0, $1, $2) }
        return record(out, [self]) { g in [g * kernelForward(self) { ck_gelu_erf_grad($0, $1, $2) }] }
    }

    /// GELU with the tanh approximation (PyTorch `gelu(approximate="tanh")`, HF "gelu_new"/"gelu_pytorch_tanh").
    public func geluTanh() -> Tensor {
        let c: Float = 0.79788456080286536, k: Float = 0.044715
        let out = kernelForward(self) { ck_gelu_tanh($0, $1, $2) }
        return record(out, [self]) { g in
            [
                g
                    * unaryForward(self) { x in
                        let t = Foundation.tanh(c * (x + k * x * x * x))
                        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * k * x * x)
                    }
            ]
        }
    }

    /// x · σ(1.702 x), OpenAI CLIP's activation (HF "quick_gelu").
    public func quickGelu() -> Tensor {
        let out = kernelForward(self) { ck_quick_gelu($0, $1, $2) }
        return record(out, [self]) { g in [g * kernelForward(self) { ck_quick_gelu_grad($0, $1, $2) }] }
    }

    /// x · σ(x) (SiLU / swish, LLaMA's MLP).
    public func silu() -> Tensor {
        let out = kernelForward(self) { ck_silu($0, $1, $2) }
        return record(out, [self]) { g in [g * kernelForward(self) { ck_silu_grad($0, $1, $2) }] }
    }

    /// Clamps to [min, max] (either bound optional); gradient flows where not clamped.
    public func clamp(min lo: Float? = nil, max hi: Float? = nil) -> Tensor {
        let l = lo ?? -.infinity, h = hi ?? .infinity
        let out = unaryForward(self) { Swift.min(Swift.max($0, l), h) }
        return record(out, [self]) { g in [g * unaryForward(self) { $0 >= l && $0 <= h ? 1 : 0 }] }
    }

    /// Sets elements where `mask` is non-zero to `value` (mask broadcasts).
    public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
        let m = mask.dtype == .f32 ? mask : mask.to(.f32)
        let out = binaryForward(self, m) { $1 != 0 ? value : $0 }
        return record(out, [self]) { g in [binaryForward(g, m) { $1 != 0 ? 0 : $0 }.sumTo(self.shape)] }
    }
}

/// Picks `a` where `condition` is non-zero, else `b` (all three broadcast).
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let c = condition.dtype == .f32 ? condition : condition.to(.f32)
    let m = binaryForward(c, Tensor.scalar(0)) { $0 != $1 ? 1 : 0 }
    let out = a * m + b * (1 - m)
    return out
}
