import FuzzDriver
import YoloCompile

/// Any bytes as a .npy file: a refusal is fine; a trap, an allocation past the limits or a hang is a
/// finding.
@main
enum FuzzNpy {
    static func main() {
        runFuzzer { data, size in
            _ = try? Npy.decode(fuzzBytes(data, size), file: "fuzz.npy")
            return 0
        }
    }
}
