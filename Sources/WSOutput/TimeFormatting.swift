import WSDiagnosis
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How the Time column reads, as tcpdump's and tshark's `-t`.
public enum TimeFormat: String, Sendable, CaseIterable {
    /// Seconds since the first packet.
    case relative = "r"
    /// Absolute time of day (UTC) with the date.
    case absolute = "a"
    /// Seconds since the previous event shown.
    case delta = "d"
}

/// "1.234567" from nanoseconds, with `decimals` places (0 to 9: the capture's resolution); negative values keep the sign.
public func secondsText(_ ns: Int64, decimals: Int) -> String {
    var out = ByteBuffer(capacity: 32)
    out.appendSeconds(ns, decimals: decimals)
    return out.string()
}

extension ByteBuffer {
    /// `secondsText(ns, decimals:)` written in place: the one spelling of seconds for text and JSON.
    mutating func appendSeconds(_ ns: Int64, decimals: Int) {
        if ns < 0 { append(0x2d) }
        let magnitude = ns.magnitude
        appendDecimal(magnitude / 1_000_000_000)
        withCursor(reserving: 1 + max(decimals, 0)) { $0.fractionOfSecond(magnitude % 1_000_000_000, decimals: decimals) }
    }
}

/// A duration for people: "0.08 ms", "1.234 s" (`ByteBuffer.appendDuration` spells it).
public func durationText(_ ns: Int64) -> String {
    var out = ByteBuffer(capacity: 32)
    out.appendDuration(ns)
    return String(decoding: out.bytes(from: 0), as: UTF8.self)
}

func formatFixed(_ v: Double, places: Int) -> String { WSDiagnosis.formatFixed(v, places) }

extension ByteBuffer {
    /// A duration for people, written in place (three times in every connection's summary):
    /// milliseconds below a second (3 decimals below 10 ms, 1 above), seconds with 3 from there.
    mutating func appendDuration(_ ns: Int64) {
        let abs = ns < 0 ? -ns : ns
        if abs < 1_000_000_000 {
            let ms = Double(ns) / 1_000_000
            appendFixed(ms, ms < 10 ? 3 : 1)
            append(" ms")
        } else {
            appendFixed(Double(ns) / 1_000_000_000, 3)
            append(" s")
        }
    }
}

/// "2026-11-25 08:10:00.123456" (UTC).
public func absoluteTimeText(_ ns: Int64, decimals: Int) -> String {
    var seconds = time_t(ns / 1_000_000_000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    let fraction = secondsText(ns % 1_000_000_000, decimals: decimals).dropFirst(1)
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))\(fraction)"
}
