import YoloCompile
let c = try ConfigParser.parse(file: CommandLine.arguments[1])
var m = try ModelLowering.lower(c, options: CompileOptions(imageHeight: 320, imageWidth: 320))
print(m.graph.constantElementCount(kinds: [.parameter]), m.layers.map(\.parameters), m.graph.type(of: m.graph.outputs[0]))
try Verifier.verify(m.graph)
var g = m.graph
let r = try PassManager.standard.run(&g)
for x in r { print(x.pass, x.changes.count, x.nodesBefore, x.nodesAfter) }
print(g.constantElementCount(kinds: [.parameter]))
