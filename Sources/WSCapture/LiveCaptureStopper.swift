import CPcap
import Synchronization

/// Stops a running `LiveCapture` from anywhere: a signal handler's queue, another thread, a timer.
///
/// It keeps the libpcap handle alive (the handle is closed when the capture and every stopper
/// are gone), so `stop()` is safe to call at any time, also after the capture has ended.
public struct LiveCaptureStopper: Sendable {
    let state: LiveHandle

    /// Asks the capture to stop (pcap_breakloop); returns false when a stop had already been asked.
    @discardableResult
    public func stop() -> Bool {
        let first = !state.stopRequested.exchange(true, ordering: .sequentiallyConsistent)
        pcap_breakloop(state.pcap)
        return first
    }

    /// Whether `stop()` has been called.
    public var isStopRequested: Bool { state.stopRequested.load(ordering: .sequentiallyConsistent) }
}

/// The libpcap handle and the stop flag, shared by a capture and its stoppers.
///
/// `pcap_breakloop` is documented as callable from another thread or a signal handler; it is the
/// only libpcap call made through this type from outside the capturing thread.
final class LiveHandle: @unchecked Sendable {
    let pcap: OpaquePointer
    let stopRequested = Atomic<Bool>(false)

    init(pcap: OpaquePointer) { self.pcap = pcap }

    deinit { pcap_close(pcap) }
}
