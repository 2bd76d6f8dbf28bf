// The C under modelconv's kernels (umbrella header of the CKernels module).
#include "allocator.h"
#include "blas_loader.h"
#include "depthwise.h"
#include "epilogue.h"
#include "pool.h"
#include "sgemm.h"
