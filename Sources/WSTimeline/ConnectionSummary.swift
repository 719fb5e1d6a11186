import WSApp
import WSTLS
import WSDecode
import WSDissector
import WSReassembly

/// First and last packet (and times) of one phase of a connection.
public struct PhaseSpan: Sendable, Equatable {
    public var firstPacket: Int
    public var lastPacket: Int
    public var firstTime: Int64
    public var lastTime: Int64
}

/// The span of each phase, stored inline (no hashing per packet).
public struct PhaseSpans: Sendable {
    private var spans: (PhaseSpan?, PhaseSpan?, PhaseSpan?, PhaseSpan?, PhaseSpan?, PhaseSpan?, PhaseSpan?) = (nil, nil, nil, nil, nil, nil, nil)

    public init() {}

    public subscript(_ phase: Phase) -> PhaseSpan? {
        get {
            switch phase {
            case .handshake: return spans.0
            case .upgrade: return spans.1
            case .data: return spans.2
            case .close: return spans.3
            case .teardown: return spans.4
            case .other: return spans.5
            case .tls: return spans.6
            }
        }
        set {
            switch phase {
            case .handshake: spans.0 = newValue
            case .upgrade: spans.1 = newValue
            case .data: spans.2 = newValue
            case .close: spans.3 = newValue
            case .teardown: spans.4 = newValue
            case .other: spans.5 = newValue
            case .tls: spans.6 = newValue
            }
        }
    }

    /// Extends `phase` to `packet` at `time`.
    public mutating func note(_ phase: Phase, packet: Int, time: Int64) {
        if var span = self[phase] {
            span.lastPacket = packet
            span.lastTime = time
            self[phase] = span
        } else {
            self[phase] = PhaseSpan(firstPacket: packet, lastPacket: packet, firstTime: time, lastTime: time)
        }
    }
}

/// Message counters for one side.
public struct SideCounts: Sendable, Equatable {
    public var text = 0
    public var binary = 0
    public var ping = 0
    public var pong = 0
    public var close = 0
    /// Frames (all opcodes).
    public var frames = 0
    /// Message payload bytes after decompression.
    public var bytes: UInt64 = 0
    /// Frame bytes on the wire, headers included.
    public var wireBytes: UInt64 = 0
    /// Payload bytes of compressed messages on the wire, and after inflating.
    public var compressedWire: UInt64 = 0
    public var compressedInflated: UInt64 = 0
    /// TCP payload bytes this side sent.
    public var tcpBytes: UInt64 = 0
    public var packets = 0
    public init() {}
}

/// The TCP handshake as captured.
public struct HandshakeSummary: Sendable, Equatable {
    public var synPacket: Int?
    public var synAckPacket: Int?
    public var ackPacket: Int?
    /// Initial RTT (first SYN to the final ACK), ns.
    public var rtt: Int64?
    public var synRetransmissions = 0
}

/// The HTTP Upgrade as captured.
public struct UpgradeSummary: Sendable {
    public var path: String
    public var host: String?
    public var origin: String?
    public var requestPacket: Int
    public var requestTime: Int64
    public var offeredProtocols: [String] = []
    public var offeredExtensions: [String] = []
    public var status: Int?
    public var reason: String?
    public var responsePacket: Int?
    public var responseTime: Int64?
    public var subprotocol: String?
    public var extensions: [String] = []
    public var acceptValid: Bool?
    public var deflate: DeflateParameters?
    public var upgraded = false
}

/// The closing handshake as captured.
public struct CloseSummary: Sendable {
    public var initiator: Side
    public var code: UInt16?
    public var reason: String?
    public var initiatorPacket: Int
    public var initiatorTime: Int64
    public var replyCode: UInt16?
    public var replyReason: String?
    public var replyPacket: Int?
    public var latency: Int64?
}

/// The TCP teardown as captured.
public struct TeardownSummary: Sendable {
    public var finPackets: [Int] = []
    public var finSides: [Side] = []
    public var rstPacket: Int?
    public var rstFrom: Side?
    public var rstState: ConnectionState?
    /// Both FINs sent and acknowledged.
    public var complete = false
    public var simultaneous = false
    /// Teardown step (1...4) → packet.
    public var steps = TeardownStepPackets()
}

/// The packet of each of the four teardown steps, where one was seen: four optional packet
/// numbers kept in the summary itself. As a `[Int: Int]` every connection's teardown allocated
/// a dictionary and grew it twice (about 2,600 instructions a connection, 1.3% of a capture of
/// short connections).
public struct TeardownStepPackets: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private var packets: (Int, Int, Int, Int) = (0, 0, 0, 0)
    private var seenMask: UInt8 = 0  // bit step-1: that step has a packet

    public init() {}

    public init(dictionaryLiteral elements: (Int, Int)...) {
        for (step, packet) in elements { self[step] = packet }
    }

    /// The packet of `step` (1...4); nil when not seen, and for any other step.
    public subscript(step: Int) -> Int? {
        get {
            guard (1...4).contains(step), seenMask & (1 << (step - 1)) != 0 else { return nil }
            switch step {
            case 1: return packets.0
            case 2: return packets.1
            case 3: return packets.2
            default: return packets.3
            }
        }
        set {
            precondition((1...4).contains(step), "teardown steps are 1 to 4")
            let bit = UInt8(1) << (step - 1)
            guard let packet = newValue else {
                seenMask &= ~bit
                return
            }
            seenMask |= bit
            switch step {
            case 1: packets.0 = packet
            case 2: packets.1 = packet
            case 3: packets.2 = packet
            default: packets.3 = packet
            }
        }
    }

    /// The steps seen, in order, with their packets.
    public var seen: [(step: Int, packet: Int)] {
        (1...4).compactMap { step in self[step].map { (step, $0) } }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.seenMask == b.seenMask && (1...4).allSatisfy { a[$0] == b[$0] }
    }
}

/// A violation with the packet that showed it.
public struct PacketViolation: Sendable {
    public var packet: Int
    public var violation: Violation
}

/// Everything wstrace learned about one connection, updated as its events pass.
public struct ConnectionSummary: Sendable {
    public var stream: Int
    public var client: Endpoint
    public var server: Endpoint
    public var start: Int64
    public var end: Int64
    public var firstPacket: Int
    public var lastPacket: Int
    public var midstream: Bool
    public var handshake = HandshakeSummary()
    public var upgrade: UpgradeSummary?
    /// The TLS stage's facts (wss), or mid-stream TLS.
    public var tls: TLSConnectionInfo?
    /// What the payload was recognised as and on what evidence (nil: no payload).
    public var recognition: Recognition?
    public var isWebSocket = false
    /// Plain HTTP seen on the connection (any request, Upgrade or not).
    public var httpRequests = 0
    public var firstRequest: String?
    public var firstResponse: String?
    public var clientCounts = SideCounts()
    public var serverCounts = SideCounts()
    public var close: CloseSummary?
    public var teardown = TeardownSummary()
    public var violations: [PacketViolation] = []
    /// Violations beyond the kept list (capped at `violationLimit`).
    public var violationsDropped = 0
    public var gaps: UInt64 = 0
    public var gapBytes: UInt64 = 0
    public var phases = PhaseSpans()
    public var state: ConnectionState = .established
    public var releaseReason: ReleaseReason?
    public var incompleteMessages = 0
    /// Packets that were copies of packets already captured (counted nowhere else).
    public var duplicatePackets = 0
    /// What the Diagnosis stage reads: retransmissions, windows, pings, message sizes, silences.
    public var facts = ConnectionFacts()
    /// What the App stage found in the messages (nil: no application data).
    public var app: AppSummary?

    public static let violationLimit = 1000

    public func counts(_ side: Side) -> SideCounts { side == .client ? clientCounts : serverCounts }

    public mutating func withCounts(_ side: Side, _ body: (inout SideCounts) -> Void) {
        if side == .client { body(&clientCounts) } else { body(&serverCounts) }
    }

    public var duration: Int64 { end - start }

    /// One line: what became of the connection.
    public var verdict: String {
        var parts: [String] = []
        if midstream { parts.append("picked up mid-stream") }
        let who: (Side) -> String = { $0 == .client ? "client" : "server" }
        // What TLS says comes first: the rest is about what was inside it.
        var sealed = false
        if let tls, tls.decryption != .midstream {
            var words = (tls.versionName ?? "TLS") + (tls.serverName.map { " to \($0)" } ?? "")
            if let fatal = tls.alerts.first(where: { $0.isFatal && !$0.decrypted }), tls.handshakeDonePacket == nil, !isWebSocket {
                // An alert in the clear before the handshake finished: the handshake failed.
                parts.append(words + ": handshake failed, fatal alert \(fatal.name) from \(who(fatal.fromClient ? .client : .server))")
                sealed = true
            } else {
                switch tls.decryption {
                case .decrypted?: words += " (decrypted)"
                case .noKey?: words += " (no key: encrypted, possibly wss)"; sealed = true
                case .unsupportedSuite?: words += " (not decrypted: \(tls.detail))"; sealed = true
                case .failed?: words += " (decryption failed)"; sealed = true
                case .midstream?, nil: words += " (encrypted, possibly wss)"; sealed = true
                }
                parts.append(words)
                if let fatal = tls.alerts.first(where: { $0.isFatal }) {
                    parts.append("fatal TLS alert \(fatal.name) from \(who(fatal.fromClient ? .client : .server))")
                }
            }
        }
        if let u = upgrade, !u.upgraded {
            if let status = u.status {
                parts.append("upgrade rejected: \(status) \(u.reason ?? "")".trimmingTrailingSpace)
            } else {
                parts.append("upgrade requested, no response captured")
            }
        } else if sealed {
            // Nothing more can be said about what the records carry.
        } else if !isWebSocket && recognition?.proto == .tls {
            parts.append(recognition?.method == .tlsRecords ? "TLS picked up mid-stream: not decryptable"
                         : "TLS without a captured ClientHello (encrypted, possibly wss)")
        } else if !isWebSocket && upgrade == nil && firstRequest == nil && recognition?.proto == .unknown {
            parts.append("TCP, payload not recognised (not WebSocket)")
        } else if !isWebSocket && upgrade == nil {
            if let request = firstRequest, let response = firstResponse, response.hasPrefix("101 ") {
                parts.append("HTTP switched to another protocol, not WebSocket: \(request) → \(response)")
            } else if let request = firstRequest {
                parts.append("HTTP without Upgrade: \(request)" + (firstResponse.map { " → \($0)" } ?? ""))
            } else {
                parts.append("TCP only, no WebSocket seen")
            }
        }
        if let close {
            let code = close.code.map { String($0) } ?? "no status code"
            let clean = close.code == nil || close.code == 1000 || close.code == 1001 || close.code == 1012
            if close.replyPacket != nil && clean {
                // Nearly every connection's: its words from literals, joined once.
                parts.append((close.initiator == .client ? "closed cleanly by client, " : "closed cleanly by server, ") + code)
            } else if close.replyPacket != nil {
                // A completed close handshake with an error code is an error, not a clean close.
                parts.append("closed with error \(code) by \(who(close.initiator)), answered")
            } else {
                parts.append("close \(code) sent by \(who(close.initiator)), no close reply")
            }
        }
        if let rst = teardown.rstFrom {
            let phase: String
            switch teardown.rstState {
            case .handshake?: phase = "during the handshake"
            case .halfClosed?: phase = "during teardown"
            default: phase = close != nil ? "after close" : (isWebSocket ? "during data" : "while established")
            }
            parts.append("reset by \(who(rst)) \(phase)")
        } else if teardown.complete {
            if close == nil { parts.append(isWebSocket ? "TCP closed without a WebSocket close" : "TCP closed") }
        } else if !teardown.finPackets.isEmpty {
            parts.append("half-closed by \(who(teardown.finSides[0])) at end of capture")
        } else if let r = releaseReason, r == .evicted || r == .idle {
            parts.append("released early: \(r.rawValue)")
        } else {
            parts.append("still open at end of capture")
        }
        if !violations.isEmpty { parts.append("\(violations.count + violationsDropped) violation(s)") }
        return parts.joined(separator: "; ")
    }
}

extension String {
    var trimmingTrailingSpace: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// The application protocol of a connection, as the App stage read its messages.
public struct AppSummary: Sendable {
    /// The protocol of its first application message (Socket.IO once Engine.IO carries it).
    public var proto: AppProtocol
    public var subprotocol: String?
    /// Application messages decoded, and how many were bad application data.
    public var messages = 0
    public var problems = 0
    /// Messages per protocol and type ("socket.io EVENT"), in order of first appearance.
    public var types: [(key: String, count: Int)] = []
    /// The slowest answered requests, slowest first (at most `slowestKept`).
    public var slowest: [AppLatency] = []
    /// Every answered request, in answer order, when the run keeps them (`stats`).
    public var latencies: [AppLatency] = []
    public var answered = 0
    /// Requests never answered by the end.
    public var pending = 0

    public static let slowestKept = 5

    public init(proto: AppProtocol, subprotocol: String?) {
        self.proto = proto
        self.subprotocol = subprotocol
    }

    /// Counts one application message.
    public mutating func note(_ m: AppMessage) {
        messages += 1
        if m.problem != nil { problems += 1 }
        let key = m.proto.rawValue + " " + m.type
        if let i = types.firstIndex(where: { $0.key == key }) {
            types[i].count += 1
        } else if types.count < 64 {
            types.append((key, 1))
        }
    }

    /// Keeps an answered request among the slowest.
    public mutating func answered(_ l: AppLatency, keepAll: Bool) {
        answered += 1
        if keepAll && latencies.count < 1 << 16 { latencies.append(l) }
        if slowest.count < AppSummary.slowestKept || l.latency > slowest[slowest.count - 1].latency {
            var i = slowest.count
            while i > 0 && slowest[i - 1].latency < l.latency { i -= 1 }
            slowest.insert(l, at: i)
            if slowest.count > AppSummary.slowestKept { slowest.removeLast() }
        }
    }
}
