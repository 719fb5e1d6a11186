// Inputs the FuzzStreams target (Fuzz/Sources/FuzzStreams) found crashing, kept in
// Tests/FuzzRegressions/streams-*.bin and replayed here in that target's input format: byte 0 =
// flags (bit 0 mid-stream, bit 1 gaps allowed, bit 2 end both sides, bits 3-4 retention), then
// chunks of a control byte (side = bit 0; gap = bit 1 when allowed, (c >> 2) * 37 + 1 bytes;
// else a length code) and data. Each must run to its end (a crash kills the test process).
import Foundation
import Testing
@testable import WSDissector

@Suite struct FuzzStreamRegressionTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzRegressions")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasPrefix("streams-") && $0.hasSuffix(".bin") }.sorted()
    }

    @Test func thereAreStreamRegressions() { #expect(!Self.inputs.isEmpty) }

    @Test(arguments: inputs) func replaysWithoutCrashing(_ name: String) throws {
        let input = [UInt8](try Data(contentsOf: Self.dir.appendingPathComponent(name)))
        try #require(!input.isEmpty)
        let flags = input[0]
        let retention = [0, 64, 512, 64 << 10][Int(flags >> 3) & 3]
        let limits = DissectorLimits(payloadRetention: retention, maxHeaderBlock: 2048,
                                     maxMessageSize: 32 << 10, maxDecompressedSize: 32 << 10)
        let session = WebSocketSession(limits: limits, midstream: flags & 1 != 0)
        var events = 0
        let emit: (DissectorEvent) -> Void = { _ in events += 1 }
        var offset = 1, packet = 1
        while offset < input.count {
            let c = input[offset]
            offset += 1
            let side: Side = c & 1 == 0 ? .client : .server
            let n = Int(c >> 2)
            if c & 2 != 0 && flags & 2 != 0 {
                session.gap(UInt64(n * 37 + 1), from: side, packet: packet, emit)
            } else {
                let length = min(n < 48 ? n + 1 : 64 << (n - 48), input.count - offset)
                input[offset..<(offset + length)].withUnsafeBytes { session.receive($0, from: side, packet: packet, emit) }
                offset += length
            }
            packet += 1
        }
        if flags & 4 != 0 {
            session.end(from: .client, packet: packet, emit)
            session.end(from: .server, packet: packet, emit)
        }
        #expect(events > 0)
    }
}
