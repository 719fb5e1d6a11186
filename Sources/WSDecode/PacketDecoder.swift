/// Decodes captured packets from the link layer down to the transport payload.
///
/// Pure: bytes in, values out. It keeps state only for IPv4 fragment reassembly, which is why
/// it is a class: a `DecodedPacket` may borrow its reassembly buffer until the next call.
public final class PacketDecoder {
    /// The link layer of the packets decoded next: a capture of several interfaces (pcapng, or
    /// files read as one) sets each packet's own.
    public var linkType: LinkType
    /// Whether TCP options are parsed (off when nothing will show them, e.g. summaries only).
    public var parsesTCPOptions = true
    private var fragments = IPv4FragmentReassembler()
    /// Holds the last reassembled datagram; packets borrow it until the next call.
    private var reassembled = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 8)

    public init(linkType: LinkType) {
        self.linkType = linkType
    }

    deinit { reassembled.deallocate() }

    /// IPv4 datagrams whose fragments were given up (caps or timeouts).
    public var droppedFragmentedDatagrams: Int { fragments.dropped }

    /// Decodes one packet. `wireLength` is the length on the wire (for snaplen detection),
    /// `time` its capture time in ns (for fragment timeouts).
    public func decode(_ bytes: UnsafeRawBufferPointer, wireLength: Int, time: Int64 = 0) -> DecodedPacket {
        var packet = DecodedPacket(payload: bytes.slice(0, 0))
        decode(bytes, wireLength: wireLength, time: time, into: &packet)
        return packet
    }

    /// Decodes one packet into `packet`, a fresh `DecodedPacket` of the caller's (its local
    /// variable: the decoded value, a few hundred bytes, is then never copied on the way out).
    public func decode(_ bytes: UnsafeRawBufferPointer, wireLength: Int, time: Int64, into packet: inout DecodedPacket) {
        let cut = bytes.count < wireLength
        switch linkType {
        case .ethernet:
            decodeEthernet(bytes, into: &packet, time: time)
        case .null, .loop:
            guard bytes.count >= 4 else {
                packet.issue = .truncated(layer: .null, needed: 4, available: bytes.count)
                break
            }
            let family: UInt32
            if linkType == .loop {
                family = bytes.u32(0)
            } else {
                // Host byte order of the capturing machine: a small value is readable either way.
                let be = bytes.u32(0)
                family = be < 256 ? be : be.byteSwapped
            }
            switch family {
            case 2: decodeIPv4(bytes.tail(from: 4), into: &packet, time: time)
            case 10, 24, 28, 30: decodeIPv6(bytes.tail(from: 4), into: &packet)
            default: packet.issue = .malformed(layer: .null, reason: .addressFamily(family))
            }
        case .raw:
            decodeIP(bytes, into: &packet, time: time)
        case .ipv4:
            decodeIPv4(bytes, into: &packet, time: time)
        case .ipv6:
            decodeIPv6(bytes, into: &packet)
        case .linuxSLL:
            guard bytes.count >= 16 else {
                packet.issue = .truncated(layer: .sll, needed: 16, available: bytes.count)
                break
            }
            decodeEtherType(bytes.u16(14), bytes.tail(from: 16), into: &packet, time: time)
        case .linuxSLL2:
            guard bytes.count >= 20 else {
                packet.issue = .truncated(layer: .sll2, needed: 20, available: bytes.count)
                break
            }
            decodeEtherType(bytes.u16(0), bytes.tail(from: 20), into: &packet, time: time)
        case .unsupported:
            break
        }
        if cut && (packet.issue != nil || packet.payload.count < packet.payloadLength) {
            packet.truncated = true
        }
    }

    /// The endpoints of a plain TCP packet, read straight from fixed offsets: no VLAN tags,
    /// IPv4 unfragmented or IPv6 without extension headers. Nil for anything else. It reads
    /// the same bytes `decode` would take addresses and ports from, so when `decode` finds a
    /// TCP segment here it has these endpoints. Used to skip other shards' packets cheaply, and
    /// by the parallel engine's router for every record: always inlined (the compiler left it a
    /// call, its two endpoints returned through memory: with the hash, about 150 instructions a
    /// record, a tenth of a parallel `--summary`'s extra work).
    @inlinable @inline(__always)
    public func quickTCPEndpoints(_ bytes: UnsafeRawBufferPointer) -> (source: Endpoint, destination: Endpoint)? {
        PacketDecoder.quickTCPEndpoints(bytes, link: linkType)
    }

    /// `quickTCPEndpoints` of a packet of link type `linkType`.
    @inlinable @inline(__always)
    public static func quickTCPEndpoints(_ bytes: UnsafeRawBufferPointer, link linkType: LinkType)
        -> (source: Endpoint, destination: Endpoint)? {
        let start: Int
        var type: UInt16 = 0
        switch linkType {
        case .ethernet:
            guard bytes.count >= 14 else { return nil }
            type = bytes.u16(12)
            start = 14
        case .linuxSLL:
            guard bytes.count >= 16 else { return nil }
            type = bytes.u16(14)
            start = 16
        case .linuxSLL2:
            guard bytes.count >= 20 else { return nil }
            type = bytes.u16(0)
            start = 20
        case .raw, .ipv4, .ipv6:
            start = 0
        case .null, .loop, .unsupported:
            return nil
        }
        guard bytes.count >= start + 1 else { return nil }
        let version = bytes[start] >> 4
        if start > 0 {
            guard (type == 0x0800 && version == 4) || (type == 0x86dd && version == 6) else { return nil }
        } else if linkType == .ipv4 {
            guard version == 4 else { return nil }
        } else if linkType == .ipv6 {
            guard version == 6 else { return nil }
        }
        if version == 4 {
            guard bytes.count >= start + 20 else { return nil }
            let headerLength = Int(bytes[start] & 0x0f) * 4
            guard headerLength >= 20, bytes[start + 9] == 6, bytes.u16(start + 6) & 0x3fff == 0,
                  bytes.count >= start + headerLength + 4 else { return nil }
            let ports = start + headerLength
            return (Endpoint(address: IPAddress(ipv4: bytes.u32(start + 12)), port: bytes.u16(ports)),
                    Endpoint(address: IPAddress(ipv4: bytes.u32(start + 16)), port: bytes.u16(ports + 2)))
        }
        if version == 6 {
            guard bytes.count >= start + 44, bytes[start + 6] == 6 else { return nil }
            return (Endpoint(address: IPAddress(ipv6High: bytes.u64(start + 8), low: bytes.u64(start + 16)),
                             port: bytes.u16(start + 40)),
                    Endpoint(address: IPAddress(ipv6High: bytes.u64(start + 24), low: bytes.u64(start + 32)),
                             port: bytes.u16(start + 42)))
        }
        return nil
    }

    private func decodeEthernet(_ bytes: UnsafeRawBufferPointer, into packet: inout DecodedPacket, time: Int64) {
        guard bytes.count >= 14 else {
            packet.issue = .truncated(layer: .ethernet, needed: 14, available: bytes.count)
            return
        }
        var offset = 12
        var type = bytes.u16(offset)
        // 802.1Q (0x8100), 802.1ad (0x88a8) and the old QinQ 0x9100 tags.
        var tags = 0
        while type == 0x8100 || type == 0x88a8 || type == 0x9100 {
            guard bytes.count >= offset + 6 else {
                packet.issue = .truncated(layer: .vlan, needed: offset + 6, available: bytes.count)
                return
            }
            let vid = bytes.u16(offset + 2) & 0x0fff
            if tags == 0 { packet.vlanIDs.0 = vid } else if tags == 1 { packet.vlanIDs.1 = vid }
            tags += 1
            offset += 4
            type = bytes.u16(offset)
        }
        decodeEtherType(type, bytes.tail(from: offset + 2), into: &packet, time: time)
    }

    private func decodeEtherType(_ type: UInt16, _ bytes: UnsafeRawBufferPointer,
                                 into packet: inout DecodedPacket, time: Int64) {
        packet.etherType = type
        switch type {
        case 0x0800: decodeIPv4(bytes, into: &packet, time: time)
        case 0x86dd: decodeIPv6(bytes, into: &packet)
        default: break  // ARP and friends: counted as non-IP by the caller
        }
    }

    private func decodeIP(_ bytes: UnsafeRawBufferPointer, into packet: inout DecodedPacket, time: Int64) {
        guard bytes.count >= 1 else {
            packet.issue = .truncated(layer: .ipv4, needed: 20, available: 0)
            return
        }
        switch bytes[0] >> 4 {
        case 4: decodeIPv4(bytes, into: &packet, time: time)
        case 6: decodeIPv6(bytes, into: &packet)
        case let v: packet.issue = .malformed(layer: .ipv4, reason: .ipVersion(v))
        }
    }

    private func decodeIPv4(_ bytes: UnsafeRawBufferPointer, into packet: inout DecodedPacket, time: Int64) {
        guard bytes.count >= 20 else {
            packet.issue = .truncated(layer: .ipv4, needed: 20, available: bytes.count)
            return
        }
        let version = bytes[0] >> 4
        let headerLength = Int(bytes[0] & 0x0f) * 4
        guard version == 4 else {
            packet.issue = .malformed(layer: .ipv4, reason: .version(version))
            return
        }
        guard headerLength >= 20 else {
            packet.issue = .malformed(layer: .ipv4, reason: .headerLength(headerLength))
            return
        }
        guard bytes.count >= headerLength else {
            packet.issue = .truncated(layer: .ipv4, needed: headerLength, available: bytes.count)
            return
        }
        let totalLength = Int(bytes.u16(2))
        guard totalLength >= headerLength else {
            packet.issue = .malformed(layer: .ipv4, reason: .totalLength(totalLength, headerLength: headerLength))
            return
        }
        packet.ipVersion = 4
        packet.ipID = bytes.u16(4)
        let source = bytes.u32(12), destination = bytes.u32(16)
        packet.source = IPAddress(ipv4: source)
        packet.destination = IPAddress(ipv4: destination)
        let proto = bytes[9]
        packet.ipProtocol = proto
        // Drop link-layer padding: the datagram ends at its total length.
        var body = bytes.slice(headerLength, totalLength - headerLength)
        var bodyLength = totalLength - headerLength

        let flagsAndOffset = bytes.u16(6)
        let moreFragments = flagsAndOffset & 0x2000 != 0
        let fragmentOffset = Int(flagsAndOffset & 0x1fff) * 8
        if moreFragments || fragmentOffset > 0 {
            let id = bytes.u16(4)
            guard body.count == bodyLength else {
                packet.fragment = .held(id: id, offset: fragmentOffset, length: bodyLength)
                packet.issue = .truncated(layer: .ipv4, needed: totalLength, available: headerLength + body.count)
                return
            }
            guard let whole = fragments.add(source: source, destination: destination, id: id, proto: proto,
                                            offset: fragmentOffset, moreFragments: moreFragments,
                                            payload: body, time: time)
            else {
                packet.fragment = .held(id: id, offset: fragmentOffset, length: bodyLength)
                return
            }
            if reassembled.count < whole.payload.count {
                reassembled.deallocate()
                reassembled = .allocate(byteCount: whole.payload.count, alignment: 8)
            }
            whole.payload.withUnsafeBytes { reassembled.copyMemory(from: $0) }
            packet.fragment = .reassembled(id: id, fragments: whole.fragments)
            bodyLength = whole.payload.count
            body = UnsafeRawBufferPointer(rebasing: reassembled[0..<bodyLength])
        }
        decodeTransport(proto, body, declaredLength: bodyLength, v6: false, into: &packet)
    }

    private func decodeIPv6(_ bytes: UnsafeRawBufferPointer, into packet: inout DecodedPacket) {
        guard bytes.count >= 40 else {
            packet.issue = .truncated(layer: .ipv6, needed: 40, available: bytes.count)
            return
        }
        let version = bytes[0] >> 4
        guard version == 6 else {
            packet.issue = .malformed(layer: .ipv6, reason: .version(version))
            return
        }
        packet.ipVersion = 6
        packet.source = IPAddress(ipv6High: bytes.u64(8), low: bytes.u64(16))
        packet.destination = IPAddress(ipv6High: bytes.u64(24), low: bytes.u64(32))
        var declared = Int(bytes.u16(4))
        var next = bytes[6]
        var rest = bytes.slice(40, declared)
        // Walk the extension-header chain.
        while true {
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination options, mobility, HIP, shim6
                guard rest.count >= 2 else {
                    packet.issue = .truncated(layer: .ipv6Extension, needed: 2, available: rest.count)
                    packet.ipProtocol = next
                    return
                }
                let length = (Int(rest[1]) + 1) * 8
                guard rest.count >= length else {
                    packet.issue = .truncated(layer: .ipv6Extension, needed: length, available: rest.count)
                    packet.ipProtocol = next
                    return
                }
                next = rest[0]
                rest = rest.tail(from: length)
                declared -= length
            case 51:  // authentication header: length in 4-byte units, minus 2
                guard rest.count >= 2, rest.count >= (Int(rest[1]) + 2) * 4 else {
                    packet.issue = .truncated(layer: .ipv6Extension, needed: 8, available: rest.count)
                    packet.ipProtocol = next
                    return
                }
                let length = (Int(rest[1]) + 2) * 4
                next = rest[0]
                rest = rest.tail(from: length)
                declared -= length
            case 44:  // fragment: not reassembled
                guard rest.count >= 8 else {
                    packet.issue = .truncated(layer: .ipv6Extension, needed: 8, available: rest.count)
                    packet.ipProtocol = next
                    return
                }
                let offset = Int(rest.u16(2) & 0xfff8)
                packet.fragment = .ipv6Fragment(id: rest.u32(4), offset: offset)
                packet.ipProtocol = rest[0]
                if offset != 0 || rest.u16(2) & 1 != 0 {
                    packet.transport = .other(protocolNumber: rest[0])
                    return
                }
                next = rest[0]
                rest = rest.tail(from: 8)
                declared -= 8
            default:
                packet.ipProtocol = next
                decodeTransport(next, rest, declaredLength: max(0, declared), v6: true, into: &packet)
                return
            }
        }
    }

    private func decodeTransport(_ proto: UInt8, _ bytes: UnsafeRawBufferPointer, declaredLength: Int,
                                 v6: Bool, into packet: inout DecodedPacket) {
        switch proto {
        case 6:
            // Read in place (no `Result` of a header and an issue to copy out per packet).
            guard let header = TCPHeader.read(bytes, options: parsesTCPOptions, issue: &packet.issue) else { return }
            packet.payload = bytes.tail(from: header.headerLength)
            packet.payloadLength = max(0, declaredLength - header.headerLength)
            if packet.payload.count > packet.payloadLength {
                packet.payload = packet.payload.slice(0, packet.payloadLength)
            }
            packet.transport = .tcp(header)
        case 17:
            guard bytes.count >= 8 else {
                packet.issue = .truncated(layer: .udp, needed: 8, available: bytes.count)
                return
            }
            packet.transport = .udp(sourcePort: bytes.u16(0), destinationPort: bytes.u16(2), length: bytes.u16(4))
            packet.payload = bytes.tail(from: 8)
            packet.payloadLength = max(0, declaredLength - 8)
        case 1, 58:
            guard bytes.count >= 2 else {
                packet.issue = .truncated(layer: .icmp, needed: 4, available: bytes.count)
                return
            }
            packet.transport = .icmp(type: bytes[0], code: bytes[1], v6: proto == 58)
        default:
            packet.transport = .other(protocolNumber: proto)
        }
    }
}
