import VLFiles
import VLIO

/// A Flamingo directory's `config.json` (model_type "flamingo"): the CLIP vision tower, the
/// LLaMA-family language model, and OpenFlamingo's settings of the connector between them.
public struct FlamingoConfig: Equatable {
    public var vision = CLIPVisionConfig()
    public var selection = VisionFeatureSelection(layers: [-1], keepClassToken: true)
    public var text = LlamaConfig()
    public var crossAttnEveryNLayers = 1
    public var onlyAttendImmediateMedia = true
    public var perceiverDepth = 6
    public var perceiverNumLatents = 64
    public var maxNumMedia: Int?
    /// Heads, their width and the feed-forward expansion of the resampler and the gated blocks.
    public var dimHead = 64
    public var heads = 8
    public var ffMult = 4
    public var mediaTokenId = 0
    public var endOfChunkTokenId = 0

    public init() {}
}

extension FlamingoConfig {
    public init(_ r: ConfigReader) throws {
        self.init()
        guard let v = try r.sub("vision_config"), let t = try r.sub("text_config") else {
            throw ConfigError("\(r.source): a flamingo config needs vision_config and text_config")
        }
        vision = try CLIPVisionConfig(v)
        text = try LlamaConfig(t)
        selection.layers = try r.ints("vision_feature_layer") ?? selection.layers
        selection.keepClassToken = try r.string("vision_feature_select_strategy", "full") == "full"
        crossAttnEveryNLayers = try r.int("cross_attn_every_n_layers", crossAttnEveryNLayers)
        onlyAttendImmediateMedia = try r.bool("only_attend_immediate_media", onlyAttendImmediateMedia)
        perceiverDepth = try r.int("perceiver_depth", perceiverDepth)
        perceiverNumLatents = try r.int("perceiver_num_latents", perceiverNumLatents)
        maxNumMedia = try r.optionalInt("max_num_media")
        (dimHead, heads, ffMult) = (
            try r.int("dim_head", dimHead), try r.int("heads", heads), try r.int("ff_mult", ffMult)
        )
        guard let media = try r.optionalInt("media_token_id"), let chunk = try r.optionalInt("endofchunk_token_id")
        else {
            throw ConfigError("\(r.source): a flamingo config needs media_token_id and endofchunk_token_id")
        }
        (mediaTokenId, endOfChunkTokenId) = (media, chunk)
        guard crossAttnEveryNLayers > 0, crossAttnEveryNLayers <= text.numHiddenLayers else {
            throw ConfigError("\(r.source): cross_attn_every_n_layers must be in 1…\(text.numHiddenLayers)")
        }
    }

    public var jsonObject: [String: Any] {
        var textObject = text.jsonObject
        textObject["architectures"] = nil
        return [
            "architectures": ["Flamingo"], "model_type": "flamingo", "dtype": "float32",
            "vision_config": vision.jsonObject, "text_config": textObject,
            "vision_feature_layer": selection.layers.count == 1 ? selection.layers[0] as Any : selection.layers as Any,
            "vision_feature_select_strategy": selection.keepClassToken ? "full" : "default",
            "cross_attn_every_n_layers": crossAttnEveryNLayers, "only_attend_immediate_media": onlyAttendImmediateMedia,
            "perceiver_depth": perceiverDepth, "perceiver_num_latents": perceiverNumLatents,
            "max_num_media": maxNumMedia as Any, "dim_head": dimHead, "heads": heads, "ff_mult": ffMult,
            "media_token_id": mediaTokenId, "endofchunk_token_id": endOfChunkTokenId,
        ]
    }
}
