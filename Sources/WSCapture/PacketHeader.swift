/// What the capture layer knows about one captured record, apart from its bytes.
public struct PacketHeader: Sendable, Equatable {
    /// 1-based number in the file (Wireshark's No.), counted also for packets a filter skipped.
    public var number: Int
    /// Capture time in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64
    /// Bytes captured (may be less than `wireLength` when a snaplen cut the packet).
    public var capturedLength: Int
    /// Length of the packet on the wire.
    public var wireLength: Int

    public init(number: Int, timestampNanoseconds: Int64, capturedLength: Int, wireLength: Int) {
        self.number = number
        self.timestampNanoseconds = timestampNanoseconds
        self.capturedLength = capturedLength
        self.wireLength = wireLength
    }
}
