import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Work splitting over all cores.
public enum Parallel {
    /// Number of worker threads (all cores unless VLKIT_THREADS says otherwise).
    public static let threadCount: Int = {
        if let s = getenv("VLKIT_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
        #endif
    }()

    /// Calls `body(range)` on disjoint chunks covering 0..<n, in parallel when the work is large
    /// enough. `grain` is the smallest chunk worth a thread.
    /// A loop nested inside another parallel loop runs on its caller's thread (no oversubscription).
    @inline(__always)
    public static func forRange(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let chunks = min(threadCount, max(1, n / max(grain, 1)))
        if chunks <= 1 || isInsideParallelRegion {
            body(0..<n)
            return
        }
        withoutActuallyEscaping(body) { body in
            WorkerPool.shared.run(chunks: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                let wasInside = isInsideParallelRegion
                isInsideParallelRegion = true
                if lo < hi { body(lo..<hi) }
                isInsideParallelRegion = wasInside
            }
        }
    }

    /// Calls `body(i)` for every i in 0..<n, threads taking tasks one at a time: uneven tasks, or a
    /// thread the OS preempts on a busy machine, then delay the loop by one task instead of half of it.
    public static func forEachTask(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || threadCount == 1 || isInsideParallelRegion {
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            WorkerPool.shared.run(chunks: n) { i in
                let wasInside = isInsideParallelRegion
                isInsideParallelRegion = true
                body(i)
                isInsideParallelRegion = wasInside
            }
        }
    }

    /// Runs `body(matrix, firstRow, rows)` over the rows of matrices with `rowCounts` rows, cut into
    /// pieces of a multiple of 16 rows, ~16 a thread, that threads take one at a time: for GEMVs,
    /// short and memory-bound, so the threads finish within a piece of each other (static halves
    /// left one idle ~6% of a decoded token). Rows of several matrices are one pass.
    public static func forEachRowPiece(_ rowCounts: [Int], _ body: (_ matrix: Int, _ row: Int, _ rows: Int) -> Void) {
        let total = rowCounts.reduce(0, +)
        let rowsPerPiece = Swift.max(16, (total / (16 * threadCount) + 15) / 16 * 16)
        var pieces: [(matrix: Int, row: Int, rows: Int)] = []
        for (i, n) in rowCounts.enumerated() {
            for row in stride(from: 0, to: n, by: rowsPerPiece) {
                pieces.append((i, row, Swift.min(rowsPerPiece, n - row)))
            }
        }
        forEachTask(pieces.count) { p in body(pieces[p].matrix, pieces[p].row, pieces[p].rows) }
    }

    /// Whether the current thread is running the body of a parallel loop.
    public static var isInsideParallelRegion: Bool {
        get { pthread_getspecific(nestingKey) != nil }
        set { pthread_setspecific(nestingKey, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }

    private static let nestingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}

import CKernels

/// The instruction set the C micro-kernels dispatched to on this CPU.
public func ck_isa_name() -> UnsafePointer<CChar> { ck_isa() }
