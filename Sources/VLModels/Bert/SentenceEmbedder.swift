import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor
import VLTokenizers

/// A sentence-transformers directory (BERT encoder, `1_Pooling/config.json`, an optional
/// Normalize module): text → one embedding per sentence, as `SentenceTransformer.encode`.
public final class SentenceEmbedder {
    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let pooling: Pooling
    public let normalize: Bool

    public enum Pooling: String { case mean, cls, max }

    public init(directory: URL) throws {
        let m = try BertModel.load(directory: directory)
        model = m
        tokenizer = try WordPieceTokenizer(directory: directory)
        var pooling = Pooling.mean, normalize = false
        let modulesURL = directory.appendingPathComponent("modules.json")
        if let data = FileManager.default.contents(atPath: modulesURL.path),
            let modules = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        {
            normalize = modules.contains { ($0["type"] as? String)?.hasSuffix("Normalize") == true }
            if let path = modules.first(where: { ($0["type"] as? String)?.hasSuffix("Pooling") == true })?["path"]
                as? String
            {
                let r = try ConfigReader(
                    contentsOf: directory.appendingPathComponent(path).appendingPathComponent("config.json"))
                if try r.bool("pooling_mode_cls_token", false) { pooling = .cls }
                if try r.bool("pooling_mode_max_tokens", false) { pooling = .max }
            }
        }
        (self.pooling, self.normalize) = (pooling, normalize)
    }

    /// [texts, hidden]; texts are padded to the longest and truncated to the model's positions.
    public func embed(_ texts: [String]) -> Tensor {
        let encoded = texts.map { tokenizer.encode($0) }
        let length = encoded.map(\.count).max() ?? 2
        let ids = encoded.flatMap { $0 + [Int](repeating: tokenizer.padTokenId, count: length - $0.count) }
        let mask = encoded.flatMap { e in (0..<length).map { Float($0 < e.count ? 1 : 0) } }
        return noGrad {
            let maskTensor = Tensor(mask, shape: [texts.count, length])
            let hidden = model(Tensor(ints: ids, shape: [texts.count, length]), attentionMask: maskTensor)
            let pooled: Tensor
            switch pooling {
            case .mean: pooled = meanPooledEmbeddings(hidden, attentionMask: maskTensor, normalize: false)
            case .cls: pooled = hidden.select(1, 0)
            case .max: pooled = hidden.maskedFill(1 - maskTensor.unsqueeze(-1), -1e9).max(1)
            }
            return normalize ? pooled.l2Normalized() : pooled
        }
    }
}
