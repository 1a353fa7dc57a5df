import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor

/// OpenFlamingo's `Flamingo`: a CLIP vision tower, a Perceiver Resampler, and a LLaMA-family
/// decoder with gated cross-attention blocks. In memory the parts keep VLKit's names
/// (`vision_encoder.vision_model.*`, `model.*` = `FlamingoLlama`); on disk the state dict has
/// OpenFlamingo's (`vision_encoder.*` in open_clip's layout, `perceiver.*`, `lang_encoder.*`).
public final class FlamingoForConditionalGeneration: Module {
    public let vision_encoder: CLIPVisionModel
    public let model: FlamingoLlama
    public let config: FlamingoConfig

    public init(_ c: FlamingoConfig) throws {
        config = c
        vision_encoder = try CLIPVisionModel(c.vision, selection: c.selection)
        model = FlamingoLlama(
            languageModel: try LlamaForCausalLM(c.text), visionWidth: vision_encoder.featureSize,
            crossAttentionEvery: c.crossAttnEveryNLayers, latents: c.perceiverNumLatents,
            resamplerDepth: c.perceiverDepth,
            maxMedia: c.maxNumMedia, onlyAttendImmediateMedia: c.onlyAttendImmediateMedia, dimHead: c.dimHead,
            heads: c.heads, ffMult: c.ffMult)
    }

    /// Vision features [1, T, N, Dv] of a prompt's T images, pixels [T, 3, H, W].
    public func imageFeatures(_ pixels: Tensor) -> Tensor { vision_encoder.features(pixels).unsqueeze(0) }

    /// The model bound to a prompt's token ids and its images (one per `<image>` token, in order).
    public func prompt(ids: [Int], pixels: Tensor?) throws -> FlamingoPrompt {
        let locations = ids.map { $0 == config.mediaTokenId }
        let images = pixels?.shape[0] ?? 0
        let markers = locations.filter { $0 }.count
        guard markers == images else {
            throw ModelInputError("the prompt has \(markers) <image> marker(s) for \(images) image(s)")
        }
        guard let pixels else {
            throw ModelInputError("Flamingo needs at least one image and an <image> marker for it")
        }
        if let most = config.maxNumMedia, images > most {
            throw ModelInputError("\(images) images; this model takes at most \(most) per prompt")
        }
        return FlamingoPrompt(model, features: noGrad { imageFeatures(pixels) }, mediaLocations: locations)
    }

    /// The state dict in OpenFlamingo's names and layout.
    public func openFlamingoStateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in OpenCLIPVisionNames.openCLIPState(vision_encoder.stateDict()) { out["vision_encoder." + k] = v }
        for (k, v) in model.stateDict() { out[openFlamingoName(k)] = v }
        return out
    }

    /// Loads an OpenFlamingo state dict strictly (every missing, unexpected or mis-shaped key is
    /// reported). `lang_encoder.lm_head.weight` may be absent when the text config ties it.
    public func load(openFlamingo state: [String: Tensor], source: String) throws {
        var vision: [String: Tensor] = [:], mapped: [String: Tensor] = [:]
        for (k, v) in state {
            if k.hasPrefix("vision_encoder.") { vision[String(k.dropFirst("vision_encoder.".count))] = v; continue }
            if config.text.tieWordEmbeddings && k == "lang_encoder.lm_head.weight" { continue }
            mapped["model." + openFlamingoKeyMap(k)] = v
        }
        let visionNames = vision_encoder.stateDict().keys.sorted()
        for (k, v) in try OpenCLIPVisionNames.hfState(vision, hfNames: visionNames, source: source) {
            mapped["vision_encoder." + k] = v
        }
        do {
            try load(stateDict: mapped)
        } catch let e as StateDictError {
            throw ConfigError("\(source): \(e)")
        }
    }
}
