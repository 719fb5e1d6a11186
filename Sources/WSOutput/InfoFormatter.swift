import WSDecode
import WSDissector
import WSReassembly
import WSTimeline

/// Builds the Info column of an event: the same words in text and JSON (`info`).
public struct InfoFormatter: Sendable {
    /// Characters of payload shown in Info.
    public var previewLimit: Int

    public init(previewLimit: Int = 60) {
        self.previewLimit = previewLimit
    }

    public func info(_ e: TimelineEvent) -> String {
        var parts: [String] = []
        if e.otherDirection, let side = e.side {
            parts.append(side == .client ? "[client→server data released by this packet]" : "[server→client data released by this packet]")
        }
        let tcpLabels = e.showsTCPLabels ? tcpLabelText(e) : nil
        switch e.detail {
        case .tcp:
            parts.append(tcpText(e))
        case let .httpRequest(r):
            var s = "\(escapedText(r.method, limit: 40)) \(escapedText(r.target, limit: 200)) \(escapedText(r.version, limit: 40))"
            if r.isWebSocketUpgrade {
                s += " — Upgrade: websocket"
                if !r.offeredProtocols.isEmpty { s += ", protocols " + escapedText(r.offeredProtocols.joined(separator: ", "), limit: 120) + " offered" }
                if r.offeredExtensions.contains(where: { $0.name == "permessage-deflate" }) { s += ", permessage-deflate offered" }
            }
            parts.append(s)
        case let .httpResponse(r):
            var s = "\(r.status) \(escapedText(r.reason, limit: 100))"
            var notes: [String] = []
            if r.upgraded {
                switch r.acceptValid {
                case true?: notes.append("accept key valid")
                case false?: notes.append("accept key INVALID")
                case nil: notes.append("accept key not checked")
                }
                if let p = r.selectedProtocol { notes.append("protocol " + escapedText(p, limit: 60)) }
                if r.deflate != nil { notes.append("permessage-deflate") }
                for e in r.selectedExtensions where e.name != "permessage-deflate" { notes.append(escapedText(e.name, limit: 40)) }
            } else if r.status != 101 || !r.upgraded {
                if r.status >= 200 { notes.append("upgrade rejected") }
            }
            if !notes.isEmpty { s += " — " + notes.joined(separator: ", ") }
            parts.append(s)
        case let .frame(f, role):
            parts.append(frameText(f, role: role))
        case let .progress(p):
            switch p.unit {
            case let .frame(opcode):
                let total = p.expected.map { " of \($0)" } ?? ""
                parts.append("[\(opcodeTitle(opcode)) frame continues: \(p.received)\(total) bytes]")
            case .frameHeader:
                parts.append("[WebSocket frame header continues]")
            case .httpHeader:
                parts.append("[HTTP header continues: \(p.received) bytes]")
            }
        case let .tls(t):
            switch t.kind {
            case .clientHello:
                var s = "Client Hello"
                if let sni = t.serverName { s += " SNI=" + escapedText(sni, limit: 100) }
                if !t.alpn.isEmpty { s += " ALPN=" + t.alpn.map { escapedText($0, limit: 30) }.joined(separator: ",") }
                parts.append(s)
            case .serverHello: parts.append("Server Hello")
            case .records: parts.append("Encrypted records, \(t.bytes) bytes")
            }
        case let .opaque(o):
            switch o.kind {
            case .httpBody: parts.append("HTTP body, \(o.bytes) bytes")
            case .unknown: parts.append("Data, \(o.bytes) bytes")
            case .afterClose: parts.append("Data after close, \(o.bytes) bytes")
            }
        case let .gap(g):
            parts.append("[\(g.size) bytes not captured: \(g.lost); \(g.resync)]")
        case let .streamGap(size, reason):
            parts.append("[\(size) bytes not captured (\(reason.rawValue))]")
        case let .nonTCP(n):
            parts.append(n.summary)
        }
        if let tcpLabels, !tcpLabels.isEmpty, !isTCPOnly(e) { parts.append(tcpLabels) }
        for v in e.violations { parts.append("[violation \(v.code.rawValue): \(escapedText(v.message, limit: 120))]") }
        if e.truncated && e.showsTCPLabels { parts.append("[cut by snaplen: \(e.capturedLength) of \(e.wireLength) bytes]") }
        return parts.joined(separator: " ")
    }

    private func isTCPOnly(_ e: TimelineEvent) -> Bool {
        if case .tcp = e.detail { return true }
        return false
    }

    /// "SYN [handshake 1/3] Seq=0 Win=65495 Len=0 MSS=65495 ..."
    func tcpText(_ e: TimelineEvent) -> String {
        guard let t = e.tcp else { return "TCP" }
        var s = t.flags.joinedNames
        if let label = tcpLabelText(e), !label.isEmpty { s += " " + label }
        s += " Seq=\(t.seq)"
        if t.flags.contains(.ack) { s += " Ack=\(t.ack)" }
        s += " Win=\(t.window) Len=\(t.length)"
        if t.flags.contains(.syn) {
            if let mss = t.options.mss { s += " MSS=\(mss)" }
            if t.options.sackPermitted { s += " SACK_PERM" }
            if let ws = t.options.windowScale { s += " WS=\(1 << Int(min(ws, 14)))" }
        }
        if t.options.sackCount > 0 {
            s += " SACK=" + t.options.sackBlocks.map { "\($0.left &- 0)-\($0.right &- 0)" }.joined(separator: ",")
        }
        return s
    }

    /// The lifecycle and analysis words of the packet behind an event.
    func tcpLabelText(_ e: TimelineEvent) -> String? {
        guard let t = e.tcp else { return nil }
        let r = t.report
        var labels: [String] = []
        if let step = r.handshake {
            var s = "[handshake \(step.rawValue)/3"
            if r.handshakeRetransmission { s += " retransmitted" }
            if r.midstream && step == .synAck { s += ", SYN not captured" }
            s += "]"
            if step == .ack, let rtt = r.initialRTT { s += " iRTT \(durationText(rtt))" }
            labels.append(s)
        }
        if !r.teardown.isEmpty {
            labels.append("[teardown \(r.teardown.label)\(r.simultaneousClose ? ", simultaneous close" : "")]")
        }
        if r.reset, let state = r.stateAtReset {
            let who = e.side == .client ? "client" : "server"
            labels.append("[reset by \(who) during \(state.rawValue)]")
        }
        if let what = t.acknowledges, r.teardown.isEmpty || what != "FIN" {
            labels.append("[ACK of \(what)]")
        }
        if r.isNewStream && r.midstream && r.handshake == nil { labels.append("[stream picked up mid-connection]") }
        for name in r.analysis.names {
            if name == "duplicate-ack" { labels.append("[duplicate ACK #\(r.duplicateAckCount)]") } else { labels.append("[\(name)]") }
        }
        return labels.joined(separator: " ")
    }

    func frameText(_ f: FrameInfo, role: CloseRole?) -> String {
        var s = opcodeTitle(f.opcode)
        if f.fin { s += " [FIN]" }
        if f.rsv & 4 != 0 { s += " [RSV1]" }
        if f.rsv & 2 != 0 { s += " [RSV2]" }
        if f.rsv & 1 != 0 { s += " [RSV3]" }
        if f.masked { s += " [MASKED]" }
        s += " len=\(f.payloadLength)"
        if f.opcode == 8 {
            if let code = f.closeCode {
                s += " \(code) \(closeCodeName(code))"
                if let reason = f.closeReason, !reason.isEmpty { s += " " + escapedText(reason, limit: previewLimit, quoted: true) }
            } else {
                s += " (no status code)"
            }
            if let role {
                if role.initiates {
                    s += " — \(f.side == .client ? "client" : "server") initiated"
                } else {
                    s += " — reply to \(f.side == .client ? "server" : "client")"
                    if let l = role.latency { s += " after \(durationText(l))" }
                }
            }
            return s
        }
        if let m = f.message {
            if let err = m.inflateError {
                s += " — \(m.opcode == 1 ? "Text" : "Binary") message, \(m.wireLength) compressed bytes"
                if m.frames > 1 { s += " in \(m.frames) frames" }
                s += " [cannot inflate: \(err)]"
                return s
            }
            if m.frames > 1 || m.compressed {
                s += " — \(m.opcode == 1 ? "Text" : "Binary") message"
                if m.frames > 1 { s += ", \(m.frames) frames" }
                if m.compressed { s += ", inflated \(m.wireLength)→\(m.length) bytes" } else { s += ", \(m.length) bytes" }
            }
            if !m.complete { s += " [incomplete]" }
            s += " " + preview(m.payload, text: m.opcode == 1 && m.utf8Valid != false, truncated: m.truncated)
        } else if f.opcode == 9 || f.opcode == 10 || f.opcode >= 3 {
            if f.payloadLength > 0 { s += " " + preview(f.payload, text: isValidUTF8(f.payload), truncated: f.payloadTruncated) }
        } else if !f.fin || f.opcode == 0 {
            s += " [fragment]"
            if f.rsv & 4 == 0 && !f.payload.isEmpty {
                s += " " + preview(f.payload, text: isValidUTF8(f.payload), truncated: f.payloadTruncated)
            }
        }
        return s
    }

    func preview(_ bytes: UnsafeRawBufferPointer, text: Bool, truncated: Bool) -> String {
        if bytes.isEmpty { return truncated ? "…" : "\"\"" }
        var s = text ? escapedPreview(bytes, limit: previewLimit) : hexPreview(bytes, limit: max(4, previewLimit / 3))
        if truncated && !s.hasSuffix("…") && !s.hasSuffix("…\"") { s += "…" }
        return s
    }

    func opcodeTitle(_ opcode: UInt8) -> String {
        switch opcode {
        case 0: return "Continuation"
        case 1: return "Text"
        case 2: return "Binary"
        case 8: return "Close"
        case 9: return "Ping"
        case 10: return "Pong"
        default: return "Reserved-\(opcode)"
        }
    }
}
