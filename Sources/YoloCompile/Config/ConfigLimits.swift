import Yams

/// What a model config may be before the YAML library sees it, and what its composed tree may expand
/// to. Yams composes nested collections recursively and resolves an alias to the anchored node, so a
/// hostile file could overflow the stack with `[[[[...` 100,000 deep, or expand a few aliases of
/// aliases into billions of nodes (a "billion laughs") for the front end to walk. A real config is a
/// few kilobytes, nests five levels and expands to a few thousand nodes.
enum ConfigLimits {
    static let maxBytes = 1 << 20
    static let maxDepth = 64
    static let maxNodes = 1 << 20
    /// Yams hashes mapping keys whole (to find duplicates), so even before the tree is walked, aliases
    /// of aliases cost time; a model config needs none, a few are allowed.
    static let maxAliases = 16

    /// Refuses text over `maxBytes`, or whose nesting could exceed `maxDepth`, before it is parsed.
    /// The depth is over-estimated from the text (indentation levels, flow brackets, and the `- `,
    /// `? ` and `: ` on one line, outside quotes and comments), so no nesting the parser could build
    /// escapes it.
    static func checkText(_ text: String, file: String) throws {
        let size = text.utf8.count
        guard size <= maxBytes else {
            throw ConfigError(file: file, line: nil, "is \(size) bytes; a model config is at most \(maxBytes) bytes")
        }
        var indents: [Int] = []
        var flow = 0
        var aliases = 0
        let all = Array(text.utf8)
        // Lines end where YAML says they do: LF, CR LF, CR, NEL, LS and PS.
        var lines: [ArraySlice<UInt8>] = []
        var start = 0, i = 0
        while i < all.count {
            let c = all[i]
            var breakLength = 0
            if c == 0x0A { breakLength = 1 }
            else if c == 0x0D { breakLength = i + 1 < all.count && all[i + 1] == 0x0A ? 2 : 1 }
            else if c == 0xC2, i + 1 < all.count, all[i + 1] == 0x85 { breakLength = 2 }
            else if c == 0xE2, i + 2 < all.count, all[i + 1] == 0x80, all[i + 2] == 0xA8 || all[i + 2] == 0xA9 { breakLength = 3 }
            if breakLength > 0 {
                lines.append(all[start..<i])
                i += breakLength
                start = i
            } else {
                i += 1
            }
        }
        lines.append(all[start..<all.count])
        for (index, line) in lines.enumerated() {
            let lineNumber = index + 1
            let bytes = Array(line)
            // Aliases are counted wherever `*` starts a token, in quotes and comments too: over-counting
            // costs nothing (configs use none), missing one could cost an exponential walk.
            for j in bytes.indices where bytes[j] == UInt8(ascii: "*") && j + 1 < bytes.count && bytes[j + 1] != 0x20 {
                guard j == 0 || [0x20, 0x09, UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":"),
                                 UInt8(ascii: "-"), UInt8(ascii: "'"), UInt8(ascii: "\"")].contains(bytes[j - 1]) else { continue }
                aliases += 1
                guard aliases <= maxAliases else {
                    throw ConfigError(file: file, line: lineNumber, "uses more than \(maxAliases) YAML aliases (*name); a model config needs none")
                }
            }
            let indent = bytes.prefix { $0 == 0x20 || $0 == 0x09 }.count
            guard indent < bytes.count, bytes[indent] != UInt8(ascii: "#") else { continue }
            while let last = indents.last, last >= indent { indents.removeLast() }
            indents.append(indent)
            var inline = 0
            var quote: UInt8? = nil
            var k = indent
            while k < bytes.count {
                let c = bytes[k]
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == 0x27 || c == 0x22, k == indent || [0x20, 0x09, UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "-")].contains(bytes[k - 1]) {
                    // Only at a token's start: `it's` in a plain scalar opens nothing. (A quote the
                    // scanner misreads can only hide nesting, which the composed tree is checked for.)
                    quote = c
                } else if c == UInt8(ascii: "#"), k == 0 || bytes[k - 1] == 0x20 || bytes[k - 1] == 0x09 {
                    break
                } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    flow += 1
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                } else if (c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":")),
                          k + 1 == bytes.count || bytes[k + 1] == 0x20 || bytes[k + 1] == 0x09
                {
                    inline += 1
                }
                let depth = 2 * indents.count + inline + flow
                guard depth <= maxDepth else {
                    throw ConfigError(file: file, line: lineNumber, "nests deeper than \(maxDepth) levels; a model config needs a handful")
                }
                k += 1
            }
        }
    }

    /// Refuses a composed tree that expands (aliases counted each time they are used) past `maxNodes`,
    /// or nests past `maxDepth` once aliases are followed (the front end walks values recursively).
    static func checkExpansion(_ root: Yams.Node, file: String) throws {
        var pending = [(root, 1)]
        var count = 0
        while let (n, depth) = pending.popLast() {
            count += 1
            guard count <= maxNodes else {
                throw ConfigError(file: file, line: n.mark?.line, "expands to more than \(maxNodes) YAML values (aliases of aliases?); a model config has a few thousand")
            }
            guard depth <= maxDepth else {
                throw ConfigError(file: file, line: n.mark?.line, "nests deeper than \(maxDepth) levels once its aliases are followed; a model config needs a handful")
            }
            switch n {
            case .scalar: break
            case .sequence(let s): pending += s.map { ($0, depth + 1) }
            case .mapping(let m): for (k, v) in m { pending.append((k, depth + 1)); pending.append((v, depth + 1)) }
            case .alias: break
            }
        }
    }
}
