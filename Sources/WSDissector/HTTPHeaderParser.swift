#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A parsed HTTP/1.x start line and header fields.
struct HTTPHead: Sendable {
    enum StartLine: Sendable {
        case request(method: String, target: String, version: String)
        case response(version: String, status: Int, reason: String)
    }
    var startLine: StartLine
    var headers: [HTTPHeader]

    /// Values of every field named `name` (case-insensitive), in order.
    func values(_ name: String) -> [String] {
        headers.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    func first(_ name: String) -> String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }

    /// The comma-separated tokens of every field named `name`, trimmed.
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { splitList($0) }
    }

    /// What the opening handshake reads of a head, from one pass over its fields: walking
    /// every field and comparing every name once per name read (`first`, `values`), seven
    /// walks a request, cost about 5,000 instructions a connection. Each field is what `first`
    /// gives: the first value of its name, ignoring ASCII case.
    struct HandshakeFields {
        var host: String?
        var origin: String?
        var key: String?
        var version: String?
        var accept: String?
        /// An `Upgrade` field lists `websocket` (`listContains`, as `splitList` splits it).
        var upgradeWebSocket = false
        /// A `Sec-WebSocket-Protocol` field is present (its tokens are then read as before).
        var hasProtocols = false
        /// A `Sec-WebSocket-Extensions` field is present.
        var hasExtensions = false
    }

    func handshakeFields() -> HandshakeFields {
        var f = HandshakeFields()
        for header in headers {
            let name = header.name
            // `name` has the literal's length here. For an ASCII literal, String's equality
            // (canonical equivalence) then means the same bytes: a character equivalent to
            // ASCII ones (KELVIN SIGN for K) is longer than they are. It answers the usual,
            // exact spelling at once (a known name is the very literal the parser made it from).
            @inline(__always) func named(_ literal: String) -> Bool {
                name == literal || asciiCaseInsensitiveEquals(name, literal)
            }
            // Only a name of the right length is compared: most fields are rejected here.
            switch name.utf8.count {
            case 4:
                if f.host == nil && named("Host") { f.host = header.value }
            case 6:
                if f.origin == nil && named("Origin") { f.origin = header.value }
            case 7:
                if !f.upgradeWebSocket && named("Upgrade") {
                    f.upgradeWebSocket = listContains(header.value, "websocket")
                }
            case 17:
                if f.key == nil && named("Sec-WebSocket-Key") { f.key = header.value }
            case 20:
                if f.accept == nil && named("Sec-WebSocket-Accept") { f.accept = header.value }
            case 21:
                if f.version == nil && named("Sec-WebSocket-Version") { f.version = header.value }
            case 22:
                if !f.hasProtocols { f.hasProtocols = named("Sec-WebSocket-Protocol") }
            case 24:
                if !f.hasExtensions { f.hasExtensions = named("Sec-WebSocket-Extensions") }
            default:
                break
            }
        }
        return f
    }
}

/// Why a header block could not be parsed.
enum HTTPParseError: Error, Sendable, Equatable {
    case badStartLine
}

/// Parsing of a complete header block (start line to the empty line, CRLF or bare LF).
enum HTTPHeaderParser {
    /// Index just past the end of the header block (after the empty line) in `bytes`, searching
    /// from `from` (resume point of an earlier search), or nil.
    static func endOfBlock(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = max(from, 0)
        while let lf = bytes.offset(of: 0x0A, from: i) {
            if lf >= 1 && bytes[lf - 1] == 0x0A { return lf + 1 }
            if lf >= 2 && bytes[lf - 1] == 0x0D && bytes[lf - 2] == 0x0A { return lf + 1 }
            i = lf + 1
        }
        return nil
    }

    /// Whether `bytes` may begin an HTTP request: an upper-case method token then a space.
    /// `nil` when too few bytes to tell.
    static func looksLikeRequest(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        for (index, byte) in bytes.enumerated() {
            if index > 20 { return false }
            if byte == 0x20 { return index > 0 }
            if !(byte >= 0x41 && byte <= 0x5A) && byte != 0x2D && byte != 0x5F { return false }
        }
        return nil
    }

    /// Whether `bytes` may begin an HTTP response ("HTTP/"); nil when too few bytes.
    static func looksLikeResponse(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        let prefix: [UInt8] = Array("HTTP/".utf8)
        for (index, byte) in bytes.prefix(prefix.count).enumerated() where byte != prefix[index] { return false }
        return bytes.count >= prefix.count ? true : nil
    }

    static func parse(_ block: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPHead {
        // Lines as byte ranges (a CR before the LF dropped), walked as they are found: only the
        // start line and each field's name and value become Strings. Empty lines are skipped;
        // an empty start line is no start line.
        @inline(__always) func line(from lineStart: Int) -> (range: Range<Int>, next: Int) {
            let index = block.offset(of: 0x0A, from: lineStart) ?? block.count
            var lineEnd = index
            if lineEnd > lineStart && block[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            return (lineStart..<lineEnd, index + 1)
        }
        let (firstRange, afterFirst) = line(from: 0)
        guard !firstRange.isEmpty else { throw .badStartLine }
        let parts: StartLinePieces
        let isResponse: Bool
        if let ascii = startLinePieces(block, firstRange) {
            // An ASCII line: its Characters are its bytes.
            parts = ascii
            isResponse = hasPrefix(block, firstRange, "HTTP/")
        } else {
            let first = text(block, firstRange)
            var pieces = StartLinePieces()
            for piece in first.split(separator: " ", maxSplits: 2) { pieces.append(String(piece)) }
            parts = pieces
            isResponse = first.hasPrefix("HTTP/")
        }
        let startLine: HTTPHead.StartLine
        if isResponse {
            guard parts.count >= 2, let status = Int(parts.second), (100...999).contains(status) else { throw .badStartLine }
            startLine = .response(version: parts.first, status: status, reason: parts.count > 2 ? parts.third : "")
        } else {
            guard parts.count == 3, parts.third.hasPrefix("HTTP/") else { throw .badStartLine }
            startLine = .request(method: parts.first, target: parts.second, version: parts.third)
        }
        var fieldLines = 0
        var at = afterFirst
        while at <= block.count, let lf = block.offset(of: 0x0A, from: at) {
            fieldLines += 1
            at = lf + 1
        }
        var headers: [HTTPHeader] = []
        headers.reserveCapacity(fieldLines + 1)
        var lineStart = afterFirst
        while lineStart <= block.count {
            let (line, next) = line(from: lineStart)
            lineStart = next
            guard !line.isEmpty else { continue }
            let lead = block[line.lowerBound]
            if (lead == 0x20 || lead == 0x09) && !headers.isEmpty {
                // obs-fold: continuation of the previous value.
                headers[headers.count - 1].value += " " + text(block, trimmed(block, line))
                continue
            }
            guard let colon = UnsafeRawBufferPointer(rebasing: block[..<line.upperBound]).offset(of: 0x3A, from: line.lowerBound)
            else { continue }
            let nameRange = line.lowerBound..<colon
            headers.append(HTTPHeader(name: knownText(block, nameRange) ?? text(block, nameRange),
                                      value: text(block, trimmed(block, colon + 1..<line.upperBound))))
        }
        return HTTPHead(startLine: startLine, headers: headers)
    }

    /// Up to three pieces of a start line, kept without an array (two heads a connection).
    struct StartLinePieces {
        private(set) var count = 0
        private(set) var first = ""
        private(set) var second = ""
        private(set) var third = ""

        mutating func append(_ piece: String) {
            switch count {
            case 0: first = piece
            case 1: second = piece
            default: third = piece
            }
            count += 1
        }
    }

    /// An ASCII start line split at spaces as `split(separator: " ", maxSplits: 2)` splits it
    /// (empty pieces left out, the third piece the rest of the line as it is), on bytes: the
    /// generic split walks Characters, about 8,000 instructions a line. Nil for a line with
    /// other bytes (there a space may begin a grapheme: the Character split decides).
    static func startLinePieces(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> StartLinePieces? {
        var parts = StartLinePieces()
        var start = range.lowerBound
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = block[index]
            guard byte < 0x80 else { return nil }
            if byte == 0x20 {
                if index > start { parts.append(text(block, start..<index)) }
                index += 1
                start = index
                if parts.count == 2 { break }
                continue
            }
            index += 1
        }
        for byte in UnsafeRawBufferPointer(rebasing: block[index..<range.upperBound]) where byte >= 0x80 { return nil }
        if start < range.upperBound {
            parts.append(knownText(block, start..<range.upperBound) ?? text(block, start..<range.upperBound))
        }
        return parts
    }

    /// Whether the bytes in `range` begin with `prefix`.
    static func hasPrefix(_ block: UnsafeRawBufferPointer, _ range: Range<Int>, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        return range.count >= n && memcmp(block.baseAddress! + range.lowerBound, prefix.utf8Start, n) == 0
    }

    /// The literal for bytes that spell a header name of a WebSocket handshake (or the 101's
    /// reason) exactly: no String is made, validated and, past 15 bytes, allocated for them
    /// (two heads a connection, a dozen names each). Nil for anything else.
    static func knownText(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        @inline(__always) func spells(_ literal: StaticString) -> Bool {
            memcmp(block.baseAddress! + range.lowerBound, literal.utf8Start, range.count) == 0
        }
        switch range.count {
        case 4: return spells("Host") ? "Host" : spells("Date") ? "Date" : nil
        case 6: return spells("Origin") ? "Origin" : spells("Server") ? "Server" : spells("Cookie") ? "Cookie"
            : spells("Pragma") ? "Pragma" : spells("Accept") ? "Accept" : nil
        case 7: return spells("Upgrade") ? "Upgrade" : nil
        case 10: return spells("Connection") ? "Connection" : spells("User-Agent") ? "User-Agent" : nil
        case 12: return spells("Content-Type") ? "Content-Type" : nil
        case 13: return spells("Cache-Control") ? "Cache-Control" : nil
        case 14: return spells("Content-Length") ? "Content-Length" : nil
        case 15: return spells("Accept-Encoding") ? "Accept-Encoding" : spells("Accept-Language") ? "Accept-Language" : nil
        case 17: return spells("Sec-WebSocket-Key") ? "Sec-WebSocket-Key" : spells("Transfer-Encoding") ? "Transfer-Encoding" : nil
        case 19: return spells("Switching Protocols") ? "Switching Protocols" : nil
        case 20: return spells("Sec-WebSocket-Accept") ? "Sec-WebSocket-Accept" : nil
        case 21: return spells("Sec-WebSocket-Version") ? "Sec-WebSocket-Version" : nil
        case 22: return spells("Sec-WebSocket-Protocol") ? "Sec-WebSocket-Protocol" : nil
        case 24: return spells("Sec-WebSocket-Extensions") ? "Sec-WebSocket-Extensions" : nil
        default: return nil
        }
    }

    private static func text(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: block[range]), as: UTF8.self)
    }

    /// `range` without leading and trailing spaces and tabs.
    static func trimmed(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi && (block[lo] == 0x20 || block[lo] == 0x09) { lo += 1 }
        while hi > lo && (block[hi - 1] == 0x20 || block[hi - 1] == 0x09) { hi -= 1 }
        return lo..<hi
    }
}

/// `text` without leading and trailing spaces and tabs (HTTP's OWS, byte by byte).
func trim<S: StringProtocol>(_ text: S) -> String {
    let text = Substring(text)
    let utf8 = text.utf8
    var lo = utf8.startIndex, hi = utf8.endIndex
    while lo < hi, utf8[lo] == 0x20 || utf8[lo] == 0x09 { lo = utf8.index(after: lo) }
    while lo < hi {
        let last = utf8.index(before: hi)
        guard utf8[last] == 0x20 || utf8[last] == 0x09 else { break }
        hi = last
    }
    return String(text[lo..<hi])
}

/// The comma-separated items of a field value, trimmed, empty ones left out.
func splitList(_ value: String) -> [String] {
    value.utf8.split(separator: 0x2C).compactMap { item in
        let t = trim(Substring(item))
        return t.isEmpty ? nil : t
    }
}

/// Whether `token` is one of the comma-separated items of `value` (as `splitList` splits it),
/// ignoring ASCII case: on the bytes, without a String for each item.
func listContains(_ value: String, _ token: String) -> Bool {
    var value = value, token = token
    return value.withUTF8 { v in
        token.withUTF8 { t in
            let v = UnsafeRawBufferPointer(v)
            var start = 0
            while start <= v.count {
                var end = start
                while end < v.count && v[end] != 0x2C { end += 1 }
                let item = HTTPHeaderParser.trimmed(v, start..<end)
                if !item.isEmpty && item.count == t.count
                    && (0..<t.count).allSatisfy({ asciiLower(v[item.lowerBound + $0]) == asciiLower(t[$0]) }) {
                    return true
                }
                start = end + 1
            }
            return false
        }
    }
}

/// An ASCII letter in lower case; any other byte as it is.
@inline(__always) func asciiLower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }

func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    // Byte for byte, on both strings' bytes: not String's equality, which takes canonically
    // equivalent spellings (combining marks in another order) for equal.
    guard a.utf8.count == b.utf8.count else { return false }
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            for i in 0..<x.count where x[i] != y[i] && asciiLower(x[i]) != asciiLower(y[i]) { return false }
            return true
        }
    }
}

extension Array {
    /// Appends `element`, giving an array with no storage room for `first` elements at once:
    /// a connection's short lists (samples, evidence) otherwise grew through capacities 1, 2, 4
    /// and 8, an allocation, a copy and a release at each step.
    @inline(__always)
    public mutating func append(_ element: Element, reservingFirst first: Int) {
        if capacity == 0 { reserveCapacity(first) }
        append(element)
    }
}

/// `a + b + c + d` as one String, made in one allocation: what every connection's summary
/// lines ("GET /path", "1000 (Normal Closure)") are joined with. Through interpolation or `+`,
/// each piece was an append of about 400 instructions (a growth and a copy).
public func concatenated(_ a: String, _ b: String, _ c: String = "", _ d: String = "") -> String {
    let total = a.utf8.count + b.utf8.count + c.utf8.count + d.utf8.count
    return String(unsafeUninitializedCapacity: total) { buffer in
        var at = 0
        func put(_ s: String) {
            var s = s
            s.withUTF8 { bytes in
                guard let base = bytes.baseAddress, bytes.count > 0 else { return }
                (buffer.baseAddress! + at).update(from: base, count: bytes.count)
                at += bytes.count
            }
        }
        put(a)
        put(b)
        put(c)
        put(d)
        return at
    }
}

extension UnsafeRawBufferPointer {
    /// Where `byte` first occurs at or after `from`, found with memchr (a byte loop costs about
    /// 12 instructions a byte): header blocks' line ends and colons, the output's marks.
    @inlinable
    public func offset(of byte: UInt8, from: Int) -> Int? {
        guard from >= 0, from < count, let base = baseAddress,
              let found = memchr(base + from, Int32(byte), count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }
}
