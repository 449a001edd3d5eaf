// A 2-D transpose in 16 x 16 blocks: each block reads 16 source rows and writes 16 destination rows,
// so both sides use whole cache lines while the block is in L1.
#include "ckernels.h"

void yc_transpose_floats(const float *src, long lds, float *dst, long ldd, long ni, long nj) {
    for (long j0 = 0; j0 < nj; j0 += 16) {
        const long j1 = j0 + 16 < nj ? j0 + 16 : nj;
        for (long i0 = 0; i0 < ni; i0 += 16) {
            const long i1 = i0 + 16 < ni ? i0 + 16 : ni;
            for (long j = j0; j < j1; j++)
                for (long i = i0; i < i1; i++) dst[j * ldd + i] = src[i * lds + j];
        }
    }
}
