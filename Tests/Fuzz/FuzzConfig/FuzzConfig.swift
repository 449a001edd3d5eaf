import FuzzDriver
import YoloCompile

/// Any bytes as a model YAML, through the whole front end: parsing, lowering at a small image size
/// with zero weights, and the pass pipeline. Memory is capped at 256 MiB so a config that asks for
/// more must be refused by the limit, not by the machine.
@main
enum FuzzConfig {
    static func main() {
        runFuzzer { data, size in
            let text = String(decoding: fuzzBytes(data, size), as: UTF8.self)
            MemoryLimit.$bytes.withValue(256 << 20) {
                guard let config = try? ConfigParser.parse(yaml: text, file: "fuzz.yaml") else { return }
                _ = try? Compiler.compile(config, options: CompileOptions(imageHeight: 64, imageWidth: 64),
                                          parameters: ZeroParameters())
            }
            return 0
        }
    }
}
