import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks a zip's structure before ZIPFoundation reads it: ZIPFoundation trusts sizes and offsets it
/// finds (a zip64 offset of 2^63 traps converting to off_t; a size that lies past the file makes a
/// stored read loop), so every claim is held to the file here first:
/// - the end record lies in the last 65,557 bytes (22 + the longest comment), and a zip64 end record,
///   if the locator names one, lies inside the file;
/// - the central directory lies before the end record, and holds as many headers as it says;
/// - each entry's local header, name, extra field and data lie inside the file (sizes and offsets
///   from zip64 extra fields where the 32-bit ones are 0xFFFFFFFF), a stored entry's sizes agree,
///   and a data descriptor, if the entry has one, repeats the central directory's sizes.
/// Only the end of the file and the headers are read, never the data.
enum ZipStructure {
    struct Failure: Error { var message: String }

    static func check(fd: Int32, size: Int) throws {
        func fail(_ m: String) -> Failure { Failure(message: m) }
        func read(_ offset: Int, _ count: Int) throws -> [UInt8] {
            guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
                throw fail("its structure points past the end of the file (offset \(offset), \(count) bytes, file \(size) bytes)")
            }
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count {
                let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, count - got, off_t(offset + got)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw fail("cannot be read (\(String(cString: strerror(errno))))") }
                got += n
            }
            return out
        }
        func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ b: [UInt8], _ i: Int) -> Int { u16(b, i) | u16(b, i + 2) << 16 }
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }
        func fits(_ v: UInt64, _ what: String, entry: String? = nil) throws -> Int {
            guard v <= UInt64(size) else {
                throw fail((entry.map { "zip entry \($0.bounded(120)): " } ?? "") + "claims \(what) \(v), past the file's \(size) bytes")
            }
            return Int(v)
        }

        // The end of central directory record: the last signature in the file's tail.
        guard size >= 22 else { throw fail("is too short for a zip (\(size) bytes)") }
        let tailStart = max(0, size - 22 - 0xFFFF)
        let tail = try read(tailStart, size - tailStart)
        guard let eocdInTail = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
            tail[$0] == 0x50 && tail[$0 + 1] == 0x4B && tail[$0 + 2] == 0x05 && tail[$0 + 3] == 0x06
        }) else { throw fail("has no end of central directory record in its last 64 KiB (truncated?)") }
        let eocd = tailStart + eocdInTail
        let e = Array(tail[eocdInTail..<(eocdInTail + 22)])
        var entries = u16(e, 10), cdSize = u32(e, 12), cdOffset = u32(e, 16)
        var cdEnd = eocd

        // A zip64 locator just before it names the zip64 end record.
        if eocd >= 20 {
            let loc = try read(eocd - 20, 20)
            if u32(loc, 0) == 0x0706_4B50 {
                let at = try fits(u64(loc, 8), "a zip64 end record at")
                let z = try read(at, 56)
                guard u32(z, 0) == 0x0606_4B50 else { throw fail("has a zip64 locator that points at no zip64 end record") }
                entries = try fits(u64(z, 32), "an entry count of")
                cdSize = try fits(u64(z, 40), "a central directory size of")
                cdOffset = try fits(u64(z, 48), "a central directory at")
                cdEnd = at
            }
        }
        guard cdOffset <= cdEnd, cdSize <= cdEnd - cdOffset else {
            throw fail("claims a central directory of \(cdSize) bytes at \(cdOffset), which does not fit before its end record at \(cdEnd)")
        }
        guard entries <= cdSize / 46 else { throw fail("claims \(entries) entries in a central directory of \(cdSize) bytes") }

        let cd = try read(cdOffset, cdSize)
        var p = 0
        for k in 0..<entries {
            guard p + 46 <= cd.count, u32(cd, p) == 0x0201_4B50 else { throw fail("central directory header \(k) is missing or corrupt") }
            let flags = u16(cd, p + 8), method = u16(cd, p + 10)
            var compressed = UInt64(u32(cd, p + 20)), uncompressed = UInt64(u32(cd, p + 24))
            var local = UInt64(u32(cd, p + 42))
            let n = u16(cd, p + 28), x = u16(cd, p + 30), c = u16(cd, p + 32)
            guard p + 46 + n + x + c <= cd.count else { throw fail("central directory header \(k) runs past the directory") }
            let name = String(decoding: cd[(p + 46)..<(p + 46 + n)], as: UTF8.self)
            func bad(_ m: String) -> Failure { fail("zip entry \(name.bounded(120)): \(m)") }
            // zip64 extra field (id 1): the 64-bit values, in this order, for those whose 32-bit field is all ones.
            let zip64 = compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || local == 0xFFFF_FFFF
            var q = p + 46 + n
            let extraEnd = q + x
            while q + 4 <= extraEnd {
                let id = u16(cd, q), len = u16(cd, q + 2)
                guard q + 4 + len <= extraEnd else { throw bad("its extra field runs past the header") }
                if id == 1 {
                    var r = q + 4
                    func next() throws -> UInt64 {
                        guard r + 8 <= q + 4 + len else { throw bad("its zip64 extra field is too short") }
                        defer { r += 8 }
                        return u64(cd, r)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                q += 4 + len
            }
            let compressedSize = try fits(compressed, "a compressed size of", entry: name)
            let localOffset = try fits(local, "a local header at", entry: name)
            if method == 0 {
                guard uncompressed == compressed else { throw bad("is stored, but claims \(uncompressed) bytes from \(compressed)") }
            }
            let header = try read(localOffset, 30)
            guard u32(header, 0) == 0x0403_4B50 else { throw bad("has no local header at \(localOffset)") }
            let dataStart = localOffset + 30 + u16(header, 26) + u16(header, 28)
            guard dataStart <= size, compressedSize <= size - dataStart else {
                throw bad("claims \(compressedSize) bytes of data at \(dataStart), past the file's \(size) bytes")
            }
            // A data descriptor must agree with the central directory (ZIPFoundation reads sizes from both).
            if flags & 0x08 != 0 {
                let at = dataStart + compressedSize
                let d = try read(at, min(24, size - at))
                let skip = d.count >= 4 && u32(d, 0) == 0x0807_4B50 ? 4 : 0
                let width = zip64 ? 8 : 4
                guard d.count >= skip + 4 + 2 * width else { throw bad("its data descriptor is missing") }
                let dc = width == 8 ? u64(d, skip + 4) : UInt64(u32(d, skip + 4))
                let du = width == 8 ? u64(d, skip + 4 + width) : UInt64(u32(d, skip + 4 + width))
                guard dc == compressed, du == uncompressed else {
                    throw bad("its data descriptor claims \(du) bytes from \(dc), the central directory \(uncompressed) from \(compressed)")
                }
            }
            p += 46 + n + x + c
        }
    }
}
