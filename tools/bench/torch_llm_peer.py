"""The PyTorch peer of vlkit-bench's LLaMA cases: transformers' LlamaForCausalLM with TinyLlama's shapes
(random weights), f32 and the same model cast to bf16; prefill of 128 tokens, 64 greedy tokens.
2 threads, inference mode; best of max(2, repeats // 2) runs (the runs take seconds).

Run by vlkit-bench as `python torch_llm_peer.py CASES REPEATS` (CASES: comma-separated case names); prints
one JSON object {case name: value} on stdout.
"""
import json, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from peer_timing import best_of_few as best

wanted, repeats = set(sys.argv[1].split(",")), int(sys.argv[2])
torch.set_num_threads(2)
torch.manual_seed(0)
out = {}
config = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                     num_key_value_heads=4, max_position_embeddings=2048)
with torch.inference_mode():
    model = LlamaForCausalLM(config).eval()
    for dtype, name in [(torch.float32, "f32"), (torch.bfloat16, "bf16")]:
        if not any(k.endswith(name) for k in wanted):
            continue
        model = model.to(dtype)
        prompt = torch.arange(128).reshape(1, 128) * 37 % 32000
        if f"llama1b_prefill128_{name}" in wanted:
            out[f"llama1b_prefill128_{name}"] = 128 / best(lambda: model(input_ids=prompt, logits_to_keep=1), repeats)
        if f"llama1b_decode64_{name}" in wanted:
            one = torch.tensor([[1]])
            gen = lambda: model.generate(input_ids=one, max_new_tokens=65, min_new_tokens=65, do_sample=False, pad_token_id=0)
            out[f"llama1b_decode64_{name}"] = 64 / best(gen, repeats)
print(json.dumps(out))
