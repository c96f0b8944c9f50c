// Package nn builds models from the tensor ops: layers that own named parameters
// (Linear, Conv2d, BatchNorm, LayerNorm), the ResNet family used by the paper
// (Basic and Bottleneck blocks, any depths and width, CIFAR or ImageNet stem), the
// Vision Transformers of its Appendix A.4 (ViT-S, ViT-Tiny and shallower or
// thinner variants, MoCo v3's sin-cos position embedding and frozen patch
// projection), and state dicts whose names follow torchvision's and timm's, so
// weights move to and from PyTorch unchanged.
package nn
