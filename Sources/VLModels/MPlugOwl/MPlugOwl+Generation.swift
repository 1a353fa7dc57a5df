import VLFiles
import VLIO
import VLImaging
import VLTensor
import VLTokenizers

extension MPlugOwlForConditionalGeneration: ImageTokenModel {
    public var languageModel: LanguageModel { language_model }
    public var contextLength: Int { config.text.maxPositionEmbeddings }
    public var imageSize: (height: Int, width: Int)? { (config.vision.imageSize, config.vision.imageSize) }
    public var imageToken: Int { config.imageTokenId }

    /// The released MplugOwlProcessor first resizes every image to a square of the shortest edge.
    public func imageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor? {
        var p = try directoryImageProcessor(directory)
        if config.visionTower == .mplugOwl, case .shortestEdge(let edge) = p.size {
            (p.size, p.resample) = (.exact(height: edge, width: edge), .bicubic)
        }
        return p
    }

    /// The released checkpoints' conversation: a system line, "Human: <image>" per image, "Human: …"
    /// and "AI: …" turns, ending with "AI: "; recipe-built ones (CLIP tower) use USER/ASSISTANT.
    public func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String {
        guard config.visionTower == .mplugOwl else {
            return userAssistantPrompt(conversation, system: "", eosToken: eosToken)
        }
        let lines = conversation.flatMap { m -> [String] in
            if m.role == "assistant" { return ["AI: \(m.text)"] }
            if m.hasMarkers { return ["Human: \(m.text)"] }
            return [String](repeating: "Human: \(ChatMessage.imageMarker)", count: m.imageCount) + [
                "Human: \(m.textOnly)"
            ]
        }
        return ([MPlugOwlConfig.systemPrompt] + lines + ["AI: "]).joined(separator: "\n")
    }
}
