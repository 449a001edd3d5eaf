import Foundation
import Yams

/// Ultralytics' model scales: one config for n, s, m, l and x (`scales: {n: [depth, width, max_channels]}`),
/// the scale chosen by the model's file name (`yolov8n.yaml`, `yolo11s-seg.yaml`).
public enum ModelScale {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var depth, width: Double
        public var maxChannels: Int
    }

    /// Ultralytics' guess_model_scale: the letter after `yolo[v]N` (or `yoloe-[v]N`) in the file's stem,
    /// "" when there is none.
    public static func guess(fromPath path: String) -> String {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let pattern = try? NSRegularExpression(pattern: "yolo(e-)?[v]?\\d+([nslmx])")
        let range = NSRange(stem.startIndex..., in: stem)
        guard let m = pattern?.firstMatch(in: stem, range: range), let r = Range(m.range(at: 2), in: stem) else { return "" }
        return String(stem[r])
    }

    /// Ultralytics' unified config for a scaled name: `yolov8n.yaml` -> `yolov8.yaml`, `yolo11s-seg.yaml` ->
    /// `yolo11-seg.yaml` (its yaml_model_load rewrites the whole path; this rewrites only the file name, so a
    /// folder such as `run2s/` is left alone). nil when the name has no scale letter.
    public static func unifiedPath(_ path: String) -> String? {
        var name = (path as NSString).lastPathComponent
        // P6 models are named -p6 now: yolov8n6.yaml is yolov8n-p6.yaml, so yolov8-p6.yaml.
        let stem = (name as NSString).deletingPathExtension
        if stem.count == 8, ["yolov5", "yolov8"].contains(String(stem.prefix(6))), "nsmlx".contains(stem[stem.index(stem.startIndex, offsetBy: 6)]), stem.hasSuffix("6") {
            name = String(stem.dropLast()) + "-p6." + (name as NSString).pathExtension
        }
        guard let pattern = try? NSRegularExpression(pattern: "(\\d+)([nslmx])(.+)?$") else { return nil }
        let range = NSRange(name.startIndex..., in: name)
        guard pattern.firstMatch(in: name, range: range) != nil else { return nil }
        let unified = pattern.stringByReplacingMatches(in: name, range: range, withTemplate: "$1$3")
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? unified : (folder as NSString).appendingPathComponent(unified)
    }

    /// `scales:` as a mapping of names to `[depth, width, max_channels]`, in the file's order.
    static func parseScales(_ node: Yams.Node, file: String) throws -> [Entry] {
        guard case .mapping(let m) = node, !m.isEmpty else {
            throw ConfigError(file: file, line: node.mark?.line, "'scales' must map scale names to [depth, width, max_channels], like n: [0.33, 0.25, 1024]")
        }
        return try m.map { key, value in
            let line = value.mark?.line
            guard let name = key.string, !name.isEmpty, name.count <= 16 else {
                throw ConfigError(file: file, line: key.mark?.line, "a scale's name must be a short string such as n or s")
            }
            guard case .sequence(let items) = value, items.count == 3,
                  let d = ConfigParser.resolveScalar(items[0]).doubleValue, d > 0, d <= 64,
                  let w = ConfigParser.resolveScalar(items[1]).doubleValue, w > 0, w <= 64,
                  case .int(let c) = ConfigParser.resolveScalar(items[2]), c >= 1, c <= 1 << 20
            else {
                throw ConfigError(file: file, line: line, "scale '\(name)' must be [depth, width, max_channels] with depth and width in (0, 64] and max_channels a positive integer")
            }
            return Entry(name: name, depth: d, width: w, maxChannels: c)
        }
    }
}
