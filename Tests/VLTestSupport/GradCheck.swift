import XCTest
import VLTensor

// The finite-difference gradient check shared by the test targets.

/// Compares autodiff gradients with central finite differences of L = Σ f(inputs) ∘ w for a
/// fixed random weighting w. Inputs are f32, so the step is moderate and the tolerance loose;
/// the torch fixtures check the same gradients tightly.
public func gradCheck(
    _ inputs: [Tensor], eps: Float = 3e-3, tol: Float = 2e-2, file: StaticString = #filePath, line: UInt = #line,
    _ f: ([Tensor]) -> Tensor
) {
    if let problem = gradCheckProblem(inputs, eps: eps, tol: tol, f) { XCTFail(problem, file: file, line: line) }
}

/// The first disagreement between analytic and numeric gradients, or nil.
public func gradCheckProblem(_ inputs: [Tensor], eps: Float, tol: Float, _ f: ([Tensor]) -> Tensor) -> String? {
    for t in inputs { t.requiresGrad = true; t.grad = nil }
    let out = f(inputs)
    var rng = RandomGenerator(seed: 99)
    let w = Tensor.randn(out.shape, rng: &rng)
    (out * w).sum().backward()
    for (n, t) in inputs.enumerated() {
        guard let analytic = t.grad?.toArray() else { return "input \(n) got no gradient" }
        let p = t.mutablePointer
        for i in 0..<t.count {
            let saved = p[i]
            p[i] = saved + eps
            t.markMutated()  // the pointer was taken before: say the values changed
            let up = noGrad { (f(inputs) * w).sum().item() }
            p[i] = saved - eps
            t.markMutated()
            let down = noGrad { (f(inputs) * w).sum().item() }
            p[i] = saved
            t.markMutated()
            let numeric = (up - down) / (2 * eps)
            let err = abs(numeric - analytic[i])
            if err > tol * max(1, abs(numeric)) {
                return "input \(n) element \(i): analytic \(analytic[i]) vs numeric \(numeric)"
            }
        }
    }
    return nil
}
