// Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) for
// 3x3, stride-1, undilated, ungrouped convolutions: each 2x2 block of outputs ("tile") comes from the
// 4x4 input patch d around it as
//
//     Y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) elementwise, 16 products where direct takes 36
//
//     B^T = | 1  0 -1  0 |    G = |  1    0    0  |    A^T = | 1  1  1  0 |
//           | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
//           | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
//           | 0  1  0 -1 |        |  0    0    1  |
//
// so that, summed over input channels, the 16 elementwise products become 16 matrix products
// M[xi] = U[xi] (m x c) * V[xi] (c x tiles), run by the direct convolution's tile (yc_conv_product).
// The transforms only add, subtract and halve, which is why F(2x2, 3x3) and not a larger tile (whose
// transforms multiply by 1/4, 1/6 and 1/24 and grow the rounding error with them): its results stay
// within a few units in the last place of the direct sum. Each output is computed the same way
// wherever its tile falls in a block or thread, so the bits do not depend on the split.
#include "ckernels.h"
#include <immintrin.h>
#include <stdint.h>

// U[xi][o][ci] = (G g G^T)[xi] for the 3x3 kernel g of output o and input channel ci, xi = 4 * row + column,
// sixteen input channels at a time. Computed on every call (the interpreter keeps no state per node):
// 8% of the convolution's time at 256 x 256 channels on 20 x 20, less on larger images.
__attribute__((target("avx512f")))
void yc_winograd_weights(const float *w, long m, long c, long o0, long o1, float *u) {
    const long stride = m * c;
    const __m512i nine = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(9));
    const __m512 half = _mm512_set1_ps(0.5f);
    for (long o = o0; o < o1; o++) {
        for (long ci = 0; ci < c; ci += 16) {
            const long n = c - ci < 16 ? c - ci : 16;
            const __mmask16 keep = (__mmask16)(n == 16 ? 0xFFFFu : (1u << n) - 1);
            const float *g = w + (o * c + ci) * 9;
            __m512 t[4][3];  // G g
            for (int j = 0; j < 3; j++) {
                const __m512 g0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), keep, nine, g + j, 4);
                const __m512 g1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), keep, nine, g + 3 + j, 4);
                const __m512 g2 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), keep, nine, g + 6 + j, 4);
                t[0][j] = g0;
                t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g0, g1), g2));
                t[2][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g0, g1), g2));
                t[3][j] = g2;
            }
            float *dst = u + o * c + ci;
            for (int i = 0; i < 4; i++) {  // (G g) G^T
                _mm512_mask_storeu_ps(dst + (4 * i + 0) * stride, keep, t[i][0]);
                _mm512_mask_storeu_ps(dst + (4 * i + 1) * stride, keep, _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2])));
                _mm512_mask_storeu_ps(dst + (4 * i + 2) * stride, keep, _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(t[i][0], t[i][1]), t[i][2])));
                _mm512_mask_storeu_ps(dst + (4 * i + 3) * stride, keep, t[i][2]);
            }
        }
    }
}

// Tiles are numbered row by row, j = ty * ntx + tx, and a call takes a run of them [j0, j1), which may
// begin and end inside a tile row: the products then run over whole 48-column tiles but for the last,
// where a block of whole tile rows (40 tiles at 80 x 80) would leave a narrow tile every block.
// FOR_TILE_ROWS runs its body for each tile row ty that [j0, j1) meets, in order, with [tx0, tx1) the
// run's part of it.
#define FOR_TILE_ROWS(ntx, j0, j1, ...)                                           \
    for (long ty = (j0) / (ntx); ty * (ntx) < (j1); ty++) {                       \
        const long tx0 = (j0) > ty * (ntx) ? (j0) - ty * (ntx) : 0;              \
        const long tx1 = (j1) - ty * (ntx) < (ntx) ? (j1) - ty * (ntx) : (ntx);  \
        __VA_ARGS__                                                               \
    }

// V[xi][ci][j - j0] = (B^T d B)[xi] for the tiles j of [j0, j1): sixteen tiles of a row at a time,
// their patches' even and odd columns split out of two loads each.
__attribute__((target("avx512f")))
static void input_transform(const float *phases, long c, long channelFloats, long wq, long ntx, long j0, long j1, float *v,
                            long ldv, long xiStride) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (long ci = 0; ci < c; ci++) {
        const float *plane = phases + ci * channelFloats;
        FOR_TILE_ROWS(ntx, j0, j1, {
            for (long tx = tx0; tx < tx1; tx += 16) {
                const long n = tx1 - tx < 16 ? tx1 - tx : 16;
                const __mmask16 keep = (__mmask16)(n == 16 ? 0xFFFFu : (1u << n) - 1);
                __m512 d[4][4];
                for (int r = 0; r < 4; r++) {
                    const float *p = plane + (2 * ty + r) * wq + 2 * tx;
                    const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
                    const __m512 a2 = _mm512_loadu_ps(p + 2), b2 = _mm512_loadu_ps(p + 18);
                    d[r][0] = _mm512_permutex2var_ps(a, even, b);
                    d[r][1] = _mm512_permutex2var_ps(a, odd, b);
                    d[r][2] = _mm512_permutex2var_ps(a2, even, b2);
                    d[r][3] = _mm512_permutex2var_ps(a2, odd, b2);
                }
                __m512 t[4][4];  // B^T d
                for (int k = 0; k < 4; k++) {
                    t[0][k] = _mm512_sub_ps(d[0][k], d[2][k]);
                    t[1][k] = _mm512_add_ps(d[1][k], d[2][k]);
                    t[2][k] = _mm512_sub_ps(d[2][k], d[1][k]);
                    t[3][k] = _mm512_sub_ps(d[1][k], d[3][k]);
                }
                float *dst = v + ci * ldv + ty * ntx + tx - j0;
                for (int i = 0; i < 4; i++) {  // (B^T d) B
                    _mm512_mask_storeu_ps(dst + (4 * i + 0) * xiStride, keep, _mm512_sub_ps(t[i][0], t[i][2]));
                    _mm512_mask_storeu_ps(dst + (4 * i + 1) * xiStride, keep, _mm512_add_ps(t[i][1], t[i][2]));
                    _mm512_mask_storeu_ps(dst + (4 * i + 2) * xiStride, keep, _mm512_sub_ps(t[i][2], t[i][1]));
                    _mm512_mask_storeu_ps(dst + (4 * i + 3) * xiStride, keep, _mm512_sub_ps(t[i][1], t[i][3]));
                }
            }
        })
    }
}

// Y = A^T M A for each output channel's tiles, stored where they fall inside the output (oh x ow), then
// the output pass over what this call stored, while it is in cache: runs of whole rows at once, the
// parts of rows at either end (which other calls finish) alone. Returns 1, without the output pass,
// when a sum is infinite or NaN.
__attribute__((target("avx512f")))
static int output_transform(const float *mt, long m, long ldm, long xiStride, long ntx, long j0, long j1, float *dst,
                            long plane, long oh, long ow, const yc_output_pass *pass) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __mmask16 nonfinite = 0;  // lanes where y - y is not 0: an infinity or a NaN among the stored sums
    for (long o = 0; o < m; o++) {
        float *out = dst + o * plane;
        FOR_TILE_ROWS(ntx, j0, j1, {
            for (long tx = tx0; tx < tx1; tx += 16) {
                const float *src = mt + o * ldm + ty * ntx + tx - j0;
                __m512 s[2][4];  // A^T M
                for (int j = 0; j < 4; j++) {
                    const __m512 m0 = _mm512_loadu_ps(src + (0 + j) * xiStride), m1 = _mm512_loadu_ps(src + (4 + j) * xiStride);
                    const __m512 m2 = _mm512_loadu_ps(src + (8 + j) * xiStride), m3 = _mm512_loadu_ps(src + (12 + j) * xiStride);
                    s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                    s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
                }
                // Output columns 2 tx .. 2 tx + 31 of rows 2 ty and 2 ty + 1: those of this call's tiles inside the output.
                const long tiles = tx1 - tx < 16 ? tx1 - tx : 16, cols = ow - 2 * tx < 2 * tiles ? ow - 2 * tx : 2 * tiles;
                const __mmask16 first = (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1);
                const __mmask16 second = (__mmask16)(cols >= 32 ? 0xFFFFu : cols <= 16 ? 0u : (1u << (cols - 16)) - 1);
                for (int r = 0; r < 2 && 2 * ty + r < oh; r++) {
                    const __m512 a = _mm512_add_ps(_mm512_add_ps(s[r][0], s[r][1]), s[r][2]);  // (A^T M) A
                    const __m512 b = _mm512_sub_ps(_mm512_sub_ps(s[r][1], s[r][2]), s[r][3]);
                    float *row = out + (2 * ty + r) * ow + 2 * tx;
                    const __m512 left = _mm512_permutex2var_ps(a, lo, b), right = _mm512_permutex2var_ps(a, hi, b);
                    nonfinite |= _mm512_mask_cmp_ps_mask(first, _mm512_sub_ps(left, left), _mm512_setzero_ps(), _CMP_NEQ_UQ);
                    nonfinite |= _mm512_mask_cmp_ps_mask(second, _mm512_sub_ps(right, right), _mm512_setzero_ps(), _CMP_NEQ_UQ);
                    _mm512_mask_storeu_ps(row, first, left);
                    _mm512_mask_storeu_ps(row + 16, second, right);
                }
            }
        })
        if (nonfinite) continue;
        long run0 = -1, run1 = -1;  // the output rows of the tile rows wholly this call's (consecutive)
        FOR_TILE_ROWS(ntx, j0, j1, {
            const long y0 = 2 * ty, y1 = 2 * ty + 2 < oh ? 2 * ty + 2 : oh;
            if (tx0 == 0 && tx1 == ntx) {
                if (run0 < 0) run0 = y0;
                run1 = y1;
            } else {
                const long x0 = 2 * tx0, x1 = 2 * tx1 < ow ? 2 * tx1 : ow;
                for (long y = y0; y < y1; y++) yc_output_pass_apply(pass, o, out + y * ow + x0, (size_t)(x1 - x0));
            }
        })
        if (run0 >= 0) yc_output_pass_apply(pass, o, out + run0 * ow, (size_t)((run1 - run0) * ow));
    }
    return nonfinite != 0;
}

// The 16 matrices of V and of M lie one cache line further apart than their size: at c * ld floats
// apart (a multiple of 4 KiB for 64 channels) the transforms' 16 streams would share one set of L1.
static long v_stride(long c, long ld) { return c * ld + 16; }
static long m_stride(long m, long ld) { return (m + YC_CONV_MR - 1) / YC_CONV_MR * YC_CONV_MR * ld + 16; }

long yc_winograd_scratch(long m, long c, long ld) {
    return 16 * (v_stride(c, ld) + m_stride(m, ld)) + 16;  // the output transform's last loads run up to 15 floats past M
}

int yc_winograd_tiles(const yc_winograd_conv *conv, long j0, long j1, float *dst, const yc_output_pass *pass, float *scratch) {
    const long m = conv->m, c = conv->c, ld = conv->ld, vs = v_stride(c, ld), ms = m_stride(m, ld);
    float *v = scratch, *mt = scratch + 16 * vs;
    input_transform(conv->phases, c, conv->channelFloats, conv->wq, conv->ntx, j0, j1, v, ld, vs);
    for (int xi = 0; xi < 16; xi++) yc_conv_product(conv->u + xi * m * c, m, c, v + xi * vs, conv->off, j1 - j0, mt + xi * ms, ld);
    return output_transform(mt, m, ld, ms, conv->ntx, j0, j1, dst, conv->oh * conv->ow, conv->oh, conv->ow, pass);
}
