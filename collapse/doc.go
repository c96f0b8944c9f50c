// Package collapse measures partial dimensional collapse of learned representations
// (Section 3.4-3.5 of "Understanding Collapse in Non-Contrastive Siamese Representation
// Learning"; SPEC §5).
//
// Given an N x d feature matrix (one row per example), Spectrum centres each column,
// optionally L2-normalising the rows first (rows are normalised, then centred, exactly
// as the reference code does), and returns the singular values sigma_1 >= ... >=
// sigma_d of the centred matrix together with the metrics derived from them:
//
//   - cumulative explained variance (Eq. 1), built from sigma, NOT sigma^2 — the
//     reference code uses sigma and the published numbers depend on it;
//   - AUC (Eq. 2), the mean of that curve: 0.5 for a flat spectrum, 1 for rank one;
//     higher means more collapse;
//   - RankMe, exp(entropy) of q = sigma/sum(sigma) + 1e-7, exactly as the reference;
//   - the effective rank and participation ratio as cheap companions;
//   - the per-dimension standard deviation of the L2-normalised rows (the collapse
//     metric of the SimSiam paper: about 1/sqrt(d) when healthy, 0 when collapsed).
//
// The default method forms the d x d covariance X^T X entirely in float64: an
// AVX-512 float64 SYRK micro-kernel (kernels.Dgram32) packs slabs of rows, centring
// (and normalising) them in float64 on the fly, and accumulates only the upper
// triangle; the rows are split over all cores, one float64 accumulator each. The
// eigenvalues of that matrix (Householder tridiagonalisation + dsterf) give
// sigma_i = sqrt(max(lambda_i, 0)). Leading values match an SVD to ~1e-12
// relative, and the tail is exact to the float64 rounding of the covariance: only
// directions below ~1e-8*sigma_1 (exact null directions) sit at a rounding floor.
// MethodCovariance32 keeps the older float32-block route (faster, tail floor
// ~1e-4*sigma_1); MethodSVD takes the SVD of the centred matrix directly.
//
// Functions AUC, RankMe, ExplainedVariance, EffectiveRank and ParticipationRatio
// work on a ready spectrum (for instance one loaded from the published reference).
package collapse
