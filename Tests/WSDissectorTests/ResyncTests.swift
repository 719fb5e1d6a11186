// Garbage between frames, headers split across receive calls while resynchronising, and the
// negotiated deflate window. The bytes are built by hand on purpose: no conforming peer sends
// garbage or references beyond its window (the real window-bits capture is checked in
// IntegrationTests and must report nothing).
import Testing
@testable import WSDissector

@Suite struct ResyncTests {
    @Test func garbageWithAnAbsurdLengthDoesNotSwallowTheFramesAfterIt() {
        let r = upgraded()
        // 0x7f: reserved opcode 15; 127: a 64-bit length of 2^40; then real frames.
        let garbage: [UInt8] = [0x7f, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0, 0xde, 0xad]
        r.feed(serverFrame(1, "before") + garbage + serverFrame(1, "after") + serverFrame(2, "more"), .server)
        #expect(r.messages.map(\.payload) == [Array("before".utf8), Array("after".utf8), Array("more".utf8)])
        #expect(r.violations == [.garbage])
        #expect(r.opaque.map(\.bytes) == [garbage.count])
    }

    @Test func aViolatingFrameThatFitsIsStillAFrame() {
        // An unmasked client frame that ends exactly with the segment: a peer's violation, not garbage.
        let r = upgraded()
        r.feed(frame(1, Array("plain".utf8), mask: nil), .client)
        #expect(r.messages.map(\.payload) == [Array("plain".utf8)])
        #expect(r.violations == [.clientFrameUnmasked])
    }

    @Test func aHeaderSplitAcrossReceiveCallsIsFoundWhileScanning() {
        // After a gap the parser scans; the next frame's header is cut after every byte count.
        let next = serverFrame(1, "found") + serverFrame(1, "again")
        for cut in 1..<6 {
            let r = upgraded()
            r.feed(serverFrame(1, "one"), .server)
            r.gap(100, .server)
            r.feed([0x13, 0x37] + Array(next[..<cut]), .server)
            r.feed(Array(next[cut...]), .server)
            #expect(r.messages.map(\.payload) == [Array("one".utf8), Array("found".utf8), Array("again".utf8)], "cut \(cut)")
            #expect(r.opaque.reduce(0) { $0 + $1.bytes } == 2, "cut \(cut)")
        }
    }

    static func rawDeflate(_ data: [UInt8], windowBits: Int32) -> [UInt8] {
        WholeMessageInflateTests.compress(data, level: 9, final: false, windowBits: windowBits)
    }

    @Test func aBackReferenceBeyondTheNegotiatedWindowIsAViolation() {
        var g: UInt64 = 5
        let block: [UInt8] = (0..<2000).map { _ in
            g = g &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(97 + (g >> 33) % 26)
        }
        let message = block + block.prefix(64)  // the repeat lies 2000 bytes back
        let narrow = "permessage-deflate; server_max_window_bits=10"

        let beyond = upgraded(extensions: narrow)
        beyond.feed(frame(1, Self.rawDeflate(message, windowBits: 15), rsv: 4, mask: nil), .server)
        #expect(beyond.violations == [.deflateWindowExceeded])
        #expect(beyond.messages.first?.complete == false)

        let within = upgraded(extensions: narrow)
        within.feed(frame(1, Self.rawDeflate(message, windowBits: 10), rsv: 4, mask: nil), .server)
        #expect(within.violations.isEmpty)
        #expect(within.messages.map(\.payload) == [message])

        // The full window (no parameter) takes the far reference.
        let wide = upgraded(extensions: "permessage-deflate")
        wide.feed(frame(1, Self.rawDeflate(message, windowBits: 15), rsv: 4, mask: nil), .server)
        #expect(wide.violations.isEmpty && wide.messages.map(\.payload) == [message])
    }
}
