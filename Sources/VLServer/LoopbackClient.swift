import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal blocking HTTP/1.1 client that talks to 127.0.0.1 only, for the server's tests and
/// benchmark: it sends any bytes (malformed requests included), reads the status, headers and body
/// (Content-Length, chunked, or up to the close), and hands body bytes over as they arrive, so a
/// caller can time server-sent events or hang up half-way.
public struct LoopbackClient {
    public struct Response {
        public let status: Int
        /// Header names lowercased.
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    /// Longest wait for any one read or write.
    public var timeout: TimeInterval

    public init(port: Int, timeout: TimeInterval = 30) {
        (self.port, self.timeout) = (port, timeout)
    }

    /// A request with `Connection: close`; `onBody` sees body bytes as they arrive and returns
    /// false to hang up.
    public func request(
        _ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json",
        onBody: (Data) -> Bool = { _ in true }
    ) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let body { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        return try raw(Data((head + "\r\n").utf8) + (body ?? Data()), onBody: onBody)
    }

    /// Sends raw bytes, closes the sending side, and reads the response.
    public func raw(_ bytes: Data, onBody: (Data) -> Bool = { _ in true }) throws -> Response {
        let fd = try openSocket()
        defer { close(fd) }
        try sendAll(fd, bytes)
        shutdown(fd, Int32(SHUT_WR))
        return try readResponse(fd, onBody: onBody)
    }

    private func openSocket() throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var limit = timeval()
        limit.tv_sec = .init(timeout)
        limit.tv_usec = .init(timeout.truncatingRemainder(dividingBy: 1) * 1e6)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian  // 127.0.0.1, always
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }

    private func sendAll(_ fd: Int32, _ bytes: Data) throws {
        var sent = 0
        try bytes.withUnsafeBytes { raw in
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                // The server may answer (413) and close before it has read everything.
                if n <= 0 {
                    if errno == EPIPE || errno == ECONNRESET { return };
                    throw Failure(description: "send: errno \(errno)")
                }
                sent += n
            }
        }
    }

    /// Reads the response, decoding chunked bodies as the bytes come in.
    private func readResponse(_ fd: Int32, onBody: (Data) -> Bool) throws -> Response {
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Range<Data.Index>?
        var decoder = BodyDecoder()
        var body = Data()
        var status = 0, headers: [String: String] = [:]
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 {
                throw Failure(
                    description: errno == EAGAIN || errno == EWOULDBLOCK
                        ? "no answer within \(timeout) s" : "recv: errno \(errno)")
            }
            if n == 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
            if headerEnd == nil, let end = buffer.range(of: Data("\r\n\r\n".utf8)) {
                headerEnd = end
                (status, headers) = try parseHead(buffer[..<end.lowerBound])
                decoder = BodyDecoder(headers: headers)
                buffer = Data(buffer[end.upperBound...])
            }
            guard headerEnd != nil else { continue }
            let piece = decoder.feed(&buffer)
            body += piece
            if !piece.isEmpty && !onBody(piece) { break }
            if decoder.complete { break }
        }
        guard headerEnd != nil else { throw Failure(description: "the connection closed without a response") }
        return Response(status: status, headers: headers, body: body)
    }

    private func parseHead(_ head: Data) throws -> (Int, [String: String]) {
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw Failure(description: "bad status line \"\(lines[0])\"")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return (status, headers)
    }

    /// Body framing: chunked, a Content-Length, or everything up to the close.
    struct BodyDecoder {
        enum Framing { case chunked, length(Int), untilClose }
        var framing = Framing.untilClose
        var complete = false

        init() {}

        init(headers: [String: String]) {
            if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                framing = .chunked
            } else if let length = headers["content-length"].flatMap({ Int($0) }) {
                framing = .length(length)
                complete = length == 0
            }
        }

        /// Takes what it can decode from `buffer` and returns the body bytes.
        mutating func feed(_ buffer: inout Data) -> Data {
            switch framing {
            case .untilClose:
                defer { buffer = Data() }
                return buffer
            case .length(let left):
                let piece = buffer.prefix(left)
                buffer = Data(buffer.dropFirst(piece.count))
                framing = .length(left - piece.count)
                complete = left == piece.count
                return Data(piece)
            case .chunked:
                var out = Data()
                while let lineEnd = buffer.range(of: Data("\r\n".utf8)) {
                    let sizeText =
                        String(decoding: buffer[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                    guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                        complete = true; break
                    }
                    if size == 0 { complete = true; break }
                    let start = lineEnd.upperBound
                    guard buffer.count - (start - buffer.startIndex) >= size + 2 else { break }
                    out += buffer[start..<(start + size)]
                    buffer = Data(buffer[(start + size + 2)...])
                }
                return out
            }
        }
    }
}
