/// Which modules get an adapter, selected by dotted path as PEFT's `target_modules`.
public enum TargetModules: Equatable {
    /// Module names: a path matches when it equals a name or ends with "." + name
    /// (`q_proj` matches `model.layers.0.self_attn.q_proj`).
    case names([String])
    /// A regular expression that must match the whole dotted module path (Python's re.fullmatch).
    case pattern(String)

    func matcher() throws -> (String) -> Bool {
        switch self {
        case .names(let names):
            return { path in path.matchesModuleName(in: names) }
        case .pattern(let source):
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex(source) } catch {
                throw PEFTError("target module pattern \"\(source)\" is not a valid regular expression")
            }
            return { path in (try? regex.wholeMatch(in: path)) != nil }
        }
    }
}

extension String {
    /// PEFT's matching of a module path against names: equal to one, or ending with "." + one.
    func matchesModuleName(in names: [String]) -> Bool { names.contains { self == $0 || hasSuffix("." + $0) } }
}
