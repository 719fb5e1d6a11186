import ArgumentParser
import WSCapture
import WSDecode
import WSEngine
import WSOutput
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `wstrace capture -i IFACE`: the timeline of live traffic, printed as packets arrive.
///
/// The handle and the `-w` file are opened with the privileges given; root is then dropped (to
/// the sudo user, else `nobody`) before the first packet is dissected.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture live traffic on an interface and show each connection's life as it happens.",
        discussion: """
            Stops on Ctrl-C (SIGINT), SIGTERM, -c or --duration, then prints the summary of every \
            connection seen and the kernel's received/dropped counts on stderr; exit status 0. \
            Needs root or CAP_NET_RAW + CAP_NET_ADMIN; as root it drops to SUDO_UID/SUDO_GID \
            (else nobody) before dissecting.
            """)

    @Option(name: [.customShort("i"), .customLong("interface")], help: "Interface to capture on (see `wstrace interfaces`).")
    var interface: String

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter, applied in the kernel.")
    var filter: String?

    @Option(name: [.customShort("c"), .customLong("count")], help: "Stop after this many packets.")
    var count: Int?

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: [.customShort("s"), .customLong("snaplen")], help: "Bytes kept of each packet.")
    var snaplen = 262_144

    @Option(name: [.customShort("B"), .customLong("buffer-size")], help: "Kernel capture buffer in KiB.")
    var bufferKiB = 2048

    @Flag(inversion: .prefixedNo, help: "Promiscuous mode (default: on).")
    var promisc = true

    @Flag(name: .customLong("immediate-mode"), inversion: .prefixedNo,
          help: "Hand each packet over at once (default: only when standard output is a terminal; otherwise in kernel blocks of at most 20 ms).")
    var immediateMode: Bool?

    @Option(name: [.customShort("w"), .customLong("write")], help: "Also write every captured packet to this pcap file (flushed per packet).")
    var write: String?

    @Option(name: .long, help: "Output format; NDJSON and text rows are written as packets arrive.")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Full analysis, but print only the per-connection summaries (at the end).")
    var summary = false

    @Option(name: .long, help: ArgumentHelp(
        "Flow workers analysing the capture, fed by the capture thread (the output is the same). Default: one per core (up to 16) on hosts with 4 cores or more, else 1; 1 (or a key log that grows) analyses on one thread.",
        valueName: "n"))
    var threads: Int?

    @OptionGroup var display: DisplayOptions

    @Flag(name: .customLong("no-drop-privileges"), help: "Stay root while dissecting (not recommended).")
    var keepPrivileges = false

    @Flag(name: .long, help: "Say on stderr which uid dissects the traffic and why the capture stopped.")
    var verbose = false

    @OptionGroup var limits: LimitOptions

    @OptionGroup var keys: KeyLogOptions

    @OptionGroup var app: AppFilterOptions

    func validate() throws {
        if let count, count <= 0 { throw ValidationError("-c must be positive") }
        // At most about 31 years: the deadline is kept in nanoseconds (an infinite or larger
        // value trapped converting it).
        if let duration, !(duration > 0 && duration <= 1e9) {
            throw ValidationError("--duration must be positive and at most 1000000000 seconds")
        }
        guard snaplen > 0 else { throw ValidationError("-s must be positive") }
        guard bufferKiB > 0 else { throw ValidationError("-B must be positive") }
        if write == "-" { throw ValidationError("-w - is not supported: standard output carries the timeline") }
        if format == .mermaid { throw ValidationError("--format mermaid draws one connection of a file: use read --stream N") }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64") }
    }

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let displayFilter = try app.compiled()
        try app.requireSummaries(displayFilter, summaries: summary)
        let capture = try open()
        let signals = StopSignals(stopper: capture.stopper)
        defer { withExtendedLifetime(signals) {} }

        guard let link = LinkType(dlt: capture.linkType) else {
            Terminal.warn("\(interface): unsupported link type \(capture.linkTypeName) (DLT \(capture.linkType)); "
                          + "supported: Ethernet, Linux cooked (SLL, SLL2), BSD loopback, raw IP")
            throw ExitCode(1)
        }
        do {
            if let filter { try capture.setFilter(filter) }
            if let write { try capture.openDump(path: write) }
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
        // Opened before root is dropped; read again whenever a connection's key is missing.
        let keyLog = try keys.loadGrowing()
        try dropPrivileges()

        var options = display.renderOptions(format: format, timeDecimals: capture.timestampDecimals, stream: nil)
        options.displayFilter = displayFilter?.expression
        let sink = OutputSink()
        let renderer = format.makeRenderer(sink: sink, options: options, summaryOnly: summary)
        Terminal.warn("listening on \(interface), link-type \(capture.linkTypeName) (\(capture.linkTypeDescription)), "
                      + "snapshot length \(capture.snapshotLength) bytes")
        if verbose { reportIdentity() }
        var analyzerOptions = limits.analyzerOptions(retention: summary ? 0 : options.retention)
        analyzerOptions.keyLog = keyLog
        app.apply(displayFilter, to: &analyzerOptions, showsPayloads: options.payloads != .none && !summary,
                  maxPayload: options.maxPayload)
        var live = LiveAnalysis(capture: capture, link: link, analyzer: analyzerOptions,
                                count: count, duration: duration, verbose: verbose)
        live.display = displayFilter
        // A key log that grows is re-read by the thread that misses a key: one thread then.
        let workers = displayFilter?.namesStream == true ? 1 : threads ?? (WorkerThread.cores >= 4 ? min(WorkerThread.cores, 16) : 1)
        if workers > 1, keyLog?.grows != true, ParallelEngine.supports(format: format, render: options),
           let prerendered = renderer as? PrerenderedRendering {
            try live.runParallel(workers: workers, renderer: prerendered, format: format, options: options,
                                 summaryOnly: summary, sink: sink)
            return
        }
        try live.run(renderer: renderer, sink: sink)
    }

    /// Opens and activates the handle; explains a missing privilege or an unknown interface.
    private func open() throws -> LiveCapture {
        let settings = LiveCapture.Settings(snapshotLength: snaplen, promiscuous: promisc, bufferKiB: bufferKiB,
                                            immediate: immediateMode ?? Terminal.isTTY(1))
        do {
            let capture = try LiveCapture(device: interface, settings: settings)
            if let w = capture.activationWarning { Terminal.warn("\(interface): warning: \(w)") }
            return capture
        } catch {
            let known = CaptureInterface.names()
            if error.kind == .noSuchDevice || (!known.isEmpty && !known.contains(interface)) {
                Terminal.warn("\(interface): no such interface; capture on one of: "
                              + (known.isEmpty ? "(none found)" : known.joined(separator: ", ")))
            } else if error.kind == .permissionDenied {
                Terminal.warn(error.description)
                Terminal.warn("capturing needs root or the capabilities CAP_NET_RAW and CAP_NET_ADMIN: run it with sudo, "
                              + "or give the binary the capabilities once: sudo setcap cap_net_raw,cap_net_admin=eip "
                              + CaptureCommand.executablePath())
            } else {
                Terminal.warn(error.description)
            }
            throw ExitCode(1)
        }
    }

    /// As root: gives the `-w` file to the invoking user and becomes that user (or nobody).
    private func dropPrivileges() throws {
        guard !keepPrivileges else {
            if geteuid() == 0 { Terminal.warn("--no-drop-privileges: dissecting traffic as root") }
            return
        }
        do {
            var environment: [String: String] = [:]
            for key in ["SUDO_UID", "SUDO_GID"] {
                if let value = getenv(key) { environment[key] = String(cString: value) }
            }
            guard let target = try PrivilegeDrop.target(environment: environment) else { return }
            if let write, target.isInvokingUser { try target.hand(path: write) }
            try target.apply()
            if verbose { Terminal.warn("dropped privileges to \(target.name) (uid \(target.uid), gid \(target.gid))") }
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
    }

    /// The ids dissection runs with, read back from the kernel.
    private func reportIdentity() {
        guard let ids = ProcessIdentity.fromProc() else {
            Terminal.warn("dissecting as euid \(geteuid()) (could not read /proc/self/status)")
            return
        }
        Terminal.warn("dissecting as uid=\(ids.uids[0]) euid=\(ids.uids[1]) gid=\(ids.gids[0]) egid=\(ids.gids[1]) "
                      + "(from /proc/self/status)")
    }

    /// This program's path, for the setcap hint.
    private static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "$(command -v wstrace)" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
