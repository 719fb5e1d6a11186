import CZlib
import WSDissector
import WSTLS
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Whether the generated WebSocket traffic runs inside TLS (the wss benchmark).
enum GeneratedTLS: Equatable {
    case none, tls13, tls12
}

/// What the generator wrote, for checking the analyzer's counts.
struct GeneratedCounts {
    var connections = 0
    var packets = 0
    var frames = 0
    var messages = 0
    var text = 0
    var binary = 0
    var ping = 0
    var pong = 0
    var close = 0
    var longFrames = 0
}

/// Writes a realistic WebSocket capture: many connections, up to `maxOpen` at once, each with
/// the whole lifecycle (handshake, Upgrade, masked client frames, server frames spanning
/// MSS-sized segments, 64-bit-length frames, ping/pong, close both ways, FIN teardown).
final class CaptureGenerator {
    let targetBytes: Int
    let maxOpen: Int
    let deflate: Bool
    /// permessage-deflate with context takeover (what browsers and most servers negotiate): one
    /// compressor per direction of each connection, never reset. Without it, no context takeover.
    let takeover: Bool
    let tls: GeneratedTLS
    /// Request/response exchanges per connection, drawn uniformly from this range: 30...120 for
    /// the benchmark captures; a few for a capture of connection churn (many short connections).
    let exchanges: ClosedRange<Int>
    let mss = 1448
    /// wss: the same connections and messages in cleartext, written beside the TLS capture
    /// ("the same traffic in cleartext" of the benchmark), and the key log.
    private var twin: PcapWriter?
    private var keyLog: [UInt8] = []
    private let keyLogPath: String
    /// TLS randoms and secrets come from their own generator, so that the WebSocket traffic
    /// draws the same numbers as the cleartext twin.
    private var tlsRng = Rng(state: 0x7153_2026_1204_0001)
    var rng = Rng(state: 0x5eed_1234_abcd_ef01)
    var counts = GeneratedCounts()
    private var writer: PcapWriter
    private var time: Int64 = 1_790_000_000_000_000_000
    private var open: [Conn] = []
    private var nextPort = 0
    private var deflater = z_stream()

    final class Conn {
        /// With context takeover: the client's and the server's compressors.
        var deflaters: [UnsafeMutablePointer<z_stream>] = []
        var client: UInt32, server: UInt32, cport: UInt16, sport: UInt16
        var cseq: UInt32, sseq: UInt32
        var queue: [[UInt8]] = []
        var head = 0
        /// The cleartext twin's packets and sequence numbers (wss mode).
        var twinQueue: [[UInt8]] = []
        var twinCseq: UInt32 = 0, twinSseq: UInt32 = 0
        var clientSealer: TLSSealer?
        var serverSealer: TLSSealer?
        var exchangesLeft: Int
        var stage = 0
        init(client: UInt32, server: UInt32, cport: UInt16, sport: UInt16, cseq: UInt32, sseq: UInt32, exchanges: Int) {
            self.client = client; self.server = server; self.cport = cport; self.sport = sport
            self.cseq = cseq; self.sseq = sseq; exchangesLeft = exchanges
        }
    }

    init?(path: String, targetBytes: Int, maxOpen: Int, deflate: Bool, takeover: Bool = false, tls: GeneratedTLS = .none,
          exchanges: ClosedRange<Int> = 30...120) {
        guard let w = PcapWriter(path: path) else { return nil }
        writer = w
        self.exchanges = exchanges
        self.tls = tls
        keyLogPath = String(path.hasSuffix(".pcap") ? path.dropLast(5) : Substring(path)) + ".keys"
        if tls != .none {
            let twinPath = String(path.hasSuffix(".pcap") ? path.dropLast(5) : Substring(path)) + "-cleartext.pcap"
            guard let t = PcapWriter(path: twinPath) else { return nil }
            twin = t
        }
        self.targetBytes = targetBytes
        self.maxOpen = maxOpen
        self.deflate = deflate
        self.takeover = deflate && takeover
        if deflate { _ = wstrace_deflate_init_raw(&deflater, 6, -15) }
    }

    func run() -> GeneratedCounts {
        var winding = false
        // wss: the cleartext twin is the size asked for; the TLS capture is a little larger.
        var size: Int { twin?.bytesWritten ?? writer.bytesWritten }
        while size < targetBytes || !open.isEmpty {
            if size < targetBytes {
                while open.count < maxOpen && (open.count < max(1, maxOpen / 4) || rng.below(8) == 0) { openConnection() }
            } else if !winding {
                // Size reached: every open connection closes after its current exchange.
                winding = true
                for c in open { c.exchangesLeft = 0 }
            }
            guard !open.isEmpty else { break }
            let i = rng.below(open.count)
            let c = open[i]
            if c.head >= c.queue.count {
                if let twin {
                    for p in c.twinQueue { twin.record(time: time, p) }
                    c.twinQueue.removeAll(keepingCapacity: true)
                }
                c.queue.removeAll(keepingCapacity: true)
                c.head = 0
                refill(c)
                if c.queue.isEmpty {
                    for d in c.deflaters { deflateEnd(d); d.deallocate() }
                    c.deflaters = []
                    open.swapAt(i, open.count - 1)
                    open.removeLast()
                    continue
                }
            }
            time += Int64(rng.range(2_000, 40_000))
            writer.record(time: time, c.queue[c.head])
            c.head += 1
        }
        writer.close()
        twin?.close()
        if tls != .none, let f = fopen(keyLogPath, "wb") {
            keyLog.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, f) }
            fclose(f)
        }
        if deflate { deflateEnd(&deflater) }
        counts.packets = writer.packets
        return counts
    }

    private func openConnection() {
        nextPort += 1
        let client = 0x0a00_0000 | UInt32(nextPort / 20_000 + 1) << 8 | UInt32(nextPort % 200 + 1)
        let c = Conn(client: client, server: 0x0a01_0001 + UInt32(nextPort % 4), cport: UInt16(20_000 + nextPort % 40_000),
                     sport: tls == .none ? 8080 : 443, cseq: UInt32(truncatingIfNeeded: rng.next()), sseq: UInt32(truncatingIfNeeded: rng.next()),
                     exchanges: rng.range(exchanges.lowerBound, exchanges.upperBound))
        c.twinCseq = c.cseq
        c.twinSseq = c.sseq
        counts.connections += 1
        open.append(c)
    }

    // MARK: - Packets

    private func fromClient(_ c: Conn, _ flags: UInt8, _ payload: ArraySlice<UInt8> = [], options: [UInt8] = []) {
        c.queue.append(SegmentBuilder.packet(src: c.client, dst: c.server, sport: c.cport, dport: c.sport, seq: c.cseq,
                                             ack: flags & TCPFlag.ack != 0 ? c.sseq : 0, flags: flags, payload: payload, options: options))
        c.cseq &+= UInt32(payload.count) + (flags & (TCPFlag.syn | TCPFlag.fin) != 0 ? 1 : 0)
    }

    private func fromServer(_ c: Conn, _ flags: UInt8, _ payload: ArraySlice<UInt8> = [], options: [UInt8] = []) {
        c.queue.append(SegmentBuilder.packet(src: c.server, dst: c.client, sport: c.sport, dport: c.cport, seq: c.sseq,
                                             ack: c.cseq, flags: flags, payload: payload, options: options))
        c.sseq &+= UInt32(payload.count) + (flags & (TCPFlag.syn | TCPFlag.fin) != 0 ? 1 : 0)
    }

    /// The twin's packets: the cleartext capture of the same traffic.
    private func twinPacket(_ c: Conn, fromClient client: Bool, _ flags: UInt8, _ payload: ArraySlice<UInt8> = [], options: [UInt8] = []) {
        guard twin != nil else { return }
        let add = UInt32(payload.count) + (flags & (TCPFlag.syn | TCPFlag.fin) != 0 ? 1 : 0)
        if client {
            c.twinQueue.append(SegmentBuilder.packet(src: c.client, dst: c.server, sport: c.cport, dport: c.sport, seq: c.twinCseq,
                                                     ack: flags & TCPFlag.ack != 0 ? c.twinSseq : 0, flags: flags, payload: payload, options: options))
            c.twinCseq &+= add
        } else {
            c.twinQueue.append(SegmentBuilder.packet(src: c.server, dst: c.client, sport: c.sport, dport: c.cport, seq: c.twinSseq,
                                                     ack: c.twinCseq, flags: flags, payload: payload, options: options))
            c.twinSseq &+= add
        }
    }

    /// Sends application bytes: in TLS records in wss mode (and in clear to the twin).
    private func stream(_ c: Conn, fromClient client: Bool, _ bytes: [UInt8]) {
        guard tls != .none else { return segments(c, fromClient: client, bytes) }
        segments(c, fromClient: client, bytes, twin: true)
        let sealed = client ? c.clientSealer!.records(bytes) : c.serverSealer!.records(bytes)
        segments(c, fromClient: client, sealed)
    }

    /// Sends bytes in MSS-sized segments, the receiver ACKing every second one.
    private func segments(_ c: Conn, fromClient client: Bool, _ bytes: [UInt8], twin toTwin: Bool = false) {
        var offset = 0
        var segments = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + mss)
            if toTwin {
                twinPacket(c, fromClient: client, TCPFlag.ack | TCPFlag.psh, bytes[offset..<end])
            } else if client { fromClient(c, TCPFlag.ack | TCPFlag.psh, bytes[offset..<end]) } else { fromServer(c, TCPFlag.ack | TCPFlag.psh, bytes[offset..<end]) }
            offset = end
            segments += 1
            if segments % 2 == 0 || offset == bytes.count {
                if toTwin { twinPacket(c, fromClient: !client, TCPFlag.ack) } else if client { fromServer(c, TCPFlag.ack) } else { fromClient(c, TCPFlag.ack) }
            }
        }
    }

    private func refill(_ c: Conn) {
        switch c.stage {
        case 0:
            let synOptions: [UInt8] = [2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1]  // MSS 1460, SACK-permitted, NOP, WS 7, NOP, NOP
            fromClient(c, TCPFlag.syn, options: synOptions)
            fromServer(c, TCPFlag.syn | TCPFlag.ack, options: synOptions)
            fromClient(c, TCPFlag.ack)
            twinPacket(c, fromClient: true, TCPFlag.syn, options: synOptions)
            twinPacket(c, fromClient: false, TCPFlag.syn | TCPFlag.ack, options: synOptions)
            twinPacket(c, fromClient: true, TCPFlag.ack)
            if tls != .none { tlsHandshake(c) }
            c.stage = 1
        case 1:
            var keyBytes = [UInt8](repeating: 0, count: 16)
            for i in keyBytes.indices { keyBytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            let key = keyBytes.withUnsafeBytes { base64($0) }
            var request = "GET /stream/\(c.cport) HTTP/1.1\r\nHost: 10.1.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\nOrigin: http://10.1.0.1:8080\r\n"
            let extensions = takeover ? "permessage-deflate" : "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
            if takeover {
                c.deflaters = (0..<2).map { _ in
                    let d = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
                    d.initialize(to: z_stream())
                    _ = wstrace_deflate_init_raw(d, 6, -15)
                    return d
                }
            }
            if deflate { request += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
            request += "\r\n"
            stream(c, fromClient: true, Array(request.utf8))
            var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            response += "Sec-WebSocket-Accept: \(webSocketAcceptValue(forKey: key))\r\n"
            if deflate { response += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
            response += "\r\n"
            stream(c, fromClient: false, Array(response.utf8))
            c.stage = 2
        case 2 where c.exchangesLeft > 0:
            c.exchangesLeft -= 1
            let roll = rng.below(100)
            if roll < 55 {
                stream(c, fromClient: true, frame(c, opcode: 1, payload: text(rng.range(40, 400)), masked: true))
                stream(c, fromClient: false, frame(c, opcode: 1, payload: text(rng.range(100, 1400)), masked: false))
            } else if roll < 85 {
                stream(c, fromClient: false, frame(c, opcode: 2, payload: binary(rng.range(2_000, 12_000)), masked: false))
            } else if roll < 88 {
                stream(c, fromClient: false, frame(c, opcode: 2, payload: binary(rng.range(66_000, 80_000)), masked: false))
            } else {
                let body = text(rng.range(4, 20))
                stream(c, fromClient: false, frame(c, opcode: 9, payload: body, masked: false))
                stream(c, fromClient: true, frame(c, opcode: 10, payload: body, masked: true))
            }
        case 2:
            stream(c, fromClient: true, frame(c, opcode: 8, payload: [0x03, 0xe8] + Array("bye".utf8), masked: true))
            stream(c, fromClient: false, frame(c, opcode: 8, payload: [0x03, 0xe8], masked: false))
            c.stage = 3
        case 3:
            fromServer(c, TCPFlag.fin | TCPFlag.ack)
            fromClient(c, TCPFlag.ack)
            fromClient(c, TCPFlag.fin | TCPFlag.ack)
            fromServer(c, TCPFlag.ack)
            twinPacket(c, fromClient: false, TCPFlag.fin | TCPFlag.ack)
            twinPacket(c, fromClient: true, TCPFlag.ack)
            twinPacket(c, fromClient: true, TCPFlag.fin | TCPFlag.ack)
            twinPacket(c, fromClient: false, TCPFlag.ack)
            c.stage = 4
        default:
            break
        }
    }

    // MARK: - TLS

    private func tlsBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: tlsRng.next()) } }

    private static func handshake(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, UInt8(body.count >> 16), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body
    }

    private static func ext(_ type: UInt16, _ body: [UInt8]) -> [UInt8] {
        [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    private static func plainRecord(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, 3, 3, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    private func appendKeyLine(_ label: String, _ random: [UInt8], _ secret: [UInt8]) {
        keyLog += Array("\(label) \(tlsHex(random)) \(tlsHex(secret))\n".utf8)
    }

    /// The TLS handshake a real client and server would exchange, with random secrets logged:
    /// TLS 1.3 1-RTT (ClientHello, ServerHello + encrypted EncryptedExtensions/Finished, client
    /// Finished) or TLS 1.2 ECDHE (hellos, ServerHelloDone, ClientKeyExchange, CCS + Finished
    /// both ways).
    private func tlsHandshake(_ c: Conn) {
        let clientRandom = tlsBytes(32), serverRandom = tlsBytes(32), session = tlsBytes(32)
        let name = Array("bench.test".utf8)
        var exts = Self.ext(0, [0, UInt8(name.count + 3), 0, 0, UInt8(name.count)] + name)
        exts += Self.ext(16, [0, 9, 8] + Array("http/1.1".utf8))
        exts += Self.ext(10, [0, 2, 0, 0x1d])
        exts += Self.ext(13, [0, 2, 4, 3])
        let suite: [UInt8] = tls == .tls13 ? [0x13, 0x01] : [0xC0, 0x2F]
        if tls == .tls13 {
            exts += Self.ext(43, [2, 3, 4])
            exts += Self.ext(51, [0, 36, 0, 0x1d, 0, 32] + tlsBytes(32))
        }
        let hello = [3, 3] + clientRandom + [32] + session + [0, 2] + suite + [1, 0] + [UInt8(exts.count >> 8), UInt8(exts.count & 0xFF)] + exts
        segments(c, fromClient: true, Self.plainRecord(22, Self.handshake(1, hello)))
        if tls == .tls13 {
            let sext = Self.ext(43, [3, 4]) + Self.ext(51, [0, 0x1d, 0, 32] + tlsBytes(32))
            let serverHello = [3, 3] + serverRandom + [32] + session + suite + [0] + [0, UInt8(sext.count)] + sext
            let secrets = (0..<4).map { _ in tlsBytes(32) }
            for (label, secret) in zip(["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                        "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"], secrets) {
                appendKeyLine(label, clientRandom, secret)
            }
            var serverHS = TLSSealer(tls13Secret: secrets[1])
            var clientHS = TLSSealer(tls13Secret: secrets[0])
            let alpn = Self.ext(16, [0, 9, 8] + Array("http/1.1".utf8))
            let flight = Self.handshake(8, [0, UInt8(alpn.count)] + alpn) + Self.handshake(20, tlsBytes(32))
            segments(c, fromClient: false, Self.plainRecord(22, Self.handshake(2, serverHello)) + Self.plainRecord(20, [1])
                     + serverHS.seal(type: 22, flight[...]))
            segments(c, fromClient: true, Self.plainRecord(20, [1]) + clientHS.seal(type: 22, Self.handshake(20, tlsBytes(32))[...]))
            c.clientSealer = TLSSealer(tls13Secret: secrets[2])
            c.serverSealer = TLSSealer(tls13Secret: secrets[3])
        } else {
            let sext = Self.ext(0xFF01, [0]) + Self.ext(16, [0, 9, 8] + Array("http/1.1".utf8))
            let serverHello = [3, 3] + serverRandom + [32] + tlsBytes(32) + suite + [0] + [0, UInt8(sext.count)] + sext
            let master = tlsBytes(48)
            appendKeyLine("CLIENT_RANDOM", clientRandom, master)
            var (client, server) = TLSSealer.tls12(master: master, clientRandom: clientRandom, serverRandom: serverRandom)
            segments(c, fromClient: false, Self.plainRecord(22, Self.handshake(2, serverHello) + Self.handshake(14, [])))
            segments(c, fromClient: true, Self.plainRecord(22, Self.handshake(16, [65] + [4] + tlsBytes(64)))
                     + Self.plainRecord(20, [1]) + client.seal(type: 22, Self.handshake(20, tlsBytes(12))[...]))
            segments(c, fromClient: false, Self.plainRecord(20, [1]) + server.seal(type: 22, Self.handshake(20, tlsBytes(12))[...]))
            c.clientSealer = client
            c.serverSealer = server
        }
    }

    // MARK: - Frames

    /// A frame of `c`'s client (masked) or server.
    private func frame(_ c: Conn, opcode: UInt8, payload: [UInt8], masked: Bool) -> [UInt8] {
        var body = payload
        var rsv: UInt8 = 0
        if deflate && (opcode == 1 || opcode == 2) {
            body = compress(payload, with: c.deflaters.isEmpty ? nil : c.deflaters[masked ? 0 : 1])
            rsv = 0x40
        }
        counts.frames += 1
        switch opcode {
        case 1: counts.text += 1; counts.messages += 1
        case 2: counts.binary += 1; counts.messages += 1
        case 8: counts.close += 1
        case 9: counts.ping += 1
        case 10: counts.pong += 1
        default: break
        }
        var out: [UInt8] = [0x80 | rsv | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if body.count < 126 {
            out.append(maskBit | UInt8(body.count))
        } else if body.count < 65_536 {
            out.append(maskBit | 126)
            out.appendBE16(UInt16(body.count))
        } else {
            out.append(maskBit | 127)
            out.appendBE64(UInt64(body.count))
            counts.longFrames += 1
        }
        if masked {
            let key = (0..<4).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            out += key
            for i in body.indices { body[i] ^= key[i & 3] }
        }
        return out + body
    }

    private static let words = ["price", "tick", "user", "update", "order", "ACME", "status", "ok", "value", "channel",
                                "subscribe", "quote", "event", "id", "time", "42", "3.14", "true", "null", "payload"]

    private func text(_ n: Int) -> [UInt8] {
        var out: [UInt8] = Array("{\"type\":\"".utf8)
        while out.count < n - 2 {
            out += Array(Self.words[rng.below(Self.words.count)].utf8)
            out.append(rng.below(4) == 0 ? 0x2c : 0x20)
        }
        out += Array("\"}".utf8)
        return Array(out.prefix(n))
    }

    private func binary(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var i = 0
        while i < n {
            let v = rng.next()
            for k in 0..<8 where i + k < n { out[i + k] = deflate ? UInt8(truncatingIfNeeded: (v >> (8 * UInt64(k))) & 0x0f) : UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            i += 8
        }
        return out
    }

    /// Raw deflate of one message, without the final 00 00 ff ff (RFC 7692 7.2.1): by the
    /// connection's compressor (`context`, context takeover), or by the shared one, reset.
    private func compress(_ input: [UInt8], with context: UnsafeMutablePointer<z_stream>?) -> [UInt8] {
        if let context { return compress(input, context) }
        deflateReset(&deflater)
        return compress(input, &deflater)
    }

    private func compress(_ input: [UInt8], _ deflater: UnsafeMutablePointer<z_stream>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: input.count + input.count / 2 + 64)
        var produced = 0
        var copy = input
        copy.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                deflater.pointee.next_in = inBuf.baseAddress
                deflater.pointee.avail_in = UInt32(inBuf.count)
                deflater.pointee.next_out = outBuf.baseAddress
                deflater.pointee.avail_out = UInt32(outBuf.count)
                _ = CZlib.deflate(deflater, Z_SYNC_FLUSH)
                produced = outBuf.count - Int(deflater.pointee.avail_out)
            }
        }
        return Array(out[0..<max(0, produced - 4)])
    }
}
