/// Every error the compiler reports is one line that says where (file:line, layer, tensor) and what
/// was expected. The CLI prints `description` and exits non-zero.

/// An error about one input file: printed as `FILE: MESSAGE`.
public protocol FileError: Error, CustomStringConvertible {
    var file: String { get }
    var message: String { get }
}

extension FileError {
    public var description: String { "\(file): \(message)" }
}

/// An error in a model config (YAML).
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    /// The layer as `from` counts it (after a multi-output backbone, row + 4).
    public var layer: Int?
    /// The config row, when it differs from `layer` (state_dict names and the summary's index use it).
    public var row: Int?
    public var message: String

    public init(file: String, line: Int?, layer: Int? = nil, row: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.layer = layer
        self.row = row == layer ? nil : row
        self.message = message
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let layer { s += "layer \(layer)" + (row.map { " (row \($0))" } ?? "") + ": " }
        return s + message
    }
}

/// A type or shape that does not fit an operator, found while the graph is built or verified.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public var layer: String
    public var op: String
    public var message: String
    /// The node's full name, where it matters (a graph read from a file).
    public var node: String? = nil

    public init(layer: String, op: String, message: String, node: String? = nil) {
        self.layer = layer
        self.op = op
        self.message = message
        self.node = node
    }

    public var description: String { "\(layer) (\(op)): \(message)" }
}

/// A graph that breaks the IR's invariants (SSA, topological order, types).
public struct VerifierError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { "IR verifier: \(message)" }
}

/// A problem reading or writing an ONNX file.
public struct OnnxError: FileError, Equatable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
}

/// A failure or refusal while executing a graph: names the node and its operator.
public struct InterpreterError: Error, CustomStringConvertible, Equatable {
    public var node: String
    public var op: String?
    public var message: String
    public init(node: String, op: String? = nil, message: String) {
        self.node = node
        self.op = op
        self.message = message
    }
    /// `interpreter: node NAME (Op): ...` for a node, `interpreter: NAME: ...` for a graph input or the graph.
    public var description: String { "interpreter: " + (op.map { "node \(node) (\($0))" } ?? node) + ": \(message)" }
}

/// A problem with an input file that is not a model (a .npy array, say).
public struct InputError: FileError, Equatable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
}

/// An error reading a weights file: names the file and, where there is one, the tensor.
public struct WeightsError: FileError, Equatable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
}

/// An error reading a pickle: names the file, the byte offset and what was found.
public struct PickleError: FileError, Equatable {
    public var file: String
    public var message: String
}
