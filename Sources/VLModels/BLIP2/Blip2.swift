import VLNN
import VLTensor

/// HF `Blip2ForConditionalGeneration`: frozen EVA ViT → Q-Former with learned `query_tokens` →
/// `language_projection` → OPT or LLaMA-family decoder.
public final class Blip2ForConditionalGeneration: Module {
    public let vision_model: Blip2VisionModel
    public let query_tokens: Parameter  // [1, Q, qformer hidden]
    public let qformer: QFormerModel
    public let language_projection: Linear
    public let language_model: LanguageModel
    public let config: Blip2Config

    public init(_ c: Blip2Config) throws {
        config = c
        vision_model = try Blip2VisionModel(c.vision)
        query_tokens = Parameter(Init.normal([1, c.numQueryTokens, c.qformer.hiddenSize], std: 0.02))
        qformer = try QFormerModel(c.qformer)
        language_projection = Linear(c.qformer.hiddenSize, c.text.hiddenSize)
        language_model = try c.text.makeModel()
    }

    /// pixels [B, 3, H, W] → LLM-ready query outputs [B, Q, text hidden].
    public func imageFeatures(_ pixels: Tensor) -> Tensor {
        let image = vision_model.features(pixels)
        let b = pixels.shape[0], q = query_tokens.value
        let queries = q.expand([b, q.shape[1], q.shape[2]])
        return captured(language_projection(qformer(queries: queries, image: image)))
    }

    /// The decoder's input embeddings for one prompt [1, L] and one image: query outputs replace the
    /// image tokens when the config names one, otherwise they are prepended (older checkpoints).
    public func inputEmbeddings(ids: [Int], pixels: Tensor?) throws -> Tensor {
        let text = language_model.embed(Tensor(ints: ids, shape: [1, ids.count]))
        guard let pixels else { return text }
        let features = imageFeatures(pixels)
        let rows = features.shape[0] * features.shape[1]
        let flat = features.reshape([1, rows, -1])
        guard let token = config.imageTokenId else { return cat([flat, text], dim: 1) }
        let slots = ids.indices.filter { ids[$0] == token }
        guard slots.count == rows else {
            throw ModelInputError("the prompt has \(slots.count) image tokens; the image gives \(rows) query outputs")
        }
        return spliceRows(text, flat, at: slots)
    }
}
