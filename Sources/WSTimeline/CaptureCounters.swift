/// Totals over a whole capture: every packet lands in exactly one of the protocol counters.
public struct CaptureCounters: Sendable, Equatable {
    public var packets = 0
    public var tcp = 0
    public var udp = 0
    public var icmp = 0
    /// IP packets of other protocols (and IP fragments held for reassembly).
    public var otherIP = 0
    /// Packets without an IP header (ARP, LLDP, ...).
    public var nonIP = 0
    /// Packets whose headers were cut or malformed before TCP.
    public var undecodable = 0
    /// Packets cut by the snaplen.
    public var truncated = 0
    public var bytes: UInt64 = 0
    public var connections = 0
    public var webSocketConnections = 0
    public var events = 0
    public var frames = 0
    public var messages = 0
    public var violations = 0
    public var gaps = 0
    /// TCP packets that were copies of packets already captured.
    public var duplicates = 0
    /// Packets whose time stamp lay beyond what `CaptureClock` holds, kept at its bound.
    public var heldTimes = 0
    /// Rows a display filter kept (0 without one).
    public var displayed = 0
    public var firstTime: Int64?
    public var lastTime: Int64?
    public init() {}
}
