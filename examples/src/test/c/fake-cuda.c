/*
 * fake-cuda.c: the few CUDA driver API functions gpuvirt's guest check calls, with results the
 * test chooses when it compiles the library:
 *
 *   -DFAKE_CUINIT_RESULT=3     what cuInit(0) returns (default 0, CUDA_SUCCESS)
 *   -DFAKE_DEVICE_COUNT=4      what cuDeviceGetCount reports after a successful cuInit (default 1)
 *   -DFAKE_NO_ERROR_NAME       leave cuGetErrorName out, as a library that lacks it
 *   -DFAKE_NOT_CUDA            export no CUDA function at all (a library that is not libcuda)
 *
 * Signatures and rules as in cuda.h: CUresult is an int enum; cuInit takes flags that must be 0;
 * cuDeviceGetCount before a successful cuInit returns CUDA_ERROR_NOT_INITIALIZED; cuGetErrorName
 * returns CUDA_ERROR_INVALID_VALUE and sets *pStr to NULL for a code it does not know. Code 4242
 * stands for a code newer than gpuvirt's table, which only the library can name.
 */
#include <stddef.h>

#define API __attribute__((visibility("default")))

#ifndef FAKE_CUINIT_RESULT
#define FAKE_CUINIT_RESULT 0
#endif
#ifndef FAKE_DEVICE_COUNT
#define FAKE_DEVICE_COUNT 1
#endif

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_NOT_INITIALIZED = 3
};

#ifdef FAKE_NOT_CUDA
API int not_cuda(void) {
  return 0;
}
#else
static int initialized;

API int cuDriverGetVersion(int *version) {
  if (version == NULL) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *version = 13000;
  return CUDA_SUCCESS;
}

API int cuInit(unsigned int flags) {
  if (flags != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  initialized = FAKE_CUINIT_RESULT == CUDA_SUCCESS;
  return FAKE_CUINIT_RESULT;
}

API int cuDeviceGetCount(int *count) {
  if (count == NULL) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!initialized) {
    return CUDA_ERROR_NOT_INITIALIZED;
  }
  *count = FAKE_DEVICE_COUNT;
  return CUDA_SUCCESS;
}

#ifndef FAKE_NO_ERROR_NAME
API int cuGetErrorName(int error, const char **name) {
  if (name == NULL) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  switch (error) {
    case 0: *name = "CUDA_SUCCESS"; return CUDA_SUCCESS;
    case 3: *name = "CUDA_ERROR_NOT_INITIALIZED"; return CUDA_SUCCESS;
    case 100: *name = "CUDA_ERROR_NO_DEVICE"; return CUDA_SUCCESS;
    case 802: *name = "CUDA_ERROR_SYSTEM_NOT_READY"; return CUDA_SUCCESS;
    case 4242: *name = "CUDA_ERROR_FROM_A_NEWER_DRIVER"; return CUDA_SUCCESS;
    default: *name = NULL; return CUDA_ERROR_INVALID_VALUE;
  }
}
#endif
#endif
