/// Caps on what one TLS connection may make the stage hold.
public struct TLSLimits: Sendable, Equatable {
    /// Largest handshake message reassembled (certificate chains); past it the handshake of that
    /// direction is no longer parsed.
    public var maxHandshakeMessage: Int
    /// Records held per connection while its key has not appeared in a growing key log.
    public var maxHeldForKey: Int
    /// How long (capture time) records are held for a key before the connection is "no key".
    public var keyWaitNanoseconds: Int64
    /// Sequence numbers tried past the expected one to find the records again after a gap.
    public var resyncSequences: Int

    public init(maxHandshakeMessage: Int = 1 << 18, maxHeldForKey: Int = 1 << 20,
                keyWaitNanoseconds: Int64 = 10_000_000_000, resyncSequences: Int = 64) {
        self.maxHandshakeMessage = maxHandshakeMessage
        self.maxHeldForKey = maxHeldForKey
        self.keyWaitNanoseconds = keyWaitNanoseconds
        self.resyncSequences = resyncSequences
    }
}

/// Whether and how a connection's records were decrypted (the JSON `tls.decryption` words).
public enum TLSDecryption: String, Sendable {
    case decrypted = "decrypted"
    case noKey = "no key"
    case midstream = "mid-stream"
    case unsupportedSuite = "unsupported suite"
    case failed = "failed"
}

/// An alert seen on a connection.
public struct TLSAlertInfo: Sendable, Equatable {
    public var fromClient: Bool
    public var level: UInt8
    public var description: UInt8
    public var packet: Int
    /// The alert was decrypted (it travelled encrypted).
    public var decrypted: Bool

    public var isFatal: Bool { level == 2 }
    public var name: String { tlsAlertName(description) }
    public var levelName: String { tlsAlertLevelName(level) }
}

/// What one connection's TLS says, for its summary.
public struct TLSConnectionInfo: Sendable {
    public var version: UInt16?
    public var suite: CipherSuite?
    public var serverName: String?
    public var offeredALPN: [String] = []
    /// supported_versions of the ClientHello (empty: the legacy version field only).
    public var offeredVersions: [UInt16] = []
    /// The protocol the server chose (TLS 1.2 ServerHello, TLS 1.3 EncryptedExtensions).
    public var alpn: String?
    public var resumed = false
    /// "session ID", "ticket" or "PSK".
    public var resumption: String?
    public var helloRetry = false
    public var clientRandom: [UInt8]?
    public var decryption: TLSDecryption?
    /// Words for the decryption outcome: which key, or why none.
    public var detail = ""
    public var clientHelloPacket: Int?
    public var serverHelloPacket: Int?
    public var handshakeDonePacket: Int?
    public var alerts: [TLSAlertInfo] = []
    public var decryptedRecords = 0
    public var undecryptedRecords = 0
    public var authenticationFailures = 0
    public var keyUpdates = 0

    public var versionName: String? { version.map(tlsVersionName) }

    /// The handshake is under way: no ServerHello-to-Finished outcome yet, and the keys (if
    /// any) still show it.
    public var inHandshake: Bool {
        handshakeDonePacket == nil && (decryption == nil || decryption == .decrypted)
    }

    public init() {}
}

/// One row's worth of TLS facts from one direction.
public struct TLSRecordEvent: Sendable {
    public enum Item: Sendable, Equatable {
        case clientHello(serverName: String?, alpn: [String])
        case serverHello(version: UInt16, suite: String)
        case helloRetryRequest
        /// Any other handshake message, by type; `decrypted` when it travelled encrypted.
        case handshake(type: UInt8, decrypted: Bool)
        case changeCipherSpec
        case handshakeDone
        case alert(level: UInt8, description: UInt8, decrypted: Bool)
        /// Records not decrypted (no key, unsupported suite, failure, waiting for a key).
        case encrypted(records: Int, bytes: Int)
        /// Decrypted application data that went to the next stage.
        case applicationData(records: Int, bytes: Int)
        /// Why decryption stopped or could not start: reported once per direction.
        case problem(String)
    }
    public var fromClient: Bool
    public var items: [Item]
}

/// What the TLS stage hands on.
public enum TLSOutput {
    /// Facts for a TLS row.
    case record(TLSRecordEvent)
    /// Decrypted application bytes of one direction, valid during the call.
    case plaintext(UnsafeRawBufferPointer, fromClient: Bool)
    /// Application bytes lost (a TCP gap, or records that could not be decrypted after decryption
    /// had started): their size in ciphertext, for the next stage to resynchronise.
    case gap(UInt64, fromClient: Bool)
}

/// The TLS stage of one connection: TLS records over the reassembled TCP streams in, the
/// decrypted application bytes and TLS facts out. Pure: keys come from a `TLSKeyLog`, time from
/// packets.
public final class TLSSession {
    private final class Direction {
        var pending: [UInt8] = []
        var handshake: [UInt8] = []
        var handshakeBroken = false
        var cipher: RecordCipher?
        /// Records of type 23 (and, in TLS 1.2, every record after ChangeCipherSpec) are encrypted.
        var protected = false
        /// TLS 1.3 traffic secret in use after the handshake (for KeyUpdate).
        var secret: [UInt8]?
        var applicationSecret: [UInt8]?
        var finished = false
        var problemReported = false
        var consecutiveFailures = 0
        /// Gave up decrypting this direction: encrypted records are only counted.
        var givenUp = false
        /// The bytes stopped looking like TLS records: everything is only counted.
        var streamLost = false
        /// A TCP gap broke the record boundaries: look for them again.
        var lostSync = false
        var switchToApplication = false
        var keyUpdate = false
        var items: [TLSRecordEvent.Item] = []
        var encryptedRecords = 0
        var encryptedBytes = 0
        var applicationRecords = 0
        var applicationBytes = 0
    }

    public let limits: TLSLimits
    private let keyLog: TLSKeyLog?
    private let cache: any TLSSessionStore
    private let scratch: SealScratch
    private let client = Direction()
    private let server = Direction()
    private var clientHello: ClientHelloInfo?
    private var serverHello: ServerHelloInfo?
    private var suite: CipherSuite?
    private var isTLS13 = false
    /// The server sent Certificate / ServerKeyExchange / ServerHelloDone: a full TLS 1.2 handshake.
    private var fullHandshake = false
    private var tls12Ciphers: (client: RecordCipher, server: RecordCipher)?
    private var master: [UInt8]?
    private var pendingTickets: [[UInt8]] = []
    /// Waiting for a key log that grows (live capture): records held in arrival order.
    private var waitingSince: Int64?
    private var held: [(fromClient: Bool, record: [UInt8])] = []
    private var heldBytes = 0
    private var packet = 0
    private var time: Int64 = 0
    public private(set) var info = TLSConnectionInfo()

    /// `scratch`: one per analysis thread, shared by its connections.
    public init(keyLog: TLSKeyLog?, cache: any TLSSessionStore, limits: TLSLimits = TLSLimits(), scratch: SealScratch = SealScratch()) {
        self.keyLog = keyLog
        self.cache = cache
        self.scratch = scratch
        self.limits = limits
    }

    /// Whether `bytes`, the first of a connection, start a TLS handshake record.
    public static func startsHandshake(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 1, bytes[0] == 0x16 else { return false }
        if bytes.count >= 2 && bytes[1] != 0x03 { return false }
        if bytes.count >= 3 && bytes[2] > 0x04 { return false }
        return true
    }

    // MARK: - Input

    /// Reassembled bytes of one direction, in stream order.
    public func receive(_ bytes: UnsafeRawBufferPointer, fromClient: Bool, packet: Int, time: Int64,
                        _ emit: (TLSOutput) -> Void) {
        self.packet = packet
        self.time = time
        checkWaiting(emit)
        let d = dir(fromClient)
        var rest = bytes
        if d.lostSync {
            d.pending.append(contentsOf: rest)
            rest = UnsafeRawBufferPointer(start: nil, count: 0)
            resync(fromClient, emit)
        }
        // A record begun in an earlier chunk: complete it with only the bytes it needs, so that
        // the rest of the chunk is read in place.
        while !d.pending.isEmpty && !d.lostSync {
            var need = 5
            if d.pending.count >= 5 { need += Int(d.pending[3]) << 8 | Int(d.pending[4]) }
            if d.pending.count < need && rest.count > 0 {
                let take = min(need - d.pending.count, rest.count)
                d.pending.append(contentsOf: rest[..<take])
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                continue  // the header may just have become whole
            }
            if d.pending.count < need { break }
            var held: [UInt8] = []
            swap(&held, &d.pending)
            let used = held.withUnsafeBytes { records($0, fromClient: fromClient, emit) }
            if used < held.count { d.pending = Array(held[used...]) }
        }
        if d.pending.isEmpty && !d.lostSync && rest.count > 0 {
            let used = records(rest, fromClient: fromClient, emit)
            if used < rest.count { d.pending.append(contentsOf: rest[used...]) }
        }
        flush(fromClient, emit)
    }

    /// Bytes lost in the capture in one direction.
    public func gap(_ size: UInt64, fromClient: Bool, packet: Int, time: Int64, _ emit: (TLSOutput) -> Void) {
        self.packet = packet
        self.time = time
        var decrypting = false
        withDirection(fromClient) { d in
            d.pending = []
            d.handshake = []
            if d.cipher != nil && !d.givenUp { d.lostSync = true; decrypting = true }
        }
        if decrypting { emit(.gap(size, fromClient: fromClient)) }
        flush(fromClient, emit)
    }

    /// The direction ended (FIN, RST or end of capture).
    public func end(fromClient: Bool, packet: Int, _ emit: (TLSOutput) -> Void) {
        self.packet = packet
        withDirection(fromClient) { d in
            if !d.pending.isEmpty && !d.lostSync {
                d.items.append(.problem("TLS record incomplete at the end (\(d.pending.count) bytes)"))
            }
            d.pending = []
        }
        if waitingSince != nil && !fromClient { giveUpWaiting(emit) }
        flush(fromClient, emit)
    }

    /// Called at the end of input: a key never found while waiting is "no key".
    public func finish(_ emit: (TLSOutput) -> Void) {
        if waitingSince != nil { giveUpWaiting(emit) }
    }

    // MARK: - Records

    private func dir(_ fromClient: Bool) -> Direction { fromClient ? client : server }

    private func withDirection<R>(_ fromClient: Bool, _ body: (Direction) -> R) -> R {
        body(fromClient ? client : server)
    }

    /// Handles the complete records at the start of `bytes`; returns the bytes used.
    private func records(_ bytes: UnsafeRawBufferPointer, fromClient: Bool, _ emit: (TLSOutput) -> Void) -> Int {
        if dir(fromClient).streamLost {
            dir(fromClient).encryptedBytes += bytes.count
            return bytes.count
        }
        var at = 0
        while bytes.count - at >= 5 {
            let length = Int(bytes[at + 3]) << 8 | Int(bytes[at + 4])
            if !TLSSession.plausibleHeader(bytes, at) {
                withDirection(fromClient) { d in
                    if !d.problemReported {
                        d.problemReported = true
                        d.items.append(.problem("not a TLS record header at stream byte \(at): TLS stream lost"))
                    }
                    d.givenUp = true
                    d.streamLost = true
                    d.encryptedBytes += bytes.count - at
                }
                return bytes.count
            }
            guard bytes.count - at >= 5 + length else { break }
            record(UnsafeRawBufferPointer(rebasing: bytes[at..<(at + 5 + length)]), fromClient: fromClient, emit)
            at += 5 + length
        }
        return at
    }

    static func plausibleHeader(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        let type = bytes[at]
        guard type >= 20 && type <= 24, bytes[at + 1] == 3, bytes[at + 2] <= 4 else { return false }
        let length = Int(bytes[at + 3]) << 8 | Int(bytes[at + 4])
        return length <= (1 << 14) + 2048
    }

    private func record(_ record: UnsafeRawBufferPointer, fromClient: Bool, _ emit: (TLSOutput) -> Void) {
        let type = record[0]
        let version = UInt16(record[1]) << 8 | UInt16(record[2])
        let fragment = UnsafeRawBufferPointer(rebasing: record[5...])
        let d = dir(fromClient)
        // TLS 1.3 keeps ChangeCipherSpec (middlebox compatibility) and early plaintext alerts in
        // the clear; TLS 1.2 encrypts everything after ChangeCipherSpec.
        let encrypted = d.protected && !(isTLS13 && (type == 20 || (type == 21 && fragment.count == 2)))
            && (isTLS13 ? type == 23 : true)
        guard encrypted else {
            // Records in the clear are read even when decryption gave up (a plaintext alert
            // that ends a failed handshake, ChangeCipherSpec).
            content(type: type, fromClient: fromClient, decrypted: false, fragment, emit)
            return
        }
        if d.givenUp {
            count(fromClient, bytes: record.count)
            return
        }
        if waitingSince != nil {
            hold(fromClient, record, emit)
            return
        }
        guard d.cipher != nil else {
            // TLS 1.3 with only the traffic secrets: the handshake is skipped, data is tried.
            if isTLS13, let secret = d.applicationSecret, let suite {
                var trial = RecordCipher(tls13Secret: secret, suite: suite, scratch: scratch)
                if let opened = try? trial.open(type: type, version: version, fragment: fragment) {
                    withDirection(fromClient) { d in
                        d.cipher = trial
                        d.secret = secret
                        d.applicationSecret = nil
                    }
                    info.decryptedRecords += 1
                    opened.withContent { content(type: opened.type, fromClient: fromClient, decrypted: true, $0, emit) }
                    return
                }
            }
            count(fromClient, bytes: record.count)
            return
        }
        do {
            // In place: a copy of the cipher would retain its key, IV and scratch for every record.
            let opened = try d.cipher!.open(type: type, version: version, fragment: fragment)
            d.consecutiveFailures = 0
            info.decryptedRecords += 1
            opened.withContent { content(type: opened.type, fromClient: fromClient, decrypted: true, $0, emit) }
        } catch {
            info.authenticationFailures += 1
            d.cipher!.sequence &+= 1
            let side = fromClient ? "client" : "server"
            withDirection(fromClient) { d in
                d.consecutiveFailures += 1
                if !d.problemReported {
                    d.problemReported = true
                    d.items.append(.problem(error == .authentication
                        ? "decryption failed (\(side) record did not authenticate: wrong key or damaged record)"
                        : "decryption failed (malformed \(side) record)"))
                }
                if d.consecutiveFailures >= 2 { d.givenUp = true }
            }
            if info.decryption == .decrypted && info.decryptedRecords == 0 || dir(fromClient).givenUp {
                if info.decryption == .decrypted {
                    info.decryption = .failed
                    info.detail = "the key log's secrets do not decrypt the \(side)'s records"
                }
            }
            count(fromClient, bytes: record.count)
            emit(.gap(UInt64(fragment.count), fromClient: fromClient))
        }
        // Key changes take effect after the record that announced them.
        applyKeyChanges(fromClient)
    }

    private func count(_ fromClient: Bool, bytes: Int) {
        info.undecryptedRecords += 1
        withDirection(fromClient) { d in
            d.encryptedRecords += 1
            d.encryptedBytes += bytes
        }
    }

    /// The content of a record (decrypted or in the clear).
    private func content(type: UInt8, fromClient: Bool, decrypted: Bool, _ bytes: UnsafeRawBufferPointer,
                         _ emit: (TLSOutput) -> Void) {
        switch type {
        case 22:
            handshakeBytes(bytes, fromClient: fromClient, decrypted: decrypted, emit)
        case 20:
            dir(fromClient).items.append(.changeCipherSpec)
            // Before the ServerHello (after a HelloRetryRequest) it is TLS 1.3's compatibility CCS.
            if !isTLS13 && serverHello != nil { changeCipherSpec(fromClient, emit) }
        case 21:
            guard bytes.count >= 2 else { return }
            let alert = TLSAlertInfo(fromClient: fromClient, level: bytes[0], description: bytes[1], packet: packet,
                                     decrypted: decrypted)
            info.alerts.append(alert)
            if alert.isFatal && info.handshakeDonePacket == nil && info.decryption == nil && waitingSince == nil {
                info.detail = "the handshake ended with a fatal alert (\(alert.name)) before any record needed a key"
            }
            dir(fromClient).items.append(.alert(level: bytes[0], description: bytes[1], decrypted: decrypted))
        case 23:
            if decrypted {
                withDirection(fromClient) { d in
                    d.applicationRecords += 1
                    d.applicationBytes += bytes.count
                }
                flush(fromClient, emit, keepApplicationData: true)
                if bytes.count > 0 { emit(.plaintext(bytes, fromClient: fromClient)) }
            } else {
                count(fromClient, bytes: bytes.count + 5)
            }
        default:
            break
        }
    }

    // MARK: - Handshake

    private func handshakeBytes(_ bytes: UnsafeRawBufferPointer, fromClient: Bool, decrypted: Bool,
                                _ emit: (TLSOutput) -> Void) {
        guard !dir(fromClient).handshakeBroken else { return }
        var buffer = dir(fromClient).handshake
        buffer.append(contentsOf: bytes)
        var at = 0
        while buffer.count - at >= 4 {
            let length = Int(buffer[at + 1]) << 16 | Int(buffer[at + 2]) << 8 | Int(buffer[at + 3])
            if length > limits.maxHandshakeMessage {
                withDirection(fromClient) { d in
                    d.handshakeBroken = true
                    d.items.append(.problem("handshake message of \(length) bytes exceeds the \(limits.maxHandshakeMessage)-byte cap"))
                }
                buffer = []
                at = 0
                break
            }
            guard buffer.count - at >= 4 + length else { break }
            handshakeMessage(buffer[at], body: buffer[(at + 4)..<(at + 4 + length)], fromClient: fromClient,
                             decrypted: decrypted, emit)
            at += 4 + length
        }
        buffer.removeFirst(at)
        dir(fromClient).handshake = buffer
    }

    private func handshakeMessage(_ type: UInt8, body: ArraySlice<UInt8>, fromClient: Bool, decrypted: Bool,
                                  _ emit: (TLSOutput) -> Void) {
        func item(_ i: TLSRecordEvent.Item) { dir(fromClient).items.append(i) }
        switch type {
        case 1 where fromClient:
            guard let hello = ClientHelloInfo.parse(body) else { item(.handshake(type: type, decrypted: decrypted)); return }
            if clientHello == nil {
                clientHello = hello
                info.clientRandom = hello.random
                info.serverName = hello.serverName
                info.offeredALPN = hello.alpn
                info.offeredVersions = hello.versions
                info.clientHelloPacket = packet
            }
            item(.clientHello(serverName: hello.serverName, alpn: hello.alpn))
        case 2 where !fromClient:
            guard let hello = ServerHelloInfo.parse(body) else { item(.handshake(type: type, decrypted: decrypted)); return }
            if hello.isHelloRetryRequest {
                // Only TLS 1.3 retries a hello; the next ServerHello is the real one.
                info.helloRetry = true
                info.version = hello.version
                item(.helloRetryRequest)
                return
            }
            guard serverHello == nil else { item(.handshake(type: type, decrypted: decrypted)); return }
            serverHello = hello
            let suite = CipherSuite.named(hello.suite)
            self.suite = suite
            info.version = hello.version
            info.suite = suite
            info.serverHelloPacket = packet
            if let alpn = hello.alpn { info.alpn = alpn }
            item(.serverHello(version: hello.version, suite: suite.name))
            isTLS13 = hello.version == 0x0304
            if isTLS13 {
                info.resumed = hello.acceptsPSK
                if hello.acceptsPSK { info.resumption = "PSK" }
                client.protected = true
                server.protected = true
                setUpTLS13(emit)
            } else if hello.version != 0x0303 {
                info.decryption = .unsupportedSuite
                info.detail = "\(tlsVersionName(hello.version)) is not decrypted (TLS 1.2 and 1.3 are)"
            }
        case 8:
            if let alpn = encryptedExtensionsALPN(body) { info.alpn = alpn }
            item(.handshake(type: type, decrypted: decrypted))
        case 11, 12, 14:
            if !fromClient { fullHandshake = true }
            item(.handshake(type: type, decrypted: decrypted))
        case 4:
            if !isTLS13, let ticket = tls12Ticket(body), !ticket.isEmpty {
                if let master { cache.remember(ticket: ticket, master: master) } else { pendingTickets.append(ticket) }
            }
            item(.handshake(type: type, decrypted: decrypted))
        case 20:
            item(.handshake(type: type, decrypted: decrypted))
            withDirection(fromClient) { d in
                d.finished = true
                if isTLS13 { d.switchToApplication = true }
            }
            if client.finished && server.finished && info.handshakeDonePacket == nil {
                info.handshakeDonePacket = packet
                item(.handshakeDone)
            }
        case 24:
            info.keyUpdates += 1
            item(.handshake(type: type, decrypted: decrypted))
            if isTLS13 { dir(fromClient).keyUpdate = true }
        default:
            item(.handshake(type: type, decrypted: decrypted))
        }
    }

    private func applyKeyChanges(_ fromClient: Bool) {
        guard isTLS13, let suite else { return }
        withDirection(fromClient) { d in
            if d.switchToApplication {
                d.switchToApplication = false
                if let secret = d.applicationSecret {
                    d.cipher = RecordCipher(tls13Secret: secret, suite: suite, scratch: scratch)
                    d.secret = secret
                    d.applicationSecret = nil
                } else {
                    d.cipher = nil
                }
            }
            if d.keyUpdate {
                d.keyUpdate = false
                if let secret = d.secret {
                    let next = TLSKeySchedule.nextTrafficSecret(secret, hash: suite.hash)
                    d.secret = next
                    d.cipher = RecordCipher(tls13Secret: next, suite: suite, scratch: scratch)
                }
            }
        }
    }

    private var randomText: String {
        guard let r = info.clientRandom else { return "(no ClientHello captured)" }
        return tlsHex(r)
    }

    /// TLS 1.3: the handshake and application keys from the key log, at the ServerHello.
    private func setUpTLS13(_ emit: (TLSOutput) -> Void) {
        guard let suite, suite.isSupported else {
            info.decryption = .unsupportedSuite
            info.detail = "cipher suite \(suite?.name ?? "?") is not supported for decryption"
            return
        }
        guard let random = clientHello?.random else {
            info.decryption = .noKey
            info.detail = "no ClientHello captured: the client random is unknown"
            return
        }
        guard let secrets = keyLog?.secrets(for: random),
              secrets.clientHandshake != nil || secrets.clientTraffic0 != nil
                || secrets.serverHandshake != nil || secrets.serverTraffic0 != nil else {
            if keyLog?.grows == true {
                waitingSince = time
                return
            }
            noKey()
            return
        }
        install13(secrets, suite: suite)
    }

    private func install13(_ secrets: TLSSecrets, suite: CipherSuite) {
        client.cipher = secrets.clientHandshake.map { RecordCipher(tls13Secret: $0, suite: suite, scratch: scratch) }
        server.cipher = secrets.serverHandshake.map { RecordCipher(tls13Secret: $0, suite: suite, scratch: scratch) }
        client.applicationSecret = secrets.clientTraffic0
        server.applicationSecret = secrets.serverTraffic0
        info.decryption = .decrypted
        var missing: [String] = []
        if secrets.clientHandshake == nil || secrets.serverHandshake == nil { missing.append("handshake") }
        if secrets.clientTraffic0 == nil || secrets.serverTraffic0 == nil { missing.append("application") }
        info.detail = "TLS 1.3 secrets for client random \(randomText.prefix(16))…"
            + (missing.isEmpty ? "" : " (no \(missing.joined(separator: " or ")) traffic secrets in the key log)")
        // A side with no secret at all (a client that failed before deriving its own keys
        // logs only the server's) is counted, not decrypted; the other side still is.
        for (fromClient, has) in [(true, secrets.clientHandshake != nil || secrets.clientTraffic0 != nil),
                                  (false, secrets.serverHandshake != nil || secrets.serverTraffic0 != nil)] where !has {
            let d = dir(fromClient)
            d.givenUp = true
            d.problemReported = true
            d.items.append(.problem("no key in the key log for the \(fromClient ? "client" : "server")'s records"))
        }
    }

    private func noKey() {
        info.decryption = .noKey
        if info.resumption == "PSK" {
            info.detail = "TLS 1.3 PSK resumption: the key log has no lines for client random \(randomText) (each resumed connection needs its own)"
        } else {
            // Only a TLS 1.2 session is resumed without PSK: its earlier session was not found.
            info.detail = "no key in the key log for client random \(randomText)"
                + (info.resumed ? ", and no earlier session in the capture to resume" : "")
        }
        for fromClient in [true, false] {
            withDirection(fromClient) { d in
                if !d.problemReported {
                    d.problemReported = true
                    d.items.append(.problem(info.detail))
                }
                d.givenUp = true
            }
        }
    }

    /// TLS 1.2: a ChangeCipherSpec turns on its sender's decryption; the first one looks up the
    /// master secret (the key log's line, else the session it resumes).
    private func changeCipherSpec(_ fromClient: Bool, _ emit: (TLSOutput) -> Void) {
        dir(fromClient).protected = true
        if tls12Ciphers == nil && info.decryption == nil && waitingSince == nil { setUpTLS12(emit) }
        guard let pair = tls12Ciphers else { return }
        withDirection(fromClient) { d in
            d.cipher = fromClient ? pair.client : pair.server
        }
    }

    private func setUpTLS12(_ emit: (TLSOutput) -> Void) {
        guard let clientHello, let serverHello, let suite else {
            info.decryption = .noKey
            info.detail = "no ClientHello/ServerHello captured: cannot decrypt"
            return
        }
        guard suite.isSupported else {
            info.decryption = .unsupportedSuite
            info.detail = "cipher suite \(suite.name) is not supported for decryption"
            return
        }
        info.resumed = !fullHandshake
        var found = keyLog?.secrets(for: clientHello.random)?.masterSecret
        var source = "CLIENT_RANDOM \(randomText.prefix(16))…"
        if info.resumed {
            if let m = cache.master(ticket: clientHello.ticket) {
                info.resumption = "ticket"
                if found == nil { found = m; source = "the session it resumes by ticket" }
            } else if !serverHello.sessionID.isEmpty && serverHello.sessionID == clientHello.sessionID {
                info.resumption = "session ID"
                if found == nil, let m = cache.master(sessionID: serverHello.sessionID) {
                    found = m
                    source = "the session it resumes (ID \(tlsHex(serverHello.sessionID.prefix(8)))…)"
                }
            } else if !clientHello.ticket.isEmpty {
                info.resumption = "ticket"
            }
        }
        guard let master = found else {
            if keyLog?.grows == true {
                waitingSince = time
                return
            }
            noKey()
            return
        }
        install12(master: master, source: source)
    }

    private func install12(master: [UInt8], source: String) {
        guard let clientHello, let serverHello, let suite,
              let pair = RecordCipher.tls12Pair(master: master, clientRandom: clientHello.random,
                                                serverRandom: serverHello.random, suite: suite,
                                                encryptThenMAC: serverHello.encryptThenMAC, scratch: scratch) else { return }
        self.master = master
        tls12Ciphers = pair
        cache.remember(sessionID: serverHello.sessionID, master: master)
        for t in pendingTickets { cache.remember(ticket: t, master: master) }
        pendingTickets = []
        info.decryption = .decrypted
        info.detail = "master secret from \(source)"
        if serverHello.encryptThenMAC, case .aesCBC? = suite.protection { info.detail += ", encrypt_then_mac" }
        if client.protected { client.cipher = pair.client }
        if server.protected { server.cipher = pair.server }
    }

    // MARK: - Waiting for a key (live capture)

    private func hold(_ fromClient: Bool, _ record: UnsafeRawBufferPointer, _ emit: (TLSOutput) -> Void) {
        held.append((fromClient, Array(record)))
        heldBytes += record.count
        withDirection(fromClient) { d in
            d.encryptedRecords += 1
            d.encryptedBytes += record.count
        }
        if heldBytes > limits.maxHeldForKey { giveUpWaiting(emit) }
    }

    private func checkWaiting(_ emit: (TLSOutput) -> Void) {
        guard let since = waitingSince, let random = clientHello?.random else { return }
        if let secrets = keyLog?.secrets(for: random),
           isTLS13 ? (secrets.clientHandshake != nil || secrets.clientTraffic0 != nil) : secrets.masterSecret != nil {
            waitingSince = nil
            if isTLS13, let suite {
                install13(secrets, suite: suite)
                info.detail += " (appeared in the key log after the ServerHello)"
            } else if let m = secrets.masterSecret {
                install12(master: m, source: "CLIENT_RANDOM \(randomText.prefix(16))… (appeared in the key log after the ServerHello)")
            }
            let records = held
            held = []
            heldBytes = 0
            for (fromClient, bytes) in records {
                withDirection(fromClient) { d in
                    d.encryptedRecords = 0
                    d.encryptedBytes = 0
                }
                bytes.withUnsafeBytes { record($0, fromClient: fromClient, emit) }
                flush(fromClient, emit)
            }
        } else if time - since > limits.keyWaitNanoseconds {
            giveUpWaiting(emit)
        }
    }

    private func giveUpWaiting(_ emit: (TLSOutput) -> Void) {
        waitingSince = nil
        info.undecryptedRecords += held.count
        held = []
        heldBytes = 0
        noKey()
    }

    // MARK: - After a gap

    /// Finds the next record after lost bytes: a plausible header whose record decrypts with a
    /// sequence number a little past the expected one.
    private func resync(_ fromClient: Bool, _ emit: (TLSOutput) -> Void) {
        guard var cipher = dir(fromClient).cipher else { return }
        let pending = dir(fromClient).pending
        var found: Int?
        pending.withUnsafeBytes { bytes in
            var at = 0
            while bytes.count - at >= 5 && found == nil {
                if bytes[at] == 23 && TLSSession.plausibleHeader(bytes, at) {
                    let length = Int(bytes[at + 3]) << 8 | Int(bytes[at + 4])
                    if bytes.count - at < 5 + length { break }  // wait for the whole record
                    let version = UInt16(bytes[at + 1]) << 8 | UInt16(bytes[at + 2])
                    let fragment = UnsafeRawBufferPointer(rebasing: bytes[(at + 5)..<(at + 5 + length)])
                    for step in 0...limits.resyncSequences {
                        let seq = cipher.sequence &+ UInt64(step)
                        if (try? cipher.open(type: 23, version: version, fragment: fragment, sequence: seq)) != nil {
                            cipher.sequence = seq
                            found = at
                            break
                        }
                    }
                }
                if found == nil { at += 1 }
            }
        }
        withDirection(fromClient) { d in
            if let at = found {
                d.cipher = cipher
                d.lostSync = false
                d.pending.removeFirst(at)
            } else if d.pending.count > 4 * ((1 << 14) + 2048) {
                d.lostSync = false
                d.givenUp = true
                d.items.append(.problem("TLS records not found again after a gap: the rest of this direction is not decrypted"))
            }
        }
    }

    // MARK: - Output

    private func flush(_ fromClient: Bool, _ emit: (TLSOutput) -> Void, keepApplicationData: Bool = false) {
        var items: [TLSRecordEvent.Item] = []
        withDirection(fromClient) { d in
            items = d.items
            d.items = []
            if d.encryptedRecords > 0 {
                items.append(.encrypted(records: d.encryptedRecords, bytes: d.encryptedBytes))
                d.encryptedRecords = 0
                d.encryptedBytes = 0
            }
            if !keepApplicationData && d.applicationRecords > 0 && !items.isEmpty {
                items.append(.applicationData(records: d.applicationRecords, bytes: d.applicationBytes))
            }
            if !keepApplicationData {
                d.applicationRecords = 0
                d.applicationBytes = 0
            }
        }
        if !items.isEmpty { emit(.record(TLSRecordEvent(fromClient: fromClient, items: items))) }
    }
}
