// Engine.IO / Socket.IO: packet types and fields, one socket.io message per Engine.IO MESSAGE,
// EVENT↔ACK pairing, binary attachments joined, plain Engine.IO. Hand-written message texts.
import Testing
@testable import WSApp

private func session() -> AppSession {
    AppSession(subprotocol: nil, path: "/socket.io/?EIO=4&transport=websocket", decodeAs: nil)
}

@Test func engineIOPacketTypes() {
    let s = session()
    #expect(s.chosen == .engineIO)
    let open = feed(s, client: false, #"0{"sid":"abc123","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#, packet: 1, time: 0)
    #expect(open.count == 1)
    #expect(open[0].proto == .engineIO && open[0].type == "OPEN")
    #expect(open[0].string("sid") == "abc123")
    #expect(open[0].int("pingInterval") == 25000)
    #expect(open[0].int("pingTimeout") == 20000)
    #expect(open[0].int("maxPayload") == 1000000)
    #expect(open[0].field("upgrades") == .list([]))
    #expect(open[0].info == "Engine.IO OPEN sid=abc123")
    let ping = feed(s, client: false, "2", packet: 2, time: 0)
    #expect(ping[0].type == "PING" && ping[0].info == "Engine.IO PING")
    let probe = feed(s, client: true, "2probe", packet: 3, time: 0)
    #expect(probe[0].type == "PING" && probe[0].bool("probe") == true && probe[0].info == "Engine.IO PING probe")
    let pong = feed(s, client: false, "3probe", packet: 4, time: 0)
    #expect(pong[0].type == "PONG" && pong[0].bool("probe") == true)
    #expect(feed(s, client: true, "5", packet: 5, time: 0)[0].type == "UPGRADE")
    #expect(feed(s, client: true, "6", packet: 6, time: 0)[0].type == "NOOP")
    #expect(feed(s, client: true, "1", packet: 7, time: 0)[0].type == "CLOSE")
    let bad = feed(s, client: true, "9x", packet: 8, time: 0)
    #expect(bad[0].type == "malformed" && bad[0].problem != nil)
    // PING and PONG are not paired.
    #expect(s.latencies.isEmpty)
}

@Test func socketIOEventAckPairing() {
    let s = session()
    let c = feed(s, client: true, "40/chat,", packet: 1, time: 1_000)
    #expect(c.count == 1)
    #expect(c[0].proto == .socketIO && c[0].type == "CONNECT" && c[0].string("namespace") == "/chat")
    #expect(c[0].info == "Socket.IO CONNECT /chat")
    #expect(s.chosen == .socketIO)
    let ca = feed(s, client: false, #"40/chat,{"sid":"xyz"}"#, packet: 2, time: 2_000)
    #expect(ca[0].json("data") == #"{"sid":"xyz"}"#)

    let ev = feed(s, client: true, #"42/chat,4["chat message","hi",{"n":1}]"#, packet: 10, time: 5_000_000)
    #expect(ev.count == 1)
    #expect(ev[0].type == "EVENT")
    #expect(ev[0].id == .int(4))
    #expect(ev[0].string("event") == "chat message")
    #expect(ev[0].json("args") == #"["hi",{"n":1}]"#)
    #expect(ev[0].info == #"Socket.IO EVENT /chat "chat message" ack=4"#)
    #expect(s.pendingRequests == 1)

    // An ACK with the same id from the same side does not answer; from the other side it does.
    let same = feed(s, client: true, #"43/chat,4["x"]"#, packet: 11, time: 5_500_000)
    #expect(same[0].replyTo == nil)
    let ack = feed(s, client: false, #"43/chat,4["ok"]"#, packet: 12, time: 7_250_000)
    #expect(ack[0].type == "ACK")
    #expect(ack[0].json("args") == #"["ok"]"#)
    #expect(ack[0].info == "Socket.IO ACK /chat id=4")
    #expect(ack[0].replyTo == AppReply(packet: 10, latency: 2_250_000))
    #expect(s.latencies == [AppLatency(proto: .socketIO, key: "chat message", requestType: "EVENT", responseType: "ACK",
                                       requestPacket: 10, responsePacket: 12, latency: 2_250_000, fromClient: true)])
    #expect(s.pendingRequests == 0)

    // Default namespace; an ACK in another namespace does not match.
    let ev2 = feed(s, client: false, #"421["ping"]"#, packet: 20, time: 100)
    #expect(ev2[0].string("namespace") == "/" && ev2[0].info == #"Socket.IO EVENT / "ping" ack=1"#)
    #expect(feed(s, client: true, #"43/chat,1[]"#, packet: 21, time: 200)[0].replyTo == nil)
    #expect(feed(s, client: true, #"431[]"#, packet: 22, time: 300)[0].replyTo == AppReply(packet: 20, latency: 200))
}

@Test func socketIOOtherTypes() {
    let s = session()
    let d = feed(s, client: true, "41/admin,", packet: 1, time: 0)
    #expect(d[0].type == "DISCONNECT" && d[0].string("namespace") == "/admin")
    let e = feed(s, client: false, #"44/admin,{"message":"Not authorized"}"#, packet: 2, time: 0)
    #expect(e[0].type == "CONNECT_ERROR" && e[0].json("data") == #"{"message":"Not authorized"}"#)
    #expect(e[0].info == "Socket.IO CONNECT_ERROR /admin Not authorized")
    let noAck = feed(s, client: true, #"42["hello"]"#, packet: 3, time: 0)
    #expect(noAck[0].id == .null && noAck[0].info == #"Socket.IO EVENT / "hello""#)
    // A MESSAGE that is not a Socket.IO packet, once Socket.IO is decided: Engine.IO with a problem.
    let plain = feed(s, client: true, "4hello", packet: 4, time: 0)
    #expect(plain[0].proto == .engineIO && plain[0].type == "MESSAGE" && plain[0].string("data") == "hello")
    #expect(plain[0].problem != nil)
}

@Test func plainEngineIO() {
    let s = session()
    let m = feed(s, client: true, "4hello world", packet: 1, time: 0)
    #expect(m.count == 1)
    #expect(m[0].proto == .engineIO && m[0].type == "MESSAGE")
    #expect(m[0].string("data") == "hello world")
    #expect(m[0].info == #"Engine.IO MESSAGE "hello world""#)
    #expect(m[0].problem == nil)
    #expect(s.chosen == .engineIO)
    // A binary message with no attachments expected.
    let b = feed(s, client: false, text: false, [1, 2, 3], packet: 2, time: 0)
    #expect(b[0].proto == .engineIO && b[0].type == "MESSAGE" && b[0].int("length") == 3)
    // --decode-as engine.io: no Socket.IO even for a Socket.IO packet.
    let e = AppSession(subprotocol: nil, path: nil, decodeAs: .engineIO)
    let x = feed(e, client: true, #"42["a"]"#, packet: 1, time: 0)
    #expect(x[0].proto == .engineIO && x[0].string("data") == #"2["a"]"#)
}

@Test func socketIOBinaryAttachments() {
    let s = session()
    let ev = feed(s, client: true, #"452-/up,7["upload",{"_placeholder":true,"num":0},{"meta":{"_placeholder":true,"num":1}}]"#,
                  packet: 30, time: 1_000)
    #expect(ev.count == 1)
    #expect(ev[0].type == "BINARY_EVENT" && ev[0].int("attachments") == 2 && ev[0].id == .int(7))
    #expect(ev[0].string("event") == "upload")
    #expect(ev[0].info == #"Socket.IO BINARY_EVENT /up "upload" attachments=2 ack=7"#)
    // A binary message from the other side is not an attachment.
    let other = feed(s, client: false, text: false, [9, 9], packet: 31, time: 1_100)
    #expect(other[0].proto == .engineIO)
    let a0 = feed(s, client: true, text: false, [UInt8](repeating: 1, count: 5), packet: 32, time: 1_200)
    #expect(a0[0].proto == .socketIO && a0[0].type == "attachment")
    #expect(a0[0].int("num") == 0 && a0[0].int("length") == 5 && a0[0].int("of_packet") == 30)
    #expect(a0[0].field("complete") == nil && a0[0].field("args") == nil)
    let a1 = feed(s, client: true, text: false, [UInt8](repeating: 2, count: 3), packet: 33, time: 1_300)
    #expect(a1[0].int("num") == 1 && a1[0].int("length") == 3 && a1[0].bool("complete") == true)
    #expect(a1[0].json("args") == #"[{"_binary":0,"length":5},{"meta":{"_binary":1,"length":3}}]"#)
    // Done: the next binary is plain Engine.IO again.
    #expect(feed(s, client: true, text: false, [0], packet: 34, time: 1_400)[0].proto == .engineIO)
    // BINARY_ACK answers the BINARY_EVENT's ack id.
    let back = feed(s, client: false, #"461-/up,7[{"_placeholder":true,"num":0}]"#, packet: 35, time: 4_000)
    #expect(back[0].type == "BINARY_ACK" && back[0].replyTo == AppReply(packet: 30, latency: 3_000))
    let ba = feed(s, client: false, text: false, [1, 2, 3, 4], packet: 36, time: 4_100)
    #expect(ba[0].bool("complete") == true && ba[0].json("args") == #"[{"_binary":0,"length":4}]"#)
    // An absurd attachment count is labelled and not waited for.
    let huge = feed(s, client: true, #"45999999999-["x",{"_placeholder":true,"num":0}]"#, packet: 37, time: 0)
    #expect(huge[0].type == "BINARY_EVENT" && huge[0].problem?.contains("attachments announced") == true)
    #expect(feed(s, client: true, text: false, [1], packet: 38, time: 0)[0].proto == .engineIO)
}

@Test func socketIOCutMessage() {
    let s = session()
    let text = Array(#"42["big",{"data":"xxxxxxxxxxxxxxxxxxxxxxxx"}]"#.utf8)
    let kept = Array(text.prefix(14))
    let m = feed(s, client: true, kept, packet: 1, time: 0, length: UInt64(text.count), complete: false)
    #expect(m.count == 1)
    #expect(m[0].proto == .socketIO && m[0].type == "EVENT" && m[0].string("event") == "big")
    #expect(m[0].problem?.hasPrefix("message cut: 14 of \(text.count) bytes kept") == true)
}
