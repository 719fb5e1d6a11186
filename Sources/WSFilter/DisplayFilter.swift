// Display filters (-Y): compiled once into a tree of closures, applied to rows. Only the
// fields a filter names are ever read from a row: a filter costs what it tests.
import WSApp
import WSDecode
import WSDiagnosis
import WSTimeline

/// A compiled display filter.
public final class DisplayFilter: @unchecked Sendable {
    public let expression: String
    /// Names a field known only when a connection ends (`wstrace.verdict`, `wstrace.cause`):
    /// the filter is then tested once per connection (`matches(connection:)`), never on rows.
    public let connectionLevel: Bool
    /// Names a payload field: the analysis must keep payload bytes.
    public let needsPayload: Bool
    /// Names an application-protocol field.
    public let usesApp: Bool
    /// Names `tcp.stream`: a flow worker numbers its streams only at the merge, so such a filter
    /// runs on one thread.
    public let namesStream: Bool
    private let rowTest: RowTest
    private let connectionTest: ConnectionTest

    typealias RowTest = (TimelineEvent, Int64) -> Bool
    typealias ConnectionTest = (ConnectionSummary, () -> String) -> Bool

    /// Compiles `expression`; a syntax error or an unknown field throws, with where it is.
    public init(_ expression: String) throws(FilterError) {
        self.expression = expression
        var parser = try FilterParser(expression)
        let tree = try parser.parse()
        var fields: [FilterField] = []
        try Compiler.collect(tree, expression: expression, into: &fields)
        connectionLevel = fields.contains { $0.connectionLevel }
        needsPayload = fields.contains { $0.needsPayload }
        usesApp = fields.contains { $0.name == "app" || $0.name.hasPrefix("app.") || Compiler.appPrefixes.contains(String($0.name.split(separator: ".")[0])) }
        namesStream = fields.contains { $0.name == "tcp.stream" }
        let compiler = Compiler(expression: expression)
        rowTest = try compiler.row(tree)
        connectionTest = try compiler.connection(tree)
    }

    /// Whether a row matches. `firstTime`: the capture's first packet (frame.time_relative).
    @inline(__always)
    public func matches(_ e: TimelineEvent, firstTime: Int64) -> Bool {
        rowTest(e, firstTime)
    }

    /// Whether a connection matches on its own fields (connection-level filters).
    public func matches(connection s: ConnectionSummary) -> Bool {
        var cause: String?
        return connectionTest(s) {
            if let cause { return cause }
            let c = Diagnoser.diagnose(s).cause.rawValue
            cause = c
            return c
        }
    }
}

/// Applies a filter to one stream of rows and summaries (one thread or one flow worker):
/// keeps the rows that match, and the summaries of connections with at least one kept row
/// (or, for a connection-level filter, the connections that match).
public final class FilterGate {
    public let filter: DisplayFilter
    /// The capture's first packet time, for frame.time_relative.
    public var firstTime: Int64 = 0
    private var matchedStreams = Set<Int>()
    /// Rows kept so far.
    public private(set) var matched = 0

    public init(_ filter: DisplayFilter) {
        self.filter = filter
    }

    /// Whether the row is kept; a kept row marks its connection.
    public func keep(_ e: TimelineEvent) -> Bool {
        guard !filter.connectionLevel, filter.matches(e, firstTime: firstTime) else { return false }
        matched += 1
        if let s = e.stream { matchedStreams.insert(s) }
        return true
    }

    /// Whether the connection's summary is kept (called once, when it ends).
    public func keep(_ s: ConnectionSummary) -> Bool {
        if filter.connectionLevel { return filter.matches(connection: s) }
        return matchedStreams.remove(s.stream) != nil
    }
}

// MARK: - Compiling

struct Compiler {
    let expression: String

    static let appPrefixes: Set<String> = ["engineio", "socketio", "mqtt", "stomp", "graphql", "jsonrpc", "json"]

    private func fail(_ message: String, _ offset: Int, _ length: Int) -> FilterError {
        FilterError(message: message, offset: offset, length: length, expression: expression)
    }

    /// Every field the tree names (and an error for one that does not exist).
    static func collect(_ node: FilterNode, expression: String, into out: inout [FilterField]) throws(FilterError) {
        func field(_ name: String, _ offset: Int, _ length: Int) throws(FilterError) {
            guard let f = FilterFields.named(name) else {
                throw FilterError(message: "\"\(name)\" is neither a field nor a protocol name.", offset: offset,
                                  length: length, expression: expression)
            }
            out.append(f)
        }
        switch node {
        case let .and(a, b), let .or(a, b):
            try collect(a, expression: expression, into: &out)
            try collect(b, expression: expression, into: &out)
        case let .not(a): try collect(a, expression: expression, into: &out)
        case let .present(name, o, l), let .compare(name, o, l, _, _), let .contains(name, o, l, _),
             let .matches(name, o, l, _), let .member(name, o, l, _):
            try field(name, o, l)
        }
    }

    func row(_ node: FilterNode) throws(FilterError) -> DisplayFilter.RowTest {
        switch node {
        case let .and(a, b):
            let x = try row(a), y = try row(b)
            return { e, t in x(e, t) && y(e, t) }
        case let .or(a, b):
            let x = try row(a), y = try row(b)
            return { e, t in x(e, t) || y(e, t) }
        case let .not(a):
            let x = try row(a)
            return { e, t in !x(e, t) }
        default:
            let (field, test) = try leaf(node)
            guard let extract = field.row else { return { _, _ in false } }
            return { e, t in test { visit in extract(e, t, visit) } }
        }
    }

    func connection(_ node: FilterNode) throws(FilterError) -> DisplayFilter.ConnectionTest {
        switch node {
        case let .and(a, b):
            let x = try connection(a), y = try connection(b)
            return { s, c in x(s, c) && y(s, c) }
        case let .or(a, b):
            let x = try connection(a), y = try connection(b)
            return { s, c in x(s, c) || y(s, c) }
        case let .not(a):
            let x = try connection(a)
            return { s, c in !x(s, c) }
        default:
            let (field, test) = try leaf(node)
            guard let extract = field.connection else { return { _, _ in false } }
            return { s, c in test { visit in extract(s, c, visit) } }
        }
    }

    /// A leaf: its field, and a test over "call the visitor with each value" (any semantics).
    typealias Values = ((FieldValue) -> Bool) -> Bool
    private func leaf(_ node: FilterNode) throws(FilterError) -> (FilterField, (Values) -> Bool) {
        switch node {
        case let .present(name, _, _):
            return (FilterFields.named(name)!, { values in values { _ in true } })
        case let .compare(name, o, l, relation, lit):
            let field = FilterFields.named(name)!
            let value = try literal(lit, for: field, fieldOffset: o, fieldLength: l)
            if field.kind == .protocolOnly {
                throw fail("\"\(name)\" is a protocol: test it alone (present) or one of its fields.", o, l)
            }
            let equal: (FieldValue) -> Bool = { Compiler.equal($0, value) }
            switch relation {
            case .eq: return (field, { values in values(equal) })
            case .anyNe: return (field, { values in values { !equal($0) } })
            case .allNe: return (field, { values in values { _ in true } && !values(equal) })
            case .allEq: return (field, { values in values { _ in true } && !values { !equal($0) } })
            case .lt, .gt, .le, .ge:
                if field.kind == .boolean { throw fail("\"\(name)\" is a boolean: only == and != apply.", o, l) }
                let want: (Int) -> Bool
                switch relation {
                case .lt: want = { $0 < 0 }
                case .gt: want = { $0 > 0 }
                case .le: want = { $0 <= 0 }
                default: want = { $0 >= 0 }
                }
                return (field, { values in values { v in Compiler.order(v, value).map(want) ?? false } })
            }
        case let .contains(name, o, l, lit):
            let field = FilterFields.named(name)!
            guard field.kind == .string else {
                throw fail("\"\(name)\" is not a text field: \"contains\" needs one.", o, l)
            }
            let needle = Array(lit.text.utf8)
            return (field, { values in values { v in
                if case .string(let s) = v { return Compiler.contains(s, needle) }
                return false
            } })
        case let .matches(name, o, l, lit):
            let field = FilterFields.named(name)!
            guard field.kind == .string else {
                throw fail("\"\(name)\" is not a text field: \"matches\" needs one.", o, l)
            }
            let regex: Regex<AnyRegexOutput>
            do {
                regex = try Regex(lit.text).ignoresCase()
            } catch {
                throw fail("\"\(lit.text)\" is not a valid regular expression: \(error)", lit.offset, lit.length)
            }
            let box = RegexBox(regex)
            return (field, { values in values { v in
                if case .string(let s) = v { return (try? box.regex.firstMatch(in: s)) != nil }
                return false
            } })
        case let .member(name, o, l, items):
            let field = FilterFields.named(name)!
            if field.kind == .protocolOnly {
                throw fail("\"\(name)\" is a protocol: test it alone (present) or one of its fields.", o, l)
            }
            var tests: [(FieldValue) -> Bool] = []
            for (low, high) in items {
                let a = try literal(low, for: field, fieldOffset: o, fieldLength: l)
                if let high {
                    let b = try literal(high, for: field, fieldOffset: o, fieldLength: l)
                    tests.append { v in (Compiler.order(v, a).map { $0 >= 0 } ?? false) && (Compiler.order(v, b).map { $0 <= 0 } ?? false) }
                } else {
                    tests.append { v in Compiler.equal(v, a) }
                }
            }
            return (field, { values in values { v in tests.contains { $0(v) } } })
        default:
            fatalError("not a leaf")
        }
    }

    /// A literal read as the field's kind.
    enum Value {
        case int(Int64), double(Double), string(String), bool(Bool)
        case address(IPAddress, prefix: Int)
    }

    private func literal(_ lit: Literal, for field: FilterField, fieldOffset: Int, fieldLength: Int) throws(FilterError) -> Value {
        let text = lit.text
        switch field.kind {
        case .integer:
            if let v = Compiler.integer(text) { return .int(v) }
            throw fail("\"\(text)\" is not a valid number for \(field.name).", lit.offset, lit.length)
        case .boolean:
            switch text.lowercased() {
            case "1", "true": return .bool(true)
            case "0", "false": return .bool(false)
            default: throw fail("\"\(text)\" is not a valid boolean (1, 0, True or False) for \(field.name).", lit.offset, lit.length)
            }
        case .number:
            if let v = Double(text) { return .double(v) }
            if let v = Compiler.integer(text) { return .double(Double(v)) }
            throw fail("\"\(text)\" is not a valid number for \(field.name).", lit.offset, lit.length)
        case .string:
            return .string(text)
        case .address:
            if let (a, p) = AddressLiteral.parse(text) { return .address(a, prefix: p) }
            throw fail("\"\(text)\" is not a valid IP address for \(field.name).", lit.offset, lit.length)
        case .protocolOnly:
            throw fail("\"\(field.name)\" is a protocol: test it alone (present) or one of its fields.", fieldOffset, fieldLength)
        }
    }

    static func integer(_ text: String) -> Int64? {
        var t = Substring(text)
        var negative = false
        if t.hasPrefix("-") { negative = true; t = t.dropFirst() }
        let v: Int64?
        if t.hasPrefix("0x") || t.hasPrefix("0X") { v = Int64(t.dropFirst(2), radix: 16) }
        else if t.count > 1 && t.hasPrefix("0") && t.allSatisfy({ $0 >= "0" && $0 <= "7" }) { v = Int64(t.dropFirst(), radix: 8) }
        else { v = Int64(t) }
        return v.map { negative ? -$0 : $0 }
    }

    static func equal(_ v: FieldValue, _ x: Value) -> Bool {
        switch (v, x) {
        case let (.int(a), .int(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.address(a), .address(b, prefix)): return AddressLiteral.masked(a, prefix) == AddressLiteral.masked(b, prefix)
        default: return false
        }
    }

    /// -1, 0, 1 as v is below, equal to or above x; nil when they do not compare.
    static func order(_ v: FieldValue, _ x: Value) -> Int? {
        func cmp<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a == b ? 0 : 1) }
        switch (v, x) {
        case let (.int(a), .int(b)): return cmp(a, b)
        case let (.double(a), .double(b)): return cmp(a, b)
        case let (.string(a), .string(b)): return cmp(a, b)
        case let (.address(a), .address(b, _)): return cmp(a, b)
        default: return nil
        }
    }

    static func contains(_ s: String, _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        var s = s
        return s.withUTF8 { hay in
            guard hay.count >= needle.count else { return false }
            let first = needle[0]
            var i = 0
            let last = hay.count - needle.count
            while i <= last {
                if hay[i] == first {
                    var j = 1
                    while j < needle.count && hay[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return true }
                }
                i += 1
            }
            return false
        }
    }
}

/// A compiled regular expression, shared read-only by the threads that test rows.
final class RegexBox: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
}

/// IPv4 and IPv6 literals, with an optional /prefix (CIDR).
enum AddressLiteral {
    static func parse(_ text: String) -> (IPAddress, Int)? {
        var body = Substring(text)
        var prefix: Int? = nil
        if let slash = body.firstIndex(of: "/") {
            guard let p = Int(body[body.index(after: slash)...]) else { return nil }
            prefix = p
            body = body[..<slash]
        }
        if let v4 = ipv4(body) {
            let p = prefix ?? 32
            guard (0...32).contains(p) else { return nil }
            return (IPAddress(ipv4: v4), p)
        }
        if let (hi, lo) = ipv6(body) {
            let p = prefix ?? 128
            guard (0...128).contains(p) else { return nil }
            return (IPAddress(ipv6High: hi, low: lo), p)
        }
        return nil
    }

    static func ipv4(_ s: Substring) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, let n = UInt32(p), n <= 255 else { return nil }
            v = v << 8 | n
        }
        return v
    }

    static func ipv6(_ s: Substring) -> (UInt64, UInt64)? {
        guard s.contains(":") else { return nil }
        var groups: [UInt16] = []
        var halves: [Substring] = []
        var rest = s
        while let r = rest.firstRange(of: "::") {
            halves.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        halves.append(rest)
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if i == items.count - 1, item.contains("."), let v4 = ipv4(item) {
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                } else {
                    guard !item.isEmpty, item.count <= 4, let g = UInt16(item, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let head = parseGroups(halves[0]) else { return nil }
        if halves.count == 2 {
            guard let tail = parseGroups(halves[1]), head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            groups = head
        }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(groups[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(groups[i]) }
        return (hi, lo)
    }

    /// The address with the bits past `prefix` cleared.
    static func masked(_ a: IPAddress, _ prefix: Int) -> IPAddress {
        if !a.isIPv6 {
            let p = min(prefix, 32)
            let mask: UInt32 = p == 0 ? 0 : ~UInt32(0) << UInt32(32 - p)
            return IPAddress(ipv4: UInt32(truncatingIfNeeded: a.low) & mask)
        }
        let p = min(prefix, 128)
        let hiMask: UInt64 = p >= 64 ? ~0 : (p == 0 ? 0 : ~UInt64(0) << UInt64(64 - p))
        let loMask: UInt64 = p <= 64 ? 0 : (p == 128 ? ~0 : ~UInt64(0) << UInt64(128 - p))
        return IPAddress(ipv6High: a.high & hiMask, low: a.low & loMask)
    }
}
