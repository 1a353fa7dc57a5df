"""Finds the first layer where VLKit and transformers diverge.

VLKit writes the inputs and the activations it captured (names = dotted module paths, in the
order they were produced) with `vlkit debug capture`; this script runs the same inputs through the
transformers model with forward hooks on the same module names and prints, in VLKit's order, the
max abs difference of each activation, stopping at the first one above the tolerance.

    python tools/debug/compare_activations.py MODEL_DIR CAPTURE.safetensors [--tol 1e-4]
"""
import argparse
import json

import torch
from safetensors import safe_open
from transformers import AutoModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("capture")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    with safe_open(args.capture, "pt") as f:
        meta = f.metadata() or {}
        order = json.loads(meta.get("order", "[]"))
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    inputs = {k[len("input."):]: v for k, v in tensors.items() if k.startswith("input.")}

    model = AutoModel.from_pretrained(args.model_dir).float().eval()
    modules = dict(model.named_modules())
    seen = {}

    def hook(name):
        def fn(_module, _inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            key = name if name not in seen else f"{name}#{sum(1 for k in seen if k.split('#')[0] == name)}"
            seen[key] = out.detach()
        return fn

    for name in {n.split("#")[0] for n in order}:
        if name in modules:
            modules[name].register_forward_hook(hook(name))
        else:
            print(f"note: transformers has no module named {name}")
    with torch.no_grad():
        model(**inputs)

    for name in order:
        ours = tensors["act." + name]
        theirs = seen.get(name)
        if theirs is None:
            print(f"{name}: not produced by transformers")
            continue
        if tuple(theirs.shape) != tuple(ours.shape):
            print(f"{name}: shape {tuple(ours.shape)} vs transformers {tuple(theirs.shape)}  <-- first divergence")
            return
        diff = (theirs.float() - ours.float()).abs().max().item()
        print(f"{name}: max abs diff {diff:.3e}")
        if diff > args.tol:
            print(f"first divergence at {name}")
            return
    print("all captured activations agree")


if __name__ == "__main__":
    main()
