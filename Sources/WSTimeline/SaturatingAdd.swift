extension UInt64 {
    /// Adds, stopping at UInt64.max: declared frame lengths come from the wire, and a 64-bit
    /// length of 2^64-1 plus its header overflows (fuzz/hostile crash "garbage between frames").
    mutating func addSaturating(_ x: UInt64) {
        let (sum, overflow) = addingReportingOverflow(x)
        self = overflow ? .max : sum
    }
}
