import VLNN
import VLTensor

/// mPLUG-Owl's visual abstractor as a connector: learned `query_tokens` [1, Q, dim] read the image
/// features through the released abstractor (MPlugOwlVisualAbstractorModel), giving Q + 1 tokens
/// (the queries and `vit_eos`) in the language model's width. The released model's image width
/// equals the abstractor's; for other widths `image_proj` maps the features first.
public final class VisualAbstractor: Module, Connector {
    public let query_tokens: Parameter
    public let image_proj: Linear?
    public let abstractor: MPlugOwlVisualAbstractorModel

    public init(imageWidth: Int, dim: Int, outputWidth: Int, queries: Int = 64, layers count: Int = 6, heads: Int = 8) {
        var c = MPlugOwlAbstractorConfig()
        (c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numQueryTokens) = (dim, count, heads, queries)
        query_tokens = Parameter(Init.normal([1, queries, dim], std: 0.02))
        image_proj = imageWidth == dim ? nil : Linear(imageWidth, dim)
        abstractor = MPlugOwlVisualAbstractorModel(c, outputWidth: outputWidth)
    }

    public var outputTokens: (Int) -> Int { { [query_tokens] _ in query_tokens.shape[1] + 1 } }

    /// features [B, N, imageWidth] → [B, Q + 1, outputWidth].
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let q = query_tokens.value
        return abstractor(
            queries: q.expand([features.shape[0], q.shape[1], q.shape[2]]), image: image_proj?(features) ?? features)
    }
}

extension PerceiverResampler: Connector {
    public var outputTokens: (Int) -> Int { { [latents] _ in latents.shape[0] } }
}

/// BLIP-2's Q-Former with its query tokens and projection as one connector (image features in,
/// LLM-width query outputs out).
public final class QFormerConnector: Module, Connector {
    public let query_tokens: Parameter
    public let qformer: QFormerModel
    public let language_projection: Linear

    public init(qformer config: QFormerConfig, queries: Int, outputWidth: Int) throws {
        query_tokens = Parameter(Init.normal([1, queries, config.hiddenSize], std: 0.02))
        qformer = try QFormerModel(config)
        language_projection = Linear(config.hiddenSize, outputWidth)
    }

    public var outputTokens: (Int) -> Int { { [query_tokens] _ in query_tokens.shape[1] } }

    public func callAsFunction(_ features: Tensor) -> Tensor {
        let q = query_tokens.value
        return language_projection(
            qformer(queries: q.expand([features.shape[0], q.shape[1], q.shape[2]]), image: features))
    }
}
