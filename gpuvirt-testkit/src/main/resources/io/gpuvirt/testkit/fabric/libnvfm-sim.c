/*
 * libnvfm-sim.c: a simulated NVIDIA Fabric Manager client library for gpuvirt's tests.
 *
 * It has the ABI of libnvfm.so.1: the 11 exported functions, the exact struct layouts (checked
 * below against the sizes of the x86_64 headers) and version words. Behind it is the simulated
 * Fabric Manager of gpuvirt-testkit: the JSON state file of SimulatedFabric, read and written under
 * the same lock (<state>.lock) with the same partition rules as FabricState.java. Keep the two in
 * step; gpuvirt-fabric's contract suite runs the same tests against both.
 *
 * Addresses: a Unix-socket address is the path of the state file. A TCP address must equal the
 * state's "tcpAddress" (port 6666 when none is given); the state file is then named by the
 * environment variable GPUVIRT_SIM_FM_STATE.
 *
 * On top of the real library's checks it refuses a struct whose version word is wrong, and it
 * clears the version word after each call, so a client that does not set it before every call
 * fails with FM_ST_VERSION_MISMATCH.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))

/* ---- the libnvfm ABI ------------------------------------------------------------------------ */

#define FM_MAX_STR_LENGTH 256
#define FM_UUID_BUFFER_SIZE 80
#define FM_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define FM_MAX_NUM_GPUS 16
#define FM_MAX_NUM_NVSWITCHES 12
#define FM_MAX_FABRIC_PARTITIONS 64
#define FM_MAX_NUM_NVLINK_PORTS 64
#define MAKE_FM_PARAM_VERSION(type, ver) (unsigned int)(sizeof(type) | ((ver) << 24U))

typedef int fmReturn_t;
enum {
  FM_ST_SUCCESS = 0, FM_ST_BADPARAM = -1, FM_ST_GENERIC_ERROR = -2, FM_ST_NOT_SUPPORTED = -3,
  FM_ST_UNINITIALIZED = -4, FM_ST_TIMEOUT = -5, FM_ST_VERSION_MISMATCH = -6, FM_ST_IN_USE = -7,
  FM_ST_NOT_CONFIGURED = -8, FM_ST_CONNECTION_NOT_VALID = -9, FM_ST_NVLINK_ERROR = -10,
  FM_ST_PARTITION_ID_IN_USE = -17, FM_ST_PARTITION_ID_NOT_IN_USE = -18
};
enum { NV_FM_API_ADDR_TYPE_UNKNOWN = 0, NV_FM_API_ADDR_TYPE_INET = 1, NV_FM_API_ADDR_TYPE_UNIX = 2,
  NV_FM_API_ADDR_TYPE_VSOCK = 3 };

typedef void *fmHandle_t;
typedef unsigned int fmFabricPartitionId_t;

typedef struct {
  unsigned int version;
  char addressInfo[FM_MAX_STR_LENGTH];
  unsigned int timeoutMs;
  unsigned int addressIsUnixSocket;
} fmConnectParams_v1;

typedef struct {
  unsigned int version;
  char addressInfo[FM_MAX_STR_LENGTH];
  unsigned int timeoutMs;
  unsigned int addressIsUnixSocket;
  unsigned int addressType;
} fmConnectParams_v2;
typedef fmConnectParams_v2 fmConnectParams_t;

typedef struct {
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int function;
} fmPciDevice_t;

typedef struct {
  unsigned int physicalId;
  char uuid[FM_UUID_BUFFER_SIZE];
  char pciBusId[FM_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
  unsigned int numNvLinksAvailable;
  unsigned int maxNumNvLinks;
  unsigned int nvlinkLineRateMBps;
} fmFabricPartitionGpuInfo_t;

typedef struct {
  fmFabricPartitionId_t partitionId;
  unsigned int isActive;
  unsigned int numGpus;
  fmFabricPartitionGpuInfo_t gpuInfo[FM_MAX_NUM_GPUS];
} fmFabricPartitionInfo_t;

typedef struct {
  unsigned int version;
  unsigned int numPartitions;
  unsigned int maxNumPartitions;
  fmFabricPartitionInfo_t partitionInfo[FM_MAX_FABRIC_PARTITIONS];
} fmFabricPartitionList_v2;
typedef fmFabricPartitionList_v2 fmFabricPartitionList_t;

typedef struct {
  unsigned int version;
  unsigned int numPartitions;
  fmFabricPartitionId_t partitionIds[FM_MAX_FABRIC_PARTITIONS];
} fmActivatedFabricPartitionList_v1;
typedef fmActivatedFabricPartitionList_v1 fmActivatedFabricPartitionList_t;

typedef struct {
  char uuid[FM_UUID_BUFFER_SIZE];
  char pciBusId[FM_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
  unsigned int numPorts;
  unsigned int portNum[FM_MAX_NUM_NVLINK_PORTS];
} fmNvlinkFailedDeviceInfo_t;

typedef struct {
  unsigned int version;
  unsigned int numGpus;
  unsigned int numSwitches;
  fmNvlinkFailedDeviceInfo_t gpuInfo[FM_MAX_NUM_GPUS];
  fmNvlinkFailedDeviceInfo_t switchInfo[FM_MAX_NUM_NVSWITCHES];
} fmNvlinkFailedDevices_v1;
typedef fmNvlinkFailedDevices_v1 fmNvlinkFailedDevices_t;

typedef struct {
  fmFabricPartitionId_t partitionId;
  unsigned int numGpus;
  unsigned int gpuPhysicalIds[FM_MAX_NUM_GPUS];
} fmUnsupportedFabricPartitionInfo_t;

typedef struct {
  unsigned int version;
  unsigned int numPartitions;
  fmUnsupportedFabricPartitionInfo_t partitionInfo[FM_MAX_FABRIC_PARTITIONS];
} fmUnsupportedFabricPartitionList_v1;
typedef fmUnsupportedFabricPartitionList_v1 fmUnsupportedFabricPartitionList_t;

_Static_assert(sizeof(fmConnectParams_v1) == 268, "fmConnectParams_v1");
_Static_assert(sizeof(fmConnectParams_v2) == 272, "fmConnectParams_v2");
_Static_assert(sizeof(fmPciDevice_t) == 16, "fmPciDevice_t");
_Static_assert(sizeof(fmFabricPartitionGpuInfo_t) == 128, "fmFabricPartitionGpuInfo_t");
_Static_assert(sizeof(fmFabricPartitionInfo_t) == 2060, "fmFabricPartitionInfo_t");
_Static_assert(sizeof(fmFabricPartitionList_v2) == 131852, "fmFabricPartitionList_v2");
_Static_assert(sizeof(fmActivatedFabricPartitionList_v1) == 264, "fmActivatedFabricPartitionList_v1");
_Static_assert(sizeof(fmNvlinkFailedDeviceInfo_t) == 372, "fmNvlinkFailedDeviceInfo_t");
_Static_assert(sizeof(fmNvlinkFailedDevices_v1) == 10428, "fmNvlinkFailedDevices_v1");
_Static_assert(sizeof(fmUnsupportedFabricPartitionInfo_t) == 72, "fmUnsupportedFabricPartitionInfo_t");
_Static_assert(sizeof(fmUnsupportedFabricPartitionList_v1) == 4616, "fmUnsupportedFabricPartitionList_v1");

#define CONNECT_V1_VERSION MAKE_FM_PARAM_VERSION(fmConnectParams_v1, 1)
#define CONNECT_V2_VERSION MAKE_FM_PARAM_VERSION(fmConnectParams_v2, 2)
/* The headers' "version2" macro for the partition list passes ver = 1. */
#define LIST_VERSION MAKE_FM_PARAM_VERSION(fmFabricPartitionList_v2, 1)
#define ACTIVATED_VERSION MAKE_FM_PARAM_VERSION(fmActivatedFabricPartitionList_v1, 1)
#define NVLINK_FAILED_VERSION MAKE_FM_PARAM_VERSION(fmNvlinkFailedDevices_v1, 1)
#define UNSUPPORTED_VERSION MAKE_FM_PARAM_VERSION(fmUnsupportedFabricPartitionList_v1, 1)

_Static_assert(CONNECT_V1_VERSION == 0x0100010Cu, "connect v1 version");
_Static_assert(CONNECT_V2_VERSION == 0x02000110u, "connect v2 version");
_Static_assert(LIST_VERSION == 0x0102030Cu, "list version");
_Static_assert(ACTIVATED_VERSION == 0x01000108u, "activated list version");
_Static_assert(NVLINK_FAILED_VERSION == 0x010028BCu, "nvlink failed version");
_Static_assert(UNSUPPORTED_VERSION == 0x01001208u, "unsupported list version");

/* ---- JSON, the state lock, reading a file: sim-json.h, shared with libnvidia-ml-sim.c ------- */

#include "sim-json.h"

/* ---- the state file ------------------------------------------------------------------------- */

typedef struct {
  char path[4096];
  int lockfd;
  jv *root;
} txn;

static fmReturn_t txn_begin(txn *t, const char *path) {
  char lockpath[4200];
  if (strlen(path) >= sizeof t->path) {
    return FM_ST_CONNECTION_NOT_VALID;
  }
  strcpy(t->path, path);
  t->root = NULL;
  snprintf(lockpath, sizeof lockpath, "%s.lock", path);
  t->lockfd = lock_state(lockpath);
  if (t->lockfd == -1) {
    return FM_ST_CONNECTION_NOT_VALID;
  }
  if (t->lockfd < 0) {
    return FM_ST_GENERIC_ERROR;
  }
  int missing;
  t->root = read_state(path, &missing);
  if (!t->root) {
    close(t->lockfd);
    return missing ? FM_ST_CONNECTION_NOT_VALID : FM_ST_GENERIC_ERROR;
  }
  return FM_ST_SUCCESS;
}

static void txn_end(txn *t) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", t->path);
  FILE *f = fopen(tmp, "wb");
  if (f) {
    jwrite(f, t->root);
    fputc('\n', f);
    if (fclose(f) == 0) {
      rename(tmp, t->path);
    }
  }
  jfree(t->root);
  t->root = NULL;
  close(t->lockfd);
}

/* ---- the partition rules (as FabricState.java) ---------------------------------------------- */

enum op { OP_CONNECT, OP_LIST, OP_ACTIVATE, OP_DEACTIVATE, OP_SET_ACTIVATED, OP_UNSUPPORTED,
  OP_NVLINK_FAILED };
static const char *const OP_NAMES[] = {"CONNECT", "LIST", "ACTIVATE", "DEACTIVATE",
  "SET_ACTIVATED", "UNSUPPORTED", "NVLINK_FAILED"};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int phase_is(const jv *st, const char *phase) {
  return strcmp(jstr(st, "phase"), phase) == 0;
}

static fmReturn_t gate(jv *st, enum op op) {
  if (phase_is(st, "AWAITING_ACTIVATED_LIST")
      && now_ms() > jint(st, "restartDeadlineEpochMs", 0)) {
    jset(st, "phase", jstring("STOPPED"));
  }
  if (phase_is(st, "STOPPED")) {
    return FM_ST_CONNECTION_NOT_VALID;
  }
  jv *faults = jarr(st, "faults");
  for (int i = 0; i < faults->n; i++) {
    jv *f = faults->items[i];
    if (strcmp(jstr(f, "operation"), OP_NAMES[op]) == 0) {
      fmReturn_t code = (fmReturn_t) jint(f, "returnCode", FM_ST_GENERIC_ERROR);
      long long remaining = jint(f, "remaining", 1);
      if (remaining > 0) {
        remaining--;
        if (remaining == 0) {
          jremove(faults, i);
        } else {
          jset(f, "remaining", jnum(remaining));
        }
      }
      return code;
    }
  }
  if (op == OP_CONNECT) {
    return FM_ST_SUCCESS;
  }
  if (phase_is(st, "STARTING")) {
    return FM_ST_NOT_CONFIGURED;
  }
  if (phase_is(st, "AWAITING_ACTIVATED_LIST") && op != OP_SET_ACTIVATED) {
    return FM_ST_NOT_CONFIGURED;
  }
  long long mode = jint(st, "fabricMode", 0);
  if (mode != 1 && mode != 2) {
    return FM_ST_NOT_SUPPORTED;
  }
  if (op == OP_NVLINK_FAILED && jbool(st, "restartMode")) {
    return FM_ST_NOT_SUPPORTED;
  }
  return FM_ST_SUCCESS;
}

static jv *find_partition(jv *st, long long id) {
  jv *parts = jarr(st, "partitions");
  for (int i = 0; i < parts->n; i++) {
    if (jint(parts->items[i], "id", -1) == id) {
      return parts->items[i];
    }
  }
  return NULL;
}

static int contains(const jv *arr, long long x) {
  for (int i = 0; i < arr->n; i++) {
    if (arr->items[i]->type == J_NUM && arr->items[i]->num == x) {
      return 1;
    }
  }
  return 0;
}

static int overlaps(jv *p, jv *q) {
  jv *a = jarr(p, "gpus");
  jv *b = jarr(q, "gpus");
  for (int i = 0; i < a->n; i++) {
    for (int j = 0; j < b->n; j++) {
      if (jint(a->items[i], "moduleId", -1) == jint(b->items[j], "moduleId", -2)) {
        return 1;
      }
    }
  }
  return 0;
}

/* The state's array under key, created when absent (jarr's empty stand-in must not be written). */
static jv *own_array(jv *st, const char *key) {
  jv *a = jget(st, key);
  if (!a || a->type != J_ARR) {
    a = jnew(J_ARR);
    jset(st, key, a);
  }
  return a;
}

static jv *active_array(jv *st) {
  return own_array(st, "active");
}

static void add_sorted(jv *arr, long long x) {
  jpush(arr, NULL, jnum(x));
  for (int i = arr->n - 1; i > 0 && arr->items[i - 1]->num > x; i--) {
    jv *swap = arr->items[i];
    arr->items[i] = arr->items[i - 1];
    arr->items[i - 1] = swap;
  }
}

static int is_r610(const jv *st) {
  return strcmp(jstr(st, "generation"), "R610") == 0;
}

/* The (inferred) vGPU-mode rules of FabricState.activate: in FABRIC_MODE=2 only with VFs, one per
 * GPU of the partition, each named once; in FABRIC_MODE=1 only without. vfs is NULL for the call
 * without VFs. */
static fmReturn_t rule_activate(jv *st, long long id, const fmPciDevice_t *vfs,
    unsigned int numVfs) {
  jv *p = find_partition(st, id);
  if (id < 0 || id >= FM_MAX_FABRIC_PARTITIONS || !p) {
    return FM_ST_BADPARAM;
  }
  if ((vfs != NULL) != (jint(st, "fabricMode", 0) == 2)) {
    return FM_ST_NOT_SUPPORTED;
  }
  if (vfs) {
    if ((int) numVfs != jarr(p, "gpus")->n) {
      return FM_ST_BADPARAM;
    }
    for (unsigned int i = 0; i < numVfs; i++) {
      for (unsigned int j = 0; j < i; j++) {
        if (vfs[i].domain == vfs[j].domain && vfs[i].bus == vfs[j].bus
            && vfs[i].device == vfs[j].device && vfs[i].function == vfs[j].function) {
          return FM_ST_BADPARAM;
        }
      }
    }
  }
  if (contains(jarr(st, "unsupported"), id)) {
    return FM_ST_NOT_SUPPORTED;
  }
  jv *active = active_array(st);
  if (contains(active, id)) {
    return is_r610(st) ? FM_ST_PARTITION_ID_IN_USE : FM_ST_IN_USE;
  }
  for (int i = 0; i < active->n; i++) {
    jv *q = find_partition(st, active->items[i]->num);
    if (q && overlaps(p, q)) {
      return FM_ST_IN_USE;
    }
  }
  add_sorted(active, id);
  if (vfs) {
    jv *record = jnew(J_OBJ);
    jset(record, "partition", jnum(id));
    jv *list = jnew(J_ARR);
    for (unsigned int i = 0; i < numVfs; i++) {
      char bdf[32];
      snprintf(bdf, sizeof bdf, "%04x:%02x:%02x.%x", vfs[i].domain, vfs[i].bus, vfs[i].device,
          vfs[i].function);
      jpush(list, NULL, jstring(bdf));
    }
    jset(record, "vfs", list);
    jpush(own_array(st, "activeVfs"), NULL, record);
  }
  return FM_ST_SUCCESS;
}

/* Drops the VF lists of partitions that are no longer active. */
static void prune_active_vfs(jv *st) {
  jv *records = own_array(st, "activeVfs");
  jv *active = active_array(st);
  for (int i = records->n - 1; i >= 0; i--) {
    if (!contains(active, jint(records->items[i], "partition", -1))) {
      jremove(records, i);
    }
  }
}

static fmReturn_t rule_deactivate(jv *st, long long id) {
  if (id < 0 || id >= FM_MAX_FABRIC_PARTITIONS || !find_partition(st, id)) {
    return FM_ST_BADPARAM;
  }
  jv *active = active_array(st);
  for (int i = 0; i < active->n; i++) {
    if (active->items[i]->num == id) {
      jremove(active, i);
      prune_active_vfs(st);
      return FM_ST_SUCCESS;
    }
  }
  return is_r610(st) ? FM_ST_PARTITION_ID_NOT_IN_USE : FM_ST_UNINITIALIZED;
}

static fmReturn_t rule_set_activated(jv *st, const unsigned int *ids, unsigned int n) {
  if (n > FM_MAX_FABRIC_PARTITIONS) {
    return FM_ST_BADPARAM;
  }
  if (!phase_is(st, "AWAITING_ACTIVATED_LIST")) {
    return FM_ST_NOT_SUPPORTED;
  }
  for (unsigned int i = 0; i < n; i++) {
    jv *p = find_partition(st, ids[i]);
    if (ids[i] >= FM_MAX_FABRIC_PARTITIONS || !p) {
      return FM_ST_BADPARAM;
    }
    for (unsigned int j = 0; j < i; j++) {
      if (ids[j] == ids[i] || overlaps(find_partition(st, ids[j]), p)) {
        return FM_ST_BADPARAM;
      }
    }
  }
  jv *active = jnew(J_ARR);
  for (unsigned int i = 0; i < n; i++) {
    add_sorted(active, ids[i]);
  }
  jset(st, "active", active);
  prune_active_vfs(st);
  jset(st, "phase", jstring("RUNNING"));
  return FM_ST_SUCCESS;
}

/* ---- library state and handles -------------------------------------------------------------- */

typedef struct sim_handle {
  char path[4096];
  struct sim_handle *next;
} sim_handle;

static pthread_mutex_t lib_mutex = PTHREAD_MUTEX_INITIALIZER;
static int lib_initialized;
static sim_handle *handles;

/* Checks the library and the handle and copies the handle's state path. */
static fmReturn_t begin_call(fmHandle_t handle, char *path) {
  fmReturn_t rc = FM_ST_CONNECTION_NOT_VALID;
  pthread_mutex_lock(&lib_mutex);
  if (!lib_initialized) {
    rc = FM_ST_UNINITIALIZED;
  } else if (!handle) {
    rc = FM_ST_BADPARAM;
  } else {
    for (sim_handle *h = handles; h; h = h->next) {
      if (h == handle) {
        strcpy(path, h->path);
        rc = FM_ST_SUCCESS;
        break;
      }
    }
  }
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

static void copy_field(char *into, size_t size, const char *from) {
  strncpy(into, from, size - 1);
  into[size - 1] = '\0';
}

/* ---- the 11 functions ----------------------------------------------------------------------- */

API fmReturn_t fmLibInit(void) {
  pthread_mutex_lock(&lib_mutex);
  fmReturn_t rc = lib_initialized ? FM_ST_IN_USE : FM_ST_SUCCESS;
  lib_initialized = 1;
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

API fmReturn_t fmLibShutdown(void) {
  pthread_mutex_lock(&lib_mutex);
  fmReturn_t rc = FM_ST_UNINITIALIZED;
  if (lib_initialized) {
    while (handles) {
      sim_handle *next = handles->next;
      free(handles);
      handles = next;
    }
    lib_initialized = 0;
    rc = FM_ST_SUCCESS;
  }
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

API fmReturn_t fmConnect(fmConnectParams_t *params, fmHandle_t *pFmHandle) {
  pthread_mutex_lock(&lib_mutex);
  int initialized = lib_initialized;
  pthread_mutex_unlock(&lib_mutex);
  if (!initialized) {
    return FM_ST_UNINITIALIZED;
  }
  if (!params || !pFmHandle) {
    return FM_ST_BADPARAM;
  }
  unsigned int version = params->version;
  if (version != CONNECT_V1_VERSION && version != CONNECT_V2_VERSION) {
    return FM_ST_VERSION_MISMATCH;
  }
  char address[FM_MAX_STR_LENGTH + 1];
  memcpy(address, params->addressInfo, FM_MAX_STR_LENGTH);
  address[FM_MAX_STR_LENGTH] = '\0';
  long long type = -1;
  int unix_socket = params->addressIsUnixSocket != 0;
  if (version == CONNECT_V2_VERSION) {
    type = params->addressType;
    if (type == NV_FM_API_ADDR_TYPE_UNIX) {
      unix_socket = 1;
    } else if (type == NV_FM_API_ADDR_TYPE_INET || type == NV_FM_API_ADDR_TYPE_VSOCK) {
      unix_socket = 0;
    }
  }
  const char *path = unix_socket ? address : getenv("GPUVIRT_SIM_FM_STATE");
  if (!path || !*path || type == NV_FM_API_ADDR_TYPE_VSOCK) {
    return FM_ST_CONNECTION_NOT_VALID;
  }
  txn t;
  fmReturn_t rc = txn_begin(&t, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  jv *st = t.root;
  if (version == CONNECT_V2_VERSION && !is_r610(st)) {
    rc = FM_ST_VERSION_MISMATCH;
  } else if (!unix_socket) {
    char with_port[FM_MAX_STR_LENGTH + 16];
    snprintf(with_port, sizeof with_port, "%s:6666", address);
    const char *listening = jstr(st, "tcpAddress");
    if (strcmp(listening, address) != 0 && (strchr(address, ':') || strcmp(listening, with_port) != 0)) {
      rc = FM_ST_CONNECTION_NOT_VALID;
    }
  }
  if (rc == FM_ST_SUCCESS) {
    rc = gate(st, OP_CONNECT);
  }
  jv *attempts = jget(st, "connectAttempts");
  if (!attempts || attempts->type != J_ARR) {
    attempts = jnew(J_ARR);
    jset(st, "connectAttempts", attempts);
  }
  jv *a = jnew(J_OBJ);
  jpush(a, "version", jnum(version));
  jpush(a, "addressInfo", jstring(address));
  jpush(a, "timeoutMs", jnum(params->timeoutMs));
  jpush(a, "addressIsUnixSocket", jnum(params->addressIsUnixSocket));
  jpush(a, "addressType", jnum(type));
  jpush(a, "returnCode", jnum(rc));
  jpush(attempts, NULL, a);
  while (attempts->n > 32) {
    jremove(attempts, 0);
  }
  txn_end(&t);
  params->version = 0;
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  sim_handle *h = xalloc(sizeof *h);
  strcpy(h->path, path);
  pthread_mutex_lock(&lib_mutex);
  if (!lib_initialized) {
    pthread_mutex_unlock(&lib_mutex);
    free(h);
    return FM_ST_UNINITIALIZED;
  }
  h->next = handles;
  handles = h;
  pthread_mutex_unlock(&lib_mutex);
  *pFmHandle = h;
  return FM_ST_SUCCESS;
}

API fmReturn_t fmDisconnect(fmHandle_t pFmHandle) {
  fmReturn_t rc = FM_ST_CONNECTION_NOT_VALID;
  pthread_mutex_lock(&lib_mutex);
  if (!lib_initialized) {
    rc = FM_ST_UNINITIALIZED;
  } else if (!pFmHandle) {
    rc = FM_ST_BADPARAM;
  } else {
    for (sim_handle **at = &handles; *at; at = &(*at)->next) {
      if (*at == pFmHandle) {
        sim_handle *h = *at;
        *at = h->next;
        free(h);
        rc = FM_ST_SUCCESS;
        break;
      }
    }
  }
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

API fmReturn_t fmGetSupportedFabricPartitions(fmHandle_t pFmHandle,
    fmFabricPartitionList_t *pFmFabricPartition) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  if (!pFmFabricPartition) {
    return FM_ST_BADPARAM;
  }
  if (pFmFabricPartition->version != LIST_VERSION) {
    return FM_ST_VERSION_MISMATCH;
  }
  txn t;
  if ((rc = txn_begin(&t, path)) != FM_ST_SUCCESS) {
    return rc;
  }
  rc = gate(t.root, OP_LIST);
  if (rc == FM_ST_SUCCESS) {
    memset(pFmFabricPartition, 0, sizeof *pFmFabricPartition);
    jv *parts = jarr(t.root, "partitions");
    jv *active = active_array(t.root);
    unsigned int n = 0;
    for (int i = 0; i < parts->n && n < FM_MAX_FABRIC_PARTITIONS; i++, n++) {
      jv *p = parts->items[i];
      fmFabricPartitionInfo_t *info = &pFmFabricPartition->partitionInfo[n];
      info->partitionId = (unsigned int) jint(p, "id", 0);
      info->isActive = contains(active, info->partitionId) ? 1 : 0;
      jv *gpus = jarr(p, "gpus");
      for (int g = 0; g < gpus->n && g < FM_MAX_NUM_GPUS; g++) {
        fmFabricPartitionGpuInfo_t *gi = &info->gpuInfo[g];
        gi->physicalId = (unsigned int) jint(gpus->items[g], "moduleId", 0);
        gi->numNvLinksAvailable = (unsigned int) jint(gpus->items[g], "nvlinksAvailable", 0);
        gi->maxNumNvLinks = (unsigned int) jint(gpus->items[g], "maxNvlinks", 0);
        gi->nvlinkLineRateMBps = (unsigned int) jint(gpus->items[g], "lineRateMbps", 0);
        info->numGpus++;
      }
    }
    pFmFabricPartition->numPartitions = n;
    pFmFabricPartition->maxNumPartitions = FM_MAX_FABRIC_PARTITIONS;
  }
  txn_end(&t);
  pFmFabricPartition->version = 0;
  return rc;
}

static fmReturn_t activate_common(fmHandle_t pFmHandle, fmFabricPartitionId_t partitionId,
    const fmPciDevice_t *vfs, unsigned int numVfs) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  txn t;
  if ((rc = txn_begin(&t, path)) != FM_ST_SUCCESS) {
    return rc;
  }
  rc = gate(t.root, OP_ACTIVATE);
  if (rc == FM_ST_SUCCESS) {
    rc = rule_activate(t.root, partitionId, vfs, numVfs);
  }
  txn_end(&t);
  return rc;
}

API fmReturn_t fmActivateFabricPartition(fmHandle_t pFmHandle,
    fmFabricPartitionId_t partitionId) {
  return activate_common(pFmHandle, partitionId, NULL, 0);
}

API fmReturn_t fmActivateFabricPartitionWithVFs(fmHandle_t pFmHandle,
    fmFabricPartitionId_t partitionId, fmPciDevice_t *vfList, unsigned int numVfs) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  if ((numVfs > 0 && !vfList) || numVfs > FM_MAX_NUM_GPUS) {
    return FM_ST_BADPARAM;
  }
  for (unsigned int i = 0; i < numVfs; i++) {
    if (vfList[i].bus > 0xff || vfList[i].device > 0x1f || vfList[i].function > 7) {
      return FM_ST_BADPARAM;
    }
  }
  static const fmPciDevice_t none[1];
  return activate_common(pFmHandle, partitionId, numVfs ? vfList : none, numVfs);
}

API fmReturn_t fmDeactivateFabricPartition(fmHandle_t pFmHandle,
    fmFabricPartitionId_t partitionId) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  txn t;
  if ((rc = txn_begin(&t, path)) != FM_ST_SUCCESS) {
    return rc;
  }
  rc = gate(t.root, OP_DEACTIVATE);
  if (rc == FM_ST_SUCCESS) {
    rc = rule_deactivate(t.root, partitionId);
  }
  txn_end(&t);
  return rc;
}

API fmReturn_t fmSetActivatedFabricPartitions(fmHandle_t pFmHandle,
    fmActivatedFabricPartitionList_t *pFmActivatedPartitionList) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  if (!pFmActivatedPartitionList) {
    return FM_ST_BADPARAM;
  }
  if (pFmActivatedPartitionList->version != ACTIVATED_VERSION) {
    return FM_ST_VERSION_MISMATCH;
  }
  txn t;
  if ((rc = txn_begin(&t, path)) != FM_ST_SUCCESS) {
    return rc;
  }
  rc = gate(t.root, OP_SET_ACTIVATED);
  if (rc == FM_ST_SUCCESS) {
    rc = rule_set_activated(t.root, pFmActivatedPartitionList->partitionIds,
        pFmActivatedPartitionList->numPartitions);
  }
  txn_end(&t);
  pFmActivatedPartitionList->version = 0;
  return rc;
}

static void fill_failed(fmNvlinkFailedDeviceInfo_t *into, unsigned int max, unsigned int *count,
    jv *devices) {
  *count = 0;
  for (int i = 0; i < devices->n && *count < max; i++) {
    jv *d = devices->items[i];
    fmNvlinkFailedDeviceInfo_t *info = &into[(*count)++];
    copy_field(info->uuid, sizeof info->uuid, jstr(d, "uuid"));
    copy_field(info->pciBusId, sizeof info->pciBusId, jstr(d, "pciBusId"));
    jv *ports = jarr(d, "ports");
    for (int p = 0; p < ports->n && p < FM_MAX_NUM_NVLINK_PORTS; p++) {
      info->portNum[info->numPorts++] = (unsigned int) ports->items[p]->num;
    }
  }
}

API fmReturn_t fmGetNvlinkFailedDevices(fmHandle_t pFmHandle,
    fmNvlinkFailedDevices_t *pFmNvlinkFailedDevices) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  if (!pFmNvlinkFailedDevices) {
    return FM_ST_BADPARAM;
  }
  if (pFmNvlinkFailedDevices->version != NVLINK_FAILED_VERSION) {
    return FM_ST_VERSION_MISMATCH;
  }
  txn t;
  if ((rc = txn_begin(&t, path)) != FM_ST_SUCCESS) {
    return rc;
  }
  rc = gate(t.root, OP_NVLINK_FAILED);
  if (rc == FM_ST_SUCCESS) {
    memset(pFmNvlinkFailedDevices, 0, sizeof *pFmNvlinkFailedDevices);
    fill_failed(pFmNvlinkFailedDevices->gpuInfo, FM_MAX_NUM_GPUS,
        &pFmNvlinkFailedDevices->numGpus, jarr(t.root, "nvlinkFailedGpus"));
    fill_failed(pFmNvlinkFailedDevices->switchInfo, FM_MAX_NUM_NVSWITCHES,
        &pFmNvlinkFailedDevices->numSwitches, jarr(t.root, "nvlinkFailedSwitches"));
  }
  txn_end(&t);
  pFmNvlinkFailedDevices->version = 0;
  return rc;
}

API fmReturn_t fmGetUnsupportedFabricPartitions(fmHandle_t pFmHandle,
    fmUnsupportedFabricPartitionList_t *pFmUnupportedFabricPartition) {
  char path[4096];
  fmReturn_t rc = begin_call(pFmHandle, path);
  if (rc != FM_ST_SUCCESS) {
    return rc;
  }
  if (!pFmUnupportedFabricPartition) {
    return FM_ST_BADPARAM;
  }
  if (pFmUnupportedFabricPartition->version != UNSUPPORTED_VERSION) {
    return FM_ST_VERSION_MISMATCH;
  }
  txn t;
  if ((rc = txn_begin(&t, path)) != FM_ST_SUCCESS) {
    return rc;
  }
  rc = gate(t.root, OP_UNSUPPORTED);
  if (rc == FM_ST_SUCCESS) {
    memset(pFmUnupportedFabricPartition, 0, sizeof *pFmUnupportedFabricPartition);
    jv *ids = jarr(t.root, "unsupported");
    unsigned int n = 0;
    for (int i = 0; i < ids->n && n < FM_MAX_FABRIC_PARTITIONS; i++) {
      jv *p = find_partition(t.root, ids->items[i]->num);
      if (!p) {
        continue;
      }
      fmUnsupportedFabricPartitionInfo_t *info = &pFmUnupportedFabricPartition->partitionInfo[n++];
      info->partitionId = (unsigned int) ids->items[i]->num;
      jv *gpus = jarr(p, "gpus");
      for (int g = 0; g < gpus->n && g < FM_MAX_NUM_GPUS; g++) {
        info->gpuPhysicalIds[info->numGpus++] = (unsigned int) jint(gpus->items[g], "moduleId", 0);
      }
    }
    pFmUnupportedFabricPartition->numPartitions = n;
  }
  txn_end(&t);
  pFmUnupportedFabricPartition->version = 0;
  return rc;
}
