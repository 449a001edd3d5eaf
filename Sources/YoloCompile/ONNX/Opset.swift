/// The opsets yolo-compile writes, and the IR version each needs (onnx.helper.find_min_ir_version_for).
public enum Opset {
    public static let supported = 12...21
    /// The newest default-domain opset the reader understands: every operator declaration lists its
    /// ONNX versions up to this one.
    public static let newestRead = 21
    public static let defaultVersion = 17

    public static func irVersion(for opset: Int) -> Int64 {
        switch opset {
        case ...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        default: return 10
        }
    }
}
