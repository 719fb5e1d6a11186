// MQTT 3.1.1 and 5.0: packet fields, a packet split across messages and several packets in one,
// v5 properties skipped, every pairing with its latency, malformed packets stop the side.
// All packets are hand-built byte by byte (see Support.swift).
import Testing
@testable import WSApp

private func session() -> AppSession { AppSession(subprotocol: "mqtt", path: "/mqtt", decodeAs: nil) }

@Test func mqttConnectAndConnack() {
    let s = session()
    #expect(s.chosen == .mqtt)
    let c = feed(s, client: true, text: false, mqttConnect(clientID: "dev-1", keepAlive: 30, username: "alice", password: "secret",
                                                            will: ("dead/dev-1", "gone")), packet: 5, time: 10_000)
    #expect(c.count == 1)
    #expect(c[0].type == "CONNECT")
    #expect(c[0].string("client_id") == "dev-1")
    #expect(c[0].int("keep_alive") == 30)
    #expect(c[0].bool("clean_start") == true)
    #expect(c[0].int("protocol_level") == 4)
    #expect(c[0].string("will_topic") == "dead/dev-1")
    #expect(c[0].string("username") == "alice")
    #expect(!c[0].fields.contains { $0.value == .string("secret") })
    #expect(c[0].info == "MQTT CONNECT client_id=dev-1")
    let a = feed(s, client: false, text: false, mqttPacket(2, [1, 0]), packet: 6, time: 12_500)
    #expect(a[0].type == "CONNACK" && a[0].bool("session_present") == true && a[0].int("return_code") == 0)
    #expect(a[0].replyTo == AppReply(packet: 5, latency: 2_500))
    #expect(s.latencies.last?.key == "CONNECT" && s.latencies.last?.responseType == "CONNACK")
}

@Test func mqttPublishPairings() {
    let s = session()
    feed(s, client: true, text: false, mqttConnect(clientID: "x"), packet: 1, time: 0)
    // QoS 1 PUBLISH → PUBACK.
    let pub = feed(s, client: true, text: false, mqttPacket(3, flags: 0x02, mqttString("sensors/t1") + u16(3) + Array("hello".utf8)),
                   packet: 10, time: 1_000_000)
    #expect(pub[0].type == "PUBLISH")
    #expect(pub[0].string("topic") == "sensors/t1" && pub[0].int("qos") == 1 && pub[0].bool("retain") == false)
    #expect(pub[0].bool("dup") == false && pub[0].int("payload_length") == 5 && pub[0].id == .int(3))
    #expect(pub[0].info == "MQTT PUBLISH qos=1 id=3 topic=sensors/t1 5 bytes")
    let ack = feed(s, client: false, text: false, mqttPacket(4, u16(3)), packet: 11, time: 1_750_000)
    #expect(ack[0].type == "PUBACK" && ack[0].info == "MQTT PUBACK id=3" && ack[0].id == .int(3))
    #expect(ack[0].replyTo == AppReply(packet: 10, latency: 750_000))
    #expect(s.latencies.last == AppLatency(proto: .mqtt, key: "sensors/t1", requestType: "PUBLISH", responseType: "PUBACK",
                                           requestPacket: 10, responsePacket: 11, latency: 750_000, fromClient: true))
    // QoS 0: no id, nothing pending.
    let q0 = feed(s, client: false, text: false, mqttPacket(3, flags: 0x01, mqttString("a/b") + [1, 2]), packet: 12, time: 0)
    #expect(q0[0].id == .null && q0[0].field("id") == nil && q0[0].bool("retain") == true)
    #expect(q0[0].info == "MQTT PUBLISH qos=0 topic=a/b 2 bytes retain")
    // QoS 2 from the server: PUBREC from the client, PUBREL from the server, PUBCOMP from the client.
    feed(s, client: false, text: false, mqttPacket(3, flags: 0x04 | 0x08, mqttString("cmd/x") + u16(9) + [7]), packet: 20, time: 100)
    let rec = feed(s, client: true, text: false, mqttPacket(5, u16(9)), packet: 21, time: 300)
    #expect(rec[0].type == "PUBREC" && rec[0].replyTo == AppReply(packet: 20, latency: 200))
    let rel = feed(s, client: false, text: false, mqttPacket(6, flags: 0x02, u16(9)), packet: 22, time: 400)
    #expect(rel[0].type == "PUBREL" && rel[0].replyTo == nil)
    let comp = feed(s, client: true, text: false, mqttPacket(7, u16(9)), packet: 23, time: 1_000)
    #expect(comp[0].type == "PUBCOMP" && comp[0].replyTo == AppReply(packet: 22, latency: 600))
    #expect(s.latencies.last?.key == "cmd/x" && s.latencies.last?.requestType == "PUBREL" && s.latencies.last?.fromClient == false)
    // PUBREL with no PUBLISH seen: key "PUBREL".
    feed(s, client: true, text: false, mqttPacket(6, flags: 0x02, u16(77)), packet: 24, time: 0)
    feed(s, client: false, text: false, mqttPacket(7, u16(77)), packet: 25, time: 5)
    #expect(s.latencies.last?.key == "PUBREL")
    #expect(s.pendingRequests == 1) // the CONNECT, never answered
}

@Test func mqttSubscribeUnsubscribePing() {
    let s = session()
    let sub = feed(s, client: true, text: false, mqttPacket(8, flags: 0x02, u16(1) + mqttString("sensors/#") + [1] + mqttString("a/+") + [0]),
                   packet: 3, time: 50)
    #expect(sub[0].type == "SUBSCRIBE" && sub[0].id == .int(1))
    #expect(sub[0].field("topics") == .list([.object([AppField("topic", .string("sensors/#")), AppField("qos", .int(1))]),
                                             .object([AppField("topic", .string("a/+")), AppField("qos", .int(0))])]))
    #expect(sub[0].info == "MQTT SUBSCRIBE id=1 sensors/#,a/+")
    let suback = feed(s, client: false, text: false, mqttPacket(9, u16(1) + [1, 0x80]), packet: 4, time: 80)
    #expect(suback[0].type == "SUBACK" && suback[0].field("granted") == .list([.int(1), .int(128)]))
    #expect(suback[0].replyTo == AppReply(packet: 3, latency: 30))
    #expect(s.latencies.last?.key == "sensors/#,a/+")
    let unsub = feed(s, client: true, text: false, mqttPacket(10, flags: 0x02, u16(2) + mqttString("a/+")), packet: 5, time: 100)
    #expect(unsub[0].type == "UNSUBSCRIBE" && unsub[0].field("topics") == .list([.string("a/+")]))
    let unsuback = feed(s, client: false, text: false, mqttPacket(11, u16(2)), packet: 6, time: 101)
    #expect(unsuback[0].type == "UNSUBACK" && unsuback[0].replyTo == AppReply(packet: 5, latency: 1))
    feed(s, client: true, text: false, mqttPacket(12, []), packet: 7, time: 1_000)
    let pong = feed(s, client: false, text: false, mqttPacket(13, []), packet: 8, time: 1_040)
    #expect(pong[0].type == "PINGRESP" && pong[0].replyTo == AppReply(packet: 7, latency: 40))
    #expect(s.latencies.last?.key == "PINGREQ")
    #expect(feed(s, client: true, text: false, mqttPacket(14, []), packet: 9, time: 0)[0].type == "DISCONNECT")
}

@Test func mqttSplitAndPacked() {
    let s = session()
    let pub = mqttPacket(3, flags: 0x02, mqttString("t") + u16(5) + [UInt8](repeating: 0x41, count: 200))
    // One packet across two messages (the split is inside the remaining length, too).
    #expect(feed(s, client: true, text: false, Array(pub.prefix(2)), packet: 1, time: 10).isEmpty)
    let done = feed(s, client: true, text: false, Array(pub.dropFirst(2)), packet: 2, time: 20)
    #expect(done.count == 1 && done[0].int("payload_length") == 200 && done[0].id == .int(5))
    // Reported on the message that completes it: the request time is packet 2's.
    let ack = feed(s, client: false, text: false, mqttPacket(4, u16(5)), packet: 3, time: 25)
    #expect(ack[0].replyTo == AppReply(packet: 2, latency: 5))
    // Two packets and a half in one message, the rest in the next.
    let two = mqttPacket(12, []) + mqttPacket(3, mqttString("x/y") + [1, 2, 3])
    let third = mqttPacket(3, mqttString("z") + [9])
    let m1 = feed(s, client: true, text: false, two + Array(third.prefix(3)), packet: 4, time: 0)
    #expect(m1.map(\.type) == ["PINGREQ", "PUBLISH"])
    #expect(m1[1].string("topic") == "x/y" && m1[1].int("payload_length") == 3)
    let m2 = feed(s, client: true, text: false, Array(third.dropFirst(3)), packet: 5, time: 0)
    #expect(m2.count == 1 && m2[0].string("topic") == "z")
}

@Test func mqttV5PropertiesSkipped() {
    let s = session()
    // CONNECT v5 with properties: session expiry (0x11, 4 bytes) and receive maximum (0x21, 2 bytes).
    let c = feed(s, client: true, text: false, mqttConnect(clientID: "v5dev", level: 5, props: [8, 0x11, 0, 0, 0, 60, 0x21, 0, 10]),
                 packet: 1, time: 0)
    #expect(c[0].type == "CONNECT" && c[0].string("client_id") == "v5dev" && c[0].int("protocol_level") == 5)
    #expect(c[0].field("properties") == .object([AppField("session_expiry", .int(60)), AppField("receive_maximum", .int(10))]))
    // CONNACK v5: flags, reason code, properties (topic alias maximum).
    let a = feed(s, client: false, text: false, mqttPacket(2, [0, 0, 3, 0x22, 0, 5]), packet: 2, time: 9)
    #expect(a[0].int("reason_code") == 0 && a[0].field("return_code") == nil && a[0].replyTo == AppReply(packet: 1, latency: 9))
    #expect(a[0].field("properties") == .object([AppField("topic_alias_maximum", .int(5))]))
    // PUBLISH v5: topic, id, properties (content type "text"), payload.
    let props: [UInt8] = [7, 0x03] + mqttString("text")
    let p = feed(s, client: true, text: false, mqttPacket(3, flags: 0x02, mqttString("v5/t") + u16(11) + props + Array("abc".utf8)),
                 packet: 3, time: 10)
    #expect(p[0].string("topic") == "v5/t" && p[0].int("payload_length") == 3 && p[0].id == .int(11))
    #expect(p[0].field("properties") == .object([AppField("content_type", .string("text"))]))
    // PUBACK v5 with a reason code and properties; a short one without.
    let ack = feed(s, client: false, text: false, mqttPacket(4, u16(11) + [0x10, 0]), packet: 4, time: 15)
    #expect(ack[0].int("reason_code") == 0x10 && ack[0].info == "MQTT PUBACK id=11 reason_code=16")
    #expect(ack[0].replyTo == AppReply(packet: 3, latency: 5))
    // SUBSCRIBE v5: properties (subscription identifier varint 0x0B) before the filters.
    let sub = feed(s, client: true, text: false, mqttPacket(8, flags: 2, u16(2) + [2, 0x0B, 1] + mqttString("v5/#") + [2]), packet: 5, time: 20)
    #expect(sub[0].field("topics") == .list([.object([AppField("topic", .string("v5/#")), AppField("qos", .int(2))])]))
    let sa = feed(s, client: false, text: false, mqttPacket(9, u16(2) + [0] + [2]), packet: 6, time: 21)
    #expect(sa[0].field("granted") == .list([.int(2)]) && sa[0].replyTo == AppReply(packet: 5, latency: 1))
    let d = feed(s, client: false, text: false, mqttPacket(14, [0x8E, 0]), packet: 7, time: 0)
    #expect(d[0].type == "DISCONNECT" && d[0].int("reason_code") == 0x8E)
}

@Test func mqttMalformedStopsTheSide() {
    let s = session()
    let bad = feed(s, client: true, text: false, [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], packet: 1, time: 0)
    #expect(bad.count == 1 && bad[0].type == "malformed" && bad[0].problem?.contains("stops") == true)
    #expect(feed(s, client: true, text: false, mqttPacket(12, []), packet: 2, time: 0).isEmpty)
    // The other side goes on.
    #expect(feed(s, client: false, text: false, mqttPacket(13, []), packet: 3, time: 0)[0].type == "PINGRESP")
    // Reserved type 0.
    let s2 = session()
    #expect(feed(s2, client: true, text: false, [0x00, 0x00], packet: 1, time: 0)[0].type == "malformed")
    // A topic length overrunning the packet.
    let s3 = session()
    let over = feed(s3, client: true, text: false, mqttPacket(3, [0, 50, 0x41]), packet: 1, time: 0)
    #expect(over[0].type == "malformed" && over[0].problem?.contains("overruns") == true)
    // A packet over the 16 MiB buffer: this side stops, with a message.
    let s4 = session()
    let big = feed(s4, client: false, text: false, [0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0, 1], packet: 1, time: 0)
    #expect(big.count == 1 && big[0].problem?.contains("16 MiB") == true)
    #expect(feed(s4, client: false, text: false, mqttPacket(13, []), packet: 2, time: 0).isEmpty)
}

@Test func mqttLatenciesAreBounded() {
    let s = session()
    let req = mqttPacket(12, [])
    let resp = mqttPacket(13, [])
    for k in 0..<(65536 + 10) {
        feed(s, client: true, text: false, req, packet: 2 * k, time: Int64(k) * 10)
        feed(s, client: false, text: false, resp, packet: 2 * k + 1, time: Int64(k) * 10 + 3)
    }
    #expect(s.latencies.count == 65536 && s.latenciesDropped == 10)
    #expect(s.latencies.last == AppLatency(proto: .mqtt, key: "PINGREQ", requestType: "PINGREQ", responseType: "PINGRESP",
                                           requestPacket: 2 * 65535, responsePacket: 2 * 65535 + 1, latency: 3, fromClient: true))
}

@Test func mqttCutMessage() {
    let s = session()
    // A PUBLISH of 1000 payload bytes, kept only in its first 20: reported from what was kept.
    let pub = mqttPacket(3, flags: 0x02, mqttString("big/t") + u16(4) + [UInt8](repeating: 0, count: 1000))
    let m = feed(s, client: true, text: false, Array(pub.prefix(20)), packet: 1, time: 0, length: UInt64(pub.count), complete: false)
    #expect(m.count == 1 && m[0].type == "PUBLISH" && m[0].string("topic") == "big/t" && m[0].int("payload_length") == 1000)
    #expect(m[0].problem?.hasPrefix("message cut: 20 of \(pub.count) bytes kept") == true)
    // The stream goes on at the next message.
    #expect(feed(s, client: true, text: false, mqttPacket(12, []), packet: 2, time: 0)[0].type == "PINGREQ")
    // Cut where the lost bytes are more than the packet: this side stops.
    let two = mqttPacket(12, []) + pub
    let m2 = feed(s, client: true, text: false, Array(two.prefix(2)), packet: 3, time: 0, length: UInt64(two.count), complete: false)
    #expect(m2.first?.type == "PINGREQ" && m2.last?.problem?.contains("stops") == true)
    #expect(feed(s, client: true, text: false, mqttPacket(12, []), packet: 4, time: 0).isEmpty)
}

@Test func mqttV5TopicAliasesUserPropertiesReasonStrings() {
    let s = session()
    feed(s, client: true, text: false, mqttConnect(clientID: "a", level: 5), packet: 1, time: 0)
    // PUBLISH with a topic and topic alias 4 (0x23), two user properties (0x26).
    let props: [UInt8] = [0x23, 0, 4, 0x26] + mqttString("unit") + mqttString("C") + [0x26] + mqttString("room") + mqttString("lab")
    let p1 = feed(s, client: true, text: false, mqttPacket(3, mqttString("sensors/t2") + [UInt8(props.count)] + props + [0x31]), packet: 2, time: 0)
    #expect(p1[0].string("topic") == "sensors/t2" && p1[0].int("payload_length") == 1)
    #expect(p1[0].field("properties") == .object([
        AppField("topic_alias", .int(4)),
        AppField("user_properties", .list([.object([AppField("name", .string("unit")), AppField("value", .string("C"))]),
                                           .object([AppField("name", .string("room")), AppField("value", .string("lab"))])])),
    ]))
    // The alias alone (empty topic) resolves to the topic; an alias never set up is a problem.
    let p2 = feed(s, client: true, text: false, mqttPacket(3, flags: 2, mqttString("") + u16(8) + [3, 0x23, 0, 4] + [0x32]), packet: 3, time: 0)
    #expect(p2[0].string("topic") == "sensors/t2" && p2[0].problem == nil && p2[0].info == "MQTT PUBLISH qos=1 id=8 topic=sensors/t2 1 bytes")
    let p3 = feed(s, client: true, text: false, mqttPacket(3, mqttString("") + [3, 0x23, 0, 9]), packet: 4, time: 0)
    #expect(p3[0].string("topic") == "" && p3[0].problem == "topic alias 9 was never set up")
    // The server's aliases are its own.
    let p4 = feed(s, client: false, text: false, mqttPacket(3, mqttString("") + [3, 0x23, 0, 4]), packet: 5, time: 0)
    #expect(p4[0].problem != nil)
    // A PUBACK with a reason string (0x1F) shows it; an unknown property id is a problem, not a stop.
    let ack = feed(s, client: false, text: false, mqttPacket(4, u16(8) + [0x10] + [10, 0x1F] + mqttString("no subs")), packet: 6, time: 0)
    #expect(ack[0].info == #"MQTT PUBACK id=8 reason_code=16 "no subs""#)
    let odd = feed(s, client: false, text: false, mqttPacket(4, u16(9) + [0x00, 2, 0x7F, 0]), packet: 7, time: 0)
    #expect(odd[0].type == "PUBACK" && odd[0].problem == "unknown property 0x7f")
    #expect(feed(s, client: false, text: false, mqttPacket(13, []), packet: 8, time: 0)[0].type == "PINGRESP")
}
