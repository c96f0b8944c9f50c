// Package backend is siam's compute seam: the interface every compute backend
// implements (buffers and the closed set of operations that tensor, optim, eval
// and collapse need) and the registry that names them, in the manner of
// database/sql and its drivers. A backend is one package that implements Backend
// and calls Register from its init function; backend/backendtest is the
// conformance suite it runs with one line. docs/BACKENDS.md is the contract.
//
// Operations work on whole tensors (one call per op, never per element), so an
// implementation dispatches once per op and runs its own loops, thread pool or
// device queue underneath.
package backend

// Backend is one compute engine: it owns buffers and runs the operations on them.
// Every method must accept empty buffers (length 0) and do nothing for them.
// Unless an operation says otherwise, buffers passed to it do not overlap, except
// that a destination may be the same buffer as a source of an element-wise op.
type Backend interface {
	// Name is the registered name ("cpu", "cuda"...).
	Name() string
	// Describe returns one line for `siam devices`: the engine and what it
	// picked (instruction set, kernels, threads).
	Describe() string

	Memory
	GEMM
	Conv
	Norm
	Elementwise
	Attention
	Optimizer
	Search
	Float64
}

// Memory allocates buffers and moves values between the host and a backend.
type Memory interface {
	// IsHost reports whether the backend's buffers are host memory: HostView on
	// them is then a zero-copy view and Upload/Download are plain copies.
	IsHost() bool
	// Alloc returns a zeroed buffer of n float32 elements.
	Alloc(n int) Buffer
	// Free returns a buffer from Alloc; the buffer must not be used afterwards. A
	// host backend may leave the memory to the garbage collector.
	Free(b Buffer)
	// Upload copies src (len == dst.Len()) from the host into dst.
	Upload(dst Buffer, src []float32)
	// Download copies src into the host slice dst (len == src.Len()).
	Download(dst []float32, src Buffer)
	// Copy copies src into dst (same length) without going through the host.
	Copy(dst, src Buffer)
	// Zero sets every element of b to 0.
	Zero(b Buffer)
}

// GemmParams describes C = alpha*op(A)*op(B) + beta*C on row-major matrices with
// leading dimensions LDA, LDB, LDC; op(X) is X or its transpose. beta == 0 ignores
// the previous contents of C (NaN included).
type GemmParams struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	LDA, LDB, LDC  int
	// Parallel lets the backend spread one product over all its threads; false
	// asks for a single-threaded product (the caller already runs one per core).
	Parallel bool
}

// GEMM is the matrix product, single and batched.
type GEMM interface {
	// Gemm computes one product.
	Gemm(p GemmParams, a, b, c Buffer)
	// GemmBatched computes batch products; product i reads a, b and writes c at
	// element offsets i*strideA, i*strideB, i*strideC. A stride of 0 shares the
	// operand between all products. The products may run concurrently.
	GemmBatched(p GemmParams, batch, strideA, strideB, strideC int, a, b, c Buffer)
}

// ConvParams describes a 2-D convolution of x [N, C, H, W] with w [K, C, R, S]
// (PyTorch layout) at the given stride and zero padding, giving y [N, K, Ho, Wo].
type ConvParams struct {
	N, C, H, W int
	K, R, S    int
	Stride     int
	PadH, PadW int
	OutH, OutW int
}

// ConvEpilogue is applied to the convolution output while it is in cache, in this
// order: y += Shift[k] (per output channel; empty: none), y += Residual (shaped
// like y; empty: none), y = max(y, 0) when ReLU. A folded batch norm's scale is
// folded into the weights by the caller; the order of the additions is that of the
// separate ops, so the fused result is bit-identical to them.
type ConvEpilogue struct {
	Shift    Buffer
	Residual Buffer
	ReLU     bool
}

// Conv is the convolution: the backend receives the convolution itself and picks
// its own lowering (im2col, implicit GEMM, phase-split...).
type Conv interface {
	// ConvForward writes (accumulate: adds) y = conv(x, w) then the epilogue.
	ConvForward(p ConvParams, x, w Buffer, ep ConvEpilogue, y Buffer, accumulate bool)
	// ConvBackwardData writes (accumulate: adds) dx, the gradient with respect to
	// x, from dy [N, K, Ho, Wo] and w.
	ConvBackwardData(p ConvParams, dy, w, dx Buffer, accumulate bool)
	// ConvBackwardFilter adds the weight gradient into dw [K, C, R, S] and, when
	// db is not empty, the bias gradient (the sum of dy over images and pixels)
	// into db [K]. An empty dw adds only the bias gradient.
	ConvBackwardFilter(p ConvParams, x, dy, dw, db Buffer)
}

// Norm holds the fused batch-norm passes, one channel plane set at a time.
type Norm interface {
	// ChannelSums returns the float64 sum and sum of squares of (x - shift) over
	// planes planes of size elements each, plane i starting at i*stride.
	ChannelSums(x Buffer, planes, size, stride int, shift float32) (sum, sumsq float64)
	// ScaleShift writes dst = src*scale + shift, then max(., 0) when relu.
	ScaleShift(dst, src Buffer, scale, shift float32, relu bool)
	// BNBackwardReduce returns sum(dy) and sum(dy*(x-mean)) in float64; with relu,
	// dy is first zeroed where x*scale+shift is not > 0 and the masked gradient is
	// stored back into dy (the BatchNormReLU backward), so the apply needs no mask.
	BNBackwardReduce(dy, x Buffer, mean float32, relu bool, scale, shift float32) (sumDy, sumDyXc float64)
	// BNBackwardApply writes (accumulate: adds) dx = (k*dy + p*x) + q, each
	// product rounded.
	BNBackwardApply(dx, dy, x Buffer, k, p, q float32, accumulate bool)
}

// Elementwise holds the element-wise, activation and reduction ops.
type Elementwise interface {
	// Add writes dst = a + b.
	Add(dst, a, b Buffer)
	// AddReLU writes dst = max(a + b, 0).
	AddReLU(dst, a, b Buffer)
	// Axpy computes y += alpha*x.
	Axpy(alpha float32, x, y Buffer)
	// Scale computes x *= alpha.
	Scale(alpha float32, x Buffer)
	// ReLU writes dst = max(src, 0) through the sign bit: negative values, -0 and
	// negative-signed NaNs become +0.
	ReLU(dst, src Buffer)
	// ReLUMaskGrad writes (accumulate: adds) dx = dy where y > 0, else 0.
	ReLUMaskGrad(dx, dy, y Buffer, accumulate bool)
	// ReLUMaskGradPair writes the same masked gradient (dy where y > 0, else 0)
	// to both dx and dx2 in one pass (AddReLU's backward, two fresh buffers).
	ReLUMaskGradPair(dx, dx2, dy, y Buffer)
	// GELU writes dst = gelu(src) (the erf form).
	GELU(dst, src Buffer)
	// GELUGrad writes (accumulate: adds) dx = dy * gelu'(x).
	GELUGrad(dx, dy, x Buffer, accumulate bool)
	// Sum returns the sum of x.
	Sum(x Buffer) float32
	// Dot returns the dot product of x and y.
	Dot(x, y Buffer) float32
	// Max returns the largest element of x (-Inf for empty x).
	Max(x Buffer) float32
}

// Attention holds the softmax of attention rows.
type Attention interface {
	// SoftmaxRows replaces each of the rows rows of cols elements of x by its
	// softmax (max-shifted exponentials, normalised).
	SoftmaxRows(x Buffer, rows, cols int)
}

// SGDParams are the hyper-parameters of one SGD update (torch.optim.SGD,
// dampening 0).
type SGDParams struct {
	LR, Momentum, WeightDecay float32
	Nesterov                  bool
}

// LARSParams are the hyper-parameters of one LARS update: the update d =
// grad + wd*p is scaled by Trust*||p||/||d|| (when both norms are > 0 and the
// tensor is not Excluded) before momentum.
type LARSParams struct {
	LR, Momentum, WeightDecay float32
	Trust                     float64
	Excluded                  bool
}

// AdamWParams are the hyper-parameters of one AdamW update (torch.optim.AdamW):
// Decay = 1 - lr*wd, Step = lr/(1-beta1^t), InvSqrtC2 = 1/sqrt(1-beta2^t).
type AdamWParams struct {
	Beta1, Beta2, Eps      float32
	Decay, Step, InvSqrtC2 float32
}

// Optimizer holds the optimizer updates, one whole parameter tensor per call.
type Optimizer interface {
	// SGDUpdate updates param p with gradient g and momentum buffer buf.
	SGDUpdate(o SGDParams, p, g, buf Buffer)
	// LARSUpdate updates param p with gradient g and momentum buffer buf.
	LARSUpdate(o LARSParams, p, g, buf Buffer)
	// AdamWUpdate updates param p with gradient g and moments m, v.
	AdamWUpdate(o AdamWParams, p, g, m, v Buffer)
	// EMAUpdate moves target towards online: t = m*t + (1-m)*o.
	EMAUpdate(m float32, target, online Buffer)
}

// Metric is the similarity a nearest-neighbour search ranks by.
type Metric int

const (
	// Dot ranks by dot product (cosine similarity on L2-normalised rows).
	Dot Metric = iota
	// L2 ranks by smallest squared Euclidean distance.
	L2
)

// Neighbors is the top-K key list of every query, ranked best first: Index[q*K+j]
// is the j-th nearest key of query q and Sim[q*K+j] its similarity (dot product)
// or negated squared distance (L2).
type Neighbors struct {
	K     int       `json:"k"`
	Index []int32   `json:"index"`
	Sim   []float32 `json:"sim"`
}

// Row returns the neighbour indices and similarities of query q.
func (nb *Neighbors) Row(q int) ([]int32, []float32) {
	return nb.Index[q*nb.K : (q+1)*nb.K], nb.Sim[q*nb.K : (q+1)*nb.K]
}

// Search is the top-k nearest-neighbour search of k-NN evaluation and NNSiam.
type Search interface {
	// Nearest returns the k nearest keys (rows of dim values) of every query; chunk
	// (0: the backend's default) bounds the queries one worker takes at a time and
	// never changes the result. The result is on the host: it is what the caller
	// reads next.
	Nearest(metric Metric, queries, keys Buffer, dim, k, chunk int) (*Neighbors, error)
}

// GramStats are the column statistics Gram32Stats accumulates with the Gram matrix.
type GramStats struct {
	// Sum accumulates the column sums of the shifted (and scaled) rows.
	Sum []float64
	// S1 and S2 accumulate sum z and sum z^2 with z = x[r][j]/||x[r]|| (the first
	// two moments of the L2-normalised rows; norm clamped to 1e-12).
	S1, S2 []float64
}

// Float64 holds the float64 kernels of collapse: the Gram (covariance) matrix of a
// feature matrix and the vector steps of its symmetric eigensolver. They take host
// slices: the covariance is d x d and the eigensolver runs on the host whatever the
// backend; a device backend reads the feature matrix where it lies.
type Float64 interface {
	// Gram32 adds into the upper triangle of c (d x d, row stride ldc) the Gram
	// matrix of the rows rows of x (float32, row stride ldx), each row first scaled
	// by scale[r] (nil: 1) then shifted by -shift (nil: 0), in float64.
	Gram32(rows, d int, x []float32, ldx int, scale, shift []float64, c []float64, ldc int)
	// Gram64 is Gram32 on a float64 matrix.
	Gram64(rows, d int, x []float64, ldx int, scale, shift []float64, c []float64, ldc int)
	// Gram32Stats is Gram32 fused with the row norms and column statistics st (see
	// GramStats); normalize scales each row to unit norm.
	Gram32Stats(rows, d int, x []float32, ldx int, normalize bool, shift []float64, c []float64, ldc int, st *GramStats)
	// Rank2Dot applies a symmetric rank-2 row update, r[j] -= a*w[j] + b*v[j] for
	// every j < len(r), and returns sum_j r[j]*u[j] of the updated r (the fused
	// inner loop of a Householder tridiagonalisation).
	Rank2Dot(r, v, w []float64, a, b float64, u []float64) float64
	// Rank2Symv is one row of a deferred rank-2 update fused with its part of a
	// symmetric matrix-vector product: x = r[j] - (a*wp[j] + b*vp[j]) is stored in
	// r[j] and added, times vi, into p[j]; it returns sum_j x*v[j].
	Rank2Symv(r, vp, wp []float64, a, b float64, v []float64, vi float64, p []float64) float64
	// Ddot returns the float64 dot product of x and y.
	Ddot(x, y []float64) float64
}
