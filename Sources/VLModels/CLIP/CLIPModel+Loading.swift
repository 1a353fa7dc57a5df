import VLIO

extension CLIPModel: LoadableModel {
    public static let modelTypes = ["clip"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "clip", architecture: "CLIPModel (ViT + text transformer)", inference: "yes",
            training: "pre-training with the ITC loss (recipe clip)",
            commands: "clip embed|classify|search|capture, train, eval, serve")
    ]

    public static func load(from directory: ModelDirectory, format: WeightFormat) throws -> CLIPModel {
        let model = try CLIPModel(CLIPConfig(directory.config))
        try loadWeights(into: model, from: directory, ignore: { $0.hasSuffix("position_ids") }, format: format)
        return model
    }
}
