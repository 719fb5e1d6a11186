import Testing
import WSDecode
@testable import WSReassembly

/// Handshake and teardown labels on the seed walk-through (a true four-packet teardown).
@Suite struct LifecycleTests {
    @Test func seedWalkThroughSteps() throws {
        let d = run(try segments("seed-walkthrough.pcap"), finish: false)
        #expect(d.reports[0].handshake == .syn)
        #expect(d.reports[1].handshake == .synAck)
        #expect(d.reports[2].handshake == .ack)
        #expect(d.reports[2].initialRTT == 35_000)
        #expect(d.reports.suffix(4).map(\.teardown) == [[.firstFIN], [.firstFINAck], [.secondFIN], [.secondFINAck]])
        #expect(d.reports.last?.connectionEnded == true)
        #expect(d.reports.last?.state == .closed)
        #expect(d.reports.allSatisfy { $0.stream == 0 })
        #expect(d.reports[3].relativeSeq == 1)
        // Both directions end in order (FIN reached).
        #expect(Set(d.ends) == [.clientToServer, .serverToClient])
    }

    @Test func threePacketTeardownIsLabelledTwoStepsInOne() throws {
        let d = run(try segments("tcp/netem-clean.pcap"), finish: false)
        let steps = d.reports.map(\.teardown).filter { !$0.isEmpty }
        #expect(steps == [[.firstFIN], [.firstFINAck, .secondFIN], [.secondFINAck]])
        #expect(steps[1].label == "2/4+3/4")
    }

    @Test func resetEndsTheConnectionAndSaysWhen() throws {
        let d = run(try segments("websocket/ws-rst-no-close.pcap"), finish: false)
        let rst = try #require(d.reports.first { $0.reset })
        #expect(rst.stateAtReset == .established)
        #expect(rst.connectionEnded)
        #expect(rst.direction == .clientToServer)
    }

    @Test func midstreamPickupGuessesRolesFromContent() throws {
        let d = run(try segments("websocket/ws-midstream.pcap"), finish: false)
        #expect(d.reports[0].midstream)
        #expect(d.reports[0].handshake == nil)
        // The first captured packet is the client's masked frame.
        #expect(d.reports[0].direction == .clientToServer)
    }

    @Test func portReuseStartsANewStream() throws {
        // Three connections on one server port, one after the other (the rejected upgrades).
        let d = run(try segments("websocket/ws-rejected-upgrade.pcap"), finish: false)
        #expect(Set(d.reports.map(\.stream)) == [0, 1, 2])
        var same = try segments("seed-walkthrough.pcap")
        let again = same.map { s -> Segment in var t = s; t.packet += 100; t.time += 10_000_000_000; t.tcp.sequence &+= 99_999; t.tcp.acknowledgment &+= 77_777; return t }
        same += again
        let reused = run(same, finish: false)
        #expect(reused.reports[22].stream == 1)
        #expect(reused.reports[22].analysis.contains(.portReuse))
        #expect(reused.reports[22].handshake == .syn)
    }
}
