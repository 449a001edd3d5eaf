// One channel of a depthwise convolution over its stride phases (yc_conv_phases), where every tap of
// an output row reads one contiguous run. Each output is one chain of fused multiply-adds over the
// taps in order from zero, as the direct convolution computes it (conv.c), with fmaf: one instruction
// in the AVX-512 and AVX2+FMA builds, libm's in the baseline one, the same bits on every CPU. A block
// of an output row's columns is accumulated in registers over all the taps and stored once.
#include "ckernels.h"
#include <math.h>

#pragma clang fp contract(off)

// A block of R output rows x W columns starting at (oy, x0), accumulated in registers over all the
// taps (R x W / 16 independent chains, enough to hide the multiply-add's latency) and stored once: all
// R rows, their first `cols` columns. It reads W columns of each row whatever `cols` is: up to W - 1
// floats past a row's last output, which the next row, or the caller's tail, holds.
__attribute__((always_inline)) static inline void block(const int R, const int W, const float *phases, long wq, const long *off,
                                                        const float *weights, long taps, long oy, long x0, long cols, long ow,
                                                        float *dst) {
    float acc[4][64] = {{0}};
    for (long p = 0; p < taps; p++) {
        const float wv = weights[p], *s = phases + off[p] + oy * wq + x0;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < W; j++) acc[r][j] = fmaf(wv, s[r * wq + j], acc[r][j]);
    }
    for (int r = 0; r < R; r++)
        for (long j = 0; j < cols; j++) dst[(oy + r) * ow + x0 + j] = acc[r][j];
}

// Output rows [r0, r1): out[oy][ox] = the chain over p of weights[p] * phases[off[p] + oy * wq + ox].
// Two rows of 64 columns at a time, then four rows of 16 (the last block of a row stores what is in
// it), then the rows left over one by one.
__attribute__((always_inline)) static inline void rows(const float *phases, long wq, const long *off, const float *weights,
                                                       long taps, long r0, long r1, long ow, float *dst) {
    long oy = r0;
    for (; oy + 4 <= r1; oy += 4) {
        long x0 = 0;
        for (; x0 + 64 <= ow; x0 += 64) {
            block(2, 64, phases, wq, off, weights, taps, oy, x0, 64, ow, dst);
            block(2, 64, phases, wq, off, weights, taps, oy + 2, x0, 64, ow, dst);
        }
        for (; x0 < ow; x0 += 16) block(4, 16, phases, wq, off, weights, taps, oy, x0, ow - x0 < 16 ? ow - x0 : 16, ow, dst);
    }
    for (; oy < r1; oy++) {
        long x0 = 0;
        for (; x0 + 64 <= ow; x0 += 64) block(1, 64, phases, wq, off, weights, taps, oy, x0, 64, ow, dst);
        for (; x0 < ow; x0 += 16) block(1, 16, phases, wq, off, weights, taps, oy, x0, ow - x0 < 16 ? ow - x0 : 16, ow, dst);
    }
}

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_depthwise_phases(const float *phases, long wq, const long *off, const float *weights, long taps, long oh, long ow,
                         float *dst, const yc_output_pass *pass) {
    // The output pass after each few rows (a multiple of four), while they are in L1.
    const long chunk = ow > 0 && ow < 4096 ? (4096 / ow + 3) / 4 * 4 : 4;
    for (long r0 = 0; r0 < oh; r0 += chunk) {
        const long r1 = r0 + chunk < oh ? r0 + chunk : oh;
        rows(phases, wq, off, weights, taps, r0, r1, ow, dst);
        yc_output_pass_apply(pass, 0, dst + r0 * ow, (size_t)((r1 - r0) * ow));
    }
}
