import WSDecode
import WSReassembly
import WSTestSupport

/// One decoded TCP segment of a real capture, owning its payload.
struct Segment {
    var tcp: TCPHeader
    var source: Endpoint
    var destination: Endpoint
    var payload: [UInt8]
    var packet: Int
    var time: Int64
}

/// The TCP segments of a fixture (classic pcap, Ethernet or any supported link).
func segments(_ path: String) throws -> [Segment] {
    let file = try FixtureFile(path)
    let decoder = PacketDecoder(linkType: LinkType(dlt: file.linkType)!)
    var out: [Segment] = []
    for (i, r) in file.records.enumerated() {
        r.bytes.withUnsafeBytes { raw in
            let p = decoder.decode(raw, wireLength: r.wireLength)
            guard let tcp = p.tcp, let s = p.source, let d = p.destination else { return }
            out.append(Segment(tcp: tcp, source: Endpoint(address: s, port: tcp.sourcePort),
                               destination: Endpoint(address: d, port: tcp.destinationPort),
                               payload: Array(p.payload), packet: i + 1, time: r.time))
        }
    }
    return out
}

/// What a table delivered: bytes per direction (gaps as zeros), gap sizes, ends.
struct Delivered {
    var bytes: [Direction: [UInt8]] = [:]
    var gaps: [(Direction, UInt64, GapReason)] = []
    var ends: [Direction] = []
    var releases: [ReleaseReason] = []
    var reports: [SegmentReport] = []
}

/// Runs segments through a fresh table (or the one given) and collects what it delivered.
func run(_ segments: [Segment], table: ConnectionTable = ConnectionTable(), finish: Bool = true) -> Delivered {
    var d = Delivered()
    let sink: (StreamEvent) -> Void = { event in
        switch event {
        case let .data(_, direction, bytes, _, _): d.bytes[direction, default: []] += Array(bytes)
        case let .gap(_, direction, size, _, reason):
            d.gaps.append((direction, size, reason))
            d.bytes[direction, default: []] += [UInt8](repeating: 0, count: Int(size))
        case let .end(_, direction, _): d.ends.append(direction)
        case let .released(_, reason): d.releases.append(reason)
        }
    }
    for s in segments {
        let report = s.payload.withUnsafeBytes { raw in
            table.process(s.tcp, source: s.source, destination: s.destination, payload: raw,
                          payloadLength: raw.count, packet: s.packet, time: s.time, emit: sink)
        }
        d.reports.append(report)
    }
    if finish { table.finish(emit: sink) }
    return d
}

/// A small deterministic generator (xorshift) so property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9e37_79b9_7f4a_7c15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
