// OpenBLAS's CBLAS interface (Debian libopenblas-dev; pkg-config openblas adds its include path).
#include <cblas.h>
// openblas_set_num_threads / openblas_get_num_threads are declared in OpenBLAS's cblas.h.
