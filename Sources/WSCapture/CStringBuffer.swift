extension Array where Element == CChar {
    /// The NUL-terminated text at the start of a C character buffer (libpcap's errbuf, inet_ntop's output).
    var nulTerminatedString: String {
        let end = firstIndex(of: 0) ?? count
        return String(decoding: self[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
