import ModelONNX

/// Why a tensor file could not be read or written. `description` is one line that names the
/// file (and the .npz member or the tensor) and the problem; the CLI prints it as is.
public enum TensorFileError: Error, CustomStringConvertible, Sendable {
    /// The file or folder could not be opened, mapped or listed.
    case unreadable(file: String, reason: String)
    /// The bytes are not a well-formed file of their kind (bad magic, a header that does
    /// not parse or runs past the end, data shorter than the shape needs, a broken zip).
    /// `member` is the .npz member, when the problem is inside one.
    case malformed(file: String, member: String?, reason: String)
    /// A well-formed file holding something modelconv does not read: Fortran order, object
    /// or string arrays, a dtype with no ONNX equivalent, a non-.npy member.
    case unsupported(file: String, member: String?, reason: String)
    /// An .npz member whose declared size would take the inflated total past the cap, or
    /// that inflates to more than it declared.
    case tooLarge(file: String, member: String, reason: String)
    /// A tensor or member name that is unsafe where it would be used as a path.
    case unsafeName(file: String, name: String, reason: String)
    /// A tensor that has no representation in the requested format (bfloat16 in .npy...).
    case cannotWrite(file: String, tensor: String, reason: String)
    /// The output could not be written (nothing is left at the destination).
    case writeFailed(file: String, reason: String)
    /// An error from the ONNX layer while reading or writing a TensorProto `.pb` file
    /// (its description names the file).
    case onnx(ONNXError)

    /// One line: control and line-separator characters that came from a file (member
    /// names, header text) are shown escaped (`\u{A}`).
    public var description: String { Self.oneLine(text) }

    private var text: String {
        func inside(_ file: String, _ member: String?) -> String {
            member.map { "\(file): member '\($0)'" } ?? file
        }
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read: \(r)"
        case .malformed(let f, let m, let r): return "\(inside(f, m)): malformed: \(r)"
        case .unsupported(let f, let m, let r): return "\(inside(f, m)): unsupported: \(r)"
        case .tooLarge(let f, let m, let r): return "\(f): member '\(m)': too large: \(r)"
        case .unsafeName(let f, let n, let r): return "\(f): name '\(n)': \(r)"
        case .cannotWrite(let f, let t, let r): return "\(f): tensor '\(t)': cannot write: \(r)"
        case .writeFailed(let f, let r): return "\(f): cannot write: \(r)"
        case .onnx(let e): return e.description
        }
    }

    static func oneLine(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u.value < 0x20 || (0x7f...0x9f).contains(u.value) || u.value == 0x2028 || u.value == 0x2029 {
                out.append(contentsOf: "\\u{\(String(u.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }
}
