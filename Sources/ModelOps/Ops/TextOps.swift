import ModelIR

/// TfIdfVectorizer (9): n-gram counts of each row of `X` (`[C]` or `[B, C]`, int32/int64 or
/// string) against the pool of n-grams in the attributes, as `onnx.reference` (and
/// onnxruntime) compute them:
/// - the pool (`pool_int64s` or `pool_strings`) holds the n-grams of size 1, 2, ... back to
///   back, `ngram_counts[i]` being where size i + 1 starts; the n-gram numbered k (from 0,
///   in pool order, sizes outside `min_gram_length...max_gram_length` included in the
///   numbering) counts into output column `ngram_indexes[k]`;
/// - n-grams are matched with every skip distance 1...`max_skip_count` + 1 between items
///   (unigrams once);
/// - `mode` TF gives counts, IDF `weights[j]` (or 1) where the count is non-zero, TFIDF
///   `weights[j] * count` (or the count). Output float32 `[B, max(ngram_indexes) + 1]`
///   (`[max + 1]` for 1-D input).
enum TextOps {
    static let schemas: [OpSchema] = [
        OpSchema("TfIdfVectorizer", versions: [9]) { ctx in [.tensor(try tfIdfVectorizer(ctx))] },
    ]

    /// An item of the pool or of X.
    enum Item: Hashable { case integer(Int64), text([UInt8]) }

    /// A trie of the pool's n-grams: node 0 is the root; `id` 0 marks "not an n-gram end".
    struct Trie {
        var ids: [Int] = [0]
        var children: [[Item: Int]] = [[:]]

        /// The child of `node` for `item`, created (with id 0) when missing.
        mutating func child(_ node: Int, _ item: Item) -> Int {
            if let c = children[node][item] { return c }
            ids.append(0)
            children.append([:])
            children[node][item] = ids.count - 1
            return ids.count - 1
        }
    }

    static func tfIdfVectorizer(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard let mode = ctx.string("mode"), ["TF", "IDF", "TFIDF"].contains(mode) else {
            throw OpError.invalid("attribute 'mode' must be TF, IDF or TFIDF, got \(ctx.string("mode") ?? "nothing")")
        }
        guard let minGram = ctx.int("min_gram_length"), let maxGram = ctx.int("max_gram_length"),
              let maxSkip = ctx.int("max_skip_count"), let counts = ctx.ints("ngram_counts"),
              let indexes = ctx.ints("ngram_indexes"), !indexes.isEmpty else {
            throw OpError.invalid("min_gram_length, max_gram_length, max_skip_count, ngram_counts and ngram_indexes are required")
        }
        guard minGram >= 1, maxGram >= minGram, maxSkip >= 0, indexes.allSatisfy({ $0 >= 0 }) else {
            throw OpError.invalid("gram lengths \(minGram)...\(maxGram), max_skip_count \(maxSkip) or ngram_indexes are out of range")
        }
        let pool: [Item]
        if let ints = ctx.ints("pool_int64s"), !ints.isEmpty {
            pool = ints.map { .integer(Int64($0)) }
        } else if case .strings(let s)? = ctx.attribute("pool_strings") {
            pool = s.map { .text($0) }
        } else {
            pool = []
        }
        let weights = ctx.floats("weights") ?? []
        let outputSize = (indexes.max() ?? 0) + 1
        guard weights.isEmpty || weights.count >= outputSize else {
            throw OpError.invalid("weights has \(weights.count) values; expected \(outputSize)")
        }

        // Build the trie exactly as the reference's populate_grams (later duplicates win).
        var trie = Trie()
        var ngramID = 1
        for (i, start) in counts.enumerated() {
            let end = i + 1 < counts.count ? counts[i + 1] : pool.count
            let size = i + 1
            guard start >= 0, start <= end, end <= pool.count else {
                throw OpError.invalid("ngram_counts \(counts) do not fit a pool of \(pool.count) items")
            }
            let grams = (end - start) / size
            guard grams > 0 else { continue }
            if size < minGram || size > maxGram {
                ngramID += grams
                continue
            }
            var at = start
            for _ in 0..<grams {
                var node = 0
                for n in 1...size {
                    node = trie.child(node, pool[at])
                    at += 1
                    if n == size {
                        trie.ids[node] = ngramID
                        ngramID += 1
                    }
                }
            }
        }
        guard ngramID - 1 <= indexes.count else {
            throw OpError.invalid("the pool has \(ngramID - 1) n-grams but ngram_indexes only \(indexes.count) entries")
        }

        let items: [Item]
        switch x.dtype {
        case .int64: items = x.elements(Int64.self).map { .integer($0) }
        case .int32: items = x.elements(Int32.self).map { .integer(Int64($0)) }
        case .string:
            guard case .strings(let s) = x.storage else { throw OpError.invalid("string input without strings") }
            items = s.map { .text($0) }
        default: throw OpError.unsupported("X of type \(x.dtype) (int32, int64 or string expected)")
        }
        let rows: Int, columns: Int
        switch x.dims.count {
        case 0: (rows, columns) = (1, 1)
        case 1: (rows, columns) = (1, x.dims[0])
        case 2:
            guard x.dims[0] >= 1 else { throw OpError.invalid("X \(Shape(x.dims)) must have B > 0") }
            (rows, columns) = (x.dims[0], x.dims[1])
        default: throw OpError.invalid("X must be [C] or [B, C], got \(Shape(x.dims))")
        }

        var frequencies = [Int](repeating: 0, count: rows * outputSize)
        for row in 0..<rows where !trie.children[0].isEmpty {
            let begin = row * columns, end = begin + columns
            var startSize = minGram
            for skip in 1...(maxSkip + 1) {
                var start = begin
                while start < end {
                    if start + skip * (startSize - 1) >= end { break }
                    var item = start, node = 0, size = 1
                    while !trie.children[node].isEmpty && size <= maxGram && item < end {
                        guard let next = trie.children[node][items[item]] else { break }
                        let id = trie.ids[next]
                        if size >= startSize && id != 0 { frequencies[row * outputSize + indexes[id - 1]] += 1 }
                        node = next
                        size += 1
                        item += skip
                    }
                    start += 1
                }
                // Unigrams are counted once: they do not depend on the skip distance.
                if startSize == 1 {
                    startSize += 1
                    if startSize > maxGram { break }
                }
            }
        }
        let values = frequencies.indices.map { p -> Float in
            let f = frequencies[p], w = weights.isEmpty ? nil : weights[p % outputSize]
            switch mode {
            case "TF": return Float(f)
            case "IDF": return f > 0 ? (w ?? 1) : 0
            default: return (w ?? 1) * Float(f)
            }
        }
        let dims = x.dims.count == 2 ? [rows, outputSize] : [outputSize]
        return Tensor.of(values, dims: dims)
    }
}
