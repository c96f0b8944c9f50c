// Package eval evaluates trained representations (SPEC §6): k-nearest-neighbour
// classification on frozen features (knn*.go: cosine similarity, majority vote swept
// over k with the best k reported, and the weighted 200-NN monitoring vote), feature
// extraction from a model (features.go: eval mode, no augmentation), the linear probe
// (linear.go: augmented or on cached features) and the SimSiam loss on the
// validation set (loss.go: seeded views, running BN statistics). The k-NN works on
// plain row-major float32 feature matrices, so it does not depend on how the
// features were produced.
package eval
