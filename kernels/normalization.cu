// Layer and group normalization, forward and backward, fused.
//
// Both normalise rows of x viewed as (N, A, G, Cg, B): row r = n*G + g holds the count = A*Cg*B
// elements x[n, a, g, k, b], taken in the order j = (a*Cg + k)*B + b, and each is scaled by
// gamma[c] and shifted by beta[c], c = g*Cg + k. With P = Cg*B, element j of row (n, g) is at
// ((n*A + j/P)*G + g)*P + j%P. Layer normalization over the trailing D elements of M rows is
// (M, 1, 1, D, 1); group normalization in G groups is (N, H*W, G, C/G, 1) for channels-last
// images (N, H, W, C), and (N, 1, G, C/G, H*W) for channels-first ones (N, C, H, W).
//
// The forward saves mean and rstd = 1/sqrt(var + eps) per row; the backward recomputes
// x_hat = (x - mean)*rstd from x instead of keeping it.
//
// Reductions without __syncthreads: each is cut into segments of L elements, one thread per
// segment, and the S segments' results of each of R rows (or channels) are written as part
// (2, S, R), rows fastest so that neighbouring threads take neighbouring rows. norm_stats (one
// thread per row) combines the forward's; the backward's are plain sums over S (a CuPy sum).
// For x of X elements: forward reads x twice (norm_moments; its second pass over a segment hits
// the L1), writes y; backward reads dy and x three times (norm_backward_sums, norm_param_sums,
// norm_backward), writes dx; the partial results are 2X/L elements each time.

#ifndef MINICNN_REAL
#define MINICNN_REAL float
#endif
typedef MINICNN_REAL real;

__device__ __forceinline__ float root(float a) { return sqrtf(a); }
__device__ __forceinline__ double root(double a) { return sqrt(a); }

// Each segment's mean and sum of squared deviations from it (two passes: no cancellation):
// part[0, s, r] and part[1, s, r] for the elements j in [s*L, min((s + 1)*L, count)) of row r.
extern "C" __global__ void __launch_bounds__(256)
norm_moments(const real* __restrict__ x, real* __restrict__ part,
             int N, int A, int G, int Cg, int B, int S, int L)
{
    const int R = N * G, P = Cg * B, count = A * P, total = S * R;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int s = i / R, r = i - s * R;
        const int n = r / G, g = r - n * G;
        const int lo = s * L, hi = min(count, lo + L);
        real sum = 0;
        for (int j = lo; j < hi; ++j) {
            const int a = j / P;
            sum += x[((n * A + a) * G + g) * P + j - a * P];
        }
        const real mean = sum / real(hi - lo);
        real m2 = 0;
        for (int j = lo; j < hi; ++j) {
            const int a = j / P;
            const real d = x[((n * A + a) * G + g) * P + j - a * P] - mean;
            m2 += d * d;
        }
        part[i] = mean;
        part[total + i] = m2;
    }
}

// Each row's mean and rstd from its S segments' moments: the mean weighted by the segments'
// sizes, then the deviations' squares summed within and between segments (exact, in two passes).
extern "C" __global__ void __launch_bounds__(256)
norm_stats(const real* __restrict__ part, real* __restrict__ mean, real* __restrict__ rstd,
           int R, int S, int L, int count, real eps)
{
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < R; r += blockDim.x * gridDim.x) {
        real mu = 0;
        for (int s = 0; s < S; ++s)
            mu += part[s * R + r] * real(min(L, count - s * L));
        mu /= real(count);
        real m2 = 0;
        for (int s = 0; s < S; ++s) {
            const real d = part[s * R + r] - mu;
            m2 += part[(S + s) * R + r] + d * d * real(min(L, count - s * L));
        }
        mean[r] = mu;
        rstd[r] = real(1) / root(m2 / real(count) + eps);
    }
}

// y = (x - mean)*rstd*gamma + beta, one thread per element in memory order.
extern "C" __global__ void __launch_bounds__(256)
norm_forward(const real* __restrict__ x, const real* __restrict__ mean, const real* __restrict__ rstd,
             const real* __restrict__ gamma, const real* __restrict__ beta, real* __restrict__ y,
             int N, int A, int G, int Cg, int B)
{
    const int P = Cg * B, total = N * A * G * P;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int t = i / P, p = i - t * P;  // t = (n*A + a)*G + g
        const int r = t / (A * G) * G + t % G, c = (t % G) * Cg + p / B;
        y[i] = (x[i] - mean[r]) * rstd[r] * gamma[c] + beta[c];
    }
}

// The backward's two row reductions, per segment: the sums of g = dy*gamma and of g*x_hat, to
// part[0, s, r] and part[1, s, r] (segments as in norm_moments).
extern "C" __global__ void __launch_bounds__(256)
norm_backward_sums(const real* __restrict__ dy, const real* __restrict__ x, const real* __restrict__ mean,
                   const real* __restrict__ rstd, const real* __restrict__ gamma, real* __restrict__ part,
                   int N, int A, int G, int Cg, int B, int S, int L)
{
    const int R = N * G, P = Cg * B, count = A * P, total = S * R;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int s = i / R, r = i - s * R;
        const int n = r / G, g = r - n * G;
        const int lo = s * L, hi = min(count, lo + L);
        const real mu = mean[r], rs = rstd[r];
        real sum_g = 0, sum_gx = 0;
        for (int j = lo; j < hi; ++j) {
            const int a = j / P, p = j - a * P;
            const int o = ((n * A + a) * G + g) * P + p;
            const real gj = dy[o] * gamma[g * Cg + p / B];
            sum_g += gj;
            sum_gx += gj * (x[o] - mu) * rs;
        }
        part[i] = sum_g;
        part[total + i] = sum_gx;
    }
}

// dx = (g - mean(g) - x_hat*mean(g*x_hat))*rstd, the row means from sums (2, R): the sums of
// norm_backward_sums over the segments.
extern "C" __global__ void __launch_bounds__(256)
norm_backward(const real* __restrict__ dy, const real* __restrict__ x, const real* __restrict__ mean,
              const real* __restrict__ rstd, const real* __restrict__ gamma, const real* __restrict__ sums,
              real* __restrict__ dx, int N, int A, int G, int Cg, int B)
{
    const int R = N * G, P = Cg * B, total = N * A * G * P;
    const real inv_count = real(1) / real(A * P);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int t = i / P, p = i - t * P;
        const int r = t / (A * G) * G + t % G, c = (t % G) * Cg + p / B;
        const real rs = rstd[r];
        const real x_hat = (x[i] - mean[r]) * rs;
        dx[i] = (dy[i] * gamma[c] - sums[r] * inv_count - x_hat * (sums[R + r] * inv_count)) * rs;
    }
}

// dgamma and dbeta per segment: the sums of dy*x_hat and of dy over channel c's count = N*A*B
// elements, x as (N*A, C, B) with C = G*Cg; segment s of channel c to part[0, s, c] and part[1, s, c].
extern "C" __global__ void __launch_bounds__(256)
norm_param_sums(const real* __restrict__ dy, const real* __restrict__ x, const real* __restrict__ mean,
                const real* __restrict__ rstd, real* __restrict__ part,
                int N, int A, int G, int Cg, int B, int S, int L)
{
    const int C = G * Cg, count = N * A * B, total = S * C;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int s = i / C, c = i - s * C, g = c / Cg;
        const int lo = s * L, hi = min(count, lo + L);
        real sum_dyx = 0, sum_dy = 0;
        // Unrolled, the two integer divisions per element spill registers in double precision.
#pragma unroll 1
        for (int e = lo; e < hi; ++e) {
            const int u = e / B;  // u = n*A + a
            const int o = (u * C + c) * B + e - u * B, r = u / A * G + g;
            sum_dyx += dy[o] * (x[o] - mean[r]) * rstd[r];
            sum_dy += dy[o];
        }
        part[i] = sum_dyx;
        part[total + i] = sum_dy;
    }
}
