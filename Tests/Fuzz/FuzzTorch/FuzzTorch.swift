import Foundation
import FuzzDriver
import YoloCompile

/// Any bytes as a torch.save checkpoint: the zip container, the pickle, the module walk, every tensor
/// decoded, and an embedded config through the front end's parser. Memory is capped at 256 MiB.
@main
enum FuzzTorch {
    static func main() {
        runFuzzer { data, size in
            let bytes = Data(fuzzBytes(data, size))
            MemoryLimit.$bytes.withValue(256 << 20) {
                guard let store = try? TorchCheckpointReader.read(bytes: bytes, file: "fuzz.pt") else { return }
                for name in store.names { _ = try? store[name]?.load() }
                if let (yaml, name) = store.embeddedConfig { _ = try? ConfigParser.parse(yaml: yaml, file: name) }
            }
            return 0
        }
    }
}
