// Package pretrained builds siam backbones from weights trained elsewhere —
// PyTorch checkpoints (torch.save: .pth, .pth.tar, .pt) and safetensors files —
// so that collapse, k-NN and the linear probe measure a released or a
// researcher's own model exactly as they measure siam's runs.
//
// Load finds the backbone inside the file (the official SimSiam release's
// state_dict.module.encoder., MoCo v3's module.base_encoder., a plain
// torchvision state dict, siam's own backbone., or an explicit prefix), reads
// its architecture off the tensor shapes unless told, ignores heads (fc,
// projector, predictor) and loads it, reporting every missing, unexpected and
// mis-shaped tensor in one error. The resulting Model is an eval.Representer
// that also applies the input convention the model was trained with
// (per-channel mean and std, gray images repeated to three channels).
package pretrained
