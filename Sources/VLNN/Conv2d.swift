import VLTensor

/// 2-D convolution, weight [out, in, k, k] (PyTorch's Conv2d layout and initialisation).
public final class Conv2d: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true
    ) {
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = Parameter(Init.uniform([outChannels, inChannels, kernel, kernel], bound: bound))
        self.bias = bias ? Parameter(Init.uniform([outChannels], bound: bound)) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight.value, bias: bias?.value, stride: stride, padding: padding)
    }
}
