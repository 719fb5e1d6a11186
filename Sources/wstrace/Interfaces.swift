import ArgumentParser
import WSCapture

/// `wstrace interfaces`: the devices `capture -i` accepts, with their addresses and flags.
struct Interfaces: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interfaces",
        abstract: "List the interfaces live capture can use (pcap_findalldevs), with addresses and flags.")

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let devices: [CaptureInterface]
        do {
            devices = try CaptureInterface.all()
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
        if devices.isEmpty {
            Terminal.warn("no capture interfaces found (capturing may need root or CAP_NET_RAW)")
            throw ExitCode(1)
        }
        var out = ""
        for (i, d) in devices.enumerated() {
            var line = "\(i + 1). \(d.name)"
            if let text = d.description, !text.isEmpty { line += " (\(text))" }
            let flags = d.flagNames
            line += " [" + (flags.isEmpty ? "down" : flags.joined(separator: ", ")) + "]"
            out += line + "\n"
            for a in d.addresses { out += "      \(a)\n" }
        }
        print(out, terminator: "")
    }
}
