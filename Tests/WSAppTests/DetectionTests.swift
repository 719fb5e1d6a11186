// Choosing the protocol: --decode-as, the subprotocol, the Upgrade path, the first messages'
// content, and the JSON fallback (with malformed JSON labelled). Hand-written messages.
import Testing
@testable import WSApp

@Test func detectionBySubprotocol() {
    let cases: [(String, AppProtocol)] = [("mqtt", .mqtt), ("mqttv3.1", .mqtt), ("v10.stomp", .stomp), ("v11.stomp", .stomp),
                                          ("v12.stomp", .stomp), ("stomp", .stomp), ("graphql-transport-ws", .graphqlWS),
                                          ("graphql-ws", .graphqlWS), ("jsonrpc", .jsonrpc), ("json-rpc", .jsonrpc),
                                          ("jsonrpc-2.0", .jsonrpc)]
    for (sub, p) in cases {
        let s = AppSession(subprotocol: sub, path: "/", decodeAs: nil)
        #expect(s.chosen == p, "\(sub)")
        #expect(s.wantsPayload)
    }
    #expect(AppSession(subprotocol: "chat", path: "/", decodeAs: nil).chosen == nil)
}

@Test func detectionByPathAndDecodeAs() {
    #expect(AppSession(subprotocol: nil, path: "/socket.io/?EIO=4&transport=websocket", decodeAs: nil).chosen == .engineIO)
    #expect(AppSession(subprotocol: nil, path: "/x?EIO=3", decodeAs: nil).chosen == .engineIO)
    // decodeAs overrides the subprotocol.
    let s = AppSession(subprotocol: "mqtt", path: "/", decodeAs: .jsonrpc)
    #expect(s.chosen == .jsonrpc)
    #expect(feed(s, client: true, #"{"jsonrpc":"2.0","method":"m"}"#, packet: 1, time: 0)[0].proto == .jsonrpc)
    let j = AppSession(subprotocol: "graphql-ws", path: "/", decodeAs: .json)
    #expect(feed(j, client: true, #"{"type":"ka"}"#, packet: 1, time: 0)[0].proto == .json)
    // --decode-as socket.io
    let sio = AppSession(subprotocol: nil, path: "/", decodeAs: .socketIO)
    #expect(feed(sio, client: true, #"42["x"]"#, packet: 1, time: 0)[0].proto == .socketIO)
}

@Test func detectionByContent() {
    let e = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    #expect(e.chosen == nil && e.wantsPayload)
    let open = feed(e, client: false, #"0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#, packet: 1, time: 0)
    #expect(e.chosen == .engineIO && open[0].type == "OPEN")
    let p = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    #expect(feed(p, client: true, "2probe", packet: 1, time: 0)[0].proto == .engineIO)
    let r = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    feed(r, client: true, "hello", packet: 1, time: 0)
    #expect(feed(r, client: true, #"{"jsonrpc":"2.0","id":1,"method":"x"}"#, packet: 2, time: 0)[0].proto == .jsonrpc)
    #expect(r.chosen == .jsonrpc)
    // GraphQL's connection_init, MQTT CONNECT and STOMP CONNECT by content (additions).
    let q = AppSession(subprotocol: nil, path: "/graphql", decodeAs: nil)
    #expect(feed(q, client: true, #"{"type":"connection_init","payload":{}}"#, packet: 1, time: 0)[0].proto == .graphqlWS)
    #expect(feed(q, client: true, #"{"id":"1","type":"subscribe","payload":{"query":"{ a }"}}"#, packet: 2, time: 0)[0].subprotocol == "graphql-transport-ws")
    let m = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    #expect(feed(m, client: true, text: false, mqttConnect(clientID: "c"), packet: 1, time: 0)[0].type == "CONNECT")
    #expect(m.chosen == .mqtt)
    let st = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    #expect(feed(st, client: true, "CONNECT\naccept-version:1.2\nhost:h\n\n\0", packet: 1, time: 0)[0].proto == .stomp)
}

@Test func detectionGivesUpAfterEightMessages() {
    let s = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    for k in 0..<8 {
        #expect(s.wantsPayload)
        if k % 2 == 0 {
            #expect(feed(s, client: k % 4 == 0, "plain text \(k)", packet: k, time: 0).isEmpty)
        } else {
            #expect(feed(s, client: false, text: false, [1, 2, 3], packet: k, time: 0).isEmpty)
        }
    }
    #expect(!s.wantsPayload && s.chosen == nil)
    // Too late: an Engine.IO open is no longer a match.
    #expect(feed(s, client: false, #"0{"sid":"x"}"#, packet: 99, time: 0).isEmpty)
    #expect(s.chosen == nil)
}

@Test func jsonFallbackAndMalformed() {
    let s = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    let o = feed(s, client: true, #"  {"a": 1, "b": [true, null]}"#, packet: 1, time: 0)
    #expect(o.count == 1 && o[0].proto == .json && o[0].type == "object")
    #expect(o[0].field("value") == .json(#"{"a":1,"b":[true,null]}"#))
    #expect(o[0].info == #"JSON {"a":1,"b":[true,null]}"#)
    #expect(s.chosen == .json && s.wantsPayload)
    let a = feed(s, client: false, "[1,2,3]", packet: 2, time: 0)
    #expect(a[0].type == "array")
    let long = feed(s, client: false, "[" + Array(repeating: "12345", count: 40).joined(separator: ",") + "]", packet: 3, time: 0)
    #expect(long[0].info.hasSuffix("…") && long[0].info.count == 5 + 80 + 1)
    let bad = feed(s, client: true, #"{"a":}"#, packet: 4, time: 0)
    #expect(bad[0].proto == .json && bad[0].type == "malformed")
    #expect(bad[0].problem == "JSON does not parse at byte 5: unexpected character '}'")
    #expect(feed(s, client: true, "not json", packet: 5, time: 0).isEmpty)
    // Once the connection carries JSON, a scalar that parses whole is JSON too; a binary
    // message only when it parses whole (never labelled malformed).
    #expect(feed(s, client: true, "42", packet: 6, time: 0).first?.type == "number")
    #expect(feed(s, client: true, text: false, Array("{}".utf8), packet: 7, time: 0).first?.type == "object")
    #expect(feed(AppSession(subprotocol: nil, path: "/", decodeAs: .json), client: true, text: false, Array("{x".utf8), packet: 1, time: 0).isEmpty)
    #expect(feed(AppSession(subprotocol: nil, path: "/", decodeAs: nil), client: true, "42", packet: 1, time: 0).isEmpty)
    // A later JSON-RPC message within the window still wins over the fallback.
    #expect(feed(s, client: true, #"{"jsonrpc":"2.0","method":"m"}"#, packet: 8, time: 0)[0].proto == .jsonrpc)
}

@Test func truncatedPayloads() {
    // JSON fallback: a cut text is not called malformed.
    let s = AppSession(subprotocol: nil, path: "/ws", decodeAs: .json)
    let text = Array(#"{"a":"0123456789","b":2}"#.utf8)
    let cut = feed(s, client: true, Array(text.prefix(10)), packet: 1, time: 0, length: UInt64(text.count), complete: false)
    #expect(cut.isEmpty)  // cut where the kept bytes end: no guess about the rest
    // JSON-RPC: the complete members kept are decoded.
    let r = AppSession(subprotocol: "jsonrpc", path: "/", decodeAs: nil)
    let req = Array(#"{"jsonrpc":"2.0","id":3,"method":"upload","params":["xxxxxxxxxxxxxxxxxxxxxxxx"]}"#.utf8)
    let m = feed(r, client: true, Array(req.prefix(50)), packet: 1, time: 0, length: UInt64(req.count), complete: false)
    #expect(m[0].type == "request" && m[0].string("method") == "upload" && m[0].id == .int(3))
    #expect(m[0].field("params") == nil && m[0].problem?.hasPrefix("message cut: 50 of") == true)
    // Nothing kept at all.
    #expect(feed(r, client: true, [], packet: 2, time: 0, length: 100, complete: false)[0].type == "malformed")
}

@Test func boundsOnPendingAndLatencies() {
    let s = AppSession(subprotocol: "jsonrpc", path: "/", decodeAs: nil)
    for k in 0..<5000 {
        feed(s, client: true, #"{"jsonrpc":"2.0","id":\#(k),"method":"m"}"#, packet: k, time: Int64(k))
    }
    #expect(s.pendingRequests == 4096)
    // The oldest (ids 0..903) were dropped.
    #expect(feed(s, client: false, #"{"jsonrpc":"2.0","id":0,"result":1}"#, packet: 6000, time: 6000)[0].replyTo == nil)
    #expect(feed(s, client: false, #"{"jsonrpc":"2.0","id":904,"result":1}"#, packet: 6001, time: 6001)[0].replyTo == AppReply(packet: 904, latency: 5097))
    #expect(s.pendingRequests == 4095)
}

/// Detection reads a message's opening (`AppSession.detectionPrefix` bytes), in every output
/// mode alike: a match in the opening of a long message is found (and that message is decoded
/// whole), a key past it is not, and the next message can still be matched.
@Test func detectionReadsTheOpeningOfEachMessage() {
    let limit = AppSession.detectionPrefix
    let params = String(repeating: "x", count: 2 * limit)
    // The key first, then params far past the opening: JSON-RPC, the whole message decoded.
    let first = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    first.jsonFallback = false
    let long = #"{"jsonrpc":"2.0","id":7,"method":"upload","params":[""# + params + #""]}"#
    #expect(long.utf8.count > 2 * limit)
    let found = feed(first, client: true, long, packet: 1, time: 0)
    #expect(first.chosen == .jsonrpc)
    #expect(found.first?.type == "request" && found.first?.info == "JSON-RPC request id=7 upload")
    #expect(found.first?.problem == nil)
    // The key after the params (as some clients order them): past the opening, not matched...
    let late = AppSession(subprotocol: nil, path: "/ws", decodeAs: nil)
    late.jsonFallback = false
    #expect(feed(late, client: true, #"{"method":"upload","params":[""# + params + #""],"id":8,"jsonrpc":"2.0"}"#,
                 packet: 1, time: 0).isEmpty)
    #expect(late.chosen == nil && late.isDetecting)
    // ...and a short message of the same client is, within the detection window.
    #expect(feed(late, client: true, #"{"method":"ping","id":9,"jsonrpc":"2.0"}"#, packet: 2, time: 0).first?.proto == .jsonrpc)
    #expect(late.chosen == .jsonrpc)
}
