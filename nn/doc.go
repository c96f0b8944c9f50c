// Package nn builds models from the tensor ops: layers that own named parameters
// (Linear, Conv2d, BatchNorm), the ResNet family used by the paper (Basic and
// Bottleneck blocks, any depths and width, CIFAR or ImageNet stem), and state dicts
// whose names follow torchvision's, so weights move to and from PyTorch unchanged.
package nn
