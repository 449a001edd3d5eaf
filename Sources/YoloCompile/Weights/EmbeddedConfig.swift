/// A checkpoint's `model.yaml` dict (YOLOv5's or Ultralytics') written back as YAML, so it goes through the same front end (and
/// gets the same checks and messages) as a config file. One row per line, so errors can name them.
enum EmbeddedConfig {
    static func yaml(from d: PyDict, file: String) throws -> String {
        var out = "# config embedded in \(file)\n"
        var budget = maxItems
        for (k, v) in d.entries {
            guard let key = k.string else { continue }
            if let rows = v.items, key == "backbone" || key == "head" || key == "anchors" {
                out += "\(key):\n"
                for r in rows { out += "  - " + (try flow(r, file: file, budget: &budget)) + "\n" }
                if rows.isEmpty { out += "  []\n" }
            } else {
                out += "\(key): " + (try flow(v, file: file, budget: &budget)) + "\n"
            }
        }
        return out
    }

    /// A config's values nest a few levels (a row's args hold a list of anchors); 32 is far beyond any.
    static let maxDepth = 32

    /// Lists and strings shared between rows could make the text grow exponentially: at most this many
    /// values and string bytes (a config file is refused above 1 MiB too).
    static let maxItems = 1 << 20

    static func flow(_ v: PickleValue, file: String, depth: Int = 0, budget: inout Int) throws -> String {
        guard depth < maxDepth else {
            throw WeightsError(file: file, "the embedded config nests deeper than \(maxDepth) levels (a list that contains itself?)")
        }
        budget -= 1
        if case .string(let s) = v { budget -= s.utf8.count }
        guard budget >= 0 else { throw WeightsError(file: file, "the embedded config holds more than \(maxItems) values and string bytes") }
        switch v {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        case .string(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case .list, .tuple: return "[" + (try (v.items ?? []).map { try flow($0, file: file, depth: depth + 1, budget: &budget) }.joined(separator: ", ")) + "]"
        case .dict(let d):  // Ultralytics' scales: {'n': [0.33, 0.25, 1024], ...}
            return "{" + (try d.entries.map {
                try flow($0.key, file: file, depth: depth + 1, budget: &budget) + ": " + flow($0.value, file: file, depth: depth + 1, budget: &budget)
            }.joined(separator: ", ")) + "}"
        default: throw WeightsError(file: file, "the embedded config holds \(v), which a YAML config cannot express")
        }
    }
}

import Foundation
