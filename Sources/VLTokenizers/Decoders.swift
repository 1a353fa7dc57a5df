import Foundation

/// The `decoder` of a tokenizer.json: token strings back to text.
indirect enum TokenDecoder {
    case byteLevel
    case metaspace(replacement: String, prependScheme: String)
    case replace(Pattern, String)
    case byteFallback
    case fuse
    case strip(content: Character, start: Int, stop: Int)
    case sequence([TokenDecoder])

    init(json: [String: Any], file: String) throws {
        switch json["type"] as? String {
        case "ByteLevel": self = .byteLevel
        case "Metaspace":
            let scheme =
                json["prepend_scheme"] as? String ?? ((json["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
            self = .metaspace(replacement: json["replacement"] as? String ?? "▁", prependScheme: scheme)
        case "Replace": self = .replace(try Pattern(json["pattern"], file: file), json["content"] as? String ?? "")
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            self = .strip(
                content: (json["content"] as? String)?.first ?? " ", start: json["start"] as? Int ?? 0,
                stop: json["stop"] as? Int ?? 0)
        case "Sequence":
            self = .sequence(
                try (json["decoders"] as? [[String: Any]] ?? []).map { try TokenDecoder(json: $0, file: file) })
        case let other:
            throw TokenizerError("\(file): decoder \(other ?? "without a type") is not supported")
        }
    }

    /// Transforms the list of token strings (the last step joins them).
    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                for ch in t {
                    if let b = ByteLevel.decoder[ch] { bytes.append(b) } else { bytes += Array(String(ch).utf8) }
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let replacement, let scheme):
            // As `tokenizers`: in the first token every replacement character is dropped.
            return tokens.enumerated().map { i, t in
                t.replacingOccurrences(of: replacement, with: i == 0 && scheme != "never" ? "" : " ")
            }
        case .replace(let pattern, let content):
            return tokens.map { pattern.replaceAll(in: $0, with: content) }
        case .byteFallback:
            var out: [String] = [], pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out += [String](repeating: "\u{FFFD}", count: pending.count)
                }
                pending = []
            }
            for t in tokens {
                if t.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"),
                    let b = UInt8(t.dropFirst(3).prefix(2), radix: 16)
                {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                var s = Substring(t)
                for _ in 0..<start where s.first == content { s = s.dropFirst() }
                for _ in 0..<stop where s.last == content { s = s.dropLast() }
                return String(s)
            }
        case .sequence(let list):
            return list.reduce(tokens) { $1.apply($0) }
        }
    }
}
