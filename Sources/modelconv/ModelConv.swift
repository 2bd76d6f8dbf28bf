import ArgumentParser
import Foundation
import ModelIR
import ModelONNX
import CKernels

@main
struct ModelConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelconv",
        abstract: "Convert trained networks into artifacts for embedded accelerators, and prove they still compute the same thing.",
        discussion: """
            Exit codes: 0 success; 1 the model has problems (check); 2 bad input or usage \
            (one error line on stderr, no output file left behind).
            """,
        version: "0.1.0",
        subcommands: [Inspect.self, Check.self, Convert.self, Optimize.self, Run.self, Parity.self]
    )
}

/// Runs `body`; prints any error as one line and exits with code 2.
func run(_ body: () throws -> Int32) -> Never {
    tuneAllocator()
    do {
        exit(try body())
    } catch {
        let text = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("modelconv: error: \(text)\n".utf8))
        exit(2)
    }
}

/// Keeps freed tensor buffers in the heap for the next op instead of unmapping them: glibc
/// serves blocks over its (adaptive) mmap threshold with fresh mappings, and every op output
/// then costs a page fault per 4 KiB. One process runs one job, so holding the freed pages
/// (never more than the peak already reached) is the right trade here; a library user's
/// process keeps its own settings.
func tuneAllocator() {
    mc_keep_freed_memory(256 << 20)
}

/// An error the CLI itself raises: its text is the whole line printed.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Parses repeated `NAME=1x3x640x640` options into shapes by input name.
func parseShapes(_ specs: [String], option: String = "--input-shape") throws -> [String: [Int]] {
    var shapes: [String: [Int]] = [:]
    for spec in specs {
        let (name, text) = try Run.split(spec, option)
        let dims = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw CommandError("\(option) \(spec): expected NAME=DxDx... with non-negative integers")
        }
        shapes[name] = dims.map { $0! }
    }
    return shapes
}
