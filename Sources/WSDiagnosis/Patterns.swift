import WSDecode
import WSDissector
import WSReassembly
import WSTimeline

public enum PatternKind: String, Sendable {
    case massDisconnect = "mass_disconnect"
    case commonIdleTimeout = "common_idle_timeout"
}

/// What the capture-wide pass needs of one connection: a few numbers kept after its summary
/// has been rendered (about 200 bytes a connection).
public struct EndingRecord: Sendable {
    public var stream: Int
    public var cause: Cause
    public var by: Ender?
    public var summary: String
    public var isWebSocket: Bool
    public var start: Int64
    /// When the connection was ended (its first close frame, else its first FIN or RST).
    public var endTime: Int64?
    public var endSide: Side?
    public var closeFrame: Bool
    public var closeCode: UInt16?
    public var reset: Bool
    /// Silence before the FIN or RST, for an idle timeout.
    public var idleNs: Int64?
    public var client: Endpoint
    public var server: Endpoint
    public var fingerprint: UInt64
    public var fingerprintTimes: [(side: Side, time: Int64)]

    public init(_ s: borrowing ConnectionSummary, _ d: borrowing Diagnosis) {
        stream = s.stream
        cause = d.cause
        by = d.by
        // Kept only where the pass may rewrite it (an end without a close frame, perhaps a
        // proxy's): a capture of many connections keeps a few bytes for each of the rest.
        summary = s.close == nil && s.isWebSocket ? d.summary : ""
        isWebSocket = s.isWebSocket
        start = s.start
        if let close = s.close {
            endTime = close.initiatorTime
            endSide = close.initiator
        } else if let e = s.facts.ending {
            endTime = e.time
            endSide = e.side
        }
        closeFrame = s.close != nil
        closeCode = s.close?.code
        reset = s.teardown.rstFrom != nil
        idleNs = d.cause == .idleTimeout ? s.facts.ending?.silenceNs : nil
        client = s.client
        server = s.server
        fingerprint = s.facts.fingerprint
        fingerprintTimes = s.facts.fingerprintTimes
    }
}

/// A capture-wide pattern: connections that ended the same way.
public struct Pattern: Sendable {
    public var kind: PatternKind
    public var streams: [Int]
    public var windowSeconds: Double
    /// For a common idle timeout: the silence (s); for a mass disconnect: who ended them.
    public var idleSeconds: Double?
    public var by: Ender?
    /// A mass disconnect whose every connection was closed with 1001 or 1012.
    public var graceful: Bool?
    public var summary: String

    public var ref: PatternRef { PatternRef(kind: kind, connections: streams.count, windowSeconds: windowSeconds) }
}

/// Two connections carrying the same messages in the same order: the two legs of a proxy.
public struct ProxyPair: Sendable {
    /// The client's leg (client → proxy) and the backend leg (proxy → backend).
    public var front: Int
    public var back: Int
    /// Mean time the proxy took to relay a message, ms, each way (nil: none seen that way).
    public var relayClientToServer: Double?
    public var relayServerToClient: Double?
    /// The leg that was ended first (its stream), and whether the proxy sent a close frame on
    /// the leg it ended.
    public var endedFirst: Int?
    public var proxyCloseFrame: Bool
    public var proxyEndedBoth: Bool
}

/// A changed head (cause, who, one line) for a connection, decided across connections.
public struct Override: Sendable {
    public var cause: Cause
    public var by: Ender?
    public var summary: String
}

/// What the capture-wide pass found.
public struct CrossConnection: Sendable {
    public var patterns: [Pattern] = []
    public var pairs: [ProxyPair] = []
    /// Per stream: its pattern, its proxy pair, a changed head.
    public var patternOf: [Int: Int] = [:]
    public var pairOf: [Int: Int] = [:]
    public var overrides: [Int: Override] = [:]

    public init(patterns: [Pattern] = [], pairs: [ProxyPair] = []) {
        self.patterns = patterns
        self.pairs = pairs
    }

    public func pattern(of stream: Int) -> Pattern? { patternOf[stream].map { patterns[$0] } }
    public func pair(of stream: Int) -> ProxyPair? { pairOf[stream].map { pairs[$0] } }
}

/// The capture-wide pass: runs once every connection has ended (after the engine's merge).
public enum PatternFinder {
    /// Connections ended by the same side within this window are a mass disconnect.
    public static let massWindowNs: Int64 = 1_000_000_000
    public static let massMinimum = 3
    /// Idle timeouts agree when their silences differ by at most this (or 2%).
    public static let idleToleranceNs: Int64 = 50_000_000

    public static func find(_ records: [EndingRecord]) -> CrossConnection {
        var out = CrossConnection()
        // Each pass below works on indices into `records`: a record holds strings and arrays,
        // and copying them (into a dictionary, a group, a sorted array) was most of the pass,
        // which runs on one thread after the workers.
        var indexOf = [Int: Int](minimumCapacity: records.count)
        for i in records.indices where indexOf[records[i].stream] == nil { indexOf[records[i].stream] = i }
        let byStream = { (stream: Int) -> EndingRecord? in indexOf[stream].map { records[$0] } }
        pairs(records, into: &out)
        commonIdle(records, into: &out)
        mass(records, into: &out)
        finish(&out, byStream: byStream)
        return out
    }

    /// What follows the three passes: the pairs in client-leg order, the changed heads (idle
    /// timeouts that were one of a mass disconnect, ends a proxy made), who ended each pattern.
    static func finish(_ out: inout CrossConnection, byStream: (Int) -> EndingRecord?) {
        // By the client leg's stream, whatever order the fingerprints came in.
        out.pairs.sort { $0.front < $1.front }
        out.pairOf = [:]
        for (i, p) in out.pairs.enumerated() {
            out.pairOf[p.front] = i
            out.pairOf[p.back] = i
        }
        // An idle timeout that is one of many connections ended at once, whose silences
        // differ, was not a timeout: something ended them all (a restart, a crash).
        for p in out.patterns where p.kind == .massDisconnect {
            for stream in p.streams {
                guard let r = byStream(stream), r.cause == .idleTimeout else { continue }
                let what = r.reset ? "reset" : "TCP closed"
                let who = r.endSide.map(\.name) ?? "?"
                out.overrides[stream] = Override(
                    cause: r.reset ? .reset : .closedWithoutCloseFrame, by: r.endSide.map(Ender.init),
                    summary: "\(what) by \(who) without a WebSocket close frame, with \(p.streams.count - 1) other connection\(p.streams.count == 2 ? "" : "s") within \(spanText(Int64(p.windowSeconds * 1e9))) (silences differ: not an idle timeout)")
            }
        }
        proxyOverrides(byStream, into: &out)
        // Who ended a pattern's connections, after the pass's changes (a proxy found).
        for i in out.patterns.indices {
            let bys = Set(out.patterns[i].streams.compactMap { out.overrides[$0]?.by ?? byStream($0)?.by })
            out.patterns[i].by = bys.count == 1 ? bys.first : nil
        }
    }

    static func endable(_ r: borrowing EndingRecord) -> Bool {
        guard r.isWebSocket && r.endTime != nil else { return false }
        switch r.cause {
        case .openAtEnd, .notWebSocket, .handshakeFailed, .upgradeRefused: return false
        default: return true
        }
    }

    static func commonIdle(_ records: [EndingRecord], into out: inout CrossConnection) {
        let idle = records.indices.filter { records[$0].cause == .idleTimeout && records[$0].idleNs != nil }
            .sorted { records[$0].idleNs! < records[$1].idleNs! }
        var i = 0
        while i < idle.count {
            let base = records[idle[i]].idleNs!
            let tolerance = max(idleToleranceNs, base / 50)
            var j = i
            while j + 1 < idle.count && records[idle[j + 1]].idleNs! - base <= tolerance { j += 1 }
            if j > i { addCommonIdle(idle[i...j].map { records[$0] }, into: &out) }
            i = j + 1
        }
    }

    /// Connections whose silences agree: one common-idle-timeout pattern.
    static func addCommonIdle(_ group: [EndingRecord], into out: inout CrossConnection) {
        let silences = group.map { Double($0.idleNs!) / 1e9 }.sorted()
        let median = silences[(silences.count - 1) / 2]
        let ends = group.compactMap(\.endTime)
        let window = Double((ends.max() ?? 0) - (ends.min() ?? 0)) / 1e9
        let bys = Set(group.compactMap(\.by))
        let by = bys.count == 1 ? bys.first : nil
        let text = "\(group.count) connections ended after \(formatFixed(median, 1)) s idle: looks like a proxy or load balancer idle timeout of \(formatFixed(median, 1)) s"
        out.patterns.append(Pattern(kind: .commonIdleTimeout, streams: group.map(\.stream).sorted(),
                                    windowSeconds: (window * 1000).rounded() / 1000, idleSeconds: (median * 1000).rounded() / 1000,
                                    by: by, graceful: nil, summary: text))
        for r in group { out.patternOf[r.stream] = out.patterns.count - 1 }
    }

    static func mass(_ records: [EndingRecord], into out: inout CrossConnection) {
        for ender in [Ender.server, .client, .intermediary] {
            // (Fields read in place: a copy of a record retains its strings and arrays.)
            let candidates = records.indices.filter { k in
                guard endable(records[k]), out.patternOf[records[k].stream] == nil else { return false }
                let by = records[k].endSide.map(Ender.init)
                guard by == ender || (ender == .intermediary && records[k].by == .intermediary) else { return false }
                // Clients leaving cleanly together (the end of a test run) are no alarm.
                return ender != .client || records[k].cause.isFailure
            }.sorted { records[$0].endTime! < records[$1].endTime! }
            let endTime = { (k: Int) in records[candidates[k]].endTime! }
            var i = 0
            while i < candidates.count {
                var j = i
                while j + 1 < candidates.count && endTime(j + 1) - endTime(i) <= massWindowNs { j += 1 }
                if j - i + 1 >= massMinimum {
                    addMassDisconnect(candidates[i...j].map { records[$0] }, by: ender, into: &out)
                    i = j + 1
                } else {
                    i += 1
                }
            }
        }
    }

    /// Connections ended by `ender` within the window, in end order: one mass-disconnect pattern.
    static func addMassDisconnect(_ group: [EndingRecord], by ender: Ender, into out: inout CrossConnection) {
        let window = Double(group.last!.endTime! - group.first!.endTime!) / 1e9
        let graceful = group.allSatisfy { $0.closeFrame && ($0.closeCode == 1001 || $0.closeCode == 1012) }
        let closes = group.filter(\.closeFrame).count
        var text = "\(group.count) connections ended by \(ender.rawValue) within \(spanText(Int64(window * 1e9)))"
        if graceful {
            text += ", each with a close frame (1001/1012): a graceful shutdown or restart"
        } else if closes == 0 {
            text += ", none with a close frame: looks like a \(ender.rawValue) crash or restart"
        } else {
            text += " (\(closes) with a close frame): looks like a \(ender.rawValue) restart or deploy"
        }
        out.patterns.append(Pattern(kind: .massDisconnect, streams: group.map(\.stream).sorted(),
                                    windowSeconds: (window * 1000).rounded() / 1000, idleSeconds: nil,
                                    by: ender, graceful: graceful, summary: text))
        for r in group { out.patternOf[r.stream] = out.patterns.count - 1 }
    }

    static func pairs(_ records: [EndingRecord], into out: inout CrossConnection) {
        // The records that can pair, by fingerprint group (the key's order), each group in start
        // order (then stream, then the order given): one sorted array of indices, not an array
        // per group (there is one group for nearly every connection).
        let key = { (k: Int) in records[k].fingerprint &+ UInt64(records[k].fingerprintTimes.count) }
        let legs = records.indices.filter { records[$0].isWebSocket && records[$0].fingerprintTimes.count >= 2 }
            .sorted { (key($0), records[$0].start, records[$0].stream, $0) < (key($1), records[$1].start, records[$1].stream, $1) }
        var i = 0
        while i < legs.count {
            var j = i + 1
            while j < legs.count && key(legs[j]) == key(legs[i]) { j += 1 }
            if j - i >= 2 { pairLegs(legs[i ..< j].map { records[$0] }, into: &out) }
            i = j
        }
    }

    /// Pairs the legs of one fingerprint group (in start order).
    static func pairLegs(_ legs: [EndingRecord], into out: inout CrossConnection) {
        // Same messages on several pairs (clients sending the same thing): each leg pairs
        // with the later leg whose messages come out of the proxy soonest after its own.
        var taken = Set<Int>()
        for a in legs where !taken.contains(a.stream) {
            var best: (leg: EndingRecord, c2s: [Int64], s2c: [Int64], total: Int64)?
            for b in legs where b.stream != a.stream && !taken.contains(b.stream) && b.start >= a.start {
                // The proxy is the front leg's server and the back leg's client: distinct endpoints.
                guard a.server != b.server, a.client != b.client else { continue }
                var c2s: [Int64] = [], s2c: [Int64] = []
                for (x, y) in zip(a.fingerprintTimes, b.fingerprintTimes) {
                    if x.side == .client { c2s.append(y.time - x.time) } else { s2c.append(x.time - y.time) }
                }
                // Each message must go into the proxy before it comes out.
                guard c2s.allSatisfy({ $0 >= 0 }), s2c.allSatisfy({ $0 >= 0 }) else { continue }
                let total = c2s.reduce(0, +) + s2c.reduce(0, +)
                if best == nil || total < best!.total { best = (b, c2s, s2c, total) }
            }
            guard let found = best else { continue }
            taken.insert(a.stream)
            taken.insert(found.leg.stream)
            pair(front: a, back: found.leg, c2s: found.c2s, s2c: found.s2c, into: &out)
        }
    }

    static func pair(front: EndingRecord, back: EndingRecord, c2s: [Int64], s2c: [Int64], into out: inout CrossConnection) {
            let mean = { (v: [Int64]) -> Double? in v.isEmpty ? nil : (Double(v.reduce(0, +)) / Double(v.count) / 1e6 * 1000).rounded() / 1000 }
            var endedFirst: Int?
            if let a = front.endTime, let b = back.endTime { endedFirst = a <= b ? front.stream : back.stream }
            // The proxy is the front leg's server and the back leg's client. It ended the pair
            // itself when the leg that ended first was ended from its side; otherwise it relayed
            // the end of a far peer.
            let frontByProxy = front.endSide == .server
            let backByProxy = back.endSide == .client
            let originated = endedFirst == front.stream ? frontByProxy : (endedFirst == back.stream ? backByProxy : false)
            let firstLeg = endedFirst == front.stream ? front : back
            let proxyClosed = originated && firstLeg.closeFrame
            out.pairs.append(ProxyPair(front: front.stream, back: back.stream, relayClientToServer: mean(c2s),
                                       relayServerToClient: mean(s2c), endedFirst: endedFirst,
                                       proxyCloseFrame: proxyClosed, proxyEndedBoth: originated && frontByProxy && backByProxy))
            out.pairOf[front.stream] = out.pairs.count - 1
            out.pairOf[back.stream] = out.pairs.count - 1
    }

    /// On paired legs, the end the proxy made itself (on both legs, without a close frame it
    /// relayed) is the intermediary's.
    static func proxyOverrides(_ byStream: (Int) -> EndingRecord?, into out: inout CrossConnection) {
        for p in out.pairs {
            guard let front = byStream(p.front), let back = byStream(p.back) else { continue }
            // Only when the proxy ended both legs itself, without a close frame: otherwise it
            // relayed a peer's end, and the legs' `proxy` objects say which ended first.
            guard p.proxyEndedBoth && !front.closeFrame && !back.closeFrame else { continue }
            for (leg, other, isFront) in [(front, back, true), (back, front, false)] {
                let current = out.overrides[leg.stream] ?? Override(cause: leg.cause, by: leg.by, summary: leg.summary)
                var o = current
                o.by = .intermediary
                o.summary = current.summary.replacingFirst(of: "from \(isFront ? "server" : "client")", with: "from the proxy")
                    .replacingFirst(of: "by \(isFront ? "server" : "client")", with: "by the proxy")
                o.summary += "; the proxy ended both legs without a close frame (\(isFront ? "client" : "backend") leg of a pair with stream \(other.stream))"
                out.overrides[leg.stream] = o
            }
        }
    }
}

extension String {
    func replacingFirst(of target: String, with replacement: String) -> String {
        guard !target.isEmpty, let r = range(of: target) else { return self }
        return self[..<r.lowerBound] + replacement + self[r.upperBound...]
    }

    func range(of target: String) -> Range<String.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
