import Dispatch
import Foundation
import XCTest
import YoloCompile

/// The ONNX project's backend node tests (Debian's libonnx-testdata, installed by tools/setup.sh), each
/// run through the CLI exactly as a user runs a model: `yolo-compile run model.onnx --input
/// input_0.pb ... -o out.npy`, one process per case so that a crash is seen as one. Each case is
///
/// - pass: exit 0 and every output of the expected element type and shape, within rtol 1e-3 and
///   atol 1e-5 (floats; NaN matches NaN) or equal (integers, bool);
/// - refused: exit 1 with one line on stderr naming the node, the operator and the attribute or input
///   (or the model input or tensor that is not computable);
/// - wrong: exit 0 with a different answer;
/// - crash: anything else (a signal, a hang past 60 s, another status, more than one line).
///
/// The test fails on any wrong answer or crash, or if fewer cases pass than before. Per-case results go
/// to `.build/conformance/results.tsv` for tools/conformance.py, which writes CONFORMANCE.md with
/// onnxruntime's results beside ours.
final class ConformanceTests: XCTestCase {
    static let suite = "/usr/share/libonnx-testdata/data/node"
    /// Cases passing when this was last raised; a regression fails the test.
    static let minimumPassing = 711

    enum Outcome: String, Sendable { case pass, refused, wrong, crash }

    func testONNXBackendNodeSuite() throws {
        guard FileManager.default.fileExists(atPath: Self.suite) else {
            return XCTFail("\(Self.suite) is missing: tools/setup.sh installs Debian's libonnx-testdata")
        }
        let cli = try cliPath()
        let cases = try FileManager.default.contentsOfDirectory(atPath: Self.suite).filter { $0.hasPrefix("test_") }.sorted()
        XCTAssertEqual(cases.count, 932, "libonnx-testdata 1.12 has 932 node cases")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("yolo-compile-conformance-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let collected = Results(count: cases.count)
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for i in stride(from: worker, to: cases.count, by: 2) {
                collected.set(i, Self.run(cases[i], cli: cli, scratch: scratch))
            }
        }
        let results = collected.all

        var counts: [Outcome: Int] = [:]
        var tsv = "case\toutcome\tdetail\n"
        for (name, (outcome, detail)) in zip(cases, results) {
            counts[outcome, default: 0] += 1
            tsv += "\(name)\t\(outcome.rawValue)\t\(detail.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " | "))\n"
            if outcome == .wrong || outcome == .crash { XCTFail("\(name): \(outcome.rawValue): \(detail)") }
            if outcome == .refused {
                // One line that says where: a node and its operator, or the model input or tensor.
                let namesWhere = detail.contains("node ") || detail.contains("input '") || detail.contains("tensor '")
                XCTAssertTrue(namesWhere, "\(name): the refusal does not name the node, input or tensor: \(detail)")
            }
        }
        let out = Repo.path(".build/conformance")
        try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try? tsv.write(toFile: out + "/results.tsv", atomically: true, encoding: .utf8)
        print("ONNX node tests: \(counts[.pass, default: 0]) pass, \(counts[.refused, default: 0]) refused, "
              + "\(counts[.wrong, default: 0]) wrong, \(counts[.crash, default: 0]) crash, of \(cases.count)")
        XCTAssertGreaterThanOrEqual(counts[.pass, default: 0], Self.minimumPassing)
    }

    /// The CLI built beside this test bundle (tools/test.sh builds it first), or $YOLO_COMPILE.
    func cliPath() throws -> String {
        if let p = ProcessInfo.processInfo.environment["YOLO_COMPILE"] { return p }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("yolo-compile").path
        for p in [beside, Repo.path(".build/release/yolo-compile"), Repo.path(".build/debug/yolo-compile")]
        where FileManager.default.isExecutableFile(atPath: p) { return p }
        struct NotBuilt: Error, CustomStringConvertible {
            var description: String { "the yolo-compile executable is not built: run swift build first (tools/test.sh does), or set YOLO_COMPILE" }
        }
        throw NotBuilt()
    }

    /// Outcomes filled in by two workers.
    final class Results: @unchecked Sendable {
        private var items: [(Outcome, String)]
        private let lock = NSLock()
        init(count: Int) { items = Array(repeating: (.crash, "not run"), count: count) }
        func set(_ i: Int, _ r: (Outcome, String)) { lock.lock(); items[i] = r; lock.unlock() }
        var all: [(Outcome, String)] { lock.lock(); defer { lock.unlock() }; return items }
    }

    static func run(_ name: String, cli: String, scratch: String) -> (Outcome, String) {
        let dir = Self.suite + "/" + name
        let data = dir + "/test_data_set_0"
        func numbered(_ prefix: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? [])
                .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".pb") }
                .sorted { Int($0.dropFirst(prefix.count).dropLast(3)) ?? 0 < Int($1.dropFirst(prefix.count).dropLast(3)) ?? 0 }
                .map { data + "/" + $0 }
        }
        let output = scratch + "/" + name + ".npy"
        var arguments = ["run", dir + "/model.onnx", "-o", output]
        for i in numbered("input_") { arguments += ["--input", i] }

        let p = Process()
        p.executableURL = URL(fileURLWithPath: cli)
        p.arguments = arguments
        let stderr = Pipe(), stdout = Pipe()
        p.standardError = stderr
        p.standardOutput = stdout
        do { try p.run() } catch { return (.crash, "cannot start: \(error)") }
        // The pipes are drained on their own threads, so a hung process is seen as one.
        let finished = DispatchSemaphore(value: 0)
        let box = ErrorText()
        DispatchQueue.global().async {
            box.data = stderr.fileHandleForReading.readDataToEndOfFile()
            _ = stdout.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            finished.signal()
        }
        if finished.wait(timeout: .now() + .seconds(60)) == .timedOut {
            p.terminate()
            return (.crash, "no answer after 60 s")
        }
        let errData = box.data
        let message = String(decoding: errData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if p.terminationReason == .uncaughtSignal { return (.crash, "signal \(p.terminationStatus): \(message.prefix(300))") }
        if p.terminationStatus == 1 {
            let lines = message.split(separator: "\n")
            return lines.count == 1 && message.hasPrefix("error: ") ? (.refused, String(message.dropFirst(7))) : (.crash, "exit 1 with: \(message.prefix(300))")
        }
        guard p.terminationStatus == 0 else { return (.crash, "exit \(p.terminationStatus): \(message.prefix(300))") }
        for (k, expectedPath) in numbered("output_").enumerated() {
            let path = k == 0 ? output : output.replacingOccurrences(of: ".npy", with: "") + ".\(k).npy"
            do {
                let got = try Npy.read(file: path), want = try OnnxReader.readTensor(file: expectedPath)
                if let difference = Self.difference(got, want) { return (.wrong, "output \(k): \(difference)") }
            } catch {
                return (.wrong, "output \(k): \(error)")
            }
        }
        return (.pass, "")
    }

    final class ErrorText: @unchecked Sendable { var data = Data() }

    /// nil when `got` matches `want` (same element type and shape; floats within rtol 1e-3 and atol
    /// 1e-5, NaN matching NaN; everything else equal); otherwise what differs.
    static func difference(_ got: Tensor, _ want: Tensor) -> String? {
        guard got.dtype == want.dtype else { return "element type \(got.dtype.onnxName), expected \(want.dtype.onnxName)" }
        guard got.shape == want.shape else { return "shape \(got.shape), expected \(want.shape)" }
        guard want.dtype.isFloat else { return got.ints == want.ints ? nil : "integer values differ" }
        for (a, b) in zip(got.doubleValues, want.doubleValues) {
            if a.isNaN && b.isNaN { continue }
            if a == b { continue }
            if !(abs(a - b) <= 1e-5 + 1e-3 * abs(b)) { return "\(a) where \(b) is expected" }
        }
        return nil
    }
}
