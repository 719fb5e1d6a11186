import Testing
@testable import WSTLS

func bytes(_ hex: String) -> [UInt8] {
    precondition(hex.count % 2 == 0)
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// Key schedules against RFC 8448's worked TLS 1.3 trace and the published TLS 1.2 PRF vectors.
@Suite struct KeyScheduleTests {
    let suite = CipherSuite.named(0x1301)

    @Test func tls13TrafficKeysFromTheRFC8448Secrets() {
        let server = TLSKeySchedule.trafficKeys(secret: bytes(RFC8448.serverHandshakeTrafficSecret), keyLength: 16, hash: .sha256)
        #expect(server.key == bytes(RFC8448.serverHandshakeKey))
        #expect(server.iv == bytes(RFC8448.serverHandshakeIV))
        let client = TLSKeySchedule.trafficKeys(secret: bytes(RFC8448.clientHandshakeTrafficSecret), keyLength: 16, hash: .sha256)
        #expect(client.key == bytes(RFC8448.clientHandshakeKey))
        #expect(client.iv == bytes(RFC8448.clientHandshakeIV))
        let app = TLSKeySchedule.trafficKeys(secret: bytes(RFC8448.serverApplicationTrafficSecret0), keyLength: 16, hash: .sha256)
        #expect(app.key == bytes(RFC8448.serverApplicationKey))
        #expect(app.iv == bytes(RFC8448.serverApplicationIV))
        let early = TLSKeySchedule.trafficKeys(secret: bytes(RFC8448.Resumed0RTT.clientEarlyTrafficSecret), keyLength: 16, hash: .sha256)
        #expect(early.key == bytes(RFC8448.Resumed0RTT.clientEarlyKey))
        #expect(early.iv == bytes(RFC8448.Resumed0RTT.clientEarlyIV))
    }

    @Test func tls13DerivedSecretsFollowTheKeySchedule() {
        // Derive-Secret(handshake secret, "c hs traffic", transcript) needs the transcript hash;
        // "derived" from the early secret uses the empty hash: the handshake secret's salt.
        let emptyHash = bytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let derived = TLSKeySchedule.expandLabel(secret: bytes(RFC8448.earlySecret), label: "derived", context: emptyHash,
                                                 length: 32, hash: .sha256)
        #expect(derived == bytes("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"))
    }

    @Test func tls12PRFVectors() {
        let out256 = TLSKeySchedule.prf(secret: bytes(TLS12PRFVectors.sha256Secret), label: TLS12PRFVectors.label,
                                        seed: bytes(TLS12PRFVectors.sha256Seed), length: bytes(TLS12PRFVectors.sha256Output).count, hash: .sha256)
        #expect(out256 == bytes(TLS12PRFVectors.sha256Output))
        let out384 = TLSKeySchedule.prf(secret: bytes(TLS12PRFVectors.sha384Secret), label: TLS12PRFVectors.label,
                                        seed: bytes(TLS12PRFVectors.sha384Seed), length: bytes(TLS12PRFVectors.sha384Output).count, hash: .sha384)
        #expect(out384 == bytes(TLS12PRFVectors.sha384Output))
    }

    @Test func keyUpdateDerivesTheNextSecret() {
        let s0 = bytes(RFC8448.clientApplicationTrafficSecret0)
        let s1 = TLSKeySchedule.nextTrafficSecret(s0, hash: .sha256)
        #expect(s1 == TLSKeySchedule.expandLabel(secret: s0, label: "traffic upd", length: 32, hash: .sha256))
        #expect(s1 != s0 && s1.count == 32)
    }

    @Test func rfc8448RecordsDecrypt() throws {
        var server = RecordCipher(tls13Secret: bytes(RFC8448.serverHandshakeTrafficSecret), suite: suite, scratch: SealScratch())
        let record = bytes(RFC8448.serverHandshakeRecord)
        let opened = try record.withUnsafeBytes { r in
            try server.open(type: 23, version: 0x0303, fragment: UnsafeRawBufferPointer(rebasing: r[5...]))
        }
        #expect(opened.type == 22)
        #expect(opened.plaintext == bytes(RFC8448.serverHandshakeRecordPlaintext))
        // A flipped bit fails authentication instead of yielding garbage.
        var damaged = bytes(RFC8448.clientApplicationDataRecord)
        damaged[20] ^= 1
        var client = RecordCipher(tls13Secret: bytes(RFC8448.clientApplicationTrafficSecret0), suite: suite, scratch: SealScratch())
        #expect(throws: RecordError.authentication) {
            try damaged.withUnsafeBytes { r in _ = try client.open(type: 23, version: 0x0303, fragment: UnsafeRawBufferPointer(rebasing: r[5...])) }
        }
    }
}

/// The stage end to end on RFC 8448's simple 1-RTT handshake: the records in, the handshake's
/// messages and the application data out.
@Suite struct TLSSessionTests {
    func keyLog(omitting: Set<String> = []) -> TLSKeyLog {
        let log = TLSKeyLog()
        var text = ""
        for (label, secret) in [("CLIENT_HANDSHAKE_TRAFFIC_SECRET", RFC8448.clientHandshakeTrafficSecret),
                                ("SERVER_HANDSHAKE_TRAFFIC_SECRET", RFC8448.serverHandshakeTrafficSecret),
                                ("CLIENT_TRAFFIC_SECRET_0", RFC8448.clientApplicationTrafficSecret0),
                                ("SERVER_TRAFFIC_SECRET_0", RFC8448.serverApplicationTrafficSecret0)] where !omitting.contains(label) {
            text += "\(label) \(RFC8448.clientRandom) \(secret)\n"
        }
        log.add(text, source: "test")
        return log
    }

    struct Run {
        var items: [(Bool, TLSRecordEvent.Item)] = []
        var plaintext: [Bool: [UInt8]] = [true: [], false: []]
        var gaps = 0
    }

    /// Feeds the trace's records in their order, each in one piece or split at `split`.
    func run(_ session: TLSSession, split: Int? = nil) -> Run {
        var r = Run()
        let flow: [(Bool, String)] = [
            (true, RFC8448.clientHelloRecord), (false, RFC8448.serverHelloRecord), (false, RFC8448.serverHandshakeRecord),
            (true, RFC8448.clientFinishedRecord), (false, RFC8448.newSessionTicketRecord),
            (true, RFC8448.clientApplicationDataRecord), (false, RFC8448.serverApplicationDataRecord),
            (true, RFC8448.clientAlertRecord), (false, RFC8448.serverAlertRecord),
        ]
        var packet = 0
        for (fromClient, hex) in flow {
            let record = bytes(hex)
            let pieces: [ArraySlice<UInt8>] = split.map { s in s < record.count ? [record[..<s], record[s...]] : [record[...]] } ?? [record[...]]
            for piece in pieces {
                packet += 1
                Array(piece).withUnsafeBytes { b in
                    session.receive(b, fromClient: fromClient, packet: packet, time: Int64(packet)) { out in
                        switch out {
                        case let .record(e): for i in e.items { r.items.append((e.fromClient, i)) }
                        case let .plaintext(p, c): r.plaintext[c]! += Array(p)
                        case .gap: r.gaps += 1
                        }
                    }
                }
            }
        }
        return r
    }

    @Test(arguments: [nil, 1, 3, 5, 7, 100])
    func decryptsTheWholeTrace(split: Int?) {
        let session = TLSSession(keyLog: keyLog(), cache: TLSSessionCache())
        let r = run(session, split: split)
        #expect(r.plaintext[true] == bytes(RFC8448.clientApplicationDataPlaintext))
        #expect(r.plaintext[false] == bytes(RFC8448.serverApplicationDataPlaintext))
        #expect(session.info.decryption == .decrypted)
        #expect(session.info.version == 0x0304 && session.info.suite?.name == "TLS_AES_128_GCM_SHA256")
        #expect(session.info.serverName == "server")
        #expect(session.info.alerts.map(\.name) == ["close_notify", "close_notify"])
        #expect(session.info.alerts.allSatisfy { $0.decrypted })
        #expect(session.info.authenticationFailures == 0)
        let server = r.items.filter { !$0.0 }.map(\.1)
        #expect(server.contains(.handshake(type: 8, decrypted: true)))
        #expect(server.contains(.handshake(type: 20, decrypted: true)))
        #expect(server.contains(.handshake(type: 4, decrypted: true)))
        #expect(r.items.contains { $0.1 == .handshakeDone })
    }

    /// A TCP gap swallows the server's NewSessionTicket record: the next record is found again
    /// (a plausible header whose record authenticates a sequence number or two further on) and
    /// the data after the gap still decrypts; the WebSocket stage is told of the gap.
    @Test func recordsAreFoundAgainAfterAGap() {
        let session = TLSSession(keyLog: keyLog(), cache: TLSSessionCache())
        var plaintext: [Bool: [UInt8]] = [true: [], false: []]
        var gaps: [UInt64] = []
        let handle: (TLSOutput) -> Void = { out in
            switch out {
            case let .plaintext(p, c): plaintext[c]! += Array(p)
            case let .gap(n, _): gaps.append(n)
            case .record: break
            }
        }
        let flow: [(Bool, String)] = [
            (true, RFC8448.clientHelloRecord), (false, RFC8448.serverHelloRecord), (false, RFC8448.serverHandshakeRecord),
            (true, RFC8448.clientFinishedRecord), (false, ""),  // the ticket record is lost
            (true, RFC8448.clientApplicationDataRecord), (false, RFC8448.serverApplicationDataRecord),
        ]
        for (i, (fromClient, hex)) in flow.enumerated() {
            if hex.isEmpty {
                session.gap(UInt64(bytes(RFC8448.newSessionTicketRecord).count), fromClient: false, packet: i + 1, time: Int64(i), handle)
                continue
            }
            // The server's data arrives with 3 bytes of the lost record's tail before it.
            let data = (hex == RFC8448.serverApplicationDataRecord ? Array(bytes(RFC8448.newSessionTicketRecord).suffix(3)) : []) + bytes(hex)
            data.withUnsafeBytes { session.receive($0, fromClient: fromClient, packet: i + 1, time: Int64(i), handle) }
        }
        #expect(gaps.count == 1)
        #expect(plaintext[false] == bytes(RFC8448.serverApplicationDataPlaintext))
        #expect(plaintext[true] == bytes(RFC8448.clientApplicationDataPlaintext))
        #expect(session.info.authenticationFailures == 0)
    }

    @Test func missingKeyIsNamedWithTheClientRandom() {
        let session = TLSSession(keyLog: TLSKeyLog(), cache: TLSSessionCache())
        let r = run(session)
        #expect(session.info.decryption == .noKey)
        #expect(session.info.detail.contains(RFC8448.clientRandom))
        #expect(r.plaintext[true]!.isEmpty && r.plaintext[false]!.isEmpty)
        // Reported once per direction, then only counted.
        #expect(r.items.filter { if case .problem = $0.1 { return true } else { return false } }.count == 2)
    }

    @Test func wrongKeyFailsOncePerDirectionAndShowsNothing() {
        let log = TLSKeyLog()
        let bad = String(RFC8448.serverHandshakeTrafficSecret.reversed())
        log.add("SERVER_HANDSHAKE_TRAFFIC_SECRET \(RFC8448.clientRandom) \(bad)\nCLIENT_HANDSHAKE_TRAFFIC_SECRET \(RFC8448.clientRandom) \(bad)\n"
                + "CLIENT_TRAFFIC_SECRET_0 \(RFC8448.clientRandom) \(bad)\nSERVER_TRAFFIC_SECRET_0 \(RFC8448.clientRandom) \(bad)\n", source: "t")
        let session = TLSSession(keyLog: log, cache: TLSSessionCache())
        let r = run(session)
        #expect(session.info.decryption == .failed)
        #expect(r.plaintext[true]!.isEmpty && r.plaintext[false]!.isEmpty)
        let problems = r.items.filter { if case .problem = $0.1 { return true } else { return false } }
        #expect(problems.count == 2 && Set(problems.map(\.0)) == [true, false])
    }

    @Test func onlyTrafficSecretsStillDecryptTheData() {
        let session = TLSSession(keyLog: keyLog(omitting: ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET"]),
                                 cache: TLSSessionCache())
        let r = run(session)
        #expect(r.plaintext[true] == bytes(RFC8448.clientApplicationDataPlaintext))
        #expect(r.plaintext[false] == bytes(RFC8448.serverApplicationDataPlaintext))
        #expect(session.info.detail.contains("no handshake traffic secrets"))
    }

    /// A live capture's key log grows: a key that appears after the ServerHello still decrypts
    /// the records held meanwhile.
    @Test func keyThatAppearsLaterDecryptsHeldRecords() {
        let log = TLSKeyLog()
        var calls = 0
        let full = keyLog()
        log.refresh = {
            calls += 1
            guard calls == 3 else { return false }
            var text = ""
            for (label, secret) in [("CLIENT_HANDSHAKE_TRAFFIC_SECRET", RFC8448.clientHandshakeTrafficSecret),
                                    ("SERVER_HANDSHAKE_TRAFFIC_SECRET", RFC8448.serverHandshakeTrafficSecret),
                                    ("CLIENT_TRAFFIC_SECRET_0", RFC8448.clientApplicationTrafficSecret0),
                                    ("SERVER_TRAFFIC_SECRET_0", RFC8448.serverApplicationTrafficSecret0)] {
                text += "\(label) \(RFC8448.clientRandom) \(secret)\n"
            }
            log.add(text, source: "growing")
            return true
        }
        _ = full
        let session = TLSSession(keyLog: log, cache: TLSSessionCache())
        let r = run(session)
        #expect(calls >= 3)
        #expect(session.info.decryption == .decrypted)
        #expect(r.plaintext[true] == bytes(RFC8448.clientApplicationDataPlaintext))
        #expect(r.plaintext[false] == bytes(RFC8448.serverApplicationDataPlaintext))
    }

    @Test func keyThatNeverAppearsIsNoKeyAfterTheLimit() {
        let log = TLSKeyLog()
        log.refresh = { false }
        let session = TLSSession(keyLog: log, cache: TLSSessionCache(), limits: TLSLimits(maxHeldForKey: 64))
        let r = run(session)
        #expect(session.info.decryption == .noKey)
        #expect(r.plaintext[true]!.isEmpty)
    }
}

@Suite struct KeyLogTests {
    @Test func badLinesAreReportedWithTheirNumbersAndTheRestIsUsed() {
        let random = String(repeating: "ab", count: 32)
        let log = TLSKeyLog()
        log.add("""
            # a comment
            CLIENT_RANDOM \(random) \(String(repeating: "11", count: 48))
            CLIENT_RANDOM abcd \(String(repeating: "11", count: 48))
            SERVER_HANDSHAKE_TRAFFIC_SECRET \(random) zz
            CLIENT_TRAFFIC_SECRET_1 \(random) \(String(repeating: "22", count: 32))
            WHAT_IS_THIS \(random) 00
            CLIENT_RANDOM \(random)
            RSA 0011 2233
            """, source: "keys.txt")
        #expect(log.warnings.map(\.line) == [3, 4, 6, 7])
        #expect(log.warnings[0].description.hasPrefix("keys.txt:3:"))
        #expect(log.secrets(for: bytes(random))?.masterSecret == bytes(String(repeating: "11", count: 48)))
    }

    @Test func suitesAreNamedAsIANANamesThem() {
        #expect(CipherSuite.named(0xC02F).name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        #expect(CipherSuite.named(0x1303).name == "TLS_CHACHA20_POLY1305_SHA256")
        #expect(!CipherSuite.named(0x1304).isSupported)
        #expect(CipherSuite.named(0xABCD).name == "0xABCD")
    }
}
