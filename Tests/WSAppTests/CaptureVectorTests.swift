// Message payloads copied from the repository's real captures (Fixtures/apps: mosquitto with
// paho-mqtt, RabbitMQ STOMP), with their packet numbers and capture times, fed as the analyzer
// would feed them. The rest of this directory's inputs are hand-built.
import Testing
@testable import WSApp

private func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var hi: UInt8?
    for c in hex.utf8 {
        let v = c <= 57 ? c - 48 : c - 87
        if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
    }
    return out
}

@Test func captureMQTTv5Paho() {
    // Fixtures/apps/mqtt-v5.pcap, stream 0 (paho-mqtt 2.2.0 → mosquitto 2.0.11).
    let s = AppSession(subprotocol: "mqtt", path: "/mqtt", decodeAs: nil)
    let c = feed(s, client: true, text: false, bytes("101800044d5154540502003c0811000000002100140003707562"),
                 packet: 8, time: 1796431388739279872)
    #expect(c.count == 1 && c[0].string("client_id") == "pub" && c[0].int("protocol_level") == 5 && c[0].int("keep_alive") == 60)
    let a = feed(s, client: false, text: false, bytes("200900000622000a210014"), packet: 10, time: 1796431388741338880)
    #expect(a[0].type == "CONNACK" && a[0].int("reason_code") == 0)
    #expect(a[0].replyTo == AppReply(packet: 8, latency: 2_059_008))
    let p = feed(s, client: true, text: false, bytes("3315000a7374617475732f7075620001006f6e6c696e65"), packet: 11, time: 1796431388742021120)
    #expect(p[0].info == "MQTT PUBLISH qos=1 id=1 topic=status/pub 6 bytes retain")
    let ack = feed(s, client: false, text: false, bytes("4003000110"), packet: 12, time: 1796431388742088192)
    #expect(ack[0].info == "MQTT PUBACK id=1 reason_code=16" && ack[0].replyTo == AppReply(packet: 11, latency: 67_072))
}

@Test func captureMQTTSplit() {
    // Fixtures/apps/mqtt-split.pcap: CONNECT and SUBSCRIBE in one message; a PUBLISH's first
    // 10 bytes alone in packet 13.
    let s = AppSession(subprotocol: "mqtt", path: "/mqtt", decodeAs: nil)
    let two = feed(s, client: true, text: false, bytes("101400044d5154540402003c000868616e646d616465820c0001000773706c69742f2301"),
                   packet: 8, time: 1796431396330370048)
    #expect(two.map(\.type) == ["CONNECT", "SUBSCRIBE"] && two[0].string("client_id") == "handmade")
    #expect(feed(s, client: true, text: false, bytes("32c317000773706c6974"), packet: 13, time: 1796431396331321088).isEmpty)
    // The rest of that PUBLISH, hand-built to match its header (remaining length 0xC3 0x17 = 3011: topic "split/a", id 2, 3000 bytes).
    let rest = bytes("2f61") + [0, 2] + [UInt8](repeating: 0x78, count: 3000)
    let p = feed(s, client: true, text: false, rest, packet: 15, time: 1796431396331400000)
    #expect(p.count == 1 && p[0].string("topic") == "split/a" && p[0].int("payload_length") == 3000 && p[0].id == .int(2))
}

@Test func captureSTOMPRabbitMQ() {
    // Fixtures/apps/stomp-rabbitmq.pcap, stream 0: CONNECTED with a trailing EOL, then a heart-beat.
    // (The CONNECT is a shortened hand-written one, at the capture's CONNECT time.)
    let s = AppSession(subprotocol: "v12.stomp", path: "/ws", decodeAs: nil)
    feed(s, client: true, "CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\n\n\0", packet: 8, time: 1796431409625842944)
    let c = feed(s, client: false, text: true, bytes("434f4e4e45435445440a7365727665723a5261626269744d512f332e31302e380a73657373696f6e3a73657373696f6e2d3036677065465670394b396a78327a465945697257510a68656172742d626561743a313030302c313030300a76657273696f6e3a312e320a0a000a"),
                 packet: 9, time: 1796431409630931968)
    #expect(c.count == 1 && c[0].type == "CONNECTED" && c[0].info == "STOMP CONNECTED version=1.2")
    #expect(c[0].replyTo == AppReply(packet: 8, latency: 5_089_024))
    let hb = feed(s, client: false, text: true, bytes("0a"), packet: 24, time: 1796431410131726080)
    #expect(hb.map(\.type) == ["heartbeat"])
}
