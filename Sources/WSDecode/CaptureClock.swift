/// Capture time as wstrace keeps it: nanoseconds since the Unix epoch in an `Int64`, within
/// ±(2^62 − 1) ns (late 1823 to early 2116), so that the difference of any two capture times
/// fits in an `Int64`. A record's time stamp outside that span (a pcapng interface's 64-bit
/// stamps reach past the year 50,000; libpcap hands such a time on as seconds) is held at the
/// nearest bound; the analysis counts those packets (`CaptureCounters.heldTimes`) and the
/// command line says so, rather than stopping or trapping on an overflow.
public enum CaptureClock {
    public static let latest: Int64 = (1 << 62) - 1
    public static let earliest: Int64 = -latest

    /// `seconds` and a fraction of `fractionUnit` nanoseconds (1000 for microseconds, 1 for
    /// nanoseconds) as capture time, held within the bounds.
    @inline(__always)
    public static func time(seconds: Int64, fraction: Int64, fractionUnit: Int64) -> Int64 {
        let (whole, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (part, o2) = fraction.multipliedReportingOverflow(by: fractionUnit)
        let (sum, o3) = whole.addingReportingOverflow(part)
        if o1 || o2 || o3 { return (o1 ? seconds : o2 ? fraction : whole) < 0 ? earliest : latest }
        return min(max(sum, earliest), latest)
    }

    /// A count of `unit` nanoseconds (a pcapng time stamp) as capture time, held within the bounds.
    @inline(__always)
    public static func time(units: UInt64, unit: Int64) -> Int64 {
        guard units <= UInt64(latest) else { return latest }
        let (t, overflow) = Int64(units).multipliedReportingOverflow(by: unit)
        return overflow ? latest : min(t, latest)
    }

    /// Whether `time` is a bound a time stamp beyond it was held at.
    @inline(__always)
    public static func isHeld(_ time: Int64) -> Bool { time == latest || time == earliest }
}
