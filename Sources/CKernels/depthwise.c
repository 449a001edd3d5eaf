// One channel of a depthwise convolution, accumulated tap by tap: over the stride phases every inner
// loop is contiguous, so it vectorises (AVX-512, AVX2 or baseline, picked at
// load time). No FMA contraction: each tap's product is rounded, then added, as the reference loop did.
#include "ckernels.h"

#pragma clang fp contract(off)

// One channel over its stride phases (yc_conv_phases): out[oy][ox] = the sum of w[p] * phases[off[p] +
// oy * wq + ox] over the taps p in order, from zero. Rows run in chunks of about 4096 floats, each
// accumulated in `acc` as one flat run (the columns past ow included), so that every tap is one long
// contiguous loop even on small planes; the padding's taps add w * 0, as im2col's zeros do.
__attribute__((target_clones("avx512f", "avx2", "default")))
void yc_depthwise_phases(const float *phases, long wq, const long *off, const float *weights, long taps, long oh, long ow,
                         float *acc, float *dst) {
    const long chunk = yc_depthwise_chunk_rows(wq);
    for (long r0 = 0; r0 < oh; r0 += chunk) {
        const long r1 = r0 + chunk < oh ? r0 + chunk : oh, n = (r1 - r0) * wq;
        for (long q = 0; q < n; q++) acc[q] = 0;
        for (long p = 0; p < taps; p++) {
            const float wv = weights[p];
            const float *s = phases + off[p] + r0 * wq;
            for (long q = 0; q < n; q++) acc[q] += wv * s[q];
        }
        for (long y = r0; y < r1; y++)
            for (long x = 0; x < ow; x++) dst[y * ow + x] = acc[(y - r0) * wq + x];
    }
}

long yc_depthwise_chunk_rows(long wq) { return wq > 0 && wq < 4096 ? 4096 / wq : 1; }
