import Foundation
import Testing
import WSDecode
import WSTestSupport
@testable import WSTimeline

/// Flow shards: analyzers that each follow a share of the flows, merged, report what one
/// analyzer over all flows reports (the core of `read --summary` on several threads).
@Suite struct ShardTests {
    /// Every classic pcap fixture (the test reader does not read pcapng).
    static let captures: [String] = {
        let root = FixtureFile.fixturesDirectory()
        let walker = FileManager.default.enumerator(atPath: root.path)
        var found: [String] = []
        while let path = walker?.nextObject() as? String {
            if path.hasSuffix(".pcap") && !path.contains("not-a-capture") { found.append(path) }
        }
        return found.sorted()
    }()

    struct Run {
        var summaries: [ConnectionSummary] = []
        var counters = CaptureCounters()
    }

    func analyze(_ file: FixtureFile, shard: FlowShard?, limits: (Int, Int)? = nil) throws -> (Run, Analyzer) {
        var options = AnalyzerOptions(buildsEvents: false)
        options.shard = shard
        if let (connections, buffered) = limits {
            options.reassembly.maxConnections = connections
            options.reassembly.maxBufferedTotal = buffered
        }
        let analyzer = Analyzer(linkType: try #require(LinkType(dlt: file.linkType)), options: options)
        var run = Run()
        for (i, r) in file.records.enumerated() {
            r.bytes.withUnsafeBytes { raw in
                analyzer.process(number: i + 1, time: r.time, wireLength: r.wireLength, bytes: raw,
                                 emit: { _ in }, summary: { run.summaries.append($0) })
            }
        }
        analyzer.finish(emit: { _ in }, summary: { run.summaries.append($0) })
        run.counters = analyzer.counters
        return (run, analyzer)
    }

    /// The fields a summary prints, in a form that compares (dictionaries sorted).
    func fingerprint(_ s: ConnectionSummary) -> String {
        let phases = Phase.allCases.compactMap { p in s.phases[p].map { "\(p):\($0)" } }
        let steps = s.teardown.steps.seen.map { "\($0.step)=\($0.packet)" }
        var t = s.teardown
        t.steps = [:]
        return ["\(s.stream)", "\(s.client)", "\(s.server)", "\(s.start)-\(s.end)", "\(s.firstPacket)-\(s.lastPacket)",
                "\(s.midstream)", "\(s.handshake)", String(describing: s.upgrade), "\(s.isWebSocket)",
                "\(s.httpRequests)", String(describing: s.firstRequest), String(describing: s.firstResponse),
                "\(s.clientCounts)", "\(s.serverCounts)", String(describing: s.close), "\(t)", steps.joined(separator: ","),
                "\(s.violations.count)", "\(s.violationsDropped)", "\(s.gaps)", "\(s.gapBytes)", phases.joined(separator: ","),
                "\(s.state)", String(describing: s.releaseReason), "\(s.incompleteMessages)", s.verdict]
            .joined(separator: "|")
    }

    @Test(arguments: captures)
    func shardsMergeIntoTheSingleRun(path: String) throws {
        let file = try FixtureFile(path)
        let (single, _) = try analyze(file, shard: nil)
        let expected = single.summaries.sorted { $0.stream < $1.stream }.map(fingerprint)
        for count in [2, 3] {
            var runs: [Run] = []
            for index in 0..<count {
                runs.append(try analyze(file, shard: FlowShard(index: index, count: count)).0)
            }
            let order = ShardMerge.order(firstPackets: runs.map { $0.summaries.map(\.firstPacket) })
            let merged = order.enumerated().map { stream, at in
                var s = runs[at.shard].summaries[at.index]
                s.stream = stream
                return s
            }
            #expect(merged.map(fingerprint) == expected, "\(path), \(count) shards")
            let counters = ShardMerge.counters(runs.map(\.counters), firstTime: single.counters.firstTime,
                                               lastTime: single.counters.lastTime)
            #expect(counters == single.counters, "\(path), \(count) shards")
        }
    }

    /// The merge is exact only while no shared cap acted; the peaks tell when one may have.
    @Test func peaksShowWhenASharedCapMayHaveActed() throws {
        let file = try FixtureFile("websocket/ws-concurrent.pcap")
        let (_, whole) = try analyze(file, shard: nil)
        #expect(whole.peakConnections > 2)
        let shards = try (0..<2).map { try analyze(file, shard: FlowShard(index: $0, count: 2)).1 }
        let sum = shards.reduce(0) { $0 + $1.peakConnections }
        #expect(sum >= whole.peakConnections)  // shards never hide connections open at once
        #expect(shards.allSatisfy { $0.peakConnections <= whole.peakConnections })
    }

    @Test func shardIsSymmetricAndInRange() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let a = Endpoint(address: IPAddress(ipv4: UInt32.random(in: 0...UInt32.max, using: &generator)),
                             port: UInt16.random(in: 0...UInt16.max, using: &generator))
            let b = Endpoint(address: IPAddress(ipv6High: UInt64.random(in: 0...UInt64.max, using: &generator),
                                                low: UInt64.random(in: 0...UInt64.max, using: &generator)),
                             port: UInt16.random(in: 0...UInt16.max, using: &generator))
            for count in [1, 2, 3, 4, 7] {
                let s = FlowShard.shard(of: a, b, count: count)
                #expect(s == FlowShard.shard(of: b, a, count: count))
                #expect((0..<count).contains(s))
            }
        }
    }

    @Test func flowsSpreadOverShards() {
        // 10,000 client ports to one server: each of 2 shards gets a fair share.
        let server = Endpoint(address: IPAddress(ipv4: 0x0a01_0001), port: 8080)
        var counts = [0, 0]
        for port in 20_000..<30_000 {
            let client = Endpoint(address: IPAddress(ipv4: 0x0a00_0155), port: UInt16(port))
            counts[FlowShard.shard(of: client, server, count: 2)] += 1
        }
        #expect(counts.allSatisfy { $0 > 4_500 }, "\(counts)")
    }
}
