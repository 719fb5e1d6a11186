/// A step of the TCP three-way handshake.
public enum HandshakeStep: Int, Sendable, Hashable {
    case syn = 1
    case synAck = 2
    case ack = 3
}

/// Steps of the four-way teardown that one packet carries (a packet may carry two: `2/4+3/4`).
public struct TeardownSteps: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 1/4: the first FIN.
    @inlinable public static var firstFIN: TeardownSteps { TeardownSteps(rawValue: 1) }
    /// 2/4: the ACK of the first FIN.
    @inlinable public static var firstFINAck: TeardownSteps { TeardownSteps(rawValue: 2) }
    /// 3/4: the other side's FIN.
    @inlinable public static var secondFIN: TeardownSteps { TeardownSteps(rawValue: 4) }
    /// 4/4: the ACK of the second FIN.
    @inlinable public static var secondFINAck: TeardownSteps { TeardownSteps(rawValue: 8) }

    /// "1/4", "2/4+3/4", ...
    public var label: String {
        var parts: [String] = []
        if contains(.firstFIN) { parts.append("1/4") }
        if contains(.firstFINAck) { parts.append("2/4") }
        if contains(.secondFIN) { parts.append("3/4") }
        if contains(.secondFINAck) { parts.append("4/4") }
        return parts.joined(separator: "+")
    }
}

/// Where a connection stands.
public enum ConnectionState: String, Sendable, Hashable {
    /// SYN seen, handshake not finished.
    case handshake
    case established
    /// One side sent FIN.
    case halfClosed = "half-closed"
    /// Both FINs were sent and acknowledged.
    case closed
    case reset
}

/// Why a stream's bytes were skipped.
public enum GapReason: String, Sendable, Hashable {
    /// The peer acknowledged bytes the capture never saw: they will not come.
    case ackedUnseen = "acked but never captured"
    /// Too many bytes were held behind the hole.
    case bufferLimit = "out-of-order buffer limit"
    /// The capture cut the segment (snaplen).
    case snaplen = "cut by snaplen"
    /// The connection was reset with a hole outstanding.
    case reset = "connection reset"
    /// The capture ended (or the connection was released) with a hole outstanding.
    case endOfCapture = "end of capture"
}

/// Why a connection's state was released.
public enum ReleaseReason: String, Sendable, Hashable {
    /// Finished and its linger time passed.
    case finished
    /// No packet for the idle timeout.
    case idle = "idle timeout"
    /// The table was full.
    case evicted = "connection table full"
    /// A new SYN reused the 4-tuple.
    case reused = "port reused"
    /// End of input.
    case endOfCapture = "end of capture"
}
