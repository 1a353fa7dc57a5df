import CKernels
/// A flat, 64-byte aligned byte buffer. Either owned (allocated here, freed on deinit) or borrowed
/// from an owner that keeps the memory alive (an mmap'd checkpoint file).
public final class Storage: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    private let owner: AnyObject?
    /// Bumped by every mutable access, so derived copies (packed weights) know they are stale.
    public internal(set) var version = 0

    /// Allocates `byteCount` zeroed bytes.
    public init(byteCount: Int) {
        _ = Storage.keepFreedMemory
        self.byteCount = byteCount
        base = Storage.allocate(byteCount)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
    }

    /// Allocates without zeroing; the caller writes every byte. `hugePages`: see `allocate`.
    public init(uninitializedByteCount byteCount: Int, hugePages: Bool = false) {
        _ = Storage.keepFreedMemory
        self.byteCount = byteCount
        base = Storage.allocate(byteCount, hugePages: hugePages)
        owner = nil
    }

    /// 64-byte aligned. With `hugePages`, for long-lived weights streamed by every token: buffers of
    /// 2 MiB and more are 2 MiB aligned and advised to be huge pages (on 4 KiB pages each 4 KiB costs a
    /// TLB miss: a bf16 decode ran ~30% slower). Not for activations: freed and faulted in again every
    /// step, huge pages stall in the kernel's compaction once memory is fragmented.
    public static func allocate(_ byteCount: Int, hugePages: Bool = false) -> UnsafeMutableRawPointer {
        let huge = 2 << 20
        guard hugePages, byteCount >= huge else {
            return UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: huge)
        ck_advise_huge_pages(p, byteCount)
        return p
    }

    /// Wraps memory that `owner` keeps alive (zero-copy).
    public init(borrowing base: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        self.owner = owner
    }

    /// Training allocates and frees the same large activations every step; see ck_keep_freed_memory.
    private static let keepFreedMemory: Void = ck_keep_freed_memory()

    /// Whether the memory belongs to another object (read-only views of a checkpoint file).
    public var isBorrowed: Bool { owner != nil }

    deinit {
        if owner == nil { base.deallocate() }
    }
}
