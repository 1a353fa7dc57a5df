import XCTest
import VLNN
import VLTensor
@testable import VLModels

/// Continuous batching gives every sequence the tokens it gets decoded alone.
final class BatchDecoderTests: XCTestCase {
    struct Request {
        let ids: [Int]
        let sampling: SamplingParameters
        let maxTokens: Int
        /// The step before which it joins the batch.
        let joins: Int
    }

    let requests = [
        Request(ids: [3, 17, 5, 9, 22, 1, 30], sampling: SamplingParameters(), maxTokens: 12, joins: 0),
        Request(ids: [8, 2], sampling: SamplingParameters(temperature: 1, topP: 0.9, seed: 7), maxTokens: 9, joins: 2),
        Request(ids: [11, 4, 4, 19], sampling: SamplingParameters(), maxTokens: 5, joins: 2),
        Request(
            ids: [6, 33, 12, 7, 7, 25, 14, 2, 9, 31, 5], sampling: SamplingParameters(temperature: 0.7, seed: 3),
            maxTokens: 10, joins: 5),
    ]

    func alone(_ lm: LanguageModel, _ r: Request, stops: Set<Int>) -> [Int] {
        let embeddings = noGrad { lm.embed(Tensor(ints: r.ids, shape: [1, r.ids.count])) }
        return Generator(model: lm).generate(
            promptEmbeddings: embeddings, promptIds: r.ids, sampling: r.sampling,
            stop: StopConditions(maxNewTokens: r.maxTokens, stopTokenIds: stops)
        ).0
    }

    /// Runs the requests through one batch decoder, joining at their steps; drops `cancelled` after step 3.
    func batched(_ lm: LanguageModel, stops: Set<Int>, cancelled: Int? = nil) -> [Int: [Int]] {
        let decoder = BatchDecoder(model: lm)
        var tokens: [Int: [Int]] = [:]
        func record(_ e: BatchDecoder.Event) { if let t = e.token { tokens[e.sequence, default: []].append(t) } }
        for step in 0..<40 {
            for (i, r) in requests.enumerated() where r.joins == step {
                let embeddings = noGrad { lm.embed(Tensor(ints: r.ids, shape: [1, r.ids.count])) }
                record(
                    decoder.add(
                        sequence: i, promptEmbeddings: embeddings, promptIds: r.ids, sampling: r.sampling,
                        stop: StopConditions(maxNewTokens: r.maxTokens, stopTokenIds: stops)))
            }
            if step == 3, let cancelled { decoder.remove(sequence: cancelled) }
            decoder.step().forEach(record)
            if decoder.count == 0 && step > 5 { break }
        }
        return tokens
    }

    func testLlamaBatchedDecodingMatchesOneAtATime() throws {
        GlobalRandom.seed(11)
        let lm = try LlamaForCausalLM(tinyLlamaConfig())
        for stops in [Set<Int>(), [0, 1, 2, 3, 4, 5]] {
            let tokens = batched(lm, stops: stops)
            for (i, r) in requests.enumerated() {
                XCTAssertEqual(tokens[i] ?? [], alone(lm, r, stops: stops), "request \(i), stops \(stops)")
            }
        }
    }

    func testOPTBatchedDecodingMatchesOneAtATime() throws {
        GlobalRandom.seed(12)
        var c = OPTConfig()
        (c.vocabSize, c.hiddenSize, c.numHiddenLayers, c.ffnDim, c.numAttentionHeads) = (40, 16, 2, 24, 4)
        c.maxPositionEmbeddings = 64
        let lm = try OPTForCausalLM(c)
        let tokens = batched(lm, stops: [])
        for (i, r) in requests.enumerated() { XCTAssertEqual(tokens[i] ?? [], alone(lm, r, stops: []), "request \(i)") }
    }

    func testRemovingASequenceLeavesTheOthersUnchanged() throws {
        GlobalRandom.seed(13)
        let lm = try LlamaForCausalLM(tinyLlamaConfig())
        let tokens = batched(lm, stops: [], cancelled: 0)
        XCTAssertLessThan(tokens[0]?.count ?? 0, requests[0].maxTokens)
        for i in 1..<requests.count {
            XCTAssertEqual(tokens[i] ?? [], alone(lm, requests[i], stops: []), "request \(i)")
        }
    }

    func testRaggedCacheRowsKeepTheirLengths() {
        let a = KVCache(), b = KVCache(), batch = KVCache()
        _ = a.update(layer: 0, keys: Tensor.zeros([1, 2, 3, 4]) + 1, values: Tensor.zeros([1, 2, 3, 4]))
        a.commit()
        _ = b.update(layer: 0, keys: Tensor.zeros([1, 2, 5, 4]) + 2, values: Tensor.zeros([1, 2, 5, 4]))
        b.commit()
        batch.appendRows(of: a)
        batch.appendRows(of: b)
        XCTAssertEqual(batch.rowLengths, [3, 5])
        XCTAssertEqual(batch.keyPadding(adding: 1)?.toArray(), [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1])
        let (keys, _) = batch.update(
            layer: 0, keys: Tensor.zeros([2, 2, 1, 4]) + 9, values: Tensor.zeros([2, 2, 1, 4]))
        batch.commit()
        XCTAssertEqual(keys.shape, [2, 2, 6, 4])
        XCTAssertEqual(keys.select(0, 0).select(0, 0).select(1, 0).toArray(), [1, 1, 1, 9, 0, 0])
        XCTAssertEqual(keys.select(0, 1).select(0, 0).select(1, 0).toArray(), [2, 2, 2, 2, 2, 9])
        batch.removeRow(0)
        XCTAssertEqual(batch.rowLengths, [6])
    }
}
