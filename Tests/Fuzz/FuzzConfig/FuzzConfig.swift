import FuzzDriver
import YoloCompile

/// Any bytes as a model YAML, through the whole front end: parsing, lowering at a small image size
/// with zero weights, the verifier and the pass pipeline. Memory is capped at 16 MiB, so a config
/// bigger than yolov5n is refused by the limit part-way through lowering (which keeps the fuzzer fast,
/// and exercises the limit on every large config it makes).
@main
enum FuzzConfig {
    static func main() {
        runFuzzer { data, size in
            let text = String(decoding: fuzzBytes(data, size), as: UTF8.self)
            MemoryLimit.$bytes.withValue(16 << 20) {
                guard let config = try? ConfigParser.parse(yaml: text, file: "fuzz.yaml") else { return }
                var options = CompileOptions(imageHeight: 64, imageWidth: 64)
                options.allowUnmetSizeRequirements = true
                guard var g = try? ModelLowering.lower(config, options: options, parameters: ZeroParameters()).graph,
                      (try? Verifier.verify(g)) != nil else { return }
                _ = try? PassManager.standard.run(&g)
            }
            return 0
        }
    }
}
