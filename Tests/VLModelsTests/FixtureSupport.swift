import Foundation
import XCTest
import VLIO
import VLTestSupport
import VLTensor
@testable import VLModels

func reference(_ family: String, _ name: String) throws -> [String: Tensor] {
    try loadSafetensors(path: fixtureDirectory(family, name).appendingPathComponent("reference.safetensors").path)
}

/// Asserts max |a − b| ≤ tol · max(1, max |b|) and the shapes agree.
func assertClose(
    _ a: Tensor, _ b: Tensor, tol: Float = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
    guard a.shape == b.shape else { return }
    let x = a.toArray(), y = b.toArray()
    let scale = max(1, y.map { abs($0) }.max() ?? 0)
    let diff = zip(x, y).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(
        diff, tol * scale, "\(what): max abs diff \(diff) (scale \(scale))", file: file, line: line)
}

/// The reference's `last_logits` (last prompt position, ≤ 1e-4) and its 20 greedy tokens from `embeddings`.
func assertLastLogitsAndGreedy(
    _ lm: LanguageModel, embeddings: Tensor, ids: [Int], _ ref: [String: Tensor], _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    let logits = noGrad {
        lm.logits(lm.hiddenStates(embeddings, positions: Array(0..<ids.count), cache: nil, keyPadding: nil))
    }
    assertClose(
        logits.select(1, ids.count - 1).reshape([-1]), ref["last_logits"]!, "\(what) last logits", file: file,
        line: line)
    let tokens = Generator(model: lm).generate(
        promptEmbeddings: embeddings, promptIds: ids, sampling: SamplingParameters(),
        stop: StopConditions(maxNewTokens: 20)
    ).0
    XCTAssertEqual(tokens, ref["greedy"]!.toInts(), "\(what) greedy tokens", file: file, line: line)
}
