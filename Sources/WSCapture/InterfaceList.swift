import CPcap
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One device libpcap can capture on, as `pcap_findalldevs` describes it.
public struct CaptureInterface: Sendable, Equatable {
    /// One address of the device (IPv4 or IPv6), with its prefix length when the netmask is known.
    public struct Address: Sendable, Equatable, CustomStringConvertible {
        /// The address in its usual text form ("127.0.0.1", "::1").
        public var address: String
        /// Bits set in the netmask, nil when libpcap gave none.
        public var prefixLength: Int?

        public var description: String { prefixLength.map { "\(address)/\($0)" } ?? address }
    }

    /// The name to pass to `capture -i` ("lo", "eth0", "any").
    public var name: String
    /// libpcap's description, nil when it has none.
    public var description: String?
    /// IPv4 and IPv6 addresses of the device.
    public var addresses: [Address]
    /// The device is administratively up.
    public var isUp: Bool
    /// The device is running (operationally up).
    public var isRunning: Bool
    /// The device is a loopback device.
    public var isLoopback: Bool
    /// The device is a wireless LAN device.
    public var isWireless: Bool

    /// The flags as words, e.g. ["up", "running", "loopback"].
    public var flagNames: [String] {
        var names: [String] = []
        if isUp { names.append("up") }
        if isRunning { names.append("running") }
        if isLoopback { names.append("loopback") }
        if isWireless { names.append("wireless") }
        return names
    }

    /// Every device libpcap knows, in its order (usable devices first).
    public static func all() throws(CaptureError) -> [CaptureInterface] {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errbuf) == 0 else {
            throw .live(device: "interfaces", reason: errbuf.nulTerminatedString)
        }
        defer { if let list { pcap_freealldevs(list) } }
        var result: [CaptureInterface] = []
        var node = list
        while let current = node {
            let dev = current.pointee
            var addresses: [Address] = []
            var addr = dev.addresses
            while let a = addr {
                if let text = Self.text(of: a.pointee.addr) {
                    addresses.append(Address(address: text, prefixLength: Self.prefixLength(of: a.pointee.netmask)))
                }
                addr = a.pointee.next
            }
            let flags = dev.flags
            result.append(CaptureInterface(
                name: String(cString: dev.name),
                description: dev.description.map { String(cString: $0) },
                addresses: addresses,
                isUp: flags & UInt32(PCAP_IF_UP) != 0,
                isRunning: flags & UInt32(PCAP_IF_RUNNING) != 0,
                isLoopback: flags & UInt32(PCAP_IF_LOOPBACK) != 0,
                isWireless: flags & UInt32(PCAP_IF_WIRELESS) != 0))
            node = dev.next
        }
        return result
    }

    /// The names of every device, or an empty list when libpcap cannot enumerate them.
    public static func names() -> [String] {
        ((try? all()) ?? []).map(\.name)
    }

    /// IPv4 or IPv6 text of a socket address; nil for other families (AF_PACKET and the like).
    private static func text(of sa: UnsafeMutablePointer<sockaddr>?) -> String? {
        guard let sa else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                guard inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                return buffer.nulTerminatedString
            }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var a = sin6.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                return buffer.nulTerminatedString
            }
        default:
            return nil
        }
    }

    /// Number of bits set in an IPv4 or IPv6 netmask.
    private static func prefixLength(of sa: UnsafeMutablePointer<sockaddr>?) -> Int? {
        guard let sa else { return nil }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                $0.pointee.sin_addr.s_addr.nonzeroBitCount
            }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                withUnsafeBytes(of: sin6.pointee.sin6_addr) { raw in raw.reduce(0) { $0 + $1.nonzeroBitCount } }
            }
        default:
            return nil
        }
    }
}
