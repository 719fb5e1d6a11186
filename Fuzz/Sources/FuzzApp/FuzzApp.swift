// libFuzzer target (d): the App stage's decoders and the display-filter compiler.
//
// Byte 0 chooses:
//   0x00-0x7f: an AppSession. Bits 0-2 pick how the protocol is chosen: --decode-as engine.io,
//              socket.io, mqtt, stomp, graphql-ws, jsonrpc, json, or (7) by subprotocol/path/content
//              with a subprotocol picked by bits 3-5 (none, mqtt, v12.stomp, graphql-transport-ws,
//              graphql-ws, jsonrpc, the Socket.IO path, none). Then messages: a control byte c
//              (bit 0: from the client, bit 1: text, bit 2: cut (payloadComplete false, length
//              doubled)), a length byte n, then n bytes. Every application protocol's decoder is
//              reached: MQTT and STOMP through their stream buffers across messages.
//   0x80-0xff: the rest, as UTF-8, compiled as a display filter (errors are values, never traps).
import WSApp
import WSFilter

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzApp(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let mode = input[0]
    if mode & 0x80 != 0 {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: input[1...]), as: UTF8.self)
        if let f = try? DisplayFilter(text) { _ = f.connectionLevel }
        return 0
    }
    let protocols: [AppProtocol?] = [.engineIO, .socketIO, .mqtt, .stomp, .graphqlWS, .jsonrpc, .json, nil]
    let subprotocols: [String?] = [nil, "mqtt", "v12.stomp", "graphql-transport-ws", "graphql-ws", "jsonrpc", nil, nil]
    let decodeAs = protocols[Int(mode & 7)]
    let sub = subprotocols[Int(mode >> 3) & 7]
    let path = (mode >> 3) & 7 == 6 ? "/socket.io/?EIO=4&transport=websocket" : "/"
    let session = AppSession(subprotocol: sub, path: path, decodeAs: decodeAs)
    var offset = 1
    var packet = 1
    var sum = 0
    while offset + 2 <= size {
        let c = input[offset]
        let n = min(Int(input[offset + 1]), size - offset - 2)
        let body = UnsafeRawBufferPointer(rebasing: input[offset + 2 ..< offset + 2 + n])
        offset += 2 + n
        let cut = c & 4 != 0
        let found = session.message(fromClient: c & 1 != 0, text: c & 2 != 0, payload: body,
                                    length: UInt64(cut ? n * 2 + 1 : n), payloadComplete: !cut,
                                    packet: packet, time: Int64(packet) * 1000)
        for m in found { sum &+= m.info.utf8.count &+ m.fields.count }
        packet += 1
    }
    sum &+= session.latencies.count &+ session.pendingRequests
    return sum == -1 ? 1 : 0
}
