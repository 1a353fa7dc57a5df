"""The PyTorch peer of vlkit-bench's training case: one step of transformers' CLIPModel (forward of both
towers, contrastive loss, backward, torch.optim.AdamW), 2 threads.

Run by vlkit-bench as `python torch_train_peer.py CASES REPEATS` (CASES: comma-separated case names); prints
one JSON object {case name: value} on stdout.
"""
import json, sys
import torch
from transformers import CLIPConfig, CLIPModel

from peer_timing import best

wanted, repeats = set(sys.argv[1].split(",")), int(sys.argv[2])
torch.set_num_threads(2)
torch.manual_seed(0)
out = {}
if "train-clip_256x6_b32" in wanted:
    batch, length = 32, 77
    tower = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=8, projection_dim=256)
    config = CLIPConfig(text_config=dict(tower, vocab_size=1024, max_position_embeddings=77, bos_token_id=1022,
                                         eos_token_id=1023, pad_token_id=1023),
                        vision_config=dict(tower, image_size=64, patch_size=16), projection_dim=256)
    model = CLIPModel(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    pixels = torch.randn(batch, 3, 64, 64)
    ids = torch.randint(0, 1021, (batch, length)); ids[:, -1] = 1023
    def step():
        optimizer.zero_grad()
        model(input_ids=ids, pixel_values=pixels, return_loss=True).loss.backward()
        optimizer.step()
    out["train-clip_256x6_b32"] = 1 / best(step, repeats)
print(json.dumps(out))
