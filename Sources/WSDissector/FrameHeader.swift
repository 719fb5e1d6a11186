/// A decoded WebSocket frame header (RFC 6455 section 5.2).
struct FrameHeader: Sendable, Equatable {
    var fin: Bool
    /// RSV1 = 4, RSV2 = 2, RSV3 = 1.
    var rsv: UInt8
    var opcode: UInt8
    var masked: Bool
    /// The four masking-key bytes, in wire order.
    var maskBytes: (UInt8, UInt8, UInt8, UInt8)
    var payloadLength: UInt64
    var headerLength: Int
    /// The 7-bit length field, to judge minimal encoding.
    var lengthField: UInt8

    static func == (a: FrameHeader, b: FrameHeader) -> Bool {
        a.fin == b.fin && a.rsv == b.rsv && a.opcode == b.opcode && a.masked == b.masked
            && a.maskKey == b.maskKey && a.payloadLength == b.payloadLength
            && a.headerLength == b.headerLength
    }

    /// The masking key as a big-endian number (first wire byte most significant).
    var maskKey: UInt32? {
        guard masked else { return nil }
        return UInt32(maskBytes.0) << 24 | UInt32(maskBytes.1) << 16 | UInt32(maskBytes.2) << 8 | UInt32(maskBytes.3)
    }

    var isControl: Bool { opcode & 0x8 != 0 }
    var isData: Bool { opcode <= 2 }
    var isReservedOpcode: Bool { !(opcode <= 2 || (opcode >= 8 && opcode <= 10)) }

    /// The longest header: 2 + 8 (64-bit length) + 4 (mask).
    static let maxLength = 14

    /// Header length implied by the first two bytes.
    static func length(byte1: UInt8) -> Int {
        let masked = byte1 & 0x80 != 0
        let field = byte1 & 0x7F
        return 2 + (field == 126 ? 2 : field == 127 ? 8 : 0) + (masked ? 4 : 0)
    }

    /// Decodes a header from `bytes`, which must hold at least `length(byte1:)` bytes.
    static func decode(_ bytes: UnsafeRawPointer) -> FrameHeader {
        let b0 = bytes.load(as: UInt8.self)
        let b1 = bytes.load(fromByteOffset: 1, as: UInt8.self)
        let masked = b1 & 0x80 != 0
        let field = b1 & 0x7F
        var offset = 2
        var length = UInt64(field)
        if field == 126 {
            length = UInt64(bytes.load(fromByteOffset: 2, as: UInt8.self)) << 8
                | UInt64(bytes.load(fromByteOffset: 3, as: UInt8.self))
            offset = 4
        } else if field == 127 {
            length = 0
            for i in 0..<8 { length = length << 8 | UInt64(bytes.load(fromByteOffset: 2 + i, as: UInt8.self)) }
            offset = 10
        }
        var mask: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        if masked {
            mask = (bytes.load(fromByteOffset: offset, as: UInt8.self),
                    bytes.load(fromByteOffset: offset + 1, as: UInt8.self),
                    bytes.load(fromByteOffset: offset + 2, as: UInt8.self),
                    bytes.load(fromByteOffset: offset + 3, as: UInt8.self))
            offset += 4
        }
        return FrameHeader(fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0xF, masked: masked,
                           maskBytes: mask, payloadLength: length, headerLength: offset, lengthField: field)
    }

    /// Whether the length uses the shortest encoding.
    var isMinimalLength: Bool {
        switch lengthField {
        case 126: return payloadLength >= 126
        case 127: return payloadLength > 0xFFFF
        default: return true
        }
    }

    /// Whether this header looks like one a conforming peer on `side` would send, for
    /// resynchronizing (see `FrameScanner`): opcode 0, 1, 2, 8, 9 or 10; RSV2/RSV3 clear and
    /// RSV1 only on text/binary; masked exactly when sent by the client; minimal length below
    /// 2^31; control frames final and at most 125 bytes; no empty non-final data frame (so that
    /// runs of zero bytes are not taken for frames).
    func isPlausible(from side: Side) -> Bool {
        guard !isReservedOpcode, rsv & 0x3 == 0 else { return false }
        if rsv & 0x4 != 0 && !(opcode == 1 || opcode == 2) { return false }
        guard masked == (side == .client) else { return false }
        guard isMinimalLength, payloadLength < 1 << 31 else { return false }
        if isControl && (!fin || payloadLength > 125) { return false }
        if !isControl && !fin && payloadLength == 0 { return false }
        return true
    }
}

/// XORs `count` bytes from `source` into `destination` with a 4-byte mask starting at
/// `phase` (0-3), eight bytes at a time. Returns the phase after the last byte.
@inline(__always)
func unmask(_ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int,
            mask: (UInt8, UInt8, UInt8, UInt8), phase: Int) -> Int {
    let m0 = UInt32(mask.0) | UInt32(mask.1) << 8 | UInt32(mask.2) << 16 | UInt32(mask.3) << 24
    // Rotate so that the byte for `phase` comes first (little-endian layout).
    let shift = UInt32(phase * 8)
    let rotated = shift == 0 ? m0 : (m0 >> shift | m0 << (32 - shift))
    let wide = UInt64(rotated) | UInt64(rotated) << 32
    var i = 0
    while i + 8 <= count {
        let word = source.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian
        destination.storeBytes(of: (word ^ wide).littleEndian, toByteOffset: i, as: UInt64.self)
        i += 8
    }
    var tail = wide
    while i < count {
        let byte = source.load(fromByteOffset: i, as: UInt8.self)
        destination.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: tail), toByteOffset: i, as: UInt8.self)
        tail >>= 8
        i += 1
    }
    return (phase + count) & 3
}
