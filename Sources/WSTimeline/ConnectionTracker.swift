import WSApp
import WSDecode
import WSDissector
import WSReassembly
import WSTLS

/// The timeline's state for one connection: its dissector session (made on first payload),
/// its summary, and the marks that name ACKs and phases.
final class ConnectionTracker {
    // The fields every packet touches come first, beside the object header (one or two cache
    // lines); `summary`, about 1 KiB, comes last and is brought up to date by `syncSummary()`
    // before anyone reads it.
    let stream: Int
    /// The last packet of this connection (flushed events at the end are reported on it, with
    /// its time and lengths).
    var lastPacket = 0
    var lastTime: Int64
    var lastLengths: (wire: Int32, captured: Int32) = (0, 0)
    var state: ConnectionState = .established
    var clientPackets = 0
    var serverPackets = 0
    var clientTCPBytes: UInt64 = 0
    var serverTCPBytes: UInt64 = 0
    /// The phase noted last and its span so far, written into `summary.phases` when the phase
    /// changes or the summary is handed out.
    private var currentPhase: Phase?
    private var currentSpan = PhaseSpan(firstPacket: 0, lastPacket: 0, firstTime: 0, lastTime: 0)
    var session: WebSocketSession? {
        didSet { sessionReference = session.map { Unmanaged.passUnretained($0) } }
    }
    /// `session`, unowned: read per packet (to dissect, to note prefetch hints) without a retain.
    private(set) var sessionReference: Unmanaged<WebSocketSession>?
    /// The App stage's state, once the connection carries WebSocket messages.
    var app: AppSession?
    /// The TLS stage, when the connection starts with a ClientHello.
    var tls: TLSSession?
    /// The first payload was looked at for a ClientHello.
    var tlsChecked = false
    var summarized = false
    var requestSeen = false
    var responseSeen = false
    var closeSeen = false
    var finSeen = false
    /// End offset of the chunk being dissected, per side.
    var chunkEnd: UInt64 = 0
    /// The reassembly slot the tracker is filed under in the analyzer.
    var slot = 0
    /// Stream offsets whose ACK is worth naming ("Upgrade request", "close frame"), per sender.
    var milestones: [(side: Side, offset: UInt64, label: Acknowledged.Milestone)] = []
    var closeFrameTime: [Side: Int64] = [:]
    var summary: ConnectionSummary

    init(stream: Int, client: Endpoint, server: Endpoint, midstream: Bool, packet: Int, time: Int64) {
        self.stream = stream
        lastPacket = packet
        lastTime = time
        summary = ConnectionSummary(stream: stream, client: client, server: server, start: time, end: time,
                                    firstPacket: packet, lastPacket: packet, midstream: midstream)
    }

    /// Copies the per-packet fields into `summary`.
    func syncSummary() {
        if let phase = currentPhase { summary.phases[phase] = currentSpan }
        summary.end = lastTime
        summary.lastPacket = lastPacket
        summary.state = state
        summary.clientCounts.packets = clientPackets
        summary.clientCounts.tcpBytes = clientTCPBytes
        summary.serverCounts.packets = serverPackets
        summary.serverCounts.tcpBytes = serverTCPBytes
        if let recognition = session?.recognition { summary.recognition = recognition }
        if let tls {
            summary.tls = tls.info
        } else if summary.recognition?.proto == .tls && summary.recognition?.method == .tlsRecords {
            var info = TLSConnectionInfo()
            info.decryption = .midstream
            info.detail = "TLS picked up mid-stream: not decryptable"
            summary.tls = info
        }
    }

    func session(limits: DissectorLimits, scratch: UnmaskScratch, budget: RecognitionBudget) -> WebSocketSession {
        if let session { return session }
        let made = WebSocketSession(limits: limits, midstream: summary.midstream, scratch: scratch, budget: budget)
        session = made
        return made
    }

    /// The phase a TCP-only event of this connection is in now.
    func phase(for report: SegmentReport, acknowledges: Acknowledged?) -> Phase {
        if report.handshake != nil { return .handshake }
        if !report.teardown.isEmpty || report.reset || finSeen { return .teardown }
        if closeSeen { return .close }
        if let tls, !requestSeen, tls.info.inHandshake, tls.info.clientHelloPacket != nil { return .tls }
        if let m = acknowledges?.milestone, m == .upgradeRequest || m == .response101 { return .upgrade }
        if requestSeen && !responseSeen { return .upgrade }
        if report.state == .handshake { return .handshake }
        if !requestSeen && clientTCPBytes == 0 && serverTCPBytes == 0 {
            return .handshake
        }
        return .data
    }

    /// The name of what an ACK from `sender` acknowledges, if it covers a milestone.
    func acknowledged(by sender: Side, upTo offset: UInt64) -> Acknowledged.Milestone? {
        if milestones.isEmpty { return nil }
        var label: Acknowledged.Milestone?
        milestones.removeAll { m in
            if m.side != sender && m.offset <= offset {
                label = m.label
                return true
            }
            return false
        }
        // Back to the shared empty array: checking it later touches no cold storage.
        if milestones.isEmpty { milestones = [] }
        return label
    }

    func mark(_ side: Side, _ label: Acknowledged.Milestone) {
        milestones.append((side, chunkEnd, label))
    }

    func notePhase(_ phase: Phase, packet: Int, time: Int64) {
        if phase == currentPhase {
            currentSpan.lastPacket = packet
            currentSpan.lastTime = time
            return
        }
        if let previous = currentPhase { summary.phases[previous] = currentSpan }
        summary.phases.note(phase, packet: packet, time: time)
        currentPhase = phase
        currentSpan = summary.phases[phase]!
    }

    func addViolations(_ list: [Violation], packet: Int) {
        for v in list {
            if summary.violations.count < ConnectionSummary.violationLimit {
                summary.violations.append(PacketViolation(packet: packet, violation: v))
            } else {
                summary.violationsDropped += 1
            }
        }
    }
}
