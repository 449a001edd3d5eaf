/// Reads the IR's text form (what `GraphPrinter` writes) back into a `Graph`, so passes can be tested
/// on small hand-written graphs. Types written on node results are checked against the shape rules by
/// `Verifier`; constants need inline data unless `fill` supplies it.
public struct GraphParser {
    public var fill: (any ParameterSource)?

    public init(fill: (any ParameterSource)? = nil) { self.fill = fill }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var line: Int
        public var message: String
        public var description: String { "IR text line \(line): \(message)" }
    }

    public func parse(_ text: String) throws -> Graph {
        var g = Graph(name: "")
        var byName: [String: ValueID] = [:]
        var sawHeader = false
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            var line = Substring(raw).trimmingCharacters(in: .whitespaces)[...]
            func fail(_ m: String) -> ParseError { ParseError(line: lineNo, message: m) }
            if line.isEmpty || line.hasPrefix("//") || line == "}" { continue }
            var s = Scanner(line, fail: fail)
            if line.hasPrefix("graph ") {
                s.skip("graph")
                g.name = try s.quoted()
                sawHeader = true
                continue
            }
            guard sawHeader else { throw fail("expected 'graph \"name\" {'") }
            if line.hasPrefix("meta ") {
                s.skip("meta")
                let k = try s.quoted()
                try s.expect("=")
                g.metadata.append((k, try s.quoted()))
            } else if line.hasPrefix("input ") {
                s.skip("input")
                let name = try s.valueName()
                try s.expect(":")
                let v = g.addValue(name: name, type: try s.type())
                g.inputs.append(v)
                byName[name] = v
            } else if line.hasPrefix("output ") {
                s.skip("output")
                let name = try s.valueName()
                guard let v = byName[name] else { throw fail("output %\(name) is not defined") }
                g.outputs.append(v)
            } else if let kind = ["param ": ConstantKind.parameter, "buffer ": .buffer, "const ": .constant].first(where: { line.hasPrefix($0.key) }) {
                s.skip(String(kind.key.dropLast()))
                let name = try s.valueName()
                try s.expect(":")
                let type = try s.type()
                let tensor: Tensor
                if s.consume("=") {
                    let words = try s.numberList()
                    guard words.count == type.count else { throw fail("%\(name) is \(type) but lists \(words.count) values") }
                    guard let shape = type.staticShape else { throw fail("constant %\(name) must have a static type") }
                    if type.dtype.storage == .ints {
                        let ints = try words.map { w in
                            guard let v = Int64(w) else { throw fail("'\(w)' is not a 64-bit integer") }
                            return v
                        }
                        tensor = Tensor(shape: shape, ints: ints, dtype: type.dtype)
                    } else {
                        let values = try words.map { w in
                            guard let v = Double(w) else { throw fail("bad number '\(w)'") }
                            return v
                        }
                        tensor = Tensor(shape: shape, values: values, dtype: type.dtype)
                    }
                } else if let fill {
                    tensor = try fill.tensor(named: name, shape: type.shape, kind: kind.value, initializer: .uniform(bound: 1))
                } else {
                    throw fail("constant %\(name) has no data")
                }
                byName[name] = g.addConstant(name: name, tensor: tensor, kind: kind.value)
            } else if line.hasPrefix("%") {
                var results: [(String, TensorType)] = []
                repeat {
                    let name = try s.valueName()
                    try s.expect(":")
                    results.append((name, try s.type()))
                } while s.consume(",")
                try s.expect("=")
                let op = s.identifier()
                guard !op.isEmpty else { throw fail("expected an operator name") }
                try s.expect("(")
                var inputs: [ValueID?] = []
                if !s.consume(")") {
                    repeat {
                        if s.consume("_") { inputs.append(nil); continue }
                        let n = try s.valueName()
                        guard let v = byName[n] else { throw fail("%\(n) is used before it is defined") }
                        inputs.append(v)
                    } while s.consume(",")
                    try s.expect(")")
                }
                var attrs: [String: Attribute] = [:]
                if s.consume("{") {
                    repeat {
                        let k = s.identifier()
                        try s.expect("=")
                        attrs[k] = try s.attribute()
                    } while s.consume(",")
                    try s.expect("}")
                }
                let nodeName = s.consume("#") ? s.rest() : "\(op)_\(g.nodes.count)"
                let outs = results.map { r -> ValueID in
                    let v = g.addValue(name: r.0, type: r.1)
                    byName[r.0] = v
                    return v
                }
                g.nodes.append(Node(op: op, name: nodeName, inputs: inputs, outputs: outs, attributes: attrs))
            } else {
                throw fail("cannot read '\(line)'")
            }
            line = ""
        }
        try Verifier.verify(g)
        return g
    }
}

/// A small cursor over one line of IR text.
private struct Scanner {
    var s: Substring
    let fail: (String) -> GraphParser.ParseError

    init(_ s: Substring, fail: @escaping (String) -> GraphParser.ParseError) {
        self.s = s
        self.fail = fail
    }

    mutating func trim() { s = s.drop { $0 == " " } }

    mutating func skip(_ word: String) { trim(); s = s.dropFirst(word.count) }

    mutating func consume(_ token: String) -> Bool {
        trim()
        guard s.hasPrefix(token) else { return false }
        s = s.dropFirst(token.count)
        return true
    }

    mutating func expect(_ token: String) throws {
        guard consume(token) else { throw fail("expected '\(token)' at '\(s.prefix(20))'") }
    }

    mutating func identifier() -> String {
        trim()
        let id = s.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        s = s.dropFirst(id.count)
        return String(id)
    }

    /// `%name`: everything up to a space, comma or closing parenthesis, or a colon followed by a space.
    mutating func valueName() throws -> String {
        try expect("%")
        var name = ""
        while let c = s.first {
            if c == " " || c == "," || c == ")" { break }
            if c == ":" && (s.dropFirst().first == " " || s.dropFirst().isEmpty) { break }
            name.append(c)
            s = s.dropFirst()
        }
        guard !name.isEmpty else { throw fail("empty value name") }
        return name
    }

    /// `f32[1,3,640,640]`, `f32[batch,3,?,?]` (symbols and unknown sizes), `f32[*]` (unknown rank).
    mutating func type() throws -> TensorType {
        let dt = identifier()
        guard let dtype = DType(rawValue: dt) else { throw fail("unknown element type '\(dt)'") }
        try expect("[")
        if consume("*") {
            try expect("]")
            return TensorType(dtype, dims: nil)
        }
        var dims: [Dim] = []
        if !consume("]") {
            repeat {
                trim()
                if consume("?") { dims.append(.unknown); continue }
                let token = s.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                guard !token.isEmpty else { throw fail("expected a dimension at '\(s.prefix(10))'") }
                s = s.dropFirst(token.count)
                if let d = Int(token) { dims.append(.value(d)) } else { dims.append(.symbol(String(token))) }
            } while consume(",")
            try expect("]")
        }
        return TensorType(dtype, dims: dims)
    }

    mutating func number() throws -> String {
        trim()
        let tok = s.prefix { "0123456789+-.eEinfa".contains($0) }
        guard !tok.isEmpty else { throw fail("expected a number at '\(s.prefix(10))'") }
        s = s.dropFirst(tok.count)
        return String(tok)
    }

    /// A bracketed list of numbers, as written (integers are read as integers, not through Double).
    mutating func numberList() throws -> [String] {
        try expect("[")
        var out: [String] = []
        if consume("]") { return out }
        repeat { out.append(try number()) } while consume(",")
        try expect("]")
        return out
    }

    mutating func quoted() throws -> String {
        try expect("\"")
        var out = ""
        while let c = s.first {
            s = s.dropFirst()
            if c == "\\", let n = s.first { out.append(n); s = s.dropFirst(); continue }
            if c == "\"" { return out }
            out.append(c)
        }
        throw fail("unterminated string")
    }

    mutating func attribute() throws -> Attribute {
        trim()
        if s.hasPrefix("\"") { return .string(try quoted()) }
        if s.hasPrefix("[") {
            try expect("[")
            var toks: [String] = []
            if !consume("]") {
                repeat { toks.append(try number()) } while consume(",")
                try expect("]")
            }
            if toks.allSatisfy({ Int($0) != nil }) { return .ints(toks.compactMap { Int($0) }) }
            return .floats(try toks.map { t in guard let f = Float(t) else { throw fail("bad number '\(t)'") }; return f })
        }
        let t = try number()
        if let i = Int(t) { return .int(i) }
        guard let f = Float(t) else { throw fail("bad number '\(t)'") }
        return .float(f)
    }

    mutating func rest() -> String {
        trim()
        defer { s = "" }
        return String(s)
    }
}
