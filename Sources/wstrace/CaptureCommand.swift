import ArgumentParser

/// `wstrace capture -i IFACE` (being built: see issue 9).
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "capture", abstract: "Capture live traffic (not built yet).")
    func run() throws {
        Terminal.warn("capture: not built yet")
        throw ExitCode(1)
    }
}
