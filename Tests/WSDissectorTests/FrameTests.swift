import Testing
@testable import WSDissector

/// One test per frame/message/close violation code, on hand-built frames.
@Suite struct FrameViolationTests {
    func violations(client: [UInt8] = [], server: [UInt8] = [], extensions: String? = nil) -> [ViolationCode] {
        let r = upgraded(extensions: extensions)
        if !client.isEmpty { r.feed(client, .client) }
        if !server.isEmpty { r.feed(server, .server) }
        return r.violations
    }

    @Test func clientFrameUnmasked() { #expect(violations(client: frame(1, [0x61], mask: nil)) == [.clientFrameUnmasked]) }
    @Test func serverFrameMasked() { #expect(violations(server: frame(1, [0x61])) == [.serverFrameMasked]) }
    @Test func reservedOpcode() {
        #expect(violations(client: frame(3, [1, 2])) == [.reservedOpcode])
        #expect(violations(server: frame(0xB, [], mask: nil)) == [.reservedOpcode])
    }
    @Test func rsvWithoutExtension() {
        #expect(violations(client: clientFrame(1, "x", rsv: 4)) == [.rsvWithoutExtension])
        #expect(violations(client: clientFrame(1, "x", rsv: 2)) == [.rsvWithoutExtension])
        #expect(violations(client: clientFrame(2, "x", rsv: 1), extensions: "permessage-deflate") == [.rsvWithoutExtension])
    }
    @Test func nonMinimalLength() {
        #expect(violations(client: frame(2, [1, 2, 3], length: .sixteen)) == [.nonMinimalLength])
        #expect(violations(client: frame(2, [UInt8](repeating: 7, count: 300), length: .sixtyFour)) == [.nonMinimalLength])
    }
    @Test func lengthHighBitSet() {
        let r = upgraded()
        r.feed(frame(2, [], declaredLength: 1 << 63 | 5) + [1, 2, 3], .client)
        r.end(.client) // the frame never completes: it is reported, with its violations, at the end
        #expect(r.violations == [.lengthHighBitSet])
        #expect(r.events.contains { if case .progress(let p) = $0 { p.expected == 1 << 63 | 5 && p.received == 3 } else { false } })
    }
    @Test func controlFrameTooLong() {
        #expect(violations(client: frame(9, [UInt8](repeating: 1, count: 126))) == [.controlFrameTooLong])
    }
    @Test func controlFrameFragmented() {
        #expect(violations(client: frame(9, [1], fin: false)) == [.controlFrameFragmented])
    }
    @Test func controlFrameCompressed() {
        #expect(violations(client: frame(9, [1], rsv: 4), extensions: "permessage-deflate") == [.controlFrameCompressed])
    }
    @Test func unexpectedContinuation() {
        #expect(violations(client: frame(0, [1])) == [.unexpectedContinuation])
    }
    @Test func missingContinuation() {
        #expect(violations(client: frame(1, [0x61], fin: false) + frame(1, [0x62])) == [.missingContinuation])
    }
    @Test func rsv1OnContinuation() {
        // "Hello" compressed (RFC 7692 7.2.3.1) split in two fragments, RSV1 wrongly on both.
        let data = bytes("f248cdc9c90700")
        let v = violations(client: frame(1, Array(data[..<3]), fin: false, rsv: 4) + frame(0, Array(data[3...]), rsv: 4),
                           extensions: "permessage-deflate")
        #expect(v == [.rsv1OnContinuation])
    }
    @Test func invalidUTF8() {
        #expect(violations(client: frame(1, [0x61, 0xC0, 0x80])) == [.invalidUTF8])
        // Detected on the fragment where it happens, once.
        let r = upgraded()
        r.feed(frame(1, [0x61, 0xED], fin: false) + frame(0, [0xA0, 0x80]) , .client)
        #expect(r.violations == [.invalidUTF8])
        #expect(r.frames[1].violations == [.invalidUTF8])
        #expect(r.messages[0].utf8Valid == false)
        // Ending inside a sequence.
        #expect(violations(client: frame(1, [0x61, 0xE2, 0x82])) == [.invalidUTF8])
    }
    @Test func messageTooBig() {
        var limits = DissectorLimits()
        limits.maxMessageSize = 10
        limits.payloadRetention = 4
        let r = upgraded(limits: limits)
        r.feed(frame(2, [UInt8](repeating: 1, count: 8), fin: false) + frame(0, [UInt8](repeating: 2, count: 8)), .client)
        #expect(r.violations == [.messageTooBig])
        let m = r.messages[0]
        #expect(m.length == 16 && m.truncated && !m.complete && m.payload == [1, 1, 1, 1])
        #expect(r.frames[0].truncated)
    }
    @Test func invalidCloseCode() {
        for code: UInt16 in [1005, 1006, 1015, 999, 1004, 1016, 2999, 5000] {
            #expect(violations(client: frame(8, closeBody(code))) == [.invalidCloseCode], "\(code)")
        }
        #expect(violations(client: frame(8, closeBody(4000, "private"))) == [])
    }
    @Test func closeBodyOneByte() { #expect(violations(client: frame(8, [3])) == [.closeBodyOneByte]) }
    @Test func invalidCloseReason() {
        #expect(violations(client: frame(8, closeBody(1000) + [0xFF, 0x61])) == [.invalidCloseReason])
    }
    /// An oversized close frame's code and reason come from its first 125 bytes whatever the
    /// retention (a `--summary` keeps 125 bytes of a control frame, a timeline up to all of it):
    /// a character cut at byte 125 is left out, a byte that is not UTF-8 counts before the
    /// edge and not past it.
    @Test func oversizedCloseReasonIsTheFirst125BytesAtEveryRetention() {
        let a122 = [UInt8](repeating: 0x61, count: 122)
        let cases: [(body: [UInt8], reason: String, invalid: Bool)] = [
            (closeBody(1000) + a122 + [0xC3, 0xA9, 0x62], String(repeating: "a", count: 122), false),  // é cut at the edge
            (closeBody(1000) + a122 + [0xC3, 0xA9], String(repeating: "a", count: 122), false),
            (closeBody(1000) + a122 + [0x61, 0xFF], String(repeating: "a", count: 123), false),  // past the edge
            (closeBody(1000) + a122 + [0xFF, 0x61], String(repeating: "a", count: 122) + "\u{FFFD}", true),
            (closeBody(1000) + a122 + [0xC0, 0x80], String(repeating: "a", count: 122) + "\u{FFFD}", true),  // never a lead
            (closeBody(1000) + [UInt8](repeating: 0x61, count: 121) + [0xE0, 0x80, 0x80], String(repeating: "a", count: 121) + "\u{FFFD}\u{FFFD}", true),
        ]
        for (k, c) in cases.enumerated() {
            for retention in [0, 60, 1 << 20] {
                let r = upgraded(limits: DissectorLimits(payloadRetention: retention))
                r.feed(frame(8, c.body), .client)
                let expected: [ViolationCode] = c.invalid ? [.controlFrameTooLong, .invalidCloseReason] : [.controlFrameTooLong]
                #expect(r.violations.sorted { $0.rawValue < $1.rawValue } == expected.sorted { $0.rawValue < $1.rawValue },
                        "case \(k), retention \(retention)")
                #expect(r.frames.first?.closeCode == 1000 && r.frames.first?.closeReason == c.reason, "case \(k), retention \(retention)")
            }
        }
    }
    @Test func dataAfterClose() {
        let r = upgraded()
        r.feed(frame(8, closeBody(1001, "going")) + clientFrame(1, "late") + clientFrame(1, "later"), .client)
        #expect(r.violations == [.dataAfterClose])
        #expect(r.frames.count == 3)
        #expect(r.frames[0].closeCode == 1001 && r.frames[0].closeReason == "going")
    }
}

@Suite struct FrameParsingTests {
    /// A client stream mixing every length form, fragments and control frames.
    static let clientStream: [UInt8] =
        clientFrame(1, "Hello") + frame(2, [UInt8](repeating: 0xAA, count: 200))
        + frame(2, (0..<70000).map { UInt8($0 & 0xFF) }) + frame(1, Array("frä".utf8), fin: false)
        + frame(9, [1, 2]) + frame(0, Array("g€".utf8)) + frame(8, closeBody(1000, "done"))

    @Test func lengthsSixteenAndSixtyFour() {
        let r = upgraded()
        r.feed(Self.clientStream, .client)
        #expect(r.violations == [])
        #expect(r.frames.map(\.payloadLength) == [5, 200, 70000, 4, 2, 4, 6])
        #expect(r.frames.map(\.headerLength) == [6, 8, 14, 6, 6, 6, 6])
        #expect(r.messages.map(\.length) == [5, 200, 70000, 8])
        #expect(r.messages[2].payload == (0..<70000).map { UInt8($0 & 0xFF) })
        #expect(String(decoding: r.messages[3].payload, as: UTF8.self) == "fräg€")
        #expect(r.messages[3].utf8Valid == true)
    }

    @Test func splitAtEveryPositionGivesSameFrames() {
        let stream = clientFrame(1, "Hello") + frame(2, [UInt8](repeating: 0xAA, count: 200)) + frame(1, Array("frä".utf8), fin: false)
            + frame(9, [1, 2]) + frame(0, Array("g€".utf8)) + frame(8, closeBody(1000, "done"))
        let whole = upgraded()
        whole.feed(stream, .client)
        func normalized(_ frames: [RecordedFrame]) -> [RecordedFrame] {
            frames.map { var f = $0; f.packet = 0; f.firstPacket = 0; return f }
        }
        let reference = normalized(whole.frames)
        for cut in 1..<stream.count {
            let r = upgraded()
            r.feed(Array(stream[..<cut]), .client)
            r.feed(Array(stream[cut...]), .client)
            #expect(normalized(r.frames) == reference, "cut at \(cut)")
        }
        // Byte by byte.
        let r = upgraded()
        for b in stream { r.feed([b], .client) }
        #expect(normalized(r.frames) == reference)
    }

    @Test func firstPacketAndProgress() {
        let r = upgraded()
        let f = frame(2, [UInt8](repeating: 5, count: 1000))
        let first = r.packet + 1
        r.feed(Array(f[..<3]), .client)
        r.feed(Array(f[3..<500]), .client)
        r.feed(Array(f[500...]), .client)
        #expect(r.frames.count == 1)
        #expect(r.frames[0].firstPacket == first && r.frames[0].packet == first + 2)
        let progress = r.events.compactMap { if case .progress(let p) = $0 { p } else { nil } }
        #expect(progress.count == 2)
        #expect(progress[1].received == 497 - 5 && progress[1].expected == 1000)
    }

    @Test func hugeClaimedLengthIsStreamedNotAllocated() {
        var limits = DissectorLimits()
        limits.payloadRetention = 1024
        let r = upgraded(limits: limits)
        let huge: UInt64 = (1 << 63) - 1
        r.feed(frame(2, [], mask: nil, declaredLength: huge), .server)
        for _ in 0..<4 { r.feed([UInt8](repeating: 0x42, count: 4096), .server) }
        r.end(.server)
        #expect(r.violations == [])
        let f = r.frames[0]
        #expect(f.payloadLength == huge && f.truncated && f.payload.count == 1024)
        #expect(f.message?.complete == false && f.message?.length == 16384)
        #expect(r.gaps.count == 1 && r.gaps[0].size == huge - 16384)
    }

    @Test func hundredThousandFramesInOneCall() {
        let r = upgraded()
        var stream: [UInt8] = []
        stream.reserveCapacity(100_000 * 3)
        for i in 0..<100_000 { stream += [0x81, 1, UInt8(0x41 + i % 26)] }
        r.feed(stream, .server)
        #expect(r.frames.count == 100_000)
        #expect(r.violations == [])
        #expect(r.messages.last?.payload == [UInt8(0x41 + 99_999 % 26)])
    }

    @Test func endInsideAFrameReportsTruncation() {
        let r = upgraded()
        r.feed(Array(clientFrame(1, "Hello world")[..<10]), .client)
        r.end(.client)
        #expect(r.frames.count == 1 && r.frames[0].truncated)
        #expect(r.frames[0].message?.complete == false)
        #expect(r.gaps.count == 1)
        let r2 = upgraded()
        r2.feed([0x82, 0xFE, 0x01], .client)
        r2.end(.client)
        #expect(r2.gaps.count == 1 && r2.frames.isEmpty)
        let r3 = upgraded()
        r3.feed(clientFrame(1, "part", fin: false), .client)
        r3.end(.client)
        #expect(r3.gaps.count == 1)
    }
}
