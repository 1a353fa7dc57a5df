/// Bounds on what a template may do while parsing and rendering, so that a hostile or broken
/// template ends in a `TemplateError` instead of a hang, a crash or a huge allocation.
public struct TemplateLimits: Sendable, Equatable {
    /// UTF-8 bytes a render may write, captured blocks and macro output included.
    public var maxOutputBytes: Int
    /// Loop iterations, macro calls and elements that filters walk through, together.
    public var maxSteps: Int
    /// Nesting of expressions and of blocks in the source, and of macro calls while rendering.
    public var maxDepth: Int
    /// UTF-8 bytes of one string, or elements of one list, that an operation builds.
    public var maxValueSize: Int
    /// UTF-8 bytes of all strings that operations build during one render.
    public var maxBuiltBytes: Int
    /// UTF-8 bytes of a template's source.
    public var maxSourceBytes: Int

    public init(
        maxOutputBytes: Int = 4 << 20, maxSteps: Int = 1_000_000, maxDepth: Int = 100,
        maxValueSize: Int = 4 << 20, maxBuiltBytes: Int = 256 << 20, maxSourceBytes: Int = 4 << 20
    ) {
        self.maxOutputBytes = maxOutputBytes
        self.maxSteps = maxSteps
        self.maxDepth = maxDepth
        self.maxValueSize = maxValueSize
        self.maxBuiltBytes = maxBuiltBytes
        self.maxSourceBytes = maxSourceBytes
    }

    public static let `default` = TemplateLimits()

    /// jinja's sandbox refuses ranges longer than this (`MAX_RANGE`); transformers renders in it.
    static let maxRange = 100_000
}

/// What one render has used of its limits.
final class Budget {
    let limits: TemplateLimits
    private(set) var steps = 0
    private(set) var builtBytes = 0
    var outputBytes = 0
    var depth = 0
    let stack = StackGuard()

    init(_ limits: TemplateLimits) { self.limits = limits }

    /// Counts `n` loop iterations, macro calls or walked elements.
    func step(_ n: Int = 1) throws {
        steps += n
        if steps > limits.maxSteps {
            throw TemplateError.limit(
                "maxSteps",
                "more than \(limits.maxSteps) loop iterations, macro calls and "
                    + "filtered elements")
        }
    }

    /// Checks the size of a string being built, without counting it yet.
    func checkSize(_ bytes: Int) throws {
        if bytes > limits.maxValueSize {
            throw TemplateError.limit(
                "maxValueSize",
                "a string of \(bytes) bytes is longer than "
                    + "\(limits.maxValueSize)")
        }
    }

    /// Counts a string of `bytes` UTF-8 bytes that an operation builds, and checks its size.
    func built(_ bytes: Int) throws {
        if bytes > limits.maxValueSize {
            throw TemplateError.limit(
                "maxValueSize",
                "a string of \(bytes) bytes is longer than "
                    + "\(limits.maxValueSize)")
        }
        builtBytes += bytes
        if builtBytes > limits.maxBuiltBytes {
            throw TemplateError.limit("maxBuiltBytes", "the strings built passed \(limits.maxBuiltBytes) bytes")
        }
    }

    /// Checks the length of a list that an operation builds.
    func listSize(_ count: Int) throws {
        if count > limits.maxValueSize {
            throw TemplateError.limit(
                "maxValueSize",
                "a list of \(count) elements is longer than "
                    + "\(limits.maxValueSize)")
        }
        try walked(count)
    }

    /// Checks the size of `parts` joined by `separator` before joining them, and counts it.
    func joined(_ parts: [String], separator: String) throws -> String {
        var size = parts.isEmpty ? 0 : separator.utf8.count * (parts.count - 1)
        for p in parts {
            size += p.utf8.count
            try checkSize(size)
        }
        try built(size)
        return parts.joined(separator: separator)
    }

    /// Counts elements walked through to check a value's nesting.
    func walked(_ n: Int) throws {
        builtBytes += n * 8
        if builtBytes > limits.maxBuiltBytes {
            throw TemplateError.limit(
                "maxBuiltBytes",
                "the values built and checked passed "
                    + "\(limits.maxBuiltBytes) bytes")
        }
    }

    func wrote(_ bytes: Int) throws {
        outputBytes += bytes
        if outputBytes > limits.maxOutputBytes {
            throw TemplateError.limit("maxOutputBytes", "the output passed \(limits.maxOutputBytes) bytes")
        }
    }

    /// One level deeper in macro calls (`enter`) or in evaluation (`descend`), which bounds the stack.
    func enter(_ what: String) throws {
        try stack.check(what)
        depth += 1
        if depth > limits.maxDepth * 8 {
            throw TemplateError.limit("maxDepth", "\(what) nested more than \(limits.maxDepth * 8) levels deep")
        }
    }

    func leave() { depth -= 1 }
}
