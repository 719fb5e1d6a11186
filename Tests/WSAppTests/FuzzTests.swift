// Robustness: thousands of random, mutated and truncated byte strings (deterministic seed) fed to
// every decoder, both sides, text and binary, complete and cut; every `.json` value produced must
// re-parse. Also large inputs fed in small pieces finish (no quadratic rescans). All inputs are
// generated here.
import Testing
@testable import WSApp
import WSTestSupport

private let seeds: [[UInt8]] = {
    var s: [[UInt8]] = [
        #"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        #"42/chat,4["chat message",{"a":[1,2,{"b":"\u00e9\n"}]}]"#, #"43/chat,4["ok"]"#, "2probe", "3probe", "40", "41/x,",
        #"452-/up,7["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, #"461-1[{"_placeholder":true,"num":0}]"#,
        #"44{"message":"no"}"#, "4hello",
        #"{"jsonrpc":"2.0","id":4,"method":"eth_subscribe","params":["newHeads"]}"#,
        #"[{"jsonrpc":"2.0","id":1,"result":3},{"jsonrpc":"2.0","id":"x","error":{"code":-1,"message":"m"}}]"#,
        #"{"id":"1","type":"subscribe","payload":{"query":"subscription S { a(b: \"}\") }"}}"#,
        #"{"id":"1","type":"next","payload":{"data":{}}}"#, #"{"type":"connection_init"}"#, #"{"id":"1","type":"complete"}"#,
        "CONNECT\naccept-version:1.2\nhost:h\n\n\0", "SEND\ndestination:/q\nreceipt:1\ncontent-length:3\n\nab\0\0\n",
        "RECEIPT\nreceipt-id:1\n\n\0", "MESSAGE\ndestination:/a\\cb\\x\n\nbody\0\n\n", "\n", "\r\n",
        #"{"a":[1e5,-0.5,true,false,null,"\ud83d\ude00"]}"#,
    ].map { Array($0.utf8) }
    s.append(mqttConnect(clientID: "c", username: "u", password: "p", will: ("w", "x")))
    s.append(mqttConnect(clientID: "c5", level: 5, props: [3, 0x21, 0, 1]))
    s.append(mqttPacket(3, flags: 2, mqttString("t/x") + u16(1) + [1, 2, 3]))
    s.append(mqttPacket(8, flags: 2, u16(2) + mqttString("a/#") + [1]))
    s.append(mqttPacket(9, u16(2) + [1]))
    s.append(mqttPacket(2, [0, 0]) + mqttPacket(13, []) + mqttPacket(4, u16(1)))
    s.append(mqttPacket(6, flags: 2, u16(1)) + mqttPacket(7, u16(1)))
    return s
}()

private func mutate(_ b: [UInt8], _ g: inout SplitMix) -> [UInt8] {
    var b = b
    switch Int.random(in: 0..<6, using: &g) {
    case 0: // random bytes
        return (0..<Int.random(in: 0..<64, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
    case 1: // truncate
        if !b.isEmpty { b.removeLast(Int.random(in: 0...b.count, using: &g)) }
    case 2: // flip bytes
        for _ in 0..<Int.random(in: 1...4, using: &g) where !b.isEmpty {
            b[Int.random(in: 0..<b.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
        }
    case 3: // splice two seeds
        let o = seeds[Int.random(in: 0..<seeds.count, using: &g)]
        b = Array(b.prefix(Int.random(in: 0...b.count, using: &g))) + Array(o.suffix(Int.random(in: 0...o.count, using: &g)))
    case 4: // insert structural characters
        let chars: [UInt8] = Array("{}[]\",:\\0-\n\u{0}".utf8) + [0xFF, 0x80, 0xC3]
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            b.insert(chars[Int.random(in: 0..<chars.count, using: &g)], at: Int.random(in: 0...b.count, using: &g))
        }
    default:
        break
    }
    return b
}

private func checkJSON(_ v: AppValue) {
    switch v {
    case .json(let text):
        guard case .value = JSONParser.parse(text) else { Issue.record("invalid .json: \(text)"); return }
    case .list(let l): l.forEach(checkJSON)
    case .object(let f): f.forEach { checkJSON($0.value) }
    default: break
    }
}

@Test func fuzzEveryDecoder() {
    var g = SplitMix(state: 0x5EED_1234)
    let configs: [(String?, String?, AppProtocol?)] = [
        (nil, "/ws", nil), (nil, "/socket.io/?EIO=4", nil), ("mqtt", nil, nil), ("v12.stomp", nil, nil),
        ("graphql-transport-ws", nil, nil), ("graphql-ws", nil, nil), ("jsonrpc", nil, nil), (nil, nil, .json),
        (nil, nil, .socketIO), (nil, nil, .engineIO),
    ]
    var produced = 0
    for (sub, path, decodeAs) in configs {
        let s = AppSession(subprotocol: sub, path: path, decodeAs: decodeAs)
        for k in 0..<600 {
            let seed = seeds[Int.random(in: 0..<seeds.count, using: &g)]
            let bytes = mutate(seed, &g)
            let cut = Int.random(in: 0..<5, using: &g) == 0
            let kept = cut ? Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &g))) : bytes
            let length = UInt64(bytes.count) + (cut ? UInt64.random(in: 0...3, using: &g) : 0)
            let out = feed(s, client: Bool.random(using: &g), text: Int.random(in: 0..<4, using: &g) != 0, kept,
                           packet: k, time: Int64(k) * 1000, length: length, complete: !cut)
            produced += out.count
            // Compact text written without a tree equals the tree's.
            let full = JSONParser.parse(kept)
            let flat = JSONParser.parse(kept, expand: Int.random(in: 0..<3, using: &g))
            switch (full, flat) {
            case (.value(let a), .value(let b)): #expect(a.compact == b.compact)
            case (.failure(let a), .failure(let b)): #expect(a.offset == b.offset)
            default: Issue.record("tree and compact parses differ")
            }
            for m in out {
                for f in m.fields { checkJSON(f.value) }
                // The id is AppMessage.id, never a field too (one "id" in JSON output).
                #expect(!m.fields.contains { $0.name == "id" })
                if let r = m.replyTo { #expect(r.packet <= k) }
            }
        }
        #expect(s.pendingRequests >= 0)
        #expect(s.latencies.allSatisfy { $0.latency >= 0 })
    }
    #expect(produced > 1000)
}

@Test func fuzzRandomBytesEverywhere() {
    var g = SplitMix(state: 42)
    for p in AppProtocol.allCases {
        let s = AppSession(subprotocol: nil, path: nil, decodeAs: p)
        for k in 0..<400 {
            let n = Int.random(in: 0..<200, using: &g)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            feed(s, client: k % 3 != 0, text: k % 2 == 0, bytes, packet: k, time: 0)
        }
    }
}

@Test func largeInputsInSmallPieces() {
    // A 300 KB STOMP frame in 1 KB messages, then a 100 KB MQTT packet in 100-byte messages.
    let st = AppSession(subprotocol: "stomp", path: nil, decodeAs: nil)
    let frame = Array("SEND\ndestination:/q\n\n".utf8) + [UInt8](repeating: 0x61, count: 300_000) + [0]
    var out: [AppMessage] = []
    var k = 0
    while k < frame.count {
        out += feed(st, client: true, Array(frame[k..<min(frame.count, k + 1024)]), packet: k, time: 0)
        k += 1024
    }
    #expect(out.count == 1 && out[0].int("body_length") == 300_000)
    let mq = AppSession(subprotocol: "mqtt", path: nil, decodeAs: nil)
    let pkt = mqttPacket(3, mqttString("big") + [UInt8](repeating: 1, count: 100_000))
    var got: [AppMessage] = []
    k = 0
    while k < pkt.count {
        got += feed(mq, client: true, text: false, Array(pkt[k..<min(pkt.count, k + 100)]), packet: k, time: 0)
        k += 100
    }
    #expect(got.count == 1 && got[0].int("payload_length") == 100_000)
    // A 2 MB JSON-RPC batch in one message.
    let rpc = AppSession(subprotocol: "jsonrpc", path: nil, decodeAs: nil)
    let batch = "[" + (0..<20_000).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"eth_getBalance","params":["0xabcdef0123456789abcdef0123456789abcdef01","latest"]}"# }.joined(separator: ",") + "]"
    let msgs = feed(rpc, client: true, batch, packet: 1, time: 0)
    #expect(msgs.count == 20_000 && rpc.pendingRequests == 4096)
}
