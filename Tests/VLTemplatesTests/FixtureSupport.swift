import Foundation
import VLTemplates
import XCTest

/// Tests/Fixtures/chat_templates.json (tools/fixtures/make_chat_template_fixtures.py): real templates and
/// what transformers renders from them.
struct TemplateFixtures {
    struct Case {
        let template: String
        let conversation: String
        let variables: [String: TemplateValue]
        /// What transformers rendered, or nil when it failed.
        let text: String?
        let error: String?
        /// The failure was the template's own `raise_exception`.
        let raised: Bool
    }

    let templates: [String: String]
    let cases: [Case]
    /// strftime_now's fixed time in the fixtures (naive there, UTC here).
    let clock: TemplateClock

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func load() throws -> TemplateFixtures {
        let data = try Data(contentsOf: directory.appendingPathComponent("chat_templates.json"))
        guard case .dict(let root, _) = try TemplateValue(parsingJSON: String(decoding: data, as: UTF8.self)),
            case .dict(let templateList, _)? = root["templates"],
            case .dict(let conversations, _)? = root["conversations"],
            case .list(let caseList)? = root["cases"], case .dict(let specials, _)? = root["special_tokens"],
            case .string(let now)? = root["strftime_now"]
        else { throw TemplateError("malformed fixture file") }
        var templates: [String: String] = [:]
        for (name, entry) in templateList {
            guard case .dict(let t, _) = entry else { continue }
            if case .string(let text)? = t["text"] {
                templates[name] = text
            } else if case .string(let file)? = t["file"] {
                templates[name] = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            }
        }
        let cases = caseList.compactMap { entry -> Case? in
            guard case .dict(let c, _) = entry, case .string(let template)? = c["template"],
                case .string(let conversation)? = c["conversation"],
                case .dict(let conv, _)? = conversations[conversation]
            else { return nil }
            var variables: [String: TemplateValue] = specials
            if case .dict(let extra, _)? = c["variables"] { variables.merge(extra) { $1 } }
            variables["messages"] = conv["messages"]
            // transformers always passes `tools` and `documents`, None when there are none.
            variables["tools"] = conv["tools"] ?? TemplateValue.none
            variables["documents"] = TemplateValue.none
            variables["add_generation_prompt"] = c["add_generation_prompt"] ?? .bool(false)
            func string(_ k: String) -> String? { if case .string(let s)? = c[k] { return s }; return nil }
            return Case(
                template: template, conversation: conversation, variables: variables, text: string("text"),
                error: string("error"), raised: c["raised"] == .bool(true))
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        guard let date = formatter.date(from: now) else { throw TemplateError("bad strftime_now \(now)") }
        return TemplateFixtures(templates: templates, cases: cases, clock: .fixed(date))
    }
}

/// The fixtures' one-feature snippets (VLKit's own, rendered by transformers too).
struct TemplateSnippets {
    struct Snippet {
        let source: String
        let text: String?
        let error: String?
        let raised: Bool
    }

    let variables: [String: TemplateValue]
    let snippets: [Snippet]

    static func load() throws -> TemplateSnippets {
        let data = try Data(contentsOf: TemplateFixtures.directory.appendingPathComponent("chat_templates.json"))
        guard case .dict(let root, _) = try TemplateValue(parsingJSON: String(decoding: data, as: UTF8.self)),
            case .dict(var variables, _)? = root["snippet_variables"], case .list(let list)? = root["snippets"],
            case .dict(let specials, _)? = root["special_tokens"]
        else {
            throw TemplateError("malformed fixture file")
        }
        variables.merge(specials) { a, _ in a }
        variables["tools"] = TemplateValue.none
        variables["documents"] = TemplateValue.none
        variables["add_generation_prompt"] = .bool(false)
        let snippets = list.compactMap { entry -> Snippet? in
            guard case .dict(let s, _) = entry, case .string(let source)? = s["source"] else { return nil }
            func string(_ k: String) -> String? { if case .string(let x)? = s[k] { return x }; return nil }
            return Snippet(
                source: source, text: string("text"), error: string("error"),
                raised: s["raised"] == .bool(true))
        }
        return TemplateSnippets(variables: variables, snippets: snippets)
    }
}
