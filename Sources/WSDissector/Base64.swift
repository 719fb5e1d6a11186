import CBase64
import Crypto

/// Standard base64 (RFC 4648, with padding), for Sec-WebSocket-Accept / Sec-WebSocket-Key.
enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let length = base64Length(bytes.count)
        guard length > 0 else { return "" }
        return String(unsafeUninitializedCapacity: length) { out in
            base64Encode(bytes, into: UnsafeMutableRawPointer(out.baseAddress!))
        }
    }

    /// Every 12-bit value's two base64 characters, as they lie in memory (first one first).
    static let pairs: [UInt16] = (0..<4096).map { v in
        (UInt16(alphabet[v >> 6]) | UInt16(alphabet[v & 63]) << 8).littleEndian
    }

    /// Decoded length of a well-formed padded base64 string, or nil when it is not base64.
    static func decodedLength(_ text: String) -> Int? {
        var text = text
        // On the string's own bytes: a copy into an array cost an allocation each key.
        return text.withUTF8 { bytes -> Int? in
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

/// Standard base64 (RFC 4648, padded) of bytes: keys in the benchmark generator.
public func base64(_ bytes: UnsafeRawBufferPointer) -> String {
    Base64.encode(bytes)
}

/// The length of the padded base64 of `count` bytes.
@inline(__always)
public func base64Length(_ count: Int) -> Int { (count + 2) / 3 * 4 }

/// Writes the padded base64 of `bytes` at `out` (room for `base64Length(bytes.count)` bytes),
/// and returns how many bytes it wrote: how payloads go into JSON, straight into the
/// output's buffer. With AVX2, 24 bytes at a time while 28 can be read (`CBase64`); then six
/// bytes at a time while eight can be read, two characters per table lookup of twelve bits.
@discardableResult
public func base64Encode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
    let n = bytes.count
    guard n > 0, let p = bytes.baseAddress else { return 0 }
    // Whole 24-byte groups with AVX2 where the CPU has it, the rest here.
    let taken = wstrace_base64_blocks(p.assumingMemoryBound(to: UInt8.self), n, out.assumingMemoryBound(to: UInt8.self))
    return Base64.pairs.withUnsafeBufferPointer { table in
        var i = taken, o = taken / 3 * 4
        while i + 8 <= n {
            let w = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            out.storeBytes(of: table[Int(truncatingIfNeeded: w >> 52)], toByteOffset: o, as: UInt16.self)
            out.storeBytes(of: table[Int(truncatingIfNeeded: w >> 40 & 0xfff)], toByteOffset: o + 2, as: UInt16.self)
            out.storeBytes(of: table[Int(truncatingIfNeeded: w >> 28 & 0xfff)], toByteOffset: o + 4, as: UInt16.self)
            out.storeBytes(of: table[Int(truncatingIfNeeded: w >> 16 & 0xfff)], toByteOffset: o + 6, as: UInt16.self)
            i += 6
            o += 8
        }
        while i + 3 <= n {
            let v = Int(p.load(fromByteOffset: i, as: UInt8.self)) << 16 | Int(p.load(fromByteOffset: i + 1, as: UInt8.self)) << 8
                | Int(p.load(fromByteOffset: i + 2, as: UInt8.self))
            out.storeBytes(of: table[v >> 12], toByteOffset: o, as: UInt16.self)
            out.storeBytes(of: table[v & 0xfff], toByteOffset: o + 2, as: UInt16.self)
            i += 3
            o += 4
        }
        let rest = n - i
        if rest > 0 {
            let second = rest == 2 ? Int(p.load(fromByteOffset: i + 1, as: UInt8.self)) : 0
            let v = Int(p.load(fromByteOffset: i, as: UInt8.self)) << 16 | second << 8
            out.storeBytes(of: table[v >> 12], toByteOffset: o, as: UInt16.self)
            // The third character only when two bytes remain; padding for the rest.
            let third = rest == 2 ? Base64.alphabet[(v >> 6) & 63] : UInt8(ascii: "=")
            out.storeBytes(of: third, toByteOffset: o + 2, as: UInt8.self)
            out.storeBytes(of: UInt8(ascii: "="), toByteOffset: o + 3, as: UInt8.self)
            o += 4
        }
        return o
    }
}
