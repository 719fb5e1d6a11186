/// The frame of the HTML report: head with inline CSS, title, index table and footer.
///
/// The page is self-contained: a Content-Security-Policy allows nothing but the inline style,
/// so no font, script or image is ever fetched (links to the RFCs only navigate when clicked).
enum HTMLReportPage {
    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="wstrace">
        <title>\(htmlEscaped(title))</title>
        <style>
        \(css)
        </style>
        </head>
        <body>

        """
    }

    /// The report's heading and the index of connections (`rows` are `<tr>` elements).
    static func index(file: String, linkType: String, totals: String, rows: String, count: Int) -> String {
        var out = "<header><h1>WebSocket lifecycle report</h1>\n"
        out += "<p class=\"file\"><code>\(htmlEscaped(file))</code> · \(htmlEscaped(linkType))</p>\n"
        out += "<p class=\"totals\">\(htmlEscaped(totals))</p></header>\n"
        out += "<nav id=\"index\"><h2>Connections (\(count))</h2>\n"
        if count == 0 {
            return out + "<p class=\"muted\">No TCP connections in this capture.</p></nav>\n<main>\n"
        }
        out += "<table class=\"index\"><thead><tr><th>stream</th><th>client</th><th>server</th><th>duration</th>"
            + "<th>messages</th><th>closed</th><th>violations</th><th>verdict</th></tr></thead><tbody>\n"
        return out + rows + "</tbody></table></nav>\n<main>\n"
    }

    static func tail(warnings: [String]) -> String {
        var out = "</main>\n<footer>\n"
        if !warnings.isEmpty {
            out += "<ul class=\"warnings\">" + warnings.map { "<li>\(htmlEscaped($0))</li>" }.joined() + "</ul>\n"
        }
        out += "<p>Made by wstrace. Arrows: solid for HTTP and WebSocket frames, thin for TCP segments, "
            + "red for violations. References: "
            + "<a href=\"https://www.rfc-editor.org/rfc/rfc6455\">RFC 6455</a> (WebSocket), "
            + "<a href=\"https://www.rfc-editor.org/rfc/rfc7692\">RFC 7692</a> (permessage-deflate), "
            + "<a href=\"https://www.rfc-editor.org/rfc/rfc9293\">RFC 9293</a> (TCP).</p>\n"
        return out + "</footer>\n</body>\n</html>\n"
    }

    static let css = """
    :root { color-scheme: light; --c2s: #1f5fa8; --s2c: #2d7d46; --bad: #c62828; --muted: #666; }
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 1000px; padding: 0 1em; color: #222; }
    h1 { font-size: 1.5em; margin: 0 0 .2em; }
    h2 { font-size: 1.15em; margin: .2em 0; display: inline; }
    h3 { font-size: 1em; margin: 1.2em 0 .4em; }
    code, .payload, table.lifecycle td { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
    .muted, .file { color: var(--muted); }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; vertical-align: top; padding: 3px 6px; border-bottom: 1px solid #e3e3e3; }
    thead th { background: #f3f4f6; font-weight: 600; }
    td.num { text-align: right; }
    tr.bad td, tr.bad th, .verdict.bad { color: var(--bad); }
    table.index td { font-size: 13px; }
    .payload { word-break: break-all; white-space: pre-wrap; }
    section.conn { border: 1px solid #d8dbe0; border-radius: 8px; margin: 1.2em 0; padding: .6em 1em; }
    section.conn.bad { border-color: var(--bad); }
    section.conn > details > summary { cursor: pointer; }
    .peers { font-weight: normal; color: var(--muted); margin-left: .5em; }
    .verdict { margin: .2em 0 .6em; }
    section.conn.bad .verdict { color: var(--bad); }
    .ladder { margin: .6em 0; overflow-x: auto; }
    .ladder svg { display: block; max-width: 100%; height: auto; }
    .ladder text { font: 11px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; fill: #222; }
    .ladder .life { stroke: #9aa1ab; stroke-width: 2; }
    .ladder .peer { fill: #eef2f7; stroke: #5b6573; }
    .ladder .peername { font: 600 13px system-ui, sans-serif; }
    .ladder .colhead, .ladder .t, .ladder .n { fill: var(--muted); }
    .ladder .n { text-anchor: end; } .ladder .l { text-anchor: middle; }
    table.messages td:nth-child(-n+5), table.lifecycle td:nth-child(3) { white-space: nowrap; }
    .ladder .phase rect { fill: #f6f7f9; }
    .ladder .phase text { font: italic 11px system-ui, sans-serif; fill: #555; }
    .ladder .ph-handshake rect { fill: #e7f4f7; } .ladder .ph-upgrade rect { fill: #f3ebf7; }
    .ladder .ph-data rect { fill: #eaf5ec; } .ladder .ph-close rect { fill: #fbf3e2; }
    .ladder .ph-teardown rect { fill: #e9eef8; }
    .ladder .arrow line { stroke-width: 2; }
    .ladder .arrow.c2s line { stroke: var(--c2s); } .ladder .arrow.c2s polygon { fill: var(--c2s); }
    .ladder .arrow.s2c line { stroke: var(--s2c); } .ladder .arrow.s2c polygon { fill: var(--s2c); }
    .ladder .arrow.k-handshake line, .ladder .arrow.k-teardown line { stroke-width: 1; stroke-dasharray: 5 3; }
    .ladder .arrow.k-reset line { stroke: var(--bad); stroke-width: 2.5; } .ladder .arrow.k-reset polygon { fill: var(--bad); }
    .ladder .arrow.bad line { stroke: var(--bad); } .ladder .arrow.bad polygon { fill: var(--bad); }
    .ladder .arrow.bad .l, .ladder .vtext { fill: var(--bad); }
    .ladder .gap line { stroke: var(--bad); stroke-dasharray: 2 3; } .ladder .gap .l { fill: var(--bad); }
    .ladder .note { fill: var(--muted); font-style: italic; }
    .ladder .band { fill: #f1f3f5; stroke: #9aa1ab; stroke-dasharray: 4 3; }
    .ladder .band.bad { stroke: var(--bad); fill: #fdecea; }
    .ladder .bandtext.bad { fill: var(--bad); }
    .ladder .bandhint { fill: var(--muted); font-size: 10px; }
    details.run > summary { list-style: none; cursor: pointer; }
    details.run > summary::-webkit-details-marker { display: none; }
    details.run[open] .bandhint { display: none; }
    .back { text-align: right; font-size: 12px; margin: .4em 0 0; }
    footer { margin-top: 2em; color: var(--muted); font-size: 12px; }
    .warnings { color: var(--bad); }
    @media print {
      body { max-width: none; margin: 0; }
      section.conn { break-inside: avoid-page; }
      details::details-content { content-visibility: visible; display: contents; }
      .back { display: none; }
    }
    """
}
