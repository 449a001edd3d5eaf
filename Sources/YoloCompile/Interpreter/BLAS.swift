import CKernels

/// OpenBLAS, the interpreter's matrix products: loaded at first use with kernels chosen from the
/// CPU's features (Sources/CKernels/blas.c says why), each call on its caller's thread.
public enum BLAS {
    /// Why OpenBLAS cannot be used, or nil once it is loaded.
    public static let loadError: String? = yc_blas_load().map { String(cString: $0) }

    /// The kernels OpenBLAS runs ("SkylakeX", "Haswell"), for `bench` and bug reports.
    public static var core: String { loadError == nil ? String(cString: yc_blas_core()) : "not loaded" }
}

extension KernelContext {
    /// Refuses the node when OpenBLAS could not be loaded (the kernels that multiply matrices call it first).
    func requireBLAS() throws {
        if let e = BLAS.loadError { throw fail(e) }
    }
}
