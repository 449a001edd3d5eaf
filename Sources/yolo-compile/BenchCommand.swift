import ArgumentParser
import Foundation
import YoloCompile

struct BenchCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the interpreter on an ONNX model.",
        discussion: """
        Loads the model once, runs it on a seeded input `--warmup` times untimed, then `--repeat` times, and \
        prints the median and best latency in milliseconds, on `--threads` threads. `--profile` adds the time per \
        operator (a convolution with its activation fused is one entry, "Conv+SiLU") and the `--slowest` slowest \
        nodes, each node's time its median over `--repeat` more runs. \
        tools/bench.py runs this beside onnxruntime and writes BENCHMARKS.md.
        """)

    @OptionGroup var resources: ResourceOptions

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: .customLong("repeat"), help: "Timed runs.")
    var repeatCount: Int = 10

    @Option(help: "Untimed runs first.")
    var warmup: Int = 2

    @Option(help: "Nodes listed by --profile, slowest first.")
    var slowest: Int = 12

    func validate() throws {
        guard repeatCount >= 1, repeatCount <= 100_000 else { throw ValidationError("--repeat must be between 1 and 100000, got \(repeatCount)") }
        guard warmup >= 0, warmup <= 100_000 else { throw ValidationError("--warmup must be between 0 and 100000, got \(warmup)") }
        guard slowest >= 0 else { throw ValidationError("--slowest must be 0 or more, got \(slowest)") }
    }

    @Flag(help: "Also print the time spent per operator type.")
    var profile = false

    func run() throws {
        try reportingErrors {
            let (g, _) = try OnnxReader.read(file: model)
            let inputs = g.inputs.map { seededInput(g.type(of: $0).shape, seed: 0) }
            let interpreter = try Interpreter(g)
            for _ in 0..<warmup { _ = try interpreter.run(inputs) }
            var times: [Double] = []
            for _ in 0..<max(repeatCount, 1) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try interpreter.run(inputs)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            if profile {
                // Each node's median over --repeat profiled runs: one run's figures for small nodes are noise.
                var runs: [[KernelTiming]] = []
                for _ in 0..<repeatCount {
                    var nodes: [KernelTiming] = []
                    _ = try interpreter.run(inputs) { nodes.append($0) }
                    runs.append(nodes)
                }
                let nodes = (0..<(runs.first?.count ?? 0)).map { i -> KernelTiming in
                    let sorted = runs.map { $0[i].nanoseconds }.sorted(), t = runs[0][i]
                    return KernelTiming(op: t.op, node: t.node, outputShape: t.outputShape, nanoseconds: sorted[sorted.count / 2])
                }
                var perOp: [String: UInt64] = [:]
                for t in nodes { perOp[t.op, default: 0] += t.nanoseconds }
                let total = Double(perOp.values.reduce(0, +))
                for (op, ns) in perOp.sorted(by: { $0.value > $1.value }) {
                    print(String(format: "%-20@ %8.2f ms  %5.1f%%", op as NSString, Double(ns) / 1e6, Double(ns) / total * 100))
                }
                print("slowest nodes:")
                for t in nodes.sorted(by: { $0.nanoseconds > $1.nanoseconds }).prefix(slowest) {
                    print(String(format: "%8.2f ms  %@ %@ -> %@", Double(t.nanoseconds) / 1e6, t.op as NSString, t.node as NSString,
                                 t.outputShape.description as NSString))
                }
            }
            times.sort()
            print(String(format: "median %.2f ms, best %.2f ms over %d runs", times[times.count / 2], times[0], times.count)
                  + " (\(KernelThreads.count) threads, OpenBLAS \(BLAS.core) kernels)")
        }
    }
}
