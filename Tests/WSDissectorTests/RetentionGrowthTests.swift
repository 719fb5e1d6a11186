import Testing
@testable import WSDissector

/// How a kept message's buffer grows: geometrically whatever the framing (a message of many
/// small frames once reallocated, and copied, its whole buffer at every frame), and the bytes
/// kept are the message's. Hand-built frames (server to client, unmasked), fed as TCP would.
@Suite struct RetentionGrowthTests {
    /// A text message of `frames` continuation frames of `size` bytes each.
    static func fragmented(frames: Int, size: Int) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<frames {
            out.append((i == frames - 1 ? 0x80 : 0) | (i == 0 ? 1 : 0))
            out.append(UInt8(size))
            out += [UInt8](repeating: UInt8(0x61 + i % 26), count: size)
        }
        return out
    }

    /// Feeds `bytes` in pieces of `piece`, noting each capacity the kept buffer had.
    static func capacities(_ bytes: [UInt8], piece: Int, retention: Int) -> (distinct: Int, kept: [UInt8], length: UInt64?) {
        let stream = FrameStream(side: .server, limits: DissectorLimits(payloadRetention: 0), deflate: nil,
                                 scanning: false, scratch: UnmaskScratch())
        stream.messageRetention = retention
        var seen: Set<Int> = []
        var kept: [UInt8] = []
        var length: UInt64?
        var at = 0
        while at < bytes.count {
            let end = min(at + piece, bytes.count)
            bytes[at..<end].withUnsafeBytes { chunk in
                stream.receive(chunk, packet: at / piece + 1) { event in
                    if case let .frame(f) = event, let m = f.message {
                        kept = Array(m.payload)
                        length = m.length
                    }
                }
            }
            seen.insert(stream.message.retention.capacity)
            at = end
        }
        return (seen.count, kept, length)
    }

    @Test func manySmallFramesGrowTheBufferGeometrically() {
        let message = Self.fragmented(frames: 20_000, size: 50)
        let (distinct, kept, length) = Self.capacities(message, piece: 1_400, retention: 1 << 20)
        #expect(length == 1_000_000)
        #expect(kept.count == 1_000_000 && kept.prefix(3) == [0x61, 0x61, 0x61] && kept.last == UInt8(0x61 + 19_999 % 26))
        // Doubling from the first frame to a million bytes: about 15 sizes (exact reservations
        // frame by frame gave thousands).
        #expect(distinct <= 30, "\(distinct) buffer sizes for one message")
    }

    @Test func oneFrameAcrossManyPiecesKeepsEveryByte() {
        var frame: [UInt8] = [0x81, 126, 0x30, 0x00]  // text, 12,288 bytes
        frame += (0..<12_288).map { UInt8(0x41 + $0 % 26) }
        let (distinct, kept, length) = Self.capacities(frame, piece: 1_000, retention: 1 << 20)
        #expect(length == 12_288 && kept == Array(frame[4...]))
        #expect(distinct <= 3, "\(distinct) buffer sizes for one frame")
    }
}
