import Foundation

/// The ceiling on memory sized by what an input declares: a config's parameter shapes, a zip entry's
/// size, a tensor the interpreter is about to compute. Every such size is checked here before it is
/// allocated, and a size above the ceiling is refused with the numbers, so a file of a few hundred
/// bytes cannot ask for gigabytes. Decoders are bounded by the bytes actually present (a tensor read
/// from a file is never larger than the file), so the rule the README states holds: memory is at most
/// the input files, plus the model's own declared tensors, plus a constant, and all of it under this
/// ceiling. The default is half the machine's memory; `--memory-limit` sets it for one command.
public enum MemoryLimit {
    /// The ceiling for the current task (`MemoryLimit.$bytes.withValue(n) { ... }` sets it).
    @TaskLocal public static var bytes: Int = defaultBytes

    /// Half the physical memory, at least 1 GiB.
    public static let defaultBytes: Int = max(1 << 30, Int(clamping: ProcessInfo.processInfo.physicalMemory / 2))

    public static var current: Int { bytes }

    /// Refuses `need` bytes for `what` when they exceed the ceiling.
    public static func check(_ need: Int, for what: String, file: String) throws {
        if let m = refusal(need, for: what) { throw MemoryLimitError(file: file, message: m) }
    }

    /// The message refusing `need` bytes for `what`, or nil when they fit.
    public static func refusal(_ need: Int, for what: String) -> String? {
        guard need > current else { return nil }
        return "\(what) needs \(describe(need)), more than the memory limit of \(describe(current)) (--memory-limit raises it)"
    }

    /// Bytes for `count` elements of `elementSize`, saturating (a count from a file may be anything).
    public static func byteCount(_ count: Int, elementSize: Int) -> Int {
        let (n, o) = count.multipliedReportingOverflow(by: elementSize)
        return o || count < 0 ? Int.max : n
    }

    /// `1234567 bytes (1.2 MiB)`, exact first so tests and users can compare.
    public static func describe(_ n: Int) -> String {
        guard n != Int.max else { return "more than 2^63 bytes" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(n), u = -1
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u < 0 ? "\(n) bytes" : "\(n) bytes (\(String(format: "%.1f", v)) \(units[u]))"
    }

    /// Parses `--memory-limit` values: a byte count with an optional K, M, G or T suffix (powers of 1024).
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let scale: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(t)
        var factor = 1
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        if let last = digits.last, let f = scale[last] { factor = f; digits = digits.dropLast() }
        guard let v = Int(digits), v > 0 else { return nil }
        let (n, o) = v.multipliedReportingOverflow(by: factor)
        return o ? nil : n
    }
}

/// A size an input declares that the memory limit does not allow.
public struct MemoryLimitError: FileError, Equatable {
    public var file: String
    public var message: String
}
