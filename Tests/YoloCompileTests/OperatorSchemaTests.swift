import XCTest
import YoloCompile

/// The operator declarations are complete: each has a shape (a rule, or every output's shape declared),
/// a kernel, element types for every input and output, and attributes whose defaults have their type.
/// (tests/peers/test_operators.py checks the same declarations against onnx.defs.)
final class OperatorSchemaTests: XCTestCase {
    func testEveryDeclarationIsComplete() {
        XCTAssertGreaterThanOrEqual(Operators.all.count, 130)
        XCTAssertEqual(Set(Operators.all.map(\.name)).count, Operators.all.count, "an operator is declared twice")
        for s in Operators.all {
            XCTAssertFalse(s.versions.isEmpty, s.name)
            XCTAssertEqual(s.versions, s.versions.sorted(), s.name)
            XCTAssertEqual(Set(s.versions).count, s.versions.count, s.name)
            XCTAssertTrue(s.acceptsOpset(s.versions[0]), s.name)
            XCTAssertFalse(s.acceptsOpset(s.versions[0] - 1), s.name)
            for i in s.inputs { XCTAssertNotNil(s.types[i.type], "\(s.name) input \(i.name): no types for \(i.type)") }
            for o in s.outputs {
                if case .constraint(let l) = o.type {
                    let bound = s.inputs.contains { $0.type == l }
                    XCTAssertTrue(bound, "\(s.name) output \(o.name): constraint \(l) is no input's, so its type is unknown")
                }
                if s.rule == nil, case .rule = o.shape { XCTFail("\(s.name) output \(o.name): no rule and no declared shape") }
            }
            XCTAssertEqual(Set(s.attributes.map(\.name)).count, s.attributes.count, "\(s.name): an attribute is declared twice")
            for a in s.attributes {
                if let d = a.defaultValue { XCTAssertNotNil(AttributeView.coerce(d, to: a.kind), "\(s.name).\(a.name): default of another type") }
                if let allowed = a.allowed, case .string(let d)? = a.defaultValue { XCTAssertTrue(allowed.contains(d), "\(s.name).\(a.name)") }
                XCTAssertFalse(a.required && a.defaultValue != nil, "\(s.name).\(a.name): required with a default")
            }
        }
    }

    func testAttributesAreCheckedAgainstTheDeclaration() {
        func view(_ op: String, _ attributes: [String: Attribute]) -> String? {
            errorText { _ = try AttributeView(Node(op: op, name: "n", inputs: [], outputs: [], attributes: attributes), schema: Operators.schema(op)!) }
        }
        XCTAssertEqual(view("Softmax", ["axes": .int(1)]), "n (Softmax): attribute 'axes' is not one Softmax defines (axis)")
        XCTAssertEqual(view("Softmax", ["axis": .float(1)]), "n (Softmax): attribute 'axis' is float, expected int")
        XCTAssertEqual(view("Resize", ["mode": .string("area")]),
                       "n (Resize): attribute 'mode' is 'area'; Resize defines 'nearest', 'linear', 'cubic'")
        XCTAssertEqual(view("Cast", [:]), "n (Cast): required attribute 'to' is missing")
        XCTAssertEqual(view("Relu", ["alpha": .float(0.1)]), "n (Relu): attribute 'alpha' is not one Relu defines (it has none)")
        let defaults = try? AttributeView(Node(op: "LeakyRelu", name: "n", inputs: [], outputs: []), schema: Operators.schema("LeakyRelu")!)
        XCTAssertEqual(defaults?.float("alpha"), 0.01)
        XCTAssertEqual(defaults?.has("alpha"), false)
    }

    func testInputCountsAndElementTypesAreChecked() {
        func infer(_ op: String, _ types: [TensorType?], outputs: Int = 1) -> String? {
            errorText { _ = try ShapeInference.infer(Node(op: op, name: "n", inputs: [], outputs: []), inputTypes: types,
                                                     constants: types.map { _ in nil }, outputCount: outputs) }
        }
        let f = TensorType(.float32, [2, 3]), i = TensorType(.int64, [2, 3])
        XCTAssertEqual(infer("Add", [f]), "n (Add): input 1 ('B') is required")
        XCTAssertEqual(infer("Add", [f, f, f]), "n (Add): has 3 inputs; Add takes at most 2")
        XCTAssertEqual(infer("Add", [f, i]), "n (Add): input 1 ('B') is int64 but input 0 is float; they must match")
        XCTAssertEqual(infer("Sqrt", [i]), "n (Sqrt): input 0 ('X') is int64; Sqrt takes float, float16, double here")
        XCTAssertEqual(infer("Relu", [f], outputs: 2), "n (Relu): has 2 outputs; Relu has 1")
        XCTAssertNil(infer("Add", [f, TensorType(.float32, [3])]))
    }
}
