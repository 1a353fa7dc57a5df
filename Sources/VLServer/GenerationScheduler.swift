import Foundation
import VLModels
import VLTensor

/// What a submitted chat request sees, in order: `started` (or `failed`), text pieces, `finished`.
enum GenerationEvent: Sendable {
    case started(promptTokens: Int)
    case text(String)
    case finished(reason: String, completionTokens: Int)
    case failed(APIError)
}

/// Owns the generation model on one thread. Each round it drops cancelled requests, admits
/// waiting ones while slots are free (formatting, image features, prefill, first token), then runs
/// one batched decode step over all active sequences and streams each one's new text.
/// Model work never runs on Swift's cooperative threads, so HTTP handling stays responsive.
final class GenerationScheduler: @unchecked Sendable {
    struct Submission {
        let id: Int
        let job: GenerationJob
        let events: AsyncStream<GenerationEvent>.Continuation
    }

    /// A sequence being decoded (scheduler thread only).
    struct Active {
        var text: GeneratedText
        var completionTokens = 0
        let events: AsyncStream<GenerationEvent>.Continuation
    }

    let pipeline: GenerationPipeline
    let maxConcurrent: Int
    let maxQueue: Int
    private let decoder: BatchDecoder
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var waiting: [Submission] = []
    private var cancelled: Set<Int> = []
    private var nextID = 0
    private var stopping = false
    private var activeCount = 0
    private var cancelledCount = 0
    // Scheduler thread only:
    private var active: [Int: Active] = [:]

    init(pipeline: GenerationPipeline, maxConcurrent: Int, maxQueue: Int) {
        self.pipeline = pipeline
        (self.maxConcurrent, self.maxQueue) = (maxConcurrent, maxQueue)
        decoder = pipeline.makeBatchDecoder()
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "vlkit-scheduler"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Ends the scheduler thread; requests still waiting or running fail.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Requests decoding now, waiting, and stopped early because their client went away.
    var stats: (active: Int, waiting: Int, cancelled: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (activeCount, waiting.count, cancelledCount)
    }

    /// Queues a request; throws `queueFull` when `maxQueue` requests are already waiting.
    /// Ending the returned stream early (the client went away) stops the request.
    func submit(_ job: GenerationJob) throws -> (id: Int, events: AsyncStream<GenerationEvent>) {
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream()
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw APIError.shuttingDown }
        guard waiting.count < maxQueue else { throw APIError.queueFull }
        let id = nextID
        nextID += 1
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(id) }
        }
        waiting.append(Submission(id: id, job: job, events: continuation))
        condition.signal()
        return (id, stream)
    }

    /// Stops a request, waiting or running, and frees its slot.
    func cancel(_ id: Int) {
        condition.lock()
        defer { condition.unlock() }
        if let i = waiting.firstIndex(where: { $0.id == id }) {
            waiting.remove(at: i).events.finish()
            cancelledCount += 1
        } else {
            cancelled.insert(id)
            condition.signal()
        }
    }

    private func loop() {
        while let (admitted, dropped) = nextRound() {
            let stopped = dropped.filter { active[$0] != nil }
            for id in stopped {
                active.removeValue(forKey: id)
                decoder.remove(sequence: id)
            }
            for submission in admitted { admit(submission) }
            for event in decoder.step() { deliver(event) }
            condition.lock()
            activeCount = active.count
            cancelledCount += stopped.count
            condition.unlock()
        }
        failEverything()
    }

    /// Waits for work; returns the requests to admit and the ids to drop, or nil when stopping.
    private func nextRound() -> ([Submission], Set<Int>)? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty && cancelled.isEmpty && active.isEmpty && !stopping { condition.wait() }
        if stopping { return nil }
        let admitted = Array(waiting.prefix(Swift.max(0, maxConcurrent - active.count)))
        waiting.removeFirst(admitted.count)
        defer { cancelled = [] }
        activeCount = active.count + admitted.count
        return (admitted, cancelled)
    }

    /// Prefills a request and delivers its first token, or fails it.
    private func admit(_ s: Submission) {
        do {
            // At least one new token must fit; a longer prompt is refused before it is embedded.
            let (ids, embeddings) = try pipeline.prepare(
                formatted: pipeline.format(conversation: s.job.conversation), images: s.job.images,
                maxTokens: pipeline.contextLength - 1)
            let promptTokens = embeddings.shape[1], room = pipeline.contextLength - promptTokens
            // Image features the ids do not count (MiniGPT-4's, BLIP-2's without image tokens) may fill the context.
            guard room > 0 else {
                throw APIError.invalid(
                    "the prompt has \(promptTokens) tokens; the model's context of \(pipeline.contextLength) leaves no room for an answer",
                    param: "messages", code: "context_length_exceeded")
            }
            let maxTokens = s.job.maxTokens ?? room
            guard maxTokens <= room else {
                throw APIError.invalid(
                    "the prompt has \(promptTokens) tokens; with \(maxTokens) new ones that exceeds the model's context of "
                        + "\(pipeline.contextLength)", param: "max_tokens", code: "context_length_exceeded")
            }
            let solo = try pipeline.soloDecoder(ids: ids, images: s.job.images)
            s.events.yield(.started(promptTokens: promptTokens))
            active[s.id] = Active(
                text: GeneratedText(
                    tokenizer: pipeline.tokenizer, stopStrings: s.job.stopStrings + pipeline.stopStrings),
                events: s.events)
            deliver(
                decoder.add(
                    sequence: s.id, promptEmbeddings: embeddings, promptIds: ids, sampling: s.job.sampling,
                    stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: pipeline.stopTokenIds), model: solo))
        } catch let e as APIError {
            fail(s.events, e)
        } catch let e as PromptTooLongError {
            fail(
                s.events,
                .invalid(
                    "the prompt has \(e.tokens) tokens; the model's context of \(pipeline.contextLength) leaves no room for an answer",
                    param: "messages", code: "context_length_exceeded"))
        } catch {
            // The model refused the prompt (image markers, template, vocabulary).
            fail(s.events, .invalid("\(error)", param: "messages"))
        }
    }

    /// Streams a sequence's new text and ends it when it is done.
    private func deliver(_ event: BatchDecoder.Event) {
        guard var a = active[event.sequence] else { return }
        var finish = event.finish.map { $0 == .length ? "length" : "stop" }
        if let token = event.token {
            a.completionTokens += 1
            let (piece, stopped) = a.text.push(token)
            if !piece.isEmpty { a.events.yield(.text(piece)) }
            if stopped {
                // A stop string ends the answer even on its last allowed token.
                if finish == nil { decoder.remove(sequence: event.sequence) }
                finish = "stop"
            }
        }
        guard let reason = finish else {
            active[event.sequence] = a
            return
        }
        let rest = a.text.finish()
        if !rest.isEmpty { a.events.yield(.text(rest)) }
        a.events.yield(.finished(reason: reason, completionTokens: a.completionTokens))
        a.events.finish()
        active.removeValue(forKey: event.sequence)
    }

    private func fail(_ events: AsyncStream<GenerationEvent>.Continuation, _ error: APIError) {
        events.yield(.failed(error))
        events.finish()
    }

    private func failEverything() {
        condition.lock()
        let left = waiting
        waiting = []
        condition.unlock()
        for s in left { fail(s.events, .shuttingDown) }
        for (id, a) in active {
            decoder.remove(sequence: id)
            fail(a.events, .shuttingDown)
        }
        active = [:]
    }
}
