import Crypto

/// Standard base64 (RFC 4648, with padding), for Sec-WebSocket-Accept / Sec-WebSocket-Key.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let length = (bytes.count + 2) / 3 * 4
        guard length > 0 else { return "" }
        return alphabet.withUnsafeBufferPointer { table in
            String(unsafeUninitializedCapacity: length) { out in
                var i = 0, o = 0
                @inline(__always) func put(_ v: UInt32, _ shift: UInt32) {
                    out[o] = table[Int(v >> shift & 63)]
                    o += 1
                }
                while i + 3 <= bytes.count {
                    let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    put(v, 18); put(v, 12); put(v, 6); put(v, 0)
                    i += 3
                }
                let rest = bytes.count - i
                if rest > 0 {
                    let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                    put(v, 18); put(v, 12)
                    if rest == 2 { put(v, 6) } else { out[o] = UInt8(ascii: "="); o += 1 }
                    out[o] = UInt8(ascii: "="); o += 1
                }
                return o
            }
        }
    }

    /// Decoded length of a well-formed padded base64 string, or nil when it is not base64.
    static func decodedLength(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count % 4 == 0 else { return nil }
        var padding = 0
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "=") {
                guard index >= bytes.count - 2 else { return nil }
                padding += 1
            } else {
                let isAlphabet = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || (byte >= 0x30 && byte <= 0x39) || byte == 0x2B || byte == 0x2F
                guard padding == 0, isAlphabet else { return nil }
            }
        }
        return bytes.count / 4 * 3 - padding
    }
}

/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): the Sec-WebSocket-Accept a
/// server must answer to `key` (RFC 6455 section 4.2.2).
public func webSocketAcceptValue(forKey key: String) -> String {
    var hasher = Insecure.SHA1()
    var key = key
    key.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
    let guid: StaticString = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    hasher.update(bufferPointer: UnsafeRawBufferPointer(start: guid.utf8Start, count: guid.utf8CodeUnitCount))
    return hasher.finalize().withUnsafeBytes { Base64.encode($0) }
}

/// Standard base64 (RFC 4648, padded) of bytes: payloads in JSON, keys in the benchmark generator.
public func base64(_ bytes: UnsafeRawBufferPointer) -> String {
    Base64.encode(bytes)
}
