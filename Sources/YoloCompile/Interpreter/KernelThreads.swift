import CKernels
import Foundation

/// The threads the interpreter's kernels split their work across. The kernels do all the splitting
/// themselves (convolution row blocks, matrix columns, elementwise ranges), so OpenBLAS runs one
/// thread per call (`BLAS`): two levels of threads on two cores would only contend.
///
/// `KernelThreads.$count.withValue(n) { ... }` sets it for a task (the CLI's `--threads`); the default
/// is the machine's active cores.
public enum KernelThreads {
    @TaskLocal public static var count: Int = defaultCount

    public static let defaultCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// The most `--threads` may ask for.
    public static let maximum = 256
}

/// Runs `body` over `0..<count` split into at most `threads` contiguous ranges, at once (the calling
/// thread takes one). Work under `grain` units per range runs inline.
func parallelRanges(_ count: Int, threads: Int, grain: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    let parts = Swift.min(threads, count / Swift.max(grain, 1))
    guard parts > 1 else {
        if count > 0 { body(0..<count) }
        return
    }
    parallelTasks(parts, threads: parts) { _, p in body(count * p / parts..<count * (p + 1) / parts) }
}

/// Runs `body(worker, task)` for every task in `0..<count` on at most `threads` workers (the calling
/// thread and the pool's, Sources/CKernels/pool.c), each taking the next task when it finishes one
/// (tasks of uneven cost balance themselves). `worker` is in `0..<parallelWorkers(count, threads)`,
/// so a caller can give each worker its own scratch buffer.
func parallelTasks(_ count: Int, threads: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
    let workers = parallelWorkers(count, threads: threads)
    guard workers > 1 else {
        for t in 0..<count { body(0, t) }
        return
    }
    withoutActuallyEscaping(body) { body in
        var task = body
        withUnsafeMutablePointer(to: &task) { context in
            yc_parallel_for(count, workers, { context, worker, task in
                context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(worker, task)
            }, context)
        }
    }
}

/// How many workers `parallelTasks` uses for `count` tasks.
func parallelWorkers(_ count: Int, threads: Int) -> Int { Swift.max(1, Swift.min(threads, count)) }

/// `f` of every element, the array split across `threads` (each element computed alone, so the split
/// changes nothing).
func parallelMap<T, R>(_ v: [T], threads: Int, _ f: (T) -> R) -> [R] {
    guard !v.isEmpty else { return [] }
    return [R](unsafeUninitializedCapacity: v.count) { yb, initialized in
        v.withUnsafeBufferPointer { vb in
            let (vp, yp) = (vb.baseAddress!, yb.baseAddress!)
            parallelRanges(v.count, threads: threads) { r in
                for i in r { (yp + i).initialize(to: f(vp[i])) }
            }
        }
        initialized = v.count
    }
}
