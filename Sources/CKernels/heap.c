// The interpreter's tensors come and go node by node, many of them tens of megabytes. glibc's malloc
// maps each block above 32 MiB (and, by default, above its adaptive threshold) freshly from the kernel
// and unmaps it on free, so every node pays a page fault per 4 KiB of its output, and two threads
// faulting into one process contend on its page tables: on ConvNeXt that was a million faults per run.
// Keeping freed memory in the heap makes each run reuse the blocks the last node freed, as an arena
// would; the peak resident set is the same (the live tensors), it is just not handed back between nodes.
#include "ckernels.h"
#if defined(__linux__)
#include <malloc.h>  // defines __GLIBC__ on glibc
#endif

void yc_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);             // every block from the heap, none mapped on its own
    mallopt(M_TRIM_THRESHOLD, 1 << 30); // and freed memory kept for the next node unless a GiB is idle at the top
#endif
}
