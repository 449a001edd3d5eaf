// One channel of a depthwise convolution, accumulated tap by tap over output rows: the inner loop is
// contiguous for stride 1, so it vectorises (AVX-512, AVX2 or baseline, picked at load time). No FMA
// contraction: each tap's product is rounded, then added, as the reference loop did.
#include "ckernels.h"

#pragma clang fp contract(off)

__attribute__((target_clones("avx512f", "avx2", "default")))
void yc_depthwise_plane(const float *src, long height, long width, const float *weights, long kh, long kw, long sh, long sw,
                        long pt, long pl, long dh, long dw, long oh, long ow, float *dst) {
    for (long ki = 0; ki < kh; ki++) {
        for (long kj = 0; kj < kw; kj++) {
            const float wv = weights[ki * kw + kj];
            const long xoff = kj * dw - pl;
            // Output columns whose input column is inside the image: [lo, hi).
            long lo = 0, hi = ow;
            while (lo < ow && lo * sw + xoff < 0) lo++;
            while (hi > lo && (hi - 1) * sw + xoff >= width) hi--;
            if (hi <= lo) continue;
            for (long oy = 0; oy < oh; oy++) {
                const long iy = oy * sh + ki * dh - pt;
                if (iy < 0 || iy >= height) continue;
                const float *line = src + iy * width + xoff;
                float *d = dst + oy * ow;
                if (sw == 1) {
                    for (long ox = lo; ox < hi; ox++) d[ox] += wv * line[ox];
                } else {
                    for (long ox = lo; ox < hi; ox++) d[ox] += wv * line[ox * sw];
                }
            }
        }
    }
}
