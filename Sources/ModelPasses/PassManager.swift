import ModelIR
#if canImport(Glibc)
import Glibc
#endif

/// What one pass did, for `--report`.
public struct PassRecord: Codable, Sendable {
    public var pass: String
    public var nodesBefore: Int
    public var nodesAfter: Int
    public var rewrites: Int
    public var seconds: Double
    /// The pass's summary lines (`PassContext.remark`), e.g. which transposes remain and why.
    public var remarks: [String] = []
}

/// Runs pipelines: ordered lists of pass names.
public struct PassManager {
    public var verifyEach = false
    /// Passes after which to print the IR (`--print-ir-after`); `printAfterAll` for every one.
    public var printAfter: Set<String> = []
    public var printAfterAll = false
    /// Where printed IR goes (default: standard error).
    public var printer: (String) -> Void = { text in _ = text.withCString { write(2, $0, strlen($0)) } }

    public init() {}

    /// The passes of a pipeline, validating every name.
    public static func resolve(_ names: [String]) throws(PassError) -> [any GraphPass] {
        var out: [any GraphPass] = []
        for name in names {
            guard let pass = PassRegistry.pass(named: name) else {
                throw .unknownPass(name, known: PassRegistry.all.map(\.name))
            }
            out.append(pass)
        }
        return out
    }

    /// Runs `passes` in order on `model`.
    public func run(_ passes: [any GraphPass], on model: inout Model,
                    context: inout PassContext) throws(PassError) -> [PassRecord] {
        var records: [PassRecord] = []
        let clock = ContinuousClock()
        for pass in passes {
            let before = model.graph.nodeCount
            let remarksBefore = context.remarks.count
            context.subgraphReads = model.graph.namesReadBySubgraphs
            let start = clock.now
            let rewrites: Int
            do { rewrites = try pass.run(&model, &context) } catch let e as PassError { throw e } catch {
                throw .failed(pass: pass.name, reason: "\(error)")
            }
            let d = clock.now - start
            records.append(PassRecord(pass: pass.name, nodesBefore: before, nodesAfter: model.graph.nodeCount,
                                      rewrites: rewrites,
                                      seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18,
                                      remarks: Array(context.remarks[remarksBefore...])))
            if verifyEach, let problem = Verifier.verify(model.graph).first {
                throw .verificationFailed(pass: pass.name, problem: problem.description)
            }
            if printAfterAll || printAfter.contains(pass.name) {
                printer("// IR after \(pass.name) (\(rewrites) rewrites)\n" + Printer.print(model.graph))
            }
        }
        return records
    }
}
