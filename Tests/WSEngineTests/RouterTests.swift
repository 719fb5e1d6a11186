import Foundation
import Testing
import WSCapture
import WSDecode
import WSTimeline
@testable import WSEngine

/// A record the reader routes to one worker is that worker's flow by the full decode of the
/// same bytes (the worker's analyzer then skips its own ownership check): real captures, and
/// the same records with the header fields the glance checks changed.
@Suite struct RouterTests {
    @Test func routedRecordsBelongToTheirWorkerByTheFullDecode() throws {
        let root = EngineTests.fixtures
        let files = try #require(FileManager.default.enumerator(atPath: root.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        var routed = 0, everyone = 0, records = 0
        for name in files {
            for workers in [2, 3, 16] {
                guard let file = try? CaptureFile(path: root.appendingPathComponent(name).path),
                      file.linkType == 1 else { break }
                let router = Router(linkType: .ethernet, workers: workers)
                let decoder = PacketDecoder(linkType: .ethernet)
                /// Whether `bytes`, if routed to one worker, decode to a flow of that worker.
                func check(_ bytes: UnsafeRawBufferPointer, _ what: String) -> Bool {
                    let worker = router.route(bytes, link: .ethernet)
                    guard worker != Router.everyone else { return false }
                    let d = decoder.decode(bytes, wireLength: bytes.count)
                    // A TCP header cut short is TCP at a glance only: its worker reports it.
                    guard let tcp = d.tcp, let source = d.source, let destination = d.destination else { return true }
                    let shard = FlowShard(index: Int(worker), count: workers)
                    #expect(shard.owns(Endpoint(address: source, port: tcp.sourcePort),
                                       Endpoint(address: destination, port: tcp.destinationPort)), "\(what), \(workers) workers")
                    return true
                }
                let batch = RecordBatch(capacity: 1 << 20)
                while (try? file.fill(batch)) == true {
                    // (The Ethernet interface's records of a pcapng of several.)
                    for r in batch.records where r.link == .ethernet {
                        let bytes = batch.bytes(of: r)
                        records += 1
                        if check(bytes, "\(name) #\(r.number)") { routed += 1 } else { everyone += 1 }
                        for variant in RouterTests.variants(of: bytes) {
                            variant.withUnsafeBytes { v in _ = check(v, "\(name) #\(r.number) changed") }
                        }
                    }
                    batch.reset()
                }
            }
        }
        // Most records are plain TCP over IPv4; some are not (IPv6 with extensions, VLAN,
        // fragments, ARP...) and go to every worker.
        #expect(routed > 10_000 && everyone > 100, "\(records) records: \(routed) routed, \(everyone) to every worker")
    }

    /// A pcapng of two link types (dumpcap on `lo` and `any`): each record is routed by its own
    /// interface's link type, the cooked capture's too (read as Ethernet, they would all go to
    /// every worker), to the worker of its flow by the full decode.
    @Test func recordsAreRoutedByTheirOwnLinkType() throws {
        let file = try CaptureFile(path: EngineTests.fixtures.appendingPathComponent("linktypes/dumpcap-two-interfaces.pcapng").path)
        let router = Router(linkType: .ethernet, workers: 3)
        let slot = Slot(workers: 3)
        var routed: [String: Int] = [:]
        while try file.fill(slot.input) {
            router.route(slot)
            for (r, worker) in zip(slot.input.records, slot.routes) {
                #expect(worker != Router.everyone, "#\(r.number)")
                guard worker != Router.everyone else { continue }
                let d = PacketDecoder(linkType: r.link).decode(slot.input.bytes(of: r), wireLength: r.wireLength)
                let tcp = try #require(d.tcp), source = try #require(d.source), destination = try #require(d.destination)
                #expect(FlowShard(index: Int(worker), count: 3).owns(Endpoint(address: source, port: tcp.sourcePort),
                                                                    Endpoint(address: destination, port: tcp.destinationPort)))
                routed["\(r.link)", default: 0] += 1
            }
            slot.input.reset()
        }
        #expect(routed == ["ethernet": 22, "linuxSLL": 22])
    }

    /// The record with each field the glance checks set to values it must turn away or treat
    /// otherwise, and cut short.
    static func variants(of bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        let original = Array(bytes)
        guard original.count >= 34 else { return [] }
        var out: [[UInt8]] = []
        func with(_ changes: [(Int, UInt8)]) {
            var v = original
            for (i, b) in changes where i < v.count { v[i] = b }
            out.append(v)
        }
        with([(12, 0x86), (13, 0xdd)])                 // IPv6 ether type
        with([(12, 0x81), (13, 0x00)])                 // VLAN tag
        with([(14, 0x65)])                             // version 6 in an IPv4 ether type
        with([(14, 0x44)])                             // header length 16
        with([(14, 0x46)])                             // header length 24 (options)
        with([(14, 0x4f)])                             // header length 60
        with([(23, 17)])                               // UDP
        with([(20, 0x20)])                             // more fragments
        with([(20, 0x00), (21, 0x01)])                 // fragment offset 8
        with([(20, 0x40)])                             // don't fragment: still plain
        for cut in [37, 38, 14 + 20 + 3, 14 + 20 + 4] where cut < original.count {
            out.append(Array(original[..<cut]))
        }
        return out
    }
}
