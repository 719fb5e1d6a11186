/// Builds Ethernet/IPv4/TCP packets with valid IP checksums (TCP checksum left 0, as with offload).
struct SegmentBuilder {
    static func packet(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, seq: UInt32, ack: UInt32,
                       flags: UInt8, window: UInt16 = 502, payload: ArraySlice<UInt8> = [], options: [UInt8] = []) -> [UInt8] {
        var p: [UInt8] = []
        p.reserveCapacity(54 + options.count + payload.count)
        p += [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]
        let tcpLength = 20 + options.count
        let total = 20 + tcpLength + payload.count
        let ipStart = p.count
        p += [0x45, 0]
        p.appendBE16(UInt16(total))
        p += [0, 0, 0x40, 0, 64, 6, 0, 0]
        p.appendBE32(src)
        p.appendBE32(dst)
        var sum: UInt32 = 0
        for i in stride(from: ipStart, to: ipStart + 20, by: 2) { sum += UInt32(p[i]) << 8 | UInt32(p[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        p[ipStart + 10] = UInt8(checksum >> 8)
        p[ipStart + 11] = UInt8(checksum & 0xff)
        p.appendBE16(sport)
        p.appendBE16(dport)
        p.appendBE32(seq)
        p.appendBE32(ack)
        p.append(UInt8(tcpLength / 4) << 4)
        p.append(flags)
        p.appendBE16(window)
        p += [0, 0, 0, 0]
        p += options
        p += payload
        return p
    }
}

enum TCPFlag {
    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08, ack: UInt8 = 0x10
}
