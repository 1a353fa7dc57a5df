import Foundation
import VLModels
import VLNN
import VLTensor

/// The small CLIP the training case runs (and its PyTorch peer builds with the same sizes).
func smallTrainingCLIPConfig() -> CLIPConfig {
    var c = CLIPConfig()
    (c.vision.hiddenSize, c.vision.intermediateSize, c.vision.numHiddenLayers, c.vision.numAttentionHeads) = (256, 1024, 6, 8)
    (c.vision.imageSize, c.vision.patchSize) = (64, 16)
    (c.text.hiddenSize, c.text.intermediateSize, c.text.numHiddenLayers, c.text.numAttentionHeads) = (256, 1024, 6, 8)
    (c.text.vocabSize, c.text.bosTokenId, c.text.eosTokenId, c.text.padTokenId) = (1024, 1022, 1023, 1023)
    (c.projectionDim, c.vision.projectionDim, c.text.projectionDim) = (256, 256, 256)
    return c
}

/// Training cases (peer: transformers' CLIPModel on PyTorch, 2 threads, torch.optim.AdamW).
/// One step: forward of both towers, contrastive loss, backward, AdamW.
func trainingBenchmarks() throws -> [BenchCase] {
    GlobalRandom.seed(0)
    let batch = 32, length = 77
    let model = try CLIPModel(smallTrainingCLIPConfig())
    model.train()
    let parameters = model.trainableParameters()
    let optimizer = AdamW(parameters, lr: 1e-4)
    var rng = RandomGenerator(seed: 7)
    let pixels = Tensor.randn([batch, 3, 64, 64], rng: &rng)
    let eos = model.config.text.eosTokenId
    let ids = Tensor(ints: (0..<(batch * length)).map { $0 % length == length - 1 ? eos : rng.nextInt(eos - 2) }, shape: [batch, length])
    return [BenchCase(name: "train-clip_256x6_b32", unit: "steps/s", work: 1, body: {
        optimizer.zeroGrad(parameters)
        contrastiveLoss(logitsPerText: model(pixels: pixels, ids: ids).logitsPerText).backward()
        optimizer.step()
    }, peer: "train-clip_256x6_b32")]
}

extension Peer {
    static let torchTrainScript = #"""
import json, sys, time
import torch
from transformers import CLIPConfig, CLIPModel


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
"""#
}
