import VLIO

extension ALBEF: LoadableModel {
    public static let modelTypes = ["albef"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "albef", architecture: "ALBEF (ViT-B/16 + BERT text/fusion layers, ALBEF's names)",
            inference: "ITC features, ITM, MLM",
            training: "ITC + ITM + MLM with momentum distillation and queues (recipe albef)",
            commands: "train, eval (ITC retrieval)")
    ]

    public static func load(from directory: ModelDirectory, format: WeightFormat) throws -> ALBEF {
        let model = try ALBEF(ALBEFConfig(directory.config))
        try loadWeights(into: model, from: directory, ignore: ALBEF.isAuxiliaryKey, format: format)
        return model
    }
}
