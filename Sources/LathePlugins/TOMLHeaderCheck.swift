/// A guard for a toml++ defect. toml++ 3.4.0 (bundled by TOMLKit 0.6.0) asserts in debug builds,
/// and assumes in release builds (undefined behaviour), that a table header's `[` or `[[` is
/// followed by a key: text such as `[` at the end of a line, `[=` or `[[[` aborts the process
/// instead of giving a parse error (fixed upstream in marzer/tomlplusplus#301). Sweep specs and
/// plugin manifests are checked with this before toml++ sees them.
public enum TOMLHeaderCheck {
    /// What to tell the user about the line `malformedHeaderLine` found.
    public static let message = "invalid TOML: a table header needs a key after its '[' or '[[', e.g. [baseline] or [[groups]]"

    /// The 1-based line of the first table header whose brackets are not followed by a key, a
    /// quote or `]`, or nil. Headers are `[` first on a line outside strings, comments, arrays
    /// and inline tables, as toml++ reads them.
    public static func malformedHeaderLine(_ text: String) -> Int? {
        enum Quote { case none, basic, literal, multiBasic, multiLiteral }
        let s = Array(text.unicodeScalars)
        var i = 0, line = 1, depth = 0
        var quote = Quote.none, comment = false, lineStart = true
        func at(_ k: Int) -> Unicode.Scalar? { k < s.count ? s[k] : nil }
        func isKeyStart(_ c: Unicode.Scalar) -> Bool {
            ("0"..."9").contains(c) || ("A"..."Z").contains(c) || ("a"..."z").contains(c) || c == "_" || c == "-" || c == "\"" || c == "'"
        }
        while i < s.count {
            let c = s[i]
            if c == "\n" {
                line += 1
                lineStart = true
                comment = false
                if quote == .basic || quote == .literal { quote = .none }
                i += 1
                continue
            }
            if comment { i += 1; continue }
            switch quote {
            case .basic:
                i += c == "\\" ? 2 : 1
                if c == "\"" { quote = .none }
                continue
            case .literal:
                if c == "'" { quote = .none }
                i += 1
                continue
            case .multiBasic:
                if c == "\\" { i += 2; continue }
                if c == "\"", at(i + 1) == "\"", at(i + 2) == "\"" { quote = .none; i += 3; continue }
                i += 1
                continue
            case .multiLiteral:
                if c == "'", at(i + 1) == "'", at(i + 2) == "'" { quote = .none; i += 3; continue }
                i += 1
                continue
            case .none:
                break
            }
            if c == " " || c == "\t" || c == "\r" { i += 1; continue }
            switch c {
            case "#":
                comment = true
            case "\"", "'":
                let triple = at(i + 1) == c && at(i + 2) == c
                quote = c == "\"" ? (triple ? .multiBasic : .basic) : (triple ? .multiLiteral : .literal)
                i += triple ? 2 : 0
            case "[" where depth == 0 && lineStart:
                var k = i + 1
                while at(k) == " " || at(k) == "\t" { k += 1 }
                if at(k) == "[" {
                    k += 1
                    while at(k) == " " || at(k) == "\t" { k += 1 }
                }
                if let next = at(k), next != "]", !isKeyStart(next) { return line }
            case "[", "{":
                depth += 1
            case "]", "}":
                depth = max(0, depth - 1)
            default:
                break
            }
            lineStart = false
            i += 1
        }
        return nil
    }
}
