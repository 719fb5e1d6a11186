// Mid-stream recognition: what a connection whose handshake was not captured carries. The byte
// arrays are built by hand on purpose (TLS record framing around random bytes, random binary
// protocols, frames split at every position): real-peer captures are tested in IntegrationTests.
import Testing
@testable import WSDissector

extension RobustnessTests.Generator {
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

@Suite struct RecognitionTests {
    typealias Generator = RobustnessTests.Generator

    /// TLS records (type, 3.3, length) around random ciphertext.
    static func tlsRecords(_ g: inout Generator, count: Int, type: UInt8 = 23) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<count {
            let length = Int(g.next() % 16000) + 24
            out += [type, 3, 3, UInt8(length >> 8), UInt8(length & 0xFF)] + g.bytes(length)
        }
        return out
    }

    /// Splits `bytes` into segments of 1..<max bytes.
    static func segments(_ bytes: [UInt8], _ g: inout Generator, max: Int = 1448) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = min(bytes.count - i, Int(g.next() % UInt64(max)) + 1)
            out.append(Array(bytes[i..<(i + n)]))
            i += n
        }
        return out
    }

    @Test func tlsPickedUpMidRecordIsTLSNeverWebSocket() {
        // 60 captures of TLS application data picked up at a random byte, both directions.
        for seed in 0..<60 {
            var g = Generator(state: UInt64(seed))
            let r = Recorder(midstream: true)
            let client = Self.tlsRecords(&g, count: 4)
            let server = Self.tlsRecords(&g, count: 6)
            let clientStart = Int(g.next() % 3000), serverStart = Int(g.next() % 3000)
            var cs = Self.segments(Array(client[clientStart...]), &g)
            var ss = Self.segments(Array(server[serverStart...]), &g)
            while !cs.isEmpty || !ss.isEmpty {
                if !cs.isEmpty && (ss.isEmpty || g.next() % 2 == 0) { r.feed(cs.removeFirst(), .client) } else { r.feed(ss.removeFirst(), .server) }
            }
            r.end(.client)
            r.end(.server)
            #expect(!r.session.isWebSocket && r.frames.isEmpty && r.violations.isEmpty, "seed \(seed)")
            #expect(r.session.recognition?.proto == .tls, "seed \(seed): \(String(describing: r.session.recognition))")
        }
    }

    @Test func randomBinaryIsUnknownWithoutViolations() {
        for seed in 0..<200 {
            var g = Generator(state: UInt64(seed) &+ 1000)
            let r = Recorder(midstream: true)
            for _ in 0..<Int(g.next() % 40 + 1) {
                r.feed(g.bytes(Int(g.next() % 1448) + 1), g.next() % 2 == 0 ? .client : .server)
            }
            r.end(.client)
            r.end(.server)
            #expect(!r.session.isWebSocket && r.frames.isEmpty && r.violations.isEmpty, "seed \(seed)")
            #expect(r.session.recognition?.proto != .websocket, "seed \(seed)")
        }
    }

    @Test func threeFramesAreEnoughTwoAreNot() {
        let two = Recorder(midstream: true)
        two.feed(clientFrame(1, "hello"), .client)
        two.feed(serverFrame(1, "world"), .server)
        #expect(two.frames.isEmpty)
        two.end(.client)
        two.end(.server)
        #expect(!two.session.isWebSocket && two.frames.isEmpty)
        #expect(two.session.recognition?.proto == .unknown)

        let three = Recorder(midstream: true)
        three.feed(clientFrame(1, "hello"), .client)
        three.feed(serverFrame(1, "world"), .server)
        three.feed(clientFrame(9, ""), .client)
        #expect(three.session.isWebSocket && three.session.isMidstream)
        #expect(three.messages.map(\.payload) == [Array("hello".utf8), Array("world".utf8)])
        #expect(three.frames.map(\.packet) == [3, 3, 3] && three.frames.map(\.firstPacket) == [1, 2, 3])
        #expect(three.session.recognition?.method == .frames)
        #expect(three.violations.isEmpty)
    }

    @Test func framesWithTheWrongMaskingAreNotEvidence() {
        // Unmasked frames from the client and masked ones from the server: not how peers talk.
        let r = Recorder(midstream: true)
        for _ in 0..<5 {
            r.feed(serverFrame(1, "hello"), .client)
            r.feed(clientFrame(1, "world"), .server)
        }
        r.end(.client)
        r.end(.server)
        #expect(!r.session.isWebSocket && r.frames.isEmpty && r.violations.isEmpty)
    }

    @Test func invalidTextIsNotEvidence() {
        let r = Recorder(midstream: true)
        for _ in 0..<5 { r.feed(frame(1, [0xff, 0xfe, 0xfd], mask: nil), .server) }
        r.end(.client)
        r.end(.server)
        #expect(!r.session.isWebSocket && r.frames.isEmpty)
    }

    @Test func httpMidStreamIsHTTP() {
        let r = Recorder(midstream: true)
        r.feed(Array("tail of an earlier body".utf8), .client)
        r.feed("GET /next HTTP/1.1\r\nHost: a\r\n\r\n", .client)
        r.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .server)
        #expect(r.requests.map(\.target) == ["/next"])
        #expect(r.responses.map(\.status) == [200])
        #expect(r.session.recognition?.proto == .http)
        #expect(!r.session.isWebSocket)
    }

    @Test func upgradeCapturedMidStreamStillUpgrades() {
        let r = Recorder(midstream: true)
        r.feed(upgradeRequest(), .client)
        r.feed(upgradeResponse(), .server)
        r.feed(serverFrame(1, "hi"), .server)
        #expect(r.session.isWebSocket && !r.session.isMidstream)
        #expect(r.messages.map(\.payload) == [Array("hi".utf8)])
        #expect(r.session.recognition?.method == .handshake)
    }

    @Test func aCapGivesUpAsUnknown() {
        // One frame announcing more than the recognizer holds: never decided, released as unknown.
        let r = Recorder(midstream: true)
        let big = frame(2, [UInt8](repeating: 7, count: 100_000), mask: nil)
        for i in stride(from: 0, to: big.count, by: 1448) { r.feed(Array(big[i..<min(i + 1448, big.count)]), .server) }
        #expect(r.session.recognition?.proto == .unknown)
        #expect(r.frames.isEmpty && r.violations.isEmpty)
    }

    @Test func chainsAreExactOrNothing() {
        // A plausible header whose length overruns the bytes at hand is no evidence.
        let bytes = serverFrame(1, "ok") + [0x82, 0x7e, 0x10, 0x00]
        let h = MidstreamRecognizer.Held(bytes: bytes, chunks: [.init(offset: 0, packet: 1)])
        #expect(MidstreamRecognizer.frameChain(h, side: .server) == .running)
        let exact = MidstreamRecognizer.Held(bytes: serverFrame(1, "ok") + serverFrame(2, "x"), chunks: [.init(offset: 0, packet: 1)])
        #expect(MidstreamRecognizer.frameChain(exact, side: .server) == .exact(start: 0, frames: 2, masked: false))
    }
}
