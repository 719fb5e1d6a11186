import Testing
import CZlib
@testable import WSDissector

/// Compressed messages of one frame are inflated whole by ISA-L; everything else, and any
/// message ISA-L cannot settle, by zlib as the bytes come. These tests play the same streams
/// both ways (`DissectorLimits.wholeMessageInflate`) and require the same frames, messages,
/// violations (with their words), gaps and progress. The messages are made here with zlib
/// (valid, corrupted, cut, with a final block, not UTF-8, past the decompression cap): they are
/// malformed-input cases no real peer sends on purpose.
@Suite struct WholeMessageInflateTests {
    typealias Rng = RobustnessTests.Generator

    /// A direction's compressor: one stream kept across messages (context takeover), or a new
    /// one per message.
    final class Compressor {
        let takeover: Bool
        var stream = z_stream()
        init(takeover: Bool) {
            self.takeover = takeover
            #expect(wstrace_deflate_init_raw(&stream, 6, -15) == Z_OK)
        }
        deinit { deflateEnd(&stream) }

        /// Raw deflate of a message; `final`: it ends with a final block (BFINAL) instead of a
        /// sync flush (the stream then starts over, as a sender's would).
        func compress(_ data: [UInt8], level: Int32, final: Bool) -> [UInt8] {
            if !takeover { deflateReset(&stream) }
            deflateParams(&stream, level, Z_DEFAULT_STRATEGY)
            return WholeMessageInflateTests.run(&stream, data, final: final)
        }
    }

    /// Raw deflate; `final`: the stream ends with a final block (BFINAL) instead of a sync flush
    /// (else without the sync flush's 00 00 ff ff tail, RFC 7692 7.2.1).
    static func compress(_ data: [UInt8], level: Int32, final: Bool, windowBits: Int32 = 15) -> [UInt8] {
        var stream = z_stream()
        #expect(wstrace_deflate_init_raw(&stream, level, -windowBits) == Z_OK)
        let out = run(&stream, data, final: final)
        deflateEnd(&stream)
        return out
    }

    static func run(_ stream: inout z_stream, _ data: [UInt8], final: Bool) -> [UInt8] {
        var input = data
        var output = [UInt8](repeating: 0, count: data.count + data.count / 2 + 1024)
        let produced = input.withUnsafeMutableBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                _ = deflate(&stream, final ? Z_FINISH : Z_SYNC_FLUSH)
                return out.count - Int(stream.avail_out)
            }
        }
        if final { deflateReset(&stream) }
        return final ? Array(output[..<produced]) : Array(output[..<max(0, produced - 4)])
    }

    static func content(_ rng: inout Rng, _ n: Int) -> (opcode: UInt8, bytes: [UInt8]) {
        let words = ["price", "tick", "user", "héllo", "wörld", "42", "{\"a\":1}", "null"]
        switch rng.below(4) {
        case 0, 1:
            var out: [UInt8] = []
            while out.count < n { out += Array(words[rng.below(words.count)].utf8) + [0x20] }
            return (1, Array(out.prefix(n)))  // may cut a UTF-8 sequence: an invalid text message
        case 2:
            return (2, (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next() & 0x0f) })
        default:
            return (2, (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
    }

    /// One compressed message's frame payload, sometimes spoiled.
    static func message(_ rng: inout Rng, _ compressor: Compressor) -> (opcode: UInt8, payload: [UInt8]) {
        let sizes = [0, 1, 5, 130, 1500, 9000, 40000]
        var (opcode, data) = content(&rng, sizes[rng.below(sizes.count)])
        if rng.below(8) == 0 { data.append(0xff); opcode = 1 }  // not UTF-8 at all
        var payload = compressor.compress(data, level: [1, 6, 9][rng.below(3)], final: rng.below(6) == 0)
        switch rng.below(10) {
        case 0 where !payload.isEmpty:  // a byte changed
            let at = rng.below(payload.count)
            payload[at] ^= UInt8(1 << rng.below(8))
        case 1 where payload.count > 2:  // cut short
            payload.removeLast(1 + rng.below(min(payload.count - 1, 40)))
        case 2:  // bytes after the stream
            payload += (0..<(1 + rng.below(20))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 3 where payload.count > 8:  // a stretch overwritten
            let at = rng.below(payload.count - 8)
            for i in at..<(at + 8) { payload[i] = UInt8(truncatingIfNeeded: rng.next()) }
        default: break
        }
        return (opcode, payload)
    }

    /// Plays one seeded stream of compressed messages (both sides, random packet cuts, now and
    /// then a gap or the end inside a frame) with whole-message inflate on or off.
    static func play(seed: UInt64, whole: Bool, cap: UInt64, retention: Int, takeover: Bool, minimum: UInt64 = 0) -> Recorder {
        var rng = Rng(state: seed)
        let limits = DissectorLimits(payloadRetention: retention, maxDecompressedSize: cap, wholeMessageInflate: whole,
                                     wholeMessageMinimum: minimum)
        let r = upgraded(extensions: takeover ? "permessage-deflate"
                            : "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                         limits: limits)
        let compressors: [Side: Compressor] = [.client: Compressor(takeover: takeover), .server: Compressor(takeover: takeover)]
        var streams: [Side: [UInt8]] = [.client: [], .server: []]
        for _ in 0..<24 {
            let side: Side = rng.below(2) == 0 ? .client : .server
            let (opcode, payload) = message(&rng, compressors[side]!)
            let mask: [UInt8]? = side == .client ? [0x11, 0x8e, 0x3c, 0x70] : nil
            if rng.below(6) == 0 && payload.count > 2 {
                // In two frames: zlib inflates it as it comes, between messages ISA-L inflated.
                let cut = 1 + rng.below(payload.count - 1)
                streams[side]! += frame(opcode, Array(payload[..<cut]), fin: false, rsv: 4, mask: mask)
                streams[side]! += frame(0, Array(payload[cut...]), mask: mask)
                continue
            }
            streams[side]! += frame(opcode, payload, rsv: 4, mask: mask)
            if rng.below(7) == 0 { streams[side]! += frame(9, [1, 2, 3], mask: side == .client ? [1, 2, 3, 4] : nil) }
        }
        var at: [Side: Int] = [.client: 0, .server: 0]
        var ended: Set<Side> = []
        while ended.count < 2 {
            let side: Side = ended.contains(.client) ? .server : ended.contains(.server) ? .client : rng.below(2) == 0 ? .client : .server
            let bytes = streams[side]!
            let start = at[side]!
            if start >= bytes.count || rng.below(400) == 0 {
                r.end(side)  // the end, maybe inside a frame
                ended.insert(side)
                continue
            }
            if rng.below(150) == 0 {
                let lost = 1 + rng.below(3000)
                r.gap(UInt64(lost), side)
                at[side] = start + lost
                continue
            }
            let n = min(bytes.count - start, 1 + rng.below(3000))
            r.feed(Array(bytes[start..<(start + n)]), side)
            at[side] = start + n
        }
        return r
    }

    /// Where two recordings part, in a few words (the frames themselves are too long to show).
    static func firstDifference(_ a: [RecordedFrame], _ b: [RecordedFrame]) -> String? {
        for (i, (x, y)) in zip(a, b).enumerated() where x != y {
            func brief(_ f: RecordedFrame) -> String {
                let m = f.message.map { "length \($0.length) complete \($0.complete) utf8 \(String(describing: $0.utf8Valid)) truncated \($0.truncated) error \($0.inflateError ?? "-") kept \($0.payload.count)" } ?? "no message"
                return "packet \(f.packet) \(f.side) opcode \(f.opcode) \(m) violations \(f.violationMessages)"
            }
            return "frame \(i): \(brief(x)) | zlib: \(brief(y))"
        }
        return a.count == b.count ? nil : "\(a.count) frames against \(b.count)"
    }

    /// Every size goes whole here (a minimum of 0), so that ISA-L meets the small messages too;
    /// and with the default minimum, where only the larger ones do.
    @Test(arguments: [(false, 0), (true, 0), (false, 1024), (true, 1024)] as [(Bool, UInt64)])
    func wholeMessagesInflateAsZlibStreamsDo(takeover: Bool, minimum: UInt64) {
        var settled = 0, unsettled = 0, errors = 0, capped = 0
        for seed in UInt64(1)...40 {
            let cap: UInt64 = seed % 5 == 0 ? 3000 : 64 << 20
            let retention = seed % 3 == 0 ? 0 : 1 << 20
            let whole = Self.play(seed: seed, whole: true, cap: cap, retention: retention, takeover: takeover, minimum: minimum)
            let zlib = Self.play(seed: seed, whole: false, cap: cap, retention: retention, takeover: takeover)
            #expect(Self.firstDifference(whole.frames, zlib.frames) == nil, "seed \(seed)")
            #expect(whole.gaps.map { "\($0)" } == zlib.gaps.map { "\($0)" }, "seed \(seed)")
            #expect(whole.events.count == zlib.events.count, "seed \(seed)")
            settled += whole.session.scratch.fastInflater.settled
            unsettled += whole.session.scratch.fastInflater.unsettled
            #expect(zlib.session.scratch.fastInflater.settled == 0)
            errors += whole.messages.filter { $0.inflateError != nil }.count
            capped += whole.frames.filter { $0.violations.contains(.messageTooBig) }.count
        }
        // Both ways were really taken, and the spoiled messages really failed.
        // (Whole: 622 and 484 messages of 960 with a minimum of 0, 197 and 146 with 1,024.)
        #expect(settled > (minimum == 0 ? 300 : 100))
        #expect(unsettled > 20)
        #expect(errors > 20)
        #expect(capped > 5)
    }

    /// RFC 7692's "Hello" three ways, whole (even at 7 bytes: a minimum of 0) or as zlib streams;
    /// with the default minimum such a small message is zlib's.
    @Test func rfcHelloWithAFinalBlockAndStoredBlocks() {
        let small = upgraded(extensions: "permessage-deflate; server_no_context_takeover", limits: DissectorLimits())
        small.feed(frame(1, DeflateTests.hello, rsv: 4, mask: nil), .server)
        #expect(small.messages.map(\.payload) == [Array("Hello".utf8)])
        #expect(small.session.scratch.fastInflater.settled == 0)
        for whole in [true, false] {
            let r = upgraded(extensions: "permessage-deflate; server_no_context_takeover",
                             limits: DissectorLimits(wholeMessageInflate: whole, wholeMessageMinimum: 0))
            r.feed(frame(1, DeflateTests.hello, rsv: 4, mask: nil), .server)
            r.feed(frame(1, DeflateTests.helloBFinal, rsv: 4, mask: nil), .server)
            r.feed(frame(1, DeflateTests.helloStored, rsv: 4, mask: nil), .server)
            #expect(r.violations == [])
            #expect(r.messages.map(\.payload) == Array(repeating: Array("Hello".utf8), count: 3))
            #expect(r.session.scratch.fastInflater.settled == (whole ? 3 : 0))
        }
    }
}
