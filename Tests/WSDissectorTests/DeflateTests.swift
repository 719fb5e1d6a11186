import Testing
@testable import WSDissector

/// permessage-deflate with the compressed bytes from RFC 7692 section 7.2.3 (and a few made
/// with Python's zlib, raw deflate, sync flush, tail stripped).
@Suite struct DeflateTests {
    static let hello = bytes("f248cdc9c90700")          // "Hello" (7.2.3.1)
    static let helloAgain = bytes("f200110000")         // "Hello" again, using the window (7.2.3.2)
    static let helloBFinal = bytes("f348cdc9c90700 00")  // "Hello" with BFINAL set (7.2.3.4)
    static let helloStored = bytes("0005 00faff 48656c6c6f 00") // no compression (7.2.3.3)
    /// 200000 × "a".
    static let bomb = bytes("ecc13101000000c2a0aceb5fc20cfe4001" + String(repeating: "00", count: 193) + "af01")
    /// "héllo wörld " × 50.
    static let text50 = bytes("ca38bc3227275fa1fcf0b6a29c14858c51de286fc8f00000")

    @Test func rfcExamplesWithContextTakeover() {
        let r = upgraded(extensions: "permessage-deflate")
        r.feed(frame(1, Self.hello, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.helloAgain, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.helloStored, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.helloBFinal, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.helloAgain, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.text50, rsv: 4), .client)
        #expect(r.violations == [])
        let texts = r.messages.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(texts == ["Hello", "Hello", "Hello", "Hello", "Hello", String(repeating: "héllo wörld ", count: 50)])
        #expect(r.messages.allSatisfy { $0.compressed && $0.complete && $0.utf8Valid == true && $0.inflateError == nil })
        #expect(r.messages[0].wireLength == 7 && r.messages[0].length == 5)
    }

    @Test func fragmentedCompressedMessage() {
        let r = upgraded(extensions: "permessage-deflate")
        // RFC 7692 7.2.3.1 second example: 0x41 0x03 0xf2 0x48 0xcd / 0x80 0x04 0xc9 0xc9 0x07 0x00.
        r.feed(bytes("4103f248cd"), .server)
        r.feed(bytes("8004c9c90700"), .server)
        #expect(r.violations == [])
        #expect(r.messages.count == 1)
        #expect(r.messages[0].payload == Array("Hello".utf8) && r.messages[0].frames == 2)
        // Split at every byte of a fragmented compressed text.
        let stream = frame(1, Array(Self.text50[..<5]), fin: false, rsv: 4) + frame(9, []) + frame(0, Array(Self.text50[5...]))
        for cut in 1..<stream.count {
            let r = upgraded(extensions: "permessage-deflate")
            r.feed(Array(stream[..<cut]), .client)
            r.feed(Array(stream[cut...]), .client)
            #expect(r.violations == [])
            #expect(r.messages.first?.payload == Array(String(repeating: "héllo wörld ", count: 50).utf8))
        }
    }

    @Test func noContextTakeoverResetsEachMessage() {
        let r = upgraded(extensions: "permessage-deflate; server_no_context_takeover")
        r.feed(frame(1, Self.hello, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.hello, rsv: 4, mask: nil), .server)
        #expect(r.violations == [])
        #expect(r.messages.map(\.payload) == [Array("Hello".utf8), Array("Hello".utf8)])
        // A server that keeps using its window despite server_no_context_takeover.
        r.feed(frame(1, Self.helloAgain, rsv: 4, mask: nil), .server)
        #expect(r.violations == [.inflateFailed])
        #expect(r.messages.last?.inflateError == "invalid distance too far back")
        #expect(r.messages.last?.complete == false)
        // The client direction still keeps its context.
        r.feed(frame(1, Self.hello, rsv: 4), .client)
        r.feed(frame(1, Self.helloAgain, rsv: 4), .client)
        #expect(r.messages.suffix(2).map(\.payload) == [Array("Hello".utf8), Array("Hello".utf8)])
    }

    @Test func freshInflaterOnContextDependentMessage() {
        // Capture picked up after the handshake: the window is unknown.
        // Three frames (the recognizer's minimum) before anything is interpreted.
        let r = Recorder(midstream: true)
        r.feed(frame(1, Self.helloAgain, rsv: 4, mask: nil), .server)
        r.feed(frame(1, Self.hello, rsv: 4, mask: nil), .server)
        #expect(!r.session.isWebSocket && r.frames.isEmpty)
        r.feed(frame(9, [], mask: nil), .server)
        #expect(r.session.isWebSocket)
        #expect(r.messages.count == 2)
        #expect(r.messages[0].inflateError == "invalid distance too far back")
        #expect(r.messages[0].complete == false && r.messages[0].payload.isEmpty)
        // Not the peer's fault: no violation. The next self-contained message recovers.
        #expect(r.violations == [])
        #expect(r.messages[1].payload == Array("Hello".utf8) && r.messages[1].complete)
    }

    @Test func corruptDataIsInflateFailed() {
        let r = upgraded(extensions: "permessage-deflate")
        r.feed(frame(2, [0xFF, 0xFF, 0xFF], rsv: 4), .client)
        #expect(r.violations == [.inflateFailed])
        #expect(r.messages[0].inflateError != nil)
        r.feed(frame(1, Self.hello, rsv: 4), .client)
        #expect(r.messages[1].payload == Array("Hello".utf8))
    }

    @Test func decompressionCap() {
        var limits = DissectorLimits()
        limits.maxDecompressedSize = 100_000
        limits.payloadRetention = 1000
        let r = upgraded(extensions: "permessage-deflate", limits: limits)
        r.feed(frame(2, Self.bomb, rsv: 4, mask: nil), .server)
        #expect(r.violations == [.messageTooBig])
        let m = r.messages[0]
        #expect(m.length == 100_000 && m.truncated && !m.complete && m.payload.count == 1000)
        #expect(r.events.contains { if case .frame(let f) = $0 { f.violations == [.messageTooBig] } else { false } })
        // Without a cap it inflates fully.
        let r2 = upgraded(extensions: "permessage-deflate")
        r2.feed(frame(2, Self.bomb, rsv: 4, mask: nil), .server)
        #expect(r2.messages[0].length == 200_000 && r2.messages[0].complete)
    }

    @Test func gapInCompressedMessageThenContextDependentMessage() {
        let r = upgraded(extensions: "permessage-deflate")
        let f = frame(1, Self.text50, rsv: 4, mask: nil)
        r.feed(Array(f[..<10]), .server)
        r.gap(5, .server)
        r.feed(Array(f[15...]), .server)
        #expect(r.messages.count == 1)
        #expect(r.messages[0].complete == false)
        #expect(r.frames[0].truncated)
        // The window lost bytes: a message using it is reported, not shown as garbage.
        r.feed(frame(1, Self.helloAgain, rsv: 4, mask: nil), .server)
        #expect(r.messages[1].inflateError != nil && r.messages[1].payload.isEmpty)
        #expect(r.violations == [])
        #expect(r.gaps.count == 1 && r.gaps[0].lost.contains("Text"))
    }
}
