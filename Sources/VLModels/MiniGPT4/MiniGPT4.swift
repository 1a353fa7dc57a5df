import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor
import VLTokenizers

/// MiniGPT-4: BLIP-2's vision tower and Q-Former (frozen), one linear layer `llama_proj` (the only
/// trained part) and a LLaMA-family decoder (Vicuna), assembled from a BLIP-2 directory, a LLaMA
/// directory and the projection's own safetensors (`weight`/`bias` or `llama_proj.weight`/`.bias`).
public final class MiniGPT4: Module {
    public let vision_model: Blip2VisionModel
    public let query_tokens: Parameter
    public let qformer: QFormerModel
    public let llama_proj: Linear
    public let language_model: LlamaForCausalLM
    /// Where its parts were and its prompt format (MiniGPT-4's defaults unless loaded from a directory).
    public internal(set) var config = MiniGPT4Config()

    /// The prompt template of the paper's second stage; `<ImageHere>` is where the 32 query outputs go.
    public static let promptTemplate = "###Human: <Img><ImageHere></Img> {} ###Assistant:"
    public static let imagePlaceholder = "<ImageHere>"

    public init(blip2: Blip2ForConditionalGeneration, languageModel: LlamaForCausalLM, projection: Linear? = nil) {
        vision_model = blip2.vision_model
        query_tokens = blip2.query_tokens
        qformer = blip2.qformer
        language_model = languageModel
        llama_proj = projection ?? Linear(blip2.config.qformer.hiddenSize, languageModel.config.hiddenSize)
        super.init()
        freeze(["vision_model", "query_tokens", "qformer", "language_model"])
    }

    /// Loads the three parts; `projection` nil starts a fresh (untrained) projection.
    public static func assemble(
        blip2 blip2Directory: URL, llama llamaDirectory: URL, projection: URL?
    ) throws -> MiniGPT4 {
        let model = MiniGPT4(
            blip2: try Blip2ForConditionalGeneration.load(directory: blip2Directory),
            languageModel: try LlamaForCausalLM.load(directory: llamaDirectory))
        if let projection {
            let tensors = try loadSafetensors(path: projection.path)
            var state: [String: Tensor] = [:]
            for (k, v) in tensors {
                state[k.hasPrefix("llama_proj.") ? String(k.dropFirst("llama_proj.".count)) : k] = v.to(.f32)
            }
            do { try model.llama_proj.load(stateDict: state) } catch {
                throw ConfigError("\(projection.path): \(error)")
            }
        }
        model.eval()
        return model
    }

    /// pixels [1, 3, H, W] → the 32 query outputs in the LLM's width [1, 32, hidden].
    public func imageEmbeddings(_ pixels: Tensor) -> Tensor {
        let image = vision_model.features(pixels)
        let q = query_tokens.value
        let queries = q.expand([pixels.shape[0], q.shape[1], q.shape[2]])
        return captured(llama_proj(qformer(queries: queries, image: image)))
    }

    /// The paper's way of building the input: text before `<ImageHere>` (with BOS), the image
    /// embeddings, the text after it.
    public func inputEmbeddings(prompt: String, tokenizer: Tokenizer, pixels: Tensor) throws -> Tensor {
        let parts = prompt.components(separatedBy: MiniGPT4.imagePlaceholder)
        guard parts.count == 2 else {
            throw ModelInputError("the prompt needs exactly one \(MiniGPT4.imagePlaceholder)")
        }
        return inputEmbeddings(
            before: tokenizer.encode(parts[0]), pixels: pixels,
            after: tokenizer.encode(parts[1], addSpecialTokens: false))
    }

    /// The embeddings of the ids `before` the image, the image's query outputs, the ids `after` it.
    public func inputEmbeddings(before: [Int], pixels: Tensor, after: [Int]) -> Tensor {
        let embed = { (ids: [Int]) in self.language_model.embed(Tensor(ints: ids, shape: [1, ids.count])) }
        return cat([embed(before), imageEmbeddings(pixels), embed(after)], dim: 1)
    }
}
