import WSTLS
import WSDecode
import WSDissector
import WSReassembly
import WSDiagnosis
import WSTimeline

/// Writes a connection summary as a JSON object (schema 3), with its diagnosis and health.
struct ConnectionJSON {
    let options: RenderOptions

    /// `marks`: see `DiagnosisJSON.write`.
    func write(_ s: ConnectionSummary, diagnosis d: Diagnosis, marks: Bool = true, into w: inout JSONWriter) {
        let decimals = options.timeDecimals
        w.beginObject()
        w.field("type", "connection")
        w.field("stream", s.stream)
        // Written in place (`Endpoint.text` interpolates five Strings).
        w.key("client")
        w.string { $0.append(endpoint: s.client) }
        w.key("server")
        w.string { $0.append(endpoint: s.server) }
        w.field("start", seconds: s.start, decimals: decimals)
        w.field("end", seconds: s.end, decimals: decimals)
        w.field("duration", seconds: s.duration, decimals: decimals)
        w.field("first_packet", s.firstPacket)
        w.field("last_packet", s.lastPacket)
        w.field("verdict", s.verdict)
        w.field("midstream", s.midstream)
        w.field("websocket", s.isWebSocket)
        w.field("state", s.state.rawValue)
        if let r = s.releaseReason { w.field("released", r.rawValue) }

        w.key("handshake")
        w.beginObject()
        w.field("syn_packet", s.handshake.synPacket)
        w.field("synack_packet", s.handshake.synAckPacket)
        w.field("ack_packet", s.handshake.ackPacket)
        w.field("rtt", seconds: s.handshake.rtt, decimals: 9)
        w.field("syn_retransmissions", s.handshake.synRetransmissions)
        w.endObject()

        if let u = s.upgrade {
            w.key("upgrade")
            w.beginObject()
            w.field("status", u.status)
            w.field("reason", u.reason)
            w.field("path", u.path)
            w.field("host", u.host)
            w.field("origin", u.origin)
            w.field("subprotocol", u.subprotocol)
            w.field("extensions", strings: u.extensions)
            w.field("offered_protocols", strings: u.offeredProtocols)
            w.field("offered_extensions", strings: u.offeredExtensions)
            w.field("accept_valid", u.acceptValid)
            w.field("upgraded", u.upgraded)
            w.field("request_packet", u.requestPacket)
            w.field("response_packet", u.responsePacket)
            if let d = u.deflate {
                w.key("deflate")
                w.beginObject()
                w.field("server_no_context_takeover", d.serverNoContextTakeover)
                w.field("client_no_context_takeover", d.clientNoContextTakeover)
                w.field("server_max_window_bits", d.serverMaxWindowBits)
                w.field("client_max_window_bits", d.clientMaxWindowBits)
                w.endObject()
            }
            w.endObject()
        }
        if let r = s.recognition {
            w.key("recognition")
            w.beginObject()
            w.field("protocol", r.proto.rawValue)
            w.field("method", r.method.rawValue)
            w.field("detail", r.detail)
            w.endObject()
        }
        if let t = s.tls {
            w.key("tls")
            w.beginObject()
            w.field("version", t.versionName)
            w.field("cipher_suite", t.suite?.name)
            w.field("cipher_suite_id", t.suite.map { Int($0.id) })
            w.field("sni", t.serverName)
            w.field("alpn", t.alpn)
            w.field("alpn_offered", strings: t.offeredALPN)
            // GREASE values (RFC 8701) are left out.
            w.field("versions_offered", strings: t.offeredVersions.filter { $0 & 0x0F0F != 0x0A0A }.map(tlsVersionName))
            w.field("resumed", t.resumed)
            w.field("resumption", t.resumption)
            w.field("hello_retry", t.helloRetry)
            w.field("decryption", (t.decryption ?? .noKey).rawValue)
            w.field("detail", t.detail.isEmpty ? "no ServerHello captured" : t.detail)
            w.field("client_random", t.clientRandom.map { tlsHex($0) })
            w.field("client_hello_packet", t.clientHelloPacket)
            w.field("server_hello_packet", t.serverHelloPacket)
            w.field("handshake_done_packet", t.handshakeDonePacket)
            w.field("decrypted_records", t.decryptedRecords)
            w.field("undecrypted_records", t.undecryptedRecords)
            w.field("authentication_failures", t.authenticationFailures)
            w.field("key_updates", t.keyUpdates)
            w.key("alerts")
            w.beginArray()
            for a in t.alerts {
                w.beginObject()
                w.field("packet", a.packet)
                w.field("from", a.fromClient ? "client" : "server")
                w.field("level", a.levelName)
                w.field("description", a.name)
                w.field("decrypted", a.decrypted)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }

        w.key("messages")
        w.beginObject()
        func counts(_ name: StaticString, _ c: SideCounts) {
            w.key(name)
            w.beginObject()
            w.field("text", c.text)
            w.field("binary", c.binary)
            w.field("ping", c.ping)
            w.field("pong", c.pong)
            w.field("close", c.close)
            w.field("frames", c.frames)
            w.field("bytes", c.bytes)
            w.field("wire_bytes", c.wireBytes)
            w.field("tcp_bytes", c.tcpBytes)
            w.field("packets", c.packets)
            if c.compressedInflated > 0 {
                w.key("compression_ratio")
                w.number(formatFixed(Double(c.compressedWire) / Double(c.compressedInflated), places: 4))
            }
            w.endObject()
        }
        counts("client", s.clientCounts)
        counts("server", s.serverCounts)
        w.field("incomplete", s.incompleteMessages)
        w.endObject()

        if let c = s.close {
            w.key("close")
            w.beginObject()
            w.field("initiator", c.initiator == .client ? "client" : "server")
            w.field("code", c.code.map { Int($0) })
            w.field("reason", c.reason)
            w.field("reply_code", c.replyCode.map { Int($0) })
            w.field("reply_reason", c.replyReason)
            w.field("packets", ints: [c.initiatorPacket] + (c.replyPacket.map { [$0] } ?? []))
            w.field("latency", seconds: c.latency, decimals: 9)
            w.field("complete", c.replyPacket != nil)
            w.endObject()
        }

        w.key("teardown")
        w.beginObject()
        w.field("fin_packets", ints: s.teardown.finPackets)
        w.field("fin_from", strings: s.teardown.finSides.map { $0 == .client ? "client" : "server" })
        w.field("rst_packet", s.teardown.rstPacket)
        w.field("rst_from", s.teardown.rstFrom.map { $0 == .client ? "client" : "server" })
        w.field("complete", s.teardown.complete)
        w.field("simultaneous", s.teardown.simultaneous)
        w.key("steps")
        w.beginObject()
        for step in 1...4 {
            guard let p = s.teardown.steps[step] else { continue }
            switch step {
            case 1: w.key("1/4")
            case 2: w.key("2/4")
            case 3: w.key("3/4")
            default: w.key("4/4")
            }
            w.int(p)
        }
        w.endObject()
        w.endObject()

        w.key("phases")
        w.beginObject()
        for phase in Phase.allCases {
            guard let span = s.phases[phase] else { continue }
            w.key(named: phase.rawValue)
            w.beginObject()
            w.field("first_packet", span.firstPacket)
            w.field("last_packet", span.lastPacket)
            w.field("start", seconds: span.firstTime, decimals: decimals)
            w.field("end", seconds: span.lastTime, decimals: decimals)
            w.endObject()
        }
        w.endObject()

        w.field("gaps", s.gaps)
        w.field("gap_bytes", s.gapBytes)
        if s.duplicatePackets > 0 { w.field("duplicates", s.duplicatePackets) }
        w.key("violations")
        w.beginArray()
        for v in s.violations {
            w.beginObject()
            w.field("packet", v.packet)
            w.field("code", v.violation.code.rawValue)
            w.field("message", v.violation.message)
            w.endObject()
        }
        w.endArray()
        if s.violationsDropped > 0 { w.field("violations_not_listed", s.violationsDropped) }
        AppSummaryOutput.write(s.app, into: &w)
        DiagnosisJSON.write(d, Health(s), marks: marks, into: &w)
        w.endObject()
    }
}

/// Writes the capture totals as a JSON object.
struct CaptureJSON {
    let options: RenderOptions

    func write(_ c: CaptureCounters, file: String, linkType: String, warnings: [String], into w: inout JSONWriter) {
        w.beginObject()
        w.field("type", "capture")
        w.field("file", file)
        if options.files.count > 1 { w.field("files", strings: options.files) }
        w.field("link_type", linkType)
        w.field("packets", c.packets)
        w.field("tcp", c.tcp)
        w.field("udp", c.udp)
        w.field("icmp", c.icmp)
        w.field("other_ip", c.otherIP)
        w.field("non_ip", c.nonIP)
        w.field("undecodable", c.undecodable)
        w.field("truncated", c.truncated)
        w.field("bytes", c.bytes)
        w.field("connections", c.connections)
        w.field("websocket_connections", c.webSocketConnections)
        w.field("events", c.events)
        w.field("frames", c.frames)
        w.field("messages", c.messages)
        w.field("violations", c.violations)
        w.field("gaps", c.gaps)
        if c.duplicates > 0 { w.field("duplicates", c.duplicates) }
        w.field("first_time", seconds: c.firstTime, decimals: options.timeDecimals)
        w.field("last_time", seconds: c.lastTime, decimals: options.timeDecimals)
        w.field("warnings", strings: warnings)
        if let f = options.displayFilter {
            w.field("filter", f)
            w.field("matched", c.displayed)
        }
        w.endObject()
    }
}
