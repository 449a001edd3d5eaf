import ArgumentParser
import YoloCompile

struct InspectCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe an ONNX file or a weights file.",
        discussion: """
        ONNX: opset, inputs and outputs, operator histogram, metadata, weight bytes (--ir prints the graph as IR \
        text). Weights (safetensors, torch.save state_dict, YOLOv5 checkpoint): format, tensors and their types, \
        BatchNorm eps and the embedded config where the file has them.
        """)

    @OptionGroup var resources: ResourceOptions

    @Argument(help: "The ONNX model.")
    var model: String

    @Flag(help: "Print the graph as IR text.")
    var ir = false

    @Option(help: ArgumentHelp("Say whether the file fits a runtime (\(RuntimeTarget.allCases.map(\.rawValue).joined(separator: ", "))), and why not: its opset, operators as written, ranks and symbolic sizes against the profile export --target uses. Exits 1 when it does not fit.", valueName: "runtime"))
    var target: RuntimeTarget?

    func run() throws {
        try reportingErrors {
            if Compiler.isWeightsFile(model) {
                let store = try WeightStore.open(model)
                say(store.summary)
                if let e = store.embeddedConfig { say("config: embedded (\(e.name))") }
                if let eps = Set(store.batchNormEpsilon.values).sorted().first { say("BatchNorm eps: \(eps) (\(store.batchNormEpsilon.count) modules)") }
                if let names = store.classNames { say("classes: \(names.count)") }
                for n in store.names { if let e = store[n] { say("  \(n): \(e.dtype) \(e.shape)") } }
                return
            }
            let (g, info) = try OnnxReader.read(file: model)
            say("\(model): opset \(info.opset), IR version \(info.irVersion), producer '\(info.producer)'")
            for v in g.inputs { say("input  \(g.name(of: v)): \(g.type(of: v))") }
            for (i, v) in g.outputs.enumerated() {
                let inferred = g.type(of: v)
                // Where the shape is known only at run time, show what the file declares (its symbols).
                if !inferred.isStatic, i < info.declaredOutputs.count, let declared = info.declaredOutputs[i] {
                    say("output \(g.name(of: v)): \(declared) (declared; inferred \(inferred))")
                } else {
                    say("output \(g.name(of: v)): \(inferred)")
                }
            }
            let symbols = g.inputs.flatMap { g.type(of: $0).dims ?? [] }.compactMap { d -> String? in if case .symbol(let s) = d { return s } else { return nil } }
            if !symbols.isEmpty {
                var seen: [String] = []
                for s in symbols where !seen.contains(s) { seen.append(s) }
                say("symbols: \(seen.joined(separator: ", ")) (run specialises them to its inputs' sizes)")
            }
            var histogram: [String: Int] = [:]
            for n in g.nodes { histogram[n.op, default: 0] += 1 }
            say("nodes: \(g.nodes.count) (" + histogram.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
            let bytes = g.constants.values.reduce(0) { $0 + $1.tensor.count * $1.tensor.dtype.byteSize }
            say("constants: \(g.constants.count) tensors, \(g.constants.values.reduce(0) { $0 + $1.tensor.count }) values, \(bytes) bytes")
            for (k, v) in g.metadata { say("metadata \(k): \(v.count > 120 ? String(v.prefix(117)) + "..." : v)") }
            if ir { for line in g.text.split(separator: "\n") { say(String(line)) } }
            if let target {
                let profile = RuntimeProfile.of(target)
                let violations = profile.violations(of: g, opset: info.opset, written: info.nodes)
                guard !violations.isEmpty else {
                    say("target \(target.rawValue): fits \(profile.runtime)")
                    return
                }
                say("target \(target.rawValue): does not fit \(profile.runtime), \(violations.count) problem\(violations.count == 1 ? "" : "s"):")
                for v in violations.prefix(20) { say("  \(v)") }
                if violations.count > 20 { say("  and \(violations.count - 20) more") }
                throw ExitCode(1)
            }
        }
    }
}
