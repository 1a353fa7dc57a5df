import VLIO

extension Blip2ForConditionalGeneration: LoadableModel {
    public static let modelTypes = ["blip-2"]
    public static let architectures = ["Blip2ForConditionalGeneration"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "blip-2", architecture: "Blip2ForConditionalGeneration (EVA ViT + Q-Former + OPT/LLaMA)",
            inference: "yes",
            training: "stage 2: queries + Q-Former + projection into a frozen LLaMA (recipe blip2-stage2)",
            commands: "generate, chat, train, eval, serve, demo"),
        ModelDescription(
            modelTypes: "blip-2",
            architecture: "Blip2ForImageTextRetrieval, Blip2Text/VisionModelWithProjection (stage-1 Q-Former)",
            inference: "ITM, ITC similarity, embeddings",
            training: "stage 1: ITC + ITM + ITG with LAVIS's captioning head on a frozen Blip2VisionModel "
                + "(recipes blip2-vision, blip2-stage1)",
            commands: "train, eval (ITC retrieval)"),
    ]

    public static func load(
        from directory: ModelDirectory, format: WeightFormat
    ) throws -> Blip2ForConditionalGeneration {
        let model = try Blip2ForConditionalGeneration(Blip2Config(directory.config))
        // OPT and tied LLaMA decoders have no lm_head of their own; an untied LLaMA does.
        var ownHead = false
        if case .llama(let c) = model.config.text { ownHead = !c.tieWordEmbeddings }
        try loadWeights(
            into: model, from: directory, ignore: { !ownHead && $0.hasSuffix("lm_head.weight") }, format: format)
        return model
    }
}
