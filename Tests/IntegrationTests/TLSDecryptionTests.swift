import Foundation
import Testing

/// wss: the TLS stage over real peers' captures and their own key logs. Frames and messages are
/// compared with tshark and the peers' logs by WebSocketConformanceTests (which reads every
/// capture with the key log beside it); here, the TLS facts and every failure mode.
@Suite struct TLSDecryptionTests {
    static let dir = Tools.fixtures.appendingPathComponent("tls")
    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static func read(_ capture: String, keys: String?, _ extra: [String] = []) throws -> (doc: [String: Any], stderr: String) {
        let r = try Tools.wstrace(["read", path(capture), "--format", "json", "--payloads", "none"]
                                  + (keys.map { ["--keylog", path($0)] } ?? []) + extra)
        #expect(r.status == 0, "\(capture): exit \(r.status)")
        return (try Tools.json(r.stdout), r.stderr)
    }

    static func tls(_ doc: [String: Any]) -> [[String: Any]] {
        (doc["connections"] as! [[String: Any]]).map { $0["tls"] as? [String: Any] ?? [:] }
    }

    static var fixturesWithLogs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { name in
            name.hasSuffix(".pcap") && FileManager.default.fileExists(atPath: dir.appendingPathComponent(
                String(name.dropLast(5)) + ".keys").path)
        }.sorted()
    }

    /// Each connection's version, suite, SNI, ALPN and resumption equal what its peers reported.
    @Test(arguments: fixturesWithLogs)
    func tlsFactsMatchWhatThePeersReported(name: String) throws {
        let base = String(name.dropLast(5))
        let logFile = WebSocketConformanceTests.logPath(for: Self.path(name))
        let log = try Tools.json(logFile.hasSuffix(".gz")
            ? try Tools.run(URL(fileURLWithPath: "/bin/gzip"), ["-dc", logFile]).stdout
            : try Data(contentsOf: URL(fileURLWithPath: logFile)))
        let (doc, _) = try Self.read(name, keys: base + ".keys")
        let connections = doc["connections"] as! [[String: Any]]
        for logged in log["connections"] as! [[String: Any]] {
            guard let peer = logged["tls"] as? [String: Any], let port = logged["client_port"] as? Int else { continue }
            // A handshake that failed is checked by handshakeEndedByAFatalAlert.
            if peer["alert"] != nil { continue }
            let c = try #require(connections.first { ($0["client"] as! String).hasSuffix(":\(port)") }, "\(name) :\(port)")
            let tls = try #require(c["tls"] as? [String: Any], "\(name): no tls object")
            #expect(tls["decryption"] as? String == "decrypted", "\(name) :\(port) \(tls["detail"] ?? "")")
            #expect(tls["version"] as? String == peer["version"] as? String, "\(name)")
            #expect(tls["cipher_suite"] as? String == peer["cipher_suite"] as? String, "\(name)")
            let id = (peer["cipher_suite_id"] as? Int) ?? (peer["cipher_suite_id"] as? String).flatMap { Int($0.dropFirst(2), radix: 16) }
            #expect(tls["cipher_suite_id"] as? Int == id, "\(name)")
            #expect(tls["sni"] as? String == peer["sni"] as? String, "\(name)")
            #expect(tls["alpn"] as? String == peer["alpn"] as? String, "\(name)")
            if let resumed = peer["resumed"] as? Bool { #expect(tls["resumed"] as? Bool == resumed, "\(name) :\(port)") }
            #expect(c["websocket"] as? Bool == true, "\(name): the WebSocket inside TLS is seen")
            #expect(tls["authentication_failures"] as? Int == 0)
        }
    }

    /// Every suite the issue lists is decrypted by some fixture, CBC with and without
    /// encrypt_then_mac.
    @Test func everyRequiredSuiteIsCovered() throws {
        var suites: Set<String> = []
        var etm: Set<Bool> = []
        for name in Self.fixturesWithLogs {
            let (doc, _) = try Self.read(name, keys: String(name.dropLast(5)) + ".keys")
            for t in Self.tls(doc) where t["decryption"] as? String == "decrypted" {
                let suite = t["cipher_suite"] as! String
                suites.insert(suite)
                if suite.contains("CBC") { etm.insert((t["detail"] as! String).contains("encrypt_then_mac")) }
            }
        }
        let required: Set<String> = [
            "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        ]
        #expect(required.subtracting(suites).isEmpty, "not covered: \(required.subtracting(suites))")
        #expect(etm == [true, false])
    }

    @Test func noKeyNamesTheClientRandomAndShowsTLSOnly() throws {
        let (doc, _) = try Self.read("wss-tls13-aes128gcm.pcap", keys: nil)
        let t = Self.tls(doc)[0]
        #expect(t["decryption"] as? String == "no key")
        #expect((t["detail"] as! String).contains("no key in the key log for client random " + (t["client_random"] as! String)))
        #expect(t["version"] as? String == "TLS 1.3" && t["sni"] as? String == "wss.test")
        let events = doc["events"] as! [[String: Any]]
        #expect(!events.contains { $0["ws"] != nil || $0["http"] != nil })
        #expect(events.contains { ($0["info"] as! String).contains("Client Hello SNI=wss.test") })
    }

    @Test func wrongKeyIsReportedOncePerDirectionAndNothingIsShown() throws {
        let (doc, _) = try Self.read("wss-tls13-aes128gcm.pcap", keys: "wss-tls13-aes128gcm.wrong.keys")
        #expect(Self.tls(doc)[0]["decryption"] as? String == "failed")
        let events = doc["events"] as! [[String: Any]]
        #expect(!events.contains { $0["ws"] != nil || $0["http"] != nil })
        let problems = events.filter { e in
            ((e["tls"] as? [String: Any])?["records"] as? [[String: Any]] ?? []).contains { $0["type"] as? String == "problem" }
        }
        #expect(problems.count == 2 && Set(problems.map { $0["direction"] as! String }).count == 2)
    }

    @Test func midstreamSaysNotDecryptable() throws {
        let (doc, _) = try Self.read("wss-tls13-midstream.pcap", keys: "wss-tls13-aes128gcm.keys")
        let t = Self.tls(doc)[0]
        #expect(t["decryption"] as? String == "mid-stream")
        #expect((t["detail"] as! String).contains("mid-stream"))
        #expect(!(doc["events"] as! [[String: Any]]).contains { $0["ws"] != nil })
    }

    @Test func badKeyLogLinesAreWarnedWithLineNumbersAndTheRestIsUsed() throws {
        let (doc, stderr) = try Self.read("wss-tls13-aes128gcm.pcap", keys: "wss-tls13-aes128gcm.badline.keys")
        #expect(Self.tls(doc)[0]["decryption"] as? String == "decrypted")
        for line in [4, 6, 9] { #expect(stderr.contains("badline.keys:\(line):"), "line \(line): \(stderr)") }
    }

    @Test func pcapngDecryptionSecretsBlockNeedsNoOption() throws {
        let (doc, _) = try Self.read("wss-tls13-aes128gcm.pcapng", keys: nil)
        #expect(Self.tls(doc)[0]["decryption"] as? String == "decrypted")
        #expect((doc["events"] as! [[String: Any]]).filter { $0["ws"] != nil }.count == 14)
    }

    /// A set of pcapng files, each carrying the keys of its own connection in a Decryption
    /// Secrets Block (editcap --inject-secrets on two real captures), read as a directory: the
    /// keys of every file are used (the files' blocks are walked several at once).
    @Test func decryptionSecretsOfEveryFileOfASet() throws {
        guard let (editcap, dir) = try RotatedFilesTests.editcapAndDirectory("dsb-set") else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, base) in [("a", "wss-tls13-aes128gcm"), ("b", "wss-tls12-aes128gcm")] {
            let r = try Tools.run(editcap, ["--inject-secrets", "tls," + Self.path(base + ".keys"), Self.path(base + ".pcap"),
                                            dir.appendingPathComponent(name + ".pcapng").path])
            #expect(r.status == 0, "\(r.stderr)")
        }
        for threads in ["1", "2"] {
            let r = try Tools.wstrace(["read", dir.path, "--summary", "--format", "json", "--threads", threads])
            #expect(r.status == 0, "\(r.stderr)")
            let tls = Self.tls(try Tools.json(r.stdout))
            #expect(tls.count == 2)
            #expect(tls.allSatisfy { $0["decryption"] as? String == "decrypted" }, "\(tls)")
        }
    }

    /// TLS 1.2 resumption without the resumed connection's own key line: the master secret of
    /// the session it resumes, by ID or by ticket (what Wireshark does).
    @Test(arguments: [("wss-tls12-resume-id", "session ID"), ("wss-tls12-resume-ticket", "ticket")])
    func tls12ResumptionUsesTheResumedSession(base: String, how: String) throws {
        let keys = try String(contentsOfFile: Self.path(base + ".keys"), encoding: .utf8)
        #expect(keys.split(separator: "\n").filter { $0.hasPrefix("CLIENT_RANDOM") }.count == 1)
        let (doc, _) = try Self.read(base + ".pcap", keys: base + ".keys")
        let t = Self.tls(doc)
        #expect(t.count == 2)
        #expect(t[1]["resumed"] as? Bool == true && t[1]["resumption"] as? String == how)
        #expect(t[1]["decryption"] as? String == "decrypted")
        #expect((t[1]["detail"] as! String).contains("resumes"))
    }

    @Test func tls13PSKResumptionNeedsItsOwnLines() throws {
        let (doc, _) = try Self.read("wss-tls13-psk.pcap", keys: "wss-tls13-psk.first-only.keys")
        let t = Self.tls(doc)
        #expect(t[0]["decryption"] as? String == "decrypted")
        #expect(t[1]["resumed"] as? Bool == true && t[1]["decryption"] as? String == "no key")
        #expect((t[1]["detail"] as! String).contains("PSK resumption"))
        let (full, _) = try Self.read("wss-tls13-psk.pcap", keys: "wss-tls13-psk.keys")
        #expect(Self.tls(full).allSatisfy { $0["decryption"] as? String == "decrypted" })
    }

    @Test func keyUpdatesAreFollowed() throws {
        let (doc, _) = try Self.read("wss-keyupdate.pcap", keys: "wss-keyupdate.keys")
        let t = Self.tls(doc)[0]
        #expect(t["key_updates"] as? Int == 3)
        #expect(t["authentication_failures"] as? Int == 0)
    }

    /// A client that rejects the server's certificate ends the handshake with a fatal alert in
    /// the clear: named, on the packet the peers' log gives, and the verdict says the handshake
    /// failed. In TLS 1.3 the client logged only the server's handshake secret: the server's
    /// encrypted flight is decrypted, the client's side is named as keyless.
    @Test(arguments: ["wss-tls13-alert", "wss-tls12-alert"])
    func handshakeEndedByAFatalAlert(base: String) throws {
        let logFile = Tools.fixtures.appendingPathComponent("logs/\(base).json")
        let log = try Tools.json(try Data(contentsOf: logFile))
        let peer = try #require(((log["connections"] as! [[String: Any]])[0]["tls"] as? [String: Any])?["alert"] as? [String: Any])
        let (doc, _) = try Self.read(base + ".pcap", keys: base + ".keys")
        let c = (doc["connections"] as! [[String: Any]])[0]
        let alerts = Self.tls(doc)[0]["alerts"] as! [[String: Any]]
        #expect(alerts.count == 1)
        #expect(alerts.first?["description"] as? String == peer["description"] as? String)
        #expect(alerts.first?["level"] as? String == "fatal" && alerts.first?["from"] as? String == "client")
        #expect(alerts.first?["packet"] as? Int == peer["packet"] as? Int)
        #expect((c["verdict"] as! String).contains("handshake failed, fatal alert \(peer["description"] as! String) from client"))
        #expect(c["websocket"] as? Bool == false)
        if base.contains("13") {
            let events = doc["events"] as! [[String: Any]]
            #expect(events.contains { ($0["info"] as! String).contains("Certificate Verify, Finished") }, "the server's flight is decrypted")
        }
    }

    @Test func alertsAreDecryptedAndNamed() throws {
        let (doc, _) = try Self.read("wss-tls13-aes128gcm.pcap", keys: "wss-tls13-aes128gcm.keys")
        let alerts = Self.tls(doc)[0]["alerts"] as! [[String: Any]]
        #expect(alerts.map { $0["description"] as! String } == ["close_notify", "close_notify"])
        #expect(alerts.allSatisfy { $0["decrypted"] as? Bool == true && $0["level"] as? String == "warning" })
    }

    @Test func textTimelineShowsTheTLSHandshakeThenWebSocketFromTLS() throws {
        let r = try Tools.wstrace(["read", Self.path("wss-chromium.pcap"), "--keylog", Self.path("wss-chromium.keys")])
        let text = String(decoding: r.stdout, as: UTF8.self)
        #expect(text.contains("Client Hello SNI=ws.test"))
        #expect(text.contains("Server Hello TLS 1.3 TLS_AES_128_GCM_SHA256"))
        #expect(text.contains("[TLS handshake done]"))
        #expect(text.contains("— Upgrade: websocket") && text.contains("[TLS]"))
        #expect(text.contains("  TLS  ") && text.contains("decrypted: TLS 1.3 secrets"))
    }

    @Test func followAndReportDecryptToo() throws {
        let f = try Tools.wstrace(["follow", Self.path("wss-node-ws.pcap"), "--stream", "0", "--keylog", Self.path("wss-node-ws.keys")])
        #expect(f.status == 0)
        #expect(String(decoding: f.stdout, as: UTF8.self).contains("text   \"hello over TLSv1.3 from ws"))
        let r = try Tools.wstrace(["report", Self.path("wss-node-ws.pcap"), "-o", "-", "--keylog", Self.path("wss-node-ws.keys")])
        #expect(r.status == 0)
        #expect(String(decoding: r.stdout, as: UTF8.self).contains("TLS 1.3"))
    }
}
