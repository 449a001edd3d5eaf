// One plane's max pooling, separably: each input row's maximum over the horizontal taps, then each
// output row's maximum over those rows. Each maximum keeps the earlier value on ties, as the reference
// loop does (v > best replaces best), so the bits are the reference's; the taps' loops run over whole
// rows, so they vectorise (AVX-512, AVX2 or baseline, picked at load time).
#include "ckernels.h"
#include <math.h>

__attribute__((target_clones("avx512f", "avx2", "default")))
int yc_max_pool_plane(const float *src, long h, long w, long kh, long kw, long sh, long sw, long dh, long dw, long pt, long pl,
                      long oh, long ow, float *scratch, float *dst) {
    // A row padded with -infinity on both sides, which loses to (or equals) any value a window holds;
    // each row's maxima; and whether a window's columns in that row read NaN.
    const long padded = yc_max_pool_scratch(h, w, kw, sw, dw, pl, ow) - h * ow - h;
    float *line = scratch, *rows = scratch + padded, *rowNaN = rows + h * ow;
    for (long i = 0; i < padded; i++) line[i] = -INFINITY;
    for (long iy = 0; iy < h; iy++) {
        for (long ix = 0; ix < w; ix++) line[pl + ix] = src[iy * w + ix];
        float *r = rows + iy * ow;
        int nan = 0;
        for (long ox = 0; ox < ow; ox++) {
            const float v = line[ox * sw];
            nan |= v != v;
            r[ox] = v;
        }
        for (long t = 1; t < kw; t++) {
            const float *l = line + t * dw;
            for (long ox = 0; ox < ow; ox++) {
                const float v = l[ox * sw];
                nan |= v != v;
                r[ox] = v > r[ox] ? v : r[ox];
            }
        }
        rowNaN[iy] = nan;
    }
    for (long oy = 0; oy < oh; oy++) {
        float *d = dst + oy * ow;
        int first = 1;
        for (long t = 0; t < kh; t++) {
            const long iy = oy * sh + t * dh - pt;
            if (iy < 0 || iy >= h) continue;
            if (rowNaN[iy] != 0) return 1;
            const float *r = rows + iy * ow;
            if (first) {
                for (long ox = 0; ox < ow; ox++) d[ox] = r[ox];
                first = 0;
            } else {
                for (long ox = 0; ox < ow; ox++) d[ox] = r[ox] > d[ox] ? r[ox] : d[ox];
            }
        }
    }
    return 0;
}

long yc_max_pool_scratch(long h, long w, long kw, long sw, long dw, long pl, long ow) {
    const long reach = (ow - 1) * sw + (kw - 1) * dw + 1;
    return (reach > pl + w ? reach : pl + w) + h * ow + h;
}
