import Foundation
import XCTest
import VLFiles
@testable import VLModels

/// A config's fields are declared once; what it writes reads back the same.
final class ConfigFieldTests: XCTestCase {
    func testLlamaConfigRoundTripsThroughItsJSON() throws {
        var c = LlamaConfig()
        (c.vocabSize, c.hiddenSize, c.numKeyValueHeads, c.rmsNormEps, c.eosTokenIds) = (77, 48, 2, 1e-5, [2, 7])
        (c.tieWordEmbeddings, c.mlpBias, c.padTokenId, c.rope.theta) = (true, true, 0, 20000)
        let json = try JSONSerialization.data(withJSONObject: c.jsonObject)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual(object["rms_norm_eps"] as? Double, 1e-5, "the shortest decimal, not 9.99999974737875e-06")
        var back = try LlamaConfig(ConfigReader(object, source: "config.json"))
        back.headDim = nil  // written resolved, as transformers writes it
        XCTAssertEqual(back, c)
    }

    func testAbsentOptionalFieldsStayAbsentAndWrongTypesNameTheKey() throws {
        let c = try LlamaConfig(ConfigReader(["model_type": "llama"], source: "config.json"))
        XCTAssertNil(c.bosTokenId)
        XCTAssertEqual(c.eosTokenIds, [])
        XCTAssertThrowsError(try LlamaConfig(ConfigReader(["hidden_size": "big"], source: "config.json"))) {
            XCTAssertTrue("\($0)".contains("\"hidden_size\" should be an integer"), "\($0)")
        }
    }

    func testCLIPConfigRoundTripsThroughItsJSON() throws {
        var c = CLIPConfig()
        (c.projectionDim, c.logitScaleInitValue, c.text.vocabSize, c.text.eosTokenId) = (16, 1.5, 99, 98)
        (c.vision.imageSize, c.vision.patchSize, c.vision.hiddenAct, c.vision.layerNormEps) = (36, 6, "gelu", 1e-6)
        let json = try JSONSerialization.data(withJSONObject: c.jsonObject)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual(try CLIPConfig(ConfigReader(object, source: "config.json")), c)
    }
}
