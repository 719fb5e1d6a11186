/// Escapes text for HTML element content and quoted attribute values (also inside inline SVG):
/// `&`, `<`, `>`, `"` and `'` become character references, and control characters (which
/// terminal-escaped text never holds, but a file name might) become U+FFFD.
func htmlEscaped(_ s: String) -> String {
    var needs = false
    for b in s.utf8 where b == 0x26 || b == 0x3c || b == 0x3e || b == 0x22 || b == 0x27 || b < 0x20 || b == 0x7f {
        needs = true
        break
    }
    guard needs else { return s }
    var out = ""
    out.reserveCapacity(s.utf8.count + 16)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\u{fffd}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Cuts text to `limit` characters, ending with "…" when it was longer.
func clipped(_ s: String, _ limit: Int) -> String {
    guard s.count > limit else { return s }
    return String(s.prefix(max(0, limit - 1))) + "…"
}
