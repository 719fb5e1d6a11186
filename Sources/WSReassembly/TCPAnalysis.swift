/// Per-packet TCP analysis labels, after Wireshark's tcp.analysis flags.
public struct TCPAnalysis: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let retransmission = TCPAnalysis(rawValue: 1 << 0)
    public static let outOfOrder = TCPAnalysis(rawValue: 1 << 1)
    public static let previousSegmentNotCaptured = TCPAnalysis(rawValue: 1 << 2)
    public static let ackedUnseenSegment = TCPAnalysis(rawValue: 1 << 3)
    public static let duplicateAck = TCPAnalysis(rawValue: 1 << 4)
    public static let zeroWindow = TCPAnalysis(rawValue: 1 << 5)
    public static let windowUpdate = TCPAnalysis(rawValue: 1 << 6)
    public static let keepAlive = TCPAnalysis(rawValue: 1 << 7)
    public static let zeroWindowProbe = TCPAnalysis(rawValue: 1 << 8)
    /// A retransmission whose bytes differ from the bytes first seen at those offsets.
    public static let overlapConflict = TCPAnalysis(rawValue: 1 << 9)
    /// A SYN on a 4-tuple whose previous connection had ended: a new stream.
    public static let portReuse = TCPAnalysis(rawValue: 1 << 10)
    public static let keepAliveAck = TCPAnalysis(rawValue: 1 << 11)
    /// New bytes the peer had already acknowledged: the capture saw the ACK first (multi-queue
    /// NICs, `-i any`, merged taps). Delivered in order, not a retransmission.
    public static let arrivedAfterAck = TCPAnalysis(rawValue: 1 << 12)
    /// Bytes of a hole already declared lost (see `SegmentReport.lateBytes`): never seen before,
    /// but too late to be delivered.
    public static let late = TCPAnalysis(rawValue: 1 << 13)
    /// The same packet captured again (a second interface of `-i any`, a bridge and its port):
    /// shown once as a duplicate, never counted or analysed again (see `SegmentReport.duplicateOf`).
    public static let duplicate = TCPAnalysis(rawValue: 1 << 14)

    /// Stable names for JSON and text, in a fixed order.
    public var names: [String] {
        if isEmpty { return [] }
        var out: [String] = []
        for (flag, name) in TCPAnalysis.table where contains(flag) { out.append(name) }
        return out
    }

    static let table: [(TCPAnalysis, String)] = [
        (.retransmission, "retransmission"), (.outOfOrder, "out-of-order"),
        (.previousSegmentNotCaptured, "previous-segment-not-captured"),
        (.ackedUnseenSegment, "acked-unseen-segment"), (.duplicateAck, "duplicate-ack"),
        (.zeroWindow, "zero-window"), (.windowUpdate, "window-update"), (.keepAlive, "keep-alive"),
        (.keepAliveAck, "keep-alive-ack"),
        (.zeroWindowProbe, "zero-window-probe"), (.overlapConflict, "overlap-conflict"),
        (.portReuse, "port-reuse"), (.arrivedAfterAck, "arrived-after-ack"), (.late, "late"),
        (.duplicate, "duplicate"),
    ]
}
