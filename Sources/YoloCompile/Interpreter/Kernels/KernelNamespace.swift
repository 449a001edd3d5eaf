/// The interpreter's kernels, in files by operator family under Kernels/; each operator's
/// declaration (Operators/) names its kernel.
public enum Kernels {}
