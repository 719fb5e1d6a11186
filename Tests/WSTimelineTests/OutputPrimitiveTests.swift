#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSDissector
import WSDecode
@testable import WSOutput
import WSDiagnosis

/// The output layer's primitives: JSON escaping, base64, terminal-safe previews, time text.
@Suite struct OutputPrimitiveTests {
    @Test func jsonStringsAreEscaped() {
        var w = JSONWriter()
        w.beginObject()
        w.field("a", "quote \" backslash \\ nl \n tab \t esc \u{1b} del \u{7f} é ✓")
        w.endObject()
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"a":"quote \" backslash \\ nl \n tab \t esc \u001b del \u007f é ✓"}"#)
    }

    /// What waits in a spool (the text and JSON summaries, the report's sections) comes back
    /// whole and by stream, whether it stayed in memory or went to the temporary file past the
    /// threshold: entries of every size, empty ones and ones larger than the threshold among
    /// them; added in stream order, nearly so (as connections end), or shuffled; written to the
    /// file an entry at a time or in pieces, read back in pieces smaller and larger than the
    /// entries.
    @Test(arguments: [(64, 0, 1), (64, 128 << 10, 256 << 10), (64, 1_000, 3_000), (64, 7, 100_000), (1 << 30, 128 << 10, 256 << 10)],
          ["shuffled", "sorted", "nearly sorted"])
    func aSpoolGivesBackEveryEntryByStream(sizes: (threshold: Int, writeBytes: Int, readBytes: Int), order: String) {
        var rng = SystemRandomNumberGenerator()
        let spool = SummarySpool(threshold: sizes.threshold, writeBytes: sizes.writeBytes, readBytes: sizes.readBytes)
        var streams = Array(0..<600)
        switch order {
        case "shuffled": streams.shuffle(using: &rng)
        case "nearly sorted":
            for i in stride(from: 0, to: streams.count - 8, by: 5) { streams[i ..< i + 8].shuffle(using: &rng) }
        default: break
        }
        var expected: [(Int, [UInt8])] = []
        for stream in streams {
            // The same stream twice now and then: both come back, in the order added.
            for copy in 0 ..< (stream % 97 == 0 ? 2 : 1) {
                let size = [0, 1, 63, 64, 65, 700, 5_000][Int.random(in: 0...6, using: &rng)]
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ stream &+ copy) }
                spool.append(stream: stream, bytes)
                expected.append((stream, bytes))
            }
        }
        expected = expected.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map(\.element)
        var got: [(Int, [UInt8])] = []
        spool.forEachSorted { got.append(($0, $1)) }
        #expect(got.count == expected.count)
        #expect(zip(got, expected).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(spool.lost == 0)
    }

    /// Entries of `size` bytes for streams `streams`, each filled from its stream number.
    static func entries(_ streams: Range<Int>, size: Int = 100) -> [(Int, [UInt8])] {
        streams.map { stream in (stream, (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ stream) }) }
    }

    /// A spill file that takes no bytes (here a pipe's read end): everything stays in memory
    /// and comes back; nothing is counted lost.
    @Test func aSpoolKeepsInMemoryWhatItsFileRefuses() {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[1]) }
        let spool = SummarySpool(threshold: 64, makeFile: { fdopen(fds[0], "r") })
        let expected = Self.entries(0..<200)
        for (stream, bytes) in expected.reversed() { spool.append(stream: stream, bytes) }
        var got: [(Int, [UInt8])] = []
        spool.forEachSorted { got.append(($0, $1)) }
        #expect(got.count == expected.count && zip(got, expected).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(spool.lost == 0 && spool.lostWarning == nil)
    }

    /// The spill file fails after some entries went to it: later entries stay in memory and
    /// come back; the ones in the file that cannot be read back are counted, and the warning
    /// says how many.
    @Test func aSpoolCountsWhatItCannotReadBack() {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var made: UnsafeMutablePointer<FILE>?
        let spool = SummarySpool(threshold: 64, writeBytes: 0, makeFile: { made = tmpfile(); return made })
        let early = Self.entries(0..<30), late = Self.entries(30..<50)
        for (stream, bytes) in early { spool.append(stream: stream, bytes) }
        guard let file = made else { Issue.record("no spill file"); return }
        // The file's descriptor now names the pipe's read end: no reads, no writes.
        #expect(dup2(fds[0], fileno(file)) >= 0)
        for (stream, bytes) in late { spool.append(stream: stream, bytes) }
        var got: [(Int, [UInt8])] = []
        spool.forEachSorted { got.append(($0, $1)) }
        #expect(got.count == late.count && zip(got, late).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(spool.lost == early.count)
        #expect(spool.lostWarning?.hasPrefix("30 connections' output could not be read back") == true)
        // One lost: the singular.
        let one = SummarySpool(threshold: 0, writeBytes: 0, makeFile: { made = tmpfile(); return made })
        one.append(stream: 7, [1, 2, 3])
        if let f = made { #expect(dup2(fds[0], fileno(f)) >= 0) }
        one.forEachSorted { _, _ in Issue.record("an entry that cannot be read came back") }
        #expect(one.lostWarning?.hasPrefix("1 connection's output could not be read back") == true)
    }

    /// A spool of many entries added far from stream order (as connections end) is written
    /// and read back in pieces, not an entry at a time: 20,000 entries of about 1.4 KiB
    /// (27 MiB) take about one write a pending room (512 KiB) and at most one read per sorted
    /// run for each group (1 MiB) read back (54 writes and 1,477 reads in one run). Written
    /// unsorted, the same entries took 3,906 reads (tried), and written an entry at a time
    /// 19,814 writes; before this test the spool made a write and a read for every entry.
    @Test func aSpoolWritesAndReadsInPieces() {
        var rng = SystemRandomNumberGenerator()
        let spool = SummarySpool()
        var streams = Array(0..<20_000)
        streams.shuffle(using: &rng)
        var expected: [Int: [UInt8]] = [:]
        for stream in streams {
            let bytes = (0 ..< 1_300 + stream % 200).map { UInt8(truncatingIfNeeded: $0 &+ stream) }
            spool.append(stream: stream, bytes)
            expected[stream] = bytes
        }
        var next = 0, same = true
        spool.forEachSorted { stream, bytes in
            same = same && stream == next && bytes == expected[stream]
            next += 1
        }
        #expect(same && next == 20_000 && spool.lost == 0)
        let total = expected.values.reduce(0) { $0 + $1.count }
        #expect(spool.fileWrites <= total / (512 << 10) + 2)
        #expect(spool.fileReads <= (total / (512 << 10) + 2) * (total / (1 << 20) + 2), "\(spool.fileReads) reads")
        #expect(spool.fileReads >= 1)
    }

    /// Entries still waiting to be written when the file stops taking bytes stay in memory and
    /// come back, as do the ones after them; the ones written before are read back from the
    /// file. Nothing is lost.
    @Test func aSpoolKeepsWhatWaitedForTheFileWhenTheFileFails() {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var made: UnsafeMutablePointer<FILE>?
        // Entries of 100 bytes, written 1,000 bytes at a time.
        let spool = SummarySpool(threshold: 64, writeBytes: 1_000, makeFile: { made = tmpfile(); return made })
        let written = Self.entries(0..<20), waiting = Self.entries(20..<25), after = Self.entries(25..<40)
        for (stream, bytes) in written + waiting { spool.append(stream: stream, bytes) }
        guard let file = made else { Issue.record("no spill file"); return }
        // What the file holds goes on being readable; a write fails from now on.
        let reader = open("/proc/self/fd/\(fileno(file))", O_RDONLY)
        #expect(reader >= 0)
        #expect(dup2(reader, fileno(file)) >= 0)
        close(reader)
        for (stream, bytes) in after.reversed() { spool.append(stream: stream, bytes) }
        var got: [(Int, [UInt8])] = []
        spool.forEachSorted { got.append(($0, $1)) }
        let expected = written + waiting + after
        #expect(got.count == expected.count && zip(got, expected).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(spool.lost == 0 && spool.lostWarning == nil)
    }

    /// The remembered "src"/"dst" pair of an event answers only for exactly its endpoints: far
    /// more pairs than slots, in a shuffled order, against `Endpoint.text`.
    @Test func endpointPairsAreRememberedOnlyForTheirOwnEndpoints() {
        var rng = SystemRandomNumberGenerator()
        let cache = EndpointPairJSON()
        // Pairs that differ in one address or port only, among many that differ in all.
        var near: [(Endpoint, Endpoint)] = []
        for i in 0..<16 {
            let sourceAddress: UInt32 = 0x0a00_0001 + UInt32(i & 1), destinationAddress: UInt32 = 0x0a00_0101 + UInt32(i >> 2 & 1)
            let sourcePort: UInt16 = 40_000 + UInt16(i >> 1 & 1), destinationPort: UInt16 = 8080 + UInt16(i >> 3 & 1)
            near.append((Endpoint(address: IPAddress(ipv4: sourceAddress), port: sourcePort),
                         Endpoint(address: IPAddress(ipv4: destinationAddress), port: destinationPort)))
        }
        let pairs: [(Endpoint, Endpoint)] = near + near + (0..<12_000).map { _ in
            (Endpoint(address: IPAddress(ipv4: UInt32.random(in: 0...3, using: &rng) << 30 | UInt32.random(in: 0...255, using: &rng)),
                      port: UInt16.random(in: 0...3, using: &rng)),
             Endpoint(address: IPAddress(ipv4: UInt32.random(in: 0...UInt32.max, using: &rng)), port: UInt16.random(in: 0...UInt16.max, using: &rng)))
        }
        for (source, destination) in (pairs + pairs.shuffled(using: &rng) + pairs.reversed()) {
            var w = JSONWriter()
            w.beginObject()
            w.field("type", literal: "event")
            #expect(cache.write(source, destination, into: &w))
            w.endObject()
            #expect(String(decoding: w.bytes, as: UTF8.self)
                    == #"{"type":"event","src":"\#(source.text)","dst":"\#(destination.text)"}"#)
        }
        var w = JSONWriter()
        let v6 = Endpoint(address: IPAddress(ipv6High: 1, low: 2), port: 443)
        #expect(!cache.write(v6, pairs[0].1, into: &w) && !cache.write(pairs[0].0, v6, into: &w) && w.bytes.isEmpty)
        // So many pairs pushed each other out in more than one lookup in 16: the table grew to
        // its largest.
        #expect(cache.slots == EndpointPairJSON.maxSlots)
    }

    /// The pair table grows only while pairs push each other out: the two pairs of each of a
    /// hundred connections, cycled, keep it at its smallest; many more connections grow it, and
    /// every answer stays exact across the growth (the pairs kept move to the larger table).
    @Test func endpointPairTableFollowsTheConnectionsItSees() {
        let cache = EndpointPairJSON()
        func pair(_ i: Int) -> (Endpoint, Endpoint) {
            (Endpoint(address: IPAddress(ipv4: 0x0a00_0000 | UInt32(i)), port: UInt16(30_000 + i % 1000)),
             Endpoint(address: IPAddress(ipv4: 0xc0a8_0001), port: 443))
        }
        func check(_ count: Int, rounds: Int) {
            for _ in 0..<rounds {
                for i in 0..<count {
                    let (client, server) = pair(i)
                    for (source, destination) in [(client, server), (server, client)] {
                        var w = JSONWriter()
                        w.beginObject()
                        #expect(cache.write(source, destination, into: &w))
                        w.endObject()
                        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"src":"\#(source.text)","dst":"\#(destination.text)"}"#)
                    }
                }
            }
        }
        // 16,000 lookups of 200 pairs: once in, few are pushed out (only the sets holding three
        // pairs, about one lookup in 22), and the table stays at its smallest.
        check(100, rounds: 80)
        #expect(cache.slots == EndpointPairJSON.minSlots)
        // 3,000 pairs: most lookups miss until the table is at its largest.
        check(1500, rounds: 8)
        #expect(cache.slots == EndpointPairJSON.maxSlots)
    }

    /// Values at every digit count: the smallest, the largest and one at random, and the edges.
    static func decimalCases(using rng: inout SystemRandomNumberGenerator) -> [UInt64] {
        var values: [UInt64] = [0, 9, 10, 99, 100, 999, 1000, UInt64.max]
        for digits in 1...20 {
            var p: UInt64 = 1
            for _ in 1..<digits { p = p &* 10 }
            values += [p, p &* 10 &- 1, UInt64.random(in: p...(digits < 20 ? p &* 10 &- 1 : UInt64.max), using: &rng)]
        }
        return values
    }

    /// The table-driven decimal writers against Swift's own spelling, at every digit count.
    @Test func decimalsAreSpelledAsStringDoes() {
        var rng = SystemRandomNumberGenerator()
        for v in Self.decimalCases(using: &rng) {
            var b = ByteBuffer()
            b.appendDecimal(v)
            #expect(String(decoding: b.bytes(from: 0), as: UTF8.self) == String(v))
            let width = String(v).count + Int.random(in: 0...3, using: &rng)
            var w = ByteBuffer()
            w.appendDecimal(v, width: width)
            #expect(String(decoding: w.bytes(from: 0), as: UTF8.self)
                    == String(repeating: "0", count: width - String(v).count) + String(v))
        }
        for v in [Int64.min, -1, -10, -12345, Int64.max] {
            var b = ByteBuffer()
            b.appendDecimal(v)
            #expect(String(decoding: b.bytes(from: 0), as: UTF8.self) == String(v))
        }
    }

    /// The cursor's decimals (what the buffer's `appendDecimal` and an event's fixed start both
    /// write with), signed and fixed-width too, against Swift's own spelling.
    @Test func cursorDecimalsAreSpelledAsStringDoes() {
        var rng = SystemRandomNumberGenerator()
        for v in Self.decimalCases(using: &rng) {
            var b = ByteBuffer()
            b.withCursor(reserving: 24) { $0.decimal(v) }
            #expect(String(decoding: b.bytes(from: 0), as: UTF8.self) == String(v))
            let signed = Int(truncatingIfNeeded: v)
            var s = ByteBuffer()
            s.withCursor(reserving: 24) { $0.decimal(signed) }
            #expect(String(decoding: s.bytes(from: 0), as: UTF8.self) == String(signed))
            let width = min(9, String(v).count + Int.random(in: 0...3, using: &rng))
            guard String(v).count <= width else { continue }
            var w = ByteBuffer()
            w.withCursor(reserving: 9) { $0.decimal(v, width: width) }
            #expect(w.string() == String(repeating: "0", count: width - String(v).count) + String(v))
        }
    }

    /// Every value below 10,000 (written without a digit count) and either side of that bound,
    /// by the cursor and the buffer, against Swift's own spelling.
    @Test func smallDecimalsAreSpelledAsStringDoes() {
        for v in Array(0..<10_000) + [10_000, 10_001, 99_999, 100_000] {
            var b = ByteBuffer()
            b.append(0x5b)
            b.withCursor(reserving: 24) { c in
                c.decimal(UInt64(v))
                c.byte(0x2c)
                c.decimal(v)
                c.byte(0x2c)
                c.decimal(-v)
            }
            b.appendDecimal(UInt64(v))
            #expect(b.string() == "[\(v),\(v),\(-v)\(v)", "\(v)")
        }
    }

    /// A row rendered on a worker, its stream digits replaced at the merge: the digits at `at`
    /// (as many as there are, at the start, inside, at the end) give way to the capture-wide
    /// index, longer or shorter, between the separator and the line end asked for.
    @Test func mergedRowsHaveTheirStreamDigitsReplaced() {
        let cases: [(row: String, at: Int, stream: Int?, expected: String)] = [
            ("{\"stream\":7,\"x\":1}", 10, 1234, "{\"stream\":1234,\"x\":1}"),
            ("{\"stream\":1234,\"x\":1}", 10, 7, "{\"stream\":7,\"x\":1}"),
            ("{\"stream\":12}", 10, 0, "{\"stream\":0}"),
            ("99,rest", 0, 5, "5,rest"),
            ("tail 42", 5, 1_000_000_000_000, "tail 1000000000000"),
            ("{\"stream\":3}", -1, 9, "{\"stream\":3}"),
            ("{\"stream\":3}", 10, nil, "{\"stream\":3}"),
            ("", -1, nil, ""),
        ]
        for c in cases {
            let bytes = Array(c.row.utf8)
            for framing in 0..<3 {
                var b = ByteBuffer(capacity: 16)
                b.append(0x5b)
                bytes.withUnsafeBytes { raw in
                    switch framing {
                    case 0: b.append(raw, stream: c.stream, at: c.at)
                    case 1: b.append(raw, stream: c.stream, at: c.at, before: ",\n")
                    default: b.append(raw, stream: c.stream, at: c.at, after: "\n")
                    }
                }
                let expected = ["[" + c.expected, "[,\n" + c.expected, "[" + c.expected + "\n"][framing]
                #expect(b.string() == expected, "\(c.row) \(framing)")
            }
        }
    }

    /// The cursor's literals, at every length the word copies treat apart (and either side of
    /// each bound), against the buffer's plain append.
    @Test func cursorLiteralsAreCopiedWhole() {
        let literals: [StaticString] = [
            "", "a", "ab", "abc", "abcd", "abcde", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmno",
            "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvwx",
            "abcdefghijklmnopqrstuvwxyz01234", "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456",
            ",\"direction\":\"client-to-server\"", "é→✓",
        ]
        for literal in literals {
            var b = ByteBuffer()
            b.append(0x5b)
            b.withCursor(reserving: literal.utf8CodeUnitCount + 2) { c in
                c.literal(literal)
                c.byte(0x5d)
            }
            var expected = ByteBuffer()
            expected.append(0x5b)
            expected.append(literal)
            expected.append(0x5d)
            #expect(b.string() == expected.string(), "\(literal)")
        }
    }

    /// Seconds written from the remembered whole second, against `JSONWriter.seconds`, and both
    /// (they share the fraction's code) against a spelling made here from `String`: a run of
    /// times that stays in a second, moves on, goes back, crosses zero, at every resolution.
    @Test func rememberedSecondsAreSpelledAsTheWriterSpellsThem() {
        func spelled(_ ns: Int64, _ decimals: Int) -> String {
            let whole = (ns < 0 ? "-" : "") + String(ns.magnitude / 1_000_000_000)
            guard decimals > 0 else { return whole }
            var fraction = ns.magnitude % 1_000_000_000
            for _ in min(decimals, 9)..<9 { fraction /= 10 }
            let digits = String(fraction)
            return whole + "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        var rng = SystemRandomNumberGenerator()
        var times: [Int64] = [0, -1, 999_999_999, 1_000_000_000, -1_000_000_000, -1_500_000_000, Int64.max, Int64.min, Int64.min + 1,
                              9_999_999_999, 10_000_000_000]
        var t: Int64 = 1_790_000_000_000_000_000
        for _ in 0..<3_000 {
            t += Int64.random(in: -2_000_000...400_000_000, using: &rng)
            times.append(t)
            times.append(Int64.random(in: -20_000_000_000...20_000_000_000, using: &rng))
        }
        for decimals in 0...9 {
            let remembered = SecondsJSON()
            for ns in times {
                var w = JSONWriter()
                w.withCursor(reserving: 32) { remembered.write(ns, decimals: decimals, into: &$0) }
                var expected = JSONWriter()
                expected.seconds(ns, decimals: decimals)
                #expect(w.bytes == expected.bytes, "\(ns) \(decimals)")
                #expect(String(decoding: expected.bytes, as: UTF8.self) == spelled(ns, decimals), "\(ns) \(decimals)")
            }
        }
        // Text beyond nanoseconds pads with zeros on the left, as it always did.
        for ns in times.prefix(200) {
            for decimals in 10...12 { #expect(secondsText(ns, decimals: decimals) == spelled(ns, decimals), "\(ns) \(decimals)") }
        }
    }

    /// The in-place fixed decimals (health lines, JSON figures) spell what `formatFixed` does:
    /// seeded values of every magnitude and sign, and the edges (negative zero, rounding up to
    /// the next power of ten, the fallback past 9e18, infinities).
    @Test func fixedDecimalsInPlaceAsFormatFixedSpellsThem() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var cases: [(Double, Int)] = []
        for k in 0..<20_000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            var magnitude = Double(state % 1_000_000_007) / Double(1 + (state >> 40) % 100_000)
            for _ in 0..<(Int(state >> 60) % 14) { magnitude *= 10 }
            cases.append((k % 3 == 0 ? -magnitude : magnitude, k % 6))
        }
        for value in [0, -0.0, 0.0004, -0.0004, 0.9995, 9.9995, 99.95, 1e17, -1e17, 8.9e18, 1e19, .infinity, -.infinity, .nan] {
            for digits in 0...6 { cases.append((value, digits)) }
        }
        for (value, digits) in cases {
            var b = ByteBuffer()
            b.appendFixed(value, digits)
            #expect(String(decoding: b.bytes(from: 0), as: UTF8.self) == formatFixed(value, digits), "\(value) \(digits)")
        }
    }

    @Test func wordAtATimeScanAgreesWithAByteLoop() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<40 {
            for _ in 0..<200 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) % (Bool.random(using: &rng) ? 128 : 255) }
                let expected = !bytes.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c || $0 == 0x7f }
                #expect(bytes.withUnsafeBytes { JSONWriter.needsNoEscape($0) } == expected, "\(bytes)")
            }
        }
    }

    @Test func numbersAndSeconds() {
        var w = JSONWriter()
        w.beginArray()
        w.int(0); w.int(-42); w.int(Int64.max); w.int(UInt64.max)
        w.endArray()
        #expect(String(decoding: w.bytes, as: UTF8.self) == "[0,-42,9223372036854775807,18446744073709551615]")
        var t = JSONWriter()
        t.beginObject()
        t.field("t", seconds: 1_795_594_763_568_933_000, decimals: 6)
        t.field("n", seconds: 5, decimals: 9)
        t.field("z", seconds: -1_500_000, decimals: 6)
        t.endObject()
        #expect(String(decoding: t.bytes, as: UTF8.self) == #"{"t":1795594763.568933,"n":0.000000005,"z":-0.001500}"#)
        #expect(secondsText(1_500_000_000, decimals: 6) == "1.500000")
    }

    @Test func base64MatchesRFC4648Vectors() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            #expect(Array(plain.utf8).withUnsafeBytes { base64($0) } == encoded)
        }
    }

    /// The encoder writes six bytes at a time while eight can be read, then three, then the
    /// padded rest: every length from 0 to 70 (each way through those loops, and each tail),
    /// and a long one, against Foundation's encoder, through the JSON writer's string.
    @Test func base64IntoTheJSONBufferMatchesFoundation() {
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15  // xorshift: the same bytes every run
        for count in Array(0...70) + [4099] {
            let bytes = (0..<count).map { _ -> UInt8 in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state >> 24)
            }
            let expected = Data(bytes).base64EncodedString()
            var w = JSONWriter()
            w.beginArray()
            bytes.withUnsafeBytes { w.base64String($0) }
            bytes.withUnsafeBytes { w.base64String($0) }
            w.endArray()
            #expect(String(decoding: w.bytes, as: UTF8.self) == "[\"\(expected)\",\"\(expected)\"]", "\(count) bytes")
            #expect(bytes.withUnsafeBytes { base64($0) } == expected)
            #expect(base64Length(count) == expected.utf8.count)
        }
    }

    /// `htmlEscaped` works on UTF-8 bytes; the reference here escapes scalar by scalar (as it
    /// did before). Multi-byte characters around and between the escaped ASCII stay whole.
    @Test func htmlEscapingMatchesTheScalarReference() {
        func reference(_ s: String) -> String {
            var out = ""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&#39;"
                default: out += scalar.value < 0x20 || scalar.value == 0x7f ? "\u{fffd}" : String(scalar)
                }
            }
            return out
        }
        let cases = ["", "plain text, nothing to escape", "<script>alert('x')</script>", #"{"a":"b & c"}"#,
                     "é<ü>\u{202e}&\u{1f600}\"'", "tab\there\nnewline\u{7f}del\u{0}nul", "&&&&", "\u{fffd}<",
                     String(repeating: "日本<語>&", count: 50), "crlf\r\nline", "c1 control \u{85} kept, é ü 日本 too",
                     "no escape at all: é ü 日本 \u{1f600}"]
        for text in cases {
            #expect(htmlEscaped(text) == reference(text), "\(text.debugDescription)")
        }
    }

    @Test func previewsNeverCarryControlBytes() {
        let hostile: [UInt8] = Array("ok".utf8) + [0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x00, 0xff, 0xc3] + Array("é".utf8) + [0xe2, 0x80, 0xae]
        let s = hostile.withUnsafeBytes { escapedPreview($0, limit: 100) }
        #expect(!s.utf8.contains { $0 < 0x20 || $0 == 0x7f })
        #expect(s == #""ok\x1b[2J\x07\x00\xff\xc3é\xe2\x80\xae""#)  // bidi override U+202E escaped too
        let long = [UInt8](repeating: 0x61, count: 100)
        #expect(long.withUnsafeBytes { escapedPreview($0, limit: 10) } == "\"aaaaaaaaaa…\"")
    }

    /// Random strings dense in quotes, backslashes and control bytes (the word-at-a-time
    /// rewrite moves clean 8-byte words whole): the JSON must parse back to the same string and
    /// equal a byte-by-byte escaper's output.
    @Test func escapingRewriteAgreesWithAByteLoop() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = ["a", "b", " ", "\"", "\\", "\n", "\t", "\r", "\u{01}", "\u{1b}", "\u{7f}", "é", "✓", "😀"]
        for length in 0..<70 {
            for _ in 0..<60 {
                var text = ""
                for _ in 0..<length {
                    // Long clean runs now and then, so whole words are moved too.
                    text.unicodeScalars.append(Bool.random(using: &rng) ? "x" : alphabet.randomElement(using: &rng)!)
                }
                var w = JSONWriter()
                w.beginArray()
                w.string(text)
                w.endArray()
                var expected: [UInt8] = Array("[\"".utf8)
                for b in text.utf8 {
                    switch b {
                    case 0x22: expected += Array("\\\"".utf8)
                    case 0x5c: expected += Array("\\\\".utf8)
                    case 0x0a: expected += Array("\\n".utf8)
                    case 0x0d: expected += Array("\\r".utf8)
                    case 0x09: expected += Array("\\t".utf8)
                    case 0..<0x20, 0x7f: expected += Array(("\\u00" + (b < 0x10 ? "0" : "") + String(b, radix: 16)).utf8)
                    default: expected.append(b)
                    }
                }
                expected += Array("\"]".utf8)
                let json = String(decoding: w.bytes, as: UTF8.self)
                let reference = String(decoding: expected, as: UTF8.self)
                #expect(json == reference, "\(Array(text.utf8))")
            }
        }
    }

    /// Previews of random bytes: the 8-byte fast path for printable ASCII gives what a
    /// byte-at-a-time preview gives (checked against its rules for ASCII input), and never
    /// lets a control byte through.
    @Test func previewFastPathAgreesWithTheRules() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<50 {
            for limit in [3, 8, 17, 60] {
                let bytes = (0..<length).map { _ -> UInt8 in
                    Bool.random(using: &rng) ? UInt8.random(in: 0x61...0x7a, using: &rng) : [0x22, 0x5c, 0x0a, 0x00, 0x7f, 0x20, 0x41][Int.random(in: 0..<7, using: &rng)]
                }
                var expected = "\""
                for (i, b) in bytes.enumerated() {
                    if i >= limit { expected += "…"; break }
                    switch b {
                    case 0x0a: expected += "\\n"
                    case 0x5c: expected += "\\\\"
                    case 0x22: expected += "\\\""
                    case 0x20..<0x7f: expected.unicodeScalars.append(Unicode.Scalar(b))
                    default: expected += "\\x" + (b < 0x10 ? "0" : "") + String(b, radix: 16)
                    }
                }
                expected += "\""
                #expect(bytes.withUnsafeBytes { escapedPreview($0, limit: limit) } == expected, "\(bytes) limit \(limit)")
            }
        }
    }
}

/// Pieces of every connection's summary now written into the buffer in place: each must spell
/// what the String it replaced spelled.
@Suite struct SummaryPiecesInPlaceTests {
    @Test func durationsAsDurationTextSpellsThem() {
        var state: UInt64 = 0xD1B5_4A32_D192_ED03
        var values: [Int64] = [0, 1, -1, 999, 9_999_999, 10_000_000, 9_999_999_999, 999_999_999, 1_000_000_000, -999_999_999,
                               -1_000_000_000, 4_999_500, 9_999_500, 59_999_999_999, Int64.max, Int64.min + 1]
        for _ in 0..<20_000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let magnitude = Int64(bitPattern: state >> (state % 50 + 14))
            values.append(state % 7 == 0 ? -magnitude : magnitude)
        }
        for ns in values {
            var b = ByteBuffer()
            b.appendDuration(ns)
            #expect(String(decoding: b.bytes(from: 0), as: UTF8.self) == Self.referenceDurationText(ns), "\(ns)")
            #expect(durationText(ns) == Self.referenceDurationText(ns), "\(ns)")
        }
    }

    /// `durationText` as it was written before it came from `appendDuration`.
    static func referenceDurationText(_ ns: Int64) -> String {
        let abs = ns < 0 ? -ns : ns
        if abs < 1_000_000_000 {
            let ms = Double(ns) / 1_000_000
            return formatFixed(ms, ms < 10 ? 3 : 1) + " ms"
        }
        return formatFixed(Double(ns) / 1_000_000_000, 3) + " s"
    }

    @Test func diagnosisHeadAsTheStringHead() {
        for cause in Cause.allCases {
            for by in [nil, Ender.client, .server, .intermediary] {
                for summary in ["", "closed cleanly by client, 1000 (Normal Closure)", "é \"quoted\" \u{1}"] {
                    var b = ByteBuffer()
                    b.append("x")
                    DiagnosisText.head(cause: cause, by: by, summary: summary, into: &b)
                    // The head as it was interpolated before it was written in place.
                    let reference = "[\(cause.rawValue)\(by.map { " by " + $0.rawValue } ?? "")] " + summary
                    #expect(String(decoding: b.bytes(from: 1), as: UTF8.self) == reference)
                    #expect(DiagnosisText.head(cause: cause, by: by, summary: summary) == reference)
                }
            }
        }
    }

    /// Padding in one go, across the buffer's growth.
    @Test func repeatedBytesAppendWhole() {
        var b = ByteBuffer(capacity: 16)
        var expected: [UInt8] = []
        for n in [0, 1, 15, 16, 17, 0, 100, 1000, 3] {
            b.append(0x61)
            expected.append(0x61)
            b.append(0x20, repeated: n)
            expected += [UInt8](repeating: 0x20, count: n)
        }
        #expect(Array(b.bytes(from: 0)) == expected)
    }
}
