import Foundation
import VLFiles

/// Reading an image processor's configuration as transformers 5 does: the class named by
/// `image_processor_type` (a `Fast` or `Pil` suffix dropped; else `feature_extractor_type`, else
/// `processor_class`, else config.json's `model_type`) gives the defaults of every key the file
/// leaves out, and every value is checked before it is used.
extension ImageProcessor {
    /// The largest height or width accepted from a file (size, crop size, pad size), so a wrong
    /// value is an error here rather than a huge allocation later.
    public static let maxSide = 8192

    /// One transformers image processor class: its class attributes (the defaults of a file that
    /// omits a key), as `image_processing_pil_*.py` in transformers 5 defines them.
    struct ClassDefaults {
        var size: Size
        var resample: ResampleFilter
        var crop: Int?  // crop_size (square) and do_center_crop = true; nil: neither
        var mean: [Double]
        var std: [Double]
        var convertRgb: Bool  // do_convert_rgb (None counts as false)
        var defaultToSquare: Bool  // how an integer `size` is read
        var cropPct: Double? = nil
    }

    static let openAIClipMean = [0.48145466, 0.4578275, 0.40821073]
    static let openAIClipStd = [0.26862954, 0.26130258, 0.27577711]
    static let imagenetStandard = [0.5, 0.5, 0.5]

    static let classDefaults: [String: ClassDefaults] = {
        let clip = ClassDefaults(
            size: .shortestEdge(224), resample: .bicubic, crop: 224, mean: openAIClipMean, std: openAIClipStd,
            convertRgb: true, defaultToSquare: false)
        return [
            "CLIPImageProcessor": clip,
            // LLaVA's adds do_pad (default false): pad to a square in the mean colour before resizing.
            "LlavaImageProcessor": clip,
            "BitImageProcessor": clip,
            "BlipImageProcessor": ClassDefaults(
                size: .exact(height: 384, width: 384), resample: .bicubic, crop: nil,
                mean: openAIClipMean, std: openAIClipStd, convertRgb: true, defaultToSquare: true),
            "SiglipImageProcessor": ClassDefaults(
                size: .exact(height: 224, width: 224), resample: .bicubic, crop: nil,
                mean: imagenetStandard, std: imagenetStandard, convertRgb: true, defaultToSquare: false),
            "ViTImageProcessor": ClassDefaults(
                size: .exact(height: 224, width: 224), resample: .bilinear, crop: nil,
                mean: imagenetStandard, std: imagenetStandard, convertRgb: false, defaultToSquare: true),
            "DeiTImageProcessor": ClassDefaults(
                size: .exact(height: 256, width: 256), resample: .bicubic, crop: 224,
                mean: imagenetStandard, std: imagenetStandard, convertRgb: false, defaultToSquare: true),
            "ConvNextImageProcessor": ClassDefaults(
                size: .shortestEdge(384), resample: .bicubic, crop: nil,
                mean: imagenetStandard, std: imagenetStandard, convertRgb: false, defaultToSquare: false,
                cropPct: 224.0 / 256.0),
            "IdeficsImageProcessor": ClassDefaults(
                size: .exact(height: 224, width: 224), resample: .bicubic, crop: nil,
                mean: openAIClipMean, std: openAIClipStd, convertRgb: true, defaultToSquare: true),
        ]
    }()

    /// Classes that are another one under a different name: mPLUG-Owl's remote-code
    /// `MplugOwlImageProcessor` is a subclass of CLIPImageProcessor that changes nothing.
    static let classAliases = ["MplugOwlImageProcessor": "CLIPImageProcessor"]

    /// The image processor a processor uses, for a file whose only class name is `processor_class`.
    public static let processorClassImageProcessors = [
        "CLIPProcessor": "CLIPImageProcessor", "LlavaProcessor": "LlavaImageProcessor",
        "BlipProcessor": "BlipImageProcessor",
        "Blip2Processor": "BlipImageProcessor", "InstructBlipProcessor": "BlipImageProcessor",
        "SiglipProcessor": "SiglipImageProcessor",
        "IdeficsProcessor": "IdeficsImageProcessor", "MplugOwlProcessor": "CLIPImageProcessor",
    ]

    /// transformers' AutoImageProcessor mapping from config.json's `model_type`, for the supported
    /// classes: the last resort when the file names no class.
    public static let modelTypeImageProcessors = [
        "clip": "CLIPImageProcessor", "llava": "LlavaImageProcessor", "bit": "BitImageProcessor",
        "blip": "BlipImageProcessor",
        "blip-2": "BlipImageProcessor", "instructblip": "BlipImageProcessor", "siglip": "SiglipImageProcessor",
        "vit": "ViTImageProcessor",
        "deit": "DeiTImageProcessor", "convnext": "ConvNextImageProcessor", "idefics": "IdeficsImageProcessor",
        "mplug-owl": "CLIPImageProcessor",
    ]

    /// The class names a file may give (each also with a `Fast` or `Pil` suffix).
    public static var supportedClasses: [String] { (Array(classDefaults.keys) + Array(classAliases.keys)).sorted() }

    /// The canonical class for a name from a file: the suffix dropped, aliases resolved; nil when unsupported.
    public static func canonicalClass(_ name: String) -> String? {
        var base = name
        for suffix in ["Fast", "Pil"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        base = classAliases[base] ?? base
        return classDefaults[base] != nil ? base : nil
    }

    /// An image processor config object, flat (`preprocessor_config.json`, or transformers 4.x).
    /// A file that names no class gets CLIPImageProcessor's defaults.
    public init(_ r: ConfigReader) throws {
        try self.init(r, modelType: nil)
    }

    /// A flat image processor config; `modelType` (config.json's `model_type`) chooses the class
    /// when the file names none.
    public init(_ r: ConfigReader, modelType: String?) throws {
        self.init()
        let (className, defaults) = try Self.resolveClass(r, modelType: modelType)
        imageProcessorType = className
        try apply(r, className: className, defaults: defaults)
    }

    /// Either a flat image processor config or a whole `processor_config.json` object, whose
    /// image processor is the nested `"image_processor"` (transformers 5's
    /// `processor.save_pretrained`). A processor_config.json of transformers 4.x holds only the
    /// processor's own fields: that is an error here (its image processor is in
    /// preprocessor_config.json; `ImageProcessor.findConfig(in:)` finds it).
    public init(processorConfig r: ConfigReader, modelType: String? = nil) throws {
        if let nested = try r.sub("image_processor") {
            try self.init(nested, modelType: modelType)
            return
        }
        guard Self.imageProcessorKeys.contains(where: { r.has($0) }) else {
            throw ConfigError(
                "\(r.source): no image processor fields (no \"image_processor\" object, no image_processor_type, size, …)"
            )
        }
        try self.init(r, modelType: modelType)
    }

    /// Reads the image processor config of a model directory (see `findConfig(in:)`).
    public init(directory: URL) throws {
        try self.init(config: try Self.findConfig(in: directory))
    }

    public init(config: ImageProcessorConfig) throws {
        try self.init(config.imageProcessor, modelType: config.modelType)
    }

    /// Keys that only an image processor config has.
    static let imageProcessorKeys = [
        "image_processor_type", "feature_extractor_type", "do_resize", "size", "resample", "do_center_crop",
        "crop_size", "do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std",
    ]

    static func resolveClass(_ r: ConfigReader, modelType: String?) throws -> (String, ClassDefaults) {
        func supported(_ name: String, _ key: String, _ given: String) throws -> (String, ClassDefaults) {
            guard let c = canonicalClass(name) else {
                throw ConfigError(
                    "\(r.source): \(key) \"\(given)\" is not an image processor VLKit can run; it runs "
                        + supportedClasses.joined(separator: ", ")
                        + " (each also with a Fast or Pil suffix). If this one "
                        + "preprocesses exactly as one of them, name that one in image_processor_type")
            }
            return (c, classDefaults[c]!)
        }
        if let type = try r.optionalString("image_processor_type") {
            return try supported(type, "image_processor_type", type)
        }
        if let type = try r.optionalString("feature_extractor_type") {
            return try supported(
                type.replacingOccurrences(of: "FeatureExtractor", with: "ImageProcessor"), "feature_extractor_type",
                type)
        }
        if let processor = try r.optionalString("processor_class") {
            guard let c = processorClassImageProcessors[processor] else {
                throw ConfigError(
                    "\(r.source): processor_class \"\(processor)\" is not a processor whose image processor VLKit knows ("
                        + processorClassImageProcessors.keys.sorted().joined(separator: ", ")
                        + "), and the file has no image_processor_type")
            }
            return (c, classDefaults[c]!)
        }
        if let m = modelType, let c = modelTypeImageProcessors[m] { return (c, classDefaults[c]!) }
        return ("CLIPImageProcessor", classDefaults["CLIPImageProcessor"]!)
    }

    private mutating func apply(_ r: ConfigReader, className: String, defaults d: ClassDefaults) throws {
        let src = r.source
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError("\(src): \"\(key)\" \(problem)") }
        // An explicit null is None in transformers (4.x and 5 alike: it replaces the class
        // default), which turns a step off, or, for a value a step needs, is an error there too.
        func isNull(_ key: String) -> Bool { r.values[key] is NSNull }
        func flag(_ key: String, _ classDefault: Bool) throws -> Bool {
            isNull(key) ? false : try r.bool(key, classDefault)
        }
        func needed(_ key: String, by step: String) -> ConfigError {
            fail(key, "is null (no value) but \(step) is true and needs it")
        }

        doResize = try flag("do_resize", true)
        doRescale = try flag("do_rescale", true)
        doNormalize = try flag("do_normalize", true)
        doConvertRgb = try flag("do_convert_rgb", d.convertRgb)
        let defaultToSquare = try flag("default_to_square", d.defaultToSquare)

        size = d.size
        if isNull("size") && doResize { throw needed("size", by: "do_resize") }
        if let v = r.presentValue("size") {
            size = try Self.parseSize(v, key: "size", source: src, defaultToSquare: defaultToSquare)
        }
        if className == "CLIPImageProcessor", try flag("use_square_size", false) {
            size = .exact(height: 224, width: 224)  // CLIP's Kosmos-2 compatibility: the class's shortest edge, squared
        }
        if className == "IdeficsImageProcessor", let v = r.presentValue("image_size") {
            guard let n = jsonInteger(v) else {
                throw fail("image_size", "should be an integer, found \(Self.show(v))")
            }
            try Self.checkSide(n, key: "image_size", source: src)
            size = .exact(height: n, width: n)
        }

        resample = d.resample
        if isNull("resample") && doResize { throw needed("resample", by: "do_resize") }
        if let v = r.presentValue("resample") {
            guard let n = jsonInteger(v) else {
                throw fail("resample", "should be an integer (Pillow's filter number), found \(Self.show(v))")
            }
            guard let f = ResampleFilter(rawValue: n) else {
                let names = [0: "nearest", 1: "lanczos", 4: "box", 5: "hamming"]
                throw fail(
                    "resample",
                    names[n].map {
                        "is \(n) (\($0)), which VLKit does not resize with: it has 2 (bilinear) and 3 (bicubic)"
                    }
                        ?? "is \(n), which is not a Pillow filter (0–5); VLKit resizes with 2 (bilinear) and 3 (bicubic)"
                )
            }
            resample = f
        }

        cropPct = d.cropPct
        if let pct = d.cropPct {
            if let v = r.presentValue("crop_pct") {
                guard let n = v as? NSNumber, !isJSONBoolean(v), n.doubleValue.isFinite, n.doubleValue > 0 else {
                    throw fail("crop_pct", "should be a number above 0, found \(Self.show(v))")
                }
                cropPct = n.doubleValue
            }
            if doResize {
                guard case .shortestEdge(let edge) = size else {
                    throw fail(
                        "size",
                        "of \(className) needs {\"shortest_edge\": n}, found \(r.presentValue("size").map { Self.show($0) } ?? "none")"
                    )
                }
                if edge < 384 {
                    if isNull("crop_pct") { throw needed("crop_pct", by: "do_resize (to a shortest edge below 384)") }
                    let target = Double(edge) / (cropPct ?? pct)
                    if !(target >= 1 && target < Double(Self.maxSide + 1)) {
                        throw fail(
                            "crop_pct",
                            "is \(cropPct ?? pct): the resize before ConvNeXT's crop would be \(target) pixels, not from 1 to \(Self.maxSide)"
                        )
                    }
                }
            }
        }

        var crop: PixelSize? = isNull("crop_size") ? nil : d.crop.map { PixelSize(height: $0, width: $0) }
        if let v = r.presentValue("crop_size") { crop = try Self.parseCropLike(v, key: "crop_size", source: src) }
        doCenterCrop = try flag("do_center_crop", d.crop != nil)
        if doCenterCrop && crop == nil {
            throw fail(
                isNull("crop_size") ? "crop_size" : "do_center_crop",
                isNull("crop_size")
                    ? "is null (no value) but do_center_crop is true and needs it"
                    : "is true but there is no \"crop_size\" (and \(className) has no default crop size)")
        }
        if let c = crop {
            (cropHeight, cropWidth) = (c.height, c.width)
        } else if case .exact(let h, let w) = size {
            (cropHeight, cropWidth) = (h, w)
        } else {
            (cropHeight, cropWidth) = (224, 224)
        }

        rescaleFactor = 1.0 / 255.0
        if isNull("rescale_factor") && doRescale { throw needed("rescale_factor", by: "do_rescale") }
        if let v = r.presentValue("rescale_factor") {
            guard let n = v as? NSNumber, !isJSONBoolean(v) else {
                throw fail("rescale_factor", "should be a number, found \(Self.show(v))")
            }
            guard n.doubleValue.isFinite, n.doubleValue > 0 else {
                throw fail("rescale_factor", "should be above 0, found \(n)")
            }
            rescaleFactor = n.doubleValue
        }

        for key in ["image_mean", "image_std"] where isNull(key) && doNormalize {
            throw needed(key, by: "do_normalize")
        }
        let exactMean = try Self.channelValues(r, "image_mean") ?? d.mean
        let exactStd = try Self.channelValues(r, "image_std") ?? d.std
        if let zero = exactStd.firstIndex(of: 0) {
            throw fail("image_std", "has 0 for channel \(zero): normalising would divide by zero")
        }
        (mean, std, self.exactMean) = (exactMean.map { Float($0) }, exactStd.map { Float($0) }, exactMean)

        let doPadValue = try flag("do_pad", false)
        padSize = nil
        if let v = r.presentValue("pad_size") { padSize = try Self.parseCropLike(v, key: "pad_size", source: src) }
        if className != "LlavaImageProcessor", doPadValue, let p = padSize, let out = unpaddedFixedOutputSize,
            out.height > p.height || out.width > p.width
        {
            throw fail(
                "pad_size", "is \(p.height)×\(p.width), smaller than the \(out.height)×\(out.width) images it pads")
        }
        if className == "LlavaImageProcessor" {
            (doPad, doPadBatch) = (doPadValue, false)
            if doPad, let bad = exactMean.first(where: { !($0 * 255 >= 0 && $0 * 255 < 256) }) {
                throw fail("image_mean", "has \(bad): with do_pad the pad colour int(mean × 255) must be within 0–255")
            }
        } else {
            (doPad, doPadBatch) = (false, doPadValue)
        }
    }

    /// A `size` value: an integer (a square, or the shortest edge when the class does not default
    /// to squares), a [height, width] list, or one of transformers' size objects.
    static func parseSize(_ v: Any, key: String, source: String, defaultToSquare: Bool) throws -> Size {
        if let n = jsonInteger(v) {
            try checkSide(n, key: key, source: source)
            return defaultToSquare ? .exact(height: n, width: n) : .shortestEdge(n)
        }
        if v is [Any] {
            let p = try parseCropLike(v, key: key, source: source)
            return .exact(height: p.height, width: p.width)
        }
        guard let d = v as? [String: Any] else {
            throw ConfigError(
                "\(source): \"\(key)\" should be an integer, a [height, width] list or an object such as {\"height\": 224, \"width\": 224}, found \(show(v))"
            )
        }
        let fields = d.filter { !($0.value is NSNull) }
        var values: [String: Int] = [:]
        for (k, value) in fields {
            guard let n = jsonInteger(value) else {
                throw ConfigError("\(source): \"\(key)\": \"\(k)\" should be an integer, found \(show(value))")
            }
            try checkSide(n, key: "\(key)\": \"\(k)", source: source)
            values[k] = n
        }
        switch Set(values.keys) {
        case ["height", "width"]: return .exact(height: values["height"]!, width: values["width"]!)
        case ["shortest_edge"]: return .shortestEdge(values["shortest_edge"]!)
        case ["shortest_edge", "longest_edge"]:
            return .shortestEdgeCapped(shortest: values["shortest_edge"]!, longest: values["longest_edge"]!)
        case ["max_height", "max_width"]:
            return .fitWithin(maxHeight: values["max_height"]!, maxWidth: values["max_width"]!)
        case ["longest_edge"], ["min_pixels", "max_pixels"]:
            throw ConfigError(
                "\(source): \"\(key)\" \(show(v)) is a size only some model-specific processors resize to; "
                    + "these classes resize to height and width, shortest_edge (with or without longest_edge) or max_height and max_width"
            )
        default:
            throw ConfigError(
                "\(source): \"\(key)\" \(show(v)) should have the keys height and width, shortest_edge, "
                    + "shortest_edge and longest_edge, or max_height and max_width")
        }
    }

    /// A `crop_size` or `pad_size`: an integer (a square), a [height, width] list or {"height", "width"}.
    static func parseCropLike(_ v: Any, key: String, source: String) throws -> PixelSize {
        if let n = jsonInteger(v) {
            try checkSide(n, key: key, source: source)
            return PixelSize(height: n, width: n)
        }
        if let list = v as? [Any] {
            guard list.count == 2, let h = jsonInteger(list[0]), let w = jsonInteger(list[1]) else {
                throw ConfigError("\(source): \"\(key)\" should be [height, width] (two integers), found \(show(v))")
            }
            try checkSide(h, key: key, source: source, what: "height")
            try checkSide(w, key: key, source: source, what: "width")
            return PixelSize(height: h, width: w)
        }
        guard let d = v as? [String: Any] else {
            throw ConfigError(
                "\(source): \"\(key)\" should be an integer, a [height, width] list or {\"height\": h, \"width\": w}, found \(show(v))"
            )
        }
        let fields = d.filter { !($0.value is NSNull) }
        guard Set(fields.keys) == ["height", "width"] else {
            throw ConfigError("\(source): \"\(key)\" \(show(v)) should have exactly the keys height and width")
        }
        var out = PixelSize(height: 0, width: 0)
        for (k, value) in fields {
            guard let n = jsonInteger(value) else {
                throw ConfigError("\(source): \"\(key)\": \"\(k)\" should be an integer, found \(show(value))")
            }
            try checkSide(n, key: "\(key)\": \"\(k)", source: source)
            if k == "height" { out.height = n } else { out.width = n }
        }
        return out
    }

    static func checkSide(_ n: Int, key: String, source: String, what: String? = nil) throws {
        guard n >= 1 && n <= maxSide else {
            throw ConfigError(
                "\(source): \"\(key)\" \(what.map { "\($0) " } ?? "")is \(n), which is not a size in pixels from 1 to \(maxSide)"
            )
        }
    }

    /// `image_mean` / `image_std`: a number (every channel) or a list of three numbers.
    static func channelValues(_ r: ConfigReader, _ key: String) throws -> [Double]? {
        guard let v = r.presentValue(key) else { return nil }
        func number(_ x: Any) -> Double? {
            guard let n = x as? NSNumber, !isJSONBoolean(x), n.doubleValue.isFinite else { return nil }
            return n.doubleValue
        }
        if let x = number(v) { return [x, x, x] }
        guard let list = v as? [Any], list.count == 3 else {
            throw ConfigError(
                "\(r.source): \"\(key)\" should be a number or a list of 3 numbers (one per RGB channel), found \(show(v))"
            )
        }
        return try list.map { x in
            guard let n = number(x) else {
                throw ConfigError("\(r.source): \"\(key)\" should be a list of 3 numbers, found \(show(v))")
            }
            return n
        }
    }

    /// A JSON value as it would be written, for error messages.
    static func show(_ v: Any) -> String {
        if let s = v as? String { return "\"\(s)\"" }
        if JSONSerialization.isValidJSONObject([v]),
            let data = try? JSONSerialization.data(withJSONObject: [v], options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        {
            return String(text.dropFirst().dropLast())
        }
        return "\(v)"
    }
}

extension ConfigReader {
    /// The value of `key` unless it is absent or null.
    func presentValue(_ key: String) -> Any? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }
}

extension ImageProcessor {
    /// `preprocessor_config.json` as transformers writes it for `imageProcessorType` (LLaVA's
    /// class whenever `doPad` is set, since only it pads to a square).
    public var jsonObject: [String: Any] {
        func sizeObject(_ s: Size) -> [String: Int] {
            switch s {
            case .shortestEdge(let edge): return ["shortest_edge": edge]
            case .exact(let h, let w): return ["height": h, "width": w]
            case .shortestEdgeCapped(let s, let l): return ["shortest_edge": s, "longest_edge": l]
            case .fitWithin(let h, let w): return ["max_height": h, "max_width": w]
            }
        }
        let type = doPad ? "LlavaImageProcessor" : imageProcessorType
        let values =
            exactMean.flatMap { e in e.map { Float($0) } == mean ? e : nil }
            ?? mean.map { Double("\($0)") ?? Double($0) }
        var out: [String: Any] = [
            "image_processor_type": type, "do_resize": doResize, "size": sizeObject(size),
            "resample": resample.rawValue, "do_center_crop": doCenterCrop,
            "crop_size": ["height": cropHeight, "width": cropWidth], "do_rescale": doRescale,
            "rescale_factor": rescaleFactor,
            "do_normalize": doNormalize, "image_mean": values, "image_std": std.map { Double("\($0)") ?? Double($0) },
            "do_convert_rgb": doConvertRgb,
        ]
        if type == "LlavaImageProcessor" { out["do_pad"] = doPad } else if doPadBatch { out["do_pad"] = true }
        if let p = padSize { out["pad_size"] = ["height": p.height, "width": p.width] }
        if let pct = cropPct { out["crop_pct"] = pct }
        return out
    }
}
