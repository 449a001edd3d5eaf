import Foundation
import FuzzDriver
import YoloCompile

/// Any bytes as a torch.save checkpoint: the zip container, the pickle, the module walk, every tensor
/// decoded, and an embedded config through the front end's parser. The bytes go through a file, as a
/// user's do (ZIPFoundation's in-memory archive is another code path, and one the tool never uses).
/// Memory is capped at 256 MiB.
@main
enum FuzzTorch {
    static let path = FileManager.default.temporaryDirectory.appendingPathComponent("yolo-fuzz-\(getpid()).pt").path

    static func main() {
        runFuzzer { data, size in
            guard FileManager.default.createFile(atPath: FuzzTorch.path, contents: Data(fuzzBytes(data, size))) else { return 0 }
            MemoryLimit.$bytes.withValue(256 << 20) {
                guard let store = try? TorchCheckpointReader.open(FuzzTorch.path) else { return }
                for name in store.names { _ = try? store[name]?.load() }
                if let (yaml, name) = store.embeddedConfig { _ = try? ConfigParser.parse(yaml: yaml, file: name) }
            }
            return 0
        }
    }
}
