import VLTensor

/// Continuous batching: a sequence joins after its own prefill and leaves when it is done; each
/// `step()` decodes one token for every active sequence in a single batched forward pass (the
/// weights are read once for all of them). Each sequence gets the tokens `Generator` would give it
/// alone. Not thread-safe: one owner drives it.
public final class BatchDecoder {
    /// What one sequence did in a step: a new token, and why it ended if it did (a sampled stop
    /// token is not returned, so `token` is nil then).
    public struct Event: Equatable {
        public let sequence: Int
        public let token: Int?
        public let finish: FinishReason?
    }

    struct Row {
        let sequence: Int
        var sampler: Sampler
        var history: [Int]
        var generated: Int
        let stop: StopConditions
        /// The last sampled token, the input of the next step.
        var pending: Int
    }

    public let generator: Generator
    private let cache = KVCache()
    private var rows: [Row] = []

    public init(model: LanguageModel, prefillChunk: Int = 512) {
        generator = Generator(model: model, prefillChunk: prefillChunk)
    }

    /// Sequences decoding.
    public var count: Int { rows.count }
    public var sequences: [Int] { rows.map(\.sequence) }

    /// Prefills a prompt [1, L, hidden] and samples its first token; unless that ends it, the
    /// sequence then decodes with the batch.
    public func add(sequence: Int, promptEmbeddings: Tensor, promptIds: [Int] = [], sampling: SamplingParameters,
                    stop: StopConditions) -> Event {
        precondition(!rows.contains { $0.sequence == sequence }, "sequence \(sequence) is already decoding")
        precondition(stop.maxNewTokens > 0, "a sequence needs room for at least one new token")
        return noGrad {
            let own = KVCache()
            let hidden = generator.prefill(promptEmbeddings, cache: own)
            let logits = generator.model.logits(hidden.select(1, hidden.shape[1] - 1)).toArray()
            var row = Row(sequence: sequence, sampler: Sampler(sampling), history: promptIds, generated: 0, stop: stop, pending: -1)
            let event = sample(&row, logits: logits[...])
            if event.finish == nil {
                cache.appendRows(of: own)
                rows.append(row)
            }
            return event
        }
    }

    /// One token for every active sequence; finished sequences leave the batch.
    public func step() -> [Event] {
        guard !rows.isEmpty else { return [] }
        return noGrad {
            let model = generator.model
            let inputs = model.embed(Tensor(ints: rows.map(\.pending), shape: [rows.count, 1]))
            let padding = cache.keyPadding(adding: 1)
            let hidden = model.hiddenStates(inputs, positions: cache.rowLengths, cache: cache, keyPadding: padding)
            let logits = model.logits(hidden.select(1, 0)).toArray()
            let vocab = logits.count / rows.count
            var events: [Event] = []
            for r in rows.indices {
                events.append(sample(&rows[r], logits: logits[(r * vocab)..<((r + 1) * vocab)]))
            }
            for event in events where event.finish != nil { remove(sequence: event.sequence) }
            return events
        }
    }

    /// Stops a sequence (its client went away); unknown sequences are ignored.
    public func remove(sequence: Int) {
        guard let r = rows.firstIndex(where: { $0.sequence == sequence }) else { return }
        cache.removeRow(r)
        rows[r] = rows[rows.count - 1]
        rows.removeLast()
    }

    /// Picks a row's next token with the stop rules of `Generator`.
    private func sample(_ row: inout Row, logits: ArraySlice<Float>) -> Event {
        let token = row.sampler.next(logits: Array(logits), history: row.history)
        if row.stop.stopTokenIds.contains(token) { return Event(sequence: row.sequence, token: nil, finish: .stopToken) }
        row.history.append(token)
        row.generated += 1
        row.pending = token
        return Event(sequence: row.sequence, token: token, finish: row.generated >= row.stop.maxNewTokens ? .length : nil)
    }
}
