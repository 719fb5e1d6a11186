// The App stage's JSON parser: strictness, escapes, depth cap, compact re-serialization and the
// partial parse of cut texts. Inputs are hand-written JSON texts.
import Testing
@testable import WSApp

private func parse(_ s: String, partial: Bool = false) -> JSONParseResult {
    JSONParser.parse(Array(s.utf8), partial: partial)
}

private func compact(_ s: String) -> String? {
    if case .value(let v) = parse(s) { return v.compact }
    return nil
}

@Test func jsonCompactsAndKeepsOrder() {
    #expect(compact(" { \"b\" : 1 , \"a\" : [ true, false, null, -1.5e+3 ] } ") == #"{"b":1,"a":[true,false,null,-1.5e+3]}"#)
    #expect(compact("[]") == "[]")
    #expect(compact("{}") == "{}")
    #expect(compact("\"x\"") == "\"x\"")
}

@Test func jsonEscapesDecodeAndReserialize() {
    guard case .value(let v) = parse(#"["a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0001"]"#) else { Issue.record("no parse"); return }
    #expect(v.arrayValue?.first?.stringValue == "a\"b\\c/d\n\té😀\u{01}")
    #expect(v.compact == #"["a\"b\\c/d\n\té😀\u0001"]"#)
    // A lone surrogate becomes U+FFFD; the output is still valid JSON.
    guard case .value(let w) = parse(#"["\ud800x"]"#) else { Issue.record("no parse"); return }
    #expect(w.arrayValue?.first?.stringValue == "\u{FFFD}x")
}

@Test func jsonRejectsWhatIsNotJSON() {
    for bad in ["{", "[1,]", "{\"a\"}", "{a:1}", "01", "1.", "-", "tru", "[1] x", "\"a\u{01}\"", "{\"a\":1,}", "\"\\x\"", "[1 2]"] {
        guard case .failure = parse(bad) else { Issue.record("parsed: \(bad)"); continue }
    }
    guard case .failure(let e) = parse("[1,]") else { return }
    #expect(e.offset == 3)
    #expect(e.description.hasPrefix("JSON does not parse at byte 3: "))
}

@Test func jsonDepthIsCapped() {
    let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
    #expect(compact(deep) != nil)
    let tooDeep = String(repeating: "[", count: 100_000)
    guard case .failure(let e) = parse(tooDeep) else { Issue.record("parsed"); return }
    #expect(e.reason.contains("nesting"))
}

@Test func jsonPartialKeepsCompleteMembers() {
    guard case .partial(let v) = parse(#"{"jsonrpc":"2.0","method":"m","id":12"#, partial: true) else { Issue.record("not partial"); return }
    // The trailing number may be cut: it is dropped.
    #expect(v.compact == #"{"jsonrpc":"2.0","method":"m"}"#)
    guard case .partial(let a) = parse(#"["ev",{"a":[1,2"#, partial: true) else { Issue.record("not partial"); return }
    #expect(a.compact == #"["ev"]"#)
    // Without partial, a cut text is a failure at its end.
    guard case .failure(let e) = parse(#"{"a":1"#) else { Issue.record("parsed"); return }
    #expect(e.offset == 6)
}

@Test func jsonIntegers() {
    #expect(parseInt64("9223372036854775807") == Int64.max)
    #expect(parseInt64("-9223372036854775808") == Int64.min)
    #expect(parseInt64("9223372036854775808") == nil)
    #expect(parseInt64("1.0") == nil)
    #expect(parseInt64("-") == nil)
}

@Test func jsonUnexpandedContainersMatchTheTree() {
    let inputs = [#"{"a":[1,{"b":"\u00e9\n"}],"c":{"d":[[],{}]},"e":"x"}"#, "[ 1 , [ 2 , [ 3 ] ] ]", "{}", "[]",
                  #"{"a":{"b":}}"#, #"[{"a":1},{"b":[1,2,]}]"#, #"{"k":"\ud800"}"#]
    for text in inputs {
        let full = parse(text)
        for depth in 0..<4 {
            let r = JSONParser.parse(Array(text.utf8), expand: depth)
            switch (full, r) {
            case (.value(let a), .value(let b)): #expect(a.compact == b.compact, "\(text) expand \(depth)")
            case (.failure(let a), .failure(let b)): #expect(a.offset == b.offset && a.reason == b.reason, "\(text) expand \(depth)")
            default: Issue.record("\(text) expand \(depth): results differ")
            }
        }
    }
    // Expand 1: the top level is a tree, its containers are compact text.
    guard case .value(let v) = JSONParser.parse(Array(#"{"a":{"b":[1, 2]},"c":3}"#.utf8), expand: 1) else { return }
    #expect(v["a"] == .raw(#"{"b":[1,2]}"#) && v["a"]?.isObject == true && v["c"] == .number("3"))
    // The depth cap holds in compact text too.
    guard case .failure = JSONParser.parse(Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8), expand: 0) else {
        Issue.record("65 levels parsed"); return
    }
}

/// JSON text of `s` as RFC 8259 spells it with the fewest escapes (the reference for the
/// writer: one scalar at a time, nothing shared with it).
private func referenceQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

@Test func jsonStringsWithASpecialCharacterAtEveryOffset() {
    // Strings are read and written eight bytes a step while nothing in them needs a look: a
    // character that does, at each offset of a string longer than a step, in a value and in a
    // key, in the tree and in compact text.
    let specials: [(json: String, decoded: String)] = [
        (#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\n"#, "\n"), (#"\u0001"#, "\u{01}"), (#"\u00e9"#, "é"),
        ("é", "é"), ("😀", "😀"), ("\u{7F}", "\u{7F}"),
    ]
    for (json, decoded) in specials {
        for k in 0..<20 {
            let head = String(repeating: "a", count: k), tail = String(repeating: "b", count: 19 - k)
            let text = "[\"" + head + json + tail + "\",{\"" + head + json + "\":\"" + tail + "\"}]"
            let expected = "[" + referenceQuoted(head + decoded + tail) + ",{" + referenceQuoted(head + decoded) + ":"
                + referenceQuoted(tail) + "}]"
            for depth in [0, 1, Int.max] {
                guard case .value(let v) = JSONParser.parse(Array(text.utf8), expand: depth) else {
                    Issue.record("\(text) expand \(depth): no parse"); continue
                }
                #expect(v.compact == expected, "\(text) expand \(depth)")
            }
        }
    }
    // A byte that is not UTF-8 is written as U+FFFD (the output stays UTF-8), at any offset.
    for k in 0..<20 {
        let head = String(repeating: "a", count: k), tail = String(repeating: "b", count: 19 - k)
        let bytes = Array(("[\"" + head).utf8) + [0xFF] + Array((tail + "\"]").utf8)
        for depth in [0, Int.max] {
            guard case .value(let v) = JSONParser.parse(bytes, expand: depth) else { Issue.record("\(k): no parse"); continue }
            #expect(v.compact == "[" + referenceQuoted(head + "\u{FFFD}" + tail) + "]", "\(k) expand \(depth)")
        }
    }
    // A raw control character fails where it stands, whichever way the string is read.
    for k in 0..<20 {
        let text = "[\"" + String(repeating: "a", count: k) + "\u{01}" + String(repeating: "b", count: 19 - k) + "\"]"
        for depth in [0, Int.max] {
            guard case .failure(let e) = JSONParser.parse(Array(text.utf8), expand: depth) else {
                Issue.record("\(k) expand \(depth): parsed"); continue
            }
            #expect(e.offset == 2 + k && e.reason == "a control character inside a string", "\(k) expand \(depth): \(e)")
        }
    }
}
