/// Standard base64 (RFC 4648, with padding), for Sec-WebSocket-Accept / Sec-WebSocket-Key.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let pad = UInt8(ascii: "=")
        switch bytes.count - i {
        case 1:
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], pad, pad]
        case 2:
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], pad]
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
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
                guard padding == 0, alphabet.contains(byte) else { return nil }
            }
        }
        return bytes.count / 4 * 3 - padding
    }
}

/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): the Sec-WebSocket-Accept a
/// server must answer to `key` (RFC 6455 section 4.2.2).
public func webSocketAcceptValue(forKey key: String) -> String {
    Base64.encode(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
}

/// Standard base64 (RFC 4648, padded) of bytes: payloads in JSON, keys in the benchmark generator.
public func base64(_ bytes: UnsafeRawBufferPointer) -> String {
    Base64.encode(bytes)
}
