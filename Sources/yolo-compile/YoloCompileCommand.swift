import ArgumentParser
import Foundation
import YoloCompile

@main
struct YoloCompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "yolo-compile",
        abstract: "Compile YOLOv5 model configs to ONNX, without PyTorch.",
        discussion: """
        A model YAML (YOLOv5's format: nc, depth_multiple, width_multiple, anchors, backbone, head) is \
        lowered to a static graph with every shape inferred, Conv+BatchNorm pairs are fused, and the result \
        is written as ONNX that onnxruntime, OpenCV DNN and TensorRT read unchanged.

        Typical use:
          yolo-compile summary samples/yolov5s.yaml
          yolo-compile export samples/yolov5s.yaml -o yolov5s.onnx --imgsz 640
          yolo-compile export best.pt -o best.onnx                      (a YOLOv5 checkpoint carries its config)
          yolo-compile export yolov5s.yaml --weights model.safetensors -o model.onnx
          yolo-compile verify samples/yolov5s.yaml
          yolo-compile run yolov5s.onnx --input image.npy -o out.npy
        """,
        version: yoloCompileVersion,
        subcommands: [ExportCommand.self, VerifyCommand.self, SummaryCommand.self, RunCommand.self, InspectCommand.self, BenchCommand.self,
                      OperatorsCommand.self]
    )
}

extension YoloCompileCommand {
    /// Parses and runs, with argument errors as one line naming the bad value (not the usage text), and
    /// a negative number after an option read as its value (`--imgsz -1` is a size out of range, not a
    /// missing value).
    static func main() {
        let arguments = attachingOptionalValues(attachingNegativeNumbers(Array(CommandLine.arguments.dropFirst())))
        do {
            var command = try parseAsRoot(arguments)
            let resources = (command as? any MemoryLimited)?.resources
            let limit = resources?.memoryLimitBytes ?? MemoryLimit.defaultBytes
            let threads = resources?.threads ?? KernelThreads.defaultCount
            try MemoryLimit.$bytes.withValue(limit) { try KernelThreads.$count.withValue(threads) { try command.run() } }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }  // --help, --version
            let first = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("error: \(first.escapedForTerminal.bounded(1000))\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }

    /// Options whose value may be left out, as YOLOv5's `--dynamic` (a flag there): `--dynamic` is
    /// `--dynamic=all`, `--dynamic batch` is `--dynamic=batch`.
    static let optionalValues: [String: (default: String, values: Set<String>)] = [
        "--dynamic": ("all", Set(DynamicAxes.allCases.map(\.rawValue))),
    ]

    static func attachingOptionalValues(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if let o = optionalValues[a] {
                if i + 1 < args.count, o.values.contains(args[i + 1]) {
                    out.append(a + "=" + args[i + 1])
                    i += 2
                } else {
                    out.append(a + "=" + o.default)
                    i += 1
                }
                continue
            }
            if a == "--" { out += args[i...]; break }
            out.append(a)
            i += 1
        }
        return out
    }

    /// `--name -3` as `--name=-3`, so that a negative number reaches the option's own check.
    static func attachingNegativeNumbers(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--"), !a.contains("="), i + 1 < args.count, Double(args[i + 1]) != nil, args[i + 1].hasPrefix("-") {
                out.append(a + "=" + args[i + 1])
                i += 2
                continue
            }
            out.append(a)
            i += 1
        }
        return out
    }
}

/// A command that reads inputs: its memory ceiling comes from `--memory-limit`.
protocol MemoryLimited {
    var resources: ResourceOptions { get }
}

/// The ceiling on memory that inputs' declared sizes may ask for (see `MemoryLimit`).
struct ResourceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Refuse inputs whose declared sizes (parameters, tensors, zip entries, intermediate results) need more memory than this: bytes, or with K, M, G or T (powers of 1024).", valueName: "size"))
    var memoryLimit: String?

    var memoryLimitBytes: Int { memoryLimit.flatMap(MemoryLimit.parse) ?? MemoryLimit.defaultBytes }

    @Option(help: ArgumentHelp("Threads the interpreter's kernels split their work across (default: the machine's cores, \(KernelThreads.defaultCount) here).", valueName: "n"))
    var threads: Int = KernelThreads.defaultCount

    func validate() throws {
        guard threads >= 1, threads <= KernelThreads.maximum else {
            throw ValidationError("--threads must be between 1 and \(KernelThreads.maximum), got \(threads)")
        }
        if let m = memoryLimit, MemoryLimit.parse(m) == nil {
            throw ValidationError("--memory-limit must be a positive size like 4G, 512M or 1073741824, got '\(m)'")
        }
    }
}

/// Options shared by the commands that compile a config.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The model YAML (YOLOv5 or Ultralytics format), or a training checkpoint (best.pt) that carries its config.")
    var config: String

    @Option(help: "The scale of an Ultralytics config's 'scales' (n, s, m, l, x). Default: the file name's (yolov8n.yaml is n).")
    var scale: String?

    @Option(help: "Trained weights for the config: safetensors, a torch.save state_dict, or a YOLOv5 checkpoint.")
    var weights: String?

    @Flag(help: "Accept weights that lack some tensors (seeded instead) or hold extra ones (ignored).")
    var partialWeights = false

    @Flag(help: "Accept weights holding NaN or infinities (refused by default, naming the first such tensor).")
    var allowNonfiniteWeights = false

    @Option(parsing: .upToNextOption,
            help: "Image size: one number for square, or height and width. Rounded up to the model's largest stride.")
    var imgsz: [Int] = [640]

    @Option(help: "Batch size of the exported input.")
    var batch: Int = 1

    @Option(help: "Seed for the deterministic weights used when no trained weights are given.")
    var seed: UInt64 = 0

    func validate() throws {
        guard (1...2).contains(imgsz.count) else { throw ValidationError("--imgsz takes one or two numbers, got \(imgsz.count)") }
        guard imgsz.allSatisfy({ $0 >= 1 && $0 <= 16384 }) else { throw ValidationError("--imgsz must be between 1 and 16384, got \(imgsz)") }
        guard batch >= 1 && batch <= 1024 else { throw ValidationError("--batch must be between 1 and 1024, got \(batch)") }
        if let scale { guard !scale.isEmpty, scale.count <= 16 else { throw ValidationError("--scale must be a scale name such as n or s, got '\(scale)'") } }
    }

    var compileOptions: CompileOptions {
        var o = CompileOptions(imageHeight: imgsz[0], imageWidth: imgsz.count > 1 ? imgsz[1] : imgsz[0], batch: batch, seed: seed)
        o.allowNonFiniteWeights = allowNonfiniteWeights
        o.scale = scale
        return o
    }
}

/// Prints an error as one line on stderr and exits 1; never a crash dump.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        // One line, whatever the message holds: text from a file cannot forge a line or a terminal escape.
        // At most 1,000 characters: a value echoed from a file (a 1 MB key, say) cannot flood the terminal.
        FileHandle.standardError.write(Data("error: \("\(error)".escapedForTerminal.bounded(1000))\n".utf8))
        throw ExitCode(1)
    }
}

func note(_ s: String) { FileHandle.standardError.write(Data("note: \(s.escapedForTerminal.bounded(1000))\n".utf8)) }

/// Prints a line that may hold text from a file, escaped (see `escapedForTerminal`).
func say(_ s: String) { print(s.escapedForTerminal) }

func compile(_ m: ModelOptions, fuse: Bool, keepUnfused: Bool = true) throws -> CompiledModel {
    let weights: WeightsSource = m.weights.map { .file($0, partial: m.partialWeights) } ?? .seeded
    let c = try Compiler.compile(model: m.config, weights: weights, options: m.compileOptions, fuse: fuse, keepUnfused: keepUnfused)
    for n in c.lowered.notes { note(n) }
    return c
}
