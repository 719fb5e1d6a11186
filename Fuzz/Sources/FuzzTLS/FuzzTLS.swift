// libFuzzer target (c): TLS records of both directions into the TLS stage (issue 15), with and
// without keys, and its plaintext into the WebSocket dissector as the analyzer wires them.
//
// Input: byte 0 = flags (bit 0: use the key log, which holds RFC 8448's section 3 secrets for
// its client random, so that seeds built from that trace decrypt and mutations reach the
// decrypted handshake, alerts and application data; bit 1: the key log "grows" and refuses the
// first lookups; bit 2: control bytes may inject gaps). Then chunks: a control byte c and
// data, as in FuzzStreams: side = c & 1; gap = c & 2 with flag bit 2; length = (c >> 2) + 1 for
// (c >> 2) < 48, else 64 << ((c >> 2) - 48), cut at the input's end.
import WSDissector
import WSTLS

private let rfc8448Random = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"
private let keyLines = """
    CLIENT_HANDSHAKE_TRAFFIC_SECRET \(rfc8448Random) b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21
    SERVER_HANDSHAKE_TRAFFIC_SECRET \(rfc8448Random) b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38
    CLIENT_TRAFFIC_SECRET_0 \(rfc8448Random) 9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5
    SERVER_TRAFFIC_SECRET_0 \(rfc8448Random) a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643
    CLIENT_RANDOM \(rfc8448Random) 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f

    """

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLS(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let flags = input[0]
    var keyLog: TLSKeyLog?
    if flags & 1 != 0 {
        let log = TLSKeyLog()
        if flags & 2 != 0 {
            var lookups = 0
            log.refresh = {
                lookups += 1
                guard lookups == 3 else { return false }
                log.add(keyLines, source: "fuzz")
                return true
            }
        } else {
            log.add(keyLines, source: "fuzz")
        }
        keyLog = log
    }
    let tls = TLSSession(keyLog: keyLog, cache: TLSSessionCache(),
                         limits: TLSLimits(maxHandshakeMessage: 4096, maxHeldForKey: 8192, keyWaitNanoseconds: 5, resyncSequences: 4))
    let limits = DissectorLimits(payloadRetention: 512, maxHeaderBlock: 2048, maxMessageSize: 32 << 10, maxDecompressedSize: 32 << 10)
    let session = WebSocketSession(limits: limits, midstream: false)
    var events = 0
    let dissected: (DissectorEvent) -> Void = { event in
        events &+= 1
        if case let .frame(f) = event { for b in f.payload { events &+= Int(b) } }
    }
    var packet = 1
    let handle: (TLSOutput) -> Void = { out in
        switch out {
        case let .record(r):
            events &+= r.items.count
        case let .plaintext(bytes, fromClient):
            // Read the borrowed bytes while they are valid (ASan checks each read).
            for b in bytes { events &+= Int(b) }
            session.receive(bytes, from: fromClient ? .client : .server, packet: packet, dissected)
        case let .gap(n, fromClient):
            session.gap(n, from: fromClient ? .client : .server, packet: packet, dissected)
        }
    }
    var offset = 1
    while offset < size {
        let c = input[offset]
        offset += 1
        let fromClient = c & 1 == 0
        let n = Int(c >> 2)
        if c & 2 != 0 && flags & 4 != 0 {
            tls.gap(UInt64(n * 37 + 1), fromClient: fromClient, packet: packet, time: Int64(packet), handle)
        } else {
            let want = n < 48 ? n + 1 : 64 << (n - 48)
            let len = min(want, size - offset)
            tls.receive(UnsafeRawBufferPointer(rebasing: input[offset ..< offset + len]), fromClient: fromClient,
                        packet: packet, time: Int64(packet), handle)
            offset += len
        }
        packet += 1
    }
    tls.end(fromClient: true, packet: packet, handle)
    tls.end(fromClient: false, packet: packet, handle)
    tls.finish(handle)
    _ = tls.info.detail
    return events == -1 ? 1 : 0
}
