import WSTLS
import WSDecode
import WSDissector
import WSDiagnosis
import WSTimeline

/// The lifecycle summary of one connection, as text.
struct SummaryText {
    let options: RenderOptions
    let firstTime: Int64
    let color: Bool

    func render(_ s: ConnectionSummary, diagnosis d: Diagnosis) -> String {
        String(decoding: renderBytes(s, diagnosis: d), as: UTF8.self)
    }

    /// The summary's UTF-8 bytes, written in place: numbers, addresses and fixed words go
    /// straight into one buffer (a String for each piece, interpolated and joined, cost about
    /// 100,000 instructions a connection; callgrind, 1 GiB benchmark capture).
    func renderBytes(_ s: ConnectionSummary, diagnosis d: Diagnosis) -> [UInt8] {
        var out = ByteBuffer(capacity: 2048)
        func text(_ string: String) { out.appendUTF8(string) }
        /// Spaces from `columns` (the width of what was just written) up to `width` (all the
        /// padded pieces here are ASCII but for one "–", so no grapheme counting is needed).
        func pad(_ columns: Int, to width: Int) {
            guard columns < width else { return }
            out.append(0x20, repeated: width - columns)
        }
        func time(_ ns: Int64) {
            if options.timeFormat == .absolute {
                text(absoluteTimeText(ns, decimals: 6))
            } else {
                out.appendSeconds(ns - firstTime, decimals: 6)
            }
        }
        func line(_ label: StaticString, _ span: PhaseSpan?, _ body: () -> Void) {
            out.append("  ")
            out.append(label)
            pad(label.utf8CodeUnitCount, to: 10)
            out.append(0x20)
            if let span {
                let packets = out.count
                out.append("pkts ")
                out.appendDecimal(span.firstPacket)
                if span.firstPacket != span.lastPacket {
                    out.append(0x2d)
                    out.appendDecimal(span.lastPacket)
                }
                pad(out.count - packets, to: 14)
                out.append(0x20)
                let times = out.count
                time(span.firstTime)
                out.append("–")
                time(span.lastTime)
                // All ASCII but the dash: three bytes, one column.
                pad(out.count - times - 2, to: 24)
                out.append(0x20)
            } else {
                pad(0, to: 14 + 1 + 24 + 1)
            }
            body()
            out.append(0x0a)
        }
        func closeText(_ code: UInt16?, _ reason: String?) {
            guard let code else { return out.append("(no status code)") }
            out.appendDecimal(code)
            out.append(0x20)
            text(closeCodeName(code))
            if let reason, !reason.isEmpty {
                out.append(0x20)
                out.appendEscaped(reason, limit: 60, quoted: true)
            }
        }

        if color { out.append("\u{1b}[1m") }
        out.append("Stream ")
        out.appendDecimal(s.stream)
        out.append("  ")
        out.append(endpoint: s.client)
        out.append(" (client) ⇄ ")
        out.append(endpoint: s.server)
        out.append(" (server)  packets ")
        out.appendDecimal(s.firstPacket)
        out.append(0x2d)
        out.appendDecimal(s.lastPacket)
        out.append(", duration ")
        out.appendDuration(s.duration)
        if color { out.append("\u{1b}[0m") }
        out.append(0x0a)

        // Handshake. The closures below capture what they show, not the whole summary: a
        // closure that reads `s` holds a copy of it (every array and string retained).
        let h = s.handshake
        line("Handshake", s.phases[.handshake]) {
            guard h.synPacket != nil || h.synAckPacket != nil else {
                return out.append("not captured (connection picked up mid-stream)")
            }
            if let p = h.synPacket { out.append("SYN #"); out.appendDecimal(p) } else { out.append("SYN not captured") }
            out.append(" → ")
            if let p = h.synAckPacket { out.append("SYN-ACK #"); out.appendDecimal(p) } else { out.append("no SYN-ACK") }
            out.append(" → ")
            if let p = h.ackPacket { out.append("ACK #"); out.appendDecimal(p) } else { out.append("no ACK") }
            if let rtt = h.rtt { out.append(", iRTT "); out.appendDuration(rtt) }
            if h.synRetransmissions > 0 {
                out.append(", ")
                out.appendDecimal(h.synRetransmissions)
                out.append(" SYN retransmission(s)")
            }
        }

        // TLS (wss): what was negotiated and whether the key log opened it.
        if let tls = s.tls {
            var parts: [String] = []
            if tls.decryption == .midstream {
                parts.append(tls.detail)
            } else {
                var hello = tls.versionName ?? "no ServerHello"
                if let suite = tls.suite { hello += " " + suite.name }
                parts.append(hello)
                if let sni = tls.serverName { parts.append("SNI " + escapedText(sni, limit: 80)) }
                if let alpn = tls.alpn {
                    parts.append("ALPN " + escapedText(alpn, limit: 40))
                } else if !tls.offeredALPN.isEmpty {
                    parts.append("ALPN offered " + escapedText(tls.offeredALPN.joined(separator: ","), limit: 60))
                }
                if tls.helloRetry { parts.append("after a HelloRetryRequest") }
                if tls.resumed { parts.append("resumed" + (tls.resumption.map { " (\($0))" } ?? "")) }
                let decryption = (tls.decryption ?? .noKey).rawValue
                parts.append(decryption + (tls.detail.isEmpty ? "" : ": " + tls.detail))
                if tls.keyUpdates > 0 { parts.append("\(tls.keyUpdates) KeyUpdate(s)") }
                if tls.authenticationFailures > 0 { parts.append("\(tls.authenticationFailures) record(s) failed to authenticate") }
                for a in tls.alerts {
                    parts.append("alert \(a.name)\(a.isFatal ? " (fatal)" : "") from \(a.fromClient ? "client" : "server") #\(a.packet)")
                }
            }
            line("TLS", s.phases[.tls]) { text(parts.joined(separator: ", ")) }
        }

        // Upgrade
        if let u = s.upgrade {
            line("Upgrade", s.phases[.upgrade]) {
                out.append("GET ")
                out.appendEscaped(u.path, limit: 80)
                if let status = u.status {
                    out.append(" → ")
                    out.appendDecimal(status)
                    out.append(0x20)
                    out.appendEscaped(u.reason ?? "", limit: 60)
                    if u.upgraded {
                        switch u.acceptValid {
                        case true?: out.append(", accept key valid")
                        case false?: out.append(", accept key INVALID")
                        case nil: out.append(", accept key not checked")
                        }
                    }
                } else {
                    out.append(" → no response captured")
                }
                out.append(", subprotocol ")
                if let p = u.subprotocol { out.appendEscaped(p, limit: 60) } else { out.append("none") }
                out.append(", extensions ")
                if u.extensions.isEmpty { out.append("none") } else { out.appendEscaped(u.extensions.joined(separator: ", "), limit: 120) }
                if !u.offeredExtensions.isEmpty && u.extensions.isEmpty {
                    out.append(" (offered: ")
                    out.appendEscaped(u.offeredExtensions.joined(separator: ", "), limit: 120)
                    out.append(0x29)
                }
            }
        } else if !s.midstream && (s.tls == nil || s.tls?.decryption == .decrypted) {
            line("Upgrade", nil) { out.append("none seen") }
        }
        // Mid-stream, what the payload is was a decision: say on what evidence.
        if s.midstream, let r = s.recognition {
            line("Protocol", nil) { text(r.proto.rawValue); out.append(", "); text(r.detail) }
        }

        // Data
        func side(_ name: StaticString, _ c: SideCounts) {
            out.append(name)
            out.append(": ")
            out.appendDecimal(c.text)
            out.append(" text, ")
            out.appendDecimal(c.binary)
            out.append(" binary, ")
            out.appendDecimal(c.ping)
            out.append(" ping, ")
            out.appendDecimal(c.pong)
            out.append(" pong, ")
            out.appendDecimal(c.bytes)
            out.append(" bytes")
            if c.compressedInflated > 0 {
                out.append(" (compressed ")
                out.appendDecimal(c.compressedWire)
                out.append("→")
                out.appendDecimal(c.compressedInflated)
                out.append(", ratio ")
                out.appendFixed(Double(c.compressedWire) / Double(c.compressedInflated), 2)
                out.append(0x29)
            }
        }
        let isWebSocket = s.isWebSocket, clientCounts = s.clientCounts, serverCounts = s.serverCounts
        let incomplete = s.incompleteMessages, gaps = s.gaps, gapBytes = s.gapBytes, duplicates = s.duplicatePackets
        line("Data", s.phases[.data]) {
            guard isWebSocket else {
                out.append("client sent ")
                out.appendDecimal(clientCounts.tcpBytes)
                out.append(" bytes, server ")
                out.appendDecimal(serverCounts.tcpBytes)
                out.append(" bytes (TCP payload)")
                return
            }
            side("client", clientCounts)
            out.append("; ")
            side("server", serverCounts)
            if incomplete > 0 { out.append("; "); out.appendDecimal(incomplete); out.append(" incomplete") }
            if gaps > 0 {
                out.append("; ")
                out.appendDecimal(gaps)
                out.append(" gap(s), ")
                out.appendDecimal(gapBytes)
                out.append(" bytes not captured")
            }
            if duplicates > 0 {
                out.append("; ")
                out.appendDecimal(duplicates)
                out.append(" packet(s) captured twice, counted once")
            }
        }

        // Close
        if let c = s.close {
            line("Close", s.phases[.close]) {
                out.append(c.initiator == .client ? "client" : "server")
                out.append(" initiated ")
                closeText(c.code, c.reason)
                if c.replyPacket != nil {
                    out.append(", ")
                    out.append(c.initiator == .client ? "server" : "client")
                    out.append(" replied ")
                    closeText(c.replyCode, c.replyReason)
                    if let l = c.latency { out.append(" after "); out.appendDuration(l) }
                } else {
                    out.append(", no reply captured")
                }
            }
        } else if s.isWebSocket {
            line("Close", s.phases[.close]) { out.append("no close frame") }
        }

        // Teardown
        let t = s.teardown, releaseReason = s.releaseReason
        line("Teardown", s.phases[.teardown]) {
            if let rst = t.rstPacket {
                out.append("RST #")
                out.appendDecimal(rst)
                out.append(t.rstFrom == .client ? " from client" : " from server")
                if let state = t.rstState { out.append(" during "); text(state.rawValue) }
            } else if t.finPackets.isEmpty {
                if let r = releaseReason, r == .evicted || r == .idle {
                    // Not "still open": the cap or timeout ended it.
                    out.append("no FIN: released early (")
                    text(r.rawValue)
                    out.append(0x29)
                } else {
                    out.append("no FIN: still open at end of capture")
                }
            } else {
                out.append(t.finSides[0] == .client ? "FIN first by client: " : "FIN first by server: ")
                for i in 1...4 {
                    if i > 1 { out.append(", ") }
                    out.appendDecimal(i)
                    if let p = t.steps[i] { out.append("/4 #"); out.appendDecimal(p) } else { out.append("/4 missing") }
                }
                out.append(t.complete ? ", complete" : ", incomplete")
                if t.simultaneous { out.append(", simultaneous close") }
            }
        }

        if s.violations.isEmpty {
            line("Violations", nil) { out.append("none") }
        } else {
            var counts: [String: Int] = [:]
            for v in s.violations { counts[v.violation.code.rawValue, default: 0] += 1 }
            let list = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            let first = s.violations.prefix(3).map { "#\($0.packet) \($0.violation.code.rawValue)" }.joined(separator: ", ")
            let text = "\(s.violations.count + s.violationsDropped): \(list) (first: \(first))"
            line("Violations", nil) { out.appendUTF8(color ? "\u{1b}[31m" + text + "\u{1b}[0m" : text) }
        }
        if let a = s.app {
            line("App", nil) { text(AppSummaryOutput.messagesText(a)) }
            if let r = AppSummaryOutput.requestsText(a) { line("Requests", nil) { text(r) } }
        }
        let verdict = s.verdict
        line("Verdict", nil) { text(verdict) }
        // Marked for the capture-wide pass (DiagnosisOutput.swift): the head, then the pattern lines.
        line("Diagnosis", nil) {
            out.append(0x01)
            DiagnosisText.head(cause: d.cause, by: d.by, summary: d.summary, into: &out)
            out.append(0x02)
        }
        if !d.evidence.isEmpty { line("Evidence", nil) { DiagnosisText.evidence(d, into: &out) } }
        let health = Health(s)
        line("Health", nil) { DiagnosisText.health(health, into: &out) }
        out.append(0x03)
        out.append(0x0a)
        return Array(UnsafeBufferPointer(start: out.base, count: out.count))
    }
}
