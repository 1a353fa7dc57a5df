#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far this thread's stack may still grow: the depth limits keep templates shallow, and this
/// check makes sure that even a small stack (a worker thread's, a debug build's big frames) ends
/// in a `TemplateError` rather than an overflow.
struct StackGuard {
    /// The lowest address recursion may reach (stack bottom plus a margin); 0 when unknown.
    let floor: UInt

    init() {
        guard let (bottom, size) = StackGuard.bounds() else {
            floor = 0
            return
        }
        // A quarter of a small stack, 256 KiB of a big one, is left for what runs between checks.
        let margin = UInt(min(max(size / 4, 16 << 10), 256 << 10))
        floor = bottom + margin
    }

    /// Throws when the stack has come within the margin of its end.
    func check(_ what: String) throws {
        guard floor != 0, StackGuard.here() < floor else { return }
        throw TemplateError.limit("maxDepth", "\(what) nested too deep for this thread's stack")
    }

    @inline(never)
    static func here() -> UInt {
        var marker = 0
        return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
    }

    /// The lowest address of this thread's stack and its size.
    private static func bounds() -> (UInt, Int)? {
        #if canImport(Glibc)
        // glibc's pthread_getattr_np is a GNU extension that Swift's Glibc module does not declare.
        typealias GetAttr = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
        guard let symbol = dlsym(nil, "pthread_getattr_np") else { return nil }
        let getattr = unsafeBitCast(symbol, to: GetAttr.self)
        var attr = pthread_attr_t()
        guard getattr(pthread_self(), &attr) == 0 else { return nil }
        defer { pthread_attr_destroy(&attr) }
        var address: UnsafeMutableRawPointer?
        var size = 0
        guard pthread_attr_getstack(&attr, &address, &size) == 0, let address else { return nil }
        return (UInt(bitPattern: address), size)
        #elseif canImport(Darwin)
        let top = UInt(bitPattern: pthread_get_stackaddr_np(pthread_self()))
        let size = pthread_get_stacksize_np(pthread_self())
        return (top - UInt(size), size)
        #else
        return nil
        #endif
    }
}
