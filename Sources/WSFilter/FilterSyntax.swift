// The display-filter language (-Y): Wireshark's syntax, for the fields wstrace knows.
//
//   expr     := or
//   or       := and (("||" | "or") and)*          "&&" binds tighter than "||", as in tshark
//   and      := unary (("&&" | "and") unary)*
//   unary    := ("!" | "not") unary | "(" expr ")" | test
//   test     := FIELD                             the field is present
//             | FIELD relop VALUE                 == eq, != ne, ~= any_ne, === all_eq, < lt, > gt, <= le, >= ge
//             | FIELD "contains" VALUE
//             | FIELD ("matches" | "~") STRING    a regular expression, case-insensitive as in Wireshark
//             | FIELD "in" "{" item ((","?) item)* "}"   item := VALUE | VALUE ".." VALUE
//   VALUE    := "quoted string" | a bare word (number, address, CIDR, name)
//
// A syntax error or an unknown field is a `FilterError` with the offset of the token at fault,
// which `FilterError.caretText` draws under the expression as tshark does.

/// A filter that could not be compiled: what is wrong, and where.
public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// UTF-8 offset and length of the part of the expression at fault.
    public var offset: Int
    public var length: Int
    public var expression: String

    public var description: String { message }

    /// Three lines as tshark prints them: the message, the expression indented by four spaces,
    /// and a caret with tildes under the fault.
    public var caretText: String {
        let column = String(decoding: expression.utf8.prefix(offset), as: UTF8.self).count
        let width = max(1, String(decoding: expression.utf8.dropFirst(offset).prefix(max(length, 1)), as: UTF8.self).count)
        return message + "\n    " + expression + "\n    " + String(repeating: " ", count: column)
            + "^" + String(repeating: "~", count: width - 1)
    }
}

enum Token: Equatable {
    case word(String)          // a field name, number, address or bare literal
    case string(String)        // a quoted string (escapes decoded)
    case lparen, rparen, lbrace, rbrace, comma, dotdot
    case relation(Relation)
    case contains, matches, `in`
    case and, or, not
    case end
}

enum Relation: String, Sendable {
    case eq = "=="
    case allNe = "!="   // Wireshark 3.6+: no value equals (and the field is present)
    case anyNe = "~="
    case allEq = "==="
    case lt = "<", gt = ">", le = "<=", ge = ">="
}

struct Lexed {
    var token: Token
    var offset: Int
    var length: Int
}

/// Splits an expression into tokens with their offsets.
struct FilterLexer {
    static func tokens(_ text: String) throws(FilterError) -> [Lexed] {
        let bytes = Array(text.utf8)
        var out: [Lexed] = []
        var i = 0
        func fail(_ message: String, _ at: Int, _ length: Int = 1) -> FilterError {
            FilterError(message: message, offset: at, length: length, expression: text)
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d { i += 1; continue }
            let start = i
            func two(_ s: String) -> Bool {
                let u = Array(s.utf8)
                guard i + u.count <= bytes.count else { return false }
                return Array(bytes[i..<i + u.count]) == u
            }
            var token: Token? = nil
            var length = 1
            if two("===") { token = .relation(.allEq); length = 3 }
            else if two("==") { token = .relation(.eq); length = 2 }
            else if two("!=") { token = .relation(.allNe); length = 2 }
            else if two("~=") { token = .relation(.anyNe); length = 2 }
            else if two("<=") { token = .relation(.le); length = 2 }
            else if two(">=") { token = .relation(.ge); length = 2 }
            else if two("&&") { token = .and; length = 2 }
            else if two("||") { token = .or; length = 2 }
            else if two("..") { token = .dotdot; length = 2 }
            else {
                switch c {
                case UInt8(ascii: "<"): token = .relation(.lt)
                case UInt8(ascii: ">"): token = .relation(.gt)
                case UInt8(ascii: "!"): token = .not
                case UInt8(ascii: "~"): token = .matches
                case UInt8(ascii: "("): token = .lparen
                case UInt8(ascii: ")"): token = .rparen
                case UInt8(ascii: "{"): token = .lbrace
                case UInt8(ascii: "}"): token = .rbrace
                case UInt8(ascii: ","): token = .comma
                case UInt8(ascii: "="): throw fail("\"=\" is not an operator: use \"==\"", i)
                case UInt8(ascii: "&"), UInt8(ascii: "|"):
                    throw fail("\"\(Character(Unicode.Scalar(c)))\" was unexpected in this context.", i)
                default: break
                }
            }
            if let token {
                out.append(Lexed(token: token, offset: start, length: length))
                i += length
                continue
            }
            if c == UInt8(ascii: "\"") {
                var value: [UInt8] = []
                i += 1
                var closed = false
                while i < bytes.count {
                    let b = bytes[i]
                    if b == UInt8(ascii: "\"") { closed = true; i += 1; break }
                    if b == UInt8(ascii: "\\") && i + 1 < bytes.count {
                        let n = bytes[i + 1]
                        switch n {
                        case UInt8(ascii: "n"): value.append(0x0a)
                        case UInt8(ascii: "t"): value.append(0x09)
                        case UInt8(ascii: "r"): value.append(0x0d)
                        case UInt8(ascii: "x") where i + 3 < bytes.count:
                            if let v = UInt8(String(decoding: bytes[i + 2...i + 3], as: UTF8.self), radix: 16) {
                                value.append(v)
                                i += 4
                                continue
                            }
                            throw fail("\\x needs two hex digits", i, 4)
                        default: value.append(n)
                        }
                        i += 2
                        continue
                    }
                    value.append(b)
                    i += 1
                }
                guard closed else { throw fail("The string is not closed.", start, bytes.count - start) }
                out.append(Lexed(token: .string(String(decoding: value, as: UTF8.self)), offset: start, length: i - start))
                continue
            }
            // A bare word: letters, digits and the punctuation of field names, numbers,
            // addresses and CIDR prefixes. A ".." inside ends it (ranges in sets).
            while i < bytes.count {
                let b = bytes[i]
                let isWord = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                    || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
                    || b == UInt8(ascii: ":") || b == UInt8(ascii: "/") || b >= 0x80
                if !isWord { break }
                if b == UInt8(ascii: "."), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ".") { break }
                i += 1
            }
            guard i > start else { throw fail("\"\(Character(Unicode.Scalar(c)))\" was unexpected in this context.", start) }
            let word = String(decoding: bytes[start..<i], as: UTF8.self)
            let t: Token
            switch word {
            case "and": t = .and
            case "or": t = .or
            case "not": t = .not
            case "eq": t = .relation(.eq)
            case "ne": t = .relation(.allNe)
            case "any_ne": t = .relation(.anyNe)
            case "all_ne": t = .relation(.allNe)
            case "all_eq": t = .relation(.allEq)
            case "any_eq": t = .relation(.eq)
            case "lt": t = .relation(.lt)
            case "gt": t = .relation(.gt)
            case "le": t = .relation(.le)
            case "ge": t = .relation(.ge)
            case "contains": t = .contains
            case "matches": t = .matches
            case "in": t = .in
            default: t = .word(word)
            }
            out.append(Lexed(token: t, offset: start, length: i - start))
        }
        out.append(Lexed(token: .end, offset: bytes.count, length: 1))
        return out
    }
}

/// A literal as written, with where it was.
struct Literal: Sendable {
    var text: String
    var quoted: Bool
    var offset: Int
    var length: Int
}

indirect enum FilterNode: Sendable {
    case and(FilterNode, FilterNode)
    case or(FilterNode, FilterNode)
    case not(FilterNode)
    case present(field: String, offset: Int, length: Int)
    case compare(field: String, offset: Int, length: Int, Relation, Literal)
    case contains(field: String, offset: Int, length: Int, Literal)
    case matches(field: String, offset: Int, length: Int, Literal)
    case member(field: String, offset: Int, length: Int, [(Literal, Literal?)])
}

/// Recursive descent over the tokens.
struct FilterParser {
    let text: String
    let tokens: [Lexed]
    var at = 0

    init(_ text: String) throws(FilterError) {
        self.text = text
        tokens = try FilterLexer.tokens(text)
    }

    private var current: Lexed { tokens[at] }

    private func fail(_ message: String, _ l: Lexed) -> FilterError {
        FilterError(message: message, offset: l.offset, length: l.length, expression: text)
    }

    private func unexpected(_ l: Lexed) -> FilterError {
        if l.token == .end { return FilterError(message: "Unexpected end of filter expression.", offset: l.offset, length: 1, expression: text) }
        let shown = String(decoding: Array(text.utf8)[l.offset..<min(text.utf8.count, l.offset + l.length)], as: UTF8.self)
        return fail("\"\(shown)\" was unexpected in this context.", l)
    }

    mutating func parse() throws(FilterError) -> FilterNode {
        if current.token == .end {
            throw FilterError(message: "The filter is empty.", offset: 0, length: 1, expression: text)
        }
        let node = try parseOr(depth: 0)
        guard current.token == .end else { throw unexpected(current) }
        return node
    }

    private mutating func parseOr(depth: Int) throws(FilterError) -> FilterNode {
        var left = try parseAnd(depth: depth)
        while current.token == .or {
            at += 1
            left = .or(left, try parseAnd(depth: depth))
        }
        return left
    }

    private mutating func parseAnd(depth: Int) throws(FilterError) -> FilterNode {
        var left = try parseUnary(depth: depth)
        while current.token == .and {
            at += 1
            left = .and(left, try parseUnary(depth: depth))
        }
        return left
    }

    private mutating func parseUnary(depth: Int) throws(FilterError) -> FilterNode {
        guard depth < 64 else { throw fail("The filter nests too deeply.", current) }
        switch current.token {
        case .not:
            at += 1
            return .not(try parseUnary(depth: depth + 1))
        case .lparen:
            let open = current
            at += 1
            let inner = try parseOr(depth: depth + 1)
            guard current.token == .rparen else {
                if current.token == .end { throw fail("Unmatched parenthesis.", open) }
                throw unexpected(current)
            }
            at += 1
            return inner
        case .word(let name):
            let f = current
            at += 1
            return try parseTest(field: name, f)
        default:
            throw unexpected(current)
        }
    }

    private mutating func literal() throws(FilterError) -> Literal {
        let l = current
        switch l.token {
        case .word(let w): at += 1; return Literal(text: w, quoted: false, offset: l.offset, length: l.length)
        case .string(let s): at += 1; return Literal(text: s, quoted: true, offset: l.offset, length: l.length)
        default: throw unexpected(l)
        }
    }

    private mutating func parseTest(field: String, _ f: Lexed) throws(FilterError) -> FilterNode {
        switch current.token {
        case .relation(let r):
            at += 1
            return .compare(field: field, offset: f.offset, length: f.length, r, try literal())
        case .contains:
            at += 1
            return .contains(field: field, offset: f.offset, length: f.length, try literal())
        case .matches:
            at += 1
            let l = current
            guard case .string = l.token else { throw fail("\"matches\" needs a quoted regular expression.", l) }
            return .matches(field: field, offset: f.offset, length: f.length, try literal())
        case .in:
            at += 1
            guard current.token == .lbrace else { throw unexpected(current) }
            at += 1
            var items: [(Literal, Literal?)] = []
            while current.token != .rbrace {
                if !items.isEmpty && current.token == .comma { at += 1 }
                let low = try literal()
                var high: Literal? = nil
                if current.token == .dotdot {
                    at += 1
                    high = try literal()
                }
                items.append((low, high))
                if current.token == .end { throw unexpected(current) }
            }
            at += 1
            if items.isEmpty { throw fail("The set is empty.", f) }
            return .member(field: field, offset: f.offset, length: f.length, items)
        default:
            return .present(field: field, offset: f.offset, length: f.length)
        }
    }
}
