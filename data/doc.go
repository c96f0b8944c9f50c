// Package data loads image datasets and turns them into the augmented view pairs
// that SimSiam trains on.
//
// It sits beside the models and imports no engine package: images are stored
// compactly as uint8 CHW planes in a [Dataset] and become float32 NCHW batches
// only when a [Recipe] augments (or merely normalises) them.
//
// Readers cover IDX (MNIST, Fashion-MNIST; raw or gzip), CIFAR-10/100 binary
// batches, ImageFolder trees of JPEG/PNG files and WebDataset tar shards;
// [Open] resolves a short dataset spec ("embedded", "fashion-mnist", "mnist", a
// directory, a shard pattern) to a train/test pair. The embedded default
// dataset lives in package data/embedded, which registers itself here through
// [RegisterEmbedded] when imported.
//
// Large image sets are streamed ([Dataset.Files]): a file index is built once
// and cached ([OpenImageFolder], [OpenShards]), and the [Loader]'s workers
// read, decode and augment each sample on demand — RandomResizedCrop is
// planned on the full-size image and the JPEG decoded at the coarsest DCT
// scale both views allow — so memory is bounded by workers × batch. [Pack]
// writes an ImageFolder tree as shards.
//
// All randomness comes from seeded PCG generators derived from (seed, step,
// index-in-batch), so a [Loader] yields identical bytes for a given seed no
// matter how many workers it runs.
package data
