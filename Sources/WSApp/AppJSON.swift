// The App stage's JSON: a small strict parser over borrowed bytes (no Foundation), a value tree,
// and a compact serializer. Nesting is capped (64), every read is bounds-checked, and strings come
// out as valid Swift Strings (invalid UTF-8 and lone surrogates become U+FFFD), so whatever the
// serializer writes is valid JSON. A "partial" parse keeps the complete members of a top-level
// object or array whose text was cut short (a message kept only in part). Containers deeper than
// the caller's `expand` depth are not built as trees: they are validated and written straight
// into compact text (`.raw`), so a large payload costs one output buffer, not a tree.

/// A parsed JSON value. Numbers keep their text (validated against the JSON grammar).
indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])
    /// A container left unexpanded: its compact JSON text (validated, re-serialized).
    case raw(String)
}

/// One member of a JSON object, in text order (duplicates kept; lookups take the first).
struct JSONMember: Equatable, Sendable {
    var key: String
    var value: JSONValue
}

/// Where and why a text is not JSON. `offset` is 0-based; at the end of the input it equals
/// the input's length.
struct JSONError: Error, Sendable {
    var offset: Int
    var reason: String
    var description: String { "JSON does not parse at byte \(offset): \(reason)" }
}

enum JSONParseResult {
    case value(JSONValue)
    /// The input ended inside a top-level object or array: its complete members.
    case partial(JSONValue)
    case failure(JSONError)
}

extension JSONValue {
    /// The first member named `key` of an object (nil otherwise).
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for m in members where m.key == key { return m.value }
        return nil
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var isObject: Bool {
        switch self {
        case .object: return true
        case .raw(let text): return text.utf8.first == 0x7B
        default: return false
        }
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// An integer number that fits Int64 (no fraction, no exponent).
    var intValue: Int64? {
        guard case .number(let text) = self else { return nil }
        return parseInt64(text)
    }

    /// The value as an AppValue: strings, integers, booleans and null as themselves, the rest
    /// (objects, arrays, other numbers) as compact JSON text.
    var appValue: AppValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .number(let n):
            if let i = parseInt64(n) { return .int(i) }
            return .json(n)
        case .array, .object: return .json(compact)
        case .raw(let text): return .json(text)
        }
    }

    /// An id as AppValue: `.int`, `.string` or `.null` (other numbers as their text).
    var idValue: AppValue {
        switch self {
        case .string(let s): return .string(s)
        case .number(let n):
            if let i = parseInt64(n) { return .int(i) }
            return .string(n)
        default: return .null
        }
    }

    /// Compact JSON text.
    var compact: String {
        if case .raw(let text) = self { return text }
        var out: [UInt8] = []
        out.reserveCapacity(64)
        JSONValue.write(self, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func write(_ v: JSONValue, into out: inout [UInt8]) {
        switch v {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b):
            if b { out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
        case .number(let n): out.append(contentsOf: n.utf8)
        case .raw(let text): out.append(contentsOf: text.utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(0x5B)
            for (k, e) in a.enumerated() {
                if k > 0 { out.append(0x2C) }
                write(e, into: &out)
            }
            out.append(0x5D)
        case .object(let members):
            out.append(0x7B)
            for (k, m) in members.enumerated() {
                if k > 0 { out.append(0x2C) }
                writeString(m.key, into: &out)
                out.append(0x3A)
                write(m.value, into: &out)
            }
            out.append(0x7D)
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { writeString(UnsafeRawBufferPointer($0), into: &out) }
    }

    /// The JSON string of UTF-8 `bytes`: the runs with nothing to escape appended whole (one
    /// append per byte cost about twenty instructions a byte of every JSON message).
    static func writeString(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(0x22)
        var run = 0
        for k in 0..<bytes.count {
            let b = bytes[k]
            if b >= 0x20 && b != 0x22 && b != 0x5C { continue }
            if k > run { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<k])) }
            run = k + 1
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            default:
                let hex: StaticString = "0123456789abcdef"
                let digits = hex.utf8Start
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, digits[Int(b >> 4)], digits[Int(b & 0xF)]])
            }
        }
        if bytes.count > run { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run...])) }
        out.append(0x22)
    }
}

/// A JSON string literal for `s` (for info texts).
func jsonQuoted(_ s: String) -> String {
    var out: [UInt8] = []
    JSONValue.writeString(s, into: &out)
    return String(decoding: out, as: UTF8.self)
}

/// An optionally signed decimal integer that fits Int64; nil otherwise.
func parseInt64<S: StringProtocol>(_ text: S) -> Int64? {
    var neg = false
    var v: Int64 = 0
    var digits = 0
    for (k, b) in text.utf8.enumerated() {
        if k == 0 && b == 0x2D { neg = true; continue }
        guard b >= 0x30 && b <= 0x39 else { return nil }
        let d = Int64(b &- 0x30)
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        if o1 { return nil }
        let (r, o2) = neg ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
        if o2 { return nil }
        v = r
        digits += 1
    }
    return digits > 0 ? v : nil
}

/// At most `limit` characters of `s`, with "…" when it was longer.
func clip(_ s: String, _ limit: Int = 80) -> String {
    if s.utf8.count <= limit { return s }
    var end = s.startIndex
    var n = 0
    while n < limit, end < s.endIndex { end = s.index(after: end); n += 1 }
    if end == s.endIndex { return s }
    return String(s[s.startIndex..<end]) + "…"
}

/// A strict JSON parser (RFC 8259) over borrowed bytes.
struct JSONParser {
    static let maxDepth = 64

    let p: UnsafeRawBufferPointer
    var i: Int
    let allowPartial: Bool
    /// Containers at a depth over this (the top level is depth 1) become `.raw` compact text.
    let expand: Int
    var wasPartial = false

    /// Parses all of `bytes` as one JSON value (whitespace around it allowed). `expand`: the
    /// depth down to which containers are built as trees (0: the whole value as `.raw`).
    static func parse(_ bytes: UnsafeRawBufferPointer, partial: Bool = false, expand: Int = Int.max) -> JSONParseResult {
        var parser = JSONParser(p: bytes, i: 0, allowPartial: partial, expand: partial ? max(expand, 1) : expand)
        do throws(JSONError) {
            parser.skipWS()
            let v = try parser.value(depth: 0)
            if parser.wasPartial { return .partial(v) }
            parser.skipWS()
            if parser.i < bytes.count {
                return .failure(JSONError(offset: parser.i, reason: "data after the value"))
            }
            return .value(v)
        } catch {
            return .failure(error)
        }
    }

    static func parse(_ bytes: [UInt8], partial: Bool = false, expand: Int = Int.max) -> JSONParseResult {
        bytes.withUnsafeBytes { parse($0, partial: partial, expand: expand) }
    }

    static func parse(_ s: String, expand: Int = Int.max) -> JSONParseResult {
        var s = s
        return s.withUTF8 { parse(UnsafeRawBufferPointer($0), expand: expand) }
    }

    @inline(__always) func peek() -> UInt8? { i < p.count ? p[i] : nil }

    mutating func skipWS() {
        while i < p.count {
            let b = p[i]
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 } else { break }
        }
    }

    func fail(_ reason: String) -> JSONError { JSONError(offset: i, reason: reason) }
    func eof() -> JSONError { JSONError(offset: p.count, reason: "the text ends inside a value") }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard let b = peek() else { throw eof() }
        if (b == 0x7B || b == 0x5B) && depth + 1 > expand {
            var out: [UInt8] = []
            out.reserveCapacity(64)
            try writeCompact(depth: depth, &out)
            return .raw(String(decoding: out, as: UTF8.self))
        }
        switch b {
        case 0x7B: return try object(depth: depth + 1)
        case 0x5B: return try array(depth: depth + 1)
        case 0x22: return .string(try string())
        case 0x74: try literal([0x74, 0x72, 0x75, 0x65]); return .bool(true)
        case 0x66: try literal([0x66, 0x61, 0x6C, 0x73, 0x65]); return .bool(false)
        case 0x6E: try literal([0x6E, 0x75, 0x6C, 0x6C]); return .null
        case 0x2D, 0x30...0x39: return .number(try number())
        default: throw fail("unexpected character \(printable(b))")
        }
    }

    func printable(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'" + String(UnicodeScalar(b)) + "'" }
        let hex = Array("0123456789abcdef")
        return "0x" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 0xF)])
    }

    /// Validates the value at `i` (inside a container at `depth`) and writes it as compact JSON.
    mutating func writeCompact(depth: Int, _ out: inout [UInt8]) throws(JSONError) {
        guard let b = peek() else { throw eof() }
        switch b {
        case 0x7B, 0x5B:
            let close: UInt8 = b == 0x7B ? 0x7D : 0x5D
            let isObject = b == 0x7B
            guard depth + 1 <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
            i += 1
            out.append(b)
            skipWS()
            if peek() == close { i += 1; out.append(close); return }
            while true {
                skipWS()
                if isObject {
                    guard let q = peek() else { throw eof() }
                    guard q == 0x22 else { throw fail("an object key must be a string") }
                    try writeStringToken(&out)
                    skipWS()
                    guard let c = peek() else { throw eof() }
                    guard c == 0x3A else { throw fail("expected ':' after an object key") }
                    i += 1
                    out.append(0x3A)
                    skipWS()
                }
                try writeCompact(depth: depth + 1, &out)
                skipWS()
                guard let sep = peek() else { throw eof() }
                if sep == 0x2C { i += 1; out.append(0x2C); continue }
                if sep == close { i += 1; out.append(close); return }
                throw fail(isObject ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array")
            }
        case 0x22: try writeStringToken(&out)
        case 0x74: try literal([0x74, 0x72, 0x75, 0x65]); out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case 0x66: try literal([0x66, 0x61, 0x6C, 0x73, 0x65]); out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case 0x6E: try literal([0x6E, 0x75, 0x6C, 0x6C]); out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case 0x2D, 0x30...0x39: out.append(contentsOf: try number().utf8)
        default: throw fail("unexpected character \(printable(b))")
        }
    }

    /// The string at `i` written as `JSONValue.writeString(try string())` writes it: a string
    /// without an escape or a control byte (most keys and values) is the same text, copied as it
    /// is; anything else is decoded and written again. Bytes that are not UTF-8 are copied too:
    /// the compact text becomes a `String` (`value`), which replaces them as `string()` does (a
    /// sequence never spans the closing quote, which is not a continuation byte).
    mutating func writeStringToken(_ out: inout [UInt8]) throws(JSONError) {
        let end = plainRunEnd(from: i + 1)
        if end < p.count && p[end] == 0x22 {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[i...end]))
            i = end + 1
            return
        }
        JSONValue.writeString(try string(), into: &out)
    }

    /// Where the plain run of a string from `start` ends: the first quote, backslash or control
    /// byte, or the end of the text. Eight bytes a step while a word has none, in a local index
    /// (the stored one cost a load and a store a byte).
    func plainRunEnd(from start: Int) -> Int {
        let n = p.count
        var j = start
        while j + 8 <= n && JSONParser.plainWord(p.loadUnaligned(fromByteOffset: j, as: UInt64.self)) { j += 8 }
        while j < n {
            let b = p[j]
            if b == 0x22 || b == 0x5C || b < 0x20 { break }
            j += 1
        }
        return j
    }

    /// Whether none of the 8 bytes of `x` ends a string's plain run: no quote, backslash or
    /// control byte (a word that has one is then read byte by byte).
    @inline(__always)
    static func plainWord(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // A byte below 0x20 among ASCII bytes (a byte of 0x80 or more is never flagged here).
        let below = (x &- ones &* 0x20) & ~x & highs
        let quote = x ^ (ones &* 0x22), slash = x ^ (ones &* 0x5C)
        let equal = ((quote &- ones) & ~quote | (slash &- ones) & ~slash) & highs
        return below | equal == 0
    }

    mutating func literal(_ word: [UInt8]) throws(JSONError) {
        for w in word {
            guard i < p.count else { throw eof() }
            guard p[i] == w else { throw fail("unexpected character \(printable(p[i]))") }
            i += 1
        }
    }

    mutating func number() throws(JSONError) -> String {
        let start = i
        if peek() == 0x2D { i += 1 }
        guard let first = peek() else { throw eof() }
        if first == 0x30 {
            i += 1
        } else if first >= 0x31 && first <= 0x39 {
            while let d = peek(), d >= 0x30 && d <= 0x39 { i += 1 }
        } else {
            throw fail("a number needs a digit")
        }
        if peek() == 0x2E {
            i += 1
            guard let d = peek() else { throw eof() }
            guard d >= 0x30 && d <= 0x39 else { throw fail("a fraction needs a digit") }
            while let d = peek(), d >= 0x30 && d <= 0x39 { i += 1 }
        }
        if let e = peek(), e == 0x65 || e == 0x45 {
            i += 1
            if let s = peek(), s == 0x2B || s == 0x2D { i += 1 }
            guard let d = peek() else { throw eof() }
            guard d >= 0x30 && d <= 0x39 else { throw fail("an exponent needs a digit") }
            while let d = peek(), d >= 0x30 && d <= 0x39 { i += 1 }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard i < p.count else { throw eof() }
            let b = p[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws(JSONError) -> String {
        i += 1 // opening quote
        let start = i
        // Fast path: no escapes.
        i = plainRunEnd(from: start)
        guard i < p.count else { throw eof() }
        if p[i] == 0x22 {
            i += 1
            return String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<(i - 1)]), as: UTF8.self)
        }
        if p[i] < 0x20 { throw fail("a control character inside a string") }
        var out: [UInt8] = []
        out.reserveCapacity(i - start + 16)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[start..<i]))
        while i < p.count {
            let b = p[i]
            if b == 0x22 {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail("a control character inside a string") }
            if b != 0x5C { out.append(b); i += 1; continue }
            i += 1
            guard i < p.count else { throw eof() }
            let e = p[i]
            i += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var cp = try hex4()
                if cp >= 0xD800 && cp < 0xDC00 {
                    // A high surrogate: a low one must follow, else U+FFFD.
                    if i + 1 < p.count, p[i] == 0x5C, p[i + 1] == 0x75 {
                        let save = i
                        i += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            cp = 0xFFFD
                            i = save
                        }
                    } else {
                        cp = 0xFFFD
                    }
                } else if cp >= 0xDC00 && cp < 0xE000 {
                    cp = 0xFFFD
                }
                appendUTF8(cp, &out)
            default:
                i -= 1
                throw fail("bad escape \\\(printable(e))")
            }
        }
        throw eof()
    }

    func appendUTF8(_ cp: UInt32, _ out: inout [UInt8]) {
        if cp < 0x80 {
            out.append(UInt8(cp))
        } else if cp < 0x800 {
            out.append(UInt8(0xC0 | (cp >> 6)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        } else if cp < 0x10000 {
            out.append(UInt8(0xE0 | (cp >> 12)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (cp >> 18)))
            out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }

    /// At depth 1 with `allowPartial`, an end of input inside the container returns the complete
    /// members so far (a trailing number is dropped: its text may have been cut).
    mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
        i += 1
        var members: [JSONMember] = []
        skipWS()
        if peek() == 0x7D { i += 1; return .object(members) }
        while true {
            do throws(JSONError) {
                skipWS()
                guard let b = peek() else { throw eof() }
                guard b == 0x22 else { throw fail("an object key must be a string") }
                let key = try string()
                skipWS()
                guard let c = peek() else { throw eof() }
                guard c == 0x3A else { throw fail("expected ':' after an object key") }
                i += 1
                skipWS()
                let v = try value(depth: depth)
                members.append(JSONMember(key: key, value: v))
                if wasPartial { return .object(members) }
                skipWS()
                guard let s = peek() else {
                    if case .number = v { members.removeLast() }
                    throw eof()
                }
                if s == 0x2C { i += 1; continue }
                if s == 0x7D { i += 1; return .object(members) }
                throw fail("expected ',' or '}' in an object")
            } catch {
                if depth == 1 && allowPartial && error.offset >= p.count {
                    wasPartial = true
                    return .object(members)
                }
                throw error
            }
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
        i += 1
        var elements: [JSONValue] = []
        skipWS()
        if peek() == 0x5D { i += 1; return .array(elements) }
        while true {
            do throws(JSONError) {
                skipWS()
                let v = try value(depth: depth)
                elements.append(v)
                if wasPartial { return .array(elements) }
                skipWS()
                guard let s = peek() else {
                    if case .number = v { elements.removeLast() }
                    throw eof()
                }
                if s == 0x2C { i += 1; continue }
                if s == 0x5D { i += 1; return .array(elements) }
                throw fail("expected ',' or ']' in an array")
            } catch {
                if depth == 1 && allowPartial && error.offset >= p.count {
                    wasPartial = true
                    return .array(elements)
                }
                throw error
            }
        }
    }
}
