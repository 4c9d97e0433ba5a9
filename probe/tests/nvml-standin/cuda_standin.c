/*
 * A stand-in libcuda.so.1 for nvprobe's cross-check tests: only what nvprobe-shim calls.
 * CUDA_STANDIN_VERSION: what cuDriverGetVersion reports (default 13000).
 * CUDA_STANDIN_MODE=error: cuDriverGetVersion fails with CUDA_ERROR_NOT_INITIALIZED (3).
 */
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int cuDriverGetVersion(int *v) {
    const char *mode = getenv("CUDA_STANDIN_MODE");
    if (mode && strcmp(mode, "error") == 0) return 3;
    const char *s = getenv("CUDA_STANDIN_VERSION");
    *v = atoi(s ? s : "13000");
    return 0;
}

EXPORT int cuGetErrorName(int e, const char **s) {
    *s = e == 3 ? "CUDA_ERROR_NOT_INITIALIZED" : "CUDA_ERROR_UNKNOWN";
    return 0;
}

EXPORT int cuGetErrorString(int e, const char **s) {
    *s = e == 3 ? "initialization error" : "unknown error";
    return 0;
}
