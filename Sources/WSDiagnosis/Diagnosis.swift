import WSDissector
import WSReassembly
import WSTimeline

/// Why a connection ended: a closed list (docs/json.md, "diagnosis").
public enum Cause: String, Sendable, CaseIterable {
    case cleanClose = "clean_close"
    case errorClose = "error_close"
    case idleTimeout = "idle_timeout"
    case keepaliveTimeout = "keepalive_timeout"
    case peerUnreachable = "peer_unreachable"
    case reset = "reset"
    case closedWithoutCloseFrame = "closed_without_close_frame"
    case receiverStalled = "receiver_stalled"
    case upgradeRefused = "upgrade_refused"
    case handshakeFailed = "handshake_failed"
    case tlsAlert = "tls_alert"
    case openAtEnd = "open_at_end"
    case notWebSocket = "not_websocket"

    /// Words for the text summary and `stats`.
    public var words: String {
        switch self {
        case .cleanClose: return "closed cleanly"
        case .errorClose: return "closed with an error code"
        case .idleTimeout: return "idle timeout"
        case .keepaliveTimeout: return "keepalive timeout"
        case .peerUnreachable: return "peer unreachable"
        case .reset: return "reset"
        case .closedWithoutCloseFrame: return "closed without a close frame"
        case .receiverStalled: return "receiver stalled"
        case .upgradeRefused: return "upgrade refused"
        case .handshakeFailed: return "handshake failed"
        case .tlsAlert: return "TLS alert"
        case .openAtEnd: return "open at end of capture"
        case .notWebSocket: return "not WebSocket"
        }
    }

    /// A cause that says something went wrong (everything but a clean close, a connection
    /// still open when the capture ended, and a connection that never was WebSocket).
    public var isFailure: Bool { !(self == .cleanClose || self == .openAtEnd || self == .notWebSocket) }
}

/// Who ended a connection.
public enum Ender: String, Sendable {
    case client, server, intermediary

    init(_ side: Side) { self = side == .client ? .client : .server }
}

/// One number a cause rests on.
public enum FigureValue: Sendable, Equatable {
    case count(Int)
    case seconds(Double)
    case text(String)
}

/// One packet of evidence and what it shows.
public struct Evidence: Sendable, Equatable {
    public var packet: Int
    public var what: String
}

/// A capture-wide pattern a connection is part of (found after every connection ended).
public struct PatternRef: Sendable, Equatable {
    public var kind: PatternKind
    public var connections: Int
    public var windowSeconds: Double
}

/// Why one connection ended, in the contract's shape (`diagnosis` in docs/json.md).
public struct Diagnosis: Sendable {
    public var cause: Cause
    public var by: Ender?
    /// One line, with the figures in words.
    public var summary: String
    public var evidence: [Evidence]
    /// Named figures, in a fixed order (`idle_s`, `pings_unanswered`, `retransmissions`,
    /// `zero_window_s`, `close_code`, `offending_packet`, ...).
    public var figures: [(name: String, value: FigureValue)]
    public var pattern: PatternRef?

    public func figure(_ name: String) -> FigureValue? { figures.first { $0.name == name }?.value }
}

/// Thresholds of the diagnosis, in one place (docs/diagnosis.md explains each).
public enum DiagnosisRules {
    /// A FIN or RST after at least this much silence, with no close frame, is an idle timeout.
    public static let idleNs: Int64 = 1_000_000_000
    /// A zero window held at least this long is a stalled receiver.
    public static let stalledNs: Int64 = 1_000_000_000
    /// Retransmissions with no ACK in between, at least this many, make a peer unreachable.
    public static let unreachableRetransmissions = 3
}

/// Per-connection diagnosis: a pure function of the summary.
public enum Diagnoser {
    public static func diagnose(_ s: ConnectionSummary) -> Diagnosis {
        withUnsafePointer(to: s) { diagnose($0) }
    }

    private static func diagnose(_ s: UnsafePointer<ConnectionSummary>) -> Diagnosis {
        var d = Builder(s)
        d.run()
        // Evidence in packet order, each packet once (the first said of it): after sorting, a
        // packet's entries are neighbours.
        // In place: the sort is the one `sorted` makes (the same algorithm), and each run of a
        // packet keeps its first entry (a sorted copy and a unique copy cost two allocations a
        // connection).
        d.result.evidence.sort { $0.packet < $1.packet }
        var kept = 0
        for i in d.result.evidence.indices where kept == 0 || d.result.evidence[kept - 1].packet != d.result.evidence[i].packet {
            if kept != i { d.result.evidence.swapAt(kept, i) }
            kept += 1
        }
        d.result.evidence.removeLast(d.result.evidence.count - kept)
        return d.result
    }
}


public func spanText(_ ns: Int64) -> String {
    let s = Double(ns) / 1e9
    if s >= 10 { return formatFixed(s, 1) + " s" }
    if s >= 0.1 { return formatFixed(s, 2) + " s" }
    return formatFixed(s * 1000, 1) + " ms"
}

/// `value` with `digits` decimals, without Foundation (beyond Int64's range: Swift's own text).
public func formatFixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    guard scaled.isFinite, abs(scaled) < 9.0e18 else { return value.isFinite ? String(value) : "0" }
    let negative = scaled < 0
    let n = Int64(abs(scaled))
    // The digits written backwards into one small buffer, one String made of them (this runs a
    // dozen times for every connection's health line; five Strings concatenated cost about 850
    // instructions): the integer part of n / 10^digits, a point, then exactly `digits` digits.
    let capacity = digits + 24
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
        var i = capacity
        var rest = UInt64(n)
        if digits > 0 {
            for _ in 0..<digits {
                i -= 1
                buffer[i] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
            i -= 1
            buffer[i] = 0x2e
        }
        repeat {
            i -= 1
            buffer[i] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0
        if negative && n != 0 {
            i -= 1
            buffer[i] = 0x2d
        }
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[i..<capacity]), as: UTF8.self)
    }
}

func seconds(_ ns: Int64) -> Double { (Double(ns) / 1e6).rounded() / 1e3 }

private struct Builder {
    /// The summary diagnosed, read where it lies: a copy of it (and of its facts) retained
    /// and released every array and string it holds, about 4,000 instructions a connection.
    /// It outlives the builder (`Diagnoser.diagnose` holds it).
    private let summary: UnsafePointer<ConnectionSummary>
    private let facts: UnsafePointer<ConnectionFacts>
    var s: ConnectionSummary { unsafeAddress { summary } }
    var f: ConnectionFacts { unsafeAddress { facts } }
    var result: Diagnosis

    init(_ s: UnsafePointer<ConnectionSummary>) {
        summary = s
        facts = s.pointer(to: \.facts)!
        result = Diagnosis(cause: .openAtEnd, by: nil, summary: "", evidence: [], figures: [], pattern: nil)
    }

    mutating func set(_ cause: Cause, _ by: Side?, _ summary: String) {
        result.cause = cause
        result.by = by.map(Ender.init)
        result.summary = summary
    }

    mutating func evidence(_ packet: Int?, _ what: String) {
        guard let packet else { return }
        result.evidence.append(Evidence(packet: packet, what: what), reservingFirst: 4)
    }

    mutating func figure(_ name: String, _ value: FigureValue) { result.figures.append((name, value)) }

    /// The FIN or RST that ended the TCP connection, in words.
    var endingWords: String? {
        guard let e = f.ending else { return nil }
        return (e.reset ? "RST" : "FIN") + " from " + e.side.name
    }

    mutating func run() {
        if tlsHandshakeAlert() { return }
        if !s.isWebSocket { return notWebSocket() }
        if tlsAlertAfterHandshake() { return }
        if keepalive() { return }
        if let close = s.close {
            if closeFrame(close) { return }
        }
        noCloseFrame()
    }

    // MARK: before WebSocket

    mutating func tlsHandshakeAlert() -> Bool {
        guard let tls = s.tls, tls.handshakeDonePacket == nil, !s.isWebSocket,
              let fatal = tls.alerts.first(where: { $0.isFatal }) else { return false }
        let side: Side = fatal.fromClient ? .client : .server
        set(.tlsAlert, side, "TLS handshake failed: fatal alert \(fatal.name) from \(side.name)")
        evidence(fatal.packet, "fatal alert \(fatal.name)")
        figure("alert", .text(fatal.name))
        return true
    }

    mutating func tlsAlertAfterHandshake() -> Bool {
        guard let tls = s.tls, let fatal = tls.alerts.first(where: { $0.isFatal }) else { return false }
        let side: Side = fatal.fromClient ? .client : .server
        set(.tlsAlert, side, "fatal TLS alert \(fatal.name) from \(side.name) ended the connection")
        evidence(fatal.packet, "fatal alert \(fatal.name)")
        figure("alert", .text(fatal.name))
        return true
    }

    mutating func notWebSocket() {
        let h = s.handshake
        if let syn = h.synPacket, h.synAckPacket == nil, !s.midstream {
            if let rst = s.teardown.rstPacket, s.teardown.rstFrom == .server {
                set(.handshakeFailed, .server, "TCP handshake refused: SYN answered by RST from server (nothing listening)")
                evidence(syn, "SYN")
                evidence(rst, "RST from server")
            } else {
                let tries = h.synRetransmissions + 1
                // The client gave up (nothing answered it).
                set(.handshakeFailed, .client, "TCP handshake never completed: \(tries) SYN\(tries == 1 ? "" : "s") unanswered over \(spanText(s.duration))")
                evidence(syn, "first SYN")
                if s.lastPacket != syn { evidence(s.lastPacket, "last SYN") }
                figure("syn_retransmissions", .count(h.synRetransmissions))
            }
            return
        }
        if let u = s.upgrade {
            if let status = u.status {
                set(.upgradeRefused, .server, "WebSocket upgrade refused: \(status) \(u.reason ?? "")".trimmedRight)
                evidence(u.requestPacket, "Upgrade request")
                evidence(u.responsePacket, "\(status) response")
                figure("status", .count(status))
            } else {
                set(.handshakeFailed, nil, "WebSocket upgrade requested, no response captured")
                evidence(u.requestPacket, "Upgrade request")
            }
            return
        }
        if let tls = s.tls, tls.decryption != .decrypted {
            // Not known to be WebSocket: what the records carried cannot be read.
            set(.notWebSocket, nil, "TLS not decrypted (\(tls.detail.isEmpty ? "no key" : tls.detail)): no WebSocket seen, whether it carried one is unknown")
            return
        }
        if s.recognition?.proto == .unknown {
            set(.notWebSocket, nil, "not WebSocket: the payload was not recognised")
            return
        }
        set(.notWebSocket, nil, s.firstRequest.map { "not WebSocket: plain HTTP (\($0))" } ?? "not a WebSocket connection")
    }

    // MARK: WebSocket

    /// Pings from the side that ended the connection that its peer never answered, with
    /// the peer silent since the first of them.
    mutating func keepalive() -> Bool {
        let ender: Side?
        if let close = s.close { ender = close.initiator } else { ender = f.ending?.side }
        guard let side = ender else { return false }
        let me = f.side(side)
        let peer = f.side(side.peer)
        guard let first = me.pendingPings.first else { return false }
        // The peer said nothing (no new payload) after the first unanswered ping.
        if let last = peer.lastPayload, last.time > first.time { return false }
        let unanswered = me.pendingPings.count
        let endWords: String
        if let close = s.close, close.initiator == side {
            endWords = "then sent close \(close.code.map(String.init) ?? "without a code")"
                + (close.replyPacket == nil ? " (not answered)" : "")
        } else {
            endWords = "then ended TCP (\(endingWords ?? "no FIN or RST"))"
        }
        let pong = me.lastAnsweringPong.map { "last pong at packet \($0.packet)" } ?? "no pong ever"
        set(.keepaliveTimeout, side, "keepalive timeout: \(unanswered) ping\(unanswered == 1 ? "" : "s") from \(side.name) unanswered (\(pong)), \(endWords)")
        evidence(first.packet, "first unanswered ping")
        if let last = me.pendingPings.last, last.packet != first.packet { evidence(last.packet, "last unanswered ping") }
        if let p = me.lastAnsweringPong { evidence(p.packet, "last pong") }
        if let close = s.close, close.initiator == side { evidence(close.initiatorPacket, "close \(close.code.map(String.init) ?? "")".trimmedRight) }
        if let e = f.ending { evidence(e.packet, e.reset ? "RST" : "FIN") }
        figure("pings_unanswered", .count(unanswered))
        if let code = s.close?.code, s.close?.initiator == side { figure("close_code", .count(Int(code))) }
        figure("silence_s", .seconds(seconds((s.close?.initiatorTime ?? f.ending?.time ?? s.end) - first.time)))
        return true
    }

    static func isCleanCode(_ code: UInt16?) -> Bool {
        guard let code else { return true }
        return code == 1000 || code == 1001 || code == 1012
    }

    mutating func closeFrame(_ close: CloseSummary) -> Bool {
        let side = close.initiator
        let codeText = close.code.map { concatenated(String($0), " (", closeCodeName($0), ")") } ?? "no status code"
        let replied = close.replyPacket != nil
        if !Self.isCleanCode(close.code), let code = close.code {
            var summary = "closed by \(side.name) with \(codeText)"
            if let reason = close.reason, !reason.isEmpty { summary += " \"\(reason)\"" }
            if !replied { summary += ", not answered" }
            set(.errorClose, side, summary)
            figure("close_code", .count(Int(code)))
            offending(close, code: code)
            evidence(close.initiatorPacket, "close \(code) from \(side.name)")
            evidence(close.replyPacket, "close reply")
            return true
        }
        if replied {
            // The clean close of nearly every connection: its words from literals, joined once.
            var summary = (side == .client ? "closed cleanly by client, " : "closed cleanly by server, ") + codeText
            if let rst = s.teardown.rstFrom { summary += rst == .client ? "; then RST from client" : "; then RST from server" }
            set(.cleanClose, side, summary)
            if let code = close.code { figure("close_code", .count(Int(code))) }
            evidence(close.initiatorPacket, side == .client ? "close from client" : "close from server")
            evidence(close.replyPacket, "close reply")
            return true
        }
        // A clean code the peer never answered: what ended it comes from TCP.
        return false
    }

    /// The frame that provoked an error close: the peer's last message or rule-breaking frame.
    mutating func offending(_ close: CloseSummary, code: UInt16) {
        let peerSide = close.initiator.peer
        let peer = f.side(peerSide)
        let before = { (p: Int) in p <= close.initiatorPacket }
        switch code {
        case 1002, 1007:
            if let v = peer.lastViolation, before(v.packet) {
                result.summary += "; provoked by \(peerSide.name)'s frame at packet \(v.packet) (\(v.code.rawValue))"
                figure("offending_packet", .count(v.packet))
                evidence(v.packet, "\(v.code.rawValue) from \(peerSide.name)")
                return
            }
            if code == 1007, let m = peer.lastMessage, m.opcode == 1, before(m.packet) {
                result.summary += "; after \(peerSide.name)'s text message at packet \(m.packet)"
                figure("offending_packet", .count(m.packet))
                evidence(m.packet, "text message from \(peerSide.name)")
            }
        case 1009:
            if let m = peer.lastMessage {
                let larger = m.size > peer.largestBeforeLast
                result.summary += "; provoked by \(peerSide.name)'s \(m.size)-byte message at packet \(m.packet)"
                    + (larger && peer.messages > 1 ? ", larger than any before it (\(peer.largestBeforeLast) bytes)" : "")
                figure("offending_packet", .count(m.packet))
                figure("offending_size", .count(Int(clamping: m.size)))
                evidence(m.packet, "\(m.size)-byte message from \(peerSide.name)")
            } else if let fr = peer.lastFrame, fr.opcode <= 2 {
                result.summary += "; after \(peerSide.name)'s unfinished message"
                figure("offending_packet", .count(fr.packet))
                evidence(fr.packet, "frame from \(peerSide.name)")
            }
        default:
            if let m = peer.lastMessage, before(m.packet) {
                result.summary += "; right after \(peerSide.name)'s message at packet \(m.packet)"
                figure("offending_packet", .count(m.packet))
                evidence(m.packet, "last message from \(peerSide.name)")
            }
        }
    }

    mutating func noCloseFrame() {
        let unansweredClose = s.close.map { c -> String in
            "close \(c.code.map(String.init) ?? "without a code") from \(c.initiator.name) not answered; "
        } ?? ""
        if let close = s.close { evidence(close.initiatorPacket, "unanswered close from \(close.initiator.name)") }
        // A side that kept sending without an ACK until the end: its peer is gone.
        for side in [Side.client, .server] {
            let me = f.side(side)
            guard me.unackedRetransmissions >= DiagnosisRules.unreachableRetransmissions,
                  let first = me.unackedFirst, let last = me.unackedLast else { continue }
            let peer = side.peer
            let peerFacts = f.side(peer)
            // Nothing came back from the peer after the retransmissions began.
            if let p = peerFacts.lastPacket, p.time > first.time { continue }
            var words = "peer unreachable: \(me.unackedRetransmissions) retransmissions from \(side.name) over \(spanText(last.time - first.time)) with no ACK"
            let ack = peerFacts.lastPacket.map { "last packet from \(peer.name) at packet \($0.packet)" }
            if let ack { words += " (\(ack))" }
            if let backoff = backoffWords(me.unackedTimes) { words += ", backoff \(backoff)" }
            if let e = f.ending, e.packet >= first.packet {
                words += "; then \(e.reset ? "RST" : "FIN") from \(e.side.name)"
            } else {
                words += "; capture ended"
            }
            set(.peerUnreachable, side, unansweredClose + words)
            evidence(peerFacts.lastPacket?.packet, "last packet from \(peer.name)")
            evidence(first.packet, "first retransmission")
            evidence(last.packet, "last retransmission")
            if let e = f.ending, e.packet >= first.packet { evidence(e.packet, e.reset ? "RST" : "FIN") }
            figure("retransmissions", .count(me.unackedRetransmissions))
            figure("retransmitting_s", .seconds(seconds(last.time - first.time)))
            return
        }
        // A receiver whose window stayed shut.
        for side in [Side.client, .server] {
            let me = f.side(side)
            guard me.zeroWindowNs >= DiagnosisRules.stalledNs, let first = me.firstZeroWindowPacket else { continue }
            var words = "receiver stalled: \(side.name) advertised a zero window for \(spanText(me.zeroWindowNs))"
                + (me.zeroWindowOpenAtEnd ? " (still shut at the end)" : "")
            let ender = f.ending?.side
            if let e = f.ending { words += "; then \(e.reset ? "RST" : "FIN") from \(e.side.name)" } else { words += "; capture ended" }
            set(.receiverStalled, ender, unansweredClose + words)
            evidence(first, "first zero window from \(side.name)")
            if let e = f.ending { evidence(e.packet, e.reset ? "RST" : "FIN") }
            figure("zero_window_s", .seconds(seconds(me.zeroWindowNs)))
            figure("stalled_side", .text(side.name))
            return
        }
        guard let e = f.ending else {
            var words = unansweredClose + "still open when the capture ended"
            if let r = s.releaseReason, r == .evicted || r == .idle { words = unansweredClose + "released early by wstrace (\(r.rawValue))" }
            set(.openAtEnd, nil, words)
            if let last = f.lastPayload {
                evidence(last.packet, "last payload")
                figure("idle_s", .seconds(seconds(s.end - last.time)))
            }
            return
        }
        let what = e.reset ? "RST" : "FIN"
        if s.close == nil && e.silenceNs >= DiagnosisRules.idleNs {
            set(.idleTimeout, e.side, "idle timeout: \(what) from \(e.side.name) after \(spanText(e.silenceNs)) without traffic, no close frame")
            evidence(f.lastPayload?.packet, "last payload")
            evidence(e.packet, what)
            figure("idle_s", .seconds(seconds(e.silenceNs)))
            return
        }
        // An RST, or a FIN with no close frame: who, and right after what.
        let after = lastBefore(e.packet)
        var words = unansweredClose + (e.reset ? "reset by \(e.side.name) \(resetPhase)"
                                               : s.close != nil ? "TCP closed by \(e.side.name) with no close reply"
                                               : "TCP closed by \(e.side.name) without a WebSocket close frame")
        if let after {
            words += (e.reset ? ", right after " : ", \(spanText(e.silenceNs)) after ") + "\(after.words) (packet \(after.packet))"
            evidence(after.packet, after.words)
        }
        set(e.reset ? .reset : .closedWithoutCloseFrame, e.side, words)
        evidence(e.packet, "\(what) from \(e.side.name)")
        figure("idle_s", .seconds(seconds(e.silenceNs)))
    }

    var resetPhase: String {
        switch s.teardown.rstState {
        case .handshake?: return "during the TCP handshake"
        case .halfClosed?: return "during teardown"
        default: return s.close != nil ? "after a close frame" : "during data"
        }
    }

    /// The last thing either side sent before `packet`, in words.
    func lastBefore(_ packet: Int) -> (packet: Int, words: String)? {
        var best: (packet: Int, words: String)?
        for side in [Side.client, .server] {
            let me = f.side(side)
            if let fr = me.lastFrame, fr.packet <= packet, best == nil || fr.packet > best!.packet {
                let kind: String
                switch fr.opcode {
                case 8: kind = "close frame"
                case 9: kind = "ping"
                case 10: kind = "pong"
                default: kind = "message"
                }
                best = (fr.packet, "\(side.name)'s \(kind)")
            }
            if let p = me.lastPayload, p.packet <= packet, best == nil || p.packet > best!.packet {
                best = (p.packet, "data from \(side.name)")
            }
        }
        return best
    }

    /// The intervals between retransmissions, when they grow ("0.2 s, 0.4 s, 0.8 s").
    func backoffWords(_ times: [Int64]) -> String? {
        guard times.count >= 3 else { return nil }
        var gaps: [Int64] = []
        for i in 1..<min(times.count, 8) { gaps.append(times[i] - times[i - 1]) }
        return gaps.map(spanText).joined(separator: ", ") + (times.count > 8 ? ", …" : "")
    }
}

extension String {
    var trimmedRight: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
