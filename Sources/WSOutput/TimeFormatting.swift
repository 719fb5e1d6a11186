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

/// "1.234567" from nanoseconds, with `decimals` places (6 or 9); negative values keep the sign.
public func secondsText(_ ns: Int64, decimals: Int) -> String {
    // Written digit by digit into the string's own storage: this runs once per timeline row.
    let places = max(0, decimals)
    let magnitude = ns.magnitude
    var fraction = magnitude % 1_000_000_000
    for _ in min(places, 9)..<9 { fraction /= 10 }
    var whole = magnitude / 1_000_000_000
    var wholeDigits = 1
    var scan = whole
    while scan >= 10 { scan /= 10; wholeDigits += 1 }
    let length = (ns < 0 ? 1 : 0) + wholeDigits + (places > 0 ? 1 + places : 0)
    return String(unsafeUninitializedCapacity: length) { out in
        var i = length
        var f = fraction
        if places > 0 {
            for _ in 0..<places {
                i -= 1
                out[i] = 0x30 &+ UInt8(truncatingIfNeeded: f % 10)
                f /= 10
            }
            i -= 1
            out[i] = 0x2e
        }
        repeat {
            i -= 1
            out[i] = 0x30 &+ UInt8(truncatingIfNeeded: whole % 10)
            whole /= 10
        } while whole > 0
        if ns < 0 { out[0] = 0x2d }
        return length
    }
}

/// A duration for people: "0.08 ms", "1.234 s".
public func durationText(_ ns: Int64) -> String {
    let abs = ns < 0 ? -ns : ns
    if abs < 1_000_000_000 {
        let ms = Double(ns) / 1_000_000
        return formatFixed(ms, places: ms < 10 ? 3 : 1) + " ms"
    }
    return formatFixed(Double(ns) / 1_000_000_000, places: 3) + " s"
}

func formatFixed(_ v: Double, places: Int) -> String {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = (v * scale).rounded()
    // Past Int64 (a ratio of 2^64-byte declared lengths, fuzz crash): plain Double text, still a JSON number.
    guard scaled.isFinite, Swift.abs(scaled) < 9.0e18 else { return v.isFinite ? String(v) : "0" }
    let negative = scaled < 0
    let n = Int64(Swift.abs(scaled))
    let s = Int64(scale)
    var frac = String(n % s)
    while frac.count < places { frac = "0" + frac }
    return (negative ? "-" : "") + String(n / s) + (places > 0 ? "." + frac : "")
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
