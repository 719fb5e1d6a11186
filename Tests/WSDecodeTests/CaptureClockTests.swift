import Testing
import WSDecode

/// Capture time in nanoseconds, held within ±(2^62 − 1) so that any two times' difference
/// fits in an Int64.
@Suite struct CaptureClockTests {
    @Test func timesWithinTheClockAreThePlainArithmetic() {
        #expect(CaptureClock.time(seconds: 1_795_594_763, fraction: 568_933, fractionUnit: 1000) == 1_795_594_763_568_933_000)
        #expect(CaptureClock.time(seconds: 1_795_594_763, fraction: 568_933_123, fractionUnit: 1) == 1_795_594_763_568_933_123)
        #expect(CaptureClock.time(seconds: -256, fraction: 0, fractionUnit: 1000) == -256_000_000_000)
        #expect(CaptureClock.time(seconds: Int64(Int32.min), fraction: 999_999, fractionUnit: 1000)
                == Int64(Int32.min) * 1_000_000_000 + 999_999_000)
        #expect(CaptureClock.time(units: 1_795_594_763_568_933_123, unit: 1) == 1_795_594_763_568_933_123)
        #expect(CaptureClock.time(units: 1_795_594_763_568_933, unit: 1000) == 1_795_594_763_568_933_000)
        #expect(!CaptureClock.isHeld(0) && !CaptureClock.isHeld(1_795_594_763_568_933_000))
    }

    @Test func timesBeyondAreHeldAtTheNearestBound() {
        let latest = CaptureClock.latest, earliest = CaptureClock.earliest
        #expect(latest == (1 << 62) - 1 && earliest == -latest)
        // Overflowing the multiplication, the addition, or only the bounds.
        #expect(CaptureClock.time(seconds: 1_795_594_763_568, fraction: 0, fractionUnit: 1) == latest)
        #expect(CaptureClock.time(seconds: -1_795_594_763_568, fraction: 0, fractionUnit: 1) == earliest)
        #expect(CaptureClock.time(seconds: 9_223_372_036, fraction: 999_999_999, fractionUnit: 1) == latest)
        #expect(CaptureClock.time(seconds: 4_611_686_018, fraction: 427_387_904, fractionUnit: 1) == latest)
        #expect(CaptureClock.time(seconds: 4_611_686_018, fraction: 427_387_902, fractionUnit: 1) == latest - 1)
        #expect(CaptureClock.time(seconds: 0, fraction: Int64.max, fractionUnit: 1000) == latest)
        #expect(CaptureClock.time(seconds: 0, fraction: Int64.min, fractionUnit: 1000) == earliest)
        #expect(CaptureClock.time(units: 1_795_594_763_568_933_123, unit: 1000) == latest)
        #expect(CaptureClock.time(units: UInt64.max, unit: 1) == latest)
        #expect(CaptureClock.time(units: UInt64(latest) + 1, unit: 1) == latest)
        #expect(CaptureClock.isHeld(latest) && CaptureClock.isHeld(earliest))
        // The point of the bounds: the difference of any two held times fits.
        #expect(latest.subtractingReportingOverflow(earliest).overflow == false)
    }
}
