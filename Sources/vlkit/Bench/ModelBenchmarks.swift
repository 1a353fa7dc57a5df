import Foundation
import VLModels
import VLNN
import VLTensor

/// Model cases (peer: transformers on PyTorch, 2 threads, inference mode, random weights).
func modelBenchmarks(quick: Bool) throws -> [BenchCase] {
    GlobalRandom.seed(0)
    let vision = try CLIPVisionTransformer(CLIPVisionConfig())  // ViT-B/32 at 224 px
    vision.eval()
    var rng = RandomGenerator(seed: 3)
    var cases: [BenchCase] = []
    for batch in quick ? [1] : [1, 8] {
        let pixels = Tensor.randn([batch, 3, 224, 224], rng: &rng)
        cases.append(BenchCase(name: "clip_vit_b32_image_batch\(batch)", unit: "img/s", work: Double(batch), body: {
            _ = noGrad { vision(pixels) }
        }, peer: "clip_vit_b32_image_batch\(batch)"))
    }
    let text = try CLIPTextTransformer(CLIPTextConfig())
    text.eval()
    let ids = Tensor(ints: (0..<(8 * 77)).map { _ in rng.nextInt(49000) }, shape: [8, 77])
    cases.append(BenchCase(name: "clip_text_batch8x77", unit: "seq/s", work: 8, body: {
        _ = noGrad { text(ids) }
    }, peer: "clip_text_batch8x77"))
    return cases
}

extension Peer {
    static let torchScript = #"""
import json, sys, time
import torch
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModel


wanted, repeats = set(sys.argv[1].split(",")), int(sys.argv[2])
torch.set_num_threads(2)
torch.manual_seed(0)
out = {}
with torch.inference_mode():
    vision = CLIPVisionModel(CLIPVisionConfig()).eval()
    for batch in (1, 8):
        name = f"clip_vit_b32_image_batch{batch}"
        if name in wanted:
            pixels = torch.randn(batch, 3, 224, 224)
            out[name] = batch / best(lambda: vision(pixel_values=pixels), repeats)
    if "clip_text_batch8x77" in wanted:
        text = CLIPTextModel(CLIPTextConfig()).eval()
        ids = torch.randint(0, 49000, (8, 77))
        out["clip_text_batch8x77"] = 8 / best(lambda: text(input_ids=ids), repeats)
print(json.dumps(out))
"""#
}
