import Foundation

/// Reads pickle protocols 2 to 5 as data (see `PickleValue`). It never imports or runs anything:
/// `NEWOBJ` of any class makes an inert `PyObject`; `REDUCE` is honoured only for the functions torch
/// checkpoints use (tensor and parameter rebuilds, OrderedDict, set, ...) and for class-like names
/// (which also become inert objects); any other callable is refused by name.
public struct Unpickler {
    let bytes: [UInt8]
    let file: String
    /// Turns a `BINPERSID` id into a value (torch: storages in the zip).
    let persistentLoad: (PickleValue) throws -> PickleValue

    public init(bytes: [UInt8], file: String, persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.bytes = bytes
        self.file = file
        self.persistentLoad = persistentLoad
    }

    /// Callables REDUCE may apply; anything else that does not look like a class is refused.
    static let reducible: Set<String> = [
        "collections.OrderedDict", "builtins.set", "__builtin__.set", "builtins.frozenset", "__builtin__.frozenset",
        "builtins.bytearray", "__builtin__.bytearray", "_codecs.encode", "copyreg._reconstructor", "copy_reg._reconstructor",
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch.device", "torch.Size", "collections.defaultdict",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct", "numpy.dtype", "pathlib.PosixPath", "pathlib.WindowsPath",
        "argparse.Namespace", "types.SimpleNamespace", "datetime.datetime",
    ]

    public func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        var pos = 0
        var opPos = 0
        let n = bytes.count
        // Opcodes that copy a memoised container (REDUCE of OrderedDict or set, _codecs.encode) could
        // make a small pickle do quadratic work; copies are charged against a budget linear in its size.
        var copyBudget = 16 * n + (1 << 20)
        func charge(_ k: Int) throws {
            copyBudget -= k
            guard copyBudget >= 0 else {
                throw fail("the pickle copies more than \(16 * n + (1 << 20)) items for its \(n) bytes (a decompression bomb?)")
            }
        }

        // Errors name the offset of the opcode being read.
        func fail(_ m: String) -> PickleError { PickleError(file: file, message: "pickle byte \(opPos): \(m)") }
        func need(_ k: Int) throws {
            guard k >= 0, k <= n - pos else { throw fail("truncated (needs \(k) more bytes, \(n - pos) left)") }
        }
        func readUInt(_ k: Int) throws -> UInt64 {
            try need(k)
            var v: UInt64 = 0
            for i in 0..<k { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
            pos += k
            return v
        }
        func readBytes(_ k: Int) throws -> [UInt8] {
            try need(k)
            defer { pos += k }
            return Array(bytes[pos..<(pos + k)])
        }
        func readLine() throws -> String {
            guard let end = bytes[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated text line") }
            defer { pos = end + 1 }
            return String(decoding: bytes[pos..<end], as: UTF8.self)
        }
        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw fail("stack underflow") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK missing") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        func top() throws -> PickleValue {
            guard let v = stack.last else { throw fail("stack underflow") }
            return v
        }
        func string(_ b: [UInt8]) -> PickleValue { .string(String(decoding: b, as: UTF8.self)) }
        func signedLong(_ b: [UInt8]) throws -> PickleValue {
            guard b.count <= 8 else { throw fail("integer of \(b.count) bytes is too large") }
            guard !b.isEmpty else { return .int(0) }
            var v: UInt64 = 0
            for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            if b.count < 8, b.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(b.count)) }
            return .int(Int(Int64(bitPattern: v)))
        }
        func setItems(_ target: PickleValue, _ kv: [PickleValue]) throws {
            guard kv.count % 2 == 0 else { throw fail("SETITEMS needs key, value pairs") }
            switch target {
            case .dict(let d): for i in stride(from: 0, to: kv.count, by: 2) { d.set(kv[i], kv[i + 1]) }
            case .object(let o):  // e.g. an OrderedDict subclass kept inert: keep items in its state
                let d = o.state.dict ?? PyDict()
                for i in stride(from: 0, to: kv.count, by: 2) { d.set(kv[i], kv[i + 1]) }
                if o.state.dict == nil { o.state = .dict(d) }
            default: throw fail("SETITEM on \(target)")
            }
        }

        while pos < n {
            opPos = pos
            let op = bytes[pos]
            pos += 1
            switch op {
            case 0x80: _ = try readUInt(1)  // PROTO
            case 0x95: _ = try readUInt(8)  // FRAME
            case 0x2E:  // STOP
                guard stack.count == 1 else { throw fail("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x7D: stack.append(.dict(PyDict()))  // EMPTY_DICT
            case 0x5D: stack.append(.list(PyList()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x8F: stack.append(.list(PyList()))  // EMPTY_SET
            case 0x28: marks.append(stack.count)  // MARK
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x6C: stack.append(.list(PyList(try popMark())))  // LIST
            case 0x64:  // DICT
                let kv = try popMark()
                let d = PyDict()
                try setItems(.dict(d), kv)
                stack.append(.dict(d))
            case 0x91: stack.append(.list(PyList(try popMark())))  // FROZENSET
            case 0x61:  // APPEND
                let v = try pop()
                guard case .list(let l) = try top() else { throw fail("APPEND to a non-list") }
                l.items.append(v)
            case 0x65, 0x90:  // APPENDS, ADDITEMS
                let vs = try popMark()
                guard case .list(let l) = try top() else { throw fail("APPENDS to a non-list") }
                l.items += vs
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                try setItems(try top(), [k, v])
            case 0x75:  // SETITEMS
                let kv = try popMark()
                try setItems(try top(), kv)
            case 0x58: stack.append(string(try readBytes(Int(try readUInt(4)))))  // BINUNICODE
            case 0x8C: stack.append(string(try readBytes(Int(try readUInt(1)))))  // SHORT_BINUNICODE
            case 0x8D: stack.append(string(try readBytes(Int(clamping: try readUInt(8)))))  // BINUNICODE8
            case 0x54: stack.append(string(try readBytes(Int(try readUInt(4)))))  // BINSTRING
            case 0x55: stack.append(string(try readBytes(Int(try readUInt(1)))))  // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(try readBytes(Int(try readUInt(4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(try readBytes(Int(try readUInt(1)))))  // SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(try readBytes(Int(clamping: try readUInt(8)))))  // BINBYTES8, BYTEARRAY8
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try readUInt(4)))))  // BININT
            case 0x4B: stack.append(.int(Int(try readUInt(1))))  // BININT1
            case 0x4D: stack.append(.int(Int(try readUInt(2))))  // BININT2
            case 0x8A: stack.append(try signedLong(try readBytes(Int(try readUInt(1)))))  // LONG1
            case 0x8B: stack.append(try signedLong(try readBytes(Int(try readUInt(4)))))  // LONG4
            case 0x47:  // BINFLOAT, big-endian
                let b = try readBytes(8)
                stack.append(.float(Double(bitPattern: b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4E: stack.append(.none)
            case 0x71: memo[Int(try readUInt(1))] = try top()  // BINPUT
            case 0x72: memo[Int(try readUInt(4))] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let k = Int(try readUInt(op == 0x68 ? 1 : 4))
                guard let v = memo[k] else { throw fail("memo \(k) was never stored") }
                stack.append(v)
            case 0x63:  // GLOBAL
                let module = try readLine(), name = try readLine()
                stack.append(.global(module + "." + name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.string, let nm = name.string else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(.global(m + "." + nm))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                try charge(args.items?.count ?? 0)  // the object keeps a copy of a memoised list's items
                stack.append(try reduce(callable, args.items ?? [], fail: fail, charge: charge))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                try charge(args.items?.count ?? 0)
                guard case .global(let c) = cls else { throw fail("NEWOBJ of \(cls)") }
                stack.append(.object(PyObject(className: c, arguments: args.items ?? [])))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), cls = try pop()
                try charge(args.items?.count ?? 0)
                guard case .global(let c) = cls else { throw fail("NEWOBJ_EX of \(cls)") }
                stack.append(.object(PyObject(className: c, arguments: args.items ?? [])))
            case 0x62:  // BUILD
                let state = try pop()
                if case .object(let o) = try top() { o.state = state }
            case 0x51: stack.append(try persistentLoad(try pop()))  // BINPERSID
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            default:
                throw fail(String(format: "unknown opcode 0x%02x", op))
            }
        }
        opPos = n
        throw fail("ends without STOP")
    }

    func reduce(_ callable: PickleValue, _ args: [PickleValue], fail: (String) -> PickleError,
                charge: (Int) throws -> Void) throws -> PickleValue {
        guard case .global(let name) = callable else { throw fail("REDUCE of \(callable), not a global") }
        switch name {
        case "collections.OrderedDict", "collections.defaultdict":
            let d = PyDict()
            if let pairs = args.first?.items {
                try charge(pairs.count)
                for p in pairs { if let kv = p.items, kv.count == 2 { d.set(kv[0], kv[1]) } }
            }
            return .dict(d)
        case "builtins.set", "__builtin__.set", "builtins.frozenset", "__builtin__.frozenset":
            let items = args.first?.items ?? []
            try charge(items.count)
            return .list(PyList(items))
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4, case .storage(let s) = args[0], case .int(let offset) = args[1],
                  let size = args[2].items, let stride = args[3].items
            else { throw fail("\(name) with arguments \(args.prefix(4))") }
            let shape = size.compactMap { if case .int(let i) = $0 { return i }; return nil }
            let strides = stride.compactMap { if case .int(let i) = $0 { return i }; return nil }
            guard shape.count == size.count, strides.count == stride.count, shape.count == strides.count,
                  shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0
            else { throw fail("\(name): invalid size \(size) or stride \(stride)") }
            return .tensor(TorchTensor(storage: s, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = args.first else { throw fail("\(name) without data") }
            return data
        case "torch.Size": return args.first ?? .tuple([])
        case "torch.device": return args.first ?? .none
        case "_codecs.encode":
            guard let s = args.first?.string else { return .bytes([]) }
            try charge(s.utf8.count)
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        case "builtins.bytearray", "__builtin__.bytearray": return args.first ?? .bytes([])
        case "copyreg._reconstructor", "copy_reg._reconstructor":
            guard case .global(let cls)? = args.first else { throw fail("\(name) without a class") }
            return .object(PyObject(className: cls, arguments: Array(args.dropFirst())))
        default:
            // A class called with arguments is inert data too; a function we don't know is refused.
            let last = name.split(separator: ".").last.map(String.init) ?? name
            if Self.reducible.contains(name) || last.first?.isUppercase == true {
                return .object(PyObject(className: name, arguments: args))
            }
            throw fail("cannot make \(name) inert: it is a function the reader does not know, and calling it could run code")
        }
    }
}
