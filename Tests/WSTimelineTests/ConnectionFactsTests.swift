import Testing
@testable import WSDissector
import WSReassembly
@testable import WSTimeline

/// The TCP facts a connection's segments leave for the Diagnosis stage: retransmissions the
/// peer has not acknowledged (the "peer unreachable" evidence) and the data round trips.
@Suite struct ConnectionFactsTests {
    /// A segment's report: `payload` new bytes at `seq` (relative), or a retransmission of them;
    /// `acked`: the ACK moved the peer's acknowledged offset forward (to `ack`, relative).
    static func report(from side: Side, seq: UInt32 = 0, payload: Int = 0, retransmission: Bool = false,
                       ack: UInt32 = 0, acked: Bool = false) -> SegmentReport {
        var r = SegmentReport(stream: 0, direction: side == .client ? .clientToServer : .serverToClient)
        r.relativeSeq = seq
        r.relativeAck = ack
        r.payloadLength = payload
        if retransmission { r.analysis.insert(.retransmission) }
        if acked { r.ackedOffset = UInt64(ack) }
        return r
    }

    @Test func retransmissionsStayUnacknowledgedUntilThePeerAcknowledgesNewBytes() {
        var facts = ConnectionFacts()
        facts.segment(from: .client, report: Self.report(from: .client, seq: 1, payload: 100), window: 512,
                      packet: 1, time: 1_000, start: 0)
        for (packet, time) in [(2, 200_000_000), (3, 600_000_000)] as [(Int, Int64)] {
            facts.segment(from: .client, report: Self.report(from: .client, seq: 1, payload: 100, retransmission: true),
                          window: 512, packet: packet, time: time, start: 0)
        }
        #expect(facts.client.retransmissions == 2)
        #expect(facts.client.unackedRetransmissions == 2)
        #expect(facts.client.unackedFirst?.packet == 2 && facts.client.unackedLast?.packet == 3)
        #expect(facts.client.unackedTimes == [200_000_000, 600_000_000])

        // The server's ACK that does not move forward leaves them as they are.
        facts.segment(from: .server, report: Self.report(from: .server, ack: 1), window: 512, packet: 4,
                      time: 700_000_000, start: 0)
        #expect(facts.client.unackedRetransmissions == 2 && facts.client.unackedFirst != nil)

        // New bytes acknowledged: the retransmissions got through; the total stays.
        facts.segment(from: .server, report: Self.report(from: .server, ack: 101, acked: true), window: 512,
                      packet: 5, time: 800_000_000, start: 0)
        #expect(facts.client.unackedRetransmissions == 0)
        #expect(facts.client.unackedFirst == nil && facts.client.unackedLast == nil)
        #expect(facts.client.unackedTimes.isEmpty)
        #expect(facts.client.retransmissions == 2)
        #expect(facts.server.lastAckAdvance?.packet == 5)
    }

    @Test func oneRetransmissionIsClearedToo() {
        var facts = ConnectionFacts()
        facts.segment(from: .server, report: Self.report(from: .server, seq: 1, payload: 10, retransmission: true),
                      window: 512, packet: 1, time: 10, start: 0)
        #expect(facts.server.unackedRetransmissions == 1 && facts.server.unackedTimes == [10])
        facts.segment(from: .client, report: Self.report(from: .client, ack: 11, acked: true), window: 512,
                      packet: 2, time: 20, start: 0)
        #expect(facts.server.unackedRetransmissions == 0 && facts.server.unackedFirst == nil
                && facts.server.unackedLast == nil && facts.server.unackedTimes.isEmpty)
    }

    @Test func aDataSegmentIsTimedUntilItsAcknowledgment() {
        var facts = ConnectionFacts()
        facts.segment(from: .client, report: Self.report(from: .client, seq: 1, payload: 100), window: 512,
                      packet: 1, time: 1_000_000, start: 0)
        // An ACK short of the segment's end does not time it.
        facts.segment(from: .server, report: Self.report(from: .server, ack: 51, acked: true), window: 512,
                      packet: 2, time: 2_000_000, start: 0)
        #expect(facts.tcpRTTs.isEmpty)
        facts.segment(from: .server, report: Self.report(from: .server, ack: 101, acked: true), window: 512,
                      packet: 3, time: 4_000_000, start: 0)
        #expect(facts.tcpRTTs == [3_000_000])
        #expect(facts.client.lastPayload?.packet == 1 && facts.lastPayload?.packet == 1)
        #expect(facts.client.lastPacket?.packet == 1 && facts.server.lastPacket?.packet == 3)
    }

    /// The messages' fingerprint (proxy-leg pairing) is the same whatever payload a mode keeps:
    /// a `--summary` keeps none, a timeline a preview or all of it.
    @Test func theFingerprintDoesNotDependOnThePayloadKept() {
        func fingerprint(_ payloads: [[UInt8]], lengths: [UInt64]) -> UInt64 {
            var facts = ConnectionFacts()
            for (k, (bytes, length)) in zip(payloads, lengths).enumerated() {
                bytes.withUnsafeBytes { kept in
                    let side: Side = k % 2 == 0 ? .client : .server
                    let message = MessageInfo(side: side, opcode: 1, length: length, wireLength: length, compressed: false,
                                              frames: 1, complete: true, utf8Valid: true, payload: kept, truncated: false)
                    let frame = FrameInfo(side: side, fin: true, rsv: 0, opcode: 1, masked: side == .client, maskKey: nil,
                                          payloadLength: length, headerLength: 2, payload: kept,
                                          payloadTruncated: UInt64(kept.count) < length, message: message,
                                          firstPacket: k + 1, completedPacket: k + 1, violations: [])
                    facts.frame(frame, packet: k + 1, time: Int64(k) * 1_000)
                }
            }
            #expect(facts.fingerprintTimes.count == payloads.count)
            return facts.fingerprint
        }
        let shown = fingerprint([Array("hello".utf8), Array("world!".utf8)], lengths: [5, 6])
        #expect(fingerprint([Array("HELLO".utf8), Array("there!".utf8)], lengths: [5, 6]) == shown)
        #expect(fingerprint([[], []], lengths: [5, 6]) == shown)
        #expect(fingerprint([Array("hel".utf8), []], lengths: [5, 6]) == shown)
        // What it is made of still tells messages apart.
        #expect(fingerprint([[], []], lengths: [5, 7]) != shown)
        #expect(fingerprint([[], []], lengths: [6, 5]) != shown)
    }

    /// A pong answers the ping whose first 125 bytes it repeats (what every mode keeps of a
    /// control frame), however much more of an oversized one a mode keeps.
    @Test func pongsPairWithPingsOnTheFirst125Bytes() {
        func answered(ping: [UInt8], pong: [UInt8], kept: Int) -> Int {
            var facts = ConnectionFacts()
            for (k, (bytes, opcode, side)) in [(ping, UInt8(9), Side.client), (pong, UInt8(10), Side.server)].enumerated() {
                Array(bytes.prefix(kept)).withUnsafeBytes { payload in
                    let frame = FrameInfo(side: side, fin: true, rsv: 0, opcode: opcode, masked: side == .client, maskKey: nil,
                                          payloadLength: UInt64(bytes.count), headerLength: 4, payload: payload,
                                          payloadTruncated: payload.count < bytes.count, message: nil,
                                          firstPacket: k + 1, completedPacket: k + 1, violations: [])
                    facts.frame(frame, packet: k + 1, time: Int64(k) * 1_000)
                }
            }
            return facts.client.pingsAnswered
        }
        let ping = [UInt8](repeating: 0x70, count: 200)
        let sameHead = Array(ping.prefix(125)) + [UInt8](repeating: 0x71, count: 75)
        var otherHead = ping
        otherHead[10] = 0x71
        for kept in [125, 200] {
            #expect(answered(ping: ping, pong: ping, kept: kept) == 1, "kept \(kept)")
            #expect(answered(ping: ping, pong: sameHead, kept: kept) == 1, "kept \(kept)")
            #expect(answered(ping: ping, pong: otherHead, kept: kept) == 0, "kept \(kept)")
        }
    }
}
