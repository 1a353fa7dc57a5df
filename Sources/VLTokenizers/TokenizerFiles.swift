import Foundation

/// A tokenizer file that cannot be used, naming the file and the problem.
public struct TokenizerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The vocabulary and merges of a BPE tokenizer, from `vocab.json` + `merges.txt` or from the
/// `model` section of a `tokenizer.json`, plus its added (special) tokens.
struct BPEFiles {
    var vocab: [String: Int]
    var merges: [(String, String)]
    var addedTokens: [String: Int] = [:]
    var endOfWordSuffix = ""

    static func load(directory: URL) throws -> BPEFiles {
        let vocabURL = directory.appendingPathComponent("vocab.json"),
            mergesURL = directory.appendingPathComponent("merges.txt")
        let fm = FileManager.default
        if fm.fileExists(atPath: vocabURL.path) && fm.fileExists(atPath: mergesURL.path) {
            return BPEFiles(vocab: try readVocab(vocabURL), merges: try readMerges(mergesURL))
        }
        let json = directory.appendingPathComponent("tokenizer.json")
        guard fm.fileExists(atPath: json.path) else {
            throw TokenizerError(
                "\(directory.path): no tokenizer files (looked for vocab.json + merges.txt and tokenizer.json)")
        }
        return try fromTokenizerJSON(json)
    }

    static func readJSONObject(_ url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError("cannot read \(url.path)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw TokenizerError("\(url.path) is not a JSON object")
        }
        return dict
    }

    static func readVocab(_ url: URL) throws -> [String: Int] {
        let dict = try readJSONObject(url)
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(dict.count)
        for (token, value) in dict {
            guard let id = value as? Int else {
                throw TokenizerError("\(url.path): the id of \"\(token)\" is not an integer")
            }
            vocab[token] = id
        }
        return vocab
    }

    /// `merges.txt`: an optional `#version` line, then one "left right" pair per line.
    static func readMerges(_ url: URL) throws -> [(String, String)] {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8)
        else {
            throw TokenizerError("cannot read \(url.path) as UTF-8 text")
        }
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (number == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError(
                    "\(url.path): line \(number + 1) is not a merge of two tokens: \"\(line.prefix(60))\"")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }

    static func fromTokenizerJSON(_ url: URL) throws -> BPEFiles {
        try fromTokenizerJSON(try readJSONObject(url), file: url.path)
    }

    /// From the object of a `tokenizer.json`; `file` names it in errors.
    static func fromTokenizerJSON(_ root: [String: Any], file: String) throws -> BPEFiles {
        guard let model = root["model"] as? [String: Any], (model["type"] as? String ?? "BPE") == "BPE" else {
            throw TokenizerError("\(file): the model is not BPE")
        }
        guard let vocabDict = model["vocab"] as? [String: Any] else {
            throw TokenizerError("\(file): model.vocab is missing")
        }
        var vocab: [String: Int] = [:]
        for (token, value) in vocabDict {
            guard let id = value as? Int else {
                throw TokenizerError("\(file): the id of \"\(token)\" is not an integer")
            }
            vocab[token] = id
        }
        guard let rawMerges = model["merges"] as? [Any] else {
            throw TokenizerError("\(file): model.merges is missing")
        }
        let merges = try rawMerges.enumerated().map { i, m -> (String, String) in
            if let pair = m as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let s = m as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
            }
            throw TokenizerError("\(file): merge \(i) is neither \"a b\" nor [a, b]")
        }
        var files = BPEFiles(vocab: vocab, merges: merges)
        files.endOfWordSuffix = model["end_of_word_suffix"] as? String ?? ""
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            if let content = entry["content"] as? String, let id = entry["id"] as? Int {
                files.addedTokens[content] = id
            }
        }
        return files
    }
}
