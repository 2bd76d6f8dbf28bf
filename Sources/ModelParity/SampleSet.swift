import Foundation
import ModelIR
import ModelOps
import ModelRuntime
import ModelTensorIO

/// The samples a parity check runs on, in a fixed order (sample index 0, 1, ...).
///
/// - A tensor file (`.npz`, `.npy`, `.pb`): one sample.
/// - A folder holding subfolders or `.npz` files: each is one sample, in natural order of
///   their names (digit runs compare as numbers: `s2` before `s10`); hidden entries and
///   other files are ignored. A subfolder is read as a tensor folder; when it holds
///   `input_0.pb` (or `.npy`) only the `input_N` files are read, in order: the ONNX backend
///   test layout `test_data_set_N/`. A golden subfolder likewise reads `output_N`.
/// - A folder of only `.npy`/`.pb` files: one sample.
/// - `random(count:seed:shapes:)`: `count` seeded samples; sample i's inputs are
///   `RandomInputs.make(seed: sampleSeed(seed, i))`, so any one sample can be made alone.
public struct SampleSet: Sendable {
    public enum Kind: String, Sendable { case file, folder, random }
    /// Which files of a backend-layout subfolder to read.
    public enum Role: Sendable { case inputs, golden }

    public let kind: Kind
    /// The file or folder (nil for random samples).
    public let path: String?
    /// One id per sample: the file or subfolder name without `.npz` (`random:<i>` for random).
    public let ids: [String]
    /// The file or folder each sample is read from.
    let entries: [String]
    public let seed: UInt64
    public let shapes: [String: [Int]]
    let role: Role

    public var count: Int { ids.count }

    /// Samples from a tensor file or a folder (see the type's documentation).
    public static func open(_ path: String, role: Role = .inputs) throws(ParityError) -> SampleSet {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .input("\(path): no such file or folder")
        }
        guard isDir.boolValue else {
            return SampleSet(kind: .file, path: path, ids: [stem(path)], entries: [path], seed: 0, shapes: [:], role: role)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw .input("\(path): cannot list the folder: \((error as NSError).localizedDescription)")
        }
        let samples = names.filter { name in
            guard !name.hasPrefix(".") else { return false }
            return isDirectory(path + "/" + name) || name.lowercased().hasSuffix(".npz")
        }.sorted(by: naturalLess)
        if samples.isEmpty {
            return SampleSet(kind: .folder, path: path, ids: [stem(path)], entries: [path], seed: 0, shapes: [:], role: role)
        }
        return SampleSet(kind: .folder, path: path, ids: samples.map(stem), entries: samples.map { path + "/" + $0 },
                         seed: 0, shapes: [:], role: role)
    }

    /// `count` seeded random samples; `shapes` gives the dims of inputs with dynamic dims.
    public static func random(count: Int, seed: UInt64, shapes: [String: [Int]]) -> SampleSet {
        SampleSet(kind: .random, path: nil, ids: (0..<count).map { "random:\($0)" }, entries: [], seed: seed,
                  shapes: shapes, role: .inputs)
    }

    /// The seed of random sample `index`: the SplitMix64 finalizer of seed + index·0x9E3779B97F4A7C15.
    public static func sampleSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var z = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The tensors of sample `index`, named as stored (random samples: generated from
    /// `model`'s declared inputs, in their order).
    public func tensors(_ index: Int, model: Model) throws(ParityError) -> [(name: String, tensor: Tensor)] {
        if kind == .random {
            let made: [String: RuntimeValue]
            do {
                made = try RandomInputs.make(for: model, shapes: shapes, seed: Self.sampleSeed(seed, index))
            } catch {
                throw .input("random sample \(index): \(error)")
            }
            let g = model.graph
            return g.inputs.compactMap { id in
                let name = g[value: id].name
                return made[name]?.tensor.map { (name, $0) }
            }
        }
        let entry = entries[index]
        do {
            if Self.isDirectory(entry) {
                let prefix = role == .inputs ? "input" : "output"
                let fm = FileManager.default
                if fm.fileExists(atPath: "\(entry)/\(prefix)_0.pb") || fm.fileExists(atPath: "\(entry)/\(prefix)_0.npy") {
                    // Backend test layout: bound by position, so named by it.
                    return try TensorFolder.read(entry, prefix: prefix).enumerated().map { ("\(prefix)_\($0.offset)", $0.element.tensor) }
                }
            }
            return try TensorFiles.read(entry)
        } catch {
            throw .input("\(error)")
        }
    }

    /// Maps a sample's tensors onto `names` (a model's inputs or outputs, in order): by name
    /// when every tensor name is in `names`; by position when none is, every tensor is named
    /// by its position (`input_<k>`, `output_<k>` from the backend test layout, or NumPy's
    /// `arr_<k>` from `numpy.savez` without keywords) and there are no more tensors than names.
    /// Throws naming the first tensor that fits neither way.
    ///
    /// With `ignoreOthers` (golden files, which `modelconv run --outputs all` fills with
    /// intermediates too), tensors not in `names` are dropped when at least one is.
    public static func bind(_ tensors: [(name: String, tensor: Tensor)], to names: [String], sample: String,
                            what: String, ignoreOthers: Bool = false) throws(ParityError) -> [String: Tensor] {
        let known = Set(names)
        var tensors = tensors
        if ignoreOthers, tensors.contains(where: { known.contains($0.name) }) {
            tensors = tensors.filter { known.contains($0.name) }
        }
        if tensors.allSatisfy({ known.contains($0.name) }) {
            var out: [String: Tensor] = [:]
            for (n, t) in tensors { out[n] = t }
            return out
        }
        let positional = tensors.enumerated().allSatisfy { k, t in
            ["input", "output", "arr"].contains { t.name == "\($0)_\(k)" }
        }
        if positional, tensors.allSatisfy({ !known.contains($0.name) }), tensors.count <= names.count {
            var out: [String: Tensor] = [:]
            for (k, (_, t)) in tensors.enumerated() { out[names[k]] = t }
            return out
        }
        let bad = tensors.first { !known.contains($0.name) }!.name
        throw .input("sample '\(sample)': tensor '\(bad)' is not \(what) (expected \(names.map { "'\($0)'" }.joined(separator: ", ")))")
    }

    // MARK: Helpers

    static func stem(_ path: String) -> String {
        var name = path
        while name.count > 1, name.hasSuffix("/") { name.removeLast() }
        name = String(name.split(separator: "/").last ?? Substring(name))
        for ext in [".npz", ".npy", ".pb"] where name.lowercased().hasSuffix(ext) && name.count > ext.count {
            return String(name.dropLast(ext.count))
        }
        return name
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Natural order: digit runs compare by value, the rest by bytes; ties by bytes.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0, j = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                var i2 = i, j2 = j
                while i2 < x.count && isDigit(x[i2]) { i2 += 1 }
                while j2 < y.count && isDigit(y[j2]) { j2 += 1 }
                let p = x[i..<i2].drop { $0 == 0x30 }, q = y[j..<j2].drop { $0 == 0x30 }
                if p.count != q.count { return p.count < q.count }
                if !p.elementsEqual(q) { return p.lexicographicallyPrecedes(q) }
                i = i2
                j = j2
            } else {
                if x[i] != y[j] { return x[i] < y[j] }
                i += 1
                j += 1
            }
        }
        if (x.count - i) != (y.count - j) { return (x.count - i) < (y.count - j) }
        return x.lexicographicallyPrecedes(y)
    }
}

/// A deterministic slice of the samples: index `index` of `count` takes the samples whose
/// index i has i mod count == index (round robin, so shards get equal shares).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(ParityError) {
        guard count >= 1, index >= 0, index < count else {
            throw .usage("--shard \(index)/\(count): expected I/N with 0 <= I < N")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`.
    public init(parsing text: String) throws(ParityError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw .usage("--shard \(text): expected I/N, e.g. 0/4 (shards are numbered from 0)")
        }
        try self.init(index: i, count: n)
    }

    /// The sample indices of this shard among `total`.
    public func indices(of total: Int) -> [Int] { Array(stride(from: index, to: total, by: count)) }

    public var description: String { "\(index)/\(count)" }
}
