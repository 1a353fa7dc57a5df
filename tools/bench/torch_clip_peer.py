"""The PyTorch peer of vlkit-bench's CLIP cases: transformers' CLIPVisionModel / CLIPTextModel, random
weights, 2 threads, inference mode.

Run by vlkit-bench as `python torch_clip_peer.py CASES REPEATS` (CASES: comma-separated case names); prints
one JSON object {case name: value} on stdout.
"""
import json, sys
import torch
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModel

from peer_timing import best

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
    if "clip_vit_l14_336_encode" in wanted:
        large = CLIPVisionModel(CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                                 num_attention_heads=16, image_size=336, patch_size=14)).eval()
        pixels = torch.randn(1, 3, 336, 336)
        out["clip_vit_l14_336_encode"] = 1 / best(lambda: large(pixel_values=pixels, output_hidden_states=True), repeats)
    if "clip_vit_l14_336_encode_bf16" in wanted:
        half = CLIPVisionModel(CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                                num_attention_heads=16, image_size=336, patch_size=14)).eval().to(torch.bfloat16)
        pixels = torch.randn(1, 3, 336, 336, dtype=torch.bfloat16)
        out["clip_vit_l14_336_encode_bf16"] = 1 / best(lambda: half(pixel_values=pixels, output_hidden_states=True), repeats)
    if "clip_text_batch8x77" in wanted:
        text = CLIPTextModel(CLIPTextConfig()).eval()
        ids = torch.randint(0, 49000, (8, 77))
        out["clip_text_batch8x77"] = 8 / best(lambda: text(input_ids=ids), repeats)
print(json.dumps(out))
