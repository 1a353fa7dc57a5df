import Foundation

/// A SentencePiece `tokenizer.model` (the protobuf `ModelProto`), as original LLaMA-2, Vicuna and
/// LLaVA checkpoints ship their tokenizer. Only BPE models are read; `tokenizerJSON` turns one into
/// the `tokenizer.json` that transformers 5 builds from it (its `LlamaTokenizer`): the pieces as
/// vocabulary, merges derived from it, byte fallback, a Metaspace pre-tokeniser and the pieces of
/// control and user-defined type as added tokens.
struct SentencePieceModel {
    enum PieceType: Int { case normal = 1, unknown, control, userDefined, unused, byte }
    struct Piece { var text = "", score: Float = 0, type = PieceType.normal }

    var pieces: [Piece] = []
    /// 1 unigram, 2 BPE, 3 word, 4 char.
    var modelType = 1
    var unkPiece = "<unk>", bosPiece = "<s>", eosPiece = "</s>"

    init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError("cannot read \(url.path)")
        }
        do {
            try ProtobufReader(data).fields { field, value in
                switch (field, value) {
                case (1, .bytes(let d)): pieces.append(try Self.piece(d))
                case (2, .bytes(let d)): try readTrainerSpec(d)
                default: break
                }
            }
        } catch let e as ProtobufReader.Malformed {
            throw TokenizerError("\(url.path): not a SentencePiece model (\(e.reason))")
        }
        guard !pieces.isEmpty else { throw TokenizerError("\(url.path): a SentencePiece model with no pieces") }
        guard modelType == 2 else {
            let name = [1: "unigram", 3: "word", 4: "char"][modelType] ?? "type \(modelType)"
            throw TokenizerError(
                "\(url.path): a SentencePiece \(name) model; only BPE models (LLaMA-2, Vicuna) are supported")
        }
    }

    private static func piece(_ data: Data) throws -> Piece {
        var p = Piece()
        try ProtobufReader(data).fields { field, value in
            switch (field, value) {
            case (1, .bytes(let d)): p.text = String(decoding: d, as: UTF8.self)
            case (2, .fixed32(let bits)): p.score = Float(bitPattern: bits)
            case (3, .varint(let v)): p.type = PieceType(rawValue: Int(v)) ?? .normal
            default: break
            }
        }
        return p
    }

    private mutating func readTrainerSpec(_ data: Data) throws {
        try ProtobufReader(data).fields { field, value in
            switch (field, value) {
            case (3, .varint(let v)): modelType = Int(v)
            case (45, .bytes(let d)): unkPiece = String(decoding: d, as: UTF8.self)
            case (46, .bytes(let d)): bosPiece = String(decoding: d, as: UTF8.self)
            case (47, .bytes(let d)): eosPiece = String(decoding: d, as: UTF8.self)
            default: break
            }
        }
    }

    /// Merges as transformers derives them from a vocabulary: every split of a piece into two
    /// pieces, ordered by the merged piece's id, then by the lengths of the two halves.
    static func merges(vocab: [String]) -> [(String, String)] {
        let ids = Dictionary(vocab.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var found: [(left: String, right: String, id: Int)] = []
        for (id, piece) in vocab.enumerated() {
            let chars = Array(piece)
            guard chars.count > 1 else { continue }
            var local: [(String, String, Int)] = []
            for cut in 1..<chars.count {
                let left = String(chars[..<cut]), right = String(chars[cut...])
                if ids[left] != nil && ids[right] != nil { local.append((left, right, id)) }
            }
            local.sort { (ids[$0.0]!, ids[$0.1]!) < (ids[$1.0]!, ids[$1.1]!) }
            found += local
        }
        // A stable sort, as Python's.
        let order = found.indices.sorted {
            let a = found[$0], b = found[$1]
            let ka = (a.id, a.left.count, a.right.count), kb = (b.id, b.left.count, b.right.count)
            return ka != kb ? ka < kb : $0 < $1
        }
        return order.map { (found[$0].left, found[$0].right) }
    }

    /// The `tokenizer.json` object for this model under `tokenizer_config.json`'s settings
    /// (`legacy`, `add_prefix_space`, `add_bos_token`, `add_eos_token`).
    func tokenizerJSON(config: [String: Any]) -> [String: Any] {
        let legacy = config["legacy"] as? Bool ?? false
        let addPrefixSpace = config["add_prefix_space"] as? Bool ?? true
        let vocabList = pieces.map(\.text)
        var vocab: [String: Int] = [:]
        for (i, t) in vocabList.enumerated() where vocab[t] == nil { vocab[t] = i }
        let special: Set<String> = [unkPiece, bosPiece, eosPiece]
        var added: [[String: Any]] = pieces.enumerated().compactMap { i, p in
            let isSpecial = p.type == .control || p.type == .unknown || special.contains(p.text)
            guard isSpecial || p.type == .userDefined else { return nil }
            return [
                "id": i, "content": p.text, "special": isSpecial, "lstrip": false, "rstrip": false, "normalized": false,
            ]
        }
        // Tokens the checkpoint added on top of the model (e.g. a pad token), as transformers adds them.
        let known = Set(added.compactMap { $0["id"] as? Int })
        for (key, entry) in config["added_tokens_decoder"] as? [String: [String: Any]] ?? [:] {
            guard let id = Int(key), !known.contains(id), let content = entry["content"] as? String else { continue }
            added.append([
                "id": id, "content": content, "special": entry["special"] as? Bool ?? true,
                "lstrip": entry["lstrip"] as? Bool ?? false, "rstrip": entry["rstrip"] as? Bool ?? false,
            ])
        }
        var decoders: [[String: Any]] = [
            ["type": "Replace", "pattern": ["String": "▁"], "content": " "], ["type": "ByteFallback"], ["type": "Fuse"],
        ]
        if addPrefixSpace { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
        let scheme = !addPrefixSpace ? "never" : legacy ? "always" : "first"
        var single: [[String: Any]] = []
        if config["add_bos_token"] as? Bool ?? true { single.append(["SpecialToken": ["id": bosPiece, "type_id": 0]]) }
        single.append(["Sequence": ["id": "A", "type_id": 0]])
        if config["add_eos_token"] as? Bool ?? false {
            single.append(["SpecialToken": ["id": eosPiece, "type_id": 0]])
        }
        return [
            "model": [
                "type": "BPE", "vocab": vocab, "merges": Self.merges(vocab: vocabList).map { [$0.0, $0.1] },
                "unk_token": unkPiece, "byte_fallback": true, "fuse_unk": true,
            ],
            "pre_tokenizer": ["type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": false],
            "decoder": ["type": "Sequence", "decoders": decoders],
            "post_processor": ["type": "TemplateProcessing", "single": single, "special_tokens": [:] as [String: Any]],
            "added_tokens": added,
        ]
    }
}

/// The wire format of protocol buffers, enough to walk a message's fields.
struct ProtobufReader {
    enum Value { case varint(UInt64), fixed64(UInt64), bytes(Data), fixed32(UInt32) }
    struct Malformed: Error { let reason: String }

    private let bytes: [UInt8]
    init(_ data: Data) { bytes = [UInt8](data) }

    func fields(_ body: (Int, Value) throws -> Void) throws {
        var i = 0
        func varint() throws -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw Malformed(reason: "a truncated varint") }
                let b = bytes[i]
                i += 1
                result |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - i else { throw Malformed(reason: "a field runs past the end") }
            defer { i += n }
            return bytes[i..<i + n]
        }
        func little(_ s: ArraySlice<UInt8>) -> UInt64 { s.reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        while i < bytes.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: try body(field, .varint(try varint()))
            case 1: try body(field, .fixed64(little(try take(8))))
            case 2: try body(field, .bytes(Data(try take(Int(clamping: try varint())))))
            case 5: try body(field, .fixed32(UInt32(little(try take(4)))))
            default: throw Malformed(reason: "wire type \(key & 7) of field \(field)")
            }
        }
    }
}
