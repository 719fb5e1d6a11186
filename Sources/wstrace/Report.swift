import ArgumentParser

/// `wstrace report FILE -o report.html` (being built: see issue 8).
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write an HTML lifecycle report (not built yet).")
    func run() throws {
        Terminal.warn("report: not built yet")
        throw ExitCode(1)
    }
}
