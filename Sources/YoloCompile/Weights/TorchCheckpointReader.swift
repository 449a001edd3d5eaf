import Foundation
import ZIPFoundation

/// torch.save's zip format (PyTorch >= 1.6): `ARCHIVE/data.pkl` (the pickled object, tensors as
/// persistent ids) and `ARCHIVE/data/KEY` (raw little-endian storages). Reads a state_dict (a dict of
/// tensors) or a YOLOv5 training checkpoint (`model` or `ema`: a pickled DetectionModel whose module
/// tree holds every parameter and buffer, and whose `yaml` attribute is the config). Storages are read
/// one at a time when a tensor is bound, so memory stays near the size of what is bound.
public enum TorchCheckpointReader {
    public static func open(_ path: String) throws -> WeightStore {
        try InputFiles.checkRegular(path, expected: "a PyTorch checkpoint") { WeightsError(file: path, $0) }
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw WeightsError(file: path, "is not a readable zip archive (truncated or corrupt): \(error)")
        }
        guard let pkl = archive.first(where: { $0.path.hasSuffix("data.pkl") && $0.path.split(separator: "/").count == 2 }) else {
            throw WeightsError(file: path, "is a zip without ARCHIVE/data.pkl, so not a torch.save checkpoint")
        }
        let prefix = String(pkl.path.dropLast("data.pkl".count))
        let pickleBytes = try readEntry(archive, pkl, path: path, limit: 1 << 30, what: "data.pkl")

        let unpickler = Unpickler(bytes: pickleBytes, file: path) { pid in
            // ('storage', storage_type, key, location, numel)
            guard let t = pid.items, t.count >= 5, t[0].string == "storage", let key = t[2].string,
                  case .int(let count) = t[4]
            else { throw WeightsError(file: path, "unsupported persistent id \(pid)") }
            guard case .global(let cls) = t[1], let dtype = TorchDType(storageClass: String(cls.split(separator: ".").last ?? "")) else {
                throw WeightsError(file: path, "storage \(key) has unsupported type \(t[1])")
            }
            return .storage(TorchStorage(key: key, dtype: dtype, count: count))
        }
        let root = try unpickler.load()

        func tensorEntry(_ name: String, _ t: TorchTensor) throws -> WeightEntry {
            guard let count = ShapeRules.elementCount(t.shape) else { throw WeightsError(file: path, "tensor \(name): invalid shape \(t.shape)") }
            // The furthest element the view reads must lie inside the storage.
            let last = t.offset + zip(t.shape, t.strides).reduce(0) { $0 + ($1.0 > 0 ? ($1.0 - 1) * $1.1 : 0) }
            if count > 0 && last >= t.storage.count {
                throw WeightsError(file: path, "tensor \(name): view reaches element \(last) of storage \(t.storage.key), which has \(t.storage.count)")
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
                let bytes = try readEntry(archive, entry, path: path, limit: need, what: "tensor \(name)")
                guard bytes.count >= need else {
                    throw WeightsError(file: path, "tensor \(name): storage \(entryPath) gave \(bytes.count) bytes, needs \(need)")
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

        // A YOLOv5 checkpoint: {'model': DetectionModel, 'ema': ..., ...}; prefer ema as attempt_load does.
        if let top = root.dict, let model = (top["ema"]?.object ?? top["model"]?.object) {
            let store = WeightStore(file: path, format: "YOLOv5 checkpoint")
            try walkModule(model, prefix: "", store: store) { try tensorEntry($0, $1) }
            guard case .dict(let yaml)? = model["yaml"] else {
                throw WeightsError(file: path, "the checkpoint's model (\(model.className)) has no yaml config attribute")
            }
            let fileName = model["yaml_file"]?.string ?? "model.yaml"
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

    /// state_dict names from an nn.Module tree: `_parameters` and persistent `_buffers` of each
    /// module, children from `_modules`, joined with dots. Also records BatchNorm eps.
    static func walkModule(_ m: PyObject, prefix: String, store: WeightStore,
                           entry: (String, TorchTensor) throws -> WeightEntry) throws
    {
        let nonPersistent = Set(m["_non_persistent_buffers_set"]?.items?.compactMap(\.string) ?? [])
        for key in ["_parameters", "_buffers"] {
            for (k, v) in m[key]?.dict?.entries ?? [] {
                guard let name = k.string, case .tensor(let t) = v else { continue }
                if key == "_buffers" && nonPersistent.contains(name) { continue }
                store.add(prefix + name, try entry(prefix + name, t))
            }
        }
        if m.className.hasSuffix("BatchNorm2d"), case .float(let eps)? = m["eps"] {
            store.batchNormEpsilon[String(prefix.dropLast())] = Float(eps)
        }
        for (k, v) in m["_modules"]?.dict?.entries ?? [] {
            guard let name = k.string, let child = v.object else { continue }
            try walkModule(child, prefix: prefix + name + ".", store: store, entry: entry)
        }
    }

    /// An entry's bytes, refusing more than `limit` (a corrupt size must not exhaust memory).
    static func readEntry(_ archive: Archive, _ entry: Entry, path: String, limit: Int, what: String) throws -> [UInt8] {
        guard entry.uncompressedSize <= UInt64(limit) else {
            throw WeightsError(file: path, "\(what): zip entry \(entry.path) claims \(entry.uncompressedSize) bytes, more than expected (\(limit))")
        }
        var out = [UInt8]()
        out.reserveCapacity(Int(entry.uncompressedSize))
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in out.append(contentsOf: chunk) }
        } catch {
            throw WeightsError(file: path, "\(what): cannot read zip entry \(entry.path) (truncated or corrupt): \(error)")
        }
        return out
    }
}
