// Direct convolution: an implicit matrix product that reads the input where it lies, with no im2col.
//
// The input is laid out once per convolution as `phases` (yc_conv_phases): each channel zero-padded
// and split by the strides into sh x sw planes of hq x wq, so that every tap of every stride reads a
// contiguous run. Output position (oy, ox) is column q = oy * wq + ox of the product, and tap p
// (channel, ki, kj) reads phases[off[p] + q]; the columns with ox >= ow fall in the padding of the
// row (computed, never stored). A tile broadcasts its YC_CONV_MR output channels' weights from their
// rows as they lie (eight sequential streams, which the prefetchers follow): packing them into panels
// first cost a pass over every weight on every call for no faster tile.
//
// Every output is one chain of fused multiply-adds over the taps in order, starting from zero, so its
// bits do not depend on how the work is split into tiles, blocks or threads.
#include "ckernels.h"
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MR YC_CONV_MR
#define NR 48  // output columns per tile: three AVX-512 vectors

long yc_conv_available(void) {
    static int available = -1;
    if (available < 0) {
        __builtin_cpu_init();
        available = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return available;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void yc_conv_phases(const float *src, long channels, long height, long width, long pt, long pl, long sh, long sw, long hq,
                    long wq, float *dst) {
    const long phase = hq * wq;
    for (long c = 0; c < channels; c++) {
        const float *in = src + c * height * width;
        float *planes = dst + c * sh * sw * phase;
        // Each padded row py, split into its sw phase rows; every float written once.
        for (long py = 0; py < hq * sh; py++) {
            const long iy = py - pt;
            float *rowBase = planes + (py % sh) * sw * phase + (py / sh) * wq;
            if (iy < 0 || iy >= height) {
                for (long rx = 0; rx < sw; rx++) memset(rowBase + rx * phase, 0, sizeof(float) * wq);
                continue;
            }
            const float *line = in + iy * width;
            for (long rx = 0; rx < sw; rx++) {
                // Phase column j holds padded column rx + j * sw, input column rx + j * sw - pl: inside for j in [lo, hi).
                float *d = rowBase + rx * phase;
                long lo = pl > rx ? (pl - rx + sw - 1) / sw : 0;
                long hi = (width + pl - rx + sw - 1) / sw;
                if (hi > wq) hi = wq;
                if (lo > hi) lo = hi;
                memset(d, 0, sizeof(float) * lo);
                const float *from = line + rx + lo * sw - pl;
                if (sw == 1) {
                    memcpy(d + lo, from, sizeof(float) * (hi - lo));
                } else if (sw == 2) {
                    for (long j = 0; j < hi - lo; j++) d[lo + j] = from[2 * j];  // a constant stride vectorises
                } else {
                    for (long j = lo; j < hi; j++) d[j] = from[(j - lo) * sw];
                }
                memset(d + hi, 0, sizeof(float) * (wq - hi));
            }
        }
    }
}

// Where a tile's columns go in the output: product column q + j is output row y = (q + j) / wq, column
// x = (q + j) % wq, stored when x < ow, for the first `rows` channels, `plane` floats apart from `dst`.
typedef struct {
    float *dst;
    long q, wq, ow, plane, rows;
} tile_out;

// An MR x (16 nv) tile: t[r][j] = sum over p of a[p][r] * b[off[p] + j], for the first `valid`
// columns (loads past them are masked off, so a tile at the end of the input reads nothing beyond it);
// with `acc`, the chain continues from the sums already in t. nv is a constant in each caller, so the
// accumulators stay in registers. With `out`, the sums go straight to the output rows instead, each
// row's run of lanes by masked stores (no copy through a buffer where a tile spans rows).
__attribute__((target("avx512f"), always_inline))
static inline void tile_avx512(const int nv, long k, const float *a, long lda, long arows, const float *b, const long *off,
                               long valid, float *t, long ldt, int acc, const tile_out *out) {
    // The weight rows, the last repeated for a panel's missing channels (their sums are never stored).
    const float *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = a + (r < arows ? r : arows - 1) * lda;
    __mmask16 mask[3];
    for (int v = 0; v < nv; v++) {
        const long n = valid - 16 * v;
        mask[v] = n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
    }
    __m512 c[MR][3];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < nv; v++) c[r][v] = acc ? _mm512_loadu_ps(t + r * ldt + 16 * v) : _mm512_setzero_ps();
    for (long p = 0; p < k; p++) {
        const float *bp = b + off[p];
        __m512 bv[3];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_maskz_loadu_ps(mask[v], bp + 16 * v);
        // The next tile's columns of this tap: a strided conv's phases hold more rows than the
        // hardware prefetchers follow.
        for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(bp + 16 * nv + 16 * v), _MM_HINT_T0);
        for (int r = 0; r < MR; r++) {
            const __m512 x = _mm512_set1_ps(ar[r][p]);
            for (int v = 0; v < nv; v++) c[r][v] = _mm512_fmadd_ps(x, bv[v], c[r][v]);
        }
    }
    if (!out) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < nv; v++) _mm512_storeu_ps(t + r * ldt + 16 * v, c[r][v]);
        return;
    }
    // One run of lanes [j0, j1) per output row the tile spans. `d` is where lane 0 would go in that
    // row's frame: outside the row (even the plane) where lanes before j0 would be, but those are
    // masked off, and masked-off lanes are never accessed.
    for (long j0 = 0; j0 < valid;) {
        const long s = out->q + j0, y = s / out->wq, x = s - y * out->wq;
        const long rowEnd = (y + 1) * out->wq - out->q, j1 = rowEnd < valid ? rowEnd : valid;
        const long stored = x < out->ow ? (out->ow - x < j1 - j0 ? out->ow - x : j1 - j0) : 0;
        const uintptr_t d = (uintptr_t)(out->dst + y * out->ow + x) - (uintptr_t)j0 * sizeof(float);
        for (int v = 0; v < nv; v++) {
            const long lo = j0 - 16 * v, hi = j0 + stored - 16 * v;  // this vector's lanes in the run
            if (hi <= 0 || lo >= 16) continue;
            const __mmask16 m = (__mmask16)(((hi >= 16 ? 0xFFFFu : (1u << hi) - 1)) & ~(lo <= 0 ? 0u : (1u << lo) - 1));
            for (int r = 0; r < MR; r++)
                if (r < out->rows) _mm512_mask_storeu_ps((float *)(d + (uintptr_t)(r * out->plane + 16 * v) * sizeof(float)), m, c[r][v]);
        }
        j0 = j1;
    }
}

#define YC_TILE(name, nv)                                                                                            \
    __attribute__((target("avx512f"))) static void name(long k, const float *a, long lda, long arows, const float *b,     \
                                                        const long *off, long valid, float *t, long ldt, int acc,        \
                                                        const tile_out *out) {                                           \
        tile_avx512(nv, k, a, lda, arows, b, off, valid, t, ldt, acc, out);                                              \
    }
YC_TILE(tile16, 1)
YC_TILE(tile32, 2)
YC_TILE(tile48, 3)

typedef void (*tile_fn)(long, const float *, long, long, const float *, const long *, long, float *, long, int, const tile_out *);

// The narrowest tile that holds `valid` columns (the last of a small image's row block).
static tile_fn narrowest(long valid) { return valid > 32 ? tile48 : valid > 16 ? tile32 : tile16; }

// Taps per pass when a product has many (KC), and output channels per pass (MC, a multiple of MR):
// a pass's weights (MC x KC) stay in L2 and a tile's columns of its taps (KC x NR) in L1.
#define KC 256
#define MC 256

// The output pass over channels [i0, i1) of rows [r0, r1), while they are in cache.
static void output_pass(const yc_output_pass *pass, float *dst, long plane, long ow, long r0, long r1, long i0, long i1) {
    for (long i = i0; i < i1; i++) yc_output_pass_apply(pass, i, dst + i * plane + r0 * ow, (size_t)((r1 - r0) * ow));
}

// Many taps: the sums of each pass over KC taps continue in a buffer of the block's columns (garbage
// columns included), copied to the output at the end. Returns 0 when the buffer cannot be had.
static int conv_rows_blocked(const float *w, long m, long k, const long *off, const float *src, long wq, long ow,
                             long plane, long r0, long r1, float *dst, const yc_output_pass *pass) {
    const long q0 = r0 * wq, q1 = r1 * wq, ncols = (q1 - q0 + NR - 1) / NR * NR;
    float *sums = malloc(sizeof(float) * MC * ncols);
    if (!sums) return 0;
    for (long i0 = 0; i0 < m; i0 += MC) {
        const long i1 = i0 + MC < m ? i0 + MC : m;
        for (long p0 = 0; p0 < k; p0 += KC) {
            const long kk = k - p0 < KC ? k - p0 : KC;
            for (long q = q0; q < q1; q += NR) {
                const long valid = q1 - q < NR ? q1 - q : NR;
                const tile_fn tile = narrowest(valid);
                for (long i = i0; i < i1; i += MR)
                    tile(kk, w + i * k + p0, k, i1 - i < MR ? i1 - i : MR, src + q, off + p0, valid, sums + (i - i0) * ncols + (q - q0),
                         ncols, p0 > 0, NULL);
            }
        }
        for (long i = i0; i < i1; i++) {
            for (long y = r0; y < r1; y++) memcpy(dst + i * plane + y * ow, sums + (i - i0) * ncols + (y * wq - q0), sizeof(float) * ow);
            output_pass(pass, dst, plane, ow, r0, r1, i, i + 1);
        }
    }
    free(sums);
    return 1;
}

void yc_conv_rows(const float *w, long m, long k, const long *off, const float *src, long wq, long ow, long plane,
                  long r0, long r1, float *dst, const yc_output_pass *pass) {
    if (k > 2 * KC && conv_rows_blocked(w, m, k, off, src, wq, ow, plane, r0, r1, dst, pass)) return;
    const long q0 = r0 * wq, q1 = r1 * wq;
    // Output channels per pass over the columns: two panels, whose weights stay in L1 while the columns
    // stream from L2. Fewer channels at a time means fewer output rows written at once (16 rather than
    // all m), which the store prefetchers keep up with: 3-6% faster over whole models than one pass over
    // all channels, most on the wide early layers. Their output pass then runs while they are in L1.
    const long mc = 2 * MR;
    // The first tile ends where the first tap's columns reach a 64-byte line, so that the tiles after it
    // load whole lines: a 1x1 convolution reads its input tensor as it lies, wherever the allocator put
    // it, and loads that straddle two lines ran 16% slower (192 -> 768 channels on 80 x 80).
    const long skew = (long)(((uintptr_t)(src + off[0] + q0) / sizeof(float)) % 16), first = skew ? NR - skew : NR;
    for (long i0 = 0; i0 < m; i0 += mc) {
        const long i1 = i0 + mc < m ? i0 + mc : m;
        for (long q = q0; q < q1; q += q == q0 ? first : NR) {
            const long width = q == q0 ? first : NR, valid = q1 - q < width ? q1 - q : width;
            for (long i = i0; i < i1; i += MR) {
                const tile_out out = {dst + i * plane, q, wq, ow, plane, i1 - i < MR ? i1 - i : MR};
                narrowest(valid)(k, w + i * k, k, out.rows, src + q, off, valid, NULL, 0, 0, &out);
            }
        }
        output_pass(pass, dst, plane, ow, r0, r1, i0, i1);
    }
}

void yc_conv_product(const float *a, long m, long k, const float *b, const long *off, long n, float *c, long ldc) {
    // As yc_conv_rows: two panels' weights in L1 while the columns stream from L2.
    for (long i0 = 0; i0 < m; i0 += 2 * MR) {
        const long i1 = i0 + 2 * MR < m ? i0 + 2 * MR : m;
        for (long q = 0; q < n; q += NR) {
            const long valid = n - q < NR ? n - q : NR;
            for (long i = i0; i < i1; i += MR)
                narrowest(valid)(k, a + i * k, k, i1 - i < MR ? i1 - i : MR, b + q, off, valid, c + i * ldc + q, ldc, 0, NULL);
        }
    }
}
