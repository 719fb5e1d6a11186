import Testing
@testable import WSTimeline
import WSDecode
import WSReassembly

/// `TimelineEvent.tcp` is a view of the unwrapped `tcpInfo` and its `hasTCP` flag, which the
/// renderers read in place: setting either side must keep the other in step.
@Suite struct TimelineEventTests {
    @Test func tcpIsAViewOfTheUnwrappedDetails() {
        var e = TimelineEvent(packet: 1, time: 0, stream: nil, source: nil, destination: nil, sourceText: nil,
                              destinationText: nil, proto: "TCP", wireLength: 60, capturedLength: 60, phase: .other,
                              side: nil, detail: .tcp, hasTCP: false, tcpInfo: .absent, showsTCPLabels: true,
                              violations: [], truncated: false)
        #expect(e.tcp == nil)
        var report = SegmentReport(stream: 3, direction: .serverToClient)
        report.relativeSeq = 7
        e.tcp = TCPEventInfo(flags: [.ack, .psh], seq: 7, ack: 9, length: 100, window: 502, options: TCPOptions(),
                             report: report, acknowledged: Acknowledged(milestone: .closeFrame, fin: true))
        #expect(e.hasTCP)
        #expect(e.tcpInfo.seq == 7 && e.tcpInfo.ack == 9 && e.tcpInfo.length == 100 && e.tcpInfo.window == 502)
        #expect(e.tcpInfo.flags == [.ack, .psh])
        #expect(e.tcp?.report.stream == 3 && e.tcp?.report.relativeSeq == 7)
        #expect(e.tcp?.acknowledges == "close frame and FIN")
        e.tcp = nil
        #expect(!e.hasTCP)
        #expect(e.tcp == nil)
        #expect(e.tcpInfo.seq == 0 && e.tcpInfo.acknowledged == nil)
    }
}
