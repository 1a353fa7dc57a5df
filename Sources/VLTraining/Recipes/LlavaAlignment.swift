import Foundation
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// LLaVA's two stages (seed 000/002): a vision tower and a language model, both pretrained, joined
/// by a projector. Stage 1 trains the projector alone on captions (both towers frozen); stage 2
/// trains the projector and the language model (or LoRA adapters on it) on instructions.
public enum LlavaAlignment {
    public enum Stage: String, Codable, Sendable {
        case featureAlignment = "stage1", instructionTuning = "stage2"
    }

    /// A LLaVA-1.5 assembly from a trained CLIP and a trained decoder: the vision tower's weights
    /// are CLIP's `vision_model`, the language model's are the decoder's; the projector is new.
    public static func assemble(
        clip: CLIPModel, languageModel: LlamaForCausalLM, imageTokenId: Int,
        selection: VisionFeatureSelection = VisionFeatureSelection()
    ) throws -> LlavaForConditionalGeneration {
        var c = LlavaConfig()
        c.vision = clip.config.vision
        c.selection = selection
        return try assemble(
            c, vision: clip.vision_model.stateDict(), languageModel: languageModel, imageTokenId: imageTokenId)
    }

    /// A LLaVA of `config`'s vision tower and projector kind with `languageModel` (its config
    /// becomes the text config): the tower's weights are `vision` (names `embeddings.*`,
    /// `encoder.*`… as `CLIPVisionTransformer` has them), the projector's are `projector`
    /// (`linear_1.*`, `linear_2.*`) or new (PyTorch's default initialisation).
    public static func assemble(
        _ config: LlavaConfig, vision: [String: Tensor], languageModel: LlamaForCausalLM, imageTokenId: Int,
        projector: [String: Tensor]? = nil
    ) throws -> LlavaForConditionalGeneration {
        var c = config
        c.text = languageModel.config
        c.imageTokenId = imageTokenId
        let llava = try Init.skipping { try LlavaForConditionalGeneration(c) }
        var state: [String: Tensor] = [:]
        for (k, v) in vision { state["vision_tower.vision_model." + k] = v.clone() }
        for (k, v) in languageModel.stateDict() { state["language_model." + k] = v.clone() }
        // Init.skipping left the projector uninitialised: give it PyTorch's default initialisation.
        let fresh = {
            MLPProjector(inputSize: llava.vision_tower.featureSize, outputSize: c.text.hiddenSize).stateDict()
        }
        for (k, v) in projector ?? fresh() { state["multi_modal_projector." + k] = v.clone() }
        try llava.load(stateDict: state)
        return llava
    }

    /// The conversation format of LLaVA-1.5 without a chat template, as `vlkit generate` writes it.
    public static func prompt(_ question: String) -> String { "USER: <image>\n\(question) ASSISTANT:" }

    /// `<image>` expanded to one token per image feature, as the processor does at inference.
    public static func expandImageTokens(_ ids: [Int], imageTokenId: Int, count: Int) -> [Int] {
        ids.flatMap { $0 == imageTokenId ? [Int](repeating: imageTokenId, count: count) : [$0] }
    }

    /// A question (or caption request) about image `image`, answered by `answer`.
    public static func example(
        _ tokenizer: Tokenizer, llava: LlavaForConditionalGeneration, question: String, answer: String,
        image: Int
    ) -> TokenizedExample {
        example(
            tokenizer, question: question, answer: answer, image: image, imageTokenId: llava.config.imageTokenId,
            imageTokens: llava.tokensPerImage)
    }

    /// The same for any model whose `<image>` (`imageTokenId`) becomes `imageTokens` tokens.
    public static func example(
        _ tokenizer: Tokenizer, question: String, answer: String, image: Int, imageTokenId: Int,
        imageTokens n: Int
    ) -> TokenizedExample {
        var e = TokenizedExample.promptResponse(tokenizer, prompt: prompt(question), response: answer, image: image)
        e.trained = e.ids.indices.flatMap {
            e.ids[$0] == imageTokenId ? [Bool](repeating: false, count: n) : [e.trained[$0]]
        }
        e.ids = expandImageTokens(e.ids, imageTokenId: imageTokenId, count: n)
        return e
    }

    /// Every turn of `turns` as an example about its image.
    public static func examples(
        _ tokenizer: Tokenizer, llava: LlavaForConditionalGeneration, turns: [ImageTurn]
    ) -> [TokenizedExample] {
        examples(tokenizer, imageTokenId: llava.config.imageTokenId, imageTokens: llava.tokensPerImage, turns: turns)
    }

    /// The same for any model whose `<image>` (`imageTokenId`) becomes `imageTokens` tokens.
    public static func examples(
        _ tokenizer: Tokenizer, imageTokenId: Int, imageTokens: Int, turns: [ImageTurn]
    ) -> [TokenizedExample] {
        turns.map {
            example(
                tokenizer, question: $0.question, answer: $0.answer, image: $0.image, imageTokenId: imageTokenId,
                imageTokens: imageTokens)
        }
    }

    /// The frozen vision tower's features for every image, computed once: [N, tokens, vision hidden].
    public static func visionFeatures(
        _ llava: LlavaForConditionalGeneration, pixels: Tensor, chunk: Int = 256
    ) -> Tensor {
        noGrad {
            let n = pixels.shape[0]
            let parts = stride(from: 0, to: n, by: chunk).map { start in
                llava.vision_tower.features(pixels.narrow(0, start: start, length: min(chunk, n - start))).contiguous()
            }
            return cat(parts, dim: 0)
        }
    }

    /// The same for the rows of `images`, decoded (or rendered) a chunk at a time.
    public static func visionFeatures(
        _ llava: LlavaForConditionalGeneration, images: TrainingImages, processor: ImageProcessor
    ) throws -> Tensor {
        try images.encoded(processor: processor) { llava.vision_tower.features($0) }
    }

    /// Which parameters a stage trains: the projector, plus in stage 2 the language model — or
    /// only its LoRA adapters when it carries some.
    public static func prepare(_ llava: LlavaForConditionalGeneration, stage: Stage) {
        llava.freeze()
        llava.unfreeze(["multi_modal_projector"])
        guard stage == .instructionTuning else { return }
        let adapters = llava.language_model.parameters().filter(\.isAdapter)
        if adapters.isEmpty { llava.unfreeze(["language_model"]) } else { adapters.forEach { $0.isTrainable = true } }
    }

    /// Trains on batches of `examples` whose images index `features`.
    public static func train(
        _ llava: LlavaForConditionalGeneration, examples: [TokenizedExample], features: Tensor,
        padId: Int, trainer: Trainer
    ) throws {
        try trainer.run(.examples(examples, padId: padId), loss(llava, features: features))
    }

    /// The loss of a batch whose images index `features` (the frozen tower's), through the projector.
    public static func loss(
        _ llava: LlavaForConditionalGeneration, features: Tensor
    ) -> (ExampleBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int) {
        { b, _ in
            try loss(llava.language_model, imageTokenId: llava.config.imageTokenId, b) {
                llava.multi_modal_projector(features.indexSelect(0, $0))
            }
        }
    }

    /// The same for any model whose image tokens `images(indices)` gives in the language model's width [B, N, hidden].
    public static func train(
        _ lm: LlamaForCausalLM, imageTokenId: Int, examples: [TokenizedExample], padId: Int, trainer: Trainer,
        images: ([Int]) -> Tensor
    ) throws {
        try trainer.run(.examples(examples, padId: padId)) { b, _ in
            try loss(lm, imageTokenId: imageTokenId, b, images: images)
        }
    }

    /// The language-model loss of a batch with its image tokens replaced by `images(rows)` [B, N, hidden].
    public static func loss(
        _ lm: LanguageModel, imageTokenId: Int, _ b: ExampleBatch, images: ([Int]) -> Tensor
    ) throws -> (loss: Tensor, samples: Int) {
        let embeddings = try splice(
            images(b.images), into: lm.embed(b.batch.inputs), ids: b.batch.inputIds, imageTokenId: imageTokenId)
        let length = b.batch.inputs.shape[1]
        let hidden = lm.hiddenStates(embeddings, positions: Array(0..<length), cache: nil, keyPadding: nil)
        return (languageModelLoss(logits: lm.logits(hidden), targets: b.batch.targets), b.images.count)
    }

    /// Puts each row's image features [B, N, C] where its image tokens are. Every row of a world
    /// batch has its image at the same place (the prompt starts the same way), which one
    /// narrow-and-concatenate handles for the whole batch.
    static func splice(_ images: Tensor, into text: Tensor, ids: [[Int]], imageTokenId: Int) throws -> Tensor {
        let n = images.shape[1]
        let starts = ids.map { $0.firstIndex(of: imageTokenId) }
        guard let start = starts[0], starts.allSatisfy({ $0 == start }),
            ids.allSatisfy({ $0.count >= start + n && $0[start..<(start + n)].allSatisfy { $0 == imageTokenId } })
        else {
            throw ModelInputError("every example of a batch needs its \(n) image tokens at the same place")
        }
        let length = text.shape[1]
        var pieces: [Tensor] = []
        if start > 0 { pieces.append(text.narrow(1, start: 0, length: start)) }
        pieces.append(images)
        if start + n < length { pieces.append(text.narrow(1, start: start + n, length: length - start - n)) }
        return cat(pieces, dim: 1)
    }
}
