import WSDecode
import CPcap
import Dispatch
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A live capture on one interface through libpcap (pcap_create … pcap_activate), with an
/// optional BPF filter and an optional pcap file every captured packet is written to.
///
/// Packets are handed out in batches (`pcap_dispatch` in immediate mode): the bytes given to
/// the body are valid only during that call, and `afterBatch` runs whenever the kernel buffer
/// has been emptied, which is the moment to flush output.
public final class LiveCapture {
    /// How the handle is set up before activation.
    public struct Settings: Sendable, Equatable {
        /// Bytes kept of each packet (tcpdump's default is 262144).
        public var snapshotLength: Int
        /// Put the interface in promiscuous mode.
        public var promiscuous: Bool
        /// Kernel buffer size in KiB (libpcap's default is 2048).
        public var bufferKiB: Int
        /// Deliver each packet as soon as it arrives (pcap_set_immediate_mode). Off, the kernel
        /// hands packets over in blocks, at the latest `timeoutMilliseconds` after the first one:
        /// far fewer wake-ups and, on Linux, a ring that holds many more small packets.
        public var immediate: Bool
        /// Longest wait before buffered packets are delivered when not in immediate mode.
        public var timeoutMilliseconds: Int

        public init(snapshotLength: Int = 262_144, promiscuous: Bool = true, bufferKiB: Int = 2048,
                    immediate: Bool = true, timeoutMilliseconds: Int = 20) {
            self.snapshotLength = snapshotLength
            self.promiscuous = promiscuous
            self.bufferKiB = bufferKiB
            self.immediate = immediate
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    /// The kernel's counts for the capture (pcap_stats).
    public struct Statistics: Sendable, Equatable {
        /// Packets received by the filter.
        public var received: UInt32
        /// Packets dropped by the kernel for lack of buffer space.
        public var droppedByKernel: UInt32
        /// Packets dropped by the interface or its driver.
        public var droppedByInterface: UInt32
    }

    /// Why `forEach` returned.
    public enum StopReason: Sendable, Equatable {
        /// `stop()` was called on a stopper (SIGINT, SIGTERM, ...).
        case stopRequested
        /// The packet count was reached.
        case count
        /// The duration elapsed.
        case duration
        /// The body returned false.
        case bodyEnded
    }

    /// The interface name.
    public let device: String
    /// libpcap's data link type (a DLT_ value).
    public let linkType: Int32
    /// The link layer its packets are decoded as.
    public let link: LinkType
    /// Decimal places of the timestamps: 9 (nanoseconds) when libpcap grants them, else 6.
    public let timestampDecimals: Int
    /// The snapshot length in effect.
    public let snapshotLength: Int
    /// A warning libpcap gave at activation (e.g. promiscuous mode not supported), if any.
    public let activationWarning: String?
    /// Packets captured so far (all passed the filter; all written to the dump file).
    public private(set) var packetsCaptured = 0

    private let handle: LiveHandle
    private let immediate: Bool
    private let timeoutMilliseconds: Int
    private var dumper: OpaquePointer?
    private var filter = bpf_program()
    private var hasFilter = false

    /// Creates and activates a capture handle on `device`. Needs capture privileges.
    public init(device: String, settings: Settings = Settings()) throws(LiveCaptureError) {
        self.device = device
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let pcap = pcap_create(device, &errbuf) else {
            throw LiveCaptureError(kind: .other, error: .live(device: device, reason: errbuf.nulTerminatedString))
        }
        // From here on the handle is closed by LiveHandle's deinit on every path.
        let shared = LiveHandle(pcap: pcap)
        pcap_set_snaplen(pcap, Int32(clamping: settings.snapshotLength))
        pcap_set_promisc(pcap, settings.promiscuous ? 1 : 0)
        pcap_set_timeout(pcap, Int32(clamping: settings.timeoutMilliseconds))
        pcap_set_immediate_mode(pcap, settings.immediate ? 1 : 0)
        // Held at libpcap's 32-bit limit, however many KiB were asked for (the product itself
        // would trap past 2^63).
        let (bufferBytes, overflow) = settings.bufferKiB.multipliedReportingOverflow(by: 1024)
        pcap_set_buffer_size(pcap, overflow ? Int32.max : Int32(clamping: bufferBytes))
        // Nanoseconds when the platform has them; microseconds otherwise (not an error).
        _ = pcap_set_tstamp_precision(pcap, Int32(PCAP_TSTAMP_PRECISION_NANO))

        let status = pcap_activate(pcap)
        if status < 0 {
            let detail = String(cString: pcap_geterr(pcap))
            let summary = String(cString: pcap_statustostr(status))
            let reason = detail.isEmpty ? summary : "\(summary) (\(detail))"
            let kind: LiveCaptureError.Kind
            switch status {
            case PCAP_ERROR_NO_SUCH_DEVICE: kind = .noSuchDevice
            case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED: kind = .permissionDenied
            default: kind = .other
            }
            throw LiveCaptureError(kind: kind, error: .live(device: device, reason: reason))
        }
        if status > 0 {
            let detail = String(cString: pcap_geterr(pcap))
            let summary = String(cString: pcap_statustostr(status))
            activationWarning = detail.isEmpty ? summary : "\(summary) (\(detail))"
        } else {
            activationWarning = nil
        }
        handle = shared
        immediate = settings.immediate
        timeoutMilliseconds = settings.timeoutMilliseconds
        linkType = pcap_datalink(pcap)
        link = LinkType.of(dlt: linkType)
        snapshotLength = Int(pcap_snapshot(pcap))
        timestampDecimals = pcap_get_tstamp_precision(pcap) == Int32(PCAP_TSTAMP_PRECISION_NANO) ? 9 : 6
    }

    deinit {
        if let dumper { pcap_dump_close(dumper) }
        if hasFilter { pcap_freecode(&filter) }
    }

    /// libpcap's name of the link type ("EN10MB", ...).
    public var linkTypeName: String {
        guard let name = pcap_datalink_val_to_name(linkType) else { return "DLT \(linkType)" }
        return String(cString: name)
    }

    /// libpcap's description of the link type ("Ethernet", ...).
    public var linkTypeDescription: String {
        guard let text = pcap_datalink_val_to_description(linkType) else { return linkTypeName }
        return String(cString: text)
    }

    /// Something that can stop `forEach` from another thread or a signal handler.
    public var stopper: LiveCaptureStopper { LiveCaptureStopper(state: handle) }

    /// Compiles `expression` and sets it as the kernel filter; a bad filter throws libpcap's text.
    public func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        if pcap_compile(handle.pcap, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw .badFilter(expression: expression, reason: String(cString: pcap_geterr(handle.pcap)))
        }
        if pcap_setfilter(handle.pcap, &program) != 0 {
            let reason = String(cString: pcap_geterr(handle.pcap))
            pcap_freecode(&program)
            throw .badFilter(expression: expression, reason: reason)
        }
        if hasFilter { pcap_freecode(&filter) }
        filter = program
        hasFilter = true
    }

    /// Opens `path` as a classic pcap file (truncating it) that every captured packet is written
    /// to and flushed, so the file is complete up to the last packet whenever the process ends.
    public func openDump(path: String) throws(CaptureError) {
        guard let d = pcap_dump_open(handle.pcap, path) else {
            throw .cannotOpen(path: path, reason: String(cString: pcap_geterr(handle.pcap)))
        }
        if let dumper { pcap_dump_close(dumper) }
        dumper = d
    }

    /// Hands out packets as they arrive until a stopper stops the capture, `maxPackets` packets
    /// have been captured, `duration` seconds have passed, or `body` returns false. `afterBatch`
    /// runs each time the packets waiting in the kernel have all been handed out.
    /// Throws `.live` when libpcap fails while reading (e.g. the interface went away).
    public func forEach(maxPackets: Int? = nil, duration: Double? = nil,
                        afterBatch: () -> Void,
                        _ body: (PacketHeader, UnsafeRawBufferPointer) -> Bool) throws(CaptureError) -> StopReason {
        let deadline = duration.map { Self.monotonicNanoseconds() + Int64($0 * 1e9) }
        // libpcap's read timeout does not end a read on Linux while no packet arrives, so the
        // duration is enforced by a timer that breaks the loop; the loop then sees the deadline.
        let timer = duration.map { seconds in
            let t = DispatchSource.makeTimerSource(queue: .global())
            let shared = handle
            t.schedule(deadline: .now() + seconds, repeating: .milliseconds(50))
            t.setEventHandler { @Sendable in pcap_breakloop(shared.pcap) }
            t.resume()
            return t
        }
        defer { timer?.cancel() }
        let nano = timestampDecimals == 9
        var failure: CaptureError?
        let reason: StopReason = withoutActuallyEscaping(body) { escapingBody in
            let context = DispatchContext(capture: self, nano: nano, body: escapingBody)
            let user = Unmanaged.passUnretained(context).toOpaque().assumingMemoryBound(to: UInt8.self)
            let callback: pcap_handler = { user, header, bytes in
                guard let user, let header, let bytes else { return }
                let context = Unmanaged<DispatchContext>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue()
                context.capture.deliver(header, bytes, context: context)
            }
            defer { withExtendedLifetime(context) {} }
            let reason = loop(maxPackets: maxPackets, deadline: deadline, context: context, user: user,
                              callback: callback, afterBatch: afterBatch, failure: &failure)
            if reason == .stopRequested || reason == .duration, failure == nil {
                drain(maxPackets: maxPackets, context: context, user: user, callback: callback)
                afterBatch()
            }
            return reason
        }
        if let failure { throw failure }
        return reason
    }

    /// Dispatches batches until a stop condition; libpcap failures land in `failure`.
    private func loop(maxPackets: Int?, deadline: Int64?, context: DispatchContext,
                      user: UnsafeMutablePointer<UInt8>, callback: pcap_handler, afterBatch: () -> Void,
                      failure: inout CaptureError?) -> StopReason {
        while true {
            if handle.stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
            if let maxPackets, packetsCaptured >= maxPackets { return .count }
            if let deadline, Self.monotonicNanoseconds() >= deadline { return .duration }
            let budget = maxPackets.map { Int32(clamping: $0 - packetsCaptured) } ?? -1
            let n = pcap_dispatch(handle.pcap, budget, callback, user)
            if n > 0 || n == PCAP_ERROR_BREAK { afterBatch() }
            if context.bodyEnded { return .bodyEnded }
            if n == PCAP_ERROR_BREAK {
                // A stop request, or a break left over from one: the loop's checks decide.
                if handle.stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
                continue
            }
            if n < 0 {
                failure = .live(device: device, reason: String(cString: pcap_geterr(handle.pcap)))
                return .stopRequested
            }
        }
    }

    /// After a stop by signal or duration: hands out the packets the kernel already holds (in
    /// block mode the current block is released at most one timeout later), without blocking.
    private func drain(maxPackets: Int?, context: DispatchContext, user: UnsafeMutablePointer<UInt8>,
                       callback: pcap_handler) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard pcap_setnonblock(handle.pcap, 1, &errbuf) == 0 else { return }
        if !immediate { usleep(UInt32(timeoutMilliseconds + 5) * 1000) }
        for _ in 0..<64 {
            if context.bodyEnded { return }
            if let maxPackets, packetsCaptured >= maxPackets { return }
            let budget = maxPackets.map { Int32(clamping: $0 - packetsCaptured) } ?? -1
            let n = pcap_dispatch(handle.pcap, budget, callback, user)
            if n == PCAP_ERROR_BREAK { continue }  // a late break from the duration timer
            if n <= 0 { return }
        }
    }

    /// The kernel's received and dropped counts so far, nil when libpcap cannot give them.
    public func statistics() -> Statistics? {
        var stats = pcap_stat()
        guard pcap_stats(handle.pcap, &stats) == 0 else { return nil }
        return Statistics(received: stats.ps_recv, droppedByKernel: stats.ps_drop, droppedByInterface: stats.ps_ifdrop)
    }

    /// One packet from pcap_dispatch: written to the dump file, then handed to the body.
    private func deliver(_ header: UnsafePointer<pcap_pkthdr>, _ bytes: UnsafePointer<UInt8>,
                         context: DispatchContext) {
        if context.bodyEnded { return }
        packetsCaptured += 1
        if let dumper {
            pcap_dump(UnsafeMutablePointer<UInt8>(dumper), header, bytes)
            pcap_dump_flush(dumper)
        }
        let h = header.pointee
        let time = h.captureTime(nanosecondFraction: context.nano)
        let packet = PacketHeader(number: packetsCaptured, timestampNanoseconds: time,
                                  capturedLength: Int(h.caplen), wireLength: Int(h.len), link: link)
        if !context.body(packet, UnsafeRawBufferPointer(start: bytes, count: Int(h.caplen))) {
            context.bodyEnded = true
            pcap_breakloop(handle.pcap)
        }
    }

    private static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// What the C callback of pcap_dispatch needs, passed through its `user` pointer.
    private final class DispatchContext {
        let capture: LiveCapture
        let nano: Bool
        let body: (PacketHeader, UnsafeRawBufferPointer) -> Bool
        var bodyEnded = false

        init(capture: LiveCapture, nano: Bool, body: @escaping (PacketHeader, UnsafeRawBufferPointer) -> Bool) {
            self.capture = capture
            self.nano = nano
            self.body = body
        }
    }
}
