/// Finding a frame boundary without knowing where the last frame ended: after a gap, or in a
/// capture that began after the handshake (mid-stream).
///
/// Heuristic: a position is accepted as the start of a frame when
/// 1. the bytes there decode to a header a conforming peer on that side would send
///    (`FrameHeader.isPlausible`: opcode 0, 1, 2, 8, 9 or 10; RSV2/RSV3 clear; RSV1 only on
///    text/binary; masked exactly for client→server; minimal length below 2^31; control frames
///    final and ≤ 125 bytes; no empty non-final data frame), and
/// 2. the frame it announces ends exactly at the end of the bytes at hand, or before it with
///    another plausible header (or the start of one) right after; a frame running past the end
///    of the bytes at hand is accepted only when it starts at the first byte of a receive call
///    (segments usually start on frame boundaries).
/// Positions are tried in order; bytes before the accepted one are reported as unknown. The
/// parser keeps the last 13 bytes of a chunk in which nothing was found and scans them again
/// with the next chunk, so a header split across receive calls is found too.
enum FrameScanner {
    static func findFrame(in bytes: UnsafeRawBufferPointer, from start: Int, chunkStart: Int, side: Side) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        var j = start
        while j + 2 <= count {
            if let end = plausibleFrameEnd(base, at: j, count: count, side: side) {
                if end == count { return j }
                if end < count {
                    if nextLooksPlausible(base, at: end, count: count, side: side) { return j }
                } else if j == chunkStart {
                    return j
                }
            }
            j += 1
        }
        return nil
    }

    /// End offset of a plausible frame starting at `j`, or nil.
    private static func plausibleFrameEnd(_ base: UnsafeRawPointer, at j: Int, count: Int, side: Side) -> Int? {
        let hlen = FrameHeader.length(byte1: base.load(fromByteOffset: j + 1, as: UInt8.self))
        guard j + hlen <= count else { return nil }
        let header = FrameHeader.decode(base + j)
        guard header.isPlausible(from: side) else { return nil }
        let end = UInt64(j + hlen) + header.payloadLength
        return end > UInt64(Int.max / 2) ? Int.max / 2 : Int(end)
    }

    /// Whether what starts at `j` of `bytes` may be a frame header (judging only the bytes present).
    static func mayStartFrame(_ bytes: UnsafeRawBufferPointer, at j: Int, side: Side) -> Bool {
        guard let base = bytes.baseAddress, j < bytes.count else { return false }
        return nextLooksPlausible(base, at: j, count: bytes.count, side: side)
    }

    /// Whether what starts at `j` may be a frame header (judging only the bytes present).
    private static func nextLooksPlausible(_ base: UnsafeRawPointer, at j: Int, count: Int, side: Side) -> Bool {
        let b0 = base.load(fromByteOffset: j, as: UInt8.self)
        let opcode = b0 & 0xF
        guard opcode <= 2 || (opcode >= 8 && opcode <= 10), b0 & 0x30 == 0 else { return false }
        if b0 & 0x40 != 0 && !(opcode == 1 || opcode == 2) { return false }
        guard j + 2 <= count else { return true }
        let b1 = base.load(fromByteOffset: j + 1, as: UInt8.self)
        guard (b1 & 0x80 != 0) == (side == .client) else { return false }
        if opcode >= 8 && (b0 & 0x80 == 0 || b1 & 0x7F > 125) { return false }
        let hlen = FrameHeader.length(byte1: b1)
        guard j + hlen <= count else { return true }
        return FrameHeader.decode(base + j).isPlausible(from: side)
    }
}
