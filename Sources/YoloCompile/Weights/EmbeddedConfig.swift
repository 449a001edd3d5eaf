/// A checkpoint's `model.yaml` dict written back as YAML, so it goes through the same front end (and
/// gets the same checks and messages) as a config file. One row per line, so errors can name them.
enum EmbeddedConfig {
    static func yaml(from d: PyDict, file: String) throws -> String {
        var out = "# config embedded in \(file)\n"
        for (k, v) in d.entries {
            guard let key = k.string else { continue }
            if let rows = v.items, key == "backbone" || key == "head" || key == "anchors" {
                out += "\(key):\n"
                for r in rows { out += "  - " + (try flow(r, file: file)) + "\n" }
                if rows.isEmpty { out += "  []\n" }
            } else {
                out += "\(key): " + (try flow(v, file: file)) + "\n"
            }
        }
        return out
    }

    static func flow(_ v: PickleValue, file: String) throws -> String {
        switch v {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        case .string(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case .list, .tuple: return "[" + (try (v.items ?? []).map { try flow($0, file: file) }.joined(separator: ", ")) + "]"
        default: throw WeightsError(file: file, "the embedded config holds \(v), which a YAML config cannot express")
        }
    }
}

import Foundation
