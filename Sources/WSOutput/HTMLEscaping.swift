/// Escapes text for HTML element content and quoted attribute values (also inside inline SVG):
/// `&`, `<`, `>`, `"` and `'` become character references, and control characters (which
/// terminal-escaped text never holds, but a file name might) become U+FFFD.
func htmlEscaped(_ s: String) -> String {
    guard s.utf8.contains(where: { htmlReplacement($0) != nil }) else { return s }
    // Byte by byte: every byte it replaces is ASCII, so the UTF-8 sequences around them are
    // copied whole and stay valid (as escaping scalar by scalar would give, without building
    // the string one scalar at a time).
    var s = s
    return s.withUTF8 { text in
        var length = 0
        for b in text { length += htmlReplacement(b)?.utf8CodeUnitCount ?? 1 }
        return String(unsafeUninitializedCapacity: length) { out in
            var o = 0
            for b in text {
                if let replacement = htmlReplacement(b) {
                    replacement.withUTF8Buffer { bytes in
                        for byte in bytes { out[o] = byte; o += 1 }
                    }
                } else {
                    out[o] = b
                    o += 1
                }
            }
            return o
        }
    }
}

/// What `htmlEscaped` writes for the byte `b` (nil: the byte itself); counting and writing
/// both read it, so the string's room is always what is written.
@inline(__always)
private func htmlReplacement(_ b: UInt8) -> StaticString? {
    switch b {
    case 0x26: return "&amp;"
    case 0x3c: return "&lt;"
    case 0x3e: return "&gt;"
    case 0x22: return "&quot;"
    case 0x27: return "&#39;"
    case 0..<0x20, 0x7f: return "\u{fffd}"
    default: return nil
    }
}

/// Cuts text to `limit` characters, ending with "…" when it was longer.
func clipped(_ s: String, _ limit: Int) -> String {
    guard s.count > limit else { return s }
    return String(s.prefix(max(0, limit - 1))) + "…"
}
