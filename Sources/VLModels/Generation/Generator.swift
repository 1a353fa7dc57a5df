import VLTensor

/// When generation stops.
public struct StopConditions: Equatable {
    public var maxNewTokens: Int = 128
    public var stopTokenIds: Set<Int> = []

    public init(maxNewTokens: Int = 128, stopTokenIds: Set<Int> = []) {
        self.maxNewTokens = maxNewTokens
        self.stopTokenIds = stopTokenIds
    }
}

/// Why generation ended.
public enum FinishReason: String, Equatable {
    case stopToken = "stop", length, cancelled
}

/// Autoregressive decoding with a KV cache: one prefill of the prompt embeddings (which may
/// contain image features), then one token at a time.
public struct Generator {
    public let model: LanguageModel
    /// The prompt goes through the model in pieces of at most this many positions, so long prompts
    /// need no score matrices or activations for the whole prompt at once.
    public var prefillChunk: Int

    public init(model: LanguageModel, prefillChunk: Int = 512) {
        self.model = model
        self.prefillChunk = Swift.max(1, prefillChunk)
    }

    /// Generates after `promptEmbeddings` [1, L, hidden]; `promptIds` are the prompt's token ids
    /// as far as they exist (for the repetition penalty). `onToken` sees each new token and
    /// returns false to stop (a client went away, a stop string matched).
    /// Returns the new tokens (a stop token is not included) and why generation ended.
    public func generate(
        promptEmbeddings: Tensor, promptIds: [Int] = [], sampling: SamplingParameters,
        stop: StopConditions, onToken: (Int) -> Bool = { _ in true }
    ) -> ([Int], FinishReason) {
        noGrad {
            let cache = KVCache()
            var sampler = Sampler(sampling)
            var history = promptIds
            var tokens: [Int] = []
            let promptLength = promptEmbeddings.shape[1]
            var hidden = prefill(promptEmbeddings, cache: cache)
            while tokens.count < stop.maxNewTokens {
                let last = hidden.select(1, hidden.shape[1] - 1)  // [1, hidden]
                let logits = model.logits(last).toArray()
                let token = sampler.next(logits: logits, history: history)
                if stop.stopTokenIds.contains(token) { return (tokens, .stopToken) }
                tokens.append(token)
                history.append(token)
                if !onToken(token) { return (tokens, .cancelled) }
                if tokens.count == stop.maxNewTokens { break }
                let position = promptLength + tokens.count - 1
                hidden = model.hiddenStates(
                    model.embed(Tensor(ints: [token], shape: [1, 1])), positions: [position],
                    cache: cache, keyPadding: nil)
            }
            return (tokens, .length)
        }
    }

    /// Runs the prompt [1, L, hidden] through the model into `cache` in chunks; returns the hidden
    /// states of the last chunk.
    func prefill(_ promptEmbeddings: Tensor, cache: KVCache) -> Tensor {
        let promptLength = promptEmbeddings.shape[1]
        var hidden = promptEmbeddings
        for start in stride(from: 0, to: promptLength, by: prefillChunk) {
            let length = Swift.min(prefillChunk, promptLength - start)
            hidden = model.hiddenStates(
                promptEmbeddings.narrow(1, start: start, length: length),
                positions: Array(start..<(start + length)), cache: cache, keyPadding: nil)
        }
        return hidden
    }
}
