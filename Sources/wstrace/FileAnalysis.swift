import ArgumentParser
import WSCapture
import WSDecode
import WSOutput
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Reads a capture file through the analyzer into a renderer. Fatal problems print one line
/// on stderr and exit 1; a damaged file still has everything before the damage rendered.
struct FileAnalysis {
    let path: String
    let filter: String?
    let analyzer: AnalyzerOptions

    /// Opens the file and checks its link type; exits 1 with a message when it cannot.
    func open() throws -> (CaptureFile, LinkType) {
        let file: CaptureFile
        do {
            file = try CaptureFile(path: path)
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
        guard let link = LinkType(dlt: file.linkType) else {
            Terminal.warn("\(path): unsupported link type \(file.linkTypeName) (DLT \(file.linkType)); "
                          + "supported: Ethernet, Linux cooked (SLL, SLL2), BSD loopback, raw IP")
            throw ExitCode(1)
        }
        if let filter {
            do {
                try file.setFilter(filter)
            } catch {
                Terminal.warn(error.description)
                throw ExitCode(1)
            }
        }
        return (file, link)
    }

    /// Runs the whole file into `renderer`. Returns normally when the file was read to its end
    /// or the output closed; throws ExitCode(1) after rendering when the file was damaged.
    func run(file: CaptureFile, link: LinkType, renderer: Renderer, configure: (Analyzer) -> Void = { _ in }) throws {
        let analysis = Analyzer(linkType: link, options: analyzer)
        configure(analysis)
        renderer.begin(file: path, linkType: file.linkTypeName)
        var warnings: [String] = []
        var damaged = false
        let progress = Progress(enabled: Terminal.isTTY(2) && path != "-" && FileAnalysis.size(of: path) > 64 << 20)
        let emit: (TimelineEvent) -> Void = { renderer.event($0) }
        let summary: (ConnectionSummary) -> Void = { renderer.connection($0) }
        do {
            var first = true
            try file.forEach { header, bytes in
                if first {
                    renderer.firstPacket(time: header.timestampNanoseconds)
                    first = false
                }
                analysis.process(number: header.number, time: header.timestampNanoseconds,
                                 wireLength: header.wireLength, bytes: bytes, emit: emit, summary: summary)
                progress.tick(packets: header.number)
                return !renderer.isClosed
            }
        } catch {
            damaged = true
            warnings.append(error.description)
        }
        progress.clear()
        if !renderer.isClosed {
            analysis.finish(emit: emit, summary: summary)
            renderer.end(counters: analysis.counters, warnings: warnings)
        }
        for w in warnings { Terminal.warn(w) }
        if damaged { throw ExitCode(1) }
    }

    static func size(of path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }
}

/// A packet counter on stderr for long reads on a terminal.
final class Progress {
    let enabled: Bool
    private var shown = false
    init(enabled: Bool) { self.enabled = enabled }

    func tick(packets: Int) {
        guard enabled, packets & 0x3ffff == 0 else { return }
        fputs("\r\(packets) packets…", stderr)
        shown = true
    }

    func clear() {
        if shown { fputs("\r\u{1b}[K", stderr) }
    }
}
