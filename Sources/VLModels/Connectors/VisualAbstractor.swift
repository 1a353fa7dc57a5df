import VLNN
import VLTensor

/// mPLUG-Owl's visual abstractor: learnable queries cross-attend to the image features (keys and
/// values are the image features and the queries, as the paper's abstractor), each layer followed
/// by a feed-forward block; the result is projected to the language model's width. (Written from the
/// paper; the released checkpoints' names are not mapped.)
public final class VisualAbstractor: Module, Connector {
    public final class Layer: Module {
        public let norm_queries, norm_image, norm_ffn: LayerNorm
        public let attention: MultiHeadAttention
        public let mlp: MLP

        init(dim: Int, heads: Int, imageWidth: Int) {
            norm_queries = LayerNorm(dim, eps: 1e-6)
            norm_image = LayerNorm(imageWidth, eps: 1e-6)
            attention = MultiHeadAttention(dim: dim, heads: heads, contextDim: dim)
            mlp = MLP(dim, hidden: 4 * dim, activation: .silu)
            norm_ffn = LayerNorm(dim, eps: 1e-6)
        }
    }

    public let query_embeds: Parameter  // [Q, dim]
    public let image_proj: Linear?  // image width → dim, when they differ
    public let layers: [Layer]
    public let visual_fc: Linear  // dim → language width

    public init(imageWidth: Int, dim: Int, outputWidth: Int, queries: Int = 64, layers count: Int = 6, heads: Int = 8) {
        query_embeds = Parameter(Init.normal([queries, dim], std: 0.02))
        image_proj = imageWidth == dim ? nil : Linear(imageWidth, dim)
        layers = (0..<count).map { _ in Layer(dim: dim, heads: heads, imageWidth: dim) }
        visual_fc = Linear(dim, outputWidth)
    }

    public var outputTokens: (Int) -> Int { { [query_embeds] _ in query_embeds.shape[0] } }

    /// features [B, N, imageWidth] → [B, Q, outputWidth].
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let image = image_proj?(features) ?? features
        let b = features.shape[0], q = query_embeds.value
        var queries = q.unsqueeze(0).expand([b, q.shape[0], q.shape[1]])
        for layer in layers {
            let normed = layer.norm_queries(queries)
            let memory = cat([layer.norm_image(image), normed], dim: 1)
            queries = queries + layer.attention(normed, context: memory)
            queries = queries + layer.mlp(layer.norm_ffn(queries))
        }
        return captured(visual_fc(queries))
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
        return language_projection(qformer(queries: q.expand([features.shape[0], q.shape[1], q.shape[2]]), image: features))
    }
}
