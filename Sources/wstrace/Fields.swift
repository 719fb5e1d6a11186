import ArgumentParser
import WSFilter

/// `wstrace fields`: every display-filter field, as `tshark -G fields` lists Wireshark's.
struct Fields: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fields",
        abstract: "List the display-filter (-Y) fields: name, type, meaning (a Markdown table with --markdown).")

    @Flag(name: .long, help: "A Markdown table (docs/filters.md's).")
    var markdown = false

    func run() throws {
        Terminal.ignoreSIGPIPE()
        var out = markdown ? "| field | type | meaning |\n|---|---|---|\n" : ""
        for f in FilterFields.all {
            let meaning = f.meaning + (f.connectionLevel ? " (per connection)" : "")
            if markdown {
                out += "| `\(f.name)` | \(f.kind.rawValue) | \(meaning) |\n"
            } else {
                out += "\(f.name)\t\(f.kind.rawValue)\t\(meaning)\n"
            }
        }
        print(out, terminator: "")
    }
}
