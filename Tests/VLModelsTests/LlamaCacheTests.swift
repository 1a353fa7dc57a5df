import XCTest
import VLNN
import VLTensor
@testable import VLModels

func tinyLlamaConfig() -> LlamaConfig {
    var c = LlamaConfig()
    c.vocabSize = 40
    c.hiddenSize = 16
    c.intermediateSize = 24
    c.numHiddenLayers = 2
    c.numAttentionHeads = 4
    c.numKeyValueHeads = 2
    c.maxPositionEmbeddings = 64
    return c
}

final class LlamaCacheTests: XCTestCase {
    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max()! }

    /// Decoding token by token with the cache gives the logits of one full forward pass.
    func testCachedDecodingMatchesFullForward() throws {
        GlobalRandom.seed(3)
        for tied in [false, true] {
            var c = tinyLlamaConfig()
            c.tieWordEmbeddings = tied
            let lm = try LlamaForCausalLM(c)
            let ids = [3, 17, 5, 9, 22, 1, 30, 8, 11, 2]
            let full = noGrad {
                lm.logits(
                    lm.hiddenStates(
                        lm.embed(Tensor(ints: ids, shape: [1, 10])),
                        positions: Array(0..<10), cache: nil, keyPadding: nil))
            }
            let cache = KVCache()
            var steps: [Tensor] = []
            // A prefill of 4 then single tokens.
            steps.append(
                noGrad {
                    lm.logits(
                        lm.hiddenStates(
                            lm.embed(Tensor(ints: Array(ids[0..<4]), shape: [1, 4])),
                            positions: Array(0..<4), cache: cache, keyPadding: nil))
                })
            for i in 4..<10 {
                steps.append(
                    noGrad {
                        lm.logits(
                            lm.hiddenStates(
                                lm.embed(Tensor(ints: [ids[i]], shape: [1, 1])),
                                positions: [i], cache: cache, keyPadding: nil))
                    })
            }
            XCTAssertEqual(cache.length, 10)
            XCTAssertLessThan(maxDiff(cat(steps, dim: 1), full), 1e-5)
        }
    }

    func testChunkedPrefillGivesTheSameTokens() throws {
        GlobalRandom.seed(9)
        let lm = try LlamaForCausalLM(tinyLlamaConfig())
        let ids = [3, 17, 5, 9, 22, 1, 30, 8, 11, 2, 7]
        let embeddings = noGrad { lm.embed(Tensor(ints: ids, shape: [1, ids.count])) }
        let whole = Generator(model: lm).generate(
            promptEmbeddings: embeddings, sampling: SamplingParameters(), stop: StopConditions(maxNewTokens: 10)
        ).0
        let chunked = Generator(model: lm, prefillChunk: 3).generate(
            promptEmbeddings: embeddings, sampling: SamplingParameters(),
            stop: StopConditions(maxNewTokens: 10)
        ).0
        XCTAssertEqual(whole, chunked)
    }

    func testOPTCachedDecodingMatchesFullForward() throws {
        GlobalRandom.seed(5)
        for preNorm in [true, false] {
            var c = OPTConfig()
            (c.vocabSize, c.hiddenSize, c.numHiddenLayers, c.ffnDim, c.numAttentionHeads) = (40, 16, 2, 24, 4)
            c.maxPositionEmbeddings = 32
            c.doLayerNormBefore = preNorm
            c.wordEmbedProjDim = preNorm ? nil : 8
            let lm = try OPTForCausalLM(c)
            let ids = [3, 17, 5, 9, 22, 1, 30]
            let full = noGrad {
                lm.logits(
                    lm.hiddenStates(
                        lm.embed(Tensor(ints: ids, shape: [1, 7])),
                        positions: Array(0..<7), cache: nil, keyPadding: nil))
            }
            let cache = KVCache()
            var steps = [
                noGrad {
                    lm.logits(
                        lm.hiddenStates(
                            lm.embed(Tensor(ints: Array(ids[0..<3]), shape: [1, 3])),
                            positions: [0, 1, 2], cache: cache, keyPadding: nil))
                }
            ]
            for i in 3..<7 {
                steps.append(
                    noGrad {
                        lm.logits(
                            lm.hiddenStates(
                                lm.embed(Tensor(ints: [ids[i]], shape: [1, 1])),
                                positions: [i], cache: cache, keyPadding: nil))
                    })
            }
            XCTAssertLessThan(maxDiff(cat(steps, dim: 1), full), 1e-5)
        }
    }

    /// A left-padded batch row gives the same last logits as the row alone.
    func testLeftPaddedBatchMatchesSingleRows() throws {
        GlobalRandom.seed(4)
        let lm = try LlamaForCausalLM(tinyLlamaConfig())
        let long = [5, 6, 7, 8, 9], short = [10, 11, 12]
        func alone(_ ids: [Int]) -> Tensor {
            noGrad {
                lm.logits(
                    lm.hiddenStates(
                        lm.embed(Tensor(ints: ids, shape: [1, ids.count])),
                        positions: Array(0..<ids.count), cache: nil, keyPadding: nil))
            }
            .select(1, ids.count - 1)
        }
        let batchIds = Tensor(ints: long + [0, 0] + short, shape: [2, 5])
        let padding = Tensor([1, 1, 1, 1, 1, 0, 0, 1, 1, 1], shape: [2, 5])
        let positions = [0, 1, 2, 3, 4, 0, 0, 0, 1, 2]
        let batch = noGrad {
            lm.logits(lm.hiddenStates(lm.embed(batchIds), positions: positions, cache: nil, keyPadding: padding))
        }
        XCTAssertLessThan(maxDiff(batch.select(1, 4).narrow(0, start: 0, length: 1), alone(long)), 1e-5)
        XCTAssertLessThan(maxDiff(batch.select(1, 4).narrow(0, start: 1, length: 1), alone(short)), 1e-5)
    }
}
