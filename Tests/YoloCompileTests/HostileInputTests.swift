import Foundation
import XCTest
import YoloCompile

/// Inputs an attacker would write, each refused with one line (or read) and never a trap, a stack
/// overflow or a runaway allocation. The CLI-level classes (special files, outputs, signals, zips,
/// checkpoints) are in Tests/peers/test_hostile.py; RELIABILITY.md maps every class to its tests.
final class HostileInputTests: XCTestCase {
    func unpickle(_ body: [UInt8]) throws -> PickleValue {
        try Unpickler(bytes: [0x80, 0x02] + body, file: "p.pkl") { $0 }.load()
    }

    /// Lists and tuples nested 100,000 deep are built, described (bounded) and freed without recursion.
    func testDeeplyNestedPicklesAreFreedWithoutRecursion() throws {
        let n = 100_000
        let lists = try unpickle([UInt8](repeating: 0x28, count: n) + [UInt8](repeating: 0x6C, count: n) + [0x2E])  // MARK x n, LIST x n, STOP
        XCTAssertEqual(lists.description, "[[[[...]]]]")
        let tuples = try unpickle([0x29] + [UInt8](repeating: 0x85, count: n) + [0x2E])  // EMPTY_TUPLE, TUPLE1 x n
        XCTAssertEqual(tuples.description, "((((...))))")
    }

    /// A list that holds itself is described to a bounded depth.
    func testCyclicPickleIsDescribedBounded() throws {
        // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND, STOP
        let v = try unpickle([0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E])
        XCTAssertEqual(v.description, "[[[[...]]]]")
    }

    /// REDUCE of OrderedDict over one memoised list, again and again, is quadratic work: refused.
    func testPickleCopyBombIsRefused() throws {
        // GLOBAL collections OrderedDict, BINPUT 0; a list of 2,000 pairs, BINPUT 1; then 20,000 x (BINGET 0, BINGET 1, TUPLE1, REDUCE, POP).
        var b: [UInt8] = Array("ccollections\nOrderedDict\n".utf8) + [0x71, 0x00]
        b += [0x5D, 0x28] + Array(repeating: [0x4B, 0x01, 0x4B, 0x02, 0x86], count: 2000).flatMap { $0 } + [0x65, 0x71, 0x01]
        b += Array(repeating: [0x68, 0x00, 0x68, 0x01, 0x85, 0x52, 0x30], count: 20_000).flatMap { $0 }
        b += [0x4E, 0x2E]
        XCTAssertThrowsError(try unpickle(b)) { e in
            XCTAssertTrue("\(e)".hasPrefix("p.pkl: pickle byte "), "\(e)")
            XCTAssertTrue("\(e)".hasSuffix("the pickle copies more than 3449152 items for its 150036 bytes (a decompression bomb?)"), "\(e)")
        }
    }

    /// An empty tensor cannot carry sizes whose partial products overflow.
    func testEmptyShapesWithHugeSizesAreInvalid() {
        XCTAssertNil(ShapeRules.elementCount([0, 1 << 62, 4]))
        XCTAssertNil(ShapeRules.elementCount([0, 1 << 31, 1 << 31, 1 << 31]))
        XCTAssertEqual(ShapeRules.elementCount([0, 1 << 20, 4]), 0)
        XCTAssertEqual(ShapeRules.elementCount([1 << 16, 1 << 15 - 1]), (1 << 31) - (1 << 16))
        XCTAssertNil(ShapeRules.elementCount([1 << 31]))
    }

    func testMemoryLimitSizes() {
        XCTAssertEqual(MemoryLimit.parse("4G"), 4 << 30)
        XCTAssertEqual(MemoryLimit.parse("512MiB"), 512 << 20)
        XCTAssertEqual(MemoryLimit.parse("1073741824"), 1 << 30)
        XCTAssertNil(MemoryLimit.parse("-1G"))
        XCTAssertNil(MemoryLimit.parse("9999999T"))
        XCTAssertNil(MemoryLimit.parse("nan"))
        XCTAssertEqual(MemoryLimit.describe(1536), "1536 bytes (1.5 KiB)")
    }

    func config(_ text: String) throws -> ModelConfig { try ConfigParser.parse(yaml: text, file: "m.yaml") }

    let head = "nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [8, 3, 2]]]\nhead:\n  [[[0], 1, Detect, [nc, anchors]]]\n"

    func assertConfigError(_ text: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Compiler.compile(config(text), options: CompileOptions(imageHeight: 64, imageWidth: 64)), file: file, line: line) { e in
            XCTAssertEqual("\(e)", message, file: file, line: line)
        }
    }

    /// Deep YAML is refused before the YAML library recurses into it.
    func testDeepYamlIsRefusedBeforeParsing() {
        assertConfigError(head + "x: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n",
                          "m.yaml:7: nests deeper than 64 levels; a model config needs a handful")
        assertConfigError(head + "x: " + String(repeating: "- ", count: 100) + "1\n",
                          "m.yaml:7: nests deeper than 64 levels; a model config needs a handful")
    }

    /// Aliases of aliases ("billion laughs") are refused by count, even after a quote inside a word; deep
    /// nesting built from aliases is refused once they are followed.
    func testAliasStormIsRefused() {
        var text = head + "a0: &a0 [1, 1]\n"
        for i in 1...20 { text += "a\(i): &a\(i) [it's, *a\(i - 1), *a\(i - 1)]\n" }
        assertConfigError(text, "m.yaml:16: uses more than 16 YAML aliases (*name); a model config needs none")
        var chain = head + "b0: &b0 " + String(repeating: "[", count: 30) + String(repeating: "]", count: 30) + "\n"
        for i in 1...3 { chain += "b\(i): &b\(i) " + String(repeating: "[", count: 30) + "*b\(i - 1)" + String(repeating: "]", count: 30) + "\n" }
        assertConfigError(chain, "m.yaml:8: nests deeper than 64 levels once its aliases are followed; a model config needs a handful")
    }

    /// Integer arguments at Int.min, anchors at 1e19 and inf, and multiples at NaN are refused, not trapped on.
    func testExtremeNumbersInConfigsAreRefused() {
        assertConfigError("nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [-9223372036854775808, 3, 2]]]\nhead:\n  [[[0], 1, Detect, [nc, anchors]]]\n",
                          "m.yaml:4: layer 0: Conv: argument c2 is -9223372036854775808, out of range (at most 1048576)")
        assertConfigError("nc: 1\nanchors:\n  - [10, 13, 16, 1.0e+19]\nbackbone:\n  [[-1, 1, Conv, [8, 3, 2]]]\nhead:\n  [[[0], 1, Detect, [nc, anchors]]]\n",
                          "m.yaml:3: anchor sizes must be finite pixel sizes up to 1e6")
        // YAML's .inf is not a number to the front end: refused as a non-number.
        assertConfigError("nc: 1\nanchors:\n  - [10, 13, 16, .inf]\nbackbone:\n  [[-1, 1, Conv, [8, 3, 2]]]\nhead:\n  [[[0], 1, Detect, [nc, anchors]]]\n",
                          "m.yaml:3: an 'anchors' level must hold an even number of pixel sizes (w, h pairs)")
        assertConfigError("nc: 1\ndepth_multiple: .nan\n" + head.dropFirst(6),
                          "m.yaml:2: 'depth_multiple' must be a positive number up to 64, got .nan")
        assertConfigError("nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [8, 3, 2]]]\nhead:\n  [[[0], 1, Detect, [nc, 5000000000000000000]]]\n",
                          "m.yaml:6: layer 1: Detect: anchors count must be from 1 to 1000, got 5000000000000000000")
    }

    /// A config whose widths need more memory than the limit is refused before the weights are made.
    func testConfigWiderThanTheMemoryLimitIsRefused() {
        let wide = "nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [8192, 3, 2]], [-1, 1, Conv, [8192, 3, 2]]]\nhead:\n  [[[1], 1, Detect, [nc, anchors]]]\n"
        MemoryLimit.$bytes.withValue(1 << 30) {
            assertConfigError(wide, "m.yaml:4: layer 1: Conv: holding the model's parameters and constants (up to model.1.conv.weight) needs 2416934912 bytes (2.3 GiB), more than the memory limit of 1073741824 bytes (1.0 GiB) (--memory-limit raises it)")
        }
    }

    /// INT64_MIN / -1 and its remainder wrap as two's complement (numpy and onnxruntime agree), never trap.
    func testIntegerDivisionOfInt64MinByMinusOne() throws {
        let g = try GraphParser().parse("""
        graph "div" {
          input %a: i64[2]
          const %b: i64[2] = [-1,-1]
          %q: i64[2] = Div(%a, %b)  # /div
          %r: i64[2] = Mod(%a, %b)  # /mod
          %f: i64[2] = Mod(%a, %b) {fmod = 1}  # /fmod
          output %q
          output %r
          output %f
        }
        """)
        let out = try Interpreter(g).run([Tensor(shape: [2], ints: [Int64.min, 7])])
        XCTAssertEqual(out.map(\.ints), [[Int64.min, -7], [0, 0], [0, 0]])
    }
}
