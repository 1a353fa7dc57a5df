import Foundation

/// A Float as the Double with the same shortest decimal form (1e-05, not 9.99999974737875e-06).
public func decimal(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }
