import WSApp
import WSDecode
import WSDissector
import WSReassembly
import WSTLS

/// What reassembly and the TCP header say about the packet behind an event.
public struct TCPEventInfo: Sendable {
    public var flags: TCPFlags
    public var seq: UInt32
    public var ack: UInt32
    public var length: Int
    public var window: UInt16
    public var options: TCPOptions
    public var report: SegmentReport
    /// What this ACK acknowledges, if anything notable: a plain value, so that the whole
    /// `TCPEventInfo` is copied and dropped with no reference counting (every TCP event has one).
    public var acknowledged: Acknowledged?

    /// What this ACK acknowledges, in words ("Upgrade request", "close frame", "FIN", ...).
    public var acknowledges: String? { acknowledged?.text }

    /// What a row without a TCP segment holds in its place (see `TimelineEvent.tcpInfo`).
    static let absent = TCPEventInfo(flags: [], seq: 0, ack: 0, length: 0, window: 0, options: TCPOptions(),
                                   report: SegmentReport(stream: 0, direction: .clientToServer), acknowledged: nil)
}

/// What an ACK acknowledges: a milestone of the peer's stream, the peer's FIN, or both.
public struct Acknowledged: Sendable, Equatable {
    /// A point in a stream worth naming when its ACK comes.
    public enum Milestone: UInt8, Sendable {
        case upgradeRequest, httpRequest, response101, httpResponse, closeFrame

        public var text: String {
            switch self {
            case .upgradeRequest: return "Upgrade request"
            case .httpRequest: return "HTTP request"
            case .response101: return "101 response"
            case .httpResponse: return "HTTP response"
            case .closeFrame: return "close frame"
            }
        }
    }

    public var milestone: Milestone?
    public var fin: Bool

    public init(milestone: Milestone?, fin: Bool) {
        self.milestone = milestone
        self.fin = fin
    }

    /// "close frame", "close frame and FIN", "FIN".
    public var text: String {
        guard let milestone else { return "FIN" }
        return fin ? milestone.text + " and FIN" : milestone.text
    }
}

/// A lifecycle note attached to a close frame.
public struct CloseRole: Sendable {
    /// This close frame opens the closing handshake (else it answers it).
    public var initiates: Bool
    /// For the reply: time since the initiating close frame, in ns.
    public var latency: Int64?
}

/// What an event is about.
public enum EventDetail {
    /// Only TCP: handshake, ACK, teardown, retransmission...
    case tcp
    case httpRequest(HTTPRequestInfo)
    case httpResponse(HTTPResponseInfo)
    case frame(FrameInfo, CloseRole?)
    case progress(Progress)
    case tls(TLSInfo)
    /// What the TLS stage saw in a packet's records (handshake messages, alerts, records it
    /// could not decrypt).
    case tlsRecord(TLSRecordEvent)
    case opaque(OpaqueInfo)
    /// Bytes lost in the capture, as the dissector explains them.
    case gap(GapInfo)
    /// A reassembly gap in a connection with no dissector interest (e.g. before any payload).
    case streamGap(size: UInt64, reason: GapReason)
    /// A packet that is not TCP over IP (or could not be decoded to TCP).
    case nonTCP(NonTCPInfo)
}

/// A packet that did not reach TCP.
public struct NonTCPInfo: Sendable {
    public var summary: String
    public var issue: DecodeIssue?
}

/// One row of the timeline. Views inside `detail` borrow buffers valid only during the emit call.
public struct TimelineEvent {
    /// The file's 1-based packet number.
    public var packet: Int
    /// Capture time, ns since the epoch.
    public var time: Int64
    public var stream: Int?
    public var source: Endpoint?
    public var destination: Endpoint?
    /// Non-IP packets: link-layer words for the address columns.
    public var sourceText: String?
    public var destinationText: String?
    /// Protocol column: TCP, HTTP, WebSocket, TLS, UDP, ICMP, ...
    public var proto: String
    /// Length on the wire.
    public var wireLength: Int
    public var capturedLength: Int
    public var phase: Phase
    /// Which peer sent it (TCP events).
    public var side: Side?
    public var detail: EventDetail
    /// The TCP segment behind the row (nil for rows not about one). Stored unwrapped beside a
    /// flag: a renderer reads `tcpInfo`'s fields in place when `hasTCP`, where binding the
    /// optional (`if let t = e.tcp`) copied its 200 bytes, several times a row.
    public var tcp: TCPEventInfo? {
        get { hasTCP ? tcpInfo : nil }
        set {
            hasTCP = newValue != nil
            tcpInfo = newValue ?? .absent
        }
    }
    public internal(set) var hasTCP: Bool
    /// Meaningful only when `hasTCP` (`TCPEventInfo.absent` otherwise).
    public internal(set) var tcpInfo: TCPEventInfo
    /// Lifecycle words to show first (TCP labels), set on the first event of a packet.
    public var showsTCPLabels: Bool
    public var violations: [Violation]
    /// The packet was cut by the snaplen.
    public var truncated: Bool
    /// The event is about bytes of the other direction, released by this packet (an ACK that
    /// showed a hole will never fill). Source and Destination stay the packet's own.
    public var otherDirection: Bool = false
    /// An HTTP or WebSocket row whose bytes were decrypted from TLS.
    public var decrypted: Bool = false
    /// What the application protocol said in the message this row completes (the App stage):
    /// several when one WebSocket message holds several (MQTT packets, a JSON-RPC batch).
    public var app: [AppMessage] = []
}
