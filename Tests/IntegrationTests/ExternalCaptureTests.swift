import Foundation
import Testing

/// Other projects' test captures (Fixtures/external: Zeek, Suricata, nDPI, Arkime) against the
/// expectations those projects ship, and against the true number of WebSocket connections
/// each holds (Fixtures/external/SOURCES.tsv). Where the projects differ from RFC 6455, the
/// RFC decides and the test says so.
@Suite struct ExternalCaptureTests {
    static let external = Tools.fixtures.appendingPathComponent("external")
    static let zeek = external.appendingPathComponent("zeek")
    static let suricata = external.appendingPathComponent("suricata-verify")

    /// One row of SOURCES.tsv: a capture and how many of its connections really are WebSocket.
    struct Source: Sendable, CustomTestStringConvertible {
        var file: String
        var websocketConnections: Int
        var testDescription: String { file }
    }

    /// The rows of Fixtures/external/SOURCES.tsv (tab-separated, with a header line).
    static let sources: [Source] = {
        guard let text = try? String(contentsOf: external.appendingPathComponent("SOURCES.tsv"), encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, let file = header.firstIndex(of: "local_file"),
              let count = header.firstIndex(of: "websocket_connections") else { return [] }
        return lines.dropFirst().compactMap { row in
            guard row.count == header.count, let n = Int(row[count]) else { return nil }
            return Source(file: row[file], websocketConnections: n)
        }
    }()

    static func read(_ url: URL) throws -> (doc: [String: Any], events: [[String: Any]], connections: [[String: Any]]) {
        let doc = try Tools.json(try Tools.wstrace(["read", url.path, "--format", "json"]).stdout)
        return (doc, doc["events"] as! [[String: Any]], doc["connections"] as! [[String: Any]])
    }

    /// SOURCES.tsv lists every capture under Fixtures/external exactly once, each row well formed
    /// (a row that does not parse would silently drop out of the per-capture test below).
    @Test func sourcesListEveryExternalCapture() throws {
        let text = try String(contentsOf: Self.external.appendingPathComponent("SOURCES.tsv"), encoding: .utf8)
        let rows = text.split(separator: "\n").dropFirst()
        #expect(!Self.sources.isEmpty)
        #expect(Self.sources.count == rows.count, "SOURCES.tsv: \(rows.count - Self.sources.count) row(s) do not parse")
        let onDisk = Tools.captures().filter { $0.hasPrefix(Self.external.path + "/") }
            .map { String($0.dropFirst(Self.external.path.count + 1)) }
        #expect(Self.sources.map(\.file).sorted() == onDisk.sorted())
    }

    /// For every external capture, `read --format json` reports exactly the connections that
    /// really are WebSocket (SOURCES.tsv's websocket_connections, decided by hand: an Upgrade
    /// answered by 101, or unmistakable frames on a connection picked up mid-stream). TLS,
    /// MQTT, SSH, other binary protocols and plain HTTP, with or without their start captured,
    /// are not WebSocket. Every real WebSocket connection in these captures carries frames, and
    /// they must all be kept; no frame may appear on a connection that is not WebSocket.
    @Test(arguments: sources)
    func websocketConnectionCountPerExternalCapture(_ source: Source) throws {
        let (_, events, connections) = try Self.read(Self.external.appendingPathComponent(source.file))
        let websocket = connections.filter { $0["websocket"] as? Bool == true }
        func describe(_ c: [String: Any]) -> String {
            "stream \(c["stream"]!) \(c["client"]!) → \(c["server"]!)\(c["midstream"] as? Bool == true ? " (mid-stream)" : ""): \((c["verdict"] as? String) ?? "")"
        }
        #expect(websocket.count == source.websocketConnections,
                "\(source.file): \(websocket.count) WebSocket connection(s), in truth \(source.websocketConnections): \(websocket.map(describe))")
        let frames = events.filter { $0["ws"] != nil }
        let framesPerStream = Dictionary(grouping: frames) { $0["stream"] as! Int }.mapValues(\.count)
        if source.websocketConnections > 0 {
            #expect(!frames.isEmpty, "\(source.file): no WebSocket frame reported")
        }
        let keptFrames = websocket.filter { framesPerStream[$0["stream"] as! Int, default: 0] > 0 }
        #expect(keptFrames.count == source.websocketConnections,
                "\(source.file): \(keptFrames.count) WebSocket connection(s) with frames, in truth \(source.websocketConnections) carry frames")
        let websocketStreams = Set(websocket.map { $0["stream"] as! Int })
        let stray = framesPerStream.filter { !websocketStreams.contains($0.key) }
        #expect(stray.isEmpty, "\(source.file): frames on connections not reported as WebSocket (stream: frames): \(stray)")
    }

    /// Zeek's websocket.log baselines: each row's ports, Host, URI, subprotocol, offered
    /// protocols and extensions, selected extensions match our upgrade summary.
    @Test(arguments: [
        ("scripts.base.protocols.http.101-switching-protocols__websocket.log", "http__websocket.pcap"),
        ("scripts.base.protocols.websocket.broker-websocket__websocket.log", "websocket__broker-websocket.pcap"),
        ("scripts.base.protocols.websocket.jupyter-websocket__websocket.log", "websocket__jupyter-websocket.pcap"),
        ("scripts.base.protocols.websocket.key-accept-wrong__websocket.log", "websocket__wrong-accept-header.pcap"),
        ("scripts.base.protocols.websocket.wstunnel-http__websocket.log", "websocket__wstunnel-http.pcap"),
        ("scripts.base.protocols.websocket.wstunnel-https__websocket.log", "websocket__wstunnel-https.pcap"),
        ("scripts.base.protocols.websocket.wstunnel-ssh__websocket.log", "websocket__wstunnel-ssh.pcap"),
    ])
    func zeekWebsocketLogAgrees(log: String, capture: String) throws {
        let text = try String(contentsOf: Self.zeek.appendingPathComponent("expected").appendingPathComponent(log), encoding: .utf8)
        // Either Zeek's "#fields" header or btest's cut form (a plain "ts\tuid\t…" line).
        let lines = text.split(separator: "\n").map(String.init)
        let headerLine = try #require(lines.first { $0.hasPrefix("#fields\t") || $0.hasPrefix("ts\t") })
        let header = headerLine.split(separator: "\t").map(String.init).filter { $0 != "#fields" }
        let rows = lines.filter { !$0.hasPrefix("#") && $0 != headerLine }.map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)))
        }
        #expect(!rows.isEmpty)
        let (_, _, connections) = try Self.read(Self.zeek.appendingPathComponent(capture))
        func zeekValue(_ v: String?) -> String? { v == "-" || v == nil ? nil : v }
        for row in rows {
            let c = try #require(connections.first { ($0["client"] as! String).hasSuffix(":\(row["id.orig_p"]!)") },
                                 "\(capture): no connection from port \(row["id.orig_p"]!)")
            #expect((c["server"] as! String).hasSuffix(":\(row["id.resp_p"]!)"))
            let u = try #require(c["upgrade"] as? [String: Any])
            #expect(u["host"] as? String == zeekValue(row["host"]), "\(capture): host")
            #expect(u["path"] as? String == row["uri"], "\(capture): uri")
            #expect(u["subprotocol"] as? String == zeekValue(row["subprotocol"]), "\(capture): subprotocol")
            #expect((u["offered_protocols"] as! [String]).joined(separator: ",") == (zeekValue(row["client_protocols"]) ?? ""), "\(capture): offered protocols")
            #expect((u["extensions"] as! [String]).joined(separator: ",") == (zeekValue(row["server_extensions"]) ?? ""), "\(capture): selected extensions")
            #expect((u["offered_extensions"] as! [String]).joined(separator: ",") == (zeekValue(row["client_extensions"]) ?? ""), "\(capture): offered extensions")
        }
    }

    /// Zeek's weird: websocket_wrong_accept_header (expected=N8nt…, found=…-wrong).
    @Test func wrongAcceptKeyIsFlagged() throws {
        let (_, events, connections) = try Self.read(Self.zeek.appendingPathComponent("websocket__wrong-accept-header.pcap"))
        let v = connections[0]["violations"] as! [[String: Any]]
        #expect(v.map { $0["code"] as! String } == ["bad-accept-key"])
        let response = events.first { ($0["http"] as? [String: Any])?["status"] as? Int == 101 }!
        #expect((response["http"] as! [String: Any])["accept_valid"] as? Bool == false)
        #expect((v[0]["message"] as! String).contains("N8ntNYkX6Qerw4tK3s/CYzpSZNc="))
    }

    /// Zeek's weird: websocket_control_frame_size_exceeded "258 > 125" (a synthetic close frame).
    @Test func oversizedCloseFrameIsFlagged() throws {
        let (_, events, _) = try Self.read(Self.zeek.appendingPathComponent("websocket__oversized-close-frame.pcapng"))
        let close = events.first { ($0["ws"] as? [String: Any])?["opcode"] as? Int == 8 }!
        #expect((close["ws"] as! [String: Any])["payload_length"] as? Int == 258)
        #expect((close["violations"] as! [String]).contains("control-frame-too-long"))
        #expect((close["violation_details"] as! [[String: Any]]).contains { ($0["message"] as! String).contains("258") })
        #expect((close["ws"] as! [String: Any])["close_code"] as? Int == 1000)
    }

    /// Zeek reports protocol_data_with_HTTP_upgrade_reply when a ping shares the 101's segment.
    /// RFC 6455 4.1 lets the server send frames as soon as its handshake is sent, so we report
    /// no violation, and both traces give the same frames.
    @Test func pingCoalescedIntoThe101IsTheSameAsSeparate() throws {
        let coalesced = try Self.read(Self.zeek.appendingPathComponent("websocket__reply-ping-coalesced.pcap"))
        let separate = try Self.read(Self.zeek.appendingPathComponent("websocket__reply-ping-separate.pcap"))
        func frames(_ e: [[String: Any]]) -> [String] {
            e.compactMap { $0["ws"] as? [String: Any] }.map { "\($0["opcode_name"]!) \($0["payload_length"]!)" }
        }
        #expect(frames(coalesced.events) == frames(separate.events))
        #expect(frames(coalesced.events).first == "ping 4" || frames(coalesced.events).contains { $0.hasPrefix("ping") })
        #expect((coalesced.connections[0]["violations"] as! [Any]).isEmpty)
        // The 101 and the ping come out of one packet as two events.
        let packet101 = coalesced.events.first { ($0["http"] as? [String: Any])?["status"] as? Int == 101 }!["packet"] as! Int
        #expect(coalesced.events.filter { $0["packet"] as! Int == packet101 }.count == 2)
    }

    @Test func closeWithReasonAndFragmentsAndTunnels() throws {
        let tooBig = try Self.read(Self.zeek.appendingPathComponent("websocket__message-too-big-status.pcap"))
        let close = tooBig.connections[0]["close"] as! [String: Any]
        // SOURCES.tsv calls it a server close, but the 1009 frame is masked and comes from the
        // side that sent the SYN and the GET: the client refused the server's 4-byte ping.
        #expect(close["initiator"] as? String == "client")
        #expect(close["code"] as? Int == 1009)
        #expect(close["reason"] as? String == "over size limit (4 > 2 bytes)")
        #expect(close["reply_code"] as? Int == 1000)

        let fragments = try Self.read(Self.zeek.appendingPathComponent("websocket__two-binary-fragments.pcap"))
        let messages = fragments.events.compactMap { $0["message"] as? [String: Any] }
        #expect(messages.contains { $0["opcode_name"] as? String == "binary" && $0["frames"] as? Int == 2 })

        let reply = try Self.read(Self.zeek.appendingPathComponent("websocket__fragmented-http-reply.pcap"))
        // The server's reply: 1 binary + 4 continuation frames in one segment, one message.
        #expect(reply.events.compactMap { $0["message"] as? [String: Any] }.contains { $0["frames"] as? Int == 5 })

        // wstunnel over ssh: two connections, the second torn down by RST (Zeek: conn_state RSTO/RSTR).
        let ssh = try Self.read(Self.zeek.appendingPathComponent("websocket__wstunnel-ssh.pcap"))
        #expect(ssh.connections.count == 2)
        #expect(ssh.connections.allSatisfy { $0["websocket"] as? Bool == true })
        #expect(ssh.connections.contains { ($0["teardown"] as! [String: Any])["rst_packet"] as? Int != nil })
    }

    /// Suricata's websocket-ping: the client's ping is unmasked (RFC 6455 5.1: MUST mask), the
    /// ping is packet 8 and the pong packet 11 (pcap_cnt in its test.yaml).
    @Test func suricataUnmaskedPing() throws {
        let (_, events, _) = try Self.read(Self.suricata.appendingPathComponent("websocket-ping__input.pcap"))
        let ping = events.first { ($0["ws"] as? [String: Any])?["opcode_name"] as? String == "ping" }!
        #expect(ping["packet"] as? Int == 8)
        #expect((ping["violations"] as? [String]) == ["client-frame-unmasked"])
        let pongs = events.filter { ($0["ws"] as? [String: Any])?["opcode_name"] as? String == "pong" }
        #expect(pongs.map { $0["packet"] as! Int } == [11])
    }

    /// Suricata's websocket-compressed: the decompressed payload holds TOGGLE=5659131662f54334.
    @Test func suricataCompressedPayload() throws {
        let (_, events, connections) = try Self.read(Self.suricata.appendingPathComponent("websocket-compressed__example_websocket.pcap"))
        let texts = events.compactMap { ($0["message"] as? [String: Any])?["text"] as? String }
        #expect(texts.contains { $0.contains("TOGGLE=5659131662f54334") })
        #expect(events.compactMap { $0["message"] as? [String: Any] }.allSatisfy { $0["compressed"] as? Bool == true && $0["complete"] as? Bool == true })
        #expect((connections[0]["violations"] as! [Any]).isEmpty)
    }

    /// Suricata's websocket-control-frag (crafted): a ping between two text fragments; the
    /// message completes to the command line.
    @Test func suricataControlFrameBetweenFragments() throws {
        let (_, events, _) = try Self.read(Self.suricata.appendingPathComponent("websocket-control-frag__input.pcap"))
        let messages = events.compactMap { $0["message"] as? [String: Any] }
        #expect(messages.count == 1)
        #expect((messages[0]["text"] as? String)?.hasPrefix("MALWARE_DOWNLOAD cmd.exe /c powershell") == true)
        #expect(messages[0]["frames"] as? Int == 2)
        let ops = events.compactMap { ($0["ws"] as? [String: Any])?["opcode_name"] as? String }
        #expect(ops.prefix(3) == ["text", "ping", "continuation"])
    }

    /// Suricata's basic websockets: 17 text frames; 3 masked client frames with FIN; 14 server
    /// text frames; a client mask key of 3803616749 (e2b695ed); a server payload "version,hybi-draft-13".
    @Test func suricataBasic() throws {
        let (_, events, _) = try Self.read(Self.suricata.appendingPathComponent("websocket__basic_websockets.pcap"))
        let frames = events.compactMap { e -> (String, [String: Any])? in (e["ws"] as? [String: Any]).map { (e["direction"] as! String, $0) } }
        #expect(frames.filter { $0.1["opcode_name"] as? String == "text" }.count == 17)
        let client = frames.filter { $0.0 == "client-to-server" }
        #expect(client.count == 3)
        #expect(client.allSatisfy { $0.1["masked"] as? Bool == true && $0.1["fin"] as? Bool == true })
        #expect(frames.filter { $0.0 == "server-to-client" && $0.1["opcode_name"] as? String == "text" }.count == 14)
        #expect(client.contains { $0.1["mask_key"] as? String == "e2b695ed" })
        #expect(frames.contains { $0.1["payload_text"] as? String == "version,hybi-draft-13" })
    }

    /// Suricata's http-request-header-multi: an Upgrade request and no reply.
    @Test func suricataUpgradeWithoutResponse() throws {
        let (_, _, connections) = try Self.read(Self.suricata.appendingPathComponent("http-request-header-multi__input.pcap"))
        let u = try #require(connections[0]["upgrade"] as? [String: Any])
        #expect(u["path"] as? String == "/s/ws")
        #expect(u["status"] is NSNull)
        #expect((connections[0]["verdict"] as! String).contains("upgrade requested, no response captured"))
    }
}
