import Foundation
import FuzzDriver
import YoloCompile

/// Any bytes as a safetensors file: the header's claims checked, every tensor decoded.
@main
enum FuzzSafetensors {
    static func main() {
        runFuzzer { data, size in
            let bytes = Data(fuzzBytes(data, size))
            MemoryLimit.$bytes.withValue(256 << 20) {
                guard let store = try? SafetensorsReader.read(data: bytes, file: "fuzz.safetensors") else { return }
                for name in store.names { _ = try? store[name]?.load() }
            }
            return 0
        }
    }
}
