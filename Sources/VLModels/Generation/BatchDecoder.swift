import VLTensor

/// Continuous batching: a sequence joins after its own prefill and leaves when it is done; each
/// `step()` decodes one token for every active sequence in a single batched forward pass (the
/// weights are read once for all of them). A sequence added with its own model (a Flamingo prompt
/// bound to its images) decodes alone in each step with its own cache. Each sequence gets the
/// tokens `Generator` would give it alone. Not thread-safe: one owner drives it.
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

    /// A sequence decoding alone: its own model (whose state differs per sequence) and cache.
    struct SoloRow {
        var row: Row
        let model: LanguageModel
        let cache: KVCache
    }

    public let generator: Generator
    private let cache = KVCache()
    private var rows: [Row] = []
    private var soloRows: [SoloRow] = []

    public init(model: LanguageModel, prefillChunk: Int = 512) {
        generator = Generator(model: model, prefillChunk: prefillChunk)
    }

    /// Sequences decoding.
    public var count: Int { rows.count + soloRows.count }
    public var sequences: [Int] { rows.map(\.sequence) + soloRows.map(\.row.sequence) }

    /// Prefills a prompt [1, L, hidden] and samples its first token; unless that ends it, the
    /// sequence then decodes with the batch, or alone with `model` when one is given.
    public func add(
        sequence: Int, promptEmbeddings: Tensor, promptIds: [Int] = [], sampling: SamplingParameters,
        stop: StopConditions, model: LanguageModel? = nil
    ) -> Event {
        precondition(!sequences.contains(sequence), "sequence \(sequence) is already decoding")
        precondition(stop.maxNewTokens > 0, "a sequence needs room for at least one new token")
        return noGrad {
            let own = KVCache()
            let prefiller = model.map { Generator(model: $0, prefillChunk: generator.prefillChunk) } ?? generator
            let hidden = prefiller.prefill(promptEmbeddings, cache: own)
            let logits = prefiller.model.logits(hidden.select(1, hidden.shape[1] - 1)).toArray()
            var row = Row(
                sequence: sequence, sampler: Sampler(sampling), history: promptIds, generated: 0, stop: stop,
                pending: -1)
            let event = sample(&row, logits: logits[...])
            guard event.finish == nil else { return event }
            if let model {
                soloRows.append(SoloRow(row: row, model: model, cache: own))
            } else {
                cache.appendRows(of: own)
                rows.append(row)
            }
            return event
        }
    }

    /// One token for every active sequence; finished sequences leave the batch.
    public func step() -> [Event] {
        let events = stepBatch() + soloRows.indices.map { stepAlone(&soloRows[$0]) }
        for event in events where event.finish != nil { remove(sequence: event.sequence) }
        return events
    }

    /// One token for every batched sequence, in a single forward pass.
    private func stepBatch() -> [Event] {
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
            return events
        }
    }

    /// One token for a sequence decoding alone, as `Generator` decodes.
    private func stepAlone(_ solo: inout SoloRow) -> Event {
        noGrad {
            let model = solo.model
            let inputs = model.embed(Tensor(ints: [solo.row.pending], shape: [1, 1]))
            let hidden = model.hiddenStates(inputs, positions: [solo.cache.length], cache: solo.cache, keyPadding: nil)
            return sample(&solo.row, logits: model.logits(hidden.select(1, 0)).toArray()[...])
        }
    }

    /// Stops a sequence (its client went away); unknown sequences are ignored.
    public func remove(sequence: Int) {
        soloRows.removeAll { $0.row.sequence == sequence }
        guard let r = rows.firstIndex(where: { $0.sequence == sequence }) else { return }
        cache.removeRow(r)
        rows[r] = rows[rows.count - 1]
        rows.removeLast()
    }

    /// Picks a row's next token with the stop rules of `Generator`.
    private func sample(_ row: inout Row, logits: ArraySlice<Float>) -> Event {
        let token = row.sampler.next(logits: Array(logits), history: row.history)
        if row.stop.stopTokenIds.contains(token) {
            return Event(sequence: row.sequence, token: nil, finish: .stopToken)
        }
        row.history.append(token)
        row.generated += 1
        row.pending = token
        return Event(
            sequence: row.sequence, token: token, finish: row.generated >= row.stop.maxNewTokens ? .length : nil)
    }
}
