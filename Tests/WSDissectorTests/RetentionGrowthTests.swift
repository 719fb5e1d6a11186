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

    /// Feeds `bytes` in pieces of `piece` to a frame stream keeping `frameKeep` bytes of each
    /// frame, noting every frame's payload and message, and the most bytes the stream held in
    /// `frameRetention` (capacity) at any point between pieces, and at the end.
    static func frames(_ bytes: [UInt8], piece: Int, frameKeep: Int, messageKeep: Int? = nil, shrinkAt: Int? = nil)
        -> (frames: [(payload: [UInt8], truncated: Bool, message: [UInt8]?)], most: Int, after: Int, aliased: Bool) {
        let stream = FrameStream(side: .server, limits: DissectorLimits(payloadRetention: frameKeep), deflate: nil,
                                 scanning: false, scratch: UnmaskScratch())
        if let messageKeep { stream.messageRetention = messageKeep }
        var out: [(payload: [UInt8], truncated: Bool, message: [UInt8]?)] = []
        var most = 0
        var aliased = false
        var at = 0
        while at < bytes.count {
            if let shrinkAt, at >= shrinkAt, stream.messageRetention != 0 { stream.messageRetention = 0 }
            let end = min(at + piece, bytes.count)
            bytes[at..<end].withUnsafeBytes { chunk in
                stream.receive(chunk, packet: at / piece + 1) { event in
                    if case let .frame(f) = event {
                        out.append((Array(f.payload), f.payloadTruncated, f.message.map { Array($0.payload) }))
                    }
                }
            }
            most = max(most, stream.frameRetention.capacity)
            aliased = aliased || stream.frameInRetention
            at = end
        }
        return (out, most, stream.frameRetention.capacity, aliased)
    }

    /// A frame of `size` bytes (server to client, unmasked, its length in the fewest bytes).
    static func frame(_ opcode: UInt8, fin: Bool, size: Int, fill: (Int) -> UInt8) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if size < 126 {
            out.append(UInt8(size))
        } else if size < 65_536 {
            out += [126, UInt8(size >> 8), UInt8(size & 0xff)]
        } else {
            out += [127, 0, 0, 0, 0, UInt8(size >> 24 & 0xff), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)]
        }
        out += (0..<size).map(fill)
        return out
    }

    /// A message of one frame: its payload is kept once (in the message's buffer) and shown
    /// whole as both the frame's and the message's; nothing stays held once it was reported.
    @Test func aOneFrameMessageIsKeptOnceAndShownWhole() {
        let bytes = Self.frame(2, fin: true, size: 100_000) { UInt8($0 % 251) }
        let r = Self.frames(bytes, piece: 1_400, frameKeep: 1 << 20)
        #expect(r.frames.count == 1)
        #expect(r.frames.first?.payload == Array(bytes[10...]) && r.frames.first?.truncated == false)
        #expect(r.frames.first?.message == Array(bytes[10...]))
        #expect(r.aliased)
        #expect(r.most == 0, "the frame's bytes were copied a second time (\(r.most) bytes of buffer)")
        #expect(r.after == 0)
    }

    /// A frame keeping fewer bytes than its message (as while the application stage reads
    /// messages): the frame shows its first `frameKeep` bytes, marked truncated, the message
    /// all of them; and by default the message keeps what a frame does.
    @Test func aFrameKeepingLessThanItsMessageShowsItsShare() {
        let bytes = Self.frame(1, fin: true, size: 5_000) { UInt8(0x41 + $0 % 26) }
        let r = Self.frames(bytes, piece: 999, frameKeep: 300, messageKeep: 1 << 20)
        #expect(r.frames.first?.payload == Array(bytes[4..<304]) && r.frames.first?.truncated == true)
        #expect(r.frames.first?.message == Array(bytes[4...]))
        #expect(r.aliased && r.most == 0)
        let d = Self.frames(bytes, piece: 999, frameKeep: 300)
        #expect(d.frames.first?.payload == Array(bytes[4..<304]) && d.frames.first?.message == Array(bytes[4..<304]))
    }

    /// A message of three frames: each frame shows its own bytes (the first from the message's
    /// buffer, the continuations from their own), the message all of them; the continuations'
    /// buffers, past 4 KiB, go once they were reported.
    @Test func aFragmentedMessageShowsEachFrameAndTheWhole() {
        let first = Self.frame(1, fin: false, size: 20_000) { UInt8(0x61 + $0 % 26) }
        let middle = Self.frame(0, fin: false, size: 30_000) { UInt8(0x41 + $0 % 26) }
        let last = Self.frame(0, fin: true, size: 10) { _ in 0x21 }
        let r = Self.frames(first + middle + last, piece: 1_000, frameKeep: 1 << 20)
        #expect(r.frames.count == 3)
        guard r.frames.count == 3 else { return }
        #expect(r.frames[0].payload == Array(first[4...]) && r.frames[0].message == nil)
        #expect(r.frames[1].payload == Array(middle[4...]) && r.frames[1].message == nil)
        #expect(r.frames[2].payload == Array(last[2...]))
        #expect(r.frames[2].message == Array(first[4...]) + Array(middle[4...]) + Array(last[2...]))
        #expect(r.most >= 30_000 && r.after <= 4096, "\(r.after) bytes of buffer kept")
    }

    /// A message comes to keep less than a frame shows while the frame is under way (no stage
    /// asks for that today; the frame must not depend on it): the frame still shows every byte
    /// it keeps, those before and those after.
    @Test func aMessageKeepingLessMidFrameLeavesTheFrameWhole() {
        let bytes = Self.frame(2, fin: true, size: 50_000) { UInt8($0 % 253) }
        let r = Self.frames(bytes, piece: 1_000, frameKeep: 1 << 20, shrinkAt: 20_000)
        #expect(r.frames.first?.payload == Array(bytes[4...]) && r.frames.first?.truncated == false)
        #expect(r.frames.first?.message?.count == 19_996)  // what the message kept before
        #expect(r.after == 0)
    }
}

/// A finished connection lingers for late packets; an ended direction keeps nothing for bytes
/// that will not come. Message bytes here are made with zlib (a context-takeover stream) and
/// framed by hand: the end comes inside a fragmented message on purpose.
@Suite struct EndedDirectionTests {
    @Test(arguments: [false, true])
    func anEndedDirectionHoldsNothingForBytesToCome(takeover: Bool) {
        var parameters = DeflateParameters()
        parameters.serverNoContextTakeover = !takeover
        let stream = FrameStream(side: .server, limits: DissectorLimits(payloadRetention: 4096), deflate: parameters,
                                 scanning: false, scratch: UnmaskScratch())
        let compressor = WholeMessageInflateTests.Compressor(takeover: takeover)
        let text = Array(String(repeating: "price tick ", count: 300).utf8)
        var events: [DissectorEvent] = []
        // A whole message, then the first frame of another (its continuation never comes), then
        // half a frame header.
        var bytes = frame(1, compressor.compress(text, level: 6, final: false), rsv: 4, mask: nil)
        bytes += frame(1, Array(compressor.compress(text, level: 6, final: false).prefix(200)), fin: false, rsv: 4, mask: nil)
        bytes += [0x80]
        bytes.withUnsafeBytes { stream.receive($0, packet: 1) { events.append($0) } }
        #expect(stream.heldCapacity > 0)
        stream.end(packet: 2) { events.append($0) }
        #expect(stream.heldCapacity == 0)
        // What the end reported is still reported: the unfinished message and the cut header.
        #expect(events.contains { if case let .gap(g) = $0 { return g.lost.contains("frame header") } else { return false } })
        // A retention change after the end (the App stage stopping) finds nothing to copy.
        stream.messageRetention = 0
        #expect(stream.heldCapacity == 0)
    }
}
