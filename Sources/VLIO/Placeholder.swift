import VLTensor
