import Foundation
import XCTest
import VLIO
import VLTensor
import VLTestSupport

/// The files of a model directory in the layouts transformers 4.x and 5.x write, each read once.
final class ModelDirectoryTests: TemporaryDirectoryTestCase {
    func write(_ name: String, _ text: String) throws { _ = try file(name, text) }

    func testTransformers5LayoutNestsTheImageProcessorAndKeepsTheTemplateInAJinjaFile() throws {
        try write("config.json", #"{"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"]}"#)
        try write(
            "processor_config.json",
            #"""
            {"image_processor": {"image_processor_type": "CLIPImageProcessor", "crop_size": {"height": 30, "width": 30}},
             "patch_size": 6, "processor_class": "LlavaProcessor", "chat_template": "not this one"}
            """#)
        try write("chat_template.jinja", "{{ messages[0]['content'] }}")
        try write("tokenizer_config.json", #"{"chat_template": "nor this one", "bos_token": "<s>"}"#)
        let d = try ModelDirectory(directory)
        XCTAssertEqual(d.modelType, "llava")
        XCTAssertEqual(d.architectures, ["LlavaForConditionalGeneration"])
        XCTAssertEqual(try d.imageProcessorConfig?.string("image_processor_type", ""), "CLIPImageProcessor")
        XCTAssertEqual(try d.processorConfig?.int("patch_size", 0), 6)
        XCTAssertEqual(d.chatTemplate?.text, "{{ messages[0]['content'] }}")
        XCTAssertEqual(d.chatTemplate?.file, "chat_template.jinja")
        XCTAssertEqual(d.tokenizerConfig?["bos_token"] as? String, "<s>")
    }

    func testTransformers4LayoutsFlatPreprocessorAndTemplateInTheTokenizerConfig() throws {
        try write("config.json", #"{"model_type": "llava"}"#)
        try write(
            "preprocessor_config.json",
            #"{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 30}}"#)
        try write(
            "tokenizer_config.json",
            #"{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#)
        var d = try ModelDirectory(directory)
        XCTAssertEqual(try d.imageProcessorConfig?.sub("size")?.int("shortest_edge", 0), 30)
        XCTAssertEqual(d.chatTemplate?.text, "D", "named templates: the default one")
        XCTAssertEqual(d.chatTemplate?.file, "tokenizer_config.json")
        // transformers 4.4x's processors wrote chat_template.json, which wins over the tokenizer's.
        try write("chat_template.json", #"{"chat_template": "P"}"#)
        d = try ModelDirectory(directory)
        XCTAssertEqual(d.chatTemplate?.text, "P")
        XCTAssertEqual(d.chatTemplate?.file, "chat_template.json")
        XCTAssertNil(d.processorConfig)
        XCTAssertNil(d.generationConfig)
    }

    func testAFlatProcessorConfigCountsOnlyWhenItNamesAnImageProcessor() throws {
        try write("config.json", #"{"model_type": "blip-2"}"#)
        try write("processor_config.json", #"{"processor_class": "Blip2Processor", "num_query_tokens": 32}"#)
        XCTAssertNil(try ModelDirectory(directory).imageProcessorConfig)
    }

    func testBadFilesAreErrorsNamingTheFile() throws {
        XCTAssertThrowsError(try ModelDirectory(directory)) {
            XCTAssertTrue("\($0)".contains("no config.json"), "\($0)")
        }
        XCTAssertThrowsError(try ModelDirectory(directory.appendingPathComponent("missing"))) {
            XCTAssertTrue("\($0)".contains("no such model directory"), "\($0)")
        }
        try write("config.json", #"{"model_type": "llava"}"#)
        for (file, text, expected) in [
            ("processor_config.json", "[1, 2]", "processor_config.json is not a JSON object"),
            ("preprocessor_config.json", "{", "preprocessor_config.json is not a JSON object"),
            ("tokenizer_config.json", #"{"chat_template": 5}"#, "\"chat_template\" should be a string"),
            ("processor_config.json", #"{"image_processor": 3}"#, "\"image_processor\" should be an object"),
            ("config.json", #"{"architectures": 3}"#, "\"architectures\" should be a list of strings"),
        ] {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("processor_config.json"))
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("preprocessor_config.json"))
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("tokenizer_config.json"))
            try write("config.json", #"{"model_type": "llava"}"#)
            try write(file, text)
            XCTAssertThrowsError(try ModelDirectory(directory), file) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)")
            }
        }
        try write("config.json", #"{"model_type": "llava"}"#)
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("tokenizer_config.json"))
        try Data([0xff, 0xfe, 0x00]).write(to: directory.appendingPathComponent("chat_template.jinja"))
        XCTAssertThrowsError(try ModelDirectory(directory)) { XCTAssertTrue("\($0)".contains("not UTF-8"), "\($0)") }
    }

    func testTheCheckpointIsOpenedOnce() throws {
        try write("config.json", #"{"model_type": "llama"}"#)
        let d = try ModelDirectory(directory)
        XCTAssertThrowsError(try d.checkpoint()) { XCTAssertTrue("\($0)".contains("no weights found"), "\($0)") }
        try writeSafetensors(["w": Tensor([1, 2])], to: directory.appendingPathComponent("model.safetensors"))
        let first = try d.checkpoint()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try d.checkpoint().names, first.names, "kept after the first open")
    }
}
