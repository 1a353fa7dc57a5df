import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor

// BLIP-2 stage 1 (Li et al. 2023, §3.2): the Q-Former learns to pull from the frozen image encoder
// the visual features most relevant to text, with three objectives sharing one model —
// image–text contrastive learning (ITC, queries vs. the text [CLS], unimodal masks), image–text
// matching (ITM, queries and text attend to each other) and image-grounded text generation (ITG,
// text attends to the queries and causally to itself). Names follow transformers'
// `Blip2ForImageTextRetrieval`; the ITG head and the temperature follow LAVIS (`Qformer.cls`, `temp`).

/// HF `Blip2TextEmbeddings`: word + absolute position embeddings (the LayerNorm is the Q-Former's).
public final class Blip2TextEmbeddings: Module {
    public let word_embeddings: Embedding
    public let position_embeddings: Embedding

    init(_ c: QFormerConfig) {
        word_embeddings = Embedding(c.vocabSize, c.hiddenSize)
        position_embeddings = Embedding(c.maxPositionEmbeddings, c.hiddenSize)
    }

    /// ids [B, L] → [B, L, hidden]; positions start at 0 after the queries.
    func callAsFunction(_ ids: Tensor) -> Tensor {
        let l = ids.shape[1]
        precondition(
            l <= position_embeddings.weight.shape[0],
            "text of \(l) tokens is longer than the Q-Former's \(position_embeddings.weight.shape[0]) positions")
        return word_embeddings(ids) + position_embeddings.weight.value.narrow(0, start: 0, length: l)
    }
}

/// The learned queries attending to the image: [B, N, C] image features → query outputs [B, Q, hidden].
func queryOutputs(_ qformer: QFormerModel, _ queryTokens: Parameter, image: Tensor) -> Tensor {
    let q = queryTokens.value
    return qformer(queries: q.expand([image.shape[0], q.shape[1], q.shape[2]]), image: image)
}

/// Text alone through the Q-Former (text feed-forwards, padding mask) → last hidden state [B, L, hidden].
func textOutputs(
    _ qformer: QFormerModel, _ embeddings: Blip2TextEmbeddings, ids: Tensor, attentionMask: Tensor
) -> Tensor {
    qformer(embeddings(ids), queryLength: 0, image: nil, keyPadding: attentionMask)
}

/// HF `Blip2ForImageTextRetrieval` (+ LAVIS's stage-1 training heads when `trainingHeads`).
public final class Blip2ForImageTextRetrieval: Module {
    public let vision_model: Blip2VisionModel
    public let query_tokens: Parameter  // [1, Q, hidden]
    public let embeddings: Blip2TextEmbeddings
    public let qformer: QFormerModel
    public let vision_projection: Linear
    public let text_projection: Linear
    public let itm_head: Linear
    /// ITG: LAVIS's LM head on the Q-Former, decoder tied to `embeddings.word_embeddings`.
    public let cls: BertOnlyMLMHead?
    /// ITC temperature (LAVIS initialises it to 0.07 and keeps it in [0.001, 0.5]).
    public let temp: Parameter?
    public let config: Blip2Config

    public init(_ c: Blip2Config, trainingHeads: Bool = false) throws {
        guard c.qformer.useQformerTextInput else {
            throw ConfigError(
                "BLIP-2 image-text retrieval needs the Q-Former's text feed-forward (use_qformer_text_input)")
        }
        config = c
        vision_model = try Blip2VisionModel(c.vision)
        query_tokens = Parameter(Init.normal([1, c.numQueryTokens, c.qformer.hiddenSize], std: 0.02))
        embeddings = Blip2TextEmbeddings(c.qformer)
        qformer = try QFormerModel(c.qformer)
        vision_projection = Linear(c.qformer.hiddenSize, c.imageTextHiddenSize)
        text_projection = Linear(c.qformer.hiddenSize, c.imageTextHiddenSize)
        itm_head = Linear(c.qformer.hiddenSize, 2)
        cls =
            trainingHeads
            ? BertOnlyMLMHead(
                wordEmbeddings: embeddings.word_embeddings, activation: try Activation(name: c.qformer.hiddenAct),
                eps: c.qformer.layerNormEps)
            : nil
        temp = trainingHeads ? Parameter(Tensor.scalar(0.07)) : nil
    }

    /// Reads a transformers directory. With `trainingHeads`, the ITG head and `temp` are taken from
    /// the checkpoint when it has them (a LAVIS conversion, a VLKit stage-1 run) and keep their
    /// initialisation otherwise; without, they are skipped, as transformers skips them.
    public static func load(_ directory: URL, trainingHeads: Bool = false) throws -> Blip2ForImageTextRetrieval {
        let dir = try ModelDirectory(directory)
        let config = try Blip2Config(dir.config)
        let model =
            trainingHeads
            ? try Blip2ForImageTextRetrieval(config, trainingHeads: true)
            : try Init.skipping { try Blip2ForImageTextRetrieval(config) }
        let isHead = { (name: String) in name.hasPrefix("cls.") || name == "temp" }
        try loadWeights(into: model, from: dir, ignore: { !trainingHeads && isHead($0) }, keepInitialised: isHead)
        model.eval()
        return model
    }

    /// pixels [B, 3, H, W] → the frozen encoder's features [B, N, C] (what the Q-Former attends to).
    public func imageFeatures(_ pixels: Tensor) -> Tensor { vision_model.features(pixels) }

    /// ITC image side: every query output projected and L2-normalised, [B, Q, D].
    public func imageEmbeds(image: Tensor) -> Tensor {
        vision_projection(queryOutputs(qformer, query_tokens, image: image)).l2Normalized()
    }

    /// ITC text side: the text-only [CLS] output projected and L2-normalised, [B, D].
    public func textEmbeds(ids: Tensor, attentionMask: Tensor) -> Tensor {
        text_projection(textOutputs(qformer, embeddings, ids: ids, attentionMask: attentionMask).select(1, 0))
            .l2Normalized()
    }

    /// ITM: queries and text attend to each other (queries also to the image); the head's two
    /// logits (no match, match) averaged over the query outputs → [B, 2]. image [B, N, C], ids [B, L].
    public func matchingLogits(image: Tensor, ids: Tensor, attentionMask: Tensor) -> Tensor {
        let (b, q) = (ids.shape[0], query_tokens.shape[1])
        let queries = query_tokens.value.expand([b, q, query_tokens.shape[2]])
        let keep = cat([Tensor.ones([b, q]), attentionMask.to(.f32)], dim: 1)
        let h = qformer(cat([queries, embeddings(ids)], dim: 1), queryLength: q, image: image, keyPadding: keep)
        return captured(itm_head(h.narrow(1, start: 0, length: q)).mean(1))
    }

    /// ITG: next-token logits [B, L, vocab] for `ids` conditioned on the image through the queries
    /// (the mask of `captioningMask`); needs the training heads.
    public func captionLogits(image: Tensor, ids: Tensor, attentionMask: Tensor) -> Tensor {
        guard let cls else {
            preconditionFailure("captioning needs the ITG head: build the model with trainingHeads: true")
        }
        let (b, q, l) = (ids.shape[0], query_tokens.shape[1], ids.shape[1])
        let queries = query_tokens.value.expand([b, q, query_tokens.shape[2]])
        let h = qformer(
            cat([queries, embeddings(ids)], dim: 1), queryLength: q, image: image,
            mask: captioningMask(queries: q, attentionMask: attentionMask))
        return cls(h.narrow(1, start: q, length: l))
    }

    /// The ITC temperature, clamped into LAVIS's [0.001, 0.5] first (without a gradient).
    public func temperature() -> Tensor {
        guard let temp else {
            preconditionFailure("the temperature belongs to the training heads: build with trainingHeads: true")
        }
        let v = temp.value.item()
        if v < 0.001 || v > 0.5 { temp.value = Tensor.scalar(Swift.min(Swift.max(v, 0.001), 0.5)) }
        return temp.value
    }
}

/// ITC similarity: for each image and text the best of the image's query embeddings, [Bi, Bt].
/// imageEmbeds [Bi, Q, D], textEmbeds [Bt, D], both normalised.
public func queryTextSimilarity(imageEmbeds: Tensor, textEmbeds: Tensor) -> Tensor {
    let (bi, q, d) = (imageEmbeds.shape[0], imageEmbeds.shape[1], imageEmbeds.shape[2])
    return matmul(imageEmbeds.reshape([bi * q, d]), textEmbeds.mT).reshape([bi, q, textEmbeds.shape[0]]).max(1)
}

/// LAVIS's captioning mask, additive [B, 1, Q + L, Q + L]: queries see the queries only; text sees
/// every query, itself and earlier text; padded text (attentionMask 0) is never seen.
public func captioningMask(queries q: Int, attentionMask: Tensor) -> Tensor {
    let (b, l) = (attentionMask.shape[0], attentionMask.shape[1]), n = q + l
    let keep = attentionMask.toArray()
    var m = [Float](repeating: 0, count: b * n * n)
    for bi in 0..<b {
        for i in 0..<n {
            for j in 0..<n {
                let visible = j < q ? true : (i >= q && j <= i && keep[bi * l + j - q] != 0)
                if !visible { m[(bi * n + i) * n + j] = -.infinity }
            }
        }
    }
    return Tensor(m, shape: [b, 1, n, n])
}

/// HF `Blip2TextModelWithProjection`: text-only Q-Former pass, every position projected and normalised.
public final class Blip2TextModelWithProjection: Module {
    public let query_tokens: Parameter
    public let embeddings: Blip2TextEmbeddings
    public let qformer: QFormerModel
    public let text_projection: Linear

    public init(_ c: Blip2Config) throws {
        query_tokens = Parameter(Init.normal([1, c.numQueryTokens, c.qformer.hiddenSize], std: 0.02))
        embeddings = Blip2TextEmbeddings(c.qformer)
        qformer = try QFormerModel(c.qformer)
        text_projection = Linear(c.qformer.hiddenSize, c.imageTextHiddenSize)
    }

    public static func load(_ directory: URL) throws -> Blip2TextModelWithProjection {
        try loadBlip2Part(directory, Blip2TextModelWithProjection.init)
    }

    /// ids [B, L], attentionMask [B, L] → text_embeds [B, L, D] (position 0 is the one ITC uses).
    public func callAsFunction(ids: Tensor, attentionMask: Tensor) -> Tensor {
        text_projection(textOutputs(qformer, embeddings, ids: ids, attentionMask: attentionMask)).l2Normalized()
    }
}

/// HF `Blip2VisionModelWithProjection`: image → query outputs projected and normalised.
public final class Blip2VisionModelWithProjection: Module {
    public let vision_model: Blip2VisionModel
    public let query_tokens: Parameter
    public let qformer: QFormerModel
    public let vision_projection: Linear

    public init(_ c: Blip2Config) throws {
        vision_model = try Blip2VisionModel(c.vision)
        query_tokens = Parameter(Init.normal([1, c.numQueryTokens, c.qformer.hiddenSize], std: 0.02))
        qformer = try QFormerModel(c.qformer)
        vision_projection = Linear(c.qformer.hiddenSize, c.imageTextHiddenSize)
    }

    public static func load(_ directory: URL) throws -> Blip2VisionModelWithProjection {
        try loadBlip2Part(directory, Blip2VisionModelWithProjection.init)
    }

    /// pixels [B, 3, H, W] → image_embeds [B, Q, D].
    public func callAsFunction(pixels: Tensor) -> Tensor {
        vision_projection(queryOutputs(qformer, query_tokens, image: vision_model.features(pixels))).l2Normalized()
    }
}

/// A BLIP-2 directory's config, the model built without initialisation, its weights loaded strictly.
private func loadBlip2Part<M: Module>(_ directory: URL, _ make: (Blip2Config) throws -> M) throws -> M {
    let dir = try ModelDirectory(directory)
    let config = try Blip2Config(dir.config)
    let model = try Init.skipping { try make(config) }
    try loadWeights(into: model, from: dir)
    model.eval()
    return model
}
