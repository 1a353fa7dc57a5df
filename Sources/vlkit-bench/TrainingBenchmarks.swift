import Foundation
import VLModels
import VLNN
import VLTensor

/// The small CLIP the training case runs (and its PyTorch peer builds with the same sizes).
func smallTrainingCLIPConfig() -> CLIPConfig {
    var c = CLIPConfig()
    (c.vision.hiddenSize, c.vision.intermediateSize, c.vision.numHiddenLayers, c.vision.numAttentionHeads) = (
        256, 1024, 6, 8
    )
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
    let ids = Tensor(
        ints: (0..<(batch * length)).map { $0 % length == length - 1 ? eos : rng.nextInt(eos - 2) },
        shape: [batch, length])
    return [
        BenchCase(
            name: "train-clip_256x6_b32", unit: "steps/s", work: 1,
            body: {
                optimizer.zeroGrad(parameters)
                contrastiveLoss(logitsPerText: model(pixels: pixels, ids: ids).logitsPerText).backward()
                optimizer.step()
            }, peer: "train-clip_256x6_b32")
    ]
}

extension Peer {
    /// One CLIP training step in transformers on PyTorch (tools/bench/torch_train_peer.py).
    static let torchTrainScript = "torch_train_peer.py"
}
