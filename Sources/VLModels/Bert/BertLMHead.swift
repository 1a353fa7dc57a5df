import VLNN
import VLTensor

// BERT's language-model head (`cls.predictions`), used for ALBEF's masked LM and BLIP-2's
// image-grounded text generation. The decoder matrix is the word-embedding table (tied), so the
// head owns only the transform and the output bias.

/// `cls.predictions.transform`: dense → activation → LayerNorm.
public final class BertPredictionHeadTransform: Module {
    public let dense: Linear
    public let LayerNorm: VLNN.LayerNorm
    let activation: Activation

    init(hidden: Int, activation: Activation, eps: Float) {
        dense = Linear(hidden, hidden)
        LayerNorm = VLNN.LayerNorm(hidden, eps: eps)
        self.activation = activation
    }

    func callAsFunction(_ x: Tensor) -> Tensor { LayerNorm(activation(dense(x))) }
}

/// A weight shared with another module; kept out of reflection so it is named (and updated) once.
struct TiedWeight {
    let parameter: Parameter
}

/// `cls.predictions`: transform, then logits against the tied word embeddings plus `bias`.
public final class BertLMPredictionHead: Module {
    public let transform: BertPredictionHeadTransform
    public let bias: Parameter
    let decoder: TiedWeight

    init(wordEmbeddings: Embedding, activation: Activation, eps: Float) {
        let (vocab, hidden) = (wordEmbeddings.weight.shape[0], wordEmbeddings.weight.shape[1])
        transform = BertPredictionHeadTransform(hidden: hidden, activation: activation, eps: eps)
        bias = Parameter(Tensor.zeros([vocab]))
        decoder = TiedWeight(parameter: wordEmbeddings.weight)
    }

    func callAsFunction(_ h: Tensor) -> Tensor { linear(transform(h), decoder.parameter.value, bias.value) }
}

/// HF/ALBEF/LAVIS `BertOnlyMLMHead`: hidden states [B, L, hidden] → vocabulary logits [B, L, vocab].
public final class BertOnlyMLMHead: Module {
    public let predictions: BertLMPredictionHead

    public init(wordEmbeddings: Embedding, activation: Activation = .gelu, eps: Float = 1e-12) {
        predictions = BertLMPredictionHead(wordEmbeddings: wordEmbeddings, activation: activation, eps: eps)
    }

    public func callAsFunction(_ h: Tensor) -> Tensor { captured(predictions(h)) }
}
