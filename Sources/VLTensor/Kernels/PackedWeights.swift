import Foundation

/// A weight [n, k] (PyTorch's Linear layout) packed once into GEMM panels, for inference with
/// few rows per call, where packing the weight again on every call would cost more than the
/// product itself. Kept on the weight tensor and rebuilt when the weight's storage has been
/// written to since (see `Storage.version`).
public final class PackedWeight {
    let k, n: Int
    let plan: GemmPlan
    let buffer: UnsafeMutablePointer<Float>
    /// Offset of block (jc index, pc index) in `buffer`.
    let offsets: [[Int]]
    let byteCount: Int
    /// The weight storage's version when packed.
    let version: Int

    init(weight: UnsafePointer<Float>, ld: Int, n: Int, k: Int, version: Int) {
        (self.k, self.n, self.version) = (k, n, version)
        let plan = GemmPlan(m: 1, n: n, k: k)
        self.plan = plan
        var offsets: [[Int]] = [], total = 0
        for jc in stride(from: 0, to: n, by: plan.nc) {
            let ncb = Swift.min(plan.nc, n - jc)
            var row: [Int] = []
            for pc in stride(from: 0, to: k, by: plan.kc) {
                row.append(total)
                total += Swift.min(plan.kc, k - pc) * roundUp(ncb, plan.nr)
            }
            offsets.append(row)
        }
        self.offsets = offsets
        byteCount = total * 4
        buffer = Storage.allocate(Swift.max(total, 1) * 4, hugePages: true).bindMemory(
            to: Float.self, capacity: Swift.max(total, 1))
        for (ji, jc) in stride(from: 0, to: n, by: plan.nc).enumerated() {
            for (pi, pc) in stride(from: 0, to: k, by: plan.kc).enumerated() {
                plan.packB(
                    transB: true, b: weight, ldb: ld, p0: pc, kc: Swift.min(plan.kc, k - pc), j0: jc,
                    nc: Swift.min(plan.nc, n - jc), into: buffer + offsets[ji][pi])
            }
        }
    }

    deinit {
        buffer.deallocate()
        PackedWeight.budget.release(byteCount)
    }

    /// The process-wide limit on memory held by packed weights (VLKIT_PACKED_WEIGHTS_MB, default 2048).
    static let budget = MemoryBudget(
        bytes: (ProcessInfo.processInfo.environment["VLKIT_PACKED_WEIGHTS_MB"].flatMap(Int.init) ?? 2048) << 20)
}

/// Bytes handed out against a fixed limit.
final class MemoryBudget {
    private let limit: Int
    private var used = 0
    private let lock = NSLock()

    init(bytes: Int) { limit = bytes }

    func reserve(_ n: Int) -> Bool {
        lock.withLock {
            used + n <= limit
                ? {
                    used += n; return true
                }() : false
        }
    }
    func release(_ n: Int) { lock.withLock { used -= n } }
}

extension Tensor {
    /// This f32 weight [n, k] packed for `sgemm(… transB: true …)`, made on first use within the
    /// memory budget (nil when the budget is spent).
    func packedWeight() -> PackedWeight? {
        Tensor.cacheLock.withLock {
            if let p = packedCache as? PackedWeight, p.version == storage.version { return p }
            packedCache = nil
            let n = shape[0], k = shape[1]
            let plan = GemmPlan(m: 1, n: n, k: k)
            let estimate = (k + plan.kc) * roundUp(n, plan.nr) * 4
            guard PackedWeight.budget.reserve(estimate) else { return nil }
            let packed = PackedWeight(weight: pointer, ld: k, n: n, k: k, version: storage.version)
            PackedWeight.budget.release(estimate)
            _ = PackedWeight.budget.reserve(packed.byteCount)
            packedCache = packed
            return packed
        }
    }

    /// Marks the values as changed after writing through `rawPointer` (`mutablePointer` does it itself).
    public func markMutated() { storage.version &+= 1 }

    static let cacheLock = NSLock()
}

/// C = alpha · A · Wᵀ + beta · C with W pre-packed.
func sgemmPacked(
    m: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, packed: PackedWeight, beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if beta != 0 && beta != 1 { for i in 0..<m { for j in 0..<packed.n { c[i * ldc + j] *= beta } } }
    let plan = GemmPlan(m: m, n: packed.n, k: packed.k)
    for (ji, jc) in stride(from: 0, to: packed.n, by: plan.nc).enumerated() {
        for (pi, pc) in stride(from: 0, to: packed.k, by: plan.kc).enumerated() {
            plan.multiplyBlock(
                transA: false, alpha: alpha, a: a, lda: lda, p0: pc, kc: Swift.min(plan.kc, packed.k - pc),
                packedB: packed.buffer + packed.offsets[ji][pi], j0: jc, nc: Swift.min(plan.nc, packed.n - jc),
                c: c, ldc: ldc, accumulate: beta != 0 || pc > 0)
        }
    }
}
