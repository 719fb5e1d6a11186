import CBase64
import Foundation
import Testing
@testable import WSDissector

/// Sec-WebSocket-Accept goes through swift-crypto's SHA-1; the RFC's worked example checks the wiring.
@Suite struct SHA1Tests {
    @Test func acceptKeyFromRFC6455() {
        #expect(webSocketAcceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func base64() {
        #expect(Base64.encode([]) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.decodedLength("dGhlIHNhbXBsZSBub25jZQ==") == 16)
        #expect(Base64.decodedLength("not base64!") == nil)
    }

    /// The AVX2 blocks (24 bytes to 32 characters while 28 can be read) and the whole encoder,
    /// against Foundation's: every length from 0 to 100 (each side of the read and the step),
    /// longer ones, from three start addresses, and every byte value at each place of a 3-byte
    /// group. On a CPU with AVX2 (its /proc/cpuinfo flags) the blocks must really be taken.
    @Test func base64BlocksMatchFoundation() {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let hasAVX2 = flags.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.split(separator: " ").contains("avx2") }
        var state: UInt64 = 0x2545_f491_4f6c_dd1d  // xorshift: the same bytes every run
        func random(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state >> 32)
            }
        }
        let everyValue = (0..<256).flatMap { v in [UInt8(v), UInt8(255 - v), UInt8(v ^ 0x5a)] }
        var inputs = (Array(0...100) + [1_000, 4_099]).map(random)
        inputs.append(everyValue)
        inputs.append(everyValue.reversed())
        var taken = 0
        for input in inputs {
            for offset in 0..<3 {
                let storage = random(offset) + input
                let expected = Data(input).base64EncodedString()
                let out = UnsafeMutableRawPointer.allocate(byteCount: base64Length(input.count) + 1, alignment: 1)
                defer { out.deallocate() }
                let blocks = storage.withUnsafeBufferPointer { all in
                    wstrace_base64_blocks(all.baseAddress.map { $0 + offset }, input.count, out.assumingMemoryBound(to: UInt8.self))
                }
                #expect(blocks % 24 == 0 && blocks <= input.count && (blocks == 0 || input.count - blocks < 28))
                let characters = String(decoding: UnsafeRawBufferPointer(start: out, count: blocks / 3 * 4), as: UTF8.self)
                #expect(expected.hasPrefix(characters), "\(input.count) bytes from offset \(offset)")
                taken += blocks
                let written = storage.withUnsafeBytes { all in
                    base64Encode(UnsafeRawBufferPointer(rebasing: all[offset...]), into: out)
                }
                #expect(String(decoding: UnsafeRawBufferPointer(start: out, count: written), as: UTF8.self) == expected,
                        "\(input.count) bytes from offset \(offset)")
            }
        }
        #expect((taken > 0) == hasAVX2)
    }
}

@Suite struct UTF8ValidatorTests {
    func valid(_ bytes: [UInt8]) -> Bool {
        var v = UTF8Validator()
        v.feed(bytes)
        return v.isCompleteAndValid
    }

    @Test func accepts() {
        #expect(valid(Array("hello, wörld € 𝄞 κόσμε".utf8)))
        #expect(valid([]))
        #expect(valid([0xEF, 0xBF, 0xBF]))           // U+FFFF
        #expect(valid([0xF4, 0x8F, 0xBF, 0xBF]))     // U+10FFFF
        #expect(valid([0xED, 0x9F, 0xBF]))           // U+D7FF
        #expect(valid(Array(repeating: 0x41, count: 37) + [0xC3, 0xA9] + Array(repeating: 0x42, count: 19)))
    }

    @Test func rejects() {
        #expect(!valid([0xC0, 0x80]))                // overlong NUL
        #expect(!valid([0xC1, 0xBF]))                // overlong
        #expect(!valid([0xE0, 0x80, 0xAF]))          // overlong '/'
        #expect(!valid([0xF0, 0x8F, 0xBF, 0xBF]))    // overlong U+FFFF
        #expect(!valid([0xED, 0xA0, 0x80]))          // surrogate U+D800
        #expect(!valid([0xED, 0xBF, 0xBF]))          // surrogate U+DFFF
        #expect(!valid([0xF4, 0x90, 0x80, 0x80]))    // U+110000
        #expect(!valid([0xF5, 0x80, 0x80, 0x80]))
        #expect(!valid([0x80]))                      // lone continuation
        #expect(!valid([0xFF]))
        #expect(!valid([0xE2, 0x82]))                // unfinished at the end
        #expect(!valid(Array("abcdefghij".utf8) + [0xCE, 0xBA, 0xE1]))
    }

    @Test func splitAtEveryPosition() {
        let text = Array("κόσμε 𝄞 € ok".utf8)
        for cut in 0...text.count {
            var v = UTF8Validator()
            v.feed(Array(text[..<cut]))
            v.feed(Array(text[cut...]))
            #expect(v.isCompleteAndValid, "cut at \(cut)")
        }
        let bad: [UInt8] = [0x61, 0xED, 0xA0, 0x80, 0x62]
        for cut in 0...bad.count {
            var v = UTF8Validator()
            v.feed(Array(bad[..<cut]))
            v.feed(Array(bad[cut...]))
            #expect(!v.isCompleteAndValid, "cut at \(cut)")
        }
        // One byte per call across a four-byte sequence.
        var v = UTF8Validator()
        for b: UInt8 in [0xF0, 0x9D, 0x84, 0x9E] { v.feed([b]) ; #expect(v.isValidSoFar) }
        #expect(v.isCompleteAndValid)
    }
}

@Suite struct NameTests {
    @Test func closeCodes() {
        #expect(closeCodeName(1000) == "Normal Closure")
        #expect(closeCodeName(1001) == "Going Away")
        #expect(closeCodeName(1006) == "Abnormal Closure")
        #expect(closeCodeName(1015) == "TLS Handshake")
        #expect(closeCodeName(2000) == "Unassigned")
        #expect(closeCodeName(3001) == "Registered")
        #expect(closeCodeName(4999) == "Private")
        #expect(closeCodeName(999) == "Invalid")
        #expect(closeCodeName(5000) == "Invalid")
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999] {
            #expect(closeCodeAllowedOnWire(code), "\(code)")
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            #expect(!closeCodeAllowedOnWire(code), "\(code)")
        }
    }

    @Test func opcodes() {
        #expect(opcodeName(0) == "continuation")
        #expect(opcodeName(1) == "text")
        #expect(opcodeName(2) == "binary")
        #expect(opcodeName(8) == "close")
        #expect(opcodeName(9) == "ping")
        #expect(opcodeName(10) == "pong")
        #expect(opcodeName(3) == "reserved-3")
        #expect(opcodeName(15) == "reserved-15")
    }

    @Test func unmaskingAtEveryPhaseAndLength() {
        let mask: (UInt8, UInt8, UInt8, UInt8) = (0x11, 0x22, 0x33, 0x44)
        let maskArray: [UInt8] = [0x11, 0x22, 0x33, 0x44]
        let source = (0..<41).map { UInt8($0 * 7 & 0xFF) }
        for phase in 0..<4 {
            for count in 0...source.count {
                var out = [UInt8](repeating: 0, count: count)
                let next = source.withUnsafeBytes { s in
                    out.withUnsafeMutableBytes { unmask(s.baseAddress!, into: $0.baseAddress!, count: count, mask: mask, phase: phase) }
                }
                let expected = (0..<count).map { source[$0] ^ maskArray[($0 + phase) % 4] }
                #expect(out == expected)
                #expect(next == (phase + count) % 4)
            }
        }
    }
}

/// The start line is split on bytes when it is ASCII; the pieces must be exactly the generic
/// Character split's (empty pieces left out, the third piece the rest of the line as it is).
@Suite struct StartLineSplitTests {
    func both(_ line: String) -> (bytes: [String]?, characters: [String]) {
        let bytes = Array(line.utf8)
        let parts = bytes.withUnsafeBytes { HTTPHeaderParser.startLinePieces($0, 0..<$0.count) }
            .map { Array([$0.first, $0.second, $0.third].prefix($0.count)) }
        return (parts, line.split(separator: " ", maxSplits: 2).map(String.init))
    }

    @Test func agreesWithTheCharacterSplit() {
        let fixed = ["GET /chat HTTP/1.1", "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 101  Switching  Protocols ",
                     "  GET   /x   HTTP/1.1  ", "HTTP/1.1 200", "HTTP/1.1", "", " ", "   ", "a  b", "a b c d e"]
        for line in fixed {
            let (bytes, characters) = both(line)
            #expect(bytes == characters, "\(line.debugDescription)")
        }
        // Lines of up to 7 bytes over a small alphabet with spaces (seeded, bounded).
        for line in seededStrings(over: [" ", "G", "/", "1", " "], maxLength: 7, seed: 0x9E37_79B9_7F4A_7C15) {
            let (bytes, characters) = both(line)
            #expect(bytes == characters, "\(line.debugDescription)")
        }
    }

    @Test func leavesOtherBytesToTheCharacterSplit() {
        #expect(both("GET /caf\u{e9} HTTP/1.1").bytes == nil)
        #expect(both("GET / \u{301}HTTP/1.1").bytes == nil)  // a space that begins a grapheme
    }
}

/// `listContains` (a field's comma-separated tokens, on bytes) answers as the String path it
/// replaced: `splitList` then an ASCII case-insensitive comparison.
@Suite struct ListTokenTests {
    func byStrings(_ value: String, _ token: String) -> Bool {
        splitList(value).contains { asciiCaseInsensitiveEquals($0, token) }
    }

    @Test func agreesWithSplittingIntoStrings() {
        let fixed: [(String, String)] = [
            ("websocket", "websocket"), ("WebSocket", "websocket"), ("keep-alive, Upgrade", "upgrade"),
            (" , websocket ,", "websocket"), ("websockets", "websocket"), ("web socket", "websocket"),
            ("", "websocket"), (",,,", "websocket"), ("\twebsocket\t", "websocket"), ("h2c, websocket", "h2c"),
            ("a,b", ""), ("caf\u{e9}, x", "x"), ("CAF\u{c9}", "caf\u{e9}"),
        ]
        for (value, token) in fixed {
            #expect(listContains(value, token) == byStrings(value, token), "\(value.debugDescription) \(token.debugDescription)")
        }
        // Values of up to 8 bytes over an alphabet of commas, spaces, tabs and letters of both
        // cases (seeded, bounded), against short tokens.
        let tokens = ["a", "A", "ab", "a b", "b", "aa"]
        for value in seededStrings(over: [",", " ", "\t", "a", "A", "b"], maxLength: 8, seed: 0x2545_F491_4F6C_DD1D) {
            for token in tokens {
                #expect(listContains(value, token) == byStrings(value, token), "\(value.debugDescription) \(token.debugDescription)")
            }
        }
    }
}

/// 5,000 strings of up to `maxLength` characters drawn from `alphabet` by a seeded linear
/// congruential generator: the same strings on every run.
func seededStrings(over alphabet: [Character], maxLength: Int, seed: UInt64) -> [String] {
    var state = seed
    var strings: [String] = []
    for _ in 0..<5000 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let length = Int(state >> 60) % (maxLength + 1)
        var string = ""
        var bits = state
        for _ in 0..<length {
            string.append(alphabet[Int(bits % UInt64(alphabet.count))])
            bits /= UInt64(alphabet.count)
        }
        strings.append(string)
    }
    return strings
}

/// The header block parser finds lines and colons with memchr, reads the start line on bytes
/// when it is ASCII, and takes the handshake's header names (and "Switching Protocols") from
/// literals. What it returns must be what the byte-by-byte reading it replaced returned, kept
/// below as the reference: on real heads, on edge cases, and on seeded blocks over an alphabet
/// of the bytes that matter (CR, LF, colon, space, tab, letters of known names in both cases,
/// a non-ASCII letter).
@Suite struct HeadParsingTests {
    /// The parser before the change, line for line.
    static func reference(_ block: UnsafeRawBufferPointer) -> (start: HTTPHead.StartLine, headers: [HTTPHeader])? {
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: block[r]), as: UTF8.self) }
        var lines: [Range<Int>] = []
        var lineStart = 0
        for index in 0...block.count where index == block.count || block[index] == 0x0A {
            var lineEnd = index
            if lineEnd > lineStart && block[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            lines.append(lineStart..<lineEnd)
            lineStart = index + 1
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let firstRange = lines.first else { return nil }
        let first = text(firstRange)
        let parts = first.split(separator: " ", maxSplits: 2).map(String.init)
        let start: HTTPHead.StartLine
        if first.hasPrefix("HTTP/") {
            guard parts.count >= 2, let status = Int(parts[1]), (100...999).contains(status) else { return nil }
            start = .response(version: parts[0], status: status, reason: parts.count > 2 ? parts[2] : "")
        } else {
            guard parts.count == 3, parts[2].hasPrefix("HTTP/") else { return nil }
            start = .request(method: parts[0], target: parts[1], version: parts[2])
        }
        var headers: [HTTPHeader] = []
        for line in lines.dropFirst() where !line.isEmpty {
            let lead = block[line.lowerBound]
            if (lead == 0x20 || lead == 0x09) && !headers.isEmpty {
                headers[headers.count - 1].value += " " + text(HTTPHeaderParser.trimmed(block, line))
                continue
            }
            guard let colon = line.first(where: { block[$0] == 0x3A }) else { continue }
            headers.append(HTTPHeader(name: text(line.lowerBound..<colon), value: text(HTTPHeaderParser.trimmed(block, colon + 1..<line.upperBound))))
        }
        return (start, headers)
    }

    static func same(_ a: HTTPHead.StartLine, _ b: HTTPHead.StartLine) -> Bool {
        switch (a, b) {
        case let (.request(m1, t1, v1), .request(m2, t2, v2)): return m1 == m2 && t1 == t2 && v1 == v2
        case let (.response(v1, s1, r1), .response(v2, s2, r2)): return v1 == v2 && s1 == s2 && r1 == r2
        default: return false
        }
    }

    func check(_ text: String, _ comment: Comment? = nil) {
        Array(text.utf8).withUnsafeBytes { block in
            let want = Self.reference(block)
            let got = try? HTTPHeaderParser.parse(block)
            #expect((want == nil) == (got == nil), "\(text.debugDescription)")
            guard let want, let got else { return }
            #expect(Self.same(want.start, got.startLine), "\(text.debugDescription)")
            #expect(want.headers == got.headers, "\(text.debugDescription)")
        }
    }

    @Test func parsesAsTheByteByByteReading() {
        let fixed = [
            "GET /chat HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nOrigin: http://example.com\r\nUser-Agent: test/1.0\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
            "HTTP/1.1 101 switching protocols\nupgrade: websocket\nSEC-WEBSOCKET-ACCEPT: x\n\n",
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nDate: x\r\nServer: y\r\nSet-Cookie: a=b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost:x\r\n folded\r\n\tand again\r\nNoColonHere\r\n: empty name\r\nHost : spaced\r\nHOST: upper\r\nhost: lower\r\nHosts: longer\r\nHos: shorter\r\n\r\n",
            "GET / HTTP/1.1\r\nSec-WebSocket-Kez: near\r\nSec-WebSocket-Ke: short\r\nAccept-Encodinh: x\r\nAccept-Language: y\r\nPragma: p\r\nCookie: c\r\nAccept: */*\r\nOrigin:\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols \r\n\r\n", "HTTP/1.1 101 Switching Protocolz\r\n\r\n", "HTTP/1.1 101  Switching Protocols\r\n\r\n",
            "HTTP/\u{301}1.1 101 X\r\n\r\n", "GET /caf\u{e9} HTTP/1.1\r\nH\u{e9}st: v\u{e9}\r\n\r\n", "HTTP/1.1 abc\r\n\r\n", "HTTP/1.1 99 Low\r\n\r\n",
            "GET /\rx HTTP/1.1\r\n\r\n", "\r\n\r\n", "", "\n", "GET", "GET / HTTP/1.1", "GET / HTTP/1.1\r\nHost: a\r\n", "HTTP/1.1 101\r\nUpgrade:websocket",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n",
            // An empty line first: no start line, whatever follows.
            "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "\nHTTP/1.1 101 Switching Protocols\r\n\r\n", "\r\n\r\nGET / HTTP/1.1\r\n",
        ]
        for text in fixed { check(text) }
        // Seeded blocks: a valid start line, then lines over an alphabet of the bytes that matter.
        let alphabet: [Character] = ["\r\n", "\n", ":", " ", "\t", "H", "o", "s", "t", "h", "-", "S", "e", "c", "é", "\r"]
        for (i, tail) in seededStrings(over: alphabet, maxLength: 14, seed: 0x5851_F42D_4C95_7F2D).enumerated() {
            check((i % 2 == 0 ? "GET / HTTP/1.1\r\n" : "HTTP/1.1 101 Switching Protocols\r\n") + tail)
        }
        // Every known name and variants of it: a case changed, a byte changed, one byte more.
        for name in ["Host", "Date", "Origin", "Server", "Cookie", "Pragma", "Accept", "Upgrade", "Connection", "User-Agent",
                     "Content-Type", "Cache-Control", "Content-Length", "Accept-Encoding", "Accept-Language", "Sec-WebSocket-Key",
                     "Transfer-Encoding", "Sec-WebSocket-Accept", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
                     "Sec-WebSocket-Extensions"] {
            for variant in [name, name.lowercased(), name.uppercased(), String(name.dropLast()) + "x", name + "s"] {
                check("GET / HTTP/1.1\r\n\(variant): value\r\n\r\n")
            }
        }
    }

    /// The end of a header block, found by jumping from line end to line end, is where the
    /// byte loop found it, from every resume point.
    @Test func blockEndsWhereTheByteLoopFoundThem() {
        func reference(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
            var i = max(from, 0)
            while i < bytes.count {
                if bytes[i] == 0x0A {
                    if i >= 1 && bytes[i - 1] == 0x0A { return i + 1 }
                    if i >= 2 && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A { return i + 1 }
                }
                i += 1
            }
            return nil
        }
        let alphabet: [Character] = ["\r\n", "\n", "\r", "a", ":", " "]
        for text in seededStrings(over: alphabet, maxLength: 12, seed: 0x94D0_49BB_1331_11EB) + ["", "\n\n", "\r\n\r\n", "a\r\n\r\nb"] {
            Array(text.utf8).withUnsafeBytes { bytes in
                for from in -1...(bytes.count + 1) {
                    #expect(HTTPHeaderParser.endOfBlock(bytes, from: from) == reference(bytes, from: from), "\(text.debugDescription) \(from)")
                }
            }
        }
    }

    /// The literals stand only for their exact bytes.
    @Test func knownNamesAreExactlyTheirBytes() {
        for text in ["Host", "Sec-WebSocket-Key", "Switching Protocols", "Sec-WebSocket-Extensions"] {
            #expect(Array(text.utf8).withUnsafeBytes { HTTPHeaderParser.knownText($0, 0..<$0.count) } == text)
        }
        for text in ["host", "HOST", "Hosy", "Sec-WebSocket-key", "switching protocols", "Sec-WebSocket-Extension", "", "X"] {
            #expect(Array(text.utf8).withUnsafeBytes { HTTPHeaderParser.knownText($0, 0..<$0.count) } == nil, "\(text)")
        }
    }

    @Test func concatenatedJoinsAsPlusDoes() {
        let pieces = ["", "a", " ", "GET", "/chat", "1000", " (", "Normal Closure", ")", "é✓", "a-string-longer-than-fifteen-bytes", "\u{301}"]
        for a in pieces { for b in pieces { for c in pieces.prefix(4) { for d in pieces.suffix(4) {
            let joined = concatenated(a, b, c, d)
            #expect(joined == a + b + c + d)
            #expect(joined.utf8.elementsEqual((a + b + c + d).utf8))
        } } } }
    }
}
