#ifndef YOLO_COMPILE_CKERNELS_H
#define YOLO_COMPILE_CKERNELS_H
#include <stddef.h>

/// y[i] = 1 / (1 + exp(-x[i])), with a vectorisable expf (vmath.h: Cephes' range reduction and polynomial,
/// within about 1 ulp of libm over the float range). x and y may alias.
void yc_sigmoid(const float *x, float *y, size_t n);

/// y[i] = erf(x[i]), within 1.34 ulp (vmath.h's yc_erff, which the GELU output pass also uses). x and
/// y may alias.
void yc_erf(const float *x, float *y, size_t n);

/// y[i] = max(x[i], 0), NaN kept. x and y may alias.
void yc_relu(const float *x, float *y, size_t n);

/// Softmax of each of `rows` contiguous rows of `n` floats, in place: exp(x - max) / sum.
void yc_softmax_rows(float *x, size_t rows, size_t n);

/// The activations a convolution's output pass can apply (Interpreter/FusedActivation.swift maps
/// them from the operators they stand for). Each computes exactly what its operators compute one
/// after the other, in the same precision and order.
typedef enum yc_activation {
    YC_IDENTITY = 0,
    YC_RELU = 1,              // Relu
    YC_LEAKY_RELU = 2,        // LeakyRelu(alpha), in double, rounded once
    YC_SIGMOID = 3,           // Sigmoid
    YC_SILU = 4,              // Mul(x, Sigmoid(x))
    YC_HARD_SWISH = 5,        // HardSwish
    YC_HARD_SIGMOID_MUL = 6,  // Mul(x, HardSigmoid(x; alpha, beta)), the HardSigmoid in double
    YC_CLIP = 7,              // Clip(x, alpha, beta)
    YC_GELU = 8,              // Mul(Mul(x, Add(Erf(Div(x, alpha)), beta)), gamma)
} yc_activation;

/// y[i] = act(y[i] + bias) (the bias added only when `add_bias`), in place. `alpha` and `beta` are
/// LeakyRelu's alpha, HardSigmoid's alpha and beta, Clip's bounds, or GELU's three constants (with gamma).
void yc_bias_activation(float *y, size_t n, float bias, int add_bias, yc_activation act, float alpha, float beta, float gamma);

/// Max pooling of one plane (h x w) into dst (oh x ow), every window holding at least one input
/// position; returns 1 when a window reads NaN (dst is then unfinished). `scratch` holds
/// yc_max_pool_scratch(h, w, kh, kw, sh, sw, dh, dw, pl, oh, ow) floats.
int yc_max_pool_plane(const float *src, long h, long w, long kh, long kw, long sh, long sw, long dh, long dw, long pt, long pl,
                      long oh, long ow, float *scratch, float *dst);
long yc_max_pool_scratch(long h, long w, long kh, long kw, long sh, long sw, long dh, long dw, long pl, long oh, long ow);

/// The float32 arithmetic `yc_binary_floats` runs.
typedef enum yc_binary { YC_ADD = 0, YC_SUB = 1, YC_MUL = 2, YC_DIV = 3 } yc_binary;
/// y[i] = a[i * sa] op b[i * sb] for i < n, each stride 0 or 1 (binary.c).
void yc_binary_floats(yc_binary op, const float *a, long sa, const float *b, long sb, float *y, long n);

/// dst[j * ldd + i] = src[i * lds + j] for i < ni, j < nj (transpose.c).
void yc_transpose_floats(const float *src, long lds, float *dst, long ldd, long ni, long nj);

/// One task of a parallel loop: `worker` is the thread's number (0 for the caller) and `task` the task's.
typedef void (*yc_task_fn)(void *ctx, size_t worker, size_t task);
/// Runs fn(ctx, worker, task) for every task in 0..<tasks on the caller and up to threads - 1 pool
/// workers (pool.c), returning when all are done. Called from inside a task, runs its tasks inline.
void yc_parallel_for(size_t tasks, size_t threads, yc_task_fn fn, void *ctx);

/// out[r][i] = act(out[r][i] + bias[i]) over `rows` rows of `n` (no bias when NULL), in place.
void yc_rows_bias_activation(float *out, size_t rows, size_t n, const float *bias, yc_activation act, float alpha, float beta,
                             float gamma);

/// Keeps memory that tensors free in the heap for the next ones, rather than unmapping it (heap.c says why).
void yc_keep_freed_memory(void);

/// OpenBLAS, loaded on first use (blas.c says why): NULL once it is loaded, else why it could not be.
const char *yc_blas_load(void);
/// The kernels OpenBLAS chose ("SkylakeX"), or "" when it is not loaded.
const char *yc_blas_core(void);
/// Row-major C = alpha * op(A) * op(B) + beta * C through OpenBLAS (each call on the calling thread).
/// Aborts when OpenBLAS is not loaded: callers check `yc_blas_load` first (the interpreter does).
void yc_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc);
void yc_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb,
              double beta, double *c, int ldc);

/// The direct convolution (conv.c): output channels per tile.
#define YC_CONV_MR 8
/// 1 when this CPU runs the direct convolution (AVX-512), else 0: callers then use im2col and OpenBLAS.
long yc_conv_available(void);
/// Lays out `channels` planes of height x width, zero-padded by pt above and pl to the left, as sh x sw
/// stride phases of hq x wq each per channel: padded position (py, px) goes to phase (py % sh, px % sw)
/// at (py / sh, px / sw). dst holds channels * sh * sw * hq * wq floats.
void yc_conv_phases(const float *src, long channels, long height, long width, long pt, long pl, long sh, long sw, long hq,
                    long wq, float *dst);
/// What a convolution applies to its output while it is in cache: y = act(y + bias[o]) for output
/// channel o (no bias when `bias` is NULL), as yc_bias_activation computes it.
typedef struct yc_output_pass {
    const float *bias;
    yc_activation act;
    float alpha, beta, gamma;
} yc_output_pass;
/// y = act(y + bias[channel]) over n floats, as yc_bias_activation computes it (nothing for identity
/// without a bias).
void yc_output_pass_apply(const yc_output_pass *pass, long channel, float *y, size_t n);
/// Output rows [r0, r1) of all m channels (w: m rows of k weights): dst[o * plane + oy * ow + ox] =
/// sum over taps p in order of w[o][p] * src[off[p] + oy * wq + ox], as one chain of fused
/// multiply-adds (conv.c says more), then `pass` over them (its bias indexed from dst's first channel).
void yc_conv_rows(const float *w, long m, long k, const long *off, const float *src, long wq, long ow, long plane,
                  long r0, long r1, float *dst, const yc_output_pass *pass);
/// One channel of a depthwise convolution over its stride phases (yc_conv_phases, with
/// YC_DEPTHWISE_TAIL readable floats after them): dst (oh x ow) = the sum of weights[p] *
/// phases[off[p] + oy * wq + ox] over the taps p in order, one chain of fused multiply-adds from zero,
/// then `pass` (its bias[0] this channel's).
void yc_depthwise_phases(const float *phases, long wq, const long *off, const float *weights, long taps, long oh, long ow,
                         float *dst, const yc_output_pass *pass);
#define YC_DEPTHWISE_TAIL 16

/// The matrix product c[i][j] = sum over p in order of a[i][p] * b[off[p] + j] (a: m rows of k), for
/// columns j < n, by the direct convolution's tile: one chain of fused multiply-adds from zero per
/// output. c holds m rounded up to YC_CONV_MR rows of ldc floats, ldc >= n rounded up to 16 (whole
/// vectors are stored).
void yc_conv_product(const float *a, long m, long k, const float *b, const long *off, long n, float *c, long ldc);

/// Winograd F(2x2, 3x3) for 3x3, stride-1, undilated, ungrouped convolutions (winograd.c).
/// u (16 x m x c floats) = the transformed kernels w (m x c x 3 x 3), of outputs [o0, o1).
void yc_winograd_weights(const float *w, long m, long c, long o0, long o1, float *u);
/// Floats of scratch that yc_winograd_tiles needs with columns `ld` apart.
long yc_winograd_scratch(long m, long c, long ld);
/// A Winograd convolution's operands: the input laid out as one zero-padded phase per channel
/// (yc_conv_phases, stride 1, channelFloats apart) of wq = 2 ntx + 2 columns and 2 nty + 2 rows, with 64
/// readable floats after the last; the transformed kernels u; off[p] = p * ld for p < c (ld, a multiple
/// of 16, at least the tiles of a call).
typedef struct yc_winograd_conv {
    const float *u, *phases;
    const long *off;
    long m, c, ld, channelFloats, wq, ntx, oh, ow;
} yc_winograd_conv;
/// The 2x2 output tiles [j0, j1) of all m channels of dst (m x oh x ow), tile j = ty * ntx + tx holding
/// rows 2 ty, 2 ty + 1 and columns 2 tx, 2 tx + 1 (those inside), then `pass` over them; scratch holds
/// yc_winograd_scratch(m, c, ld) floats. Returns 1 when a sum is an infinity or a NaN: the output pass
/// is then not (wholly) applied, and the caller runs the direct kernel instead.
int yc_winograd_tiles(const yc_winograd_conv *conv, long j0, long j1, float *dst, const yc_output_pass *pass, float *scratch);

#endif
