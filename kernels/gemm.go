package kernels

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on the calling goroutine, row-major,
// op(X) = X or X^T; A is m x k after op, B is k x n after op. Use it inside a
// parallel loop (e.g. one image per worker); use SgemmPar for one large product.
// (Placeholder: delegates to the reference until the blocked kernel lands.)
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmPar is Sgemm split across all cores (parallel.Workers()).
func SgemmPar(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
