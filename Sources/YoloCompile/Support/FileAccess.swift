import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every file the tool reads is opened the same way: without blocking (a FIFO with no writer must not
/// hang us), and accepted only if the opened descriptor is a regular file. Directories, FIFOs, devices
/// and sockets are refused by name before anything is read.
public enum InputFiles {
    /// What kind of file `st_mode` describes, for messages.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    /// Opens `path` for reading; the descriptor is a regular file. `fail` makes the file-scoped error.
    static func open(_ path: String, expected: String, fail: (String) -> any Error) throws -> (fd: Int32, size: Int) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw fail(e == ENOENT ? "no such file" : "cannot read the file: \(String(cString: strerror(e)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw fail("cannot read the file") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw fail("is \(kind(st.st_mode)), expected \(expected)")
        }
        return (fd, Int(st.st_size))
    }

    /// Refuses what is not a regular file, for readers that open the file themselves (zip, mmap).
    /// Returns its size.
    @discardableResult
    public static func checkRegular(_ path: String, expected: String, fail: (String) -> any Error) throws -> Int {
        let (fd, size) = try open(path, expected: expected, fail: fail)
        close(fd)
        return size
    }

    /// The whole of a regular file.
    /// `maxBytes` refuses a larger file before reading it.
    public static func read(_ path: String, expected: String, maxBytes: Int = Int.max, fail: (String) -> any Error) throws -> Data {
        let (fd, size) = try open(path, expected: expected, fail: fail)
        defer { close(fd) }
        guard size <= maxBytes else { throw fail("is \(size) bytes; \(expected) is at most \(maxBytes) bytes") }
        var data = Data(count: size)
        var got = 0
        let ok = data.withUnsafeMutableBytes { buf -> Bool in
            while got < size {
                let n = Glibc.read(fd, buf.baseAddress! + got, size - got)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return n == 0 }
                got += n
            }
            return true
        }
        guard ok else { throw fail("cannot read the file: \(String(cString: strerror(errno)))") }
        return got == size ? data : data.prefix(got)
    }

    /// The first `count` bytes (fewer when the file is shorter).
    public static func head(_ path: String, _ count: Int, expected: String, fail: (String) -> any Error) throws -> [UInt8] {
        let (fd, _) = try open(path, expected: expected, fail: fail)
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count) }
        return Array(out.prefix(max(n, 0)))
    }
}

/// Every file the tool writes goes through here: written in full to a temporary file created exclusively
/// (never through a link) under an unpredictable name in the output's folder, then renamed into place.
/// A failure, SIGINT or SIGTERM removes the temporary files and leaves any existing output untouched;
/// a command that writes several files writes all of them or, failing before the renames, none.
public enum OutputFiles {
    public struct Failure: FileError {
        public var file: String
        public var message: String
    }

    /// Refuses an output that is one of the inputs, through any path or link, before anything is read.
    public static func checkNotAnInput(_ output: String, inputs: [String]) throws {
        var out = stat()
        guard stat(output, &out) == 0 else { return }  // does not exist yet: it cannot be an input
        for input in inputs {
            var st = stat()
            if stat(input, &st) == 0, st.st_dev == out.st_dev, st.st_ino == out.st_ino {
                throw Failure(file: output, message: "is the input \(input) (the same file); choose another output path")
            }
        }
    }

    /// Writes each file through `body`, then renames them all into place.
    public static func write(_ files: [(path: String, body: (UnsafeMutablePointer<FILE>) throws -> Void)]) throws {
        var temporaries: [String] = []
        defer { for t in temporaries { unlink(t); TemporaryFiles.forget(t) } }
        for (path, body) in files {
            let tmp = try createTemporary(beside: path)
            temporaries.append(tmp.path)
            let f = tmp.file
            do { try body(f) } catch {
                fclose(f)
                throw error
            }
            let failed = ferror(f) != 0
            let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
            guard fclose(f) == 0, !failed, flushed else {
                throw Failure(file: path, message: "writing failed (disk full?): \(String(cString: strerror(errno)))")
            }
        }
        while !temporaries.isEmpty {
            let tmp = temporaries[0], path = files[files.count - temporaries.count].path
            guard rename(tmp, path) == 0 else {
                throw Failure(file: path, message: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
            }
            temporaries.removeFirst()
            TemporaryFiles.forget(tmp)
        }
    }

    /// An exclusive, unpredictably named file beside `path` (mkstemp), registered for removal on a signal.
    static func createTemporary(beside path: String) throws -> (path: String, file: UnsafeMutablePointer<FILE>) {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var st = stat()
        guard stat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(file: path, message: "cannot write: folder \(dir) does not exist")
        }
        if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR {
            throw Failure(file: path, message: "cannot write: it is a directory")
        }
        var template = Array((dir + "/." + url.lastPathComponent + ".tmp-XXXXXX").utf8CString)
        TemporaryFiles.installHandlers()
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Failure(file: path, message: "cannot write to folder \(dir): \(String(cString: strerror(errno)))") }
        let tmp = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        TemporaryFiles.remember(tmp)
        // mkstemp makes the file 0600; the output gets the mode a newly created file would (0666 & ~umask).
        let mask = umask(0)
        umask(mask)
        fchmod(fd, 0o666 & ~mask)
        guard let f = fdopen(fd, "wb") else {
            close(fd)
            unlink(tmp)
            TemporaryFiles.forget(tmp)
            throw Failure(file: path, message: "cannot write to folder \(dir)")
        }
        return (tmp, f)
    }
}

/// The temporary files being written, kept where a signal handler can reach them without allocating:
/// SIGINT and SIGTERM unlink them, then the signal's default action ends the process.
enum TemporaryFiles {
    static let capacity = 64
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        p.initialize(repeating: nil, count: capacity)
        return p
    }()
    nonisolated(unsafe) static var installed = false

    static func remember(_ path: String) {
        for i in 0..<capacity where slots[i] == nil {
            slots[i] = strdup(path)
            return
        }
    }

    static func forget(_ path: String) {
        for i in 0..<capacity {
            if let p = slots[i], String(cString: p) == path {
                slots[i] = nil
                free(p)
            }
        }
    }

    static func installHandlers() {
        guard !installed else { return }
        installed = true
        _ = slots  // initialised before any handler can run
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            // A signal the parent set to be ignored (a background job's SIGINT) stays ignored.
            var current = sigaction()
            sigaction(sig, nil, &current)
            if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1 { continue }  // SIG_IGN
            signal(sig) { s in
                for i in 0..<TemporaryFiles.capacity {
                    if let p = TemporaryFiles.slots[i] { unlink(p) }
                }
                signal(s, SIG_DFL)
                raise(s)
            }
        }
    }
}
