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
        guard !sizes.isEmpty else { return nil }
        let sorted = sizes.sorted()
        let at = { (p: Int) -> Double in
            let r = (p * sorted.count + 99) / 100
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, r - 1))])
        }
        count = sorted.count
        min = Double(sorted[0])
        max = Double(sorted[sorted.count - 1])
        median = at(50)
        p90 = at(90)
        p99 = at(99)
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

    public init(_ s: ConnectionSummary) {
        let f = s.facts
        let ms = { (ns: Int64) in Double(ns) / 1e6 }
        pingRTT = Distribution((f.client.pingRTTs + f.server.pingRTTs).map(ms))
        pingsSent = f.client.pingsSent + f.server.pingsSent
        pongsAnswering = f.client.pingsAnswered + f.server.pingsAnswered
        handshakeRTT = s.handshake.rtt.map(ms)
        tcpRTT = Distribution(f.tcpRTTs.map(ms))
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
