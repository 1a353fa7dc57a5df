import Foundation
import VLFiles
import VLIO
import VLTensor
import XCTest
@testable import VLImaging

/// Model directories as transformers 5 writes them (and 4.x layouts), read with our config
/// reader, against transformers 5's own reading and pixel values
/// (tools/fixtures/make_image_processor_fixtures.py).
final class ImageProcessorConfigTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/image_processors")

    struct Case {
        let name: String
        let entry: [String: Any]
        var dir: URL { ImageProcessorConfigTests.root.appendingPathComponent("cases/\(name)") }
        var fields: [String: Any] { entry["fields"] as! [String: Any] }
    }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: root.appendingPathComponent("expected.json"))
        let all = (try! JSONSerialization.jsonObject(with: data) as! [String: Any])["cases"] as! [String: [String: Any]]
        return all.keys.sorted().map { Case(name: $0, entry: all[$0]!) }
    }()

    static let pixels: [String: Tensor] = try! loadSafetensors(
        path: root.appendingPathComponent("pixels.safetensors").path)

    func image(_ name: String) throws -> RGBImage {
        try RGBImage(contentsOf: Self.root.appendingPathComponent("images/\(name)"))
    }

    func sizeObject(_ s: ImageProcessor.Size) -> [String: Int] {
        switch s {
        case .shortestEdge(let e): return ["shortest_edge": e]
        case .exact(let h, let w): return ["height": h, "width": w]
        case .shortestEdgeCapped(let s, let l): return ["shortest_edge": s, "longest_edge": l]
        case .fitWithin(let h, let w): return ["max_height": h, "max_width": w]
        }
    }

    func floats(_ v: Any?) -> [Float]? { (v as? [NSNumber])?.map(\.floatValue) }

    // MARK: transformers 5's directories

    func testEveryLayoutIsReadFromTheFileTransformersReads() throws {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 41)
        for c in Self.cases {
            let config = try ImageProcessor.findConfig(in: c.dir)
            XCTAssertEqual(config.file.lastPathComponent, c.entry["source"] as? String, c.name)
            XCTAssertEqual(config.nested, c.entry["nested"] as? Bool, c.name)
        }
    }

    func testFieldsAreTransformersEffectiveValues() throws {
        for c in Self.cases {
            let p = try ImageProcessor(directory: c.dir), f = c.fields, n = c.name
            XCTAssertEqual(p.imageProcessorType, f["class"] as? String, n)
            XCTAssertEqual(p.doResize, f["do_resize"] as? Bool, n)
            XCTAssertEqual(sizeObject(p.size), f["size"] as? [String: Int], n)
            XCTAssertEqual(p.resample.rawValue, f["resample"] as? Int, n)
            XCTAssertEqual(p.doCenterCrop, f["do_center_crop"] as? Bool, n)
            if let crop = f["crop_size"] as? [String: Int] {
                XCTAssertEqual(["height": p.cropHeight, "width": p.cropWidth], crop, n)
            }
            XCTAssertEqual(p.doRescale, f["do_rescale"] as? Bool, n)
            XCTAssertEqual(p.rescaleFactor, (f["rescale_factor"] as! NSNumber).doubleValue, accuracy: 1e-15, n)
            XCTAssertEqual(p.doNormalize, f["do_normalize"] as? Bool, n)
            XCTAssertEqual(p.mean, floats(f["image_mean"]), n)
            XCTAssertEqual(p.std, floats(f["image_std"]), n)
            let doPad = f["do_pad"] as! Bool
            XCTAssertEqual(p.imageProcessorType == "LlavaImageProcessor" ? p.doPad : p.doPadBatch, doPad, n)
            XCTAssertEqual(
                p.padSize.map { ["height": $0.height, "width": $0.width] }, f["pad_size"] as? [String: Int], n)
            XCTAssertEqual(p.doConvertRgb, f["do_convert_rgb"] as? Bool, n)
            XCTAssertEqual(p.cropPct, (f["crop_pct"] as? NSNumber)?.doubleValue, n)
        }
    }

    func testProcessorFieldsAreReadFromEitherLayout() throws {
        var checked = 0
        for c in Self.cases {
            let fields = try ImageProcessor.findConfig(in: c.dir).processor,
                want = c.entry["processor"] as! [String: Any]
            XCTAssertEqual(fields.processorClass, want["processor_class"] as? String, c.name)
            XCTAssertEqual(fields.patchSize, want["patch_size"] as? Int, c.name)
            XCTAssertEqual(fields.numAdditionalImageTokens, want["num_additional_image_tokens"] as? Int, c.name)
            XCTAssertEqual(
                fields.visionFeatureSelectStrategy, want["vision_feature_select_strategy"] as? String, c.name)
            XCTAssertEqual(fields.imageToken, want["image_token"] as? String, c.name)
            XCTAssertEqual(fields.numQueryTokens, want["num_query_tokens"] as? Int, c.name)
            XCTAssertEqual(fields.imageSeqLength, want["image_seq_length"] as? Int, c.name)
            checked += want.count
        }
        XCTAssertGreaterThanOrEqual(checked, 20)
        // The two LLaVA layouts say the same.
        let v5 = try ImageProcessor.findConfig(in: Self.cases.first { $0.name == "processor_llava" }!.dir).processor
        let v4 = try ImageProcessor.findConfig(in: Self.cases.first { $0.name == "v4_llava" }!.dir).processor
        XCTAssertEqual(v5, v4)
    }

    func testPixelValuesMatchTransformers() throws {
        var compared = 0
        for c in Self.cases {
            let p = try ImageProcessor(directory: c.dir)
            for (name, info) in (c.entry["images"] as! [String: [String: Any]]).sorted(by: { $0.key < $1.key }) {
                let key = "\(c.name)/\(name)"
                let out = p(try image(name))
                XCTAssertEqual(out.shape, info["shape"] as? [Int], key)
                XCTAssertEqual(
                    p.outputSize(height: try image(name).height, width: try image(name).width),
                    ImageProcessor.PixelSize(height: out.shape[1], width: out.shape[2]), key)
                guard out.shape == info["shape"] as? [Int], let want = Self.pixels[key] else { continue }
                let stride = info["stride"] as! Int, got = out.toArray()
                let sample = Swift.stride(from: 0, to: got.count, by: stride).map { got[$0] }
                XCTAssertEqual(sample.count, want.shape[0], key)
                let diff = zip(sample, want.toArray()).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(diff, 1e-5, "\(key): max abs diff \(diff)")
                compared += 1
            }
        }
        XCTAssertEqual(compared, Self.pixels.count)
    }

    func testFixedOutputSizeIsTheOutputSizeWhenThereIsOne() throws {
        for c in Self.cases {
            let p = try ImageProcessor(directory: c.dir)
            let shapes = Set((c.entry["images"] as! [String: [String: Any]]).values.map { $0["shape"] as! [Int] })
            if let fixed = p.fixedOutputSize {
                XCTAssertEqual(shapes, [[3, fixed.height, fixed.width]], c.name)
            }
        }
        XCTAssertEqual(
            try ImageProcessor(directory: Self.root.appendingPathComponent("cases/defaults_blip")).fixedOutputSize,
            ImageProcessor.PixelSize(height: 384, width: 384))
        XCTAssertNil(
            try ImageProcessor(directory: Self.root.appendingPathComponent("cases/saved_clip_capped")).fixedOutputSize)
    }

    /// The nested and the flat layout of the same image processor give the same processor.
    func testNestedAndFlatLayoutsGiveTheSameProcessor() throws {
        for c in Self.cases {
            let config = try ImageProcessor.findConfig(in: c.dir)
            let fromDirectory = try ImageProcessor(directory: c.dir)
            let flat = try ImageProcessor(
                ConfigReader(config.imageProcessor.values, source: "flat"), modelType: config.modelType)
            let nested = try ImageProcessor(
                processorConfig: ConfigReader(
                    ["image_processor": config.imageProcessor.values, "patch_size": 14],
                    source: "nested"), modelType: config.modelType)
            XCTAssertEqual(flat, fromDirectory, c.name)
            XCTAssertEqual(nested, fromDirectory, c.name)
            if config.nested {
                let whole = try ConfigReader(contentsOf: config.file)
                XCTAssertEqual(
                    try ImageProcessor(processorConfig: whole, modelType: config.modelType), fromDirectory, c.name)
            } else {
                XCTAssertEqual(
                    try ImageProcessor(processorConfig: config.imageProcessor, modelType: config.modelType),
                    fromDirectory, c.name)
            }
        }
        // Moving a transformers 5 processor_config.json's image processor to a flat
        // preprocessor_config.json changes nothing, pixels included.
        let dir = try temporaryDirectory()
        let v5 = Self.root.appendingPathComponent("cases/processor_llava")
        let nested = try ImageProcessor.findConfig(in: v5).imageProcessor.values
        try JSONSerialization.data(withJSONObject: nested).write(
            to: dir.appendingPathComponent("preprocessor_config.json"))
        let (a, b) = (try ImageProcessor(directory: v5), try ImageProcessor(directory: dir))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a(try image("noise_37x53.png")).toArray(), b(try image("noise_37x53.png")).toArray())
    }

    func testTransformers4ProcessorConfigAloneIsNotAnImageProcessor() throws {
        let v4 = try ConfigReader(contentsOf: Self.root.appendingPathComponent("cases/v4_llava/processor_config.json"))
        XCTAssertThrowsError(try ImageProcessor(processorConfig: v4)) {
            XCTAssertTrue("\($0)".contains("processor_config.json: no image processor fields"), "\($0)")
        }
    }

    func testJSONObjectRoundTrips() throws {
        for c in Self.cases {
            let p = try ImageProcessor(directory: c.dir)
            let data = try JSONSerialization.data(withJSONObject: p.jsonObject)
            var back = try ImageProcessor(
                ConfigReader(JSONSerialization.jsonObject(with: data) as! [String: Any], source: "written"))
            // Foundation's JSON reading of 0.00392156862745098 can be an ulp or two off.
            XCTAssertEqual(back.rescaleFactor, p.rescaleFactor, accuracy: 1e-17, c.name)
            back.rescaleFactor = p.rescaleFactor
            XCTAssertEqual(back, p, c.name)
        }
        // LLaVA-1.5's square padding, set on a CLIP processor, is written as LLaVA's class.
        var p = try ImageProcessor(directory: Self.root.appendingPathComponent("cases/saved_clip"))
        p.doPad = true
        XCTAssertEqual(p.jsonObject["image_processor_type"] as? String, "LlavaImageProcessor")
        XCTAssertEqual(try ImageProcessor(ConfigReader(p.jsonObject, source: "written")).doPad, true)
    }

    func testUntypedConfigsFollowModelTypeThenCLIP() throws {
        // No class anywhere and no config.json: CLIP's defaults, as before.
        let p = try ImageProcessor(ConfigReader(["size": ["shortest_edge": 30]], source: "x"))
        XCTAssertEqual(p.imageProcessorType, "CLIPImageProcessor")
        XCTAssertTrue(p.doCenterCrop)
        XCTAssertEqual(try ImageProcessor(ConfigReader([:], source: "x")), ImageProcessor())
        // config.json's model_type chooses the class.
        let blip = try ImageProcessor(ConfigReader([:], source: "x"), modelType: "blip-2")
        XCTAssertEqual(blip.imageProcessorType, "BlipImageProcessor")
        XCTAssertFalse(blip.doCenterCrop)
        // A Fast or Pil suffix names the same class.
        for name in ["SiglipImageProcessor", "SiglipImageProcessorFast", "SiglipImageProcessorPil"] {
            XCTAssertEqual(
                try ImageProcessor(ConfigReader(["image_processor_type": name], source: "x")).imageProcessorType,
                "SiglipImageProcessor")
        }
    }

    func testProcessorFieldPrecedenceAndForms() throws {
        let dir = try temporaryDirectory()
        // 4.x: image_seq_length kept with the image processor (PaliGemma-style); processor_config.json's top level wins.
        try write(
            ["image_processor_type": "SiglipImageProcessor", "image_seq_length": 256, "patch_size": 16],
            "preprocessor_config.json", in: dir)
        try write(
            [
                "patch_size": 14, "image_token": ["content": "<image>", "special": true],
                "processor_class": "LlavaProcessor",
            ],
            "processor_config.json", in: dir)
        let fields = try ImageProcessor.findConfig(in: dir).processor
        XCTAssertEqual(fields.imageSeqLength, 256)
        XCTAssertEqual(fields.patchSize, 14)
        XCTAssertEqual(fields.imageToken, "<image>")
        XCTAssertEqual(fields.processorClass, "LlavaProcessor")
        XCTAssertNil(fields.numQueryTokens)
    }

    func testPadColourIsIntOfMeanTimes255() throws {
        // 0.01176470588135294 × 255 is 2.999999999745 in doubles (transformers pads with 2), but
        // 3.00000006 from the Float mean: the pad colour comes from the file's doubles.
        var p = try ImageProcessor(
            ConfigReader(
                [
                    "image_processor_type": "LlavaImageProcessor", "do_pad": true,
                    "image_mean": [0.01176470588135294, 0.5, 1.0],
                ], source: "x"))
        XCTAssertEqual(p.padColor, [2, 127, 255])
        p.mean = [0.5, 0.25, 0.75]  // changed after loading: the Float values count
        XCTAssertEqual(p.padColor, [127, 63, 191])
    }

    func testExplicitNullIsNoneAsInTransformers() throws {
        // A null flag is off (transformers replaces the class default with None)…
        let p = try ImageProcessor(
            ConfigReader(
                [
                    "image_processor_type": "CLIPImageProcessor", "do_center_crop": NSNull(),
                    "do_convert_rgb": NSNull(), "crop_size": NSNull(), "pad_size": NSNull(),
                ], source: "x"))
        XCTAssertFalse(p.doCenterCrop)
        XCTAssertFalse(p.doConvertRgb)
        // …and a null value a step needs is an error, as it is when transformers preprocesses.
        let clip = "CLIPImageProcessor"
        try refuses(
            ["image_processor_type": clip, "size": NSNull()], key: "size",
            "is null (no value) but do_resize is true and needs it")
        try refuses(["image_processor_type": clip, "resample": NSNull()], key: "resample", "but do_resize is true")
        try refuses(
            ["image_processor_type": clip, "crop_size": NSNull()], key: "crop_size", "but do_center_crop is true")
        try refuses(
            ["image_processor_type": clip, "rescale_factor": NSNull()], key: "rescale_factor", "but do_rescale is true")
        try refuses(
            ["image_processor_type": clip, "image_std": NSNull()], key: "image_std", "but do_normalize is true")
        try refuses(
            ["image_processor_type": "ConvNextImageProcessor", "size": ["shortest_edge": 30], "crop_pct": NSNull()],
            key: "crop_pct", "is null")
        // Not needed when the step is off.
        let off = try ImageProcessor(
            ConfigReader(
                [
                    "image_processor_type": clip, "do_resize": false, "size": NSNull(),
                    "do_normalize": false, "image_mean": NSNull(),
                ], source: "x"))
        XCTAssertFalse(off.doResize)
    }

    /// Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
    /// pixels as the width; both orders against Pillow's own output.
    func testResizeFollowsPillow13sPassOrder() throws {
        let expected = try loadSafetensors(path: Self.root.appendingPathComponent("pillow_resized.safetensors").path)
        XCTAssertEqual(expected.count, 48)
        var verticalFirst = 0
        for (key, want) in expected.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "/"), spec = parts[1].split(separator: "_")
            let dims = spec[1].split(separator: "x").map { Int($0)! }
            let source = try image(String(parts[0]))
            let out = source.resized(
                width: dims[0], height: dims[1], filter: spec[0] == "bicubic" ? .bicubic : .bilinear)
            XCTAssertEqual(want.shape, [dims[1], dims[0], 3], key)
            XCTAssertEqual(out.pixels, want.toArray().map { UInt8($0) }, key)
            if source.height - dims[1] > 0 && source.height - dims[1] > (source.width - dims[0]) * 2 {
                verticalFirst += 1
            }
        }
        XCTAssertGreaterThanOrEqual(verticalFirst, 10)
        XCTAssertLessThanOrEqual(verticalFirst, 38)
    }

    /// do_pad without pad_size (every class but LLaVA's): a batch is padded at the bottom and
    /// right with zeros to its largest image, as transformers' PilBackend.pad does.
    func testBatchPaddingToTheLargestImage() throws {
        var p = try ImageProcessor(directory: Self.root.appendingPathComponent("cases/saved_clip_capped"))
        p.doPadBatch = true
        let images = try ["noise_37x53.png", "noise_300x17.png", "noise_64x64.png"].map { try image($0) }
        let batch = p.batch(images)
        let singles = images.map { p($0) }
        let h = singles.map { $0.shape[1] }.max()!, w = singles.map { $0.shape[2] }.max()!
        XCTAssertEqual(batch.shape, [3, 3, h, w])
        let all = batch.toArray()
        for (i, single) in singles.enumerated() {
            let (sh, sw) = (single.shape[1], single.shape[2]), values = single.toArray()
            for c in 0..<3 {
                for y in 0..<h {
                    for x in 0..<w {
                        let got = all[((i * 3 + c) * h + y) * w + x]
                        XCTAssertEqual(
                            got, y < sh && x < sw ? values[(c * sh + y) * sw + x] : 0, "image \(i) c\(c) y\(y) x\(x)")
                    }
                }
            }
        }
    }

    // MARK: bad values

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-imgproc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func write(_ object: Any, _ file: String, in dir: URL) throws {
        try JSONSerialization.data(withJSONObject: object).write(to: dir.appendingPathComponent(file))
    }

    /// `config` written as preprocessor_config.json (and nested in a processor_config.json) must
    /// fail to load, quickly, with an error naming the file, the key and `problem`.
    func refuses(
        _ config: [String: Any], key: String, _ problem: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for nested in [false, true] {
            let dir = try temporaryDirectory()
            let name = nested ? "processor_config.json" : "preprocessor_config.json"
            try write(
                nested ? ["image_processor": config, "processor_class": "LlavaProcessor"] : config, name, in: dir)
            let start = Date()
            XCTAssertThrowsError(try ImageProcessor(directory: dir), file: file, line: line) { error in
                let text = "\(error)"
                XCTAssertTrue(error is ConfigError, "\(type(of: error))", file: file, line: line)
                XCTAssertTrue(
                    text.contains(dir.appendingPathComponent(name).path), "\"\(text)\" does not name the file",
                    file: file, line: line)
                XCTAssertTrue(text.contains(key), "\"\(text)\" does not name \(key)", file: file, line: line)
                XCTAssertTrue(text.contains(problem), "\"\(text)\" does not say \"\(problem)\"", file: file, line: line)
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, file: file, line: line)
        }
    }

    func testSizesOutOfRangeAreRefused() throws {
        let clip = "CLIPImageProcessor"
        try refuses(
            ["image_processor_type": clip, "size": ["height": 0, "width": 30]], key: "size",
            "is 0, which is not a size in pixels from 1 to 8192")
        try refuses(["image_processor_type": clip, "size": ["shortest_edge": -3]], key: "shortest_edge", "is -3")
        try refuses(
            ["image_processor_type": clip, "size": ["height": 1_000_000_000, "width": 30]], key: "size", "is 1000000000"
        )
        try refuses(["image_processor_type": clip, "size": 1_000_000_000], key: "size", "is 1000000000")
        try refuses(["image_processor_type": clip, "size": [30, 0]], key: "size", "width is 0")
        try refuses(
            ["image_processor_type": clip, "crop_size": ["height": 30, "width": 100_000]], key: "crop_size", "is 100000"
        )
        try refuses(["image_processor_type": clip, "crop_size": 0], key: "crop_size", "is 0")
        try refuses(
            ["image_processor_type": clip, "do_pad": true, "pad_size": ["height": 1 << 40, "width": 3]],
            key: "pad_size", "is 1099511627776")
        try refuses(["image_processor_type": "IdeficsImageProcessor", "image_size": 0], key: "image_size", "is 0")
        try refuses(
            ["image_processor_type": "ConvNextImageProcessor", "size": ["shortest_edge": 300], "crop_pct": 1e-9],
            key: "crop_pct", "not from 1 to 8192")
        try refuses(["image_processor_type": clip, "rescale_factor": 0], key: "rescale_factor", "should be above 0")
        try refuses(
            ["image_processor_type": clip, "image_std": [0.2, 0, 0.3]], key: "image_std", "has 0 for channel 1")
        try refuses(
            ["image_processor_type": clip, "do_pad": true, "pad_size": ["height": 200, "width": 240]], key: "pad_size",
            "is 200×240, smaller than the 224×224 images it pads")
        try refuses(
            ["image_processor_type": "LlavaImageProcessor", "do_pad": true, "image_mean": [2.0, 0.5, 0.5]],
            key: "image_mean", "must be within 0–255")
    }

    func testWrongTypesAreRefused() throws {
        let clip = "CLIPImageProcessor"
        try refuses(
            ["image_processor_type": clip, "size": "big"], key: "size",
            "should be an integer, a [height, width] list or an object")
        try refuses(
            ["image_processor_type": clip, "size": ["height": "224", "width": 224]], key: "height",
            "should be an integer, found \"224\"")
        try refuses(["image_processor_type": clip, "size": true], key: "size", "should be an integer")
        try refuses(["image_processor_type": clip, "size": [224]], key: "size", "should be [height, width]")
        try refuses(
            ["image_processor_type": clip, "size": ["height": 30]], key: "size", "should have the keys height and width"
        )
        try refuses(
            ["image_processor_type": clip, "size": ["longest_edge": 30]], key: "size",
            "only some model-specific processors")
        try refuses(
            ["image_processor_type": clip, "crop_size": ["shortest_edge": 30]], key: "crop_size",
            "exactly the keys height and width")
        try refuses(["image_processor_type": clip, "crop_size": 22.5], key: "crop_size", "should be an integer")
        try refuses(
            ["image_processor_type": clip, "resample": "bicubic"], key: "resample",
            "should be an integer (Pillow's filter number), found \"bicubic\"")
        try refuses(["image_processor_type": clip, "do_resize": "yes"], key: "do_resize", "should be true or false")
        try refuses(
            ["image_processor_type": clip, "do_center_crop": 1], key: "do_center_crop", "should be true or false")
        try refuses(
            ["image_processor_type": clip, "image_mean": "0.5"], key: "image_mean", "a number or a list of 3 numbers")
        try refuses(
            ["image_processor_type": clip, "image_mean": [0.5, 0.5]], key: "image_mean", "a list of 3 numbers")
        try refuses(
            ["image_processor_type": clip, "image_std": [true, 0.5, 0.5]], key: "image_std", "a list of 3 numbers")
        try refuses(
            ["image_processor_type": clip, "rescale_factor": "1/255"], key: "rescale_factor", "should be a number")
        try refuses(["image_processor_type": 5], key: "image_processor_type", "should be a string")
        try refuses(
            ["image_processor_type": "ConvNextImageProcessor", "size": ["height": 30, "width": 30]], key: "size",
            "needs {\"shortest_edge\": n}")
        try refuses(
            ["image_processor_type": "ConvNextImageProcessor", "crop_pct": "0.9"], key: "crop_pct",
            "should be a number above 0")
        try refuses(
            ["image_processor_type": "BlipImageProcessor", "do_center_crop": true], key: "do_center_crop",
            "no \"crop_size\" (and BlipImageProcessor has no default crop size)")
    }

    func testResampleValuesWeCannotDoAreRefused() throws {
        for (value, name) in [(0, "nearest"), (1, "lanczos"), (4, "box"), (5, "hamming")] {
            try refuses(
                ["image_processor_type": "CLIPImageProcessor", "resample": value], key: "resample",
                "is \(value) (\(name)), which VLKit does not resize with")
        }
        try refuses(
            ["image_processor_type": "CLIPImageProcessor", "resample": 9], key: "resample",
            "is 9, which is not a Pillow filter")
        try refuses(
            ["image_processor_type": "CLIPImageProcessor", "resample": -1], key: "resample",
            "is -1, which is not a Pillow filter")
    }

    func testUnknownClassesAreNamedWithTheSupportedOnes() throws {
        try refuses(
            ["image_processor_type": "LlavaNextImageProcessor", "size": ["shortest_edge": 336]],
            key: "image_processor_type",
            "\"LlavaNextImageProcessor\" is not an image processor VLKit can run; it runs BitImageProcessor, BlipImageProcessor, CLIPImageProcessor"
        )
        try refuses(
            ["image_processor_type": "Qwen2VLImageProcessorFast"], key: "image_processor_type",
            "SiglipImageProcessor, ViTImageProcessor (each also with a Fast or Pil suffix). If this one preprocesses exactly as one of them"
        )
        try refuses(
            ["feature_extractor_type": "DetrFeatureExtractor"], key: "feature_extractor_type",
            "\"DetrFeatureExtractor\" is not")
        try refuses(
            ["processor_class": "Qwen2VLProcessor"], key: "processor_class",
            "\"Qwen2VLProcessor\" is not a processor whose image processor VLKit knows")
    }

    func testBrokenFilesAreRefused() throws {
        let dir = try temporaryDirectory()
        XCTAssertThrowsError(try ImageProcessor(directory: dir)) {
            XCTAssertEqual(
                "\($0)",
                "\(dir.path): no image processor config: no preprocessor_config.json and no processor_config.json with an \"image_processor\" object"
            )
        }
        try Data("{\"image_processor\": ".utf8).write(to: dir.appendingPathComponent("processor_config.json"))
        XCTAssertThrowsError(try ImageProcessor(directory: dir)) {
            XCTAssertEqual("\($0)", "\(dir.appendingPathComponent("processor_config.json").path): is not a JSON object")
        }
        try write(["image_processor": [1, 2]], "processor_config.json", in: dir)
        XCTAssertThrowsError(try ImageProcessor(directory: dir)) {
            XCTAssertTrue(
                "\($0)".contains("processor_config.json: image_processor\" should be an object")
                    || "\($0)".contains("\"image_processor\" should be an object"), "\($0)")
        }
        // A 4.x processor_config.json (processor fields only) and no preprocessor_config.json.
        try write(["processor_class": "Blip2Processor", "num_query_tokens": 32], "processor_config.json", in: dir)
        XCTAssertThrowsError(try ImageProcessor(directory: dir)) {
            XCTAssertTrue("\($0)".contains("no image processor config"), "\($0)")
        }
    }

    func testBadProcessorFieldsAreRefused() throws {
        for (object, key, problem) in [
            (["patch_size": 0], "patch_size", "is 0, outside 1–8192"),
            (["patch_size": "14"], "patch_size", "should be an integer"),
            (["num_query_tokens": 1_000_000_000], "num_query_tokens", "outside 1–65536"),
            (["num_additional_image_tokens": -1], "num_additional_image_tokens", "outside 0–65536"),
            (
                ["vision_feature_select_strategy": "first"], "vision_feature_select_strategy",
                "transformers knows \"default\" and \"full\""
            ),
            (["image_token": 5], "image_token", "should be a non-empty string"),
            (["image_seq_length": 0], "image_seq_length", "outside 1–1000000"),
        ] as [([String: Any], String, String)] {
            let dir = try temporaryDirectory()
            var top = object
            top["image_processor"] = ["image_processor_type": "CLIPImageProcessor"]
            try write(top, "processor_config.json", in: dir)
            XCTAssertThrowsError(try ImageProcessor.findConfig(in: dir)) { error in
                let text = "\(error)"
                XCTAssertTrue(
                    text.contains("processor_config.json") && text.contains(key) && text.contains(problem), text)
            }
        }
    }
}
