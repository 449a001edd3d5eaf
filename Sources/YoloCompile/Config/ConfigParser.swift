import Foundation
import Yams

/// Reads a YOLOv5 or Ultralytics model YAML into a `ModelConfig`, keeping each row's line for error messages.
public enum ConfigParser {
    /// `scale` picks one of an Ultralytics config's `scales:`; without it the file name decides
    /// (`yolov8n.yaml` is scale n), as Ultralytics does. A name such as `yolov8n.yaml` that does not exist
    /// reads `yolov8.yaml` beside it, Ultralytics' unified file for all five scales.
    public static func parse(file: String, scale: String? = nil) throws -> ModelConfig {
        var path = file
        var notes: [String] = []
        if !FileManager.default.fileExists(atPath: file), let unified = ModelScale.unifiedPath(file),
           FileManager.default.fileExists(atPath: unified)
        {
            path = unified
            notes.append("\(file) does not exist; reading \(unified), its unified config, as Ultralytics does")
        }
        let data = try InputFiles.read(path, expected: "a model YAML file", maxBytes: ConfigLimits.maxBytes) { ConfigError(file: path, line: nil, $0) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, "is not UTF-8 text, expected a model YAML file")
        }
        var config = try parse(yaml: text, file: path, scale: scale, scaleFromFileName: ModelScale.guess(fromPath: file))
        config.name = ModelConfig.name(ofFile: file)
        config.notes.insert(contentsOf: notes, at: 0)
        return config
    }

    /// Which of an Ultralytics config's `scales:` applies: `scale` (the user's `--scale`); else, for a file,
    /// the scale its name gives (`scaleFromFileName`: Ultralytics' yaml_model_load sets the config's
    /// `scale` from the name, "" when the name has none); else, for a checkpoint's config (nil), its
    /// `scale:` key; else the first scale, with a note, as parse_model does.
    public static func parse(yaml text: String, file: String, scale: String? = nil, scaleFromFileName: String? = nil) throws -> ModelConfig {
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
        var gd = try multiple("depth_multiple")
        var gw = try multiple("width_multiple")
        let dialect: ConfigDialect = value("anchors") == nil ? .ultralytics : .yolov5
        var notes: [String] = []
        var chosenScale: String? = nil
        var maxChannels: Int? = nil
        // A checkpoint's `scale` (None or '' when it had none: Python takes both as no scale).
        let scaleKey: String? = value("scale").flatMap { if case .string(let s) = resolveScalar($0) { return s }; return nil }
        if dialect == .ultralytics, let scalesNode = value("scales") {
            let scales = try ModelScale.parseScales(scalesNode, file: file)
            let named = scaleFromFileName ?? scaleKey ?? ""
            var chosen = scales[0]
            if let asked = scale ?? (named.isEmpty ? nil : named) {
                guard let s = scales.first(where: { $0.name == asked }) else {
                    let keyLine = top.first { $0.key.string == "scales" }?.key.mark?.line
                    throw ConfigError(file: file, line: keyLine ?? scalesNode.mark?.line, "has no scale '\(asked)' (its scales: \(scales.map(\.name).joined(separator: ", ")))")
                }
                chosen = s
            } else {
                notes.append("no model scale given (by --scale or a file name such as yolov8\(chosen.name).yaml); assuming scale '\(chosen.name)', as Ultralytics does")
            }
            (chosenScale, gd, gw, maxChannels) = (chosen.name, chosen.depth, chosen.width, chosen.maxChannels)
        } else if let s = scale {
            throw ConfigError(file: file, line: nil, "has no 'scales' (an Ultralytics config's list of n, s, m, l, x), so --scale \(s) cannot apply")
        }

        let anchors: AnchorSpec?
        if dialect == .ultralytics {
            anchors = nil
        } else {
        let anchorsNode = try require("anchors", "per-level anchor sizes, or a count per level")
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
        }

        var activation: String? = nil
        if let a = value("activation") {
            guard let s = a.string else { throw ConfigError(file: file, line: a.mark?.line, "'activation' must be a string like nn.SiLU()") }
            activation = s
        }
        var keypointShape: [Int]? = nil
        if let k = value("kpt_shape") {
            guard case .sequence(let items) = k, items.count == 2, case .int(let n) = resolveScalar(items[0]),
                  case .int(let d) = resolveScalar(items[1]), n >= 1, n <= 10_000, d == 2 || d == 3 else {
                throw ConfigError(file: file, line: k.mark?.line, "'kpt_shape' must be [keypoints, 2 or 3], like [17, 3]")
            }
            keypointShape = [n, d]
        }
        var regMax = 16
        if let r = value("reg_max") {
            guard case .int(let v) = resolveScalar(r), v >= 1, v <= 256 else {
                throw ConfigError(file: file, line: r.mark?.line, "'reg_max' must be an integer from 1 to 256")
            }
            regMax = v
        }
        if let e = value("end2end"), case .bool(true) = resolveScalar(e) {
            throw ConfigError(file: file, line: e.mark?.line, "'end2end: True' (a one-to-one head with its top-k selection in the graph) is not supported yet")
        }
        var ch = 3
        // YOLOv5's key is `ch`, Ultralytics' `channels` (its checkpoints' configs carry it).
        let channelsKey = dialect == .ultralytics && value("channels") != nil ? "channels" : "ch"
        if let c = value(channelsKey) {
            guard case .int(let v) = resolveScalar(c), v >= 1, v <= 1 << 16 else {
                throw ConfigError(file: file, line: c.mark?.line, "'\(channelsKey)' must be an integer from 1 to 65536")
            }
            ch = v
        }
        var names: [String]? = nil
        if let n = value("names"), case .sequence(let items) = n {
            names = items.map { $0.string ?? "" }
        }

        let ctx = ResolveContext(nc: nc, anchors: anchors?.asArg, keypointShape: keypointShape.map { .list($0.map { .int($0) }) })
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
        var config = ModelConfig(file: file, dialect: dialect, nc: nc, depthMultiple: gd, widthMultiple: gw, maxChannels: maxChannels,
                                 scale: chosenScale, anchors: anchors, keypointShape: keypointShape, regMax: regMax,
                                 activation: activation, activationLine: value("activation")?.mark?.line,
                                 inputChannels: ch, rows: rows, names: names)
        config.name = ModelConfig.name(ofFile: file)
        if dialect == .ultralytics && chosenScale == nil {
            // parse_model's `scale` without scales: the file name's letter, or the checkpoint's key
            // (C3k2 reads it).
            config.scale = scaleFromFileName ?? scaleKey
        }
        config.notes = notes
        return config
    }

    /// The names a row's string args resolve to (YOLOv5 evals them; Ultralytics looks them up in
    /// parse_model's locals).
    struct ResolveContext {
        var nc: Int
        var anchors: ArgValue?
        var keypointShape: ArgValue?
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
                if s == "anchors", let a = ctx.anchors { return a }
                if s == "kpt_shape", let k = ctx.keypointShape { return k }
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
