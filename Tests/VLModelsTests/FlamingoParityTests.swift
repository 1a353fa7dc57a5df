import XCTest
import VLIO
import VLNN
import VLTensor
@testable import VLModels

/// open_flamingo's own modules (tools/fixtures/make_flamingo_fixtures.py): state dicts load by
/// name and the outputs agree; with both gates at 0 a block changes nothing.
final class FlamingoParityTests: XCTestCase {
    func fixture(_ name: String) throws -> [String: Tensor] {
        try loadSafetensors(path: fixturesRoot.appendingPathComponent("flamingo/\(name).safetensors").path)
    }

    func parameters(_ f: [String: Tensor]) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: f.filter { $0.key.hasPrefix("param.") }.map { (String($0.key.dropFirst(6)), $0.value.clone()) })
    }

    func testPerceiverResampler() throws {
        let f = try fixture("resampler")
        let resampler = PerceiverResampler(dim: 32, depth: 2, dimHead: 8, heads: 4, numLatents: 6, maxNumMedia: 3)
        try resampler.load(stateDict: parameters(f))
        assertClose(noGrad { resampler(f["features"]!) }, f["latents"]!, "resampler latents")
    }

    func testGatedCrossAttention() throws {
        for (name, immediate) in [("gated_immediate", true), ("gated_all", false)] {
            let f = try fixture(name)
            let block = GatedCrossAttentionBlock(dim: 24, dimVisual: 32, dimHead: 8, heads: 3, ffMult: 2, onlyAttendImmediateMedia: immediate)
            try block.load(stateDict: parameters(f))
            let loc = f["locations"]!.toInts(), l = f["x"]!.shape[1]
            let locations = (0..<2).map { b in (0..<l).map { loc[b * l + $0] != 0 } }
            assertClose(noGrad { block(f["x"]!, media: f["media"]!, mediaLocations: locations) }, f["out"]!, name)
        }
    }

    func testClosedGatesLeaveTheTextUnchanged() throws {
        let block = GatedCrossAttentionBlock(dim: 16, dimVisual: 8, dimHead: 4, heads: 2)
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randn([1, 5, 16], rng: &rng), media = Tensor.randn([1, 1, 3, 8], rng: &rng)
        let out = noGrad { block(x, media: media, mediaLocations: [[true, false, false, false, false]]) }
        XCTAssertEqual(out.toArray(), x.toArray())
    }
}
