import WSApp
import WSTLS
import WSDecode
import WSDissector
import WSReassembly
import WSTimeline

/// Builds the Info column of an event: the same words in text and JSON (`info`).
///
/// The words are written as UTF-8 bytes into a buffer (`write(_:into:)`): the JSON writer
/// escapes them in place, and the `String` forms (`info`, `frameText`, ...) decode the same
/// bytes, so there is one wording for every output.
public struct InfoFormatter: Sendable {
    /// Characters of payload shown in Info.
    public var previewLimit: Int
    /// Payload previews are shown (`--payloads` is not `none`). Message bytes may be kept for
    /// the application protocols even when none are shown.
    public var showsPayload: Bool

    public init(previewLimit: Int = 60, showsPayload: Bool = true) {
        self.previewLimit = previewLimit
        self.showsPayload = showsPayload
    }

    public func info(_ e: TimelineEvent) -> String {
        var out = ByteBuffer(capacity: 128)
        write(e, into: &out)
        return out.string()
    }

    /// "SYN [handshake 1/3] Seq=0 Win=65495 Len=0 MSS=65495 ..."
    func tcpText(_ e: TimelineEvent) -> String {
        var out = ByteBuffer(capacity: 128)
        writeTCP(e, into: &out)
        return out.string()
    }

    /// The lifecycle and analysis words of the packet behind an event.
    func tcpLabelText(_ e: TimelineEvent) -> String? {
        guard e.hasTCP else { return nil }
        var out = ByteBuffer(capacity: 64)
        writeTCPLabels(e, into: &out)
        return out.string()
    }

    func frameText(_ f: FrameInfo, role: CloseRole?) -> String {
        var out = ByteBuffer(capacity: 128)
        writeFrame(f, role: role, into: &out)
        return out.string()
    }

    /// Appends the Info text of `e`: its parts separated by spaces.
    func write(_ e: TimelineEvent, into out: inout ByteBuffer) {
        if e.otherDirection, let side = e.side {
            out.append(side == .client ? "[client→server data released by this packet] "
                                       : "[server→client data released by this packet] ")
        }
        var tcpOnly = false
        switch e.detail {
        case .tcp:
            tcpOnly = true
            writeTCP(e, into: &out)
        case let .httpRequest(r):
            out.appendEscaped(r.method, limit: 40)
            out.append(0x20)
            out.appendEscaped(r.target, limit: 200)
            out.append(0x20)
            out.appendEscaped(r.version, limit: 40)
            if r.isWebSocketUpgrade {
                out.append(" — Upgrade: websocket")
                if !r.offeredProtocols.isEmpty {
                    out.append(", protocols ")
                    out.appendEscaped(r.offeredProtocols.joined(separator: ", "), limit: 120)
                    out.append(" offered")
                }
                if r.offeredExtensions.contains(where: { $0.name == "permessage-deflate" }) { out.append(", permessage-deflate offered") }
            }
        case let .httpResponse(r):
            out.appendDecimal(r.status)
            out.append(0x20)
            out.appendEscaped(r.reason, limit: 100)
            var notes = 0
            func note(_ out: inout ByteBuffer) {
                out.append(notes == 0 ? " — " : ", ")
                notes += 1
            }
            if r.upgraded {
                note(&out)
                switch r.acceptValid {
                case true?: out.append("accept key valid")
                case false?: out.append("accept key INVALID")
                case nil: out.append("accept key not checked")
                }
                if let p = r.selectedProtocol { note(&out); out.append("protocol "); out.appendEscaped(p, limit: 60) }
                if r.deflate != nil { note(&out); out.append("permessage-deflate") }
                for e in r.selectedExtensions where e.name != "permessage-deflate" { note(&out); out.appendEscaped(e.name, limit: 40) }
            } else if r.status >= 200 {
                note(&out)
                out.append("upgrade rejected")
            }
        case let .frame(f, role):
            writeFrame(f, role: role, app: e.app, into: &out)
            if f.completedPacket != 0 && f.completedPacket != e.packet {
                out.append(" [completed in #")
                out.appendDecimal(f.completedPacket)
                out.append(", shown once the connection was recognised]")
            }
        case let .progress(p):
            switch p.unit {
            case let .frame(opcode):
                out.append(0x5b)
                writeOpcodeTitle(opcode, into: &out)
                out.append(" frame continues: ")
                out.appendDecimal(p.received)
                if let expected = p.expected { out.append(" of "); out.appendDecimal(expected) }
                out.append(" bytes]")
            case .frameHeader:
                out.append("[WebSocket frame header continues]")
            case .httpHeader:
                out.append("[HTTP header continues: ")
                out.appendDecimal(p.received)
                out.append(" bytes]")
            }
        case let .tls(t):
            switch t.kind {
            case .clientHello:
                out.append("Client Hello")
                if let sni = t.serverName { out.append(" SNI="); out.appendEscaped(sni, limit: 100) }
                if !t.alpn.isEmpty {
                    out.append(" ALPN=")
                    for (i, name) in t.alpn.enumerated() {
                        if i > 0 { out.append(0x2c) }
                        out.appendEscaped(name, limit: 30)
                    }
                }
            case .serverHello: out.append("Server Hello")
            case .records: out.append("Encrypted records, "); out.appendDecimal(t.bytes); out.append(" bytes")
            }
        case let .tlsRecord(r):
            writeTLS(r, into: &out)
        case let .opaque(o):
            switch o.kind {
            case .httpBody: out.append("HTTP body, ")
            case .unknown: out.append("Data, ")
            case .afterClose: out.append("Data after close, ")
            case .held: out.append("Data held for protocol recognition, ")
            }
            out.appendDecimal(o.bytes)
            out.append(" bytes")
        case let .gap(g):
            out.append(0x5b)
            out.appendDecimal(g.size)
            out.append(" bytes not captured: ")
            out.appendUTF8(g.lost)
            out.append("; ")
            out.appendUTF8(g.resync)
            out.append(0x5d)
        case let .streamGap(size, reason):
            out.append(0x5b)
            out.appendDecimal(size)
            out.append(" bytes not captured (")
            out.appendUTF8(reason.rawValue)
            out.append(")]")
        case let .nonTCP(n):
            out.appendUTF8(n.summary)
        }
        if e.decrypted { out.append(" [TLS]") }
        if e.showsTCPLabels && !tcpOnly && e.hasTCP {
            let mark = out.count
            out.append(0x20)
            writeTCPLabels(e, into: &out)
            if out.count == mark + 1 { out.count = mark }
        }
        for v in e.violations {
            out.append(" [violation ")
            out.appendUTF8(v.code.rawValue)
            out.append(": ")
            out.appendEscaped(v.message, limit: 120)
            out.append(0x5d)
        }
        if e.truncated && e.showsTCPLabels {
            out.append(" [cut by snaplen: ")
            out.appendDecimal(e.capturedLength)
            out.append(" of ")
            out.appendDecimal(e.wireLength)
            out.append(" bytes]")
        }
    }

    /// The TLS facts of a packet, Wireshark's way: its records' messages joined by commas.
    func writeTLS(_ r: TLSRecordEvent, into out: inout ByteBuffer) {
        for (i, item) in r.items.enumerated() {
            if i > 0 { out.append(", ") }
            switch item {
            case let .clientHello(sni, alpn):
                out.append("Client Hello")
                if let sni { out.append(" SNI="); out.appendEscaped(sni, limit: 100) }
                if !alpn.isEmpty {
                    out.append(" ALPN=")
                    out.appendEscaped(alpn.joined(separator: ","), limit: 60)
                }
            case let .serverHello(version, suite):
                out.append("Server Hello ")
                out.appendUTF8(tlsVersionName(version))
                out.append(0x20)
                out.appendUTF8(suite)
            case .helloRetryRequest:
                out.append("Hello Retry Request")
            case let .handshake(type, decrypted):
                out.appendUTF8(tlsHandshakeName(type))
                if !decrypted && type != 1 && type != 2 && (type == 20 || type == 24 || type == 4) && r.items.count == 1 {
                    out.append(" (in the clear)")
                }
            case .changeCipherSpec:
                out.append("Change Cipher Spec")
            case .handshakeDone:
                out.append("[TLS handshake done]")
            case let .alert(level, description, decrypted):
                out.append(level == 2 ? "Alert (fatal: " : "Alert (")
                out.appendUTF8(tlsAlertName(description))
                out.append(decrypted ? ", decrypted)" : ")")
            case let .encrypted(records, bytes):
                out.append("Encrypted Application Data (")
                out.appendDecimal(records)
                out.append(records == 1 ? " record, " : " records, ")
                out.appendDecimal(bytes)
                out.append(" bytes, not decrypted)")
            case let .applicationData(records, _):
                out.append("Application Data")
                if records > 1 { out.append(" ×"); out.appendDecimal(records) }
            case let .problem(text):
                out.append("[")
                out.appendUTF8(text)
                out.append("]")
            }
        }
    }

    /// Appends `tcpText(e)`.
    func writeTCP(_ e: TimelineEvent, into out: inout ByteBuffer) {
        guard e.hasTCP else { out.append("TCP"); return }
        out.append(e.tcpInfo.flags.joinedNamesUTF8)
        let mark = out.count
        out.append(0x20)
        writeTCPLabels(e, into: &out)
        if out.count == mark + 1 { out.count = mark }
        // Fields read before the closure: capturing `e` would copy the whole event.
        let seq = e.tcpInfo.seq, ack = e.tcpInfo.flags.contains(.ack) ? e.tcpInfo.ack : nil
        let window = e.tcpInfo.window, length = e.tcpInfo.length
        out.withCursor(reserving: 80) { c in
            c.literal(" Seq=")
            c.decimal(UInt64(seq))
            if let ack {
                c.literal(" Ack=")
                c.decimal(UInt64(ack))
            }
            c.literal(" Win=")
            c.decimal(UInt64(window))
            c.literal(" Len=")
            c.decimal(length)
        }
        if e.tcpInfo.flags.contains(.syn) {
            if let mss = e.tcpInfo.options.mss { out.append(" MSS="); out.appendDecimal(mss) }
            if e.tcpInfo.options.sackPermitted { out.append(" SACK_PERM") }
            if let ws = e.tcpInfo.options.windowScale { out.append(" WS="); out.appendDecimal(1 << Int(min(ws, 14))) }
        }
        if e.tcpInfo.options.sackCount > 0 {
            out.append(" SACK=")
            for (i, block) in e.tcpInfo.options.sackBlocks.enumerated() {
                if i > 0 { out.append(0x2c) }
                out.appendDecimal(block.left &- 0)
                out.append(0x2d)
                out.appendDecimal(block.right &- 0)
            }
        }
    }

    /// Appends `tcpLabelText(e)`: the labels separated by spaces (nothing when there are none).
    func writeTCPLabels(_ e: TimelineEvent, into out: inout ByteBuffer) {
        guard e.hasTCP else { return }
        let r = e.tcpInfo.report
        let start = out.count
        func label(_ out: inout ByteBuffer) { if out.count > start { out.append(0x20) } }
        if let step = r.handshake {
            label(&out)
            out.append("[handshake ")
            out.appendDecimal(step.rawValue)
            out.append("/3")
            if r.handshakeRetransmission { out.append(" retransmitted") }
            if r.midstream && step == .synAck { out.append(", SYN not captured") }
            out.append(0x5d)
            if step == .ack, let rtt = r.initialRTT { out.append(" iRTT "); out.appendUTF8(durationText(rtt)) }
        }
        if !r.teardown.isEmpty {
            label(&out)
            out.append("[teardown ")
            out.appendUTF8(r.teardown.label)
            if r.simultaneousClose { out.append(", simultaneous close") }
            out.append(0x5d)
        }
        if r.reset, let state = r.stateAtReset {
            label(&out)
            out.append(e.side == .client ? "[reset by client during " : "[reset by server during ")
            out.appendUTF8(state.rawValue)
            out.append(0x5d)
        }
        if let what = e.tcpInfo.acknowledged, r.teardown.isEmpty || what.milestone != nil {
            label(&out)
            out.append("[ACK of ")
            out.appendUTF8(what.text)
            out.append(0x5d)
        }
        if r.isNewStream && r.midstream && r.handshake == nil { label(&out); out.append("[stream picked up mid-connection]") }
        if !r.analysis.isEmpty {
            for name in r.analysis.names {
                label(&out)
                if name == "duplicate-ack" {
                    out.append("[duplicate ACK #")
                    out.appendDecimal(r.duplicateAckCount)
                    out.append(0x5d)
                } else if name == "duplicate" {
                    out.append("[duplicate of #")
                    out.appendDecimal(r.duplicateOf)
                    out.append(": an identical copy, counted once]")
                } else if name == "late" {
                    out.append("[late: ")
                    out.appendDecimal(r.lateBytes)
                    out.append(" bytes of a hole already declared lost]")
                } else if name == "arrived-after-ack" {
                    out.append("[arrived after its ACK]")
                } else {
                    out.append(0x5b)
                    out.appendUTF8(name)
                    out.append(0x5d)
                }
            }
        }
    }

    /// Appends `frameText(f, role:)`.
    func writeFrame(_ f: FrameInfo, role: CloseRole?, app: [AppMessage] = [], into out: inout ByteBuffer) {
        writeOpcodeTitle(f.opcode, into: &out)
        if f.fin { out.append(" [FIN]") }
        if f.rsv & 4 != 0 { out.append(" [RSV1]") }
        if f.rsv & 2 != 0 { out.append(" [RSV2]") }
        if f.rsv & 1 != 0 { out.append(" [RSV3]") }
        if f.masked { out.append(" [MASKED]") }
        out.append(" len=")
        out.appendDecimal(f.payloadLength)
        if f.opcode == 8 {
            if let code = f.closeCode {
                out.append(0x20)
                out.appendDecimal(code)
                out.append(0x20)
                out.appendUTF8(closeCodeName(code))
                if let reason = f.closeReason, !reason.isEmpty {
                    out.append(0x20)
                    out.appendEscaped(reason, limit: previewLimit, quoted: true)
                }
            } else {
                out.append(" (no status code)")
            }
            if let role {
                if role.initiates {
                    out.append(f.side == .client ? " — client initiated" : " — server initiated")
                } else {
                    out.append(f.side == .client ? " — reply to server" : " — reply to client")
                    if let l = role.latency { out.append(" after "); out.appendUTF8(durationText(l)) }
                }
            }
            return
        }
        if let m = f.message {
            let kind: StaticString = m.opcode == 1 ? " — Text message" : " — Binary message"
            if let err = m.inflateError {
                out.append(kind)
                out.append(", ")
                out.appendDecimal(m.wireLength)
                out.append(" compressed bytes")
                if m.frames > 1 { out.append(" in "); out.appendDecimal(m.frames); out.append(" frames") }
                out.append(" [cannot inflate: ")
                out.appendUTF8(err)
                out.append(0x5d)
                return
            }
            if m.frames > 1 || m.compressed {
                out.append(kind)
                if m.frames > 1 { out.append(", "); out.appendDecimal(m.frames); out.append(" frames") }
                if m.compressed {
                    out.append(", inflated ")
                    out.appendDecimal(m.wireLength)
                    out.append("→")
                    out.appendDecimal(m.length)
                    out.append(" bytes")
                } else {
                    out.append(", ")
                    out.appendDecimal(m.length)
                    out.append(" bytes")
                }
            }
            if !m.complete { out.append(" [incomplete]") }
            if !app.isEmpty {
                out.append(" — ")
                writeApp(app, into: &out)
                return
            }
            out.append(0x20)
            writePreview(m.payload, text: m.opcode == 1 && m.utf8Valid != false, truncated: m.truncated, into: &out)
        } else if f.opcode == 9 || f.opcode == 10 || f.opcode >= 3 {
            if f.payloadLength > 0 {
                out.append(0x20)
                writePreview(f.payload, text: isValidUTF8(f.payload), truncated: f.payloadTruncated, into: &out)
            }
        } else if !f.fin || f.opcode == 0 {
            out.append(" [fragment]")
            if f.rsv & 4 == 0 && !f.payload.isEmpty {
                out.append(0x20)
                writePreview(f.payload, text: isValidUTF8(f.payload), truncated: f.payloadTruncated, into: &out)
            }
        }
    }

    /// The application messages of a row: "MQTT PUBLISH qos=1 id=3 topic=sensors/t1 5 bytes",
    /// with "(reply to #12 after 3.2 ms)" on a response and "[bad: ...]" on bad data; several
    /// joined by "; ".
    func writeApp(_ app: [AppMessage], most: Int = 8, into out: inout ByteBuffer) {
        for (i, a) in app.enumerated() {
            if i > 0 { out.append("; ") }
            if i == most && app.count > most + 1 {
                out.append("… ")
                out.appendDecimal(app.count - most)
                out.append(" more")
                return
            }
            out.appendEscaped(a.info, limit: max(previewLimit * 2, 80))
            if let r = a.replyTo {
                out.append(" (reply to #")
                out.appendDecimal(r.packet)
                out.append(" after ")
                out.appendUTF8(durationText(r.latency))
                out.append(0x29)
            }
            if let p = a.problem {
                out.append(" [bad: ")
                out.appendEscaped(p, limit: max(previewLimit, 80))
                out.append(0x5d)
            }
        }
    }

    /// The same words as a String (`follow`, the report): at most `most` messages.
    func appText(_ app: [AppMessage], most: Int = 8) -> String {
        var out = ByteBuffer(capacity: 128)
        writeApp(app, most: most, into: &out)
        return out.string()
    }

    /// A payload as quoted, escaped text or as hex, with "…" when there is more than shown.
    func writePreview(_ bytes: UnsafeRawBufferPointer, text: Bool, truncated: Bool, into out: inout ByteBuffer) {
        if bytes.isEmpty || !showsPayload { out.append(truncated || !bytes.isEmpty ? "…" : "\"\""); return }
        let from = out.count
        if text {
            out.appendEscapedPreview(bytes, limit: previewLimit)
        } else {
            out.appendHexPreview(bytes, limit: max(4, previewLimit / 3))
        }
        if truncated && !endsWithEllipsis(out, from: from) { out.append("…") }
    }

    /// `s.hasSuffix("…") || s.hasSuffix("…\"")` for the text from `from`. `hasSuffix` compares
    /// characters: a "…" that a Prepend scalar before it (U+0600, ...) joins into one character
    /// is no suffix. So when the bytes match, the scalar before "…" decides, as `hasSuffix` says.
    private func endsWithEllipsis(_ out: borrowing ByteBuffer, from: Int) -> Bool {
        let quoted = out.ends(with: "…\"", from: from)
        guard quoted || out.ends(with: "…", from: from) else { return false }
        let ellipsisStart = out.count - (quoted ? 4 : 3)
        var scalarStart = ellipsisStart
        if scalarStart > from { scalarStart -= 1 }
        while scalarStart > from && out.base[scalarStart] & 0xc0 == 0x80 { scalarStart -= 1 }
        if scalarStart == ellipsisStart || out.base[scalarStart] < 0x80 { return true }
        let tail = out.string(from: scalarStart)
        return quoted ? tail.hasSuffix("…\"") : tail.hasSuffix("…")
    }

    func writeOpcodeTitle(_ opcode: UInt8, into out: inout ByteBuffer) {
        switch opcode {
        case 0: out.append("Continuation")
        case 1: out.append("Text")
        case 2: out.append("Binary")
        case 8: out.append("Close")
        case 9: out.append("Ping")
        case 10: out.append("Pong")
        default: out.append("Reserved-"); out.appendDecimal(opcode)
        }
    }
}
