/// Text from files (tensor and operator names, pickle globals, YAML keys, metadata) is shown escaped, so
/// that no file can forge a second line of a message or send escape sequences to the terminal: control
/// characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides become `\u{..}`.
extension String {
    public var escapedForTerminal: String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for s in unicodeScalars {
            if Self.isUnsafe(s) {
                out += "\\u{" + String(s.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(s)
            }
        }
        return out
    }

    static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: return true  // C0, DEL, C1 (ESC, CSI, newlines, ...)
        case 0x2028, 0x2029: return true  // line and paragraph separators
        case 0x202A...0x202E, 0x2066...0x2069: return true  // bidirectional embeddings and isolates
        default: return false
        }
    }

    /// At most `limit` Unicode scalars (not characters: one letter with a million combining marks is one
    /// character), the rest counted: values echoed in messages stay short.
    public func bounded(_ limit: Int = 200) -> String {
        let n = unicodeScalars.count
        guard n > limit else { return self }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: unicodeScalars.prefix(limit))
        return String(out) + "... (\(n - limit) more characters)"
    }
}
