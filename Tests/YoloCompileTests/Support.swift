import Foundation
import XCTest
import YoloCompile

/// Paths inside the repository, found from this file so tests need no bundle resources.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ p: String) -> String { root.appendingPathComponent(p).path }
    static func sample(_ name: String) -> String { path("samples/\(name).yaml") }
    static func fixture(_ p: String) -> String { path("Tests/YoloCompileTests/Fixtures/\(p)") }
}

func temporaryFile(_ name: String, contents: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("yolo-compile-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    precondition(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8)), "could not write \(path)")
    return path
}

/// The error a throwing expression produced, as the CLI prints it.
func errorText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.floats, b.floats).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// A minimal safetensors writer for tests (F32 only).
func safetensors(_ tensors: [(String, Tensor)]) -> [UInt8] {
    var header: [String] = []
    var data: [UInt8] = []
    for (name, t) in tensors {
        header.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(data.count),\(data.count + 4 * t.count)]}")
        t.floats.withUnsafeBytes { data += $0 }
    }
    let h = Array(("{" + header.joined(separator: ",") + "}").utf8)
    return (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) } + h + data
}
