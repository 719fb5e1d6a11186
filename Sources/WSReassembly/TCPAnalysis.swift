/// Per-packet TCP analysis labels, after Wireshark's tcp.analysis flags.
public struct TCPAnalysis: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var retransmission: TCPAnalysis { TCPAnalysis(rawValue: 1 << 0) }
    @inlinable public static var outOfOrder: TCPAnalysis { TCPAnalysis(rawValue: 1 << 1) }
    @inlinable public static var previousSegmentNotCaptured: TCPAnalysis { TCPAnalysis(rawValue: 1 << 2) }
    @inlinable public static var ackedUnseenSegment: TCPAnalysis { TCPAnalysis(rawValue: 1 << 3) }
    @inlinable public static var duplicateAck: TCPAnalysis { TCPAnalysis(rawValue: 1 << 4) }
    @inlinable public static var zeroWindow: TCPAnalysis { TCPAnalysis(rawValue: 1 << 5) }
    @inlinable public static var windowUpdate: TCPAnalysis { TCPAnalysis(rawValue: 1 << 6) }
    @inlinable public static var keepAlive: TCPAnalysis { TCPAnalysis(rawValue: 1 << 7) }
    @inlinable public static var zeroWindowProbe: TCPAnalysis { TCPAnalysis(rawValue: 1 << 8) }
    /// A retransmission whose bytes differ from the bytes first seen at those offsets.
    @inlinable public static var overlapConflict: TCPAnalysis { TCPAnalysis(rawValue: 1 << 9) }
    /// A SYN on a 4-tuple whose previous connection had ended: a new stream.
    @inlinable public static var portReuse: TCPAnalysis { TCPAnalysis(rawValue: 1 << 10) }
    @inlinable public static var keepAliveAck: TCPAnalysis { TCPAnalysis(rawValue: 1 << 11) }
    /// New bytes the peer had already acknowledged: the capture saw the ACK first (multi-queue
    /// NICs, `-i any`, merged taps). Delivered in order, not a retransmission.
    @inlinable public static var arrivedAfterAck: TCPAnalysis { TCPAnalysis(rawValue: 1 << 12) }
    /// Bytes of a hole already declared lost (see `SegmentReport.lateBytes`): never seen before,
    /// but too late to be delivered.
    @inlinable public static var late: TCPAnalysis { TCPAnalysis(rawValue: 1 << 13) }
    /// The same packet captured again (a second interface of `-i any`, a bridge and its port):
    /// shown once as a duplicate, never counted or analysed again (see `SegmentReport.duplicateOf`).
    @inlinable public static var duplicate: TCPAnalysis { TCPAnalysis(rawValue: 1 << 14) }

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
