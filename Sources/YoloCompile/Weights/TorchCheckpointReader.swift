import Foundation
import ZIPFoundation

/// torch.save's zip format (PyTorch >= 1.6): `ARCHIVE/data.pkl` (the pickled object, tensors as
/// persistent ids) and `ARCHIVE/data/KEY` (raw little-endian storages). Reads a state_dict (a dict of
/// tensors) or a YOLOv5 training checkpoint (`model` or `ema`: a pickled DetectionModel whose module
/// tree holds every parameter and buffer, and whose `yaml` attribute is the config). Storages are read
/// one at a time when a tensor is bound, so memory stays near the size of what is bound.
public enum TorchCheckpointReader {
    public static func open(_ path: String) throws -> WeightStore {
        let (fd, size) = try InputFiles.open(path, expected: "a PyTorch checkpoint") { WeightsError(file: path, $0) }
        do { try ZipStructure.check(fd: fd, size: size) } catch let e as ZipStructure.Failure {
            close(fd)
            throw WeightsError(file: path, e.message)
        }
        close(fd)
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw WeightsError(file: path, "is not a readable zip archive (truncated or corrupt): \(error)")
        }
        return try read(archive, fileSize: size, path: path)
    }

    static func read(_ archive: Archive, fileSize: Int, path: String) throws -> WeightStore {
        guard let pkl = archive.first(where: { $0.path.hasSuffix("data.pkl") && $0.path.split(separator: "/").count == 2 }) else {
            throw WeightsError(file: path, "is a zip without ARCHIVE/data.pkl, so not a torch.save checkpoint")
        }
        let prefix = String(pkl.path.dropLast("data.pkl".count))
        let pickleBytes = try readEntry(archive, pkl, path: path, limit: 1 << 30, fileSize: fileSize, what: "data.pkl")

        let unpickler = Unpickler(bytes: pickleBytes, file: path) { pid in
            // ('storage', storage_type, key, location, numel)
            guard let t = pid.items, t.count >= 5, t[0].string == "storage", let key = t[2].string,
                  case .int(let count) = t[4]
            else { throw WeightsError(file: path, "unsupported persistent id \(pid)") }
            guard case .global(let cls) = t[1], let dtype = TorchDType(storageClass: String(cls.split(separator: ".").last ?? "")) else {
                throw WeightsError(file: path, "storage \(key) has unsupported type \(t[1])")
            }
            // The storage's bytes must be countable (they are checked against its zip entry when read).
            guard count >= 0, !count.multipliedReportingOverflow(by: dtype.byteSize).overflow else {
                throw WeightsError(file: path, "storage \(key) claims \(count) elements")
            }
            return .storage(TorchStorage(key: key, dtype: dtype, count: count))
        }
        let root = try unpickler.load()

        func tensorEntry(_ name: String, _ t: TorchTensor) throws -> WeightEntry {
            guard let count = ShapeRules.elementCount(t.shape) else { throw WeightsError(file: path, "tensor \(name): invalid shape \(t.shape)") }
            // The furthest element the view reads must lie inside the storage (checked: offsets and
            // strides come from the file).
            if count > 0 {
                guard let last = viewEnd(t), last < t.storage.count else {
                    throw WeightsError(file: path, "tensor \(name): a view of offset \(t.offset), shape \(t.shape) and strides \(t.strides) reaches past storage \(t.storage.key), which has \(t.storage.count) elements")
                }
            }
            return WeightEntry(shape: t.shape, dtype: t.storage.dtype.rawValue, loader: {
                let entryPath = prefix + "data/" + t.storage.key
                guard let entry = archive[entryPath] else {
                    throw WeightsError(file: path, "tensor \(name): storage \(entryPath) is missing from the archive")
                }
                let need = t.storage.count * t.storage.dtype.byteSize
                guard Int(clamping: entry.uncompressedSize) >= need else {
                    throw WeightsError(file: path, "tensor \(name): storage \(entryPath) holds \(entry.uncompressedSize) bytes, \(t.storage.count) \(t.storage.dtype.rawValue) elements need \(need)")
                }
                let bytes = try readEntry(archive, entry, path: path, limit: need, fileSize: fileSize, what: "tensor \(name)")
                guard bytes.count >= need else {
                    throw WeightsError(file: path, "tensor \(name): storage \(entryPath) gave \(bytes.count) bytes, needs \(need)")
                }
                // An empty view reads nothing (its offset may be anything).
                if count == 0 {
                    return t.storage.dtype.isFloat ? Tensor(shape: t.shape, floats: []) : Tensor(shape: t.shape, ints: [])
                }
                let contiguous = t.strides == contiguousStrides(t.shape) || count <= 1
                return try bytes.withUnsafeBytes { raw in
                    let size = t.storage.dtype.byteSize
                    if contiguous {
                        let slice = UnsafeRawBufferPointer(rebasing: raw[(t.offset * size)..<((t.offset + count) * size)])
                        guard let v = decodeTensor(slice, dtype: t.storage.dtype.rawValue, shape: t.shape) else {
                            throw WeightsError(file: path, "tensor \(name): unsupported dtype \(t.storage.dtype.rawValue)")
                        }
                        return v
                    }
                    // A strided view: decode the whole storage, then gather.
                    guard let whole = decodeTensor(raw, dtype: t.storage.dtype.rawValue, shape: [t.storage.count]) else {
                        throw WeightsError(file: path, "tensor \(name): unsupported dtype \(t.storage.dtype.rawValue)")
                    }
                    return whole.isFloat
                        ? Tensor(shape: t.shape, floats: gatherStrided(whole.floats, t.shape, t.offset, t.strides))
                        : Tensor(shape: t.shape, ints: gatherStrided(whole.ints, t.shape, t.offset, t.strides))
                }
            })
        }

        // A YOLOv5 or Ultralytics checkpoint: {'model': DetectionModel, 'ema': ..., ...}; prefer ema as
        // attempt_load does (Ultralytics' final checkpoints hold the EMA weights under 'model', 'ema' None).
        if let top = root.dict, let model = (top["ema"]?.object ?? top["model"]?.object) {
            let family = model.className.hasPrefix("ultralytics.") ? "Ultralytics" : "YOLOv5"
            let store = WeightStore(file: path, format: "\(family) checkpoint")
            try walkModule(model, prefix: "", store: store) { try tensorEntry($0, $1) }
            guard case .dict(let yaml)? = model["yaml"] else {
                throw WeightsError(file: path, "the checkpoint's model (\(model.className)) has no yaml config attribute")
            }
            // YOLOv5 keeps the file name on the model; Ultralytics inside the config dict, with its path.
            let yamlFile = model["yaml_file"]?.string ?? yaml["yaml_file"]?.string
            let fileName = yamlFile.map { ($0 as NSString).lastPathComponent } ?? "model.yaml"
            store.embeddedConfig = (try EmbeddedConfig.yaml(from: yaml, file: path), fileName)
            if let names = model["names"] {
                if let l = names.items { store.classNames = l.map { $0.string ?? "\($0)" } }
                else if let d = names.dict { store.classNames = d.entries.map { $0.value.string ?? "\($0.value)" } }
            }
            return store
        }
        // A state_dict, possibly wrapped as {'state_dict': ...} or {'model': {...}}.
        var dict = root.dict
        if let d = dict, d["state_dict"]?.dict != nil { dict = d["state_dict"]?.dict }
        else if let d = dict, let m = d["model"]?.dict { dict = m }
        guard let sd = dict else { throw WeightsError(file: path, "holds \(root), not a state_dict or a YOLOv5 checkpoint") }
        let store = WeightStore(file: path, format: "PyTorch state_dict")
        for (k, v) in sd.entries {
            guard let name = k.string, case .tensor(let t) = v else { continue }
            store.add(name, try tensorEntry(name, t))
        }
        guard !store.names.isEmpty else { throw WeightsError(file: path, "holds a dict with no tensors") }
        return store
    }

    /// The furthest storage element a strided view reads, or nil if it overflows.
    static func viewEnd(_ t: TorchTensor) -> Int? {
        var last = t.offset
        for (d, s) in zip(t.shape, t.strides) where d > 0 {
            let (step, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { return nil }
            last = sum
        }
        return last
    }

    /// How deep a module tree may nest, how long a state_dict name may be, and how many modules and
    /// tensors a walk may visit: a checkpoint whose `_modules` hold themselves (a cycle), nest without
    /// end, or share children so that the paths multiply is refused, not followed.
    static let maxModuleDepth = 256, maxNameLength = 4096, maxVisits = 1 << 22, maxNameBytes = 64 << 20

    /// state_dict names from an nn.Module tree: `_parameters` and persistent `_buffers` of each
    /// module, children from `_modules`, joined with dots. Also records BatchNorm eps. Walked with an
    /// explicit stack, in PyTorch's order (a module's own tensors, then each child's).
    static func walkModule(_ root: PyObject, prefix rootPrefix: String, store: WeightStore,
                           entry: (String, TorchTensor) throws -> WeightEntry) throws
    {
        var pending: [(module: PyObject, prefix: String, depth: Int)] = [(root, rootPrefix, 0)]
        var visits = 0, nameBytes = 0
        func refuse(_ m: String) -> WeightsError { WeightsError(file: store.file, m) }
        while let (m, prefix, depth) = pending.popLast() {
            guard depth <= maxModuleDepth else {
                throw refuse("the module tree nests deeper than \(maxModuleDepth) levels (a module that contains itself?) at \(prefix.prefix(120))...")
            }
            let nonPersistent = Set(m["_non_persistent_buffers_set"]?.items?.compactMap(\.string) ?? [])
            for key in ["_parameters", "_buffers"] {
                for (k, v) in m[key]?.dict?.entries ?? [] {
                    visits += 1
                    guard visits <= maxVisits else { throw refuse("the module tree holds more than \(maxVisits) modules and tensors") }
                    guard let name = k.string, case .tensor(let t) = v else { continue }
                    if key == "_buffers" && nonPersistent.contains(name) { continue }
                    guard prefix.utf8.count + name.utf8.count <= maxNameLength else {
                        throw refuse("a state_dict name is longer than \(maxNameLength) bytes: \(prefix.prefix(120))...")
                    }
                    // Shared children multiply the names: their total is bounded too.
                    nameBytes += prefix.utf8.count + name.utf8.count
                    guard nameBytes <= maxNameBytes else { throw refuse("the module tree's state_dict names exceed \(maxNameBytes) bytes") }
                    store.add(prefix + name, try entry(prefix + name, t))
                }
            }
            if m.className.hasSuffix("BatchNorm2d"), case .float(let eps)? = m["eps"] {
                store.batchNormEpsilon[String(prefix.dropLast())] = Float(eps)
            }
            var children: [(PyObject, String, Int)] = []
            for (k, v) in m["_modules"]?.dict?.entries ?? [] {
                visits += 1
                guard visits <= maxVisits else { throw refuse("the module tree holds more than \(maxVisits) modules and tensors") }
                guard let name = k.string, let child = v.object else { continue }
                guard prefix.utf8.count + name.utf8.count < maxNameLength else {
                    throw refuse("a module path is longer than \(maxNameLength) bytes: \(prefix.prefix(120))...")
                }
                children.append((child, prefix + name + ".", depth + 1))
            }
            pending += children.reversed()
        }
    }

    /// An entry's bytes (`ZipStructure` has checked the sizes and offsets against the file). Refused
    /// before anything is allocated: a compressed entry, a size above `limit` or the memory limit, or
    /// more bytes than the file holds. Refused after reading: more bytes than declared, fewer, or a
    /// CRC-32 other than the one the zip records.
    static func readEntry(_ archive: Archive, _ entry: Entry, path: String, limit: Int, fileSize: Int, what: String) throws -> [UInt8] {
        func corrupt(_ m: String) -> WeightsError { WeightsError(file: path, "\(what): zip entry \(entry.path) \(m)") }
        guard entry.type == .file else { throw corrupt("is a \(entry.type == .symlink ? "symbolic link" : "directory"), not a file") }
        // torch.save stores every entry; ZIPFoundation's inflate on Linux reads past an entry's compressed
        // bytes until its stream ends (a truncated stream spins), so compressed entries are refused.
        guard !entry.isCompressed else {
            throw corrupt("is compressed; torch.save stores its entries uncompressed (resave the checkpoint with torch.save)")
        }
        let declared = entry.uncompressedSize
        guard declared <= UInt64(max(limit, 0)) else {
            throw corrupt("claims \(declared) bytes, more than expected (\(limit))")
        }
        try MemoryLimit.check(Int(declared), for: "\(what) (zip entry \(entry.path))", file: path)
        guard entry.compressedSize <= UInt64(fileSize) else {
            throw corrupt("claims \(entry.compressedSize) bytes of data, the file has \(fileSize)")
        }
        guard declared <= entry.compressedSize else {
            throw corrupt("claims \(declared) bytes from \(entry.compressedSize) stored bytes")
        }
        var out = [UInt8]()
        out.reserveCapacity(Int(declared))
        let crc: CRC32
        do {
            crc = try archive.extract(entry, skipCRC32: false) { chunk in
                guard UInt64(out.count + chunk.count) <= declared else { throw Archive.ArchiveError.invalidEntrySize }
                out.append(contentsOf: chunk)
            }
        } catch Archive.ArchiveError.invalidEntrySize {
            throw corrupt("holds more than the \(declared) bytes it declares")
        } catch {
            throw corrupt("cannot be read (truncated or corrupt): \(error)")
        }
        guard UInt64(out.count) == declared else { throw corrupt("holds \(out.count) bytes, declares \(declared)") }
        guard crc == entry.checksum else {
            throw corrupt(String(format: "is corrupt: its CRC-32 is %08x, the zip records %08x", crc, entry.checksum))
        }
        return out
    }
}
