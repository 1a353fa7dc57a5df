import VLImaging

extension ImageProcessor {
    /// The size every image comes out at, when it does not depend on the input (a centre crop or an
    /// exact resize); nil when it follows the image's aspect ratio.
    public var fixedOutputSize: (height: Int, width: Int)? {
        if doCenterCrop { return (cropHeight, cropWidth) }
        if doResize, case .exact(let h, let w) = size { return (h, w) }
        return nil
    }
}
