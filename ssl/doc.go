// Package ssl holds the self-supervised methods the paper compares, one per file:
// SimSiam (stop-gradient, predictor), and the parts they share (heads, the
// symmetrised loss). A method owns its networks and exposes one training loss.
package ssl
