import Testing
import WSDecode
@testable import WSReassembly

/// Reassembly on real traffic (Fixtures/tcp, MTU-1500 segments between two namespaces).
@Suite struct ReassemblyPropertyTests {
    /// One direction's segments (client→server: SYN first, then data, then FIN), without the
    /// other direction, so no ACK can declare a hole lost.
    func clientSegments(_ path: String) throws -> (first: Segment, rest: [Segment]) {
        let all = try segments(path)
        let client = all[0].source
        let mine = all.filter { $0.source == client }
        return (mine[0], Array(mine.dropFirst()))
    }

    @Test func anyPermutationAndDuplicationGivesTheSameStream() throws {
        let (syn, rest) = try clientSegments("tcp/netem-clean.pcap")
        let expected = run([syn] + rest).bytes[.clientToServer] ?? []
        #expect(expected.count > 10_000)
        var rng = SeededGenerator(seed: 42)
        for round in 0..<200 {
            var shuffled = rest.shuffled(using: &rng)
            // Duplicate a few segments at random places.
            for _ in 0..<(round % 5) {
                let copy = rest.randomElement(using: &rng)!
                shuffled.insert(copy, at: Int.random(in: 0...shuffled.count, using: &rng))
            }
            let got = run([syn] + shuffled)
            #expect(got.bytes[.clientToServer] == expected, "round \(round)")
            #expect(got.gaps.isEmpty, "round \(round): \(got.gaps.count) gaps")
        }
    }

    @Test func wrapAroundAt2To32GivesTheSameStream() throws {
        let clean = run(try segments("tcp/netem-clean.pcap"))
        let wrapped = run(try segments("tcp/tcp-seq-wrap.pcap"))
        let segs = try segments("tcp/tcp-seq-wrap.pcap")
        // The rewrite really crosses 2^32 inside the data.
        #expect(segs.contains { $0.tcp.sequence > 0xffff_0000 } && segs.contains { $0.tcp.sequence < 0x0001_0000 && !$0.payload.isEmpty })
        #expect(wrapped.bytes == clean.bytes)
        #expect(wrapped.gaps.isEmpty)
    }

    @Test func oneByteSegmentsGiveTheSameStream() throws {
        let small = run(try segments("tcp/tcp-small-base.pcap"))
        let split = run(try segments("tcp/tcp-one-byte-segments.pcap"))
        #expect(split.bytes == small.bytes)
        #expect((split.bytes[.clientToServer] ?? []).count > 500)
    }

    @Test func realReorderingLossAndDuplicationGiveTheCleanStream() throws {
        // The netem captures carry the same exchange as each other (same generator log).
        for name in ["tcp/netem-reorder.pcap", "tcp/netem-duplicate.pcap", "tcp/netem-loss.pcap",
                     "tcp/tcp-reordered.pcap", "tcp/tcp-duplicated.pcap"] {
            let d = run(try segments(name))
            #expect(d.gaps.isEmpty, "\(name): \(d.gaps)")
            let reference = run(try segments("tcp/netem-clean.pcap"))
            #expect(d.bytes[.clientToServer]?.count == reference.bytes[.clientToServer]?.count, "\(name)")
            #expect(d.bytes[.serverToClient]?.count == reference.bytes[.serverToClient]?.count, "\(name)")
        }
    }

    @Test func partialOverlapsDeliverEachByteOnceAndFlagConflicts() throws {
        let d = run(try segments("tcp/tcp-overlap.pcap"))
        let reference = run(try segments("tcp/netem-clean.pcap"))
        #expect(d.bytes[.serverToClient]?.count == reference.bytes[.serverToClient]?.count)
        #expect(d.gaps.isEmpty)
        // The rewrite holds one overlap whose bytes conflict with bytes held out of order.
        let conflicts = d.reports.filter { $0.analysis.contains(.overlapConflict) }
        #expect(conflicts.count == 1)
    }

    @Test func missingSegmentIsAGapOfExactSizeAndTheStreamResumes() throws {
        let segs = try segments("tcp/tcp-missing-segment.pcap")
        let d = run(segs)
        #expect(d.gaps.count == 1)
        #expect(d.gaps.first?.1 == 1448)
        #expect(d.gaps.first?.0 == .serverToClient)
        // Declared as soon as the client ACKs past the hole, not at the end of the capture.
        #expect(d.gaps.first?.2 == .ackedUnseen)
        let reference = run(try segments("tcp/netem-clean.pcap"))
        let a = d.bytes[.serverToClient]!, b = reference.bytes[.serverToClient]!
        #expect(a.count == b.count)
        // Bytes after the gap are the real ones.
        #expect(a.suffix(1000) == b.suffix(1000))
    }

    /// Moves each segment whose ACK covers data of the other direction ahead of the newest
    /// data segment it acknowledges, by 1...maxDistance packets at random (as multi-queue NICs,
    /// `-i any` and merged taps show them), keeping the timestamps in file order.
    static func acksFirst(_ segs: [Segment], maxDistance: Int, rng: inout SeededGenerator) -> (segments: [Segment], moved: Int) {
        var out = segs
        var moved = 0
        var i = 1
        while i < out.count {
            let ack = out[i]
            // The nearest earlier data segment of the other direction that this ACK covers.
            let window = max(0, i - maxDistance)..<i
            if ack.tcp.flags.contains(.ack),
               let j = window.reversed().first(where: { k in
                   let d = out[k]
                   return d.source == ack.destination && !d.payload.isEmpty
                       && Int32(bitPattern: ack.tcp.acknowledgment &- (d.tcp.sequence &+ UInt32(d.payload.count))) >= 0
               }), Bool.random(using: &rng) {
                let target = Int.random(in: j...(i - 1), using: &rng)
                let times = out[target...i].map(\.time)
                out.remove(at: i)
                out.insert(ack, at: target)
                for (k, t) in zip(target...i, times) { out[k].time = t }
                moved += 1
            }
            i += 1
        }
        return (out, moved)
    }

    @Test func acksAheadOfTheirDataGiveTheSameBytes() throws {
        for name in ["tcp/netem-clean.pcap", "tcp/netem-reorder.pcap", "tcp/netem-loss.pcap", "tcp/tcp-small-base.pcap"] {
            let segs = try segments(name)
            let reference = run(segs)
            var rng = SeededGenerator(seed: 7)
            for round in 0..<40 {
                let (moved, count) = Self.acksFirst(segs, maxDistance: 1 + round % 3, rng: &rng)
                #expect(count > 0)
                let d = run(moved)
                #expect(d.bytes[.clientToServer] == reference.bytes[.clientToServer], "\(name) round \(round)")
                #expect(d.bytes[.serverToClient] == reference.bytes[.serverToClient], "\(name) round \(round)")
                #expect(d.gaps.isEmpty, "\(name) round \(round): \(d.gaps)")
                let labels = d.reports.map(\.analysis)
                #expect(!labels.contains { $0.contains(.overlapConflict) || $0.contains(.late) }, "\(name) round \(round)")
                #expect(labels.contains { $0.contains(.arrivedAfterAck) }, "\(name) round \(round)")
            }
        }
    }

    @Test func aSegmentAfterTheGraceIsLateNotAConflict() throws {
        let segs = try segments("tcp/netem-clean.pcap")
        let server = segs[1].source  // the SYN-ACK's sender
        // A server data segment moved far past the client's ACK of it.
        let index = segs.indices.filter { segs[$0].source == server && segs[$0].payload.count > 1000 }[3]
        var moved = segs
        let late = moved.remove(at: index)
        moved.insert(late, at: index + 25)
        let d = run(moved)
        #expect(d.gaps.count == 1 && d.gaps.first?.1 == UInt64(late.payload.count))
        #expect(d.gaps.first?.2 == .ackedUnseen)
        let report = d.reports[index + 25]
        #expect(report.analysis.contains(.late) && report.lateBytes == late.payload.count)
        #expect(!report.analysis.contains(.overlapConflict) && !report.analysis.contains(.retransmission))
        #expect(!d.reports.contains { $0.analysis.contains(.overlapConflict) })
    }

    @Test func holeWithoutAnyAckIsAGapAtEndOfCapture() throws {
        let (syn, rest) = try clientSegments("tcp/netem-clean.pcap")
        let dataIndex = rest.firstIndex { $0.payload.count > 1000 }!
        var dropped = rest
        let lost = dropped.remove(at: dataIndex)
        let d = run([syn] + dropped)
        #expect(d.gaps.count == 1)
        #expect(d.gaps[0].1 == UInt64(lost.payload.count))
        #expect(d.gaps[0].2 == .endOfCapture)
    }

    @Test func bufferCapDeclaresTheHoleAndBoundsHeldBytes() throws {
        let (syn, rest) = try clientSegments("tcp/netem-clean.pcap")
        let firstData = rest.firstIndex { $0.payload.count > 1000 }!
        var dropped = rest
        dropped.remove(at: firstData)
        let limits = ReassemblyLimits(maxBufferedPerConnection: 4096, maxBufferedTotal: 1 << 20)
        let table = ConnectionTable(limits: limits)
        var maxHeld = 0
        var gaps: [GapReason] = []
        for s in [syn] + dropped {
            _ = s.payload.withUnsafeBytes { raw in
                table.process(s.tcp, source: s.source, destination: s.destination, payload: raw,
                              payloadLength: raw.count, packet: s.packet, time: s.time) { e in
                    if case let .gap(_, _, _, _, reason) = e { gaps.append(reason) }
                }
            }
            maxHeld = max(maxHeld, table.bufferedBytes)
        }
        #expect(gaps.first == .bufferLimit)
        #expect(maxHeld <= 4096 + 1448)
    }

    @Test func tableCapEvictsLeastRecentConnections() throws {
        let base = try segments("tcp/netem-clean.pcap")[0]  // a SYN
        let table = ConnectionTable(limits: ReassemblyLimits(maxConnections: 100))
        var released = 0
        for i in 0..<1000 {
            var s = base
            s.source.port = UInt16(10_000 + i)
            _ = table.process(s.tcp, source: s.source, destination: s.destination, payload: UnsafeRawBufferPointer(start: nil, count: 0),
                              payloadLength: 0, packet: i + 1, time: Int64(i)) { e in
                if case .released(_, .evicted) = e { released += 1 }
            }
            #expect(table.count <= 100)
        }
        #expect(released >= 900)
        #expect(table.streamsOpened == 1000)
    }

    /// Connections last seen at the same time are evicted oldest stream first, the same in
    /// every run (the flow table's slot order is random per table).
    @Test func evictionTiesGoByStream() throws {
        let base = try segments("tcp/netem-clean.pcap")[0]  // a SYN
        for _ in 0..<3 {
            let table = ConnectionTable(limits: ReassemblyLimits(maxConnections: 100))
            var evicted: [Int] = []
            for i in 0..<400 {
                var s = base
                s.source.port = UInt16(10_000 + i)
                _ = table.process(s.tcp, source: s.source, destination: s.destination,
                                  payload: UnsafeRawBufferPointer(start: nil, count: 0),
                                  payloadLength: 0, packet: i + 1, time: 0) { e in
                    if case let .released(stream, .evicted) = e { evicted.append(stream) }
                }
            }
            #expect(evicted.count >= 300)
            #expect(evicted == Array(0..<evicted.count))
        }
    }
}
