import Foundation

/// The usable entries of a dataset file, in file order, and what was skipped.
public struct Dataset<Entry> {
    public let file: URL
    public let entries: [Entry]
    public let skipped: SkippedEntries

    /// "FILE: skipped 2 of 10 entries — line 3: …; line 7: …", or nil when nothing was skipped.
    public var warning: String? {
        guard skipped.count > 0 else { return nil }
        return "\(file.path): skipped \(skipped.count) of \(skipped.count + entries.count) entries — \(skipped.summary)"
    }
}

/// How many entries were skipped, and the reasons for the first few ("line 3: field \"caption\" is missing").
public struct SkippedEntries: Equatable, Sendable {
    public var count = 0
    public var reasons: [String] = []
    /// How many reasons are kept for the warning.
    public static let reasonsKept = 5

    /// "line 3: …; line 7: …; and 4 more"
    public var summary: String {
        let more = count > reasons.count ? "; and \(count - reasons.count) more" : ""
        return reasons.joined(separator: "; ") + more
    }

    mutating func add(line: Int, _ problem: String) {
        count += 1
        if reasons.count < Self.reasonsKept { reasons.append("line \(line): \(problem)") }
    }
}

/// How strictly a dataset is loaded and where the warning about skipped entries goes.
public struct LoadOptions {
    /// The first bad entry is a thrown error (naming file, line and problem) instead of being skipped.
    public var strict = false
    /// Images above this many pixels count as bad (refused from the header).
    public var maxPixels = 178_956_970
    /// Receives the summary of skipped entries; stderr by default.
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }

    public init(strict: Bool = false) { self.strict = strict }
}
