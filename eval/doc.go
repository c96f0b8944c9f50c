// Package eval evaluates trained representations (SPEC §6): k-nearest-neighbour
// classification on frozen features (knn*.go: cosine similarity, majority vote swept
// over k with the best k reported, and the weighted 200-NN monitoring vote), and —
// added by other files of the package — the linear probe and the SimSiam loss on the
// validation set. Everything works on plain row-major float32 feature matrices, so it
// does not depend on how the features were produced.
package eval
