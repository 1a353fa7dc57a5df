import Foundation

/// Where `strftime_now` reads the time: the system clock by default, a fixed date in tests.
public struct TemplateClock: Sendable {
    public var now: @Sendable () -> Date
    /// The zone of the printed time (Python's `datetime.now()` is local time).
    public var timeZone: TimeZone

    public init(timeZone: TimeZone = .current, now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
        self.timeZone = timeZone
    }

    public static let system = TemplateClock()

    /// Always `date`, printed in `timeZone` (UTC unless given).
    public static func fixed(
        _ date: Date, timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current
    )
        -> TemplateClock
    {
        TemplateClock(timeZone: timeZone) { date }
    }
}

/// The functions a template can call by name: jinja's `range`, `dict`, `namespace`, and
/// transformers' `raise_exception` and `strftime_now`.
enum Globals {
    static let names: Set<String> = ["range", "dict", "namespace", "raise_exception", "strftime_now"]

    static func call(_ name: String, _ args: Args, _ r: Renderer) throws -> Value {
        switch name {
        case "range": return try range(args)
        case "dict": return try r.checkedDepth(.dict(try keywordsDict(args, "dict", r.budget)))
        case "namespace":
            let attributes = try keywordsDict(args, "namespace", r.budget)
            try r.checkNamespaceValue(.dict(attributes))
            return .namespace(Namespace(attributes))
        case "raise_exception":
            let message = try args.get(0, "message")?.text(r.budget) ?? ""
            throw TemplateError(message, kind: .raised)
        case "strftime_now":
            try args.check("strftime_now", ["format"])
            guard let format = args.get(0, "format")?.string else { throw TemplateError("strftime_now needs a format") }
            let text = Strftime.format(format, r.clock.now(), r.clock.timeZone)
            try r.budget.built(text.utf8.count)
            return .string(text)
        default: throw TemplateError("'\(name)' is undefined")
        }
    }

    /// `dict(a=1)`, `namespace(x=0)`, also from one dict: `namespace(d, x=0)`.
    private static func keywordsDict(_ args: Args, _ function: String, _ budget: Budget) throws -> Dict {
        var d = Dict()
        guard args.positional.count <= 1 else { throw TemplateError("\(function) expected at most 1 argument") }
        if let first = args.positional.first {
            switch first {
            case .dict(let x): d = x
            case .list(let l), .tuple(let l):
                for pair in l {
                    guard let kv = pair.elements, kv.count == 2 else {
                        throw TemplateError("\(function): each element must be a key and a value")
                    }
                    d[try kv[0].text(budget)] = kv[1]
                }
            default: throw TemplateError("'\(first.typeName)' object is not iterable")
            }
        }
        for (k, v) in args.keywords {
            if function == "namespace", k.hasPrefix("_") {
                throw TemplateError("chat templates cannot store underscore-prefixed attributes on a namespace")
            }
            d[k] = v
        }
        return d
    }

    /// `range(stop)`, `range(start, stop[, step])`, at most 100,000 long as in jinja's sandbox, so
    /// a huge range is an error before anything is allocated.
    private static func range(_ args: Args) throws -> Value {
        guard args.keywords.isEmpty else { throw TemplateError("range() takes no keyword arguments") }
        let bounds = try args.positional.map { v -> Int in
            if case .undefined(let u) = v { throw u.error() }
            guard let i = v.integer else {
                throw TemplateError("'\(v.typeName)' object cannot be interpreted as an integer")
            }
            return i
        }
        let (start, stop, step): (Int, Int, Int)
        switch bounds.count {
        case 1: (start, stop, step) = (0, bounds[0], 1)
        case 2: (start, stop, step) = (bounds[0], bounds[1], 1)
        case 3: (start, stop, step) = (bounds[0], bounds[1], bounds[2])
        default: throw TemplateError("range expected 1 to 3 arguments, got \(bounds.count)")
        }
        guard step != 0 else { throw TemplateError("range() arg 3 must not be zero") }
        let span = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
        let magnitude = step == Int.min ? Int.max : abs(step)
        let count = span.overflow ? Int.max : (span.partialValue <= 0 ? 0 : (span.partialValue - 1) / magnitude + 1)
        guard count <= TemplateLimits.maxRange else {
            throw TemplateError(
                "Range too big. The sandbox blocks ranges larger than MAX_RANGE "
                    + "(\(TemplateLimits.maxRange)).")
        }
        return .list((0..<count).map { .int(start + $0 * step) })
    }
}

/// C's `strftime` in the C locale, as Python's `datetime.strftime` on Linux (glibc's `%-d` too).
enum Strftime {
    private static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ]

    static func format(_ format: String, _ date: Date, _ zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        var out = ""
        var chars = Array(format)[...]
        while let ch = chars.first {
            chars.removeFirst()
            guard ch == "%", let next = chars.first else { out.append(ch); continue }
            chars.removeFirst()
            var pad = true, directive = next
            if directive == "-", let d = chars.first {
                pad = false
                directive = d
                chars.removeFirst()
            }
            out += field(directive, c, dayOfYear, zone, date, pad: pad)
        }
        return out
    }

    private static func field(
        _ d: Character, _ c: DateComponents, _ dayOfYear: Int, _ zone: TimeZone, _ date: Date,
        pad: Bool
    ) -> String {
        func n(_ v: Int?, _ width: Int = 2, fill: Character = "0") -> String {
            let s = String(v ?? 0)
            return pad && s.count < width ? String(repeating: fill, count: width - s.count) + s : s
        }
        let hour = c.hour ?? 0, weekday = (c.weekday ?? 1) - 1, month = (c.month ?? 1) - 1
        let hour12 = hour % 12 == 0 ? 12 : hour % 12
        switch d {
        case "Y": return String(c.year ?? 0)
        case "y": return n((c.year ?? 0) % 100)
        case "m": return n(c.month)
        case "d": return n(c.day)
        case "e": return n(c.day, fill: " ")
        case "H": return n(hour)
        case "I": return n(hour12)
        case "M": return n(c.minute)
        case "S": return n(c.second)
        case "p": return hour < 12 ? "AM" : "PM"
        case "j": return n(dayOfYear, 3)
        case "a": return String(days[weekday].prefix(3))
        case "A": return days[weekday]
        case "b", "h": return String(months[month].prefix(3))
        case "B": return months[month]
        case "w": return String(weekday)
        case "u": return String(weekday == 0 ? 7 : weekday)
        case "D": return n(c.month) + "/" + n(c.day) + "/" + n((c.year ?? 0) % 100)
        case "F": return String(c.year ?? 0) + "-" + n(c.month) + "-" + n(c.day)
        case "T": return n(hour) + ":" + n(c.minute) + ":" + n(c.second)
        case "R": return n(hour) + ":" + n(c.minute)
        case "Z": return zone.abbreviation(for: date) ?? ""
        case "z":
            let seconds = zone.secondsFromGMT(for: date), m = abs(seconds) / 60
            return (seconds < 0 ? "-" : "+") + n(m / 60) + n(m % 60)
        case "n": return "\n"
        case "t": return "\t"
        case "%": return "%"
        default: return "%" + String(d)
        }
    }
}
