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
        let parts = bytes.withUnsafeBytes { HTTPHeaderParser.startLineParts($0, 0..<$0.count) }
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
