import Foundation
import FuzzDriver
import YoloCompile

/// Any bytes as an ONNX model: the reader with shape inference and bounded folding, then, for a graph
/// small enough, the interpreter on zero inputs. Memory is capped at 256 MiB.
@main
enum FuzzOnnx {
    static func main() {
        runFuzzer { data, size in
            let bytes = Data(fuzzBytes(data, size))
            MemoryLimit.$bytes.withValue(256 << 20) {
                let budget = FoldingBudget(elements: 1 << 16, multiplyAdds: Double(1 << 20))
                guard let (graph, _) = try? OnnxReader.read(bytes: bytes, file: "fuzz.onnx", budget: budget),
                      graph.nodes.count <= 64 else { return }
                var inputs: [Tensor] = []
                for v in graph.inputs {
                    let type = graph.type(of: v)
                    guard let shape = type.staticShape, let n = ShapeRules.elementCount(shape), n <= 4096 else { return }
                    inputs.append(type.dtype.storage == .ints
                        ? Tensor(shape: shape, ints: [Int64](repeating: 1, count: n), dtype: type.dtype)
                        : Tensor(shape: shape, values: [Double](repeating: 0.5, count: n), dtype: type.dtype))
                }
                _ = try? Interpreter(graph).run(inputs)
            }
            return 0
        }
    }
}
