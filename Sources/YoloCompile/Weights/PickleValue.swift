/// What a pickle holds, as data. Nothing is imported or run: classes become `PyObject`s that keep
/// their constructor arguments and state, known tensor-rebuild functions become `TorchTensor`s.
public enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PyTuple)
    case list(PyList)
    case dict(PyDict)
    case object(PyObject)
    /// A module attribute referenced but not called (`torch.float16`, a class passed as a value).
    case global(String)
    case storage(TorchStorage)
    case tensor(TorchTensor)

    /// A tuple of these items.
    static func tuple(_ items: [PickleValue]) -> PickleValue { .tuple(PyTuple(items)) }

    /// Bounded: three levels, eight items a level, 80 characters a string, so a message that shows a
    /// value from a file stays one short line however deep, long or cyclic the value is.
    public var description: String { describe(depth: 3) }

    func describe(depth: Int) -> String {
        func seq(_ items: [PickleValue], _ open: String, _ close: String) -> String {
            guard depth > 0 else { return open + (items.isEmpty ? "" : "...") + close }
            var parts = items.prefix(8).map { $0.describe(depth: depth - 1) }
            if items.count > 8 { parts.append("... \(items.count - 8) more") }
            return open + parts.joined(separator: ", ") + close
        }
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .string(let s): return "'\(s.count > 80 ? String(s.prefix(80)) + "..." : s)'"
        case .bytes(let b): return "b<\(b.count) bytes>"
        case .tuple(let t): return seq(t.items, "(", ")")
        case .list(let l): return seq(l.items, "[", "]")
        case .dict(let d):
            guard depth > 0 else { return d.entries.isEmpty ? "{}" : "{...}" }
            var parts = d.entries.prefix(8).map { "\($0.key.describe(depth: depth - 1)): \($0.value.describe(depth: depth - 1))" }
            if d.entries.count > 8 { parts.append("... \(d.entries.count - 8) more") }
            return "{" + parts.joined(separator: ", ") + "}"
        case .object(let o): return "<\(o.className.count > 80 ? String(o.className.prefix(80)) + "..." : o.className)>"
        case .global(let g): return g.count > 80 ? String(g.prefix(80)) + "..." : g
        case .storage(let s): return "<storage \(s.key.count > 80 ? String(s.key.prefix(80)) + "..." : s.key)>"
        case .tensor(let t): return "<tensor \(t.shape.count > 8 ? "rank \(t.shape.count)" : "\(t.shape)")>"
        }
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var dict: PyDict? { if case .dict(let d) = self { return d }; return nil }
    public var object: PyObject? { if case .object(let o) = self { return o }; return nil }

    /// The items of a list, tuple or set.
    public var items: [PickleValue]? {
        switch self {
        case .list(let l): return l.items
        case .tuple(let t): return t.items
        default: return nil
        }
    }
}

/// Every container is a class whose deinit hands its children to `PickleRelease`, so a value nested
/// 100,000 deep is freed in a loop, not by 100,000 nested releases (a stack overflow).
public final class PyTuple {
    public fileprivate(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    deinit { PickleRelease.drain(&items) }
}

/// A Python list (or set): a reference, because pickles append to memoised lists.
public final class PyList {
    public var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
    deinit { PickleRelease.drain(&items) }
}

/// A Python dict, in insertion order.
public final class PyDict {
    public fileprivate(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]

    public func set(_ k: PickleValue, _ v: PickleValue) {
        if case .string(let s) = k, let i = index[s] { entries[i].value = v; return }
        if case .string(let s) = k { index[s] = entries.count }
        entries.append((k, v))
    }

    public subscript(_ key: String) -> PickleValue? { index[key].map { entries[$0].value } }

    fileprivate func takeAll() -> [PickleValue] {
        let e = take(&entries)
        index = [:]
        return e.flatMap { [$0.key, $0.value] }
    }

    deinit {
        var children = takeAll()
        PickleRelease.drain(&children)
    }
}

/// An instance of a class the reader does not know: its class path, constructor arguments and state.
public final class PyObject {
    public let className: String
    public fileprivate(set) var arguments: [PickleValue]
    public var state: PickleValue = .none

    init(className: String, arguments: [PickleValue]) {
        self.className = className
        self.arguments = arguments
    }

    /// An attribute from the pickled `__dict__` state.
    public subscript(_ name: String) -> PickleValue? {
        if let d = state.dict { return d[name] }
        if case .tuple(let t) = state, let d = t.items.first?.dict { return d[name] }
        return nil
    }

    fileprivate func takeAll() -> [PickleValue] {
        var all = take(&arguments)
        all.append(state)
        state = .none
        return all
    }

    deinit {
        var children = takeAll()
        PickleRelease.drain(&children)
    }
}

private func take<T>(_ a: inout [T]) -> [T] {
    let all = a
    a = []
    return all
}

/// Frees a container's children without recursion: a child held nowhere else gives up its own
/// children to the work list before it is released, so no release ever cascades.
enum PickleRelease {
    /// Takes `work` over (it is emptied): an array shared with a caller would keep every child alive
    /// past the uniqueness checks.
    static func drain(_ work: inout [PickleValue]) {
        while var v = work.popLast() {
            // The container is moved into an optional and the value dropped (after the switch, whose
            // subject copy would otherwise hold a second reference), so uniqueness can be asked.
            var tuple: PyTuple?, list: PyList?, dict: PyDict?, object: PyObject?
            switch v {
            case .tuple(let t): tuple = t
            case .list(let l): list = l
            case .dict(let d): dict = d
            case .object(let o): object = o
            default: continue
            }
            v = .none
            if isKnownUniquelyReferenced(&tuple) { work += take(&tuple!.items) }
            if isKnownUniquelyReferenced(&list) { work += take(&list!.items) }
            if isKnownUniquelyReferenced(&dict) { work += dict!.takeAll() }
            if isKnownUniquelyReferenced(&object) { work += object!.takeAll() }
        }
    }
}

/// A storage a tensor views: a `data/KEY` entry of the checkpoint zip.
public struct TorchStorage {
    public var key: String
    public var dtype: TorchDType
    public var count: Int
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.
public struct TorchTensor {
    public var storage: TorchStorage
    public var offset: Int
    public var shape: [Int]
    public var strides: [Int]
}

/// Element types of torch storages.
public enum TorchDType: String, Sendable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloat: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

    /// From a storage class name (`FloatStorage`) as pickled by torch.save.
    init?(storageClass: String) {
        switch storageClass {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }
}
