import Foundation

/// Owns the C memory of one protobuf-c message tree while it is being packed; frees it all at once.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { free(b) } }

    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = calloc(max(count, 1), MemoryLayout<T>.stride)!
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    func array<T>(_ items: [T]) -> UnsafeMutablePointer<T>? {
        guard !items.isEmpty else { return nil }
        let p = allocate(T.self, count: items.count)
        p.initialize(from: items, count: items.count)
        return p
    }

    func bytes(_ src: UnsafeRawBufferPointer) -> UnsafeMutablePointer<UInt8> {
        let p = allocate(UInt8.self, count: src.count)
        if let base = src.baseAddress { memcpy(p, base, src.count) }
        return p
    }
}
