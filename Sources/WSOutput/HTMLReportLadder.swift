import WSDissector
import WSTimeline

/// Draws one connection's ladder rows as inline SVG: a client column and a server column,
/// one arrow per row with the time and packet number on the left.
///
/// The diagram is a stack of SVG blocks sharing the same geometry, so a collapsed run can sit
/// between them as a `<details class="run">` whose summary is drawn as a band across the
/// lifelines. Every arrow is a `<g class="arrow …">`; a run's element says how many arrows it
/// stands for (`data-frames`) and how many it draws when expanded (`data-drawn`).
struct LadderSVG {
    static let width = 960
    static let clientX = 270
    static let serverX = 850
    static let rowHeight = 30
    /// Characters of label on an arrow (monospace 11px fits about 85 between the columns).
    static let labelLimit = 80

    /// Capture time of the first packet, for relative times.
    let firstTime: Int64
    /// Decimal places of times.
    let decimals: Int

    /// The whole diagram of one connection.
    func render(_ items: [LadderItem], client: String, server: String) -> String {
        var out = "<div class=\"ladder\">\n" + header(client: client, server: server)
        var rows = ""
        var y = 0
        func closeSegment() {
            if !rows.isEmpty { out += segment(rows, height: y + 6) }
            rows = ""
            y = 0
        }
        for item in items {
            switch item {
            case let .phase(p):
                rows += phaseRow(p, y: y)
                y += 24
            case let .step(s):
                rows += arrow(s, y: &y)
            case let .gap(packet, time, text):
                rows += gapRow(packet: packet, time: time, text: text, y: y)
                y += 28
            case let .run(r):
                closeSegment()
                out += runGroup(r)
            case let .omitted(n):
                closeSegment()
                out += "<div class=\"omitted\" data-frames=\"\(n)\" data-drawn=\"0\">"
                    + segment(note("… \(n) more arrows not drawn (limit of \(LadderBuilder.stepLimit) rows per connection) …", y: 0),
                              height: 28)
                    + "</div>\n"
            }
        }
        closeSegment()
        out += segment("", height: 14)
        return out + "</div>\n"
    }

    private func header(client: String, server: String) -> String {
        var s = "<svg class=\"seg head\" viewBox=\"0 0 \(Self.width) 64\" width=\"\(Self.width)\" height=\"64\" "
            + "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"client and server\">"
        s += "<text class=\"colhead\" x=\"8\" y=\"56\">time (s)</text><text class=\"colhead\" x=\"150\" y=\"56\" text-anchor=\"end\">pkt</text>"
        for (x, title, endpoint) in [(Self.clientX, "Client", client), (Self.serverX, "Server", server)] {
            s += "<rect class=\"peer\" x=\"\(x - 100)\" y=\"4\" width=\"200\" height=\"44\" rx=\"6\"/>"
            s += "<text class=\"peername\" x=\"\(x)\" y=\"22\" text-anchor=\"middle\">\(title)</text>"
            s += "<text class=\"peeraddr\" x=\"\(x)\" y=\"40\" text-anchor=\"middle\">\(htmlEscaped(clipped(endpoint, 30)))</text>"
            s += "<line class=\"life\" x1=\"\(x)\" y1=\"48\" x2=\"\(x)\" y2=\"64\"/>"
        }
        return s + "</svg>\n"
    }

    private func segment(_ rows: String, height: Int) -> String {
        "<svg class=\"seg\" viewBox=\"0 0 \(Self.width) \(height)\" width=\"\(Self.width)\" height=\"\(height)\" "
            + "xmlns=\"http://www.w3.org/2000/svg\">"
            + "<line class=\"life\" x1=\"\(Self.clientX)\" y1=\"0\" x2=\"\(Self.clientX)\" y2=\"\(height)\"/>"
            + "<line class=\"life\" x1=\"\(Self.serverX)\" y1=\"0\" x2=\"\(Self.serverX)\" y2=\"\(height)\"/>"
            + rows + "</svg>\n"
    }

    private func phaseRow(_ p: Phase, y: Int) -> String {
        "<g class=\"phase ph-\(p.rawValue)\"><rect x=\"0\" y=\"\(y + 2)\" width=\"\(Self.width)\" height=\"20\"/>"
            + "<text x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"\(y + 16)\" text-anchor=\"middle\">\(phaseTitle(p))</text></g>\n"
    }

    private func time(_ ns: Int64) -> String { secondsText(ns - firstTime, decimals: decimals) }

    private func arrow(_ s: LadderStep, y: inout Int) -> String {
        let toServer = s.from == .client
        let (x1, x2) = toServer ? (Self.clientX, Self.serverX) : (Self.serverX, Self.clientX)
        let ay = y + 20
        let tip = toServer ? x2 - 1 : x2 + 1
        let back = toServer ? x2 - 11 : x2 + 11
        let bad = !s.violations.isEmpty
        var g = "<g class=\"arrow \(toServer ? "c2s" : "s2c") k-\(s.kind.rawValue)\(bad ? " bad" : "")\" data-packet=\"\(s.packet)\">"
        // Data frames' labels already say what Info says; other arrows get the whole Info as a tooltip.
        if bad || (s.kind != .data && s.kind != .control) { g += "<title>#\(s.packet) \(htmlEscaped(s.detail))</title>" }
        g += "<text class=\"t\" x=\"8\" y=\"\(ay + 4)\">\(time(s.time))</text>"
        g += "<text class=\"n\" x=\"150\" y=\"\(ay + 4)\">#\(s.packet)</text>"
        g += "<line x1=\"\(x1)\" y1=\"\(ay)\" x2=\"\(back)\" y2=\"\(ay)\"/>"
        g += "<polygon points=\"\(tip),\(ay) \(back),\(ay - 5) \(back),\(ay + 5)\"/>"
        g += "<text class=\"l\" x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"\(ay - 6)\">"
            + htmlEscaped(clipped(s.label, Self.labelLimit)) + "</text>"
        y += Self.rowHeight
        if bad {
            g += "<text class=\"vtext\" x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"\(ay + 15)\" text-anchor=\"middle\">⚠ "
                + htmlEscaped(clipped(s.violations.joined(separator: ", "), Self.labelLimit)) + "</text>"
            y += 14
        }
        return g + "</g>\n"
    }

    private func gapRow(packet: Int, time t: Int64, text: String, y: Int) -> String {
        "<g class=\"gap\"><text class=\"t\" x=\"8\" y=\"\(y + 18)\">\(time(t))</text>"
            + "<text class=\"n\" x=\"150\" y=\"\(y + 18)\" text-anchor=\"end\">#\(packet)</text>"
            + "<line x1=\"\(Self.clientX)\" y1=\"\(y + 14)\" x2=\"\(Self.serverX)\" y2=\"\(y + 14)\"/>"
            + "<text class=\"l\" x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"\(y + 10)\" text-anchor=\"middle\">"
            + htmlEscaped(clipped(text, Self.labelLimit)) + "</text></g>\n"
    }

    private func note(_ text: String, y: Int) -> String {
        "<text class=\"note\" x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"\(y + 18)\" text-anchor=\"middle\">"
            + htmlEscaped(text) + "</text>"
    }

    private func runGroup(_ r: LadderRun) -> String {
        let bad = r.violations > 0
        var words = "⋯ \(r.count) data frames: \(r.fromClient) →, \(r.fromServer) ←, \(byteText(r.bytes)), "
            + "pkts \(r.firstPacket)–\(r.lastPacket)"
        if bad { words += ", \(r.violations) with violations" }
        words += " ⋯"
        var band = "<text class=\"t\" x=\"8\" y=\"18\">\(time(r.firstTime))</text>"
            + "<text class=\"t\" x=\"8\" y=\"34\">\(time(r.lastTime))</text>"
            + "<rect class=\"band\(bad ? " bad" : "")\" x=\"\(Self.clientX)\" y=\"5\" width=\"\(Self.serverX - Self.clientX)\" height=\"32\" rx=\"5\"/>"
            + "<text class=\"bandtext\(bad ? " bad" : "")\" x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"19\" text-anchor=\"middle\">"
            + htmlEscaped(words) + "</text>"
            + "<text class=\"bandhint\" x=\"\((Self.clientX + Self.serverX) / 2)\" y=\"32\" text-anchor=\"middle\">"
            + "collapsed — click to show \(r.kept.count == r.count ? "them" : "the first \(r.kept.count)")</text>"
        band = segment(band, height: 42)
        var inner = ""
        var y = 0
        for s in r.kept { inner += arrow(s, y: &y) }
        if r.count > r.kept.count {
            inner += note("… \(r.count - r.kept.count) more frames not drawn; the message list and `wstrace read` show them …", y: y)
            y += 28
        }
        return "<details class=\"run\" data-frames=\"\(r.count)\" data-drawn=\"\(r.kept.count)\"><summary>" + band
            + "</summary>" + segment(inner, height: y + 4) + "</details>\n"
    }
}

/// "512 B", "34.2 KB", "1.5 MB".
func byteText(_ n: UInt64) -> String {
    if n < 1024 { return "\(n) B" }
    if n < 1 << 20 { return formatFixed(Double(n) / 1024, places: 1) + " KB" }
    if n < 1 << 30 { return formatFixed(Double(n) / Double(1 << 20), places: 1) + " MB" }
    return formatFixed(Double(n) / Double(1 << 30), places: 2) + " GB"
}
