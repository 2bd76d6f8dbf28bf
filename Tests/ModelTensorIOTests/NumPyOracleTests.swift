import Testing
import Foundation
import ModelIR
import ModelONNX
@testable import ModelTensorIO

/// NumPy and onnx read what modelconv writes (skipped without the oracle venv).
@Suite("numpy reads modelconv's output", .enabled(if: Oracle.python != nil,
                                                  "needs the oracle venv (source scripts/lib/python-env.sh)"))
struct NumPyOracleTests {
    /// For every .npy in `out`: numpy.load must give the fixture's array (as numpy loads it,
    /// made little-endian and C-ordered). Both .npz files must hold the same arrays in the
    /// same order, with the member compression asked for. Each .pb must read with
    /// onnx.load_tensor as the fixture .pb of the same name does.
    static let script = #"""
    import os, sys, zipfile
    import numpy as np
    import onnx
    from onnx import numpy_helper
    out, fixtures = sys.argv[1], sys.argv[2]
    bad, checked = [], 0
    def ref(name):
        a = np.load(os.path.join(fixtures, name))
        return np.asarray(a.astype(a.dtype.newbyteorder("<")), order="C")  # (ascontiguousarray makes 0-d 1-d)
    def same(a, b):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    npys = sorted(f for f in os.listdir(out) if f.endswith(".npy"))
    for f in npys:
        checked += 1
        if not same(np.load(os.path.join(out, f)), ref(f)):
            bad.append(f)
    for z, method in (("stored.npz", zipfile.ZIP_STORED), ("deflated.npz", zipfile.ZIP_DEFLATED)):
        with np.load(os.path.join(out, z)) as npz:
            if list(npz.keys()) != [f[:-4] for f in npys]:
                bad.append(z + ": keys " + str(list(npz.keys())))
            for k in npz.keys():
                checked += 1
                if not same(npz[k], ref(k + ".npy")):
                    bad.append(z + ":" + k)
        with zipfile.ZipFile(os.path.join(out, z)) as zf:
            if zf.testzip() is not None or any(i.compress_type != method for i in zf.infolist()):
                bad.append(z + ": CRC or compression method")
    for f in sorted(f for f in os.listdir(out) if f.endswith(".pb")):
        checked += 1
        mine, theirs = onnx.load_tensor(os.path.join(out, f)), onnx.load_tensor(os.path.join(fixtures, f))
        a, b = numpy_helper.to_array(mine), numpy_helper.to_array(theirs)
        values = list(a.flat) == list(b.flat) if a.dtype == object else a.tobytes() == b.tobytes()
        if mine.name != theirs.name or mine.data_type != theirs.data_type or a.shape != b.shape or not values:
            bad.append(f)
    print("checked", checked)
    if bad:
        print("MISMATCH", bad)
        sys.exit(1)
    """#

    @Test func numpyAndONNXReadWhatModelconvWrites() throws {
        let dir = TempDir()
        var tensors: [(name: String, tensor: Tensor)] = []
        for (file, _) in Fixtures.npy {
            let t = try NPYFile.read(path: Fixtures.path(file))
            try NPYFile.write(t, to: dir.file(file))
            tensors.append((String(file.dropLast(4)), t))
        }
        try NPZFile.write(tensors, to: dir.file("stored.npz"))
        try NPZFile.write(tensors, to: dir.file("deflated.npz"), compressed: true)
        let pbs = Fixtures.section("pb").keys.filter { !$0.hasPrefix("/") }
        for file in pbs {
            try ONNXTensorFile.write(try ONNXTensorFile.read(path: Fixtures.path(file)), to: dir.file(file))
        }
        let (status, output) = try Oracle.run(Self.script, [dir.path, Fixtures.dir])
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked \(3 * Fixtures.npy.count + pbs.count)"), "\(output)")
    }
}
