import Testing
import WSTestSupport
@testable import WSDiagnosis
import WSDecode
import WSDissector
@testable import WSTimeline

/// The Diagnosis stage's pure parts on values built here (the real captures are in
/// IntegrationTests/DiagnosisTests).
@Suite struct DiagnosisUnitTests {
    static func summary(stream: Int = 0, websocket: Bool = true) -> ConnectionSummary {
        var s = ConnectionSummary(stream: stream, client: Endpoint(address: IPAddress(ipv4: 0x7f000001), port: UInt16(40000 + stream)),
                                  server: Endpoint(address: IPAddress(ipv4: 0x7f000001), port: 8080), start: 1_000_000_000,
                                  end: 5_000_000_000, firstPacket: 1, lastPacket: 20, midstream: false)
        s.isWebSocket = websocket
        return s
    }

    @Test func nearestRankPercentiles() {
        let d = Distribution([5, 1, 3, 2, 4])!
        #expect(d.count == 5 && d.min == 1 && d.median == 3 && d.p90 == 5 && d.p99 == 5 && d.max == 5)
        let hundred = Distribution((1...100).map(Double.init))!
        #expect(hundred.median == 50 && hundred.p90 == 90 && hundred.p99 == 99)
        let sizes = Distribution(sizes: (1...100).map(UInt32.init))!
        #expect(sizes.median == 50 && sizes.p90 == 90 && sizes.p99 == 99 && sizes.max == 100)
        #expect(Distribution([]) == nil && Distribution(sizes: []) == nil)
    }

    /// Selection finds, at every rank, what sorting the converted values finds (the definition:
    /// nearest rank of the sorted list), on seeded random lists of every shape: duplicates,
    /// negatives, sorted, reversed, constant, organ-pipe, lengths 1 to 3,000.
    @Test func selectionEqualsSortingAtEveryRank() {
        var rng = SplitMix(state: 0x5eed)
        let ms = { (ns: Int64) in Double(ns) / 1e6 }
        for trial in 0..<3_000 {
            let n = 1 + Int(rng.next() % UInt64(trial < 2_000 ? 300 : 3_000))
            let spread = [1, 3, 50, 1_000_000, Int64.max / 4][trial % 5]
            var values = (0..<n).map { _ in Int64(bitPattern: rng.next()) % spread }
            switch trial % 7 {
            case 1: values.sort()
            case 2: values.sort(by: >)
            case 3: values = Array(repeating: values[0], count: n)
            case 4: values = (0..<n).map { Int64(Swift.min($0, n - $0)) }
            default: break
            }
            let sorted = values.map(ms).sorted()
            let want = Distribution(sorted)!
            let got = Distribution(selecting: values, ms)!
            #expect(got == want, "trial \(trial), \(n) values")
            let sizes = values.map { UInt32(truncatingIfNeeded: $0) }
            let wantSizes = Distribution(sizes.map(Double.init))!
            #expect(Distribution(sizes: sizes)! == wantSizes, "trial \(trial) as sizes")
        }
    }

    @Test func fixedDecimals() {
        #expect(formatFixed(3.14159, 2) == "3.14")
        #expect(formatFixed(2.5, 1) == "2.5")
        #expect(formatFixed(0.0004, 3) == "0.000")
        #expect(formatFixed(-0.0004, 3) == "0.000")  // no "-0.000"
        #expect(formatFixed(-1.25, 1) == "-1.3" || formatFixed(-1.25, 1) == "-1.2")
        #expect(formatFixed(0.05, 3) == "0.050")
        #expect(formatFixed(12, 0) == "12")
        #expect(!formatFixed(1e30, 3).isEmpty)  // past Int64: no trap
        #expect(formatFixed(.nan, 3) == "0")
    }

    /// The digits are written into a buffer; the text must be the concatenation of Strings that
    /// spelled it before (kept here as the reference), on values of every size and sign.
    @Test func fixedDecimalsAsTheConcatenationSpelledThem() {
        func reference(_ value: Double, _ digits: Int) -> String {
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            let scaled = (value * scale).rounded()
            guard scaled.isFinite, abs(scaled) < 9.0e18 else { return value.isFinite ? String(value) : "0" }
            let n = Int64(abs(scaled)), s = Int64(scale)
            var out = scaled < 0 && n != 0 ? "-" : ""
            out += String(n / s)
            if digits > 0 {
                let frac = String(n % s)
                out += "."
                if frac.utf8.count < digits { out += String(repeating: "0", count: digits - frac.utf8.count) }
                out += frac
            }
            return out
        }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for k in 0..<20_000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let magnitude = Double(state % 1_000_000_007) / Double(1 + (state >> 40) % 100_000) * pow10(Int(state >> 60) % 12)
            let value = k % 3 == 0 ? -magnitude : magnitude
            let digits = k % 5
            #expect(formatFixed(value, digits) == reference(value, digits), "\(value) \(digits)")
        }
        for value in [0, -0.0, 1, -1, 0.5, -0.5, 9.9995, 1e17, -1e17, 8.9e18, 1e19] {
            for digits in 0...6 { #expect(formatFixed(value, digits) == reference(value, digits), "\(value) \(digits)") }
        }
    }

    private func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { x, _ in x * 10 } }

    @Test func closeCodesDecideCleanOrError() {
        for (code, cause) in [(UInt16(1000), Cause.cleanClose), (1001, .cleanClose), (1012, .cleanClose), (1011, .errorClose),
                              (1009, .errorClose), (4000, .errorClose)] {
            var s = Self.summary()
            var close = CloseSummary(initiator: .server, code: code, reason: nil, initiatorPacket: 10, initiatorTime: 2_000_000_000)
            close.replyPacket = 11
            s.close = close
            let d = Diagnoser.diagnose(s)
            #expect(d.cause == cause, "\(code)")
            #expect(d.by == .server)
            if cause == .errorClose { #expect(d.figure("close_code") == .count(Int(code))) }
        }
        // No code at all is clean too (RFC 6455 7.1.5: 1005 is only reported, never sent).
        var s = Self.summary()
        var close = CloseSummary(initiator: .client, code: nil, reason: nil, initiatorPacket: 10, initiatorTime: 2_000_000_000)
        close.replyPacket = 11
        s.close = close
        #expect(Diagnoser.diagnose(s).cause == .cleanClose)
    }

    /// The server pinged twice without an answer (packets 12 and 14, the last pong at 11), the
    /// client last spoke at 10, and the server closed with 1011 at 16.
    static func unansweredPings() -> ConnectionSummary {
        var s = summary()
        s.facts.server.pingsSent = 3
        s.facts.server.pendingPings = [(1, 12, 3_000_000_000), (2, 14, 3_500_000_000)]
        s.facts.server.lastAnsweringPong = (2_500_000_000, 11)
        s.facts.client.lastPayload = (2_400_000_000, 10)
        s.close = CloseSummary(initiator: .server, code: 1011, reason: "keepalive ping timeout", initiatorPacket: 16,
                               initiatorTime: 4_000_000_000)
        return s
    }

    @Test func unansweredPingsBeforeTheEndAreAKeepaliveTimeout() {
        var s = Self.unansweredPings()
        var d = Diagnoser.diagnose(s)
        #expect(d.cause == .keepaliveTimeout && d.by == .server)
        #expect(d.figure("pings_unanswered") == .count(2))
        #expect(d.evidence.map(\.packet) == d.evidence.map(\.packet).sorted())
        // The client spoke after the first ping: not a dead peer, the 1011 is an error close.
        s.facts.client.lastPayload = (3_200_000_000, 13)
        d = Diagnoser.diagnose(s)
        #expect(d.cause == .errorClose)
    }

    /// Evidence comes in packet order, each packet once, with what was said of it first
    /// (sorted and made unique in place).
    @Test func evidenceIsInPacketOrderEachPacketOnceAsFirstSaid() {
        var s = Self.unansweredPings()
        // The FIN rides on the close frame's packet: said second of packet 16.
        s.facts.ending = (4_000_000_000, 16, .server, false, 0)
        let d = Diagnoser.diagnose(s)
        #expect(d.cause == .keepaliveTimeout)
        #expect(d.evidence.map(\.packet) == [11, 12, 14, 16])
        #expect(d.evidence.map(\.what) == ["last pong", "first unanswered ping", "last unanswered ping", "close 1011"])
    }

    @Test func aFinAfterSilenceIsAnIdleTimeoutAndAQuickOneIsNot() {
        var s = Self.summary()
        s.facts.lastPayload = (1_500_000_000, 8)
        s.facts.ending = (4_500_000_000, 19, .server, false, 3_000_000_000)
        #expect(Diagnoser.diagnose(s).cause == .idleTimeout)
        #expect(Diagnoser.diagnose(s).figure("idle_s") == .seconds(3.0))
        s.facts.ending = (1_600_000_000, 9, .server, false, 100_000_000)
        #expect(Diagnoser.diagnose(s).cause == .closedWithoutCloseFrame)
        s.facts.ending = (1_600_000_000, 9, .client, true, 100_000_000)
        s.teardown.rstFrom = .client
        #expect(Diagnoser.diagnose(s).cause == .reset)
        #expect(Diagnoser.diagnose(s).by == .client)
    }

    static func record(_ stream: Int, cause: Cause, end: Int64, idle: Int64?, side: Side = .server) -> EndingRecord {
        var r = EndingRecord(summary(stream: stream), Diagnoser.diagnose(summary(stream: stream)))
        r.cause = cause
        r.by = Ender(side)
        r.endTime = end
        r.endSide = side
        r.idleNs = idle
        r.summary = "test"
        return r
    }

    @Test func sameSilenceIsACommonIdleTimeout() {
        let records = (0..<4).map { Self.record($0, cause: .idleTimeout, end: Int64($0) * 700_000_000, idle: 3_000_000_000 + Int64($0) * 1_000_000) }
        let cross = PatternFinder.find(records)
        #expect(cross.patterns.count == 1)
        #expect(cross.patterns.first?.kind == .commonIdleTimeout)
        #expect(cross.patterns.first?.streams == [0, 1, 2, 3])
        #expect(cross.overrides.isEmpty)
    }

    @Test func manyEndsAtOnceWithDifferentSilencesAreAMassDisconnect() {
        // Five connections ended by the server within 2 ms, after silences of 1.2 to 3.6 s: a
        // crash, not a timeout. Their heads change to "closed without a close frame".
        let records = (0..<5).map { Self.record($0, cause: .idleTimeout, end: 10_000_000_000 + Int64($0) * 500_000,
                                                idle: 1_200_000_000 + Int64($0) * 600_000_000) }
        let cross = PatternFinder.find(records)
        #expect(cross.patterns.map(\.kind) == [.massDisconnect])
        #expect(cross.patterns.first?.streams.count == 5)
        #expect(cross.patterns.first?.graceful == false)
        #expect(cross.overrides.count == 5)
        #expect(cross.overrides.values.allSatisfy { $0.cause == .closedWithoutCloseFrame && $0.by == .server })
        // Two are not a mass disconnect; clients leaving cleanly together are no alarm.
        #expect(PatternFinder.find(Array(records.prefix(2))).patterns.filter { $0.kind == .massDisconnect }.isEmpty)
        let clean = (0..<5).map { Self.record($0, cause: .cleanClose, end: 10_000_000_000, idle: nil, side: .client) }
        #expect(PatternFinder.find(clean).patterns.isEmpty)
    }
}

/// `PatternFinder`'s selection and ordering as they were before the passes worked on indices
/// (every record copied into a dictionary, groups and filtered, sorted arrays), kept as the
/// reference the new passes must agree with, ties in every sort key included. What a pass
/// makes of a group (`addCommonIdle`, `addMassDisconnect`, `pairLegs`, `finish`) is shared.
enum ReferencePatternFinder {
    static func find(_ records: [EndingRecord]) -> CrossConnection {
        var out = CrossConnection()
        let byStream = Dictionary(records.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
        pairs(records, into: &out)
        commonIdle(records, into: &out)
        mass(records, into: &out)
        PatternFinder.finish(&out, byStream: { byStream[$0] })
        return out
    }

    static func commonIdle(_ records: [EndingRecord], into out: inout CrossConnection) {
        let idle = records.filter { $0.cause == .idleTimeout && $0.idleNs != nil }.sorted { $0.idleNs! < $1.idleNs! }
        var i = 0
        while i < idle.count {
            let base = idle[i].idleNs!
            let tolerance = max(PatternFinder.idleToleranceNs, base / 50)
            var j = i
            while j + 1 < idle.count && idle[j + 1].idleNs! - base <= tolerance { j += 1 }
            if j > i { PatternFinder.addCommonIdle(Array(idle[i...j]), into: &out) }
            i = j + 1
        }
    }

    static func mass(_ records: [EndingRecord], into out: inout CrossConnection) {
        for ender in [Ender.server, .client, .intermediary] {
            let candidates = records.filter { r in
                guard PatternFinder.endable(r), out.patternOf[r.stream] == nil else { return false }
                let by = r.endSide.map(Ender.init)
                guard by == ender || (ender == .intermediary && r.by == .intermediary) else { return false }
                return ender != .client || r.cause.isFailure
            }.sorted { $0.endTime! < $1.endTime! }
            var i = 0
            while i < candidates.count {
                var j = i
                while j + 1 < candidates.count && candidates[j + 1].endTime! - candidates[i].endTime! <= PatternFinder.massWindowNs { j += 1 }
                if j - i + 1 >= PatternFinder.massMinimum {
                    PatternFinder.addMassDisconnect(Array(candidates[i...j]), by: ender, into: &out)
                    i = j + 1
                } else {
                    i += 1
                }
            }
        }
    }

    static func pairs(_ records: [EndingRecord], into out: inout CrossConnection) {
        var groups: [UInt64: [EndingRecord]] = [:]
        for r in records where r.isWebSocket && r.fingerprintTimes.count >= 2 {
            groups[r.fingerprint &+ UInt64(r.fingerprintTimes.count), default: []].append(r)
        }
        for key in groups.keys.sorted() {
            let legs = groups[key]!.sorted { ($0.start, $0.stream) < ($1.start, $1.stream) }
            guard legs.count >= 2 else { continue }
            PatternFinder.pairLegs(legs, into: &out)
        }
    }
}

@Suite struct PatternFinderAgreementTests {
    /// Seeded sets of records with many equal end times, silences, start times and message
    /// fingerprints (so that every sort meets ties and groups form), of every cause and side.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func findAgreesWithTheCopyingPasses(seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(n))
        }
        let causes: [Cause] = [.idleTimeout, .idleTimeout, .reset, .errorClose, .cleanClose, .closedWithoutCloseFrame, .openAtEnd, .keepaliveTimeout]
        var records: [EndingRecord] = []
        for stream in 0..<(40 + next(260)) {
            let side: Side = next(2) == 0 ? .client : .server
            var r = DiagnosisUnitTests.record(stream, cause: causes[next(causes.count)], end: 10_000_000_000 + Int64(next(12)) * 300_000_000,
                                              idle: next(4) == 0 ? nil : 2_000_000_000 + Int64(next(5)) * 40_000_000, side: side)
            if next(9) == 0 { r.endTime = nil }
            if next(5) == 0 { r.by = .intermediary }
            r.isWebSocket = next(8) != 0
            r.closeFrame = next(2) == 0
            r.closeCode = [nil, 1000, 1001, 1006, 1012][next(5)]
            r.reset = next(3) == 0
            r.start = 1_000_000_000 + Int64(next(6)) * 1_000_000
            r.client = Endpoint(address: IPAddress(ipv4: 0x0a00_0001 + UInt32(next(3))), port: UInt16(40_000 + next(4)))
            r.server = Endpoint(address: IPAddress(ipv4: 0x0a01_0001 + UInt32(next(3))), port: 8080)
            r.fingerprint = UInt64(next(5))
            let start = r.start
            r.fingerprintTimes = (0..<(1 + next(3))).map { k in (side: next(2) == 0 ? Side.client : .server, time: start + Int64(k + next(3)) * 1_000_000) }
            if next(4) == 0 { r.summary = "closed by server with 1006" }
            records.append(r)
        }
        if next(3) == 0 { records.append(records[next(records.count)]) }  // a stream twice: the first counts
        // Records come in the order connections were released, not by stream.
        for k in stride(from: records.count - 1, to: 0, by: -1) { records.swapAt(k, next(k + 1)) }
        let got = PatternFinder.find(records), want = ReferencePatternFinder.find(records)
        #expect(got.patterns.count == want.patterns.count)
        for (g, w) in zip(got.patterns, want.patterns) {
            #expect(g.kind == w.kind && g.streams == w.streams && g.windowSeconds == w.windowSeconds && g.idleSeconds == w.idleSeconds
                    && g.by == w.by && g.graceful == w.graceful && g.summary == w.summary)
        }
        #expect(got.pairs.count == want.pairs.count)
        for (g, w) in zip(got.pairs, want.pairs) {
            #expect(g.front == w.front && g.back == w.back && g.relayClientToServer == w.relayClientToServer
                    && g.relayServerToClient == w.relayServerToClient && g.endedFirst == w.endedFirst
                    && g.proxyCloseFrame == w.proxyCloseFrame && g.proxyEndedBoth == w.proxyEndedBoth)
        }
        #expect(got.patternOf == want.patternOf && got.pairOf == want.pairOf)
        #expect(got.overrides.keys.sorted() == want.overrides.keys.sorted())
        for (stream, w) in want.overrides {
            let g = got.overrides[stream]
            #expect(g?.cause == w.cause && g?.by == w.by && g?.summary == w.summary)
        }
        // What is compared is not empty.
        #expect(!want.patterns.isEmpty || !want.pairs.isEmpty)
    }
}
