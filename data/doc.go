// Package data loads image datasets and turns them into the augmented view pairs
// that SimSiam trains on.
//
// It sits beside the models and imports no engine package: images are stored
// compactly as uint8 CHW planes in a [Dataset] and become float32 NCHW batches
// only when a [Recipe] augments (or merely normalises) them.
//
// Readers cover IDX (MNIST, Fashion-MNIST; raw or gzip), CIFAR-10/100 binary
// batches and ImageFolder trees of JPEG/PNG files; [Open] resolves a short
// dataset spec ("embedded", "fashion-mnist", "mnist", a directory) to a
// train/test pair. The embedded default dataset lives in package data/embedded,
// which registers itself here through [RegisterEmbedded] when imported.
//
// All randomness comes from seeded PCG generators derived from (seed, step,
// index-in-batch), so a [Loader] yields identical bytes for a given seed no
// matter how many workers it runs.
package data
