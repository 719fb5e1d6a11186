/// The TCP header's flag bits.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var fin: TCPFlags { TCPFlags(rawValue: 0x001) }
    @inlinable public static var syn: TCPFlags { TCPFlags(rawValue: 0x002) }
    @inlinable public static var rst: TCPFlags { TCPFlags(rawValue: 0x004) }
    @inlinable public static var psh: TCPFlags { TCPFlags(rawValue: 0x008) }
    @inlinable public static var ack: TCPFlags { TCPFlags(rawValue: 0x010) }
    @inlinable public static var urg: TCPFlags { TCPFlags(rawValue: 0x020) }
    @inlinable public static var ece: TCPFlags { TCPFlags(rawValue: 0x040) }
    @inlinable public static var cwr: TCPFlags { TCPFlags(rawValue: 0x080) }
    @inlinable public static var ns: TCPFlags { TCPFlags(rawValue: 0x100) }

    /// Names in Wireshark's order and spelling ("SYN", "ACK", ...), for the Info column.
    /// Looked up in a table made once: building the list per packet shows in profiles.
    public var names: [String] { TCPFlags.nameTable[Int(rawValue & 0x1ff)] }

    /// "SYN, ACK" as the Info column writes it.
    public var joinedNames: String { TCPFlags.joinedTable[Int(rawValue & 0x1ff)] }

    private static let nameTable: [[String]] = (0..<512).map { TCPFlags(rawValue: UInt16($0)).computedNames }
    private static let joinedTable: [String] = nameTable.map { $0.joined(separator: ", ") }

    private var computedNames: [String] {
        var out: [String] = []
        if contains(.fin) { out.append("FIN") }
        if contains(.syn) { out.append("SYN") }
        if contains(.rst) { out.append("RST") }
        if contains(.psh) { out.append("PSH") }
        if contains(.ack) { out.append("ACK") }
        if contains(.urg) { out.append("URG") }
        if contains(.ece) { out.append("ECE") }
        if contains(.cwr) { out.append("CWR") }
        if contains(.ns) { out.append("NS") }
        return out
    }
}
