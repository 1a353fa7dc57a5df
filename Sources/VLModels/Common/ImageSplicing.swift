import VLTensor

/// Token embeddings of `ids` [1, L] with every image-token position replaced, in order, by one row
/// of the images' features [I, tokens, hidden] (LLaVA, mPLUG-Owl).
func embeddingsWithImages(_ lm: LanguageModel, ids: [Int], imageTokenId: Int, features: Tensor?) throws -> Tensor {
    let slots = ids.indices.filter { ids[$0] == imageTokenId }
    let textEmbeds = lm.embed(Tensor(ints: ids.map { $0 == imageTokenId ? 0 : $0 }, shape: [1, ids.count]))
    guard let features else {
        if slots.isEmpty { return textEmbeds }
        throw ModelInputError("the prompt has \(slots.count) image tokens but no image was given")
    }
    let rows = features.shape[0] * features.shape[1]
    guard slots.count == rows else {
        throw ModelInputError(
            "the prompt has \(slots.count) image tokens; \(features.shape[0]) image(s) give \(rows) features "
                + "(\(features.shape[1]) each)")
    }
    return spliceRows(textEmbeds, features.reshape([1, rows, -1]), at: slots)
}

/// Replaces rows `slots` (in order) of `base` [1, L, C] by the rows of `inserted` [1, slots.count, C].
func spliceRows(_ base: Tensor, _ inserted: Tensor, at slots: [Int]) -> Tensor {
    var pieces: [Tensor] = []
    var cursor = 0, taken = 0
    var i = 0
    while i < slots.count {
        var j = i
        while j + 1 < slots.count && slots[j + 1] == slots[j] + 1 { j += 1 }  // a run of consecutive slots
        if slots[i] > cursor { pieces.append(base.narrow(1, start: cursor, length: slots[i] - cursor)) }
        let run = j - i + 1
        pieces.append(inserted.narrow(1, start: taken, length: run))
        taken += run
        cursor = slots[j] + 1
        i = j + 1
    }
    if cursor < base.shape[1] { pieces.append(base.narrow(1, start: cursor, length: base.shape[1] - cursor)) }
    return pieces.count == 1 ? pieces[0] : cat(pieces, dim: 1)
}

/// Input that does not fit the model (image count, prompt length).
public struct ModelInputError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
