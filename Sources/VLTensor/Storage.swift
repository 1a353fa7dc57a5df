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
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
    }

    /// Allocates without zeroing; the caller writes every byte.
    public init(uninitializedByteCount byteCount: Int) {
        _ = Storage.keepFreedMemory
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        owner = nil
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
