import ArgumentParser
import YoloCompile

struct OperatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operators",
        abstract: "List the ONNX operators the reader and interpreter compute, as each is declared.",
        discussion: """
        For each operator: the opsets read, the ONNX versions implemented, its inputs and outputs with the element \
        types taken, and its attributes with their defaults. A file using anything else is refused when it is \
        read, naming the node, the operator and the attribute or input. --json prints the same as JSON.
        """)

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        print(json ? OperatorCatalog.json : OperatorCatalog.text, terminator: json ? "\n" : "")
    }
}
