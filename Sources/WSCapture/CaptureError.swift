/// Why a capture could not be opened or read to its end.
public enum CaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is missing or unreadable.
    case cannotOpen(path: String, reason: String)
    /// The file exists but libpcap does not recognise it as pcap or pcapng.
    case notACaptureFile(path: String, reason: String)
    /// The BPF expression did not compile.
    case badFilter(expression: String, reason: String)
    /// Reading stopped on damage after `lastGoodPacket` packets.
    case damaged(path: String, reason: String, lastGoodPacket: Int)
    /// The same in one of several files read as one capture: after the capture's packet
    /// `lastGoodPacket` (numbered across the files), the file's own record `fileRecords`.
    case damagedInSet(path: String, reason: String, lastGoodPacket: Int, fileRecords: Int)
    /// A live capture could not be started or went wrong.
    case live(device: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .notACaptureFile(path, reason): return "\(path): not a pcap or pcapng capture file (\(reason))"
        case let .badFilter(expression, reason): return "bad filter '\(expression)': \(reason)"
        case let .damaged(path, reason, last):
            return "\(path): capture damaged after packet \(last): \(reason); stopped reading there"
        case let .damagedInSet(path, reason, last, records):
            let at = records == 0 ? "before its first record" : "after packet \(last) (this file's record \(records))"
            return "\(path): capture damaged \(at): \(reason); stopped reading this file there"
        case let .live(device, reason): return "\(device): \(reason)"
        }
    }
}
