import WSTLS
import WSDissector
import WSReassembly
import WSTimeline

/// What an arrow of a ladder diagram stands for; it picks the arrow's style.
enum LadderKind: String, Sendable {
    /// A TCP handshake segment (SYN, SYN-ACK, ACK).
    case handshake
    /// The HTTP Upgrade request or its response.
    case http
    /// A text, binary or continuation frame.
    case data
    /// A ping or pong.
    case control
    /// A close frame.
    case close
    /// A FIN or the ACK of one.
    case teardown
    /// An RST.
    case reset
    /// TLS records (wss).
    case tls
    /// Other payload (HTTP body, unknown data, data after close).
    case other
}

/// One arrow of a ladder diagram: one lifecycle step or frame, copied out of its event.
///
/// Strings are terminal-safe (control bytes escaped) but not yet escaped for HTML or Mermaid.
struct LadderStep: Sendable {
    var packet: Int
    var time: Int64
    var from: Side
    var phase: Phase
    var kind: LadderKind
    /// The short words on the arrow.
    var label: String
    /// The event's whole Info column (a tooltip in HTML).
    var detail: String
    /// Violation codes shown by this step.
    var violations: [String]
    /// Payload bytes the step carries (frames only).
    var bytes: UInt64
}

/// A long run of consecutive data frames, drawn collapsed as one group.
struct LadderRun: Sendable {
    /// Steps in the run (all of them, drawn or not).
    var count = 0
    var fromClient = 0
    var fromServer = 0
    var bytes: UInt64 = 0
    var firstPacket = 0
    var lastPacket = 0
    var firstTime: Int64 = 0
    var lastTime: Int64 = 0
    /// Steps in the run that showed a violation.
    var violations = 0
    /// The first `LadderBuilder.runKeep` steps, drawn when the group is expanded.
    var kept: [LadderStep] = []

    mutating func add(_ s: LadderStep, keep: Int) {
        if count == 0 { firstPacket = s.packet; firstTime = s.time }
        count += 1
        if s.from == .client { fromClient += 1 } else { fromServer += 1 }
        bytes += s.bytes
        lastPacket = s.packet
        lastTime = s.time
        if !s.violations.isEmpty { violations += 1 }
        if kept.count < keep { kept.append(s) }
    }
}

/// One row of a ladder diagram, top to bottom.
enum LadderItem: Sendable {
    /// The connection enters a phase.
    case phase(Phase)
    case step(LadderStep)
    case run(LadderRun)
    /// Bytes the capture lost.
    case gap(packet: Int, time: Int64, text: String)
    /// Arrows past the per-connection limit, counted only.
    case omitted(Int)
}

/// Turns one connection's events into ladder rows, with bounded memory: long runs of data
/// frames collapse into a `LadderRun` (a few arrows before and after stay visible), and a
/// connection keeps at most `stepLimit` rows.
///
/// Which events make arrows: the HTTP request and response, every frame, TLS and other payload
/// records, and the TCP segments of the lifecycle (handshake steps, teardown steps, RST) —
/// one arrow per packet for the TCP part, even when the packet also carries frames.
struct LadderBuilder {
    /// Arrows kept visible before a collapsed run.
    static let headCount = 4
    /// Arrows kept visible after a collapsed run.
    static let tailCount = 4
    /// A run of more data arrows than this collapses.
    static let runThreshold = 12
    /// Arrows kept (drawn when expanded) inside one collapsed run.
    static let runKeep = 24
    /// Rows kept per connection.
    static let stepLimit = 600

    private(set) var items: [LadderItem] = []
    private var lastPhase: Phase?
    private var head: [LadderStep] = []
    private var run: LadderRun?
    private var tail: [LadderStep] = []
    private var rows = 0
    private var omitted = 0
    private let labels = InfoFormatter(previewLimit: 40)
    private let details = InfoFormatter(previewLimit: 60)

    init() {}

    /// Takes the arrows of one event of this connection.
    mutating func add(_ e: TimelineEvent) {
        guard let side = e.side else { return }
        let codes = e.violations.map(\.code.rawValue)
        // The TCP part of a packet goes the packet's way, also when the event is about bytes of
        // the other direction that this packet released.
        let tcpSide: Side = e.tcp.map { $0.report.direction == .clientToServer ? .client : .server } ?? side
        func step(_ kind: LadderKind, _ label: String, bytes: UInt64 = 0, violations: [String] = codes,
                  from: Side = side) -> LadderStep {
            LadderStep(packet: e.packet, time: e.time, from: from, phase: e.phase, kind: kind, label: label,
                       detail: details.info(e), violations: violations, bytes: bytes)
        }
        switch e.detail {
        case .tcp:
            if let kind = Self.tcpKind(e) { place(step(kind, tcpLabel(e), from: tcpSide)) }
            return
        case let .httpRequest(r):
            var s = "\(r.method) \(escapedText(r.target, limit: 60)) \(r.version)"
            if r.isWebSocketUpgrade { s += " — Upgrade: websocket" }
            place(step(.http, s))
        case let .httpResponse(r):
            var s = "\(r.status) \(escapedText(r.reason, limit: 40))"
            if r.upgraded {
                switch r.acceptValid {
                case true?: s += " — accept key valid"
                case false?: s += " — accept key INVALID"
                case nil: break
                }
            }
            place(step(.http, s))
        case let .frame(f, role):
            let kind: LadderKind = f.opcode == 8 ? .close : (f.opcode == 9 || f.opcode == 10) ? .control : .data
            place(step(kind, labels.frameText(f, role: role), bytes: f.payloadLength))
        case .tls, .opaque:
            place(step(e.detail.isTLS ? .tls : .other, labels.info(e)))
        case let .tlsRecord(r):
            // The handshake's milestones and alerts; records that only carried data are not steps.
            let notable = r.items.contains { item in
                switch item {
                case .clientHello, .serverHello, .helloRetryRequest, .handshakeDone, .alert, .problem: return true
                default: return false
                }
            }
            if notable { place(step(.tls, labels.info(e))) }
        case .gap, .streamGap:
            flushRun()
            append(.gap(packet: e.packet, time: e.time, text: details.info(e)))
        case .progress, .nonTCP:
            break
        }
        // The TCP side of a packet that also carried payload (a FIN with the close frame, ...).
        if e.showsTCPLabels, let kind = Self.tcpKind(e) {
            place(step(kind, tcpLabel(e), violations: [], from: tcpSide))
        }
    }

    /// Ends any pending run; call once after the last event.
    mutating func finish() {
        flushRun()
        if omitted > 0 { items.append(.omitted(omitted)); omitted = 0 }
    }

    /// The lifecycle role of an event's TCP segment, if it makes an arrow.
    static func tcpKind(_ e: TimelineEvent) -> LadderKind? {
        guard let r = e.tcp?.report else { return nil }
        if r.reset { return .reset }
        if r.handshake != nil { return .handshake }
        if !r.teardown.isEmpty { return .teardown }
        return nil
    }

    private func tcpLabel(_ e: TimelineEvent) -> String {
        let flags = e.tcp?.flags.names.joined(separator: ", ") ?? "TCP"
        let words = labels.tcpLabelText(e) ?? ""
        return words.isEmpty ? flags : flags + " " + words
    }

    private static func isRunnable(_ s: LadderStep) -> Bool {
        s.phase == .data && (s.kind == .data || s.kind == .control || s.kind == .tls || s.kind == .other)
    }

    private mutating func place(_ s: LadderStep) {
        if Self.isRunnable(s) {
            if head.isEmpty { enter(.data) }
            if head.count < Self.headCount {
                head.append(s)
                return
            }
            tail.append(s)
            if run == nil && head.count + tail.count > Self.runThreshold {
                run = LadderRun()
            }
            if run != nil {
                while tail.count > Self.tailCount { run!.add(tail.removeFirst(), keep: Self.runKeep) }
            }
            return
        }
        flushRun()
        enter(s.phase)
        append(.step(s))
    }

    private mutating func enter(_ phase: Phase) {
        if phase != lastPhase {
            lastPhase = phase
            append(.phase(phase))
        }
    }

    private mutating func flushRun() {
        for s in head { append(.step(s)) }
        if let run { append(.run(run)) }
        for s in tail { append(.step(s)) }
        head.removeAll()
        tail.removeAll()
        run = nil
    }

    private mutating func append(_ item: LadderItem) {
        guard rows < Self.stepLimit else {
            switch item {
            case .step: omitted += 1
            case let .run(r): omitted += r.count
            default: break
            }
            return
        }
        rows += 1
        items.append(item)
    }
}

extension LadderItem {
    /// Arrows this row stands for (drawn or not).
    var arrowCount: Int {
        switch self {
        case .step: return 1
        case let .run(r): return r.count
        case let .omitted(n): return n
        case .phase, .gap: return 0
        }
    }
}

extension EventDetail {
    var isTLS: Bool {
        if case .tls = self { return true }
        if case .tlsRecord = self { return true }
        return false
    }
}

/// Words for the phase rows of diagrams.
func phaseTitle(_ p: Phase) -> String {
    switch p {
    case .handshake: return "TCP three-way handshake"
    case .tls: return "TLS handshake"
    case .upgrade: return "HTTP Upgrade"
    case .data: return "WebSocket data"
    case .close: return "Closing handshake"
    case .teardown: return "TCP teardown"
    case .other: return "Other"
    }
}
