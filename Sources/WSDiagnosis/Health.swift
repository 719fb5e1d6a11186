import WSReassembly
import WSTimeline

/// Count, min, median, percentiles and max of a list of values. Percentiles are nearest-rank
/// (the value at rank ⌈p/100 · n⌉ of the sorted list), the median is p50: every figure is a
/// value that occurred.
public struct Distribution: Sendable, Equatable {
    public var count: Int
    public var min: Double
    public var median: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        count = sorted.count
        min = sorted[0]
        max = sorted[sorted.count - 1]
        median = Self.rank(sorted, 50)
        p90 = Self.rank(sorted, 90)
        p99 = Self.rank(sorted, 99)
    }

    /// The same over sizes, without widening every one to a Double (a capture's every message).
    public init?(sizes: [UInt32]) {
        self.init(selecting: sizes) { Double($0) }
    }

    /// The same over integers, each figure converted by `convert` once found. `convert` must
    /// never decrease (nanoseconds to milliseconds): then the value at a rank converts to the
    /// converted values' value at that rank. The ranks are found by selection, not a sort
    /// (a sort of each connection's RTT samples took 1.7% of a `--summary`'s instructions).
    public init?<T: BinaryInteger>(selecting values: [T], _ convert: (T) -> Double) {
        guard !values.isEmpty else { return nil }
        let n = values.count
        @inline(__always) func rank(_ p: Int) -> Int { Swift.max(0, Swift.min(n - 1, (p * n + 99) / 100 - 1)) }
        let r50 = rank(50), r90 = rank(90), r99 = rank(99)
        var lowest = values[0], highest = values[0]
        for v in values {
            if v < lowest { lowest = v }
            if v > highest { highest = v }
        }
        // The values are selected in a scratch copy (on the stack when small: four of these a
        // connection, each had allocated its copy and an array of its three ranks).
        let (v50, v90, v99) = withUnsafeTemporaryAllocation(of: T.self, capacity: n) { b -> (T, T, T) in
            _ = b.initialize(from: values)
            defer { b.deinitialize() }
            // Each rank is selected among the values above the previous one.
            var from = 0
            func select(_ k: Int) {
                guard k >= from else { return }
                Self.select(b, rank: k, from: from)
                from = k + 1
            }
            select(r50)
            select(r90)
            select(r99)
            return (b[r50], b[r90], b[r99])
        }
        count = n
        min = convert(lowest)
        max = convert(highest)
        median = convert(v50)
        p90 = convert(v90)
        p99 = convert(v99)
    }

    /// Moves the value of rank `k` (counting from 0 over the whole buffer) to `b[k]`, smaller or
    /// equal values before it and larger or equal after, looking only at `b[from...]` (the
    /// values before `from` are already no larger than any of them). Quickselect with a
    /// median-of-three pivot; a small or stubborn range is sorted instead.
    static func select<T: Comparable>(_ b: UnsafeMutableBufferPointer<T>, rank k: Int, from: Int) {
        var lo = from, hi = b.count - 1
        var rounds = 0
        while hi > lo {
            if hi - lo < 16 || rounds >= 48 {
                var range = UnsafeMutableBufferPointer(rebasing: b[lo...hi])
                range.sort()
                return
            }
            rounds += 1
            let mid = lo + (hi - lo) / 2
            if b[mid] < b[lo] { b.swapAt(mid, lo) }
            if b[hi] < b[lo] { b.swapAt(hi, lo) }
            if b[hi] < b[mid] { b.swapAt(hi, mid) }
            let pivot = b[mid]
            var i = lo, j = hi
            while i <= j {
                while b[i] < pivot { i += 1 }
                while pivot < b[j] { j -= 1 }
                if i <= j {
                    b.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // b[lo...j] <= pivot <= b[i...hi]; anything between equals the pivot.
            if k <= j {
                hi = j
            } else if k >= i {
                lo = i
            } else {
                return
            }
        }
    }

    /// Nearest rank: the smallest value with at least p% of the values at or below it.
    public static func rank(_ sorted: [Double], _ p: Int) -> Double {
        let n = sorted.count
        let r = (p * n + 99) / 100  // ⌈p·n/100⌉
        return sorted[Swift.max(0, Swift.min(n - 1, r - 1))]
    }
}

/// Messages and bytes per second one side sent over the connection's life.
public struct Rate: Sendable, Equatable {
    public var messages: Int
    public var bytes: UInt64
    public var messagesPerSecond: Double
    public var bytesPerSecond: Double
}

/// How healthy a connection was (`health` in docs/json.md).
public struct Health: Sendable {
    /// Ping → pong round trips, ms (both sides' pings).
    public var pingRTT: Distribution?
    public var pingsSent: Int
    public var pongsAnswering: Int
    /// TCP round trips: the handshake's (SYN → final ACK) and data ACKs', ms.
    public var handshakeRTT: Double?
    public var tcpRTT: Distribution?
    public var retransmissions: (client: Int, server: Int)
    public var duplicateAcks: (client: Int, server: Int)
    /// Time each side advertised a zero window, s.
    public var zeroWindow: (client: Double, server: Double)
    /// The longest time without payload, s, and the packet that ended it.
    public var longestSilence: Double
    public var longestSilenceEndPacket: Int?
    public var rate: (client: Rate, server: Rate)
    /// Message sizes, bytes.
    public var messageBytes: (client: Distribution?, server: Distribution?)

    /// Borrows the summary: an initializer would otherwise be handed a copy of it.
    public init(_ s: borrowing ConnectionSummary) {
        let f = s.facts
        let ms = { (ns: Int64) in Double(ns) / 1e6 }
        pingRTT = Distribution(selecting: f.client.pingRTTs + f.server.pingRTTs, ms)
        pingsSent = f.client.pingsSent + f.server.pingsSent
        pongsAnswering = f.client.pingsAnswered + f.server.pingsAnswered
        handshakeRTT = s.handshake.rtt.map(ms)
        tcpRTT = Distribution(selecting: f.tcpRTTs, ms)
        retransmissions = (f.client.retransmissions, f.server.retransmissions)
        duplicateAcks = (f.client.duplicateAcks, f.server.duplicateAcks)
        zeroWindow = (Double(f.client.zeroWindowNs) / 1e9, Double(f.server.zeroWindowNs) / 1e9)
        // The silence may also run from the last payload to the end.
        var silence = f.longestSilenceNs
        var silenceEnd = f.longestSilenceEndPacket
        let tail = s.end - (f.lastPayload?.time ?? s.start)
        if tail > silence {
            silence = tail
            silenceEnd = s.lastPacket
        }
        longestSilence = Double(silence) / 1e9
        longestSilenceEndPacket = silenceEnd
        let seconds = Double(s.duration) / 1e9
        func sideRate(_ side: SideFacts, _ counts: SideCounts) -> Rate {
            Rate(messages: side.messages, bytes: counts.bytes,
                 messagesPerSecond: seconds > 0 ? Double(side.messages) / seconds : 0,
                 bytesPerSecond: seconds > 0 ? Double(counts.bytes) / seconds : 0)
        }
        rate = (sideRate(f.client, s.clientCounts), sideRate(f.server, s.serverCounts))
        messageBytes = (Distribution(sizes: f.client.messageSizes), Distribution(sizes: f.server.messageSizes))
    }
}
