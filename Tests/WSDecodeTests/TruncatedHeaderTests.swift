import Testing
import WSTestSupport
@testable import WSDecode

/// A real packet (the seed's SYN) cut inside each layer's header: each cut yields that
/// layer's diagnostic. The cuts are made here by hand, on purpose.
@Suite struct TruncatedHeaderTests {
    func syn(_ path: String) throws -> [UInt8] {
        try FixtureFile(path).records[0].bytes
    }

    func decode(_ bytes: [UInt8], _ link: LinkType, cut: Int) -> DecodedPacket {
        let cutBytes = Array(bytes.prefix(cut))
        let decoder = PacketDecoder(linkType: link)
        return cutBytes.withUnsafeBytes { decoder.decode($0, wireLength: bytes.count) }
    }

    @Test func ethernetCuts() throws {
        let bytes = try syn("seed-walkthrough.pcap")
        #expect(decode(bytes, .ethernet, cut: 10).issue == .truncated(layer: .ethernet, needed: 14, available: 10))
        #expect(decode(bytes, .ethernet, cut: 14 + 12).issue == .truncated(layer: .ipv4, needed: 20, available: 12))
        #expect(decode(bytes, .ethernet, cut: 14 + 20 + 8).issue == .truncated(layer: .tcp, needed: 20, available: 8))
        // A SYN has options: a cut inside them is a TCP header cut too.
        #expect(decode(bytes, .ethernet, cut: 14 + 20 + 30).issue == .truncated(layer: .tcp, needed: 40, available: 30))
        let message = decode(bytes, .ethernet, cut: 14 + 20 + 8).issue?.description
        #expect(message == "truncated TCP header: 8 of 20 bytes captured")
        #expect(decode(bytes, .ethernet, cut: 30).truncated)
    }

    @Test func vlanCut() throws {
        let bytes = try syn("linktypes/vlan-8021q.pcap")
        #expect(decode(bytes, .ethernet, cut: 16).issue == .truncated(layer: .vlan, needed: 18, available: 16))
    }

    @Test func cookedCuts() throws {
        #expect(decode(try syn("linktypes/sll.pcap"), .linuxSLL, cut: 12).issue == .truncated(layer: .sll, needed: 16, available: 12))
        #expect(decode(try syn("linktypes/sll2.pcap"), .linuxSLL2, cut: 19).issue == .truncated(layer: .sll2, needed: 20, available: 19))
        #expect(decode(try syn("linktypes/null-le.pcap"), .null, cut: 3).issue == .truncated(layer: .null, needed: 4, available: 3))
    }

    @Test func ipv6Cuts() throws {
        let bytes = try syn("linktypes/ipv6.pcap")
        #expect(decode(bytes, .ethernet, cut: 14 + 39).issue == .truncated(layer: .ipv6, needed: 40, available: 39))
        let ext = try syn("linktypes/ipv6-exthdr.pcap")
        #expect(decode(ext, .ethernet, cut: 14 + 40 + 1).issue == .truncated(layer: .ipv6Extension, needed: 2, available: 1))
    }

    /// What each impossible value says in a row's info: the words the reasons spelled when
    /// they were kept as text.
    @Test func malformedReasonsSpellTheirWords() {
        let cases: [(DecodeIssue, String)] = [
            (.malformed(layer: .null, reason: .addressFamily(7)), "malformed BSD loopback header: unknown address family 7"),
            (.malformed(layer: .ipv4, reason: .ipVersion(5)), "malformed IPv4 header: IP version 5"),
            (.malformed(layer: .ipv4, reason: .version(6)), "malformed IPv4 header: version 6"),
            (.malformed(layer: .ipv6, reason: .version(4)), "malformed IPv6 header: version 4"),
            (.malformed(layer: .ipv4, reason: .headerLength(12)), "malformed IPv4 header: header length 12 is below 20"),
            (.malformed(layer: .ipv4, reason: .totalLength(19, headerLength: 24)),
             "malformed IPv4 header: total length 19 below header length 24"),
            (.malformed(layer: .tcp, reason: .dataOffset(8)), "malformed TCP header: data offset 8 bytes is below 20"),
        ]
        for (issue, words) in cases { #expect(issue.description == words) }
        #expect(MalformedReason.version(4) != .ipVersion(4))
        #expect(MalformedReason.totalLength(19, headerLength: 24) != .totalLength(19, headerLength: 20))
    }

    @Test func malformedHeadersAreNamed() throws {
        var bytes = try syn("seed-walkthrough.pcap")
        bytes[14] = 0x43  // IPv4 header length 12 bytes
        #expect(decode(bytes, .ethernet, cut: bytes.count).issue == .malformed(layer: .ipv4, reason: .headerLength(12)))
        var tcp = try syn("seed-walkthrough.pcap")
        tcp[14 + 20 + 12] = 0x30  // data offset 12 bytes
        #expect(decode(tcp, .ethernet, cut: tcp.count).issue == .malformed(layer: .tcp, reason: .dataOffset(12)))
    }
}
