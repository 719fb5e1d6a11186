import ArgumentParser

/// `wstrace interfaces` (being built: see issue 9).
struct Interfaces: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List capture interfaces (not built yet).")
    func run() throws {
        Terminal.warn("interfaces: not built yet")
        throw ExitCode(1)
    }
}
