import Testing
import WSDecode
import WSTestSupport
@testable import WSTimeline

/// The analyzer fed directly with the seed walk-through's packets (no libpcap, no CLI).
@Suite struct AnalyzerTests {
    func run(_ path: String, options: AnalyzerOptions = AnalyzerOptions()) throws -> (events: [(Int, Phase, String)], summaries: [ConnectionSummary], counters: CaptureCounters) {
        let file = try FixtureFile(path)
        let analyzer = Analyzer(linkType: try #require(LinkType(dlt: file.linkType)), options: options)
        var events: [(Int, Phase, String)] = []
        var summaries: [ConnectionSummary] = []
        for (i, r) in file.records.enumerated() {
            r.bytes.withUnsafeBytes { raw in
                analyzer.process(number: i + 1, time: r.time, wireLength: r.wireLength, bytes: raw,
                                 emit: { events.append(($0.packet, $0.phase, $0.proto)) }, summary: { summaries.append($0) })
            }
        }
        analyzer.finish(emit: { events.append(($0.packet, $0.phase, $0.proto)) }, summary: { summaries.append($0) })
        return (events, summaries, analyzer.counters)
    }

    @Test func seedPhasesFollowTheWalkThrough() throws {
        let (events, summaries, counters) = try run("seed-walkthrough.pcap")
        #expect(events.map(\.0) == Array(1...22))  // one event per packet, in order
        #expect(events.map(\.1) == [.handshake, .handshake, .handshake, .upgrade, .upgrade, .upgrade, .upgrade]
                + Array(repeating: .data, count: 8) + [.close, .close, .close] + Array(repeating: .teardown, count: 4))
        #expect(events[3].2 == "HTTP" && events[7].2 == "WebSocket")
        #expect(counters.frames == 10 && counters.messages == 6 && counters.connections == 1)
        let s = try #require(summaries.first)
        #expect(summaries.count == 1)
        #expect(s.verdict == "closed cleanly by client, 1000")
        #expect(s.upgrade?.acceptValid == true)
        #expect(s.close?.replyCode == 1000)
        #expect(s.teardown.steps == [1: 19, 2: 20, 3: 21, 4: 22])
        #expect(s.phases[.upgrade]?.firstPacket == 4 && s.phases[.upgrade]?.lastPacket == 7)
    }

    @Test func summaryModeBuildsNoEventsButTheSameSummary() throws {
        let full = try run("seed-walkthrough.pcap")
        let quiet = try run("seed-walkthrough.pcap", options: AnalyzerOptions(buildsEvents: false))
        #expect(quiet.events.isEmpty)
        #expect(quiet.counters == full.counters)
        #expect(quiet.summaries.first?.verdict == full.summaries.first?.verdict)
        #expect(quiet.summaries.first?.phases[.close]?.firstPacket == full.summaries.first?.phases[.close]?.firstPacket)
    }
}

/// The teardown's four steps are kept in the summary itself (they were a dictionary): each
/// step holds its packet or none, any packet number included, and nothing else is a step.
@Suite struct TeardownStepPacketsTests {
    @Test func keepsEachStepApart() {
        var steps = TeardownStepPackets()
        #expect((1...4).allSatisfy { steps[$0] == nil })
        #expect(steps.seen.isEmpty)
        steps[3] = 21
        steps[1] = 0  // a packet numbered 0 (a caller counting from 0) is still a packet
        #expect(steps[1] == 0 && steps[2] == nil && steps[3] == 21 && steps[4] == nil)
        #expect(steps.seen.map(\.step) == [1, 3] && steps.seen.map(\.packet) == [0, 21])
        #expect(steps[0] == nil && steps[5] == nil && steps[-1] == nil)
        steps[3] = nil
        #expect(steps == [1: 0])
        #expect(steps != [1: 0, 3: 21])
        #expect(steps != TeardownStepPackets())
        let full: TeardownStepPackets = [4: 40, 2: 20, 1: 10, 3: 30]
        #expect(full.seen.map(\.packet) == [10, 20, 30, 40])
        var other = full
        other[2] = 21
        #expect(other != full)
        other[2] = 20
        #expect(other == full)
    }
}
