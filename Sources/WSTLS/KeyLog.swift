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
    private var table: [[UInt8]: TLSSecrets] = [:]
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
        if let s = table[clientRandom] { return s }
        if let refresh, refresh() { return table[clientRandom] }
        return nil
    }

    /// Adds the lines of a key log text. `source` names it in warnings; `firstLine` numbers the
    /// first line (a live key log read in pieces). Parsed as bytes: a browser's key log can hold
    /// hundreds of thousands of lines.
    public func add(_ text: String, source: String, firstLine: Int = 1) {
        var text = text
        text.withUTF8 { add(bytes: UnsafeRawBufferPointer($0), source: source, firstLine: firstLine) }
    }

    private func add(bytes: UnsafeRawBufferPointer, source: String, firstLine: Int) {
        var number = firstLine - 1
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            number += 1
            addLine(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), number: number, source: source)
            if end >= bytes.count { break }
            start = end + 1
        }
    }

    private func addLine(_ raw: UnsafeRawBufferPointer, number: Int, source: String) {
        var line = raw
        if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        // Fields separated by spaces or tabs.
        var fields: [UnsafeRawBufferPointer] = []
        var i = 0
        while i < line.count {
            while i < line.count && (line[i] == 0x20 || line[i] == 0x09) { i += 1 }
            guard i < line.count else { break }
            let fieldStart = i
            while i < line.count && line[i] != 0x20 && line[i] != 0x09 { i += 1 }
            fields.append(UnsafeRawBufferPointer(rebasing: line[fieldStart..<i]))
            if fields.count > 3 { break }
        }
        if fields.isEmpty || fields[0].first == UInt8(ascii: "#") { return }
        func warn(_ reason: String) { warnings.append(TLSKeyLogWarning(source: source, line: number, reason: reason)) }
        guard fields.count == 3 else {
            warn(fields.count > 3 ? "expected LABEL CLIENT_RANDOM SECRET, found more than 3 fields"
                                  : "expected LABEL CLIENT_RANDOM SECRET, found \(fields.count) field(s)")
            return
        }
        let label = String(decoding: fields[0], as: UTF8.self)
        // RSA lines key a pre-master secret by encrypted prefix, not by client random: not ours.
        if label == "RSA" || label == "PMS_CLIENT_RANDOM" { return }
        guard let random = TLSKeyLog.hexBytes(fields[1]), random.count == 32 else {
            warn("client random is not 32 bytes of hex")
            return
        }
        guard let secret = TLSKeyLog.hexBytes(fields[2]), !secret.isEmpty else {
            warn("secret is not hex")
            return
        }
        var entry = table[random] ?? TLSSecrets()
        switch label {
        case "CLIENT_RANDOM":
            guard secret.count == 48 else { warn("CLIENT_RANDOM master secret is \(secret.count) bytes, not 48"); return }
            entry.masterSecret = secret
        case "CLIENT_HANDSHAKE_TRAFFIC_SECRET": entry.clientHandshake = secret
        case "SERVER_HANDSHAKE_TRAFFIC_SECRET": entry.serverHandshake = secret
        case "CLIENT_TRAFFIC_SECRET_0": entry.clientTraffic0 = secret
        case "SERVER_TRAFFIC_SECRET_0": entry.serverTraffic0 = secret
        case "CLIENT_EARLY_TRAFFIC_SECRET": entry.clientEarly = secret
        case "EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "EARLY_EXPORTER_MASTER_SECRET":
            return
        default:
            // OpenSSL 3 logs the secrets after a KeyUpdate (…_TRAFFIC_SECRET_N): they are
            // derived here instead, so the line is tolerated.
            if (label.hasPrefix("CLIENT_TRAFFIC_SECRET_") || label.hasPrefix("SERVER_TRAFFIC_SECRET_")),
               label.split(separator: "_").last.flatMap({ Int($0) }) != nil {
                return
            }
            warn("unknown label \(label.prefix(40))")
            return
        }
        table[random] = entry
    }

    static func hexBytes(_ s: UnsafeRawBufferPointer) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var out = [UInt8](repeating: 0, count: s.count / 2)
        for k in 0..<(s.count / 2) {
            guard let high = nibble(s[2 * k]), let low = nibble(s[2 * k + 1]) else { return nil }
            out[k] = high << 4 | low
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
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
