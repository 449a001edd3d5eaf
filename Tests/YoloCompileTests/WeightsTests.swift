import Foundation
import XCTest
import YoloCompile

/// Trained weights from the yolov5n fixtures (made with PyTorch: seeded weights, BatchNorm eps 1e-3,
/// input 1x3x320x320 and PyTorch's eval-mode output).
final class WeightsTests: XCTestCase {
    let options = CompileOptions(imageHeight: 320, imageWidth: 320)

    func export(_ model: String, weights: String?) throws -> (bytes: [UInt8], output: Tensor) {
        let w: WeightsSource = weights.map { .file(Repo.fixture("yolov5n/" + $0), partial: false) } ?? .seeded
        let c = try Compiler.compile(model: model, weights: w, options: options)
        let bytes = try OnnxWriter.serialize(c.optimized)
        let (g, _) = try OnnxReader.read(bytes: Data(bytes), file: "exported.onnx")
        return (bytes, try Interpreter(g).run([try Npy.read(file: Repo.fixture("yolov5n/input.npy"))])[0])
    }

    func testSafetensorsAndStateDictMatchPyTorchAndEachOther() throws {
        let expected = try Npy.read(file: Repo.fixture("yolov5n/output.npy"))
        XCTAssertGreaterThan(expected.floats.map(abs).max() ?? 0, 300)
        let a = try export(Repo.sample("yolov5n"), weights: "weights.safetensors")
        let b = try export(Repo.sample("yolov5n"), weights: "state_dict.pt")
        XCTAssertLessThan(maxAbsDifference(a.output, expected), 1e-3)
        XCTAssertLessThan(maxAbsDifference(b.output, expected), 1e-3)
        XCTAssertTrue(a.bytes == b.bytes, "safetensors and state_dict exports differ")
    }

    /// The checkpoint holds the same model in float16 (as YOLOv5's train.py saves it), so its export
    /// can only match to float16 precision: each of its tensors is exactly the float32 one rounded.
    func testCheckpointAloneGivesTheFloat16Model() throws {
        let sf = try WeightStore.open(Repo.fixture("yolov5n/weights.safetensors"))
        let ck = try WeightStore.open(Repo.fixture("yolov5n/checkpoint.pt"))
        XCTAssertEqual(ck.format, "YOLOv5 checkpoint")
        XCTAssertEqual(ck.embeddedConfig?.name, "yolov5n.yaml")
        XCTAssertEqual(Set(ck.batchNormEpsilon.values), [1e-3])
        XCTAssertEqual(ck.batchNormEpsilon.count, 57)
        for name in sf.names {
            let full = try XCTUnwrap(sf[name]).load(), half = try XCTUnwrap(ck[name], name).load()
            XCTAssertEqual(half.shape, full.shape, name)
            XCTAssertEqual(half.floats, full.floats.map { Float(Float16($0)) }, name)
        }
        // The reference for the float16 checkpoint is its own model's output, widened to float32 as YOLOv5's
        // attempt_load runs it (checkpoint_output.npy); measured 9.2e-5 on outputs up to 407.
        let expected = try Npy.read(file: Repo.fixture("yolov5n/checkpoint_output.npy"))
        let c = try export(Repo.fixture("yolov5n/checkpoint.pt"), weights: nil)
        XCTAssertLessThan(maxAbsDifference(c.output, expected), 2e-4)
        // The embedded config is yolov5n.yaml: same rows, same parameters.
        let embedded = try Compiler.compile(model: Repo.fixture("yolov5n/checkpoint.pt"), weights: .seeded, options: options)
        let sample = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: options)
        XCTAssertEqual(embedded.lowered.layers.map(\.arguments), sample.lowered.layers.map(\.arguments))
        XCTAssertEqual(embedded.optimized.name, "yolov5n")
    }

    func testShapeMismatchIsOneErrorListingTensors() {
        let m = errorText { _ = try Compiler.compile(model: Repo.sample("yolov5s"), weights: .file(Repo.fixture("yolov5n/state_dict.pt"), partial: false), options: self.options) } ?? ""
        XCTAssertTrue(m.hasPrefix(Repo.fixture("yolov5n/state_dict.pt") + ": weights do not fit the model: 288 with the wrong shape (model.0.conv.weight is [16, 3, 6, 6] in the file, the model needs [32, 3, 6, 6], "), m)
        XCTAssertFalse(m.contains("unexpected"), m)
    }

    func testMissingAndUnexpectedAreReportedOrRelaxed() throws {
        // The fixture's tensors less model.0.bn.bias, plus one the model does not have.
        let sf = try WeightStore.open(Repo.fixture("yolov5n/weights.safetensors"))
        var tensors: [(String, Tensor)] = try sf.names.filter { $0 != "model.0.bn.bias" }.map { ($0, try XCTUnwrap(sf[$0]).load()) }
        tensors.append(("extra.weight", Tensor(shape: [2], floats: [1, 2])))
        let path = temporaryFile("partial.safetensors", contents: "").withBytes(safetensors(tensors))
        XCTAssertEqual(errorText { _ = try Compiler.compile(model: Repo.sample("yolov5n"), weights: .file(path, partial: false), options: self.options) },
                       "\(path): weights do not fit the model: 1 missing (model.0.bn.bias); 1 unexpected (extra.weight); use --partial-weights to seed missing tensors and skip unexpected ones")
        let relaxed = try Compiler.compile(model: Repo.sample("yolov5n"), weights: .file(path, partial: true), options: options)
        XCTAssertEqual(relaxed.lowered.notes, [
            "1 tensors missing from \(path), seeded instead: model.0.bn.bias",
            "1 tensors in \(path) unused: extra.weight",
        ])
    }

    func testSafetensorsHeaderIsValidated() throws {
        func file(_ header: String, data: Int) -> String {
            var b = [UInt8](repeating: 0, count: 8)
            let h = Array(header.utf8)
            for i in 0..<8 { b[i] = UInt8((h.count >> (8 * i)) & 0xFF) }
            return temporaryFile("t\(header.count)-\(data).safetensors", contents: "").withBytes(b + h + [UInt8](repeating: 0, count: data))
        }
        let lie = file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8)
        XCTAssertEqual(errorText { _ = try WeightStore.open(lie) }, "\(lie): tensor w: data_offsets [0, 16] fall outside the 8 data bytes")
        let size = file(#"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,4]}}"#, data: 8)
        XCTAssertEqual(errorText { _ = try WeightStore.open(size) }, "\(size): tensor w: shape [4] of F16 needs 8 bytes, data_offsets give 4")
        let ok = file(#"{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"__metadata__":{"a":"b"}}"#, data: 4)
        XCTAssertEqual(try WeightStore.open(ok)["w"]?.load().floats, [0, 0])
    }
}

extension String {
    /// Writes bytes to this path and returns it.
    func withBytes(_ b: [UInt8]) -> String {
        precondition(FileManager.default.createFile(atPath: self, contents: Data(b)), "could not write \(self)")
        return self
    }
}
