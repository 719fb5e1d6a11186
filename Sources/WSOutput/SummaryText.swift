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

    /// Runs of spaces by length (padding without building a string each time).
    static let spaces: [String] = (0...48).map { String(repeating: " ", count: $0) }

    /// The summary's UTF-8 bytes. Appending each piece's bytes to one array costs about half
    /// of growing a String piece by piece (callgrind, 1,000 connections).
    struct Bytes {
        var bytes: [UInt8] = []

        static func += (left: inout Bytes, right: String) {
            var right = right
            right.withUTF8 { left.bytes.append(contentsOf: $0) }
        }

        mutating func append(_ buffer: borrowing ByteBuffer) {
            bytes.append(contentsOf: UnsafeBufferPointer(start: buffer.base, count: buffer.count))
        }
    }

    static let pkts: [UInt8] = Array("pkts ".utf8)
    static let enDash: [UInt8] = Array("–".utf8)

    func render(_ s: ConnectionSummary, diagnosis d: Diagnosis) -> String {
        String(decoding: renderBytes(s, diagnosis: d), as: UTF8.self)
    }

    func renderBytes(_ s: ConnectionSummary, diagnosis d: Diagnosis) -> [UInt8] {
        var out = Bytes()
        out.bytes.reserveCapacity(2048)
        /// Spaces from `columns` (the width of what was just written) up to `width` (all the
        /// padded pieces here are ASCII but for one "–", so no grapheme counting is needed).
        func pad(_ columns: Int, to width: Int) {
            if columns < width { out += Self.spaces[width - columns] }
        }
        func padded(_ s: String, _ width: Int, columns: Int) {
            out += s
            pad(columns, to: width)
        }
        // Numbers and times go straight into the bytes, through one scratch buffer (a String
        // for each cost about 6,000 instructions a line).
        var scratch = ByteBuffer(capacity: 64)
        func time(_ ns: Int64) {
            if options.timeFormat == .absolute {
                out += absoluteTimeText(ns, decimals: 6)
            } else {
                scratch.removeAll()
                scratch.appendSeconds(ns - firstTime, decimals: 6)
                out.append(scratch)
            }
        }
        func line(_ label: String, _ span: PhaseSpan?, _ text: String) {
            out.bytes.append(0x20)
            out.bytes.append(0x20)
            padded(label, 10, columns: label.utf8.count)
            out.bytes.append(0x20)
            if let span {
                let packets = out.bytes.count
                out.bytes.append(contentsOf: Self.pkts)
                scratch.removeAll()
                scratch.appendDecimal(span.firstPacket)
                if span.firstPacket != span.lastPacket {
                    scratch.append(0x2d)
                    scratch.appendDecimal(span.lastPacket)
                }
                out.append(scratch)
                pad(out.bytes.count - packets, to: 14)
                out.bytes.append(0x20)
                let times = out.bytes.count
                time(span.firstTime)
                out.bytes.append(contentsOf: Self.enDash)
                time(span.lastTime)
                // All ASCII but the dash: three bytes, one column.
                pad(out.bytes.count - times - 2, to: 24)
                out.bytes.append(0x20)
            } else {
                out += Self.spaces[14 + 1 + 24 + 1]
            }
            out += text
            out.bytes.append(0x0a)
        }
        let title = "Stream \(s.stream)  \(s.client.text) (client) ⇄ \(s.server.text) (server)  "
            + "packets \(s.firstPacket)-\(s.lastPacket), duration \(durationText(s.duration))"
        out += (color ? "\u{1b}[1m" + title + "\u{1b}[0m" : title) + "\n"

        // Handshake
        var hs: String
        if s.handshake.synPacket != nil || s.handshake.synAckPacket != nil {
            hs = [s.handshake.synPacket.map { "SYN #\($0)" } ?? "SYN not captured",
                  s.handshake.synAckPacket.map { "SYN-ACK #\($0)" } ?? "no SYN-ACK",
                  s.handshake.ackPacket.map { "ACK #\($0)" } ?? "no ACK"].joined(separator: " → ")
            if let rtt = s.handshake.rtt { hs += ", iRTT \(durationText(rtt))" }
            if s.handshake.synRetransmissions > 0 { hs += ", \(s.handshake.synRetransmissions) SYN retransmission(s)" }
        } else {
            hs = "not captured (connection picked up mid-stream)"
        }
        line("Handshake", s.phases[.handshake], hs)

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
            line("TLS", s.phases[.tls], parts.joined(separator: ", "))
        }

        // Upgrade
        if let u = s.upgrade {
            var text = "GET " + escapedText(u.path, limit: 80)
            if let status = u.status {
                text += " → \(status) \(escapedText(u.reason ?? "", limit: 60))"
                if u.upgraded {
                    switch u.acceptValid {
                    case true?: text += ", accept key valid"
                    case false?: text += ", accept key INVALID"
                    case nil: text += ", accept key not checked"
                    }
                }
            } else {
                text += " → no response captured"
            }
            text += ", subprotocol " + (u.subprotocol.map { escapedText($0, limit: 60) } ?? "none")
            text += ", extensions " + (u.extensions.isEmpty ? "none" : escapedText(u.extensions.joined(separator: ", "), limit: 120))
            if !u.offeredExtensions.isEmpty && u.extensions.isEmpty { text += " (offered: \(escapedText(u.offeredExtensions.joined(separator: ", "), limit: 120)))" }
            line("Upgrade", s.phases[.upgrade], text)
        } else if !s.midstream && (s.tls == nil || s.tls?.decryption == .decrypted) {
            line("Upgrade", nil, "none seen")
        }
        // Mid-stream, what the payload is was a decision: say on what evidence.
        if s.midstream, let r = s.recognition {
            line("Protocol", nil, r.proto.rawValue + ", " + r.detail)
        }

        // Data
        func sideText(_ name: String, _ c: SideCounts) -> String {
            var t = "\(name): \(c.text) text, \(c.binary) binary, \(c.ping) ping, \(c.pong) pong, \(c.bytes) bytes"
            if c.compressedInflated > 0 {
                t += " (compressed \(c.compressedWire)→\(c.compressedInflated), ratio \(formatFixed(Double(c.compressedWire) / Double(c.compressedInflated), places: 2)))"
            }
            return t
        }
        var data = sideText("client", s.clientCounts) + "; " + sideText("server", s.serverCounts)
        if s.incompleteMessages > 0 { data += "; \(s.incompleteMessages) incomplete" }
        if s.gaps > 0 { data += "; \(s.gaps) gap(s), \(s.gapBytes) bytes not captured" }
        if s.duplicatePackets > 0 { data += "; \(s.duplicatePackets) packet(s) captured twice, counted once" }
        if !s.isWebSocket { data = "client sent \(s.clientCounts.tcpBytes) bytes, server \(s.serverCounts.tcpBytes) bytes (TCP payload)" }
        line("Data", s.phases[.data], data)

        // Close
        if let c = s.close {
            let who = c.initiator == .client ? "client" : "server"
            let other = c.initiator == .client ? "server" : "client"
            var text = "\(who) initiated " + closeText(c.code, c.reason)
            if c.replyPacket != nil {
                text += ", \(other) replied " + closeText(c.replyCode, c.replyReason)
                if let l = c.latency { text += " after \(durationText(l))" }
            } else {
                text += ", no reply captured"
            }
            line("Close", s.phases[.close], text)
        } else if s.isWebSocket {
            line("Close", s.phases[.close], "no close frame")
        }

        // Teardown
        var td: String
        if let rst = s.teardown.rstPacket {
            td = "RST #\(rst) from \(s.teardown.rstFrom == .client ? "client" : "server")"
            if let state = s.teardown.rstState { td += " during \(state.rawValue)" }
        } else if s.teardown.finPackets.isEmpty {
            if let r = s.releaseReason, r == .evicted || r == .idle {
                td = "no FIN: released early (\(r.rawValue))"  // not "still open": the cap or timeout ended it
            } else {
                td = "no FIN: still open at end of capture"
            }
        } else {
            let steps = (1...4).map { i in s.teardown.steps[i].map { "\(i)/4 #\($0)" } ?? "\(i)/4 missing" }
            td = "FIN first by \(s.teardown.finSides[0] == .client ? "client" : "server"): " + steps.joined(separator: ", ")
            td += s.teardown.complete ? ", complete" : ", incomplete"
            if s.teardown.simultaneous { td += ", simultaneous close" }
        }
        line("Teardown", s.phases[.teardown], td)

        if s.violations.isEmpty {
            line("Violations", nil, "none")
        } else {
            var counts: [String: Int] = [:]
            for v in s.violations { counts[v.violation.code.rawValue, default: 0] += 1 }
            let list = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            let first = s.violations.prefix(3).map { "#\($0.packet) \($0.violation.code.rawValue)" }.joined(separator: ", ")
            let text = "\(s.violations.count + s.violationsDropped): \(list) (first: \(first))"
            line("Violations", nil, color ? "\u{1b}[31m" + text + "\u{1b}[0m" : text)
        }
        if let a = s.app {
            line("App", nil, AppSummaryOutput.messagesText(a))
            if let r = AppSummaryOutput.requestsText(a) { line("Requests", nil, r) }
        }
        line("Verdict", nil, s.verdict)
        // Marked for the capture-wide pass (DiagnosisOutput.swift): the head, then the pattern lines.
        line("Diagnosis", nil, "\u{1}" + DiagnosisText.head(cause: d.cause, by: d.by, summary: d.summary) + "\u{2}")
        if let evidence = DiagnosisText.evidence(d) { line("Evidence", nil, evidence) }
        line("Health", nil, DiagnosisText.health(Health(s)))
        out += "\u{3}\n"
        return out.bytes
    }

    private func closeText(_ code: UInt16?, _ reason: String?) -> String {
        guard let code else { return "(no status code)" }
        var t = "\(code) \(closeCodeName(code))"
        if let reason, !reason.isEmpty { t += " " + escapedText(reason, limit: 60, quoted: true) }
        return t
    }
}
