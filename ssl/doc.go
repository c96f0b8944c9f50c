// Package ssl holds the self-supervised methods the paper compares, one per file
// (simsiam.go, byol.go, mocov3.go, nnsiam.go, distill.go), behind one interface,
// Method: the training loss, the parameter groups, the backbone every evaluation
// measures, an after-step hook (EMA targets, queues) and the extra state a
// checkpoint carries. Each file registers its constructor (Register), so adding a
// method is adding a file; the parts two methods share live beside them (ema.go:
// the EMA target encoder; mlp.go: the reference MLP heads).
package ssl
