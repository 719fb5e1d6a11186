import Testing
@testable import WSDissector

@Suite struct GapTests {
    @Test func gapInsideKnownPayloadSkipsExactly() {
        let r = upgraded()
        let big = frame(2, [UInt8](repeating: 9, count: 3000), mask: nil)
        r.feed(Array(big[..<1000]), .server)
        r.gap(1000, .server)
        r.feed(Array(big[2000...]) + serverFrame(1, "after"), .server)
        #expect(r.frames.count == 2)
        #expect(r.frames[0].truncated && r.frames[0].message?.complete == false)
        #expect(r.frames[0].message?.length == 2000)
        #expect(r.messages[1].payload == Array("after".utf8) && r.messages[1].complete)
        #expect(r.gaps.count == 1)
        #expect(r.gaps[0].lost == "payload of Binary frame (1000 of 3000 bytes lost)")
        #expect(r.gaps[0].resync.contains("frame length known"))
        #expect(r.violations == [])
    }

    @Test func gapInsideMaskedPayloadKeepsMaskPhase() {
        let r = upgraded()
        let text = Array("0123456789abcdefghij".utf8)
        let f = frame(1, text)
        r.feed(Array(f[..<9]), .client)         // header (6) + 3 bytes
        r.gap(5, .client)                        // lose 5 payload bytes
        r.feed(Array(f[14...]) + clientFrame(1, "next"), .client)
        #expect(r.frames[0].payload == Array(text[..<3]) + Array(text[8...]))
        #expect(r.messages[1].payload == Array("next".utf8))
        #expect(r.messages[0].utf8Valid == nil)
    }

    @Test func gapEndingExactlyAtFrameEnd() {
        let r = upgraded()
        let f = serverFrame(1, "abcdefgh")
        r.feed(Array(f[..<4]), .server)
        r.gap(6, .server)
        #expect(r.frames.count == 1 && r.frames[0].truncated)
        r.feed(serverFrame(2, "x"), .server)
        #expect(r.frames.count == 2 && r.frames[1].opcode == 2)
    }

    @Test func gapPastFrameEndResynchronizes() {
        let r = upgraded()
        let f = serverFrame(1, "abcdefgh")
        r.feed(Array(f[..<4]), .server)
        r.gap(100, .server)
        #expect(r.gaps[0].resync.contains("scanning"))
        // The next captured segment starts in the middle of some frame, then real frames follow.
        r.feed([0x33, 0x44, 0x55] + serverFrame(1, "one") + serverFrame(9, "") + serverFrame(1, "two"), .server)
        #expect(r.messages.suffix(2).map(\.payload) == [Array("one".utf8), Array("two".utf8)])
        #expect(r.opaque.last?.bytes == 3)
        #expect(r.violations == [])
    }

    @Test func gapAtBoundaryThenSegmentStartingOnAFrame() {
        let r = upgraded()
        r.feed(clientFrame(1, "first"), .client)
        r.gap(1448, .client)
        r.feed(frame(2, [UInt8](repeating: 1, count: 5000)).prefix(1448).map { $0 }, .client)
        r.feed(frame(2, [UInt8](repeating: 1, count: 5000)).dropFirst(1448).map { $0 } + clientFrame(1, "x"), .client)
        #expect(r.messages.map(\.length) == [5, 5000, 1])
        #expect(r.violations == [])
    }

    @Test func continuationAfterResyncIsNoViolation() {
        let r = upgraded()
        r.feed(clientFrame(1, "part one", fin: false), .client)
        r.gap(10, .client)
        r.feed(frame(0, Array("last".utf8)) + clientFrame(1, "whole"), .client)
        #expect(r.violations == [])
        #expect(r.messages.map(\.payload) == [Array("whole".utf8)])
        #expect(r.gaps[0].lost.contains("unfinished Text message"))
    }

    @Test func gapInHTTPBodyWithKnownLength() {
        let r = Recorder()
        r.feed("GET / HTTP/1.1\r\n\r\n", .client)
        r.feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", .server)
        r.gap(80, .server)
        r.feed("0123456789HTTP/1.1 204 No Content\r\n\r\n", .server)
        #expect(r.responses.map(\.status) == [200, 204])
    }
}

@Suite struct MidstreamTests {
    @Test func recognizesFramesWithoutHandshake() {
        let r = Recorder(midstream: true)
        r.feed(clientFrame(1, "hello") + frame(9, []), .client)
        r.feed(serverFrame(1, "world") + serverFrame(10, ""), .server)
        #expect(r.session.isWebSocket && r.session.isMidstream)
        #expect(r.messages.map(\.payload) == [Array("hello".utf8), Array("world".utf8)])
        #expect(r.violations == [])
    }

    @Test func skipsTheTailOfAFrameStartedBeforeTheCapture() {
        let r = Recorder(midstream: true)
        let tail = Array(frame(2, [UInt8](repeating: 0x5A, count: 300), mask: nil).suffix(77))
        r.feed(tail + serverFrame(1, "next") + serverFrame(1, "more"), .server)
        r.feed(serverFrame(1, "third"), .server)
        #expect(r.messages.map(\.payload) == [Array("next".utf8), Array("more".utf8), Array("third".utf8)])
        #expect(r.opaque.filter { $0.kind == .unknown }.map(\.bytes) == [77])
    }

    @Test func zeroRunsAreNotFrames() {
        let r = Recorder(midstream: true)
        r.feed([UInt8](repeating: 0, count: 3000), .server)
        #expect(r.frames.isEmpty && !r.session.isWebSocket)
        r.feed(serverFrame(1, "real"), .server)
        r.feed(serverFrame(1, "frames"), .server)
        r.feed(serverFrame(1, "now"), .server)
        #expect(r.messages.map(\.payload) == [Array("real".utf8), Array("frames".utf8), Array("now".utf8)])
        #expect(r.opaque.filter { $0.kind == .unknown }.map(\.bytes) == [3000])
    }

    @Test func midstreamHTTPStillParsed() {
        let r = Recorder(midstream: true)
        r.feed(upgradeRequest(), .client)
        r.feed(upgradeResponse(), .server)
        #expect(r.session.isWebSocket && !r.session.isMidstream)
    }

    @Test func notWebSocketWithoutMidstream() {
        let r = Recorder()
        r.feed(serverFrame(1, "hello"), .server)
        #expect(!r.session.isWebSocket)
        #expect(r.frames.isEmpty)
    }
}

@Suite struct RobustnessTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    @Test func randomBytesNeverCrash() {
        var g = Generator(state: 42)
        for round in 0..<60 {
            let r: Recorder
            switch round % 3 {
            case 0: r = upgraded(extensions: "permessage-deflate")
            case 1: r = Recorder(midstream: true)
            default: r = Recorder()
            }
            for _ in 0..<40 {
                let side: Side = g.next() % 2 == 0 ? .client : .server
                switch g.next() % 10 {
                case 0: r.gap(g.next() % 5000 + 1, side)
                case 1:
                    // A plausible frame, sometimes compressed.
                    let payload = (0..<Int(g.next() % 300)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
                    r.feed(frame(UInt8(g.next() % 3), payload, fin: g.next() % 2 == 0, rsv: g.next() % 3 == 0 ? 4 : 0,
                                 mask: side == .client ? [1, 2, 3, 4] : nil), side)
                default:
                    let n = Int(g.next() % 2000)
                    r.feed((0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }, side)
                }
            }
            r.end(.client)
            r.end(.server)
        }
    }

    @Test func buffersStayBounded() {
        var limits = DissectorLimits()
        limits.payloadRetention = 100
        let r = upgraded(limits: limits)
        r.feed(frame(2, [UInt8](repeating: 3, count: 1 << 20), mask: nil), .server)
        #expect(r.frames[0].payload.count == 100)
        #expect(r.messages[0].payload.count == 100 && r.messages[0].length == 1 << 20)
        #expect(r.messages[0].truncated && r.messages[0].complete)
    }
}
