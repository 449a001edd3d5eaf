// One channel of a depthwise convolution, accumulated tap by tap along each output row: over the
// stride phases every inner loop is contiguous, so it vectorises (AVX-512, AVX2 or baseline, picked at
// load time). No FMA contraction: each tap's product is rounded, then added, as the reference loop did.
#include "ckernels.h"

#pragma clang fp contract(off)

// One channel over its stride phases (yc_conv_phases), where every tap of an output row reads a
// contiguous run: dst (oh x ow, zeroed by the caller) += w[p] * phases[off[p] + oy * wq + ox], the taps
// in order for each row. The padding's taps add w * 0, as im2col's zeros do.
__attribute__((target_clones("avx512f", "avx2", "default")))
void yc_depthwise_phases(const float *phases, long wq, const long *off, const float *weights, long taps, long oh, long ow,
                         float *dst) {
    for (long oy = 0; oy < oh; oy++) {
        float *d = dst + oy * ow;
        for (long p = 0; p < taps; p++) {
            const float wv = weights[p];
            const float *s = phases + off[p] + oy * wq;
            for (long ox = 0; ox < ow; ox++) d[ox] += wv * s[ox];
        }
    }
}
