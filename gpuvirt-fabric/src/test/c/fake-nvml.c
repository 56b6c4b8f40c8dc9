/*
 * fake-nvml.c: the few NVML functions gpuvirt's module-id discovery calls, over a table of GPUs
 * that the test writes into fake-nvml-gpus.h before compiling:
 *
 *   static const struct fake_gpu FAKE_GPUS[] = {{0x0000, 0x17, 0x00, 0, 2}, ...};
 *   #define FAKE_NO_MODULE_ID   (optional: a driver older than r535, without nvmlDeviceGetModuleId)
 *
 * Return codes and struct layout as in nvml.h: NVML_SUCCESS 0, NVML_ERROR_UNINITIALIZED 1,
 * NVML_ERROR_INVALID_ARGUMENT 2; nvmlPciInfo_t is 68 bytes.
 */
#include <stdio.h>
#include <string.h>

#define API __attribute__((visibility("default")))

struct fake_gpu {
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int function;
  unsigned int module_id;
};

#include "fake-nvml-gpus.h"

typedef struct {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t");

#define GPU_COUNT (sizeof FAKE_GPUS / sizeof FAKE_GPUS[0])

static int initialized;

API int nvmlInit_v2(void) {
  initialized++;
  return 0;
}

API int nvmlShutdown(void) {
  if (!initialized) {
    return 1;
  }
  initialized--;
  return 0;
}

API int nvmlDeviceGetCount_v2(unsigned int *count) {
  if (!initialized) {
    return 1;
  }
  if (!count) {
    return 2;
  }
  *count = (unsigned int) GPU_COUNT;
  return 0;
}

API int nvmlDeviceGetHandleByIndex_v2(unsigned int index, const struct fake_gpu **device) {
  if (!initialized) {
    return 1;
  }
  if (!device || index >= GPU_COUNT) {
    return 2;
  }
  *device = &FAKE_GPUS[index];
  return 0;
}

API int nvmlDeviceGetPciInfo_v3(const struct fake_gpu *device, nvmlPciInfo_t *pci) {
  if (!initialized) {
    return 1;
  }
  if (!device || !pci) {
    return 2;
  }
  memset(pci, 0, sizeof *pci);
  snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", device->domain, device->bus,
      device->device, device->function);
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", device->domain & 0xffff,
      device->bus, device->device, device->function);
  pci->domain = device->domain;
  pci->bus = device->bus;
  pci->device = device->device;
  pci->pciDeviceId = 0x290110DEu;
  pci->pciSubSystemId = 0x199910DEu;
  return 0;
}

#ifndef FAKE_NO_MODULE_ID
API int nvmlDeviceGetModuleId(const struct fake_gpu *device, unsigned int *moduleId) {
  if (!initialized) {
    return 1;
  }
  if (!device || !moduleId) {
    return 2;
  }
  *moduleId = device->module_id;
  return 0;
}
#endif

API const char *nvmlErrorString(int result) {
  switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    default: return "Unknown Error";
  }
}
