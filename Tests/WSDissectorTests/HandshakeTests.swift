import Testing
@testable import WSDissector

@Suite struct HandshakeTests {
    @Test func cleanExchangeHasNoViolations() {
        let r = Recorder()
        r.feed(upgradeRequest(extensions: "permessage-deflate; client_max_window_bits", protocols: "chat, superchat"), .client)
        r.feed(upgradeResponse(extensions: "permessage-deflate", protocols: "chat"), .server)
        r.feed(clientFrame(1, "Hello"), .client)
        r.feed(serverFrame(1, "Hi there"), .server)
        r.feed(frame(9, Array("ping".utf8)), .client)
        r.feed(frame(10, Array("ping".utf8), mask: nil), .server)
        r.feed(frame(1, Array("frag".utf8), fin: false) + frame(9, []) + frame(0, Array("ment".utf8)), .client)
        r.feed(frame(8, closeBody(1000, "bye")), .client)
        r.feed(frame(8, closeBody(1000), mask: nil), .server)
        r.end(.client)
        r.end(.server)
        #expect(r.violations == [])
        #expect(r.session.isWebSocket)
        #expect(r.session.negotiatedDeflate == DeflateParameters())
        let request = r.requests[0]
        #expect(request.isWebSocketUpgrade)
        #expect(request.method == "GET" && request.target == "/chat" && request.version == "HTTP/1.1")
        #expect(request.host == "example.com")
        #expect(request.origin == "http://example.com")
        #expect(request.key == sampleKey)
        #expect(request.webSocketVersion == "13")
        #expect(request.offeredProtocols == ["chat", "superchat"])
        #expect(request.offeredExtensions == [ExtensionOffer(name: "permessage-deflate",
                                                             parameters: [ExtensionParameter(name: "client_max_window_bits", value: nil)])])
        let response = r.responses[0]
        #expect(response.upgraded && response.status == 101 && response.reason == "Switching Protocols")
        #expect(response.acceptValid == true)
        #expect(response.selectedProtocol == "chat")
        #expect(r.messages.map { String(decoding: $0.payload, as: UTF8.self) } == ["Hello", "Hi there", "fragment"])
        #expect(r.messages[2].frames == 2)
        #expect(r.frames.last?.closeCode == 1000)
        #expect(r.frames.dropLast().last?.closeReason == "bye")
    }

    @Test func headerSplitAcrossCalls() {
        let request = Array(upgradeRequest().utf8)
        let response = Array(upgradeResponse().utf8)
        for cut in stride(from: 1, to: request.count, by: 3) {
            let r = Recorder()
            r.feed(Array(request[..<cut]), .client)
            r.feed(Array(request[cut...]), .client)
            for byte in response { r.feed([byte], .server) }
            #expect(r.requests.count == 1)
            #expect(r.responses.first?.acceptValid == true)
            #expect(r.session.isWebSocket)
        }
    }

    @Test func coalesced101AndPing() {
        let r = Recorder()
        r.feed(upgradeRequest(), .client)
        r.feed(Array(upgradeResponse().utf8) + serverFrame(9, "hb") + serverFrame(1, "welcome"), .server)
        #expect(r.responses.count == 1)
        #expect(r.frames.map(\.opcode) == [9, 1])
        #expect(r.frames.allSatisfy { $0.packet == 2 })
        #expect(r.messages.first?.payload == Array("welcome".utf8))
        #expect(r.violations == [])
    }

    @Test func rejectedUpgradeContinuesAsHTTP() {
        let r = Recorder()
        r.feed(upgradeRequest(), .client)
        r.feed("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .server)
        r.feed("GET /other HTTP/1.1\r\nHost: x\r\n\r\n", .client)
        #expect(!r.session.isWebSocket)
        #expect(r.responses.map(\.status) == [403, 200])
        #expect(r.responses[0].reason == "Forbidden" && !r.responses[0].upgraded)
        #expect(r.requests.map(\.target) == ["/chat", "/other"])
        #expect(r.opaque.map(\.bytes) == [5])
        #expect(r.frames.isEmpty)
    }

    @Test func plainHTTPPairsAreReported() {
        let r = Recorder()
        r.feed("POST /form HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n", .client)
        r.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", .server)
        #expect(r.requests.map(\.method) == ["POST", "GET"])
        #expect(r.requests[0].host == "a")
        #expect(r.requests[0].headers[0] == HTTPHeader(name: "host", value: "a"))
        #expect(!r.requests[0].isWebSocketUpgrade)
        #expect(r.responses.count == 1)
        #expect(r.opaque.contains { $0.kind == .httpBody && $0.side == .server })
        #expect(r.violations == [])
    }

    @Test func upgradeOnAnyCaseAndCommaLists() {
        let r = Recorder()
        r.feed("GET / HTTP/1.1\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-key: \(sampleKey)\r\n"
               + "sec-websocket-version: 13\r\nSec-WebSocket-Extensions: foo; a=1; b=\"two\"\r\n"
               + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover, bar\r\n\r\n", .client)
        r.feed("HTTP/1.1 101 OK\r\nUPGRADE: websocket\r\nsec-websocket-accept: \(sampleAccept)\r\n"
               + "sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n", .server)
        #expect(r.violations == [])
        #expect(r.requests[0].offeredExtensions.map(\.name) == ["foo", "permessage-deflate", "bar"])
        #expect(r.requests[0].offeredExtensions[0].parameters == [ExtensionParameter(name: "a", value: "1"),
                                                                  ExtensionParameter(name: "b", value: "two")])
        var expected = DeflateParameters()
        expected.serverNoContextTakeover = true
        expected.clientMaxWindowBits = 10
        #expect(r.session.negotiatedDeflate == expected)
    }

    @Test func badAcceptKey() {
        let r = Recorder()
        r.feed(upgradeRequest(), .client)
        r.feed(upgradeResponse(accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), .server)
        #expect(r.violations == [.badAcceptKey])
        #expect(r.responses[0].acceptValid == false)
    }

    @Test func missingAcceptKey() {
        let r = Recorder()
        r.feed(upgradeRequest(), .client)
        r.feed(upgradeResponse(accept: nil), .server)
        #expect(r.violations == [.missingAcceptKey])
    }

    @Test func extensionNotOffered() {
        let r = Recorder()
        r.feed(upgradeRequest(), .client)
        r.feed(upgradeResponse(extensions: "permessage-deflate"), .server)
        #expect(r.violations == [.extensionNotOffered])
    }

    @Test func protocolNotOffered() {
        let r = Recorder()
        r.feed(upgradeRequest(protocols: "chat"), .client)
        r.feed(upgradeResponse(protocols: "mqtt"), .server)
        #expect(r.violations == [.protocolNotOffered])
    }

    @Test func badWebSocketVersion() {
        let r = Recorder()
        r.feed(upgradeRequest(version: "8"), .client)
        #expect(r.violations == [.badWebSocketVersion])
    }

    @Test func missingKey() {
        let r = Recorder()
        r.feed(upgradeRequest(key: nil), .client)
        #expect(r.violations == [.missingKey])
        let r2 = Recorder()
        r2.feed(upgradeRequest(key: "c2hvcnQ="), .client)
        #expect(r2.violations == [.missingKey])
    }

    @Test func headerTooLarge() {
        var limits = DissectorLimits()
        limits.maxHeaderBlock = 256
        let r = Recorder(limits: limits)
        r.feed("GET / HTTP/1.1\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 10), .client)
        r.feed(String(repeating: "X-Filler: 0123456789\r\n", count: 10) + "\r\n", .client)
        #expect(r.violations == [.headerTooLarge])
        #expect(r.requests.isEmpty)
        r.feed("more", .client)
        #expect(r.opaque.last?.kind == .unknown)
    }

    @Test func dataBeforeUpgrade() {
        let r = Recorder()
        r.feed(upgradeRequest(), .client)
        r.feed(clientFrame(1, "eager"), .client)
        #expect(r.violations == [.dataBeforeUpgrade])
        r.feed(upgradeResponse(), .server)
        #expect(r.messages.first?.payload == Array("eager".utf8))
    }

    @Test func garbage() {
        let r = Recorder()
        r.feed("GET nonsense\r\n\r\n", .client)
        #expect(r.violations == [.garbage])
        #expect(r.requests.isEmpty)
    }

    @Test func unknownProtocolIsOpaque() {
        let r = Recorder()
        r.feed([0x00, 0x01, 0x02, 0x03, 0xFF], .client)
        #expect(r.opaque.first?.kind == .unknown)
        #expect(!r.session.isWebSocket)
    }

    @Test func everyReceiveYieldsAnEvent() {
        let r = Recorder()
        let stream = Array(upgradeRequest().utf8)
        for byte in stream { #expect(r.feed([byte], .client) >= 1) }
        for byte in Array(upgradeResponse().utf8) { #expect(r.feed([byte], .server) >= 1) }
        for byte in clientFrame(1, "abc") { #expect(r.feed([byte], .client) >= 1) }
    }
}

@Suite struct TLSTests {
    /// A minimal hand-built TLS 1.2 ClientHello record with SNI and ALPN.
    static func clientHello(host: String, alpn: [String]) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let name = Array(host.utf8)
        let sniEntry: [UInt8] = [0] + u16(name.count) + name
        let sni: [UInt8] = u16(0) + u16(sniEntry.count + 2) + u16(sniEntry.count) + sniEntry
        let protos = alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        let alpnExt: [UInt8] = u16(16) + u16(protos.count + 2) + u16(protos.count) + protos
        let extensions = sni + alpnExt
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 0xAB, count: 32) + [0]
        body += u16(4) + [0x13, 0x01, 0xC0, 0x2F] + [1, 0] + u16(extensions.count) + extensions
        let handshake: [UInt8] = [1, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        return [0x16, 0x03, 0x01] + u16(handshake.count) + handshake
    }

    @Test func clientHelloSNIAndALPN() {
        let r = Recorder()
        let hello = Self.clientHello(host: "ws.example.org", alpn: ["h2", "http/1.1"])
        r.feed(Array(hello[..<20]), .client)
        r.feed(Array(hello[20...]) + [0x17, 0x03, 0x03, 0x00, 0x01, 0x00], .client)
        #expect(r.session.isTLS)
        let event = r.tlsEvents.first { $0.kind == .clientHello }
        #expect(event?.serverName == "ws.example.org")
        #expect(event?.alpn == ["h2", "http/1.1"])
        r.feed([0x16, 0x03, 0x03, 0x00, 0x02, 0x02, 0x00], .server)
        #expect(r.tlsEvents.contains { $0.kind == .serverHello && $0.side == .server })
        r.feed([0x17, 0x03, 0x03, 0x00, 0x10] + [UInt8](repeating: 9, count: 16), .server)
        #expect(r.tlsEvents.last?.kind == .records)
        #expect(r.violations == [])
    }

    @Test func truncatedHelloDoesNotCrash() {
        let hello = Self.clientHello(host: "a.b", alpn: ["x"])
        for cut in 0..<hello.count {
            var broken = hello
            if cut + 5 < broken.count { broken[cut + 5] = 0xFF }
            _ = broken.withUnsafeBytes { TLSHello.parse($0) }
            _ = Array(hello[..<cut]).withUnsafeBytes { TLSHello.parse($0) }
        }
    }
}

/// The handshake reads a head's fields in one pass (`HTTPHead.handshakeFields`) where it
/// walked them once per name (`first`, `values`, a token check). Each field must be what a
/// reading of the names spelled here, independently of the parser's helpers, finds: the
/// first value whose name matches ignoring ASCII case, and whether any Upgrade field lists
/// `websocket`. Heads are seeded over the handshake's names in every case, decoys of the same
/// length, repeated fields and token lists.
@Suite struct HandshakeFieldsTests {
    /// Names equal ignoring ASCII case, byte by byte.
    static func sameName(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        func lower(_ c: UInt8) -> UInt8 { (0x41...0x5A).contains(c) ? c + 0x20 : c }
        return x.count == y.count && zip(x, y).allSatisfy { lower($0) == lower($1) }
    }

    static func first(_ headers: [HTTPHeader], _ name: String) -> String? {
        headers.first { sameName($0.name, name) }?.value
    }

    /// An item without the spaces and tabs around it.
    static func trimOWS(_ item: Substring) -> String {
        var bytes = Array(item.utf8)[...]
        while let b = bytes.first, b == 0x20 || b == 0x09 { bytes = bytes.dropFirst() }
        while let b = bytes.last, b == 0x20 || b == 0x09 { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func upgradeWebSocket(_ headers: [HTTPHeader]) -> Bool {
        headers.contains { h in
            sameName(h.name, "Upgrade") && h.value.split(separator: ",").contains { item in
                sameName(trimOWS(item), "websocket")
            }
        }
    }

    func check(_ headers: [HTTPHeader]) {
        let head = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"), headers: headers)
        let f = head.handshakeFields()
        let comment = Comment(rawValue: headers.map { "\($0.name): \($0.value)" }.joined(separator: " | "))
        #expect(f.host == Self.first(headers, "Host"), comment)
        #expect(f.origin == Self.first(headers, "Origin"), comment)
        #expect(f.key == Self.first(headers, "Sec-WebSocket-Key"), comment)
        #expect(f.version == Self.first(headers, "Sec-WebSocket-Version"), comment)
        #expect(f.accept == Self.first(headers, "Sec-WebSocket-Accept"), comment)
        #expect(f.upgradeWebSocket == Self.upgradeWebSocket(headers), comment)
        #expect(f.hasProtocols == (Self.first(headers, "Sec-WebSocket-Protocol") != nil), comment)
        #expect(f.hasExtensions == (Self.first(headers, "Sec-WebSocket-Extensions") != nil), comment)
    }

    @Test func agreesWithAReadingOfEachName() {
        let names = ["Host", "host", "HOST", "Hosx", "Date", "Origin", "ORIGIN", "Server", "Upgrade", "upgrade", "Upgradf",
                     "Sec-WebSocket-Key", "sec-websocket-key", "Transfer-Encoding", "Sec-WebSocket-Accept",
                     "SEC-WEBSOCKET-ACCEPT", "Sec-WebSocket-Version", "Sec-WebSocket-Versioo", "Sec-WebSocket-Protocol",
                     "sec-websocket-protocol", "Sec-WebSocket-Extensions", "Sec-WebSocket-Extensionz", "X", "Hé", "Connection"]
        let values = ["websocket", "WebSocket", "h2c, websocket", "websocket2", " websocket ,", "", "a", "13", "é"]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        for _ in 0..<3000 {
            let count = next(9)
            check((0..<count).map { _ in HTTPHeader(name: names[next(names.count)], value: values[next(values.count)]) })
        }
        // Parsed heads: names from the parser's literals and from the bytes.
        for text in ["GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\nOrigin: o\r\n\r\n",
                     "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nsec-websocket-accept: x\r\nSec-WebSocket-Protocol: chat\r\n\r\n"] {
            let head = Array(text.utf8).withUnsafeBytes { try? HTTPHeaderParser.parse($0) }
            #expect(head != nil)
            if let head { check(head.headers) }
        }
    }

    /// The ASCII case-insensitive comparison the fields and the other lookups use.
    @Test func namesCompareIgnoringASCIICaseOnly() {
        let words = ["Host", "host", "HOST", "hosT", "Hosx", "Hos", "Hosts", "", "Hé", "HÉ", "hé", "Sec-WebSocket-Key",
                     "SEC-WEBSOCKET-KEY", "Sec_WebSocket_Key", "a-string-longer-than-fifteen-bytes", "A-STRING-LONGER-THAN-FIFTEEN-BYTES",
                     // Canonically equivalent to each other, byte for byte different (the marks in
                     // either order; a precomposed letter): String's == takes them for equal.
                     "a\u{301}\u{316}", "a\u{316}\u{301}", "\u{e9}", "e\u{301}", "Sec-WebSocket-\u{212A}ey"]
        for a in words {
            for b in words {
                #expect(asciiCaseInsensitiveEquals(a, b) == Self.sameName(a, b), "\(a) \(b)")
            }
        }
    }
}
