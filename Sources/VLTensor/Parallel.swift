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
    @inline(__always)
    public static func forRange(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let chunks = min(threadCount, max(1, n / max(grain, 1)))
        if chunks <= 1 {
            body(0..<n)
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}

import CKernels

/// The instruction set the C micro-kernels dispatched to on this CPU.
public func ck_isa_name() -> UnsafePointer<CChar> { ck_isa() }
