import VLIO

extension BertModel: LoadableModel {
    public static let modelTypes = ["bert"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "bert", architecture: "BertModel (sentence-transformers directories)", inference: "yes",
            training: "gradients", commands: "embed")
    ]

    public static func load(from directory: ModelDirectory, format: WeightFormat) throws -> BertModel {
        // sentence-transformers checkpoints often have no pooler.
        let pooler = try directory.checkpoint().names.contains { $0.hasSuffix("pooler.dense.weight") }
        let model = try BertModel(BertConfig(directory.config), pooling: pooler)
        try loadWeights(
            into: model, from: directory, keyMap: { $0.hasPrefix("bert.") ? String($0.dropFirst(5)) : $0 },
            ignore: { $0.hasSuffix("position_ids") || $0.hasPrefix("cls.") }, format: format)
        return model
    }
}
