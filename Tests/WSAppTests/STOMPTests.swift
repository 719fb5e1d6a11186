// STOMP: frames and fields, several frames in one message, a frame across messages,
// content-length bodies with NULs, heart-beats, header escapes, receipt and CONNECT pairing.
// Hand-written frames.
import Testing
@testable import WSApp

private func session() -> AppSession { AppSession(subprotocol: "v12.stomp", path: "/ws", decodeAs: nil) }

@Test func stompFramesAndPairing() {
    let s = session()
    #expect(s.chosen == .stomp)
    let c = feed(s, client: true, "CONNECT\naccept-version:1.2\nhost:example\nheart-beat:10000,10000\n\n\0", packet: 1, time: 1_000)
    #expect(c.count == 1 && c[0].type == "CONNECT" && c[0].string("command") == "CONNECT" && c[0].info == "STOMP CONNECT")
    #expect(c[0].field("headers") == .object([AppField("accept-version", .string("1.2")), AppField("host", .string("example")),
                                              AppField("heart-beat", .string("10000,10000"))]))
    let cd = feed(s, client: false, "CONNECTED\r\nversion:1.2\r\n\r\n\0\n", packet: 2, time: 4_000)
    #expect(cd.count == 1 && cd[0].type == "CONNECTED" && cd[0].replyTo == AppReply(packet: 1, latency: 3_000))
    #expect(cd[0].info == "STOMP CONNECTED version=1.2")
    let send = feed(s, client: true, "SEND\ndestination:/queue/a\nreceipt:r-1\ncontent-type:text/plain\n\nhello world!\0", packet: 3, time: 10_000)
    #expect(send[0].type == "SEND" && send[0].string("destination") == "/queue/a" && send[0].int("body_length") == 12)
    #expect(send[0].id == .string("r-1"))
    #expect(send[0].info == "STOMP SEND /queue/a 12 bytes receipt=r-1")
    let rc = feed(s, client: false, "RECEIPT\nreceipt-id:r-1\n\n\0", packet: 4, time: 10_500)
    #expect(rc[0].type == "RECEIPT" && rc[0].id == .string("r-1") && rc[0].info == "STOMP RECEIPT receipt-id=r-1")
    #expect(rc[0].replyTo == AppReply(packet: 3, latency: 500))
    #expect(s.latencies.map(\.key) == ["CONNECT", "SEND /queue/a"])
    #expect(s.latencies.last?.requestType == "SEND" && s.latencies.last?.responseType == "RECEIPT")
    // A MESSAGE: message-id and subscription stay in headers; id is null.
    let msg = feed(s, client: false, "MESSAGE\ndestination:/topic/x\nmessage-id:007\nsubscription:0\n\nabc\0", packet: 5, time: 0)
    #expect(msg[0].id == .null && msg[0].info == "STOMP MESSAGE /topic/x 3 bytes")
    #expect(s.pendingRequests == 0)
}

@Test func stompPackingSplittingAndHeartbeats() {
    let s = session()
    // Two frames in one message, with EOLs after the first's NUL (its trailer, not heart-beats).
    let two = feed(s, client: true, "SUBSCRIBE\nid:0\ndestination:/topic/a\n\n\0\n\nSEND\ndestination:/topic/a\n\nx\0", packet: 1, time: 0)
    #expect(two.map(\.type) == ["SUBSCRIBE", "SEND"])
    // A frame across three messages (split inside the headers and inside the body).
    #expect(feed(s, client: false, "MESSAGE\ndestina", packet: 2, time: 0).isEmpty)
    #expect(feed(s, client: false, "tion:/topic/a\n\nbody par", packet: 3, time: 0).isEmpty)
    let done = feed(s, client: false, "t two\0", packet: 4, time: 0)
    #expect(done.count == 1 && done[0].string("destination") == "/topic/a" && done[0].int("body_length") == 13)
    // Heart-beats: a lone EOL message from either side.
    let hb = feed(s, client: false, "\n", packet: 5, time: 0)
    #expect(hb.count == 1 && hb[0].type == "heartbeat" && hb[0].info == "STOMP heart-beat")
    #expect(feed(s, client: true, "\r\n", packet: 6, time: 0).map(\.type) == ["heartbeat"])
    // content-length: the body may hold NULs.
    let bin: [UInt8] = Array("SEND\ndestination:/q\ncontent-length:4\n\n".utf8) + [0, 1, 0, 2, 0]
    let cl = feed(s, client: true, text: false, bin, packet: 7, time: 0)
    #expect(cl.count == 1 && cl[0].int("body_length") == 4)
}

@Test func stompHeaderEscapesAndRepeats() {
    let s = session()
    let m = feed(s, client: false, "MESSAGE\ndestination:/a\\cb\nfoo:1\\n2\nfoo:second\n\n\0", packet: 1, time: 0)
    #expect(m[0].string("destination") == "/a:b")
    #expect(m[0].field("headers") == .object([AppField("destination", .string("/a:b")), AppField("foo", .string("1\n2"))]))
    // CONNECT/CONNECTED headers are not unescaped.
    let c = feed(s, client: true, "CONNECT\nlogin:a\\cb\n\n\0", packet: 2, time: 0)
    #expect(c[0].field("headers") == .object([AppField("login", .string("a\\cb"))]))
    // An unknown command is labelled.
    let u = feed(s, client: true, "HELLO\n\n\0", packet: 3, time: 0)
    #expect(u[0].type == "malformed" && u[0].problem?.contains("unknown command") == true)
    // ERROR with receipt-id answers the receipt.
    feed(s, client: true, "UNSUBSCRIBE\nid:9\nreceipt:77\n\n\0", packet: 4, time: 100)
    let e = feed(s, client: false, "ERROR\nreceipt-id:77\nmessage:no such subscription\n\n\0", packet: 5, time: 160)
    #expect(e[0].type == "ERROR" && e[0].replyTo == AppReply(packet: 4, latency: 60))
    #expect(e[0].info == "STOMP ERROR receipt-id=77 message=no such subscription")
}

@Test func stompCutMessage() {
    let s = session()
    let full = Array("SEND\ndestination:/queue/big\ncontent-length:5000\n\n".utf8) + [UInt8](repeating: 0x61, count: 5000) + [0]
    let m = feed(s, client: true, Array(full.prefix(60)), packet: 1, time: 0, length: UInt64(full.count), complete: false)
    #expect(m.count == 1 && m[0].type == "SEND" && m[0].string("destination") == "/queue/big" && m[0].int("body_length") == 5000)
    #expect(m[0].problem?.hasPrefix("message cut: 60 of") == true)
    // The next message starts afresh.
    #expect(feed(s, client: true, "DISCONNECT\n\n\0", packet: 2, time: 0)[0].type == "DISCONNECT")
}
