/*
 * libnvidia-ml-sim.c: a simulated libnvidia-ml.so.1 for gpuvirt's tests: the NVML MIG calls, with
 * NVML's return codes, handles and the x86_64 struct layouts of nvml.h (checked below), over the
 * SAME state as the testkit's SimulatedMig and its simulated nvidia-smi: the JSON file
 * .gpuvirt-mig.json in the simulated host's root. A GPU instance created here is listed by
 * `nvidia-smi mig -lgi` on that host, and the reverse.
 *
 * The state file carries everything this library needs (SimulatedMig publishes it): "devices",
 * every NVIDIA GPU in index order with its device id, name and profile table (ids, NVML profile
 * constants, slices, placement starts), and "gpus", per address its MIG mode and instances. Every
 * call reads the file under the host's lock (.gpuvirt.lock, an open-file-description lock, which
 * conflicts with the POSIX lock the Java side takes, even in one process) and a change replaces it
 * atomically (a temporary file, then rename). Keep the rules in step with SimulatedMig.java,
 * MigLayout.driverPlacement and FakeNvidiaSmiMig.java:
 *
 *   - a GPU is visible when its driver link is "nvidia"; indices count visible NVIDIA GPUs;
 *   - a MIG mode change stays pending until a GPU reset (done by nvidia-smi -r, not NVML);
 *   - a GPU instance goes at the highest free placement start its profile allows, else
 *     NVML_ERROR_INSUFFICIENT_RESOURCES (also at the profile's maximum or without compute slices);
 *   - GPU-instance ids: 0 for the full-GPU profile, else the lowest free id from 1;
 *   - a GPU instance with compute instances, or occupied by a MIG-backed vGPU (the host state's
 *     "migVgpus"), is NVML_ERROR_IN_USE to destroy, and so is MIG off while GPU instances exist.
 *
 * Where the state is: $GPUVIRT_SIM_NVML_ROOT if set, else the first directory at or above the one
 * this library was loaded from that holds .gpuvirt-mig.json (SimulatedNvml installs it at
 * ROOT/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1, so each simulated host has its own copy).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))

/* ---- the NVML ABI (nvml.h) ------------------------------------------------------------------ */

typedef int nvmlReturn_t;
enum {
  NVML_SUCCESS = 0, NVML_ERROR_UNINITIALIZED = 1, NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3, NVML_ERROR_NO_PERMISSION = 4, NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7, NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_GPU_IS_LOST = 15, NVML_ERROR_RESET_REQUIRED = 16, NVML_ERROR_IN_USE = 19,
  NVML_ERROR_INSUFFICIENT_RESOURCES = 23, NVML_ERROR_UNKNOWN = 999
};

#define NVML_DEVICE_MIG_DISABLE 0x0
#define NVML_DEVICE_MIG_ENABLE 0x1
#define NVML_GPU_INSTANCE_PROFILE_COUNT 0x12
#define NVML_COMPUTE_INSTANCE_PROFILE_COUNT 0x9
#define NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED 0x0

typedef struct {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

typedef struct {
  unsigned int start;
  unsigned int size;
} nvmlGpuInstancePlacement_t;

typedef struct {
  unsigned int id;
  unsigned int isP2pSupported;
  unsigned int sliceCount;
  unsigned int instanceCount;
  unsigned int multiprocessorCount;
  unsigned int copyEngineCount;
  unsigned int decoderCount;
  unsigned int encoderCount;
  unsigned int jpegCount;
  unsigned int ofaCount;
  unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

struct sim_dev;
struct sim_gi;
struct sim_ci;
typedef struct sim_dev *nvmlDevice_t;
typedef struct sim_gi *nvmlGpuInstance_t;
typedef struct sim_ci *nvmlComputeInstance_t;

typedef struct {
  nvmlDevice_t device;
  unsigned int id;
  unsigned int profileId;
  nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct {
  unsigned int id;
  unsigned int sliceCount;
  unsigned int instanceCount;
  unsigned int multiprocessorCount;
  unsigned int sharedCopyEngineCount;
  unsigned int sharedDecoderCount;
  unsigned int sharedEncoderCount;
  unsigned int sharedJpegCount;
  unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

typedef struct {
  unsigned int start;
  unsigned int size;
} nvmlComputeInstancePlacement_t;

typedef struct {
  nvmlDevice_t device;
  nvmlGpuInstance_t gpuInstance;
  unsigned int id;
  unsigned int profileId;
  nvmlComputeInstancePlacement_t placement;
} nvmlComputeInstanceInfo_t;

/* The sizes and offsets of shared/reference/VGPU_MIG.md §5. */
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t");
_Static_assert(sizeof(nvmlGpuInstancePlacement_t) == 8, "nvmlGpuInstancePlacement_t");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_t) == 48, "nvmlGpuInstanceProfileInfo_t");
_Static_assert(__builtin_offsetof(nvmlGpuInstanceProfileInfo_t, memorySizeMB) == 40, "memory");
_Static_assert(sizeof(nvmlGpuInstanceInfo_t) == 24, "nvmlGpuInstanceInfo_t");
_Static_assert(__builtin_offsetof(nvmlGpuInstanceInfo_t, placement) == 16, "gi placement");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_t) == 36, "nvmlComputeInstanceProfileInfo_t");
_Static_assert(sizeof(nvmlComputeInstanceInfo_t) == 32, "nvmlComputeInstanceInfo_t");
_Static_assert(__builtin_offsetof(nvmlComputeInstanceInfo_t, id) == 16, "ci id");
_Static_assert(__builtin_offsetof(nvmlComputeInstanceInfo_t, placement) == 24, "ci placement");

/* ---- JSON, the state lock, reading a file: sim-json.h, shared with libnvfm-sim.c ------------ */

#include "sim-json.h"

/* ---- the simulated driver's state ----------------------------------------------------------- */

#define MAX_DEVICES 64
#define MAX_PROFILES 24
#define MAX_GIS 16
#define MAX_CIS 8
#define ADDR_LEN 16

typedef struct {
  int id, nvml, compute, memory, sms, ce, dec, enc, jpeg, ofa, max, nstarts;
  long long mib;
  int starts[8];
  char name[32];
} profile_t;

typedef struct {
  char address[ADDR_LEN];
  int device_id;
  char name[96];
  int has_table;
  int compute_slices, memory_slices, nprofiles;
  profile_t profiles[MAX_PROFILES];
} device_t;

typedef struct {
  int id, profile_id;
  char name[48];
} ci_t;

typedef struct {
  int id, profile_id, start, size, nci;
  ci_t cis[MAX_CIS];
} gi_t;

typedef struct {
  char address[ADDR_LEN];
  int current, pending, ngi; /* modes: 1 enabled, 0 disabled */
  gi_t gis[MAX_GIS];
} gpu_t;

typedef struct {
  jv *devices; /* the parsed "devices" array, written back as it was */
  int ndev;
  device_t dev[MAX_DEVICES];
  int visible[MAX_DEVICES]; /* index -> dev[] slot */
  int nvisible;
  int ngpu;
  gpu_t gpus[MAX_DEVICES];
  int lockfd;
  int dirty;
} state_t;

static pthread_mutex_t lib_mutex = PTHREAD_MUTEX_INITIALIZER;
static int init_count;
static char root_dir[PATH_MAX];

static void copy_str(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src);
}

static int parse_placement(const char *text, int *start, int *size) {
  return sscanf(text, "%d:%d", start, size) == 2 ? 0 : -1;
}

static int read_devices(state_t *s, jv *devices) {
  s->ndev = 0;
  for (int i = 0; i < devices->n && s->ndev < MAX_DEVICES; i++) {
    jv *d = devices->items[i];
    device_t *out = &s->dev[s->ndev++];
    memset(out, 0, sizeof *out);
    copy_str(out->address, sizeof out->address, jstr(d, "address"));
    out->device_id = (int) jint(d, "deviceId", 0);
    copy_str(out->name, sizeof out->name, jstr(d, "name"));
    jv *t = jget(d, "table");
    if (!t || t->type != J_OBJ) {
      continue;
    }
    out->has_table = 1;
    out->compute_slices = (int) jint(t, "computeSlices", 7);
    out->memory_slices = (int) jint(t, "memorySlices", 8);
    jv *profiles = jarr(t, "profiles");
    for (int k = 0; k < profiles->n && out->nprofiles < MAX_PROFILES; k++) {
      jv *p = profiles->items[k];
      profile_t *q = &out->profiles[out->nprofiles++];
      q->id = (int) jint(p, "id", -1);
      q->nvml = (int) jint(p, "nvmlProfile", -1);
      copy_str(q->name, sizeof q->name, jstr(p, "name"));
      q->compute = (int) jint(p, "computeSlices", 1);
      q->memory = (int) jint(p, "memorySlices", 1);
      q->mib = jint(p, "memoryMiB", 0);
      q->sms = (int) jint(p, "multiprocessors", 0);
      q->ce = (int) jint(p, "copyEngines", 0);
      q->dec = (int) jint(p, "decoders", 0);
      q->enc = (int) jint(p, "encoders", 0);
      q->jpeg = (int) jint(p, "jpegs", 0);
      q->ofa = (int) jint(p, "ofas", 0);
      q->max = (int) jint(p, "maxInstances", 1);
      jv *starts = jarr(p, "placementStarts");
      for (int j = 0; j < starts->n && q->nstarts < 8; j++) {
        q->starts[q->nstarts++] = (int) starts->items[j]->num;
      }
    }
  }
  return 0;
}

static int read_gpus(state_t *s, jv *gpus) {
  s->ngpu = 0;
  if (!gpus || gpus->type != J_OBJ) {
    return 0;
  }
  for (int i = 0; i < gpus->n && s->ngpu < MAX_DEVICES; i++) {
    jv *g = gpus->items[i];
    gpu_t *out = &s->gpus[s->ngpu++];
    memset(out, 0, sizeof *out);
    copy_str(out->address, sizeof out->address, gpus->keys[i]);
    out->current = strcmp(jstr(g, "current"), "ENABLED") == 0;
    out->pending = strcmp(jstr(g, "pending"), "ENABLED") == 0;
    jv *gis = jarr(g, "gpuInstances");
    for (int k = 0; k < gis->n && out->ngi < MAX_GIS; k++) {
      jv *gi = gis->items[k];
      gi_t *q = &out->gis[out->ngi++];
      q->id = (int) jint(gi, "id", 0);
      q->profile_id = (int) jint(gi, "profileId", 0);
      if (parse_placement(jstr(gi, "placement"), &q->start, &q->size) != 0) {
        return -1;
      }
      jv *cis = jarr(gi, "computeInstances");
      for (int j = 0; j < cis->n && q->nci < MAX_CIS; j++) {
        ci_t *c = &q->cis[q->nci++];
        c->id = (int) jint(cis->items[j], "id", 0);
        c->profile_id = (int) jint(cis->items[j], "profileId", 0);
        copy_str(c->name, sizeof c->name, jstr(cis->items[j], "name"));
      }
    }
  }
  return 0;
}

/* Whether the device's driver link in the simulated sysfs ends in /nvidia. */
static int on_nvidia(const char *address) {
  char path[PATH_MAX + 64];
  char target[PATH_MAX];
  snprintf(path, sizeof path, "%s/sys/bus/pci/devices/%s/driver", root_dir, address);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) {
    return 0;
  }
  target[n] = '\0';
  const char *base = strrchr(target, '/');
  return strcmp(base ? base + 1 : target, "nvidia") == 0;
}

/* Locks the host and reads its state; on success state_end must follow. */
static nvmlReturn_t state_begin(state_t *s) {
  char path[PATH_MAX + 64];
  memset(s, 0, sizeof *s);
  snprintf(path, sizeof path, "%s/.gpuvirt.lock", root_dir);
  s->lockfd = lock_state(path);
  if (s->lockfd == -1) {
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  if (s->lockfd < 0) {
    return NVML_ERROR_UNKNOWN;
  }
  snprintf(path, sizeof path, "%s/.gpuvirt-mig.json", root_dir);
  int missing;
  jv *root = read_state(path, &missing);
  if (missing) {
    close(s->lockfd);
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  jv *devices = jget(root, "devices");
  if (!devices || devices->type != J_ARR || read_devices(s, devices) != 0
      || read_gpus(s, jget(root, "gpus")) != 0) {
    jfree(root);
    close(s->lockfd);
    return NVML_ERROR_UNKNOWN;
  }
  /* keep the devices subtree, free the rest */
  for (int i = 0; i < root->n; i++) {
    if (root->items[i] == devices) {
      root->items[i] = jnew(J_NULL);
    }
  }
  jfree(root);
  s->devices = devices;
  for (int i = 0; i < s->ndev; i++) {
    if (on_nvidia(s->dev[i].address)) {
      s->visible[s->nvisible++] = i;
    }
  }
  return NVML_SUCCESS;
}

static void write_state(state_t *s) {
  char path[PATH_MAX + 64];
  char tmp[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/.gpuvirt-mig.json", root_dir);
  snprintf(tmp, sizeof tmp, "%s/.gpuvirt-mig.json.nvml-tmp", root_dir);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    return;
  }
  fputs("{\"format\":1,\"devices\":", f);
  jwrite(f, s->devices);
  fputs(",\"gpus\":{", f);
  for (int i = 0; i < s->ngpu; i++) {
    gpu_t *g = &s->gpus[i];
    fprintf(f, "%s\"%s\":{\"current\":\"%s\",\"pending\":\"%s\",\"gpuInstances\":[", i ? "," : "",
        g->address, g->current ? "ENABLED" : "DISABLED", g->pending ? "ENABLED" : "DISABLED");
    for (int k = 0; k < g->ngi; k++) {
      gi_t *gi = &g->gis[k];
      fprintf(f, "%s{\"id\":%d,\"profileId\":%d,\"placement\":\"%d:%d\",\"computeInstances\":[",
          k ? "," : "", gi->id, gi->profile_id, gi->start, gi->size);
      for (int j = 0; j < gi->nci; j++) {
        fprintf(f, "%s{\"id\":%d,\"profileId\":%d,\"name\":", j ? "," : "", gi->cis[j].id,
            gi->cis[j].profile_id);
        write_string(f, gi->cis[j].name);
        fputc('}', f);
      }
      fputs("]}", f);
    }
    fputs("]}", f);
  }
  fputs("}}\n", f);
  if (fclose(f) == 0) {
    rename(tmp, path);
  } else {
    unlink(tmp);
  }
}

static void state_end(state_t *s) {
  if (s->dirty) {
    write_state(s);
  }
  jfree(s->devices);
  s->devices = NULL;
  close(s->lockfd);
}

static device_t *visible_device(state_t *s, const char *address) {
  for (int i = 0; i < s->nvisible; i++) {
    if (strcmp(s->dev[s->visible[i]].address, address) == 0) {
      return &s->dev[s->visible[i]];
    }
  }
  return NULL;
}

/* The GPU's state entry; created (MIG off) when missing. */
static gpu_t *gpu_state(state_t *s, const char *address) {
  for (int i = 0; i < s->ngpu; i++) {
    if (strcmp(s->gpus[i].address, address) == 0) {
      return &s->gpus[i];
    }
  }
  if (s->ngpu == MAX_DEVICES) {
    abort();
  }
  gpu_t *g = &s->gpus[s->ngpu++];
  memset(g, 0, sizeof *g);
  copy_str(g->address, sizeof g->address, address);
  /* Keep the entries sorted by address, as the Java side writes them. */
  for (int i = s->ngpu - 1; i > 0 && strcmp(s->gpus[i - 1].address, s->gpus[i].address) > 0;
       i--) {
    gpu_t t = s->gpus[i - 1];
    s->gpus[i - 1] = s->gpus[i];
    s->gpus[i] = t;
    g = &s->gpus[i - 1];
  }
  return g;
}

static const profile_t *profile_by_id(const device_t *d, int id) {
  for (int i = 0; i < d->nprofiles; i++) {
    if (d->profiles[i].id == id) {
      return &d->profiles[i];
    }
  }
  return NULL;
}

static const profile_t *profile_by_constant(const device_t *d, int constant) {
  for (int i = 0; i < d->nprofiles; i++) {
    if (d->profiles[i].nvml == constant) {
      return &d->profiles[i];
    }
  }
  return NULL;
}

static gi_t *gi_by_id(gpu_t *g, int id) {
  for (int i = 0; i < g->ngi; i++) {
    if (g->gis[i].id == id) {
      return &g->gis[i];
    }
  }
  return NULL;
}

/* MigLayout.driverPlacement: the highest free start, or -1 for "Insufficient Resources". */
static int driver_placement(const device_t *d, const gpu_t *g, const profile_t *p) {
  int count = 0;
  int compute = 0;
  unsigned long used = 0;
  for (int i = 0; i < g->ngi; i++) {
    const profile_t *q = profile_by_id(d, g->gis[i].profile_id);
    if (q && strcmp(q->name, p->name) == 0) {
      count++;
    }
    compute += q ? q->compute : 0;
    used |= ((1UL << g->gis[i].size) - 1) << g->gis[i].start;
  }
  if (count >= p->max || compute + p->compute > d->compute_slices) {
    return -1;
  }
  for (int i = p->nstarts - 1; i >= 0; i--) {
    unsigned long mask = ((1UL << p->memory) - 1) << p->starts[i];
    if ((mask & used) == 0) {
      return p->starts[i];
    }
  }
  return -1;
}

/* SimulatedMig.nextGpuInstanceId. */
static int next_gi_id(const device_t *d, gpu_t *g, const profile_t *p) {
  if (p->compute == d->compute_slices) {
    return 0;
  }
  for (int id = 1;; id++) {
    if (!gi_by_id(g, id)) {
      return id;
    }
  }
}

/* NVML_COMPUTE_INSTANCE_PROFILE_* -> compute slices (0 where this simulation has none). */
static int ci_slices(int constant) {
  static const int slices[NVML_COMPUTE_INSTANCE_PROFILE_COUNT] = {1, 2, 3, 4, 7, 8, 6, 0, 0};
  return constant >= 0 && constant < NVML_COMPUTE_INSTANCE_PROFILE_COUNT ? slices[constant] : 0;
}

/* Whether a GPU instance of `gi_slices` compute slices offers CIs of `s` slices. */
static int ci_supported(int gi_slices, int s) {
  return s > 0 && s <= gi_slices && (s == gi_slices || s <= 2 || gi_slices == 7);
}

/*
 * SimulatedMig.occupiedByVgpus: whether a MIG-backed vGPU occupies GPU instance `gi` of the GPU at
 * `address`, i.e. the host state (.gpuvirt-state.json, written under the same lock) maps a VF whose
 * physfn link names this GPU to that instance in "migVgpus". The driver refuses to destroy it.
 */
static int occupied_by_vgpu(const char *address, int gi) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/.gpuvirt-state.json", root_dir);
  int missing;
  jv *root = jread_file(path, &missing);
  int occupied = 0;
  jv *vgpus = jget(root, "migVgpus");
  for (int i = 0; vgpus && vgpus->type == J_OBJ && i < vgpus->n && !occupied; i++) {
    if (vgpus->items[i]->type != J_NUM || vgpus->items[i]->num != gi) {
      continue;
    }
    char link[PATH_MAX + 64];
    char target[PATH_MAX];
    snprintf(link, sizeof link, "%s/sys/bus/pci/devices/%s/physfn", root_dir, vgpus->keys[i]);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      const char *base = strrchr(target, '/');
      occupied = strcmp(base ? base + 1 : target, address) == 0;
    }
  }
  jfree(root);
  return occupied;
}

/* ---- handles -------------------------------------------------------------------------------- */

struct sim_dev {
  char address[ADDR_LEN];
};
struct sim_gi {
  char address[ADDR_LEN];
  int id;
};
struct sim_ci {
  char address[ADDR_LEN];
  int gi;
  int id;
};

#define MAX_HANDLES 4096
static struct sim_dev dev_handles[MAX_DEVICES];
static int ndev_handles;
static struct sim_gi gi_handles[MAX_HANDLES];
static int ngi_handles;
static struct sim_ci ci_handles[MAX_HANDLES];
static int nci_handles;

static struct sim_dev *dev_handle(const char *address) {
  for (int i = 0; i < ndev_handles; i++) {
    if (strcmp(dev_handles[i].address, address) == 0) {
      return &dev_handles[i];
    }
  }
  if (ndev_handles == MAX_DEVICES) {
    abort();
  }
  copy_str(dev_handles[ndev_handles].address, ADDR_LEN, address);
  return &dev_handles[ndev_handles++];
}

static struct sim_gi *gi_handle(const char *address, int id) {
  for (int i = 0; i < ngi_handles; i++) {
    if (gi_handles[i].id == id && strcmp(gi_handles[i].address, address) == 0) {
      return &gi_handles[i];
    }
  }
  if (ngi_handles == MAX_HANDLES) {
    abort();
  }
  copy_str(gi_handles[ngi_handles].address, ADDR_LEN, address);
  gi_handles[ngi_handles].id = id;
  return &gi_handles[ngi_handles++];
}

static struct sim_ci *ci_handle(const char *address, int gi, int id) {
  for (int i = 0; i < nci_handles; i++) {
    if (ci_handles[i].id == id && ci_handles[i].gi == gi
        && strcmp(ci_handles[i].address, address) == 0) {
      return &ci_handles[i];
    }
  }
  if (nci_handles == MAX_HANDLES) {
    abort();
  }
  copy_str(ci_handles[nci_handles].address, ADDR_LEN, address);
  ci_handles[nci_handles].gi = gi;
  ci_handles[nci_handles].id = id;
  return &ci_handles[nci_handles++];
}

static int valid_dev(const struct sim_dev *d) {
  return d >= dev_handles && d < dev_handles + ndev_handles;
}

static int valid_gi(const struct sim_gi *g) {
  return g >= gi_handles && g < gi_handles + ngi_handles;
}

static int valid_ci(const struct sim_ci *c) {
  return c >= ci_handles && c < ci_handles + nci_handles;
}

/* ---- entry and exit of every call ----------------------------------------------------------- */

/* A call on a device: the library locked, the state read, the device visible. */
typedef struct {
  state_t s;
  device_t *dev;
  gpu_t *gpu;
} call_t;

/* One call at a time (lib_mutex): its state is too big for a JNA thread's stack. */
static call_t the_call;

static nvmlReturn_t enter(call_t *c, const char *address) {
  pthread_mutex_lock(&lib_mutex);
  if (!init_count) {
    pthread_mutex_unlock(&lib_mutex);
    return NVML_ERROR_UNINITIALIZED;
  }
  nvmlReturn_t rc = state_begin(&c->s);
  if (rc != NVML_SUCCESS) {
    pthread_mutex_unlock(&lib_mutex);
    return rc;
  }
  c->dev = NULL;
  c->gpu = NULL;
  if (address) {
    c->dev = visible_device(&c->s, address);
    if (!c->dev) {
      state_end(&c->s);
      pthread_mutex_unlock(&lib_mutex);
      return NVML_ERROR_GPU_IS_LOST;
    }
    c->gpu = gpu_state(&c->s, address);
  }
  return NVML_SUCCESS;
}

static nvmlReturn_t leave(call_t *c, nvmlReturn_t rc) {
  if (rc != NVML_SUCCESS) {
    c->s.dirty = 0; /* a failed call changes nothing */
  }
  state_end(&c->s);
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

/* ---- initialisation --------------------------------------------------------------------------*/

static int has_state(const char *dir) {
  char path[PATH_MAX + 64];
  struct stat st;
  snprintf(path, sizeof path, "%s/.gpuvirt-mig.json", dir);
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int find_root(void) {
  const char *env = getenv("GPUVIRT_SIM_NVML_ROOT");
  if (env && *env) {
    copy_str(root_dir, sizeof root_dir, env);
    return has_state(root_dir);
  }
  Dl_info info;
  char dir[PATH_MAX];
  if (!dladdr((void *) &find_root, &info) || !info.dli_fname
      || !realpath(info.dli_fname, dir)) {
    return 0;
  }
  for (;;) {
    char *slash = strrchr(dir, '/');
    if (!slash) {
      return 0;
    }
    *slash = '\0';
    if (has_state(*dir ? dir : "/")) {
      copy_str(root_dir, sizeof root_dir, *dir ? dir : "/");
      return 1;
    }
    if (!*dir) {
      return 0;
    }
  }
}

API nvmlReturn_t nvmlInit_v2(void) {
  pthread_mutex_lock(&lib_mutex);
  nvmlReturn_t rc = NVML_SUCCESS;
  if (init_count == 0 && !find_root()) {
    rc = NVML_ERROR_DRIVER_NOT_LOADED;
  } else {
    init_count++;
  }
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

API nvmlReturn_t nvmlShutdown(void) {
  pthread_mutex_lock(&lib_mutex);
  nvmlReturn_t rc = init_count ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
  if (init_count) {
    init_count--;
  }
  pthread_mutex_unlock(&lib_mutex);
  return rc;
}

API const char *nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires reset";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient Resources";
    default: return "Unknown Error";
  }
}

/* ---- devices -------------------------------------------------------------------------------- */

API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, NULL);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!count) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  *count = (unsigned int) c->s.nvisible;
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, NULL);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!device || index >= (unsigned int) c->s.nvisible) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  *device = dev_handle(c->s.dev[c->s.visible[index]].address);
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
  if (!valid_dev(device) || !pci) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  unsigned int domain, bus, dev, fn;
  if (sscanf(c->dev->address, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4) {
    return leave(c, NVML_ERROR_UNKNOWN);
  }
  memset(pci, 0, sizeof *pci);
  pci->domain = domain;
  pci->bus = bus;
  pci->device = dev;
  pci->pciDeviceId = ((unsigned int) c->dev->device_id << 16) | 0x10de;
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", domain, bus, dev, fn);
  snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", domain, bus, dev, fn);
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  if (!valid_dev(device) || !name) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (strlen(c->dev->name) + 1 > length) {
    return leave(c, NVML_ERROR_INSUFFICIENT_SIZE);
  }
  strcpy(name, c->dev->name);
  return leave(c, NVML_SUCCESS);
}

/* ---- MIG mode ------------------------------------------------------------------------------- */

API nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *current,
    unsigned int *pending) {
  if (!valid_dev(device) || !current || !pending) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!c->dev->has_table) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  *current = (unsigned int) c->gpu->current;
  *pending = (unsigned int) c->gpu->pending;
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t device, unsigned int mode,
    nvmlReturn_t *activationStatus) {
  if (!valid_dev(device) || !activationStatus
      || (mode != NVML_DEVICE_MIG_DISABLE && mode != NVML_DEVICE_MIG_ENABLE)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!c->dev->has_table) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  if (mode == NVML_DEVICE_MIG_DISABLE && c->gpu->ngi > 0) {
    return leave(c, NVML_ERROR_IN_USE);
  }
  c->gpu->pending = (int) mode;
  c->s.dirty = 1;
  /* The simulated driver never resets the GPU itself: a change waits for nvidia-smi -r. */
  *activationStatus = c->gpu->current == (int) mode ? NVML_SUCCESS : NVML_ERROR_RESET_REQUIRED;
  return leave(c, NVML_SUCCESS);
}

/* ---- GPU instances -------------------------------------------------------------------------- */

static void fill_gi_profile(const profile_t *p, nvmlGpuInstanceProfileInfo_t *info) {
  memset(info, 0, sizeof *info);
  info->id = (unsigned int) p->id;
  info->isP2pSupported = 0;
  info->sliceCount = (unsigned int) p->compute;
  info->instanceCount = (unsigned int) p->max;
  info->multiprocessorCount = (unsigned int) p->sms;
  info->copyEngineCount = (unsigned int) p->ce;
  info->decoderCount = (unsigned int) p->dec;
  info->encoderCount = (unsigned int) p->enc;
  info->jpegCount = (unsigned int) p->jpeg;
  info->ofaCount = (unsigned int) p->ofa;
  info->memorySizeMB = (unsigned long long) p->mib;
}

API nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
    nvmlGpuInstanceProfileInfo_t *info) {
  if (!valid_dev(device) || !info || profile >= NVML_GPU_INSTANCE_PROFILE_COUNT) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  const profile_t *p = c->dev->has_table ? profile_by_constant(c->dev, (int) profile) : NULL;
  if (!p || !c->gpu->current) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  fill_gi_profile(p, info);
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t device,
    unsigned int profileId, nvmlGpuInstancePlacement_t *placements, unsigned int *count) {
  if (!valid_dev(device) || !count) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  const profile_t *p = c->dev->has_table ? profile_by_id(c->dev, (int) profileId) : NULL;
  if (!c->gpu->current) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  if (!p) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  if (!placements) {
    *count = (unsigned int) p->nstarts;
    return leave(c, NVML_SUCCESS);
  }
  if (*count < (unsigned int) p->nstarts) {
    *count = (unsigned int) p->nstarts;
    return leave(c, NVML_ERROR_INSUFFICIENT_SIZE);
  }
  for (int i = 0; i < p->nstarts; i++) {
    placements[i].start = (unsigned int) p->starts[i];
    placements[i].size = (unsigned int) p->memory;
  }
  *count = (unsigned int) p->nstarts;
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceCreateGpuInstance(nvmlDevice_t device, unsigned int profileId,
    nvmlGpuInstance_t *gpuInstance) {
  if (!valid_dev(device) || !gpuInstance) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!c->dev->has_table || !c->gpu->current) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  const profile_t *p = profile_by_id(c->dev, (int) profileId);
  if (!p) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  int start = driver_placement(c->dev, c->gpu, p);
  if (start < 0 || c->gpu->ngi == MAX_GIS) {
    return leave(c, NVML_ERROR_INSUFFICIENT_RESOURCES);
  }
  gi_t *gi = &c->gpu->gis[c->gpu->ngi++];
  memset(gi, 0, sizeof *gi);
  gi->id = next_gi_id(c->dev, c->gpu, p);
  gi->profile_id = p->id;
  gi->start = start;
  gi->size = p->memory;
  c->s.dirty = 1;
  *gpuInstance = gi_handle(c->dev->address, gi->id);
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profileId,
    nvmlGpuInstance_t *gpuInstances, unsigned int *count) {
  if (!valid_dev(device) || !gpuInstances || !count) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!c->dev->has_table || !c->gpu->current) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  if (!profile_by_id(c->dev, (int) profileId)) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  unsigned int n = 0;
  for (int i = 0; i < c->gpu->ngi; i++) {
    if (c->gpu->gis[i].profile_id == (int) profileId) {
      gpuInstances[n++] = gi_handle(c->dev->address, c->gpu->gis[i].id);
    }
  }
  *count = n;
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id,
    nvmlGpuInstance_t *gpuInstance) {
  if (!valid_dev(device) || !gpuInstance) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  nvmlReturn_t rc = enter(c, device->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (!c->dev->has_table || !c->gpu->current) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  if (!gi_by_id(c->gpu, (int) id)) {
    return leave(c, NVML_ERROR_NOT_FOUND);
  }
  *gpuInstance = gi_handle(c->dev->address, (int) id);
  return leave(c, NVML_SUCCESS);
}

/* A call on a GPU instance: as enter, and the instance exists. */
static nvmlReturn_t enter_gi(call_t *c, const struct sim_gi *handle, gi_t **gi) {
  nvmlReturn_t rc = enter(c, handle->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  *gi = gi_by_id(c->gpu, handle->id);
  if (!*gi || !c->gpu->current) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  return NVML_SUCCESS;
}

API nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance,
    nvmlGpuInstanceInfo_t *info) {
  if (!valid_gi(gpuInstance) || !info) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  nvmlReturn_t rc = enter_gi(c, gpuInstance, &gi);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  memset(info, 0, sizeof *info);
  info->device = dev_handle(c->dev->address);
  info->id = (unsigned int) gi->id;
  info->profileId = (unsigned int) gi->profile_id;
  info->placement.start = (unsigned int) gi->start;
  info->placement.size = (unsigned int) gi->size;
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance) {
  if (!valid_gi(gpuInstance)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  nvmlReturn_t rc = enter_gi(c, gpuInstance, &gi);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  if (gi->nci > 0 || occupied_by_vgpu(c->dev->address, gi->id)) {
    return leave(c, NVML_ERROR_IN_USE);
  }
  int at = (int) (gi - c->gpu->gis);
  memmove(&c->gpu->gis[at], &c->gpu->gis[at + 1], (size_t) (c->gpu->ngi - at - 1) * sizeof *gi);
  c->gpu->ngi--;
  c->s.dirty = 1;
  return leave(c, NVML_SUCCESS);
}

/* ---- compute instances ---------------------------------------------------------------------- */

API nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t gpuInstance,
    unsigned int profile, unsigned int engProfile, nvmlComputeInstanceProfileInfo_t *info) {
  if (!valid_gi(gpuInstance) || !info || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  nvmlReturn_t rc = enter_gi(c, gpuInstance, &gi);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  const profile_t *p = profile_by_id(c->dev, gi->profile_id);
  int s = ci_slices((int) profile);
  if (!p || engProfile != NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED
      || !ci_supported(p->compute, s)) {
    return leave(c, NVML_ERROR_NOT_SUPPORTED);
  }
  memset(info, 0, sizeof *info);
  info->id = profile;
  info->sliceCount = (unsigned int) s;
  info->instanceCount = (unsigned int) (p->compute / s);
  info->multiprocessorCount = (unsigned int) (p->sms * s / p->compute);
  info->sharedCopyEngineCount = (unsigned int) p->ce;
  info->sharedDecoderCount = (unsigned int) p->dec;
  info->sharedEncoderCount = (unsigned int) p->enc;
  info->sharedJpegCount = (unsigned int) p->jpeg;
  info->sharedOfaCount = (unsigned int) p->ofa;
  return leave(c, NVML_SUCCESS);
}

static int ci_used_slices(const gi_t *gi) {
  int used = 0;
  for (int i = 0; i < gi->nci; i++) {
    used += ci_slices(gi->cis[i].profile_id);
  }
  return used;
}

API nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance,
    unsigned int profileId, nvmlComputeInstance_t *computeInstance) {
  if (!valid_gi(gpuInstance) || !computeInstance) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  nvmlReturn_t rc = enter_gi(c, gpuInstance, &gi);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  const profile_t *p = profile_by_id(c->dev, gi->profile_id);
  int s = ci_slices((int) profileId);
  if (!p || !ci_supported(p->compute, s)) {
    return leave(c, NVML_ERROR_INVALID_ARGUMENT);
  }
  if (ci_used_slices(gi) + s > p->compute || gi->nci == MAX_CIS) {
    return leave(c, NVML_ERROR_INSUFFICIENT_RESOURCES);
  }
  int id = 0;
  for (int taken = 1; taken;) {
    taken = 0;
    for (int i = 0; i < gi->nci; i++) {
      if (gi->cis[i].id == id) {
        taken = 1;
        id++;
      }
    }
  }
  ci_t *ci = &gi->cis[gi->nci++];
  ci->id = id;
  ci->profile_id = (int) profileId;
  if (s == p->compute) {
    copy_str(ci->name, sizeof ci->name, p->name);
  } else {
    snprintf(ci->name, sizeof ci->name, "%dc.%s", s, p->name);
  }
  c->s.dirty = 1;
  *computeInstance = ci_handle(c->dev->address, gi->id, id);
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpuInstance,
    unsigned int profileId, nvmlComputeInstance_t *computeInstances, unsigned int *count) {
  if (!valid_gi(gpuInstance) || !computeInstances || !count
      || profileId >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  nvmlReturn_t rc = enter_gi(c, gpuInstance, &gi);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  unsigned int n = 0;
  for (int i = 0; i < gi->nci; i++) {
    if (gi->cis[i].profile_id == (int) profileId) {
      computeInstances[n++] = ci_handle(c->dev->address, gi->id, gi->cis[i].id);
    }
  }
  *count = n;
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t gpuInstance,
    unsigned int id, nvmlComputeInstance_t *computeInstance) {
  if (!valid_gi(gpuInstance) || !computeInstance) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  nvmlReturn_t rc = enter_gi(c, gpuInstance, &gi);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  for (int i = 0; i < gi->nci; i++) {
    if (gi->cis[i].id == (int) id) {
      *computeInstance = ci_handle(c->dev->address, gi->id, (int) id);
      return leave(c, NVML_SUCCESS);
    }
  }
  return leave(c, NVML_ERROR_NOT_FOUND);
}

/* A call on a compute instance: as enter_gi, and the compute instance exists. */
static nvmlReturn_t enter_ci(call_t *c, const struct sim_ci *handle, gi_t **gi, int *index) {
  nvmlReturn_t rc = enter(c, handle->address);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  *gi = gi_by_id(c->gpu, handle->gi);
  if (*gi) {
    for (int i = 0; i < (*gi)->nci; i++) {
      if ((*gi)->cis[i].id == handle->id) {
        *index = i;
        return NVML_SUCCESS;
      }
    }
  }
  return leave(c, NVML_ERROR_INVALID_ARGUMENT);
}

API nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t computeInstance,
    nvmlComputeInstanceInfo_t *info) {
  if (!valid_ci(computeInstance) || !info) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  int at;
  nvmlReturn_t rc = enter_ci(c, computeInstance, &gi, &at);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  unsigned int start = 0;
  for (int i = 0; i < at; i++) {
    start += (unsigned int) ci_slices(gi->cis[i].profile_id);
  }
  memset(info, 0, sizeof *info);
  info->device = dev_handle(c->dev->address);
  info->gpuInstance = gi_handle(c->dev->address, gi->id);
  info->id = (unsigned int) gi->cis[at].id;
  info->profileId = (unsigned int) gi->cis[at].profile_id;
  info->placement.start = start;
  info->placement.size = (unsigned int) ci_slices(gi->cis[at].profile_id);
  return leave(c, NVML_SUCCESS);
}

API nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance) {
  if (!valid_ci(computeInstance)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  call_t *const c = &the_call;
  gi_t *gi;
  int at;
  nvmlReturn_t rc = enter_ci(c, computeInstance, &gi, &at);
  if (rc != NVML_SUCCESS) {
    return rc;
  }
  memmove(&gi->cis[at], &gi->cis[at + 1], (size_t) (gi->nci - at - 1) * sizeof gi->cis[0]);
  gi->nci--;
  c->s.dirty = 1;
  return leave(c, NVML_SUCCESS);
}
