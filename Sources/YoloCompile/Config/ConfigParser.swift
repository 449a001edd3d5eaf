import Foundation
import Yams

/// Reads a YOLOv5 model YAML into a `ModelConfig`, keeping each row's line for error messages.
public enum ConfigParser {
    public static func parse(file: String) throws -> ModelConfig {
        let data = try InputFiles.read(file, expected: "a model YAML file", maxBytes: ConfigLimits.maxBytes) { ConfigError(file: file, line: nil, $0) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: file, line: nil, "is not UTF-8 text, expected a model YAML file")
        }
        return try parse(yaml: text, file: file)
    }

    public static func parse(yaml text: String, file: String) throws -> ModelConfig {
        try ConfigLimits.checkText(text, file: file)
        let root: Yams.Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: nil, "is empty, expected a model config with nc, anchors, backbone and head")
            }
            root = n
        } catch let e as YamlError {
            throw yamlError(e, file: file)
        }
        try ConfigLimits.checkExpansion(root, file: file)
        guard case .mapping(let top) = root else {
            throw ConfigError(file: file, line: root.mark?.line, "expected a mapping with nc, anchors, backbone and head at the top level")
        }
        func value(_ key: String) -> Yams.Node? { top[Yams.Node.scalar(.init(key))] }
        func require(_ key: String, _ what: String) throws -> Yams.Node {
            guard let n = value(key) else {
                throw ConfigError(file: file, line: nil, "missing '\(key)' (\(what))")
            }
            return n
        }

        let ncNode = try require("nc", "the number of classes")
        guard case .int(let nc) = resolveScalar(ncNode), nc >= 1, nc <= 1_000_000 else {
            throw ConfigError(file: file, line: ncNode.mark?.line, "'nc' must be a positive integer, got \(ncNode.string ?? "a collection")")
        }
        func multiple(_ key: String) throws -> Double {
            guard let n = value(key) else { return 1.0 }
            guard let v = resolveScalar(n).doubleValue, v > 0, v <= 64 else {
                throw ConfigError(file: file, line: n.mark?.line, "'\(key)' must be a positive number up to 64, got \(n.string ?? "a collection")")
            }
            return v
        }
        let gd = try multiple("depth_multiple")
        let gw = try multiple("width_multiple")

        let anchorsNode = try require("anchors", "per-level anchor sizes, or a count per level")
        let anchors: AnchorSpec
        switch anchorsNode {
        case .sequence(let levels):
            var lv: [[Double]] = []
            for level in levels {
                guard case .sequence(let items) = level else {
                    throw ConfigError(file: file, line: level.mark?.line, "each 'anchors' level must be a list like [10,13, 16,30, 33,23]")
                }
                let nums = items.compactMap { resolveScalar($0).doubleValue }
                guard nums.allSatisfy({ $0.isFinite && abs($0) <= 1e6 }) else {
                    throw ConfigError(file: file, line: level.mark?.line, "anchor sizes must be finite pixel sizes up to 1e6")
                }
                guard nums.count == items.count, !nums.isEmpty, nums.count % 2 == 0 else {
                    throw ConfigError(file: file, line: level.mark?.line, "an 'anchors' level must hold an even number of pixel sizes (w, h pairs)")
                }
                lv.append(nums)
            }
            guard !lv.isEmpty, Set(lv.map(\.count)).count == 1 else {
                throw ConfigError(file: file, line: anchorsNode.mark?.line, "every 'anchors' level must have the same number of anchors")
            }
            anchors = .perLevel(lv)
        default:
            guard case .int(let k) = resolveScalar(anchorsNode), k >= 1, k <= 1000 else {
                throw ConfigError(file: file, line: anchorsNode.mark?.line, "'anchors' must be a list of levels or a count from 1 to 1000")
            }
            anchors = .count(k)
        }

        var activation: String? = nil
        if let a = value("activation") {
            guard let s = a.string else { throw ConfigError(file: file, line: a.mark?.line, "'activation' must be a string like nn.SiLU()") }
            activation = s
        }
        var ch = 3
        if let c = value("ch") {
            guard case .int(let v) = resolveScalar(c), v >= 1, v <= 1 << 16 else {
                throw ConfigError(file: file, line: c.mark?.line, "'ch' must be an integer from 1 to 65536")
            }
            ch = v
        }
        var names: [String]? = nil
        if let n = value("names"), case .sequence(let items) = n {
            names = items.map { $0.string ?? "" }
        }

        let ctx = ResolveContext(nc: nc, anchors: anchors.asArg)
        var rows: [LayerRow] = []
        for section in ["backbone", "head"] {
            let sec = try require(section, "a list of [from, number, module, args] rows")
            guard case .sequence(let items) = sec else {
                throw ConfigError(file: file, line: sec.mark?.line, "'\(section)' must be a list of [from, number, module, args] rows")
            }
            for item in items {
                rows.append(try parseRow(item, index: rows.count, ctx: ctx, file: file))
            }
        }
        return ModelConfig(file: file, nc: nc, depthMultiple: gd, widthMultiple: gw, anchors: anchors,
                           activation: activation, activationLine: value("activation")?.mark?.line,
                           inputChannels: ch, rows: rows, names: names)
    }

    struct ResolveContext {
        var nc: Int
        var anchors: ArgValue
    }

    static func parseRow(_ node: Yams.Node, index: Int, ctx: ResolveContext, file: String) throws -> LayerRow {
        let line = node.mark?.line
        func fail(_ m: String) -> ConfigError { ConfigError(file: file, line: line, layer: index, m) }
        guard case .sequence(let parts) = node, parts.count == 4 else {
            throw fail("expected a row [from, number, module, args]")
        }
        var from: [Int] = []
        var fromIsList = false
        switch parts[0] {
        case .sequence(let items):
            fromIsList = true
            for it in items {
                guard case .int(let v) = resolveScalar(it) else { throw fail("'from' entries must be integers") }
                from.append(v)
            }
            guard !from.isEmpty else { throw fail("'from' must name at least one layer") }
        default:
            guard case .int(let v) = resolveScalar(parts[0]) else {
                throw fail("'from' must be an integer or a list of integers, got \(parts[0].string ?? "a mapping")")
            }
            from = [v]
        }
        guard case .int(let number) = resolveScalar(parts[1]), number >= 1, number <= 10_000 else {
            throw fail("'number' must be an integer from 1 to 10000, got \(parts[1].string ?? "a collection")")
        }
        guard let module = parts[2].string, !module.isEmpty else { throw fail("'module' must be a name such as Conv or C3") }
        guard case .sequence(let argNodes) = parts[3] else { throw fail("'args' must be a list") }
        let args = argNodes.map { resolveArg($0, ctx) }
        return LayerRow(index: index, from: from, fromIsList: fromIsList, number: number, module: module,
                        args: args, line: line ?? 0)
    }

    static func resolveArg(_ node: Yams.Node, _ ctx: ResolveContext) -> ArgValue {
        switch node {
        case .sequence(let items): return .list(items.map { resolveArg($0, ctx) })
        default:
            let v = resolveScalar(node)
            if case .string(let s) = v {
                // YOLOv5 evals strings: the names it knows resolve, others stay strings.
                if s == "nc" { return .int(ctx.nc) }
                if s == "anchors" { return ctx.anchors }
            }
            return v
        }
    }

    /// A scalar as Python would see it after yaml.safe_load and eval.
    static func resolveScalar(_ node: Yams.Node) -> ArgValue {
        guard let s = node.string else { return .none }
        let t = s.trimmingCharacters(in: .whitespaces)
        if let i = Int(t) { return .int(i) }
        if let d = Double(t), t.rangeOfCharacter(from: .decimalDigits) != nil { return .float(d) }
        switch t {
        case "True", "true", "TRUE": return .bool(true)
        case "False", "false", "FALSE": return .bool(false)
        case "None", "null", "Null", "NULL", "~", "": return .none
        default: return .string(t)
        }
    }

    static func yamlError(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, "malformed YAML: \(problem)")
        default:
            return ConfigError(file: file, line: nil, "malformed YAML: \(e)")
        }
    }
}
