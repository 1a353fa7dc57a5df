/// GPT-2's reversible map from bytes to printable characters (byte-level BPE alphabets).
public enum ByteLevel {
    /// byte → character.
    public static let encoder: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var map = [Int](repeating: 0, count: 256)
        for b in printable { map[b] = b }
        var next = 256
        for b in 0..<256 where !printable.contains(b) {
            map[b] = next
            next += 1
            printable.append(b)
        }
        return map.map { Character(Unicode.Scalar(UInt32($0))!) }
    }()

    /// character → byte.
    public static let decoder: [Character: UInt8] = {
        Dictionary(uniqueKeysWithValues: encoder.enumerated().map { ($1, UInt8($0)) })
    }()

    /// The UTF-8 bytes of `text` as byte-level characters.
    public static func encode(_ text: Substring) -> [Character] { text.utf8.map { encoder[Int($0)] } }
}
