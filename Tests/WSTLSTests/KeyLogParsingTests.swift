import Foundation
import Testing
@testable import WSTLS

/// The key log is parsed on its bytes (fields found in place, labels compared as bytes, client
/// randoms kept as four words, hex from a table). The parser it replaced is kept here as the
/// reference: both must keep the same secrets for every client random and give the same
/// warnings, on the repository's real key logs and on seeded lines around every rule.
@Suite struct KeyLogParsingTests {
    /// The replaced parser (String labels, an array of fields, `[UInt8]` keys), unchanged.
    final class Reference {
        var table: [[UInt8]: TLSSecrets] = [:]
        var warnings: [TLSKeyLogWarning] = []

        func add(_ text: String, source: String) {
            var text = text
            text.withUTF8 { raw in
                let bytes = UnsafeRawBufferPointer(raw)
                var number = 0
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
        }

        private func addLine(_ raw: UnsafeRawBufferPointer, number: Int, source: String) {
            var line = raw
            if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
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
            if label == "RSA" || label == "PMS_CLIENT_RANDOM" { return }
            guard let random = Self.hexBytes(fields[1]), random.count == 32 else {
                warn("client random is not 32 bytes of hex")
                return
            }
            guard let secret = Self.hexBytes(fields[2]), !secret.isEmpty else {
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

    /// Both parsers on `text`: the same warnings, the same number of client randoms, the same
    /// secrets for each (and none for a random neither kept).
    func agree(_ text: String, _ name: String) {
        let reference = Reference()
        reference.add(text, source: name)
        let log = TLSKeyLog()
        log.add(text, source: name)
        #expect(log.warnings == reference.warnings, "\(name)")
        #expect(log.count == reference.table.count, "\(name)")
        for (random, secrets) in reference.table {
            #expect(log.secrets(for: random) == secrets, "\(name)")
        }
        #expect(log.secrets(for: [UInt8](repeating: 0xEE, count: 32)) == reference.table[[UInt8](repeating: 0xEE, count: 32)])
        #expect(log.secrets(for: [1, 2, 3]) == nil)
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test func realKeyLogsAsTheReferenceReadsThem() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".keys") }
        #expect(files.count >= 8)
        var secrets = 0
        for file in files {
            let text = try String(contentsOf: Self.fixtures.appendingPathComponent(file), encoding: .utf8)
            agree(text, file)
            let log = TLSKeyLog()
            log.add(text, source: file)
            secrets += log.count
        }
        #expect(secrets >= 10)
    }

    /// Lines made of every label (known, tolerated, unknown, RSA), client randoms and secrets of
    /// good and bad hex and lengths (upper case too), separators of spaces and tabs, CRLF,
    /// comments, blank lines, fields missing or one too many, the same random again.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func seededLinesAsTheReferenceReadsThem(seed: UInt64) {
        var rng = SeededLines(seed: seed)
        let labels = ["CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                      "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "CLIENT_EARLY_TRAFFIC_SECRET",
                      "EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "EARLY_EXPORTER_MASTER_SECRET", "RSA",
                      "PMS_CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_3", "SERVER_TRAFFIC_SECRET_12",
                      "CLIENT_TRAFFIC_SECRET_X", "BOGUS_SECRET", "CLIENT_RANDOMX", "client_random", "#CLIENT_RANDOM"]
        let randoms = (0..<12).map { _ in (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        func hex(_ bytes: [UInt8], upper: Bool) -> String {
            bytes.map { String(format: upper ? "%02X" : "%02x", $0) }.joined()
        }
        var lines: [String] = []
        for _ in 0..<600 {
            var random = hex(randoms.randomElement(using: &rng)!, upper: rng.next() % 5 == 0)
            switch rng.next() % 12 {
            case 0: random.removeLast()
            case 1: random += "00"
            case 2: random = String(random.dropFirst(2)) + "zz"
            default: break
            }
            let length = [48, 48, 32, 32, 0, 47, 1].randomElement(using: &rng)!
            var secret = hex((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }, upper: rng.next() % 4 == 0)
            if rng.next() % 10 == 0 { secret += "g" }
            let separator = [" ", "\t", "  ", " \t "].randomElement(using: &rng)!
            var fields = [labels.randomElement(using: &rng)!, random, secret]
            switch rng.next() % 14 {
            case 0: fields.removeLast()
            case 1: fields.append("extra")
            case 2: fields = []
            case 3: fields = ["# a comment", random]
            default: break
            }
            var line = (rng.next() % 6 == 0 ? separator : "") + fields.joined(separator: separator)
            if rng.next() % 5 == 0 { line += "\r" }
            if rng.next() % 7 == 0 { line += separator }
            lines.append(line)
        }
        agree(lines.joined(separator: "\n"), "seed \(seed)")
        // The lines reach every rule: secrets kept, and each kind of warning.
        let reference = Reference()
        reference.add(lines.joined(separator: "\n"), source: "")
        #expect(reference.table.count >= 6)
        let kinds = Set(reference.warnings.map { String($0.reason.prefix(14)) })
        #expect(kinds.isSuperset(of: ["expected LABEL", "client random ", "secret is not ", "CLIENT_RANDOM ", "unknown label "]), "\(kinds)")
        agree(lines.joined(separator: "\n") + "\n", "seed \(seed), newline at the end")
    }

    @Test func emptyAndOneLineTexts() {
        for text in ["", "\n", "\r\n", " ", "CLIENT_RANDOM", "# only a comment"] { agree(text, "text \(text.debugDescription)") }
    }
}

/// SplitMix64, for the seeded lines.
struct SeededLines: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
