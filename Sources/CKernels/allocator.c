// See include/allocator.h.
#include "allocator.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void mc_keep_freed_memory(long keep_bytes) {
#if defined(__GLIBC__)
    int threshold = keep_bytes > (1L << 30) ? (1 << 30) : (int)keep_bytes;
    mallopt(M_MMAP_THRESHOLD, threshold);
    mallopt(M_TRIM_THRESHOLD, threshold * 2);
#else
    (void)keep_bytes;
#endif
}
