import VLNN
import VLTensor

/// A ViT's input tokens: the image cut into patches by a strided convolution, a class token in
/// front, position embeddings added (as many as there are tokens). classToken [1, 1, hidden],
/// positions [1, ≥ 1 + patches, hidden]; pixels [B, 3, H, W] → [B, 1 + patches, hidden].
func patchTokens(_ pixels: Tensor, conv: Conv2d, classToken: Tensor, positions: Tensor) -> Tensor {
    tokensWithClass(conv(pixels).flatten(from: 2).transpose(1, 2), classToken: classToken, positions: positions)
}

/// Patch embeddings [B, N, hidden] with the class token in front and positions added.
func tokensWithClass(_ patches: Tensor, classToken: Tensor, positions: Tensor) -> Tensor {
    let b = patches.shape[0], hidden = patches.shape[2]
    let tokens = cat([classToken.expand([b, 1, hidden]), patches], dim: 1)
    return tokens + positions.narrow(1, start: 0, length: tokens.shape[1])
}
