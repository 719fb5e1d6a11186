// JSON-RPC 2.0: requests, notifications, responses, errors, batches, exact id matching, invalid
// objects. Hand-written texts.
import Testing
@testable import WSApp

@Test func jsonrpcRequestResponseError() {
    let s = AppSession(subprotocol: "jsonrpc", path: "/", decodeAs: nil)
    let r = feed(s, client: true, #"{"jsonrpc":"2.0","id":4,"method":"eth_subscribe","params":["newHeads"]}"#, packet: 1, time: 1_000)
    #expect(r[0].type == "request" && r[0].id == .int(4) && r[0].string("method") == "eth_subscribe")
    #expect(r[0].json("params") == #"["newHeads"]"#)
    #expect(r[0].info == "JSON-RPC request id=4 eth_subscribe")
    // "4" (a string) does not answer 4 (a number).
    let wrong = feed(s, client: false, #"{"jsonrpc":"2.0","id":"4","result":"0x1"}"#, packet: 2, time: 1_500)
    #expect(wrong[0].replyTo == nil && wrong[0].info == #"JSON-RPC response id="4""#)
    let resp = feed(s, client: false, #"{"jsonrpc":"2.0","id":4,"result":"0xabc"}"#, packet: 3, time: 2_000)
    #expect(resp[0].type == "response" && resp[0].json("result") == #""0xabc""# && resp[0].info == "JSON-RPC response id=4")
    #expect(resp[0].replyTo == AppReply(packet: 1, latency: 1_000))
    #expect(s.latencies == [AppLatency(proto: .jsonrpc, key: "eth_subscribe", requestType: "request", responseType: "response",
                                       requestPacket: 1, responsePacket: 3, latency: 1_000, fromClient: true)])
    let n = feed(s, client: false, #"{"jsonrpc":"2.0","method":"eth_subscription","params":{"result":1}}"#, packet: 4, time: 0)
    #expect(n[0].type == "notification" && n[0].id == .null && n[0].info == "JSON-RPC notification eth_subscription")
    feed(s, client: true, #"{"jsonrpc":"2.0","id":"a","method":"nope"}"#, packet: 5, time: 10)
    let e = feed(s, client: false, #"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"Method not found"}}"#, packet: 6, time: 35)
    #expect(e[0].type == "error" && e[0].json("error") == #"{"code":-32601,"message":"Method not found"}"#)
    #expect(e[0].info == #"JSON-RPC error id="a" -32601 Method not found"#)
    #expect(e[0].replyTo == AppReply(packet: 5, latency: 25))
    let inv = feed(s, client: true, #"{"jsonrpc":"2.0","id":9}"#, packet: 7, time: 0)
    #expect(inv[0].type == "invalid" && inv[0].problem != nil)
    // A reused id while pending: the newer request replaces the older.
    feed(s, client: true, #"{"jsonrpc":"2.0","id":5,"method":"a"}"#, packet: 8, time: 100)
    feed(s, client: true, #"{"jsonrpc":"2.0","id":5,"method":"b"}"#, packet: 9, time: 200)
    #expect(s.pendingRequests == 1)
    let r5 = feed(s, client: false, #"{"jsonrpc":"2.0","id":5,"result":null}"#, packet: 10, time: 250)
    #expect(r5[0].replyTo == AppReply(packet: 9, latency: 50) && s.latencies.last?.key == "b")
}

@Test func jsonrpcBatch() {
    let s = AppSession(subprotocol: nil, path: "/rpc", decodeAs: nil)
    let b = feed(s, client: true, #"[{"jsonrpc":"2.0","id":1,"method":"sum","params":[1,2]},{"jsonrpc":"2.0","method":"log"},7]"#,
                 packet: 1, time: 0)
    #expect(s.chosen == .jsonrpc)
    #expect(b.map(\.type) == ["request", "notification", "invalid"])
    #expect(b.map { $0.int("batch_index") } == [0, 1, 2])
    #expect(b.allSatisfy { $0.bool("batch") == true })
    let r = feed(s, client: false, #"[{"jsonrpc":"2.0","id":1,"result":3}]"#, packet: 2, time: 40)
    #expect(r[0].replyTo == AppReply(packet: 1, latency: 40) && r[0].json("result") == "3")
    #expect(feed(s, client: false, "[]", packet: 3, time: 0)[0].type == "invalid")
}
