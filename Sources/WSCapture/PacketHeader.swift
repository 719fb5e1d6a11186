import CPcap
import WSDecode

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
    /// Where the packet's bytes begin in the file (-1: not known, as when libpcap reads).
    public var fileOffset: Int64
    /// The link layer of the interface it was captured on.
    public var link: LinkType

    public init(number: Int, timestampNanoseconds: Int64, capturedLength: Int, wireLength: Int, fileOffset: Int64 = -1,
                link: LinkType) {
        self.number = number
        self.timestampNanoseconds = timestampNanoseconds
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.fileOffset = fileOffset
        self.link = link
    }
}

extension pcap_pkthdr {
    /// libpcap's time stamp as capture time (`CaptureClock`): `tv_usec` holds nanoseconds
    /// when the handle was opened or activated with nanosecond precision, microseconds otherwise.
    func captureTime(nanosecondFraction: Bool) -> Int64 {
        CaptureClock.time(seconds: Int64(ts.tv_sec), fraction: Int64(ts.tv_usec), fractionUnit: nanosecondFraction ? 1 : 1000)
    }
}
