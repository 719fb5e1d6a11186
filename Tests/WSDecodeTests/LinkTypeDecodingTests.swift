import Testing
import WSTestSupport
@testable import WSDecode

/// Every supported link type, decoded from real captures of the same WebSocket session
/// (Fixtures/linktypes, made by Fixtures/gen/basic/generate.sh).
@Suite struct LinkTypeDecodingTests {
    /// Decodes every record of a fixture and returns the TCP packets' (src, dst, flags).
    func decodeAll(_ path: String) throws -> (LinkType, [DecodedPacket], [[UInt8]]) {
        let file = try FixtureFile(path)
        let link = try #require(LinkType(dlt: file.linkType == 101 ? 12 : file.linkType))
        let decoder = PacketDecoder(linkType: link)
        var packets: [DecodedPacket] = []
        var keep: [[UInt8]] = []
        for r in file.records {
            keep.append(r.bytes)
            let p = r.bytes.withUnsafeBytes { decoder.decode($0, wireLength: r.wireLength) }
            // Drop the borrowed payload: only header facts are compared.
            var copy = p
            copy.payload = UnsafeRawBufferPointer(start: nil, count: 0)
            packets.append(copy)
        }
        return (link, packets, keep)
    }

    @Test(arguments: [
        ("seed-walkthrough.pcap", LinkType.ethernet),
        ("linktypes/sll.pcap", .linuxSLL),
        ("linktypes/sll2.pcap", .linuxSLL2),
        ("linktypes/null-le.pcap", .null),
        ("linktypes/null-be.pcap", .null),
        ("linktypes/loop.pcap", .loop),
        ("linktypes/raw.pcap", .raw),
        ("linktypes/ipv4-linktype.pcap", .ipv4),
        ("linktypes/vlan-8021q.pcap", .ethernet),
        ("linktypes/qinq-8021ad.pcap", .ethernet),
        ("linktypes/bigendian-usec.pcap", .ethernet),
        ("linktypes/bigendian-nsec.pcap", .ethernet),
        ("linktypes/nanosecond.pcap", .ethernet),
    ])
    func ipv4SessionDecodesToTCP(path: String, expected: LinkType) throws {
        let (link, packets, _) = try decodeAll(path)
        #expect(link == expected)
        #expect(packets.count == 22)
        for p in packets {
            #expect(p.issue == nil, "\(path): \(String(describing: p.issue))")
            #expect(p.ipVersion == 4)
            #expect(p.source?.text == "127.0.0.1")
            let tcp = try #require(p.tcp)
            #expect(tcp.sourcePort == 18000 || tcp.destinationPort == 18000 || tcp.sourcePort >= 18000)
        }
        // The seed session: SYN, SYN-ACK, ACK first.
        #expect(packets[0].tcp?.flags == [.syn])
        #expect(packets[1].tcp?.flags == [.syn, .ack])
        #expect(packets[2].tcp?.flags == [.ack])
        #expect(packets[0].tcp?.options.mss == 65495)
        #expect(packets[0].tcp?.options.sackPermitted == true)
        #expect(packets[0].tcp?.options.windowScale != nil)
        #expect(packets[0].tcp?.options.timestamp != nil)
    }

    @Test func vlanTagsAreRead() throws {
        let (_, single, _) = try decodeAll("linktypes/vlan-8021q.pcap")
        #expect(single[0].vlanIDs.0 == 100)
        let (_, double, _) = try decodeAll("linktypes/qinq-8021ad.pcap")
        #expect(double[0].vlanIDs.0 == 200)
        #expect(double[0].vlanIDs.1 == 100)
    }

    @Test(arguments: ["linktypes/ipv6.pcap", "linktypes/ipv6-linktype.pcap", "linktypes/ipv6-exthdr.pcap"])
    func ipv6SessionDecodesToTCP(path: String) throws {
        let (_, packets, _) = try decodeAll(path)
        #expect(packets.count == 22)
        for p in packets {
            #expect(p.issue == nil)
            #expect(p.ipVersion == 6)
            #expect(p.source?.text == "::1")
            #expect(p.tcp != nil)
            #expect(p.ipProtocol == 6)
        }
    }

    @Test func ipv4FragmentsAreReassembled() throws {
        let file = try FixtureFile("linktypes/ipv4-fragments.pcap")
        let decoder = PacketDecoder(linkType: .ethernet)
        var held = 0, reassembled = 0, tcp = 0
        var payloadBytes = 0
        for r in file.records {
            let p = r.bytes.withUnsafeBytes { decoder.decode($0, wireLength: r.wireLength) }
            switch p.fragment {
            case .held?: held += 1
            case .reassembled?: reassembled += 1
            default: break
            }
            if p.tcp != nil {
                tcp += 1
                payloadBytes += p.payload.count
                #expect(p.payload.count == p.payloadLength)
            }
        }
        // Every datagram comes out whole exactly once: 22 TCP segments, as in the original session.
        #expect(tcp == 22)
        #expect(reassembled > 0)
        #expect(held + tcp == file.records.count)
        #expect(payloadBytes > 0)
    }

    @Test func snaplenCutPacketsAreMarkedTruncated() throws {
        let file = try FixtureFile("linktypes/snaplen96.pcap")
        let decoder = PacketDecoder(linkType: .ethernet)
        var truncated = 0
        for r in file.records {
            let p = r.bytes.withUnsafeBytes { decoder.decode($0, wireLength: r.wireLength) }
            #expect(p.tcp != nil)  // 96 bytes reach past the TCP header
            if p.truncated {
                truncated += 1
                #expect(p.payload.count < p.payloadLength)
                #expect(r.bytes.count < r.wireLength)
            }
        }
        #expect(truncated > 0)
    }
}
