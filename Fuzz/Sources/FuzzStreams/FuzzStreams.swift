// libFuzzer target (b): one TCP byte stream per direction into WebSocketSession.
//
// Input: byte 0 = flags (bit 0: midstream session, bit 1: control bytes may inject gaps,
// bit 2: end both sides at the finish, bits 3-4: payload retention 0/64/512/64 KiB).
// Then chunks: a control byte c, then that many bytes of data.
//   side   = c & 1 (client/server)
//   gap    = c & 2 and flag bit 1: no data, a gap of (c >> 2) * 37 + 1 bytes
//   length = (c >> 2) + 1 for (c >> 2) < 48, else 64 << ((c >> 2) - 48) (64 B … 2 MiB), cut at the input's end.
// Caps are small so the fuzzer reaches them.
import WSDissector

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStreams(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let flags = input[0]
    let retention = [0, 64, 512, 64 << 10][Int(flags >> 3) & 3]
    let limits = DissectorLimits(payloadRetention: retention, maxHeaderBlock: 2048,
                                 maxMessageSize: 32 << 10, maxDecompressedSize: 32 << 10)
    let session = WebSocketSession(limits: limits, midstream: flags & 1 != 0)
    var events = 0
    // Read the borrowed payload views while they are valid (ASan checks every byte read).
    let emit: (DissectorEvent) -> Void = { event in
        events &+= 1
        if case let .frame(f) = event {
            for b in f.payload { events &+= Int(b) }
            if let m = f.message { for b in m.payload { events &+= Int(b) } }
            events &+= f.closeReason?.utf8.count ?? 0
        }
    }
    var offset = 1
    var packet = 1
    while offset < size {
        let c = input[offset]
        offset += 1
        let side: Side = c & 1 == 0 ? .client : .server
        let n = Int(c >> 2)
        if c & 2 != 0 && flags & 2 != 0 {
            session.gap(UInt64(n * 37 + 1), from: side, packet: packet, emit)
        } else {
            let want = n < 48 ? n + 1 : 64 << (n - 48)
            let len = min(want, size - offset)
            session.receive(UnsafeRawBufferPointer(rebasing: input[offset ..< offset + len]), from: side,
                            packet: packet, emit)
            offset += len
        }
        packet += 1
    }
    if flags & 4 != 0 {
        session.end(from: .client, packet: packet, emit)
        session.end(from: .server, packet: packet, emit)
    }
    return events >= 0 ? 0 : 1
}
