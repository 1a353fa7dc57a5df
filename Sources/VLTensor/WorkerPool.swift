import CKernels
import Foundation

/// Persistent worker threads for `Parallel.forRange`. A parallel loop hands its chunks to workers
/// that spin briefly between jobs before sleeping, so the hundreds of small parallel ops of one
/// decoded token do not each pay a thread wake-up.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: Parallel.threadCount - 1)

    /// One parallel loop: its closure and its own counters, so a worker that wakes late can only
    /// ever claim chunks of the job it holds (never a stale count against a newer job's counters).
    private final class Job {
        let body: (Int) -> Void
        let chunks: Int
        /// [next chunk to claim, chunks not yet finished] (accessed only through the C atomics).
        let counters = UnsafeMutablePointer<Int64>.allocate(capacity: 2)

        init(chunks: Int, body: @escaping (Int) -> Void) {
            (self.chunks, self.body) = (chunks, body)
            counters.initialize(to: 0)
            (counters + 1).initialize(to: Int64(chunks))
        }

        deinit { counters.deallocate() }

        /// Takes chunks until none is left.
        func work() {
            while true {
                let c = Int(ck_atomic_add(counters, 1))
                if c >= chunks { return }
                body(c)
                ck_atomic_add(counters + 1, -1)
            }
        }

        var isFinished: Bool { ck_atomic_load(counters + 1) == 0 }
    }

    private let workers: Int
    /// Counters shared with the workers (accessed only through the C atomics).
    private let state = UnsafeMutablePointer<Int64>.allocate(capacity: 3)
    private var generation: UnsafeMutablePointer<Int64> { state }
    private var sleepers: UnsafeMutablePointer<Int64> { state + 1 }
    /// Workers between taking a job and letting it go.
    private var active: UnsafeMutablePointer<Int64> { state + 2 }
    private var current: Job?
    private let wake = NSCondition()
    private let submit = NSLock()
    private let jobLock = NSLock()

    /// Spin iterations before a worker sleeps (~tens of microseconds).
    private static let spinLimit = 20_000

    init(workers: Int) {
        self.workers = Swift.max(0, workers)
        state.initialize(repeating: 0, count: 3)
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
        let job = Job(chunks: n, body: body)
        jobLock.withLock { current = job }
        ck_atomic_add(generation, 1)
        if ck_atomic_load(sleepers) > 0 {
            wake.lock()
            wake.broadcast()
            wake.unlock()
        }
        job.work()
        while !job.isFinished { ck_spin_pause() }
        jobLock.withLock { current = nil }
        // The closure must not outlive this call: wait for workers still holding the job.
        while ck_atomic_load(active) > 0 { ck_spin_pause() }
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
                let job = jobLock.withLock { current }
                job?.work()
            }
            ck_atomic_add(active, -1)
        }
    }
}
