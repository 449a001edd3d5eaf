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
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = Array(line.utf8)
            let indent = bytes.prefix { $0 == 0x20 || $0 == 0x09 }.count
            guard indent < bytes.count, bytes[indent] != UInt8(ascii: "#") else { continue }
            while let last = indents.last, last >= indent { indents.removeLast() }
            indents.append(indent)
            var inline = 0
            var quote: UInt8? = nil
            var i = indent
            while i < bytes.count {
                let c = bytes[i]
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == 0x27 || c == 0x22 {
                    quote = c
                } else if c == UInt8(ascii: "#"), i == 0 || bytes[i - 1] == 0x20 || bytes[i - 1] == 0x09 {
                    break
                } else if c == UInt8(ascii: "*"), i + 1 < bytes.count, bytes[i + 1] != 0x20,
                          i == indent || [0x20, 0x09, UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":")].contains(bytes[i - 1])
                {
                    aliases += 1
                    guard aliases <= maxAliases else {
                        throw ConfigError(file: file, line: lineNumber, "uses more than \(maxAliases) YAML aliases (*name); a model config needs none")
                    }
                } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    flow += 1
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                } else if (c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":")),
                          i + 1 == bytes.count || bytes[i + 1] == 0x20 || bytes[i + 1] == 0x09
                {
                    inline += 1
                }
                let depth = 2 * indents.count + inline + flow
                guard depth <= maxDepth else {
                    throw ConfigError(file: file, line: lineNumber, "nests deeper than \(maxDepth) levels; a model config needs a handful")
                }
                i += 1
            }
        }
    }

    /// Refuses a composed tree that expands (aliases counted each time they are used) past `maxNodes`.
    static func checkExpansion(_ root: Yams.Node, file: String) throws {
        var pending = [root]
        var count = 0
        while let n = pending.popLast() {
            count += 1
            guard count <= maxNodes else {
                throw ConfigError(file: file, line: n.mark?.line, "expands to more than \(maxNodes) YAML values (aliases of aliases?); a model config has a few thousand")
            }
            switch n {
            case .scalar: break
            case .sequence(let s): pending += s
            case .mapping(let m): for (k, v) in m { pending.append(k); pending.append(v) }
            case .alias: break
            }
        }
    }
}
