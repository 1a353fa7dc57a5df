import XCTest
import VLNN
import VLTensor
@testable import VLModels

/// Every connector fits the same seam: image features [B, N, Cv] in, LLM-ready tokens [B, M, Ct]
/// out, trainable end to end.
final class ConnectorTests: XCTestCase {
    func testAllConnectorsShareOneSeam() throws {
        GlobalRandom.seed(6)
        var q = QFormerConfig()
        (q.hiddenSize, q.numHiddenLayers, q.numAttentionHeads, q.intermediateSize, q.encoderHiddenSize) = (
            16, 2, 2, 32, 12
        )
        let connectors: [(String, Connector, Int)] = [
            ("linear", LinearProjector(inputSize: 12, outputSize: 20), 7),
            ("mlp", MLPProjector(inputSize: 12, outputSize: 20), 7),
            ("qformer", try QFormerConnector(qformer: q, queries: 4, outputWidth: 20), 4),
            (
                "abstractor",
                VisualAbstractor(imageWidth: 12, dim: 16, outputWidth: 20, queries: 5, layers: 2, heads: 2), 6
            ),  // + vit_eos
        ]
        var rng = RandomGenerator(seed: 7)
        let features = Tensor.randn([2, 7, 12], rng: &rng)
        for (name, connector, tokens) in connectors {
            let out = connector(features)
            XCTAssertEqual(out.shape, [2, tokens, 20], name)
            XCTAssertEqual(connector.outputTokens(7), tokens, name)
            connector.zeroGrad()
            out.square().mean().backward()
            XCTAssertTrue(
                connector.trainableParameters().allSatisfy { $0.grad != nil },
                "\(name): every parameter gets a gradient")
        }
        let resampler = PerceiverResampler(dim: 12, depth: 1, dimHead: 4, heads: 3, numLatents: 3)
        XCTAssertEqual((resampler as Connector)(features).shape, [2, 3, 12])
    }
}
