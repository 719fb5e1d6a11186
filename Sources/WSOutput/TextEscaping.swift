/// Makes bytes safe for a terminal: printable text stays, control bytes and invalid UTF-8
/// become escapes (\n, \t, \x1b, ...), and the result is cut to `limit` characters with "…".
public func escapedPreview(_ bytes: UnsafeRawBufferPointer, limit: Int, quoted: Bool = true) -> String {
    var out = ByteBuffer(capacity: min(bytes.count, limit) + 8)
    out.appendEscapedPreview(bytes, limit: limit, quoted: quoted)
    return out.string()
}

/// Escapes a string's control characters for a terminal.
public func escapedText(_ s: String, limit: Int = Int.max, quoted: Bool = false) -> String {
    var s = s
    return s.withUTF8 { escapedPreview(UnsafeRawBufferPointer($0), limit: limit, quoted: quoted) }
}

extension ByteBuffer {
    /// Appends `escapedPreview(bytes, limit:, quoted:)`.
    mutating func appendEscapedPreview(_ bytes: UnsafeRawBufferPointer, limit: Int, quoted: Bool = true) {
        if quoted { append(0x22) }
        var count = 0
        var i = 0
        let n = bytes.count
        while i < n {
            if count >= limit {
                append("…")
                break
            }
            // Printable ASCII other than \ and " goes through as is: 8 bytes at a time.
            let room = min(limit - count, n - i)
            var run = 0
            while run + 8 <= room {
                let word = bytes.loadUnaligned(fromByteOffset: i + run, as: UInt64.self)
                guard word & 0x8080_8080_8080_8080 == 0, JSONWriter.wordNeedsNoEscape(word) else { break }
                run += 8
            }
            if run > 0 {
                append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + run)]))
                i += run
                count += run
                continue
            }
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case 0x0a: append("\\n")
                case 0x0d: append("\\r")
                case 0x09: append("\\t")
                case 0x5c: append("\\\\")
                case 0x22 where quoted: append("\\\"")
                case 0x20..<0x7f: append(b)
                default: append("\\x"); appendHex(b)
                }
                i += 1
                count += 1
                continue
            }
            // A multi-byte sequence: keep it when valid and printable.
            let length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0
            if length > 0 && i + length <= n,
               let scalar = decodeScalar(bytes, at: i, length: length),
               !(0x80...0x9f).contains(scalar.value), scalar.value != 0x2028, scalar.value != 0x2029,
               !(0x202a...0x202e).contains(scalar.value), !(0x2066...0x2069).contains(scalar.value) {
                append(scalar: scalar)
                i += length
            } else {
                append("\\x")
                appendHex(b)
                i += 1
            }
            count += 1
        }
        if quoted { append(0x22) }
    }

    /// Appends `escapedText(s, limit:, quoted:)`.
    mutating func appendEscaped(_ s: String, limit: Int = Int.max, quoted: Bool = false) {
        var s = s
        s.withUTF8 { appendEscapedPreview(UnsafeRawBufferPointer($0), limit: limit, quoted: quoted) }
    }

    /// A scalar's UTF-8.
    mutating func append(scalar: Unicode.Scalar) {
        for unit in scalar.utf8 { append(unit) }
    }

    /// Appends `hexPreview(bytes, limit:)`.
    mutating func appendHexPreview(_ bytes: UnsafeRawBufferPointer, limit: Int) {
        for (i, b) in bytes.prefix(limit).enumerated() {
            if i > 0 { append(0x20) }
            appendHex(b)
        }
        if bytes.count > limit { append(" …") }
    }
}

func decodeScalar(_ bytes: UnsafeRawBufferPointer, at i: Int, length: Int) -> Unicode.Scalar? {
    var value = UInt32(bytes[i]) & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07)
    for k in 1..<length {
        let c = bytes[i + k]
        guard c & 0xc0 == 0x80 else { return nil }
        value = value << 6 | UInt32(c & 0x3f)
    }
    let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
    guard value >= minimum else { return nil }
    return Unicode.Scalar(value)
}

@inline(__always)
func hexByte(_ b: UInt8) -> String {
    String(decoding: [hexDigit(b >> 4), hexDigit(b & 0xf)], as: UTF8.self)
}

/// Bytes as spaced hex ("00 01 ff"), cut to `limit` bytes with "…".
public func hexPreview(_ bytes: UnsafeRawBufferPointer, limit: Int) -> String {
    var out = ByteBuffer(capacity: min(bytes.count, limit) * 3 + 4)
    out.appendHexPreview(bytes, limit: limit)
    return out.string()
}

/// Bytes as unspaced lowercase hex ("0001ff").
public func hexString(_ bytes: UnsafeRawBufferPointer) -> String {
    var out = ByteBuffer(capacity: bytes.count * 2)
    for b in bytes { out.appendHex(b) }
    return out.string()
}
