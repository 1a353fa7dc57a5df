import Foundation
import VLTensor

/// Loads jobs 0..<count ahead of the consumer on background threads, at most `depth` jobs ahead,
/// and hands them out in job order whatever order the threads finish in. A depth of 0 loads each
/// job on the caller's thread when it is asked for.
public final class Prefetcher<Batch> {
    private let state: PrefetchState<Batch>

    /// `load(i)` must depend only on `i` (it runs on other threads, in any order).
    public init(count: Int, depth: Int = 2, threads: Int = 1, load: @escaping (Int) throws -> Batch) {
        precondition(
            count >= 0 && depth >= 0 && threads >= 1, "a prefetcher needs count ≥ 0, depth ≥ 0 and threads ≥ 1")
        state = PrefetchState(count: count, depth: depth, load: load)
        guard depth > 0 else { return }
        for t in 0..<min(threads, depth) {
            let thread = Thread { [state] in state.work() }
            thread.name = "vlkit-prefetch-\(t)"
            thread.start()
        }
    }

    deinit { state.cancel() }

    /// The next job's result in order, nil after the last; rethrows that job's error.
    public func next() throws -> Batch? { try state.take() }
}

/// What the prefetch threads share with the consumer; kept apart from `Prefetcher` so that
/// dropping the prefetcher stops the threads (they do not keep it alive).
final class PrefetchState<Batch>: @unchecked Sendable {
    private let count: Int
    private let depth: Int
    private let load: (Int) throws -> Batch
    private let condition = NSCondition()
    private var results: [Int: Result<Batch, Error>] = [:]
    private var nextToStart = 0
    private var nextToDeliver = 0
    private var cancelled = false

    init(count: Int, depth: Int, load: @escaping (Int) throws -> Batch) {
        (self.count, self.depth, self.load) = (count, depth, load)
    }

    func work() {
        // Preprocessing stays on this thread: the worker pool is the model's.
        Parallel.isInsideParallelRegion = true
        condition.lock()
        while true {
            while !cancelled && nextToStart < count && nextToStart >= nextToDeliver + depth { condition.wait() }
            guard !cancelled && nextToStart < count else { break }
            let job = nextToStart
            nextToStart += 1
            condition.unlock()
            let result = Result { try load(job) }
            condition.lock()
            results[job] = result
            condition.broadcast()
        }
        condition.unlock()
    }

    func take() throws -> Batch? {
        guard let job = claimNextDelivery() else { return nil }
        if depth == 0 { return try load(job) }
        condition.lock()
        defer { condition.unlock() }
        while results[job] == nil { condition.wait() }
        return try results.removeValue(forKey: job)!.get()
    }

    private func claimNextDelivery() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToDeliver < count else { return nil }
        nextToDeliver += 1
        condition.broadcast()
        return nextToDeliver - 1
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
