import Foundation
import XCTest
import VLIO
import VLTensor
@testable import VLNN

/// Ten steps of a tiny MLP match torch's losses and final weights (tools/fixtures/make_optim_fixtures.py).
final class OptimizerParityTests: XCTestCase {
    final class TinyMLP: Module {
        let fc1 = Linear(4, 8)
        let fc2 = Linear(8, 3)
        func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).gelu()) }
    }

    func train(
        _ name: String, optimizer: (TinyMLP) -> Optimizer, clip: Float? = nil,
        schedule: WarmupCosineSchedule? = nil
    ) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/optim/\(name).safetensors").path
        let f = try loadSafetensors(path: path)
        let model = TinyMLP()
        try model.load(
            stateDict: Dictionary(
                uniqueKeysWithValues: f.filter { $0.key.hasPrefix("init.") }
                    .map { (String($0.key.dropFirst(5)), $0.value.clone()) }))
        let opt = optimizer(model)
        var losses: [Float] = [], lrs: [Float] = []
        for step in 0..<10 {
            if let schedule { opt.learningRate = schedule.learningRate(at: step) }
            model.zeroGrad()
            let loss = crossEntropy(model(f["x"]!), f["labels"]!)
            loss.backward()
            if let clip { clipGradNorm(model.parameters(), maxNorm: clip) }
            lrs.append(opt.learningRate)
            opt.step()
            losses.append(loss.item())
        }
        for (ours, theirs) in zip(losses, f["losses"]!.toArray()) {
            XCTAssertEqual(ours, theirs, accuracy: 1e-5, "\(name) losses")
        }
        for (ours, theirs) in zip(lrs, f["lrs"]!.toArray()) {
            XCTAssertEqual(ours, theirs, accuracy: 1e-7, "\(name) lr")
        }
        for (n, p) in model.namedParameters() {
            let expected = f["final." + n]!.toArray()
            let diff = zip(p.value.toArray(), expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(diff, 1e-5, "\(name) final \(n)")
        }
    }

    func testAdamW() throws {
        try train("mlp_adamw") { AdamW($0.parameters(), lr: 1e-2, betas: (0.9, 0.999), eps: 1e-8, weightDecay: 0.01) }
    }

    func testSGDMomentum() throws {
        try train("mlp_sgd") { SGD($0.parameters(), lr: 0.1, momentum: 0.9) }
    }

    func testAdamWWithClippingAndWarmupCosine() throws {
        try train(
            "mlp_adamw_clip_cosine", optimizer: { AdamW($0.parameters(), lr: 1e-2, weightDecay: 0.01) }, clip: 0.5,
            schedule: WarmupCosineSchedule(baseLR: 1e-2, warmupSteps: 2, totalSteps: 10))
    }
}
