import WSDecode
import WSDissector
import WSReassembly

/// The timeline's state for one connection: its dissector session (made on first payload),
/// its summary, and the marks that name ACKs and phases.
final class ConnectionTracker {
    var summary: ConnectionSummary
    var session: WebSocketSession?
    var summarized = false
    /// Stream offsets whose ACK is worth naming ("Upgrade request", "close frame"), per sender.
    var milestones: [(side: Side, offset: UInt64, label: String)] = []
    var requestSeen = false
    var responseSeen = false
    var closeSeen = false
    var finSeen = false
    var closeFrameTime: [Side: Int64] = [:]
    /// End offset of the chunk being dissected, per side.
    var chunkEnd: UInt64 = 0
    /// The last packet of this connection (flushed events at the end are reported on it).
    var lastPacket = 0
    /// The reassembly slot the tracker is filed under in the analyzer.
    var slot = 0

    init(stream: Int, client: Endpoint, server: Endpoint, midstream: Bool, packet: Int, time: Int64) {
        summary = ConnectionSummary(stream: stream, client: client, server: server, start: time, end: time,
                                    firstPacket: packet, lastPacket: packet, midstream: midstream)
    }

    func session(limits: DissectorLimits, scratch: UnmaskScratch) -> WebSocketSession {
        if let session { return session }
        let made = WebSocketSession(limits: limits, midstream: summary.midstream, scratch: scratch)
        session = made
        return made
    }

    /// The phase a TCP-only event of this connection is in now.
    func phase(for report: SegmentReport, acknowledges: String?) -> Phase {
        if report.handshake != nil { return .handshake }
        if !report.teardown.isEmpty || report.reset || finSeen { return .teardown }
        if closeSeen { return .close }
        if let a = acknowledges, a.hasPrefix("Upgrade request") || a.hasPrefix("101 response") { return .upgrade }
        if requestSeen && !responseSeen { return .upgrade }
        if report.state == .handshake { return .handshake }
        if !requestSeen && summary.clientCounts.tcpBytes == 0 && summary.serverCounts.tcpBytes == 0 {
            return .handshake
        }
        return .data
    }

    /// The name of what an ACK from `sender` acknowledges, if it covers a milestone.
    func acknowledged(by sender: Side, upTo offset: UInt64) -> String? {
        var label: String?
        milestones.removeAll { m in
            if m.side != sender && m.offset <= offset {
                label = m.label
                return true
            }
            return false
        }
        return label
    }

    func mark(_ side: Side, _ label: String) {
        milestones.append((side, chunkEnd, label))
    }

    func notePhase(_ phase: Phase, packet: Int, time: Int64) {
        summary.phases.note(phase, packet: packet, time: time)
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
