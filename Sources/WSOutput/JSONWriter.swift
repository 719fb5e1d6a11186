import WSDissector

/// Appends JSON to a byte buffer, with commas placed automatically. Always valid UTF-8 JSON:
/// strings come from Swift `String`s (valid Unicode) and are escaped per RFC 8259.
///
/// Keys are literals (`StaticString`) copied as they are; a computed key goes through
/// `key(named:)`, which escapes it. A comma goes before a value unless the byte before it opens
/// an object or array or ends a key, so there is no stack of nesting state to keep.
public struct JSONWriter: ~Copyable {
    /// The bytes; the document being written starts at `start`.
    var out: ByteBuffer
    /// Where the current document begins: no comma before its first value.
    var start = 0

    public init() {
        out = ByteBuffer(capacity: 1024)
    }

    init(capacity: Int) {
        out = ByteBuffer(capacity: capacity)
    }

    /// The current document's bytes.
    public var bytes: [UInt8] { Array(out.bytes(from: start)) }

    /// Drops everything written.
    public mutating func reset() {
        out.removeAll()
        start = 0
    }

    /// Starts a new document after the bytes already in the buffer (they stay).
    mutating func beginDocument() {
        start = out.count
    }

    @inline(__always)
    private mutating func separate() {
        let n = out.count
        guard n > start else { return }
        let last = out.base[n - 1]
        if last != 0x7b && last != 0x5b && last != 0x3a { out.append(0x2c) }
    }

    /// Runs `body` with a cursor at the end of the buffer, after reserving `n` bytes: `body`
    /// writes at most that many, commas included (no `separate` is done for it).
    @inline(__always)
    mutating func withCursor(reserving n: Int, _ body: (inout ByteCursor) -> Void) {
        out.withCursor(reserving: n, body)
    }

    @inline(__always)
    public mutating func beginObject() { separate(); out.append(0x7b) }
    @inline(__always)
    public mutating func endObject() { out.append(0x7d) }
    @inline(__always)
    public mutating func beginArray() { separate(); out.append(0x5b) }
    @inline(__always)
    public mutating func endArray() { out.append(0x5d) }

    /// `"k":` from a literal key (plain ASCII, nothing to escape), with the comma before it.
    @inline(__always)
    public mutating func key(_ k: StaticString) {
        k.withUTF8Buffer { name in
            let n = name.count
            out.reserve(n + 4)
            separate()
            let p = out.base + out.count
            p[0] = 0x22
            copyBytes(from: name.baseAddress!, count: n, to: p + 1)
            p[n + 1] = 0x22
            p[n + 2] = 0x3a
            out.count += n + 3
        }
    }

    /// `"k":` from a computed key, escaped like any string.
    public mutating func key(named k: String) {
        separate()
        appendString(k)
        out.append(0x3a)
    }

    public mutating func string(_ s: String) { separate(); appendString(s) }

    /// A literal string value with nothing to escape, copied as is.
    @inline(__always)
    mutating func string(literal s: StaticString) {
        separate()
        s.withUTF8Buffer { text in
            out.reserve(text.count + 2)
            out.append(0x22)
            out.append(UnsafeRawBufferPointer(text))
            out.append(0x22)
        }
    }

    /// A string whose UTF-8 `body` appends to the buffer, then escaped where needed.
    @inline(__always)
    mutating func string(writing body: (inout ByteBuffer) -> Void) {
        separate()
        out.append(0x22)
        let from = out.count
        body(&out)
        escapeInPlace(from: from)
        out.append(0x22)
    }

    /// A value written earlier in the buffer (`range`, within the bytes written so far), written
    /// again after a key.
    mutating func copyValue(_ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= out.count)
        out.reserve(range.count)
        let base = out.base  // after the reservation, which may move the buffer
        (base + out.count).update(from: base + range.lowerBound, count: range.count)
        out.count += range.count
    }

    /// The padded base64 of `bytes` as a string, encoded straight into the buffer (nothing in
    /// it to escape).
    mutating func base64String(_ bytes: UnsafeRawBufferPointer) {
        separate()
        out.reserve(base64Length(bytes.count) + 2)
        let p = out.base + out.count
        p[0] = 0x22
        let n = base64Encode(bytes, into: UnsafeMutableRawPointer(p + 1))
        p[n + 1] = 0x22
        out.count += n + 2
    }

    @inline(__always)
    public mutating func int<T: BinaryInteger>(_ v: T) { separate(); out.appendDecimal(v) }
    @inline(__always)
    public mutating func bool(_ v: Bool) { separate(); out.append(v ? "true" : "false") }
    public mutating func null() { separate(); out.append("null") }
    /// A number already formatted (e.g. "1700000000.123456789").
    public mutating func number(_ text: String) { separate(); out.appendUTF8(text) }
    /// Seconds from nanoseconds with `decimals` places (0 to 9: the capture's resolution), as a JSON number.
    public mutating func seconds(_ ns: Int64, decimals: Int) { separate(); appendSeconds(ns, decimals: decimals) }

    @inline(__always)
    public mutating func field(_ k: StaticString, _ s: String?) { key(k); if let s { string(s) } else { null() } }
    @inline(__always)
    mutating func field(_ k: StaticString, literal s: StaticString) { key(k); string(literal: s) }
    @inline(__always)
    public mutating func field<T: BinaryInteger>(_ k: StaticString, _ v: T?) { key(k); if let v { int(v) } else { null() } }
    @inline(__always)
    public mutating func field(_ k: StaticString, _ v: Bool?) { key(k); if let v { bool(v) } else { null() } }
    @inline(__always)
    public mutating func field(_ k: StaticString, seconds ns: Int64?, decimals: Int = 9) {
        key(k)
        if let ns { seconds(ns, decimals: decimals) } else { null() }
    }
    public mutating func field(_ k: StaticString, strings: [String]) {
        key(k)
        beginArray()
        for s in strings { string(s) }
        endArray()
    }
    public mutating func field<T: BinaryInteger>(_ k: StaticString, ints: [T]) {
        key(k)
        beginArray()
        for v in ints { int(v) }
        endArray()
    }
    @inline(__always)
    mutating func emptyArray() { separate(); out.append("[]") }
    /// A value encoded beforehand (e.g. from a table), copied as is.
    mutating func encoded(_ json: UnsafeRawBufferPointer) { separate(); out.append(json) }

    private mutating func appendSeconds(_ ns: Int64, decimals: Int) {
        out.appendSeconds(ns, decimals: min(decimals, 9))
    }

    /// True when no byte is a control byte, `"`, `\\` or DEL: checked 8 bytes at a time.
    @inline(__always)
    static func needsNoEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            if !wordNeedsNoEscape(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return false }
            i += 8
        }
        // The last 1-7 bytes: one more word, overlapping what was checked, or bytes when short.
        if i < n {
            if n >= 8 {
                i = n - 8
            } else if n >= 4 {
                let head = UInt64(bytes.loadUnaligned(as: UInt32.self))
                let tail = UInt64(bytes.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
                return wordNeedsNoEscape(head | tail << 32)
            } else {
                for b in bytes where b < 0x20 || b == 0x22 || b == 0x5c || b == 0x7f { return false }
                return true
            }
            return wordNeedsNoEscape(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        }
        return true
    }

    /// `needsNoEscape` for the 8 bytes of `x`.
    @inline(__always)
    static func wordNeedsNoEscape(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // A byte below 0x20 (ASCII only: bytes >= 0x80 are UTF-8 and fine), or equal to ", \ or DEL.
        let below = (x &- ones &* 0x20) & ~x & highs
        let quote = x ^ (ones &* 0x22), slash = x ^ (ones &* 0x5c), del = x ^ (ones &* 0x7f)
        let equal = ((quote &- ones) & ~quote | (slash &- ones) & ~slash | (del &- ones) & ~del) & highs
        return below | equal == 0
    }

    /// Bytes an escaped `b` takes in a JSON string.
    @inline(__always)
    private static func escapedLength(_ b: UInt8) -> Int {
        switch b {
        case 0x22, 0x5c, 0x0a, 0x0d, 0x09: return 2
        case 0..<0x20, 0x7f: return 6
        default: return 1
        }
    }

    private mutating func appendString(_ s: String) {
        out.append(0x22)
        let from = out.count
        out.appendUTF8(s)
        escapeInPlace(from: from)
        out.append(0x22)
    }

    /// Escapes the raw string bytes from `from` to the end, in place. Most strings need no
    /// escape and are left alone; the others grow and are rewritten back to front.
    @inline(__always)
    private mutating func escapeInPlace(from: Int) {
        if JSONWriter.needsNoEscape(out.bytes(from: from)) { return }
        rewriteEscaped(from: from)
    }

    @inline(never)
    private mutating func rewriteEscaped(from: Int) {
        // Words without a byte to escape are skipped when counting and moved whole when
        // rewriting: only the bytes around a quote or control byte go one at a time.
        var grown = 0
        let raw = out.bytes(from: from)
        var i = 0
        while i + 8 <= raw.count {
            if !JSONWriter.wordNeedsNoEscape(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                for k in i..<(i + 8) { grown += JSONWriter.escapedLength(raw[k]) - 1 }
            }
            i += 8
        }
        while i < raw.count { grown += JSONWriter.escapedLength(raw[i]) - 1; i += 1 }
        out.reserve(grown)
        let p = out.base
        var source = out.count - 1
        var target = source + grown
        @inline(__always) func put(_ byte: UInt8) { p[target] = byte; target -= 1 }
        while source >= from && target > source {
            if source - 7 >= from {
                let word = UnsafeRawPointer(p + source - 7).loadUnaligned(as: UInt64.self)
                if JSONWriter.wordNeedsNoEscape(word) {
                    UnsafeMutableRawPointer(p + target - 7).storeBytes(of: word, as: UInt64.self)
                    source -= 8
                    target -= 8
                    continue
                }
            }
            let b = p[source]
            switch b {
            case 0x22: put(0x22); put(0x5c)
            case 0x5c: put(0x5c); put(0x5c)
            case 0x0a: put(0x6e); put(0x5c)
            case 0x0d: put(0x72); put(0x5c)
            case 0x09: put(0x74); put(0x5c)
            case 0..<0x20, 0x7f:
                put(hexDigit(b & 0xf)); put(hexDigit(b >> 4)); put(0x30); put(0x30); put(0x75); put(0x5c)
            default: put(b)
            }
            source -= 1
        }
        out.count += grown
    }
}
