// Allocator settings for a process that runs one job (the modelconv CLI).
#ifndef MODELCONV_ALLOCATOR_H
#define MODELCONV_ALLOCATOR_H
#ifdef __cplusplus
extern "C" {
#endif

/// Keeps freed blocks up to `keep_bytes` in the heap for reuse instead of returning them
/// to the OS (glibc: M_MMAP_THRESHOLD and M_TRIM_THRESHOLD); no-op elsewhere.
void mc_keep_freed_memory(long keep_bytes);

#ifdef __cplusplus
}
#endif
#endif
