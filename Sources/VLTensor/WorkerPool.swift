import CKernels
import Foundation

/// Persistent worker threads for `Parallel.forRange`. A parallel loop hands its chunks to workers
/// that spin briefly between jobs before sleeping, so the hundreds of small parallel ops of one
/// decoded token do not each pay a thread wake-up.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: Parallel.threadCount - 1)

    private let workers: Int
    /// Counters shared with the workers (accessed only through the C atomics).
    private let state = UnsafeMutablePointer<Int64>.allocate(capacity: 5)
    private var generation: UnsafeMutablePointer<Int64> { state }
    private var nextChunk: UnsafeMutablePointer<Int64> { state + 1 }
    private var pending: UnsafeMutablePointer<Int64> { state + 2 }
    private var sleepers: UnsafeMutablePointer<Int64> { state + 3 }
    /// Workers between taking the job's closure and letting it go.
    private var active: UnsafeMutablePointer<Int64> { state + 4 }
    private var chunks = 0
    private var body: ((Int) -> Void)?
    private let wake = NSCondition()
    private let submit = NSLock()
    private let bodyLock = NSLock()

    /// Spin iterations before a worker sleeps (~tens of microseconds).
    private static let spinLimit = 20_000

    init(workers: Int) {
        self.workers = Swift.max(0, workers)
        state.initialize(repeating: 0, count: 5)
        for i in 0..<self.workers {
            let t = Thread { [unowned self] in self.loop() }
            t.name = "vlkit-worker-\(i)"
            t.start()
        }
    }

    /// Runs `body(c)` for c in 0..<chunks on the caller and the workers; returns when all are done.
    func run(chunks n: Int, _ body: @escaping (Int) -> Void) {
        guard workers > 0, n > 1 else {
            for c in 0..<n { body(c) }
            return
        }
        submit.lock()
        defer { submit.unlock() }
        // The counters first, then the closure: a worker that takes the closure (under the lock)
        // must not see the last job's chunk counter (it would run chunks twice or lose one).
        chunks = n
        ck_atomic_store(nextChunk, 0)
        ck_atomic_store(pending, Int64(n))
        bodyLock.withLock { self.body = body }
        ck_atomic_add(generation, 1)
        if ck_atomic_load(sleepers) > 0 {
            wake.lock()
            wake.broadcast()
            wake.unlock()
        }
        work(body)
        while ck_atomic_load(pending) > 0 { ck_spin_pause() }
        bodyLock.withLock { self.body = nil }
        // The closure must not outlive this call: wait for workers still holding it.
        while ck_atomic_load(active) > 0 { ck_spin_pause() }
    }

    /// Takes chunks until none is left.
    private func work(_ body: (Int) -> Void) {
        while true {
            let c = Int(ck_atomic_add(nextChunk, 1))
            if c >= chunks { return }
            body(c)
            ck_atomic_add(pending, -1)
        }
    }

    private func loop() {
        Parallel.isInsideParallelRegion = true  // loops inside a chunk run on this thread
        var seen = ck_atomic_load(generation)
        while true {
            var spins = 0
            while ck_atomic_load(generation) == seen {
                spins += 1
                if spins < WorkerPool.spinLimit {
                    ck_spin_pause()
                    continue
                }
                wake.lock()
                ck_atomic_add(sleepers, 1)
                while ck_atomic_load(generation) == seen { wake.wait() }
                ck_atomic_add(sleepers, -1)
                wake.unlock()
            }
            seen = ck_atomic_load(generation)
            ck_atomic_add(active, 1)
            do {
                if let job = bodyLock.withLock({ body }) { work(job) }
            }
            ck_atomic_add(active, -1)
        }
    }
}
