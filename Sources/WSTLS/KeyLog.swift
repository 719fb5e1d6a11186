import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The secrets an NSS key log holds for one client random.
public struct TLSSecrets: Sendable, Equatable {
    /// TLS 1.2: CLIENT_RANDOM (48-byte master secret).
    public var masterSecret: [UInt8]?
    public var clientHandshake: [UInt8]?
    public var serverHandshake: [UInt8]?
    public var clientTraffic0: [UInt8]?
    public var serverTraffic0: [UInt8]?
    public var clientEarly: [UInt8]?
    public init() {}
}

/// A line of a key log that could not be used, with where it was.
public struct TLSKeyLogWarning: Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var reason: String
    public var description: String { "\(source):\(line): \(reason)" }
}

/// Where the TLS stage finds its secrets: a key log (file, pcapng Decryption Secrets Blocks, or
/// both), looked up by client random. Lines are added before the analysis starts, or, for a
/// live capture whose key log grows, by `refresh` when a lookup misses.
public final class TLSKeyLog: @unchecked Sendable {
    private var table: [ClientRandom: TLSSecrets] = [:]
    public private(set) var warnings: [TLSKeyLogWarning] = []
    /// Called on a miss; adds whatever lines appeared since and says whether any did. Set by a
    /// live capture; nil for saved files (their key log is complete before the first packet).
    public var refresh: (() -> Bool)?

    public init() {}

    /// Client randoms with at least one secret.
    public var count: Int { table.count }
    /// Whether a lookup that misses may succeed later (the key log may still grow).
    public var grows: Bool { refresh != nil }

    /// The secrets for a client random, nil when the key log has none.
    public func secrets(for clientRandom: [UInt8]) -> TLSSecrets? {
        guard let key = clientRandom.withUnsafeBytes({ ClientRandom($0) }) else { return nil }
        if let s = lock.withLock({ _ in table[key] }) { return s }
        if let refresh, refresh() { return lock.withLock { _ in table[key] } }
        return nil
    }

    /// Lines may be added while the analysis looks secrets up: a capture read as a stream
    /// brings its Decryption Secrets Blocks as the reading reaches them, on whichever thread
    /// reads (a lookup is made once or twice a connection).
    private let lock = Mutex<Void>(())

    /// Adds the lines of a key log text. `source` names it in warnings; `firstLine` numbers the
    /// first line (a live key log read in pieces). Parsed as bytes: a browser's key log can hold
    /// hundreds of thousands of lines, and the key log is read before any packet (on one thread,
    /// while the workers of a parallel run wait).
    public func add(_ text: String, source: String, firstLine: Int = 1) {
        var text = text
        lock.withLock { _ in
            text.withUTF8 { add(bytes: UnsafeRawBufferPointer($0), source: source, firstLine: firstLine) }
        }
    }

    private func add(bytes: UnsafeRawBufferPointer, source: String, firstLine: Int) {
        guard let base = bytes.baseAddress else {
            addLine(bytes, number: firstLine, source: source)
            return
        }
        var number = firstLine - 1
        var start = 0
        while start <= bytes.count {
            let end = memchr(base + start, 0x0A, bytes.count - start).map { UnsafeRawPointer($0) - base } ?? bytes.count
            number += 1
            addLine(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), number: number, source: source)
            if end >= bytes.count { break }
            start = end + 1
        }
    }

    private func addLine(_ raw: UnsafeRawBufferPointer, number: Int, source: String) {
        var line = raw
        if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        // Fields separated by spaces or tabs: the first three, and whether there are more.
        var fields = (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0),
                      UnsafeRawBufferPointer(start: nil, count: 0))
        var found = 0
        var i = 0
        while i < line.count {
            while i < line.count && (line[i] == 0x20 || line[i] == 0x09) { i += 1 }
            guard i < line.count else { break }
            let fieldStart = i
            while i < line.count && line[i] != 0x20 && line[i] != 0x09 { i += 1 }
            let field = UnsafeRawBufferPointer(rebasing: line[fieldStart..<i])
            switch found {
            case 0: fields.0 = field
            case 1: fields.1 = field
            case 2: fields.2 = field
            default: break
            }
            found += 1
            if found > 3 { break }
        }
        if found == 0 || fields.0.first == UInt8(ascii: "#") { return }
        func warn(_ reason: String) { warnings.append(TLSKeyLogWarning(source: source, line: number, reason: reason)) }
        guard found == 3 else {
            warn(found > 3 ? "expected LABEL CLIENT_RANDOM SECRET, found more than 3 fields"
                           : "expected LABEL CLIENT_RANDOM SECRET, found \(found) field(s)")
            return
        }
        let label = fields.0
        // RSA lines key a pre-master secret by encrypted prefix, not by client random: not ours.
        if Self.spells(label, "RSA") || Self.spells(label, "PMS_CLIENT_RANDOM") { return }
        guard fields.1.count == 64, let random = Self.clientRandom(hex: fields.1) else {
            warn("client random is not 32 bytes of hex")
            return
        }
        guard let secret = TLSKeyLog.hexBytes(fields.2), !secret.isEmpty else {
            warn("secret is not hex")
            return
        }
        // The secret's place in the client random's entry, by label.
        let field: WritableKeyPath<TLSSecrets, [UInt8]?>
        if Self.spells(label, "CLIENT_RANDOM") {
            guard secret.count == 48 else { warn("CLIENT_RANDOM master secret is \(secret.count) bytes, not 48"); return }
            field = \.masterSecret
        } else if Self.spells(label, "CLIENT_HANDSHAKE_TRAFFIC_SECRET") {
            field = \.clientHandshake
        } else if Self.spells(label, "SERVER_HANDSHAKE_TRAFFIC_SECRET") {
            field = \.serverHandshake
        } else if Self.spells(label, "CLIENT_TRAFFIC_SECRET_0") {
            field = \.clientTraffic0
        } else if Self.spells(label, "SERVER_TRAFFIC_SECRET_0") {
            field = \.serverTraffic0
        } else if Self.spells(label, "CLIENT_EARLY_TRAFFIC_SECRET") {
            field = \.clientEarly
        } else if Self.spells(label, "EXPORTER_SECRET") || Self.spells(label, "EARLY_EXPORTER_SECRET")
                    || Self.spells(label, "EARLY_EXPORTER_MASTER_SECRET") {
            return
        } else {
            let label = String(decoding: label, as: UTF8.self)
            // OpenSSL 3 logs the secrets after a KeyUpdate (…_TRAFFIC_SECRET_N): they are
            // derived here instead, so the line is tolerated.
            if (label.hasPrefix("CLIENT_TRAFFIC_SECRET_") || label.hasPrefix("SERVER_TRAFFIC_SECRET_")),
               label.split(separator: "_").last.flatMap({ Int($0) }) != nil {
                return
            }
            warn("unknown label \(label.prefix(40))")
            return
        }
        table[random, default: TLSSecrets()][keyPath: field] = secret
    }

    /// Whether `field` is exactly the bytes of `word`.
    @inline(__always)
    private static func spells(_ field: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        field.count == word.utf8CodeUnitCount && memcmp(field.baseAddress!, word.utf8Start, field.count) == 0
    }

    /// The 64 hex digits of a client random (nil: not hex).
    private static func clientRandom(hex: UnsafeRawBufferPointer) -> ClientRandom? {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { out -> ClientRandom? in
            decodeHex(hex, into: out.baseAddress!) ? ClientRandom(UnsafeRawBufferPointer(out)) : nil
        }
    }

    static func hexBytes(_ s: UnsafeRawBufferPointer) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: s.count / 2) { buffer, initialized in
            valid = decodeHex(s, into: UnsafeMutableRawPointer(buffer.baseAddress!))
            initialized = valid ? s.count / 2 : 0
        }
        return valid ? out : nil
    }

    /// Writes the bytes of the hex digits `hex` (an even count of them) at `out`; false at the
    /// first byte that is not a hex digit.
    @inline(__always)
    private static func decodeHex(_ hex: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Bool {
        guard let p = hex.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        for k in 0..<(hex.count / 2) {
            let high = nibble(p[2 * k]), low = nibble(p[2 * k + 1])
            guard high | low < 16 else { return false }
            out.storeBytes(of: high << 4 | low, toByteOffset: k, as: UInt8.self)
        }
        return true
    }

    /// A hex digit's value (either case); 0xFF for any other byte.
    @inline(__always)
    private static func nibble(_ c: UInt8) -> UInt8 {
        let digit = c &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- UInt8(ascii: "a")
        return letter < 6 ? letter &+ 10 : 0xFF
    }
}

/// A client random as the key log's key: its 32 bytes as four words (an `[UInt8]` key was
/// hashed byte by byte, a fifth of the time a key log took to read).
struct ClientRandom: Hashable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 32 else { return nil }
        a = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        b = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        c = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        d = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }
}

/// Lowercase hex of bytes (client randoms in messages).
public func tlsHex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

/// Where TLS 1.2 sessions learned in a capture are kept for the connections that resume them:
/// one `TLSSessionCache` on one thread; a parallel run shares one between its workers.
public protocol TLSSessionStore: AnyObject {
    func remember(sessionID: [UInt8], master: [UInt8])
    func remember(ticket: [UInt8], master: [UInt8])
    func master(sessionID: [UInt8]) -> [UInt8]?
    func master(ticket: [UInt8]) -> [UInt8]?
}

/// TLS 1.2 sessions learned in this capture, for decrypting the connections that resume them
/// (by session ID or by ticket) when the key log has no line of their own: what Wireshark does.
/// Capture-wide, like the key log.
public final class TLSSessionCache: TLSSessionStore, @unchecked Sendable {
    private var byID: [[UInt8]: [UInt8]] = [:]
    private var byTicket: [[UInt8]: [UInt8]] = [:]
    private let limit: Int

    public init(limit: Int = 65_536) { self.limit = limit }

    public func remember(sessionID: [UInt8], master: [UInt8]) {
        guard !sessionID.isEmpty else { return }
        if byID.count >= limit { byID.removeAll(keepingCapacity: true) }
        byID[sessionID] = master
    }

    public func remember(ticket: [UInt8], master: [UInt8]) {
        guard !ticket.isEmpty else { return }
        if byTicket.count >= limit { byTicket.removeAll(keepingCapacity: true) }
        byTicket[ticket] = master
    }

    public func master(sessionID: [UInt8]) -> [UInt8]? { sessionID.isEmpty ? nil : byID[sessionID] }
    public func master(ticket: [UInt8]) -> [UInt8]? { ticket.isEmpty ? nil : byTicket[ticket] }
}
