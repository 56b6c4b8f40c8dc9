package io.gpuvirt.examples.guest;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A CUDA driver API result code ({@code CUresult}) with its name from {@code cuda.h}, and, for the
 * codes a fresh VM runs into, what to do about it.
 *
 * <pre>{@code
 * CuResult.of(3).name();    // "CUDA_ERROR_NOT_INITIALIZED"
 * CuResult.of(3).hint();    // the GPU-on-the-root-complex explanation
 * CuResult.of(4242).name(); // "CUresult 4242 (not in cuda.h)"
 * }</pre>
 *
 * @param code the numeric result
 * @param name the {@code cuda.h} name, or {@code CUresult N (not in cuda.h)} for an unknown code
 */
public record CuResult(int code, String name) {
  /** {@code CUDA_SUCCESS}. */
  public static final int SUCCESS = 0;

  private static final Map<Integer, String> NAMES = names();
  private static final Map<Integer, String> HINTS = hints();

  /** The result with this code, named from the table of {@code cuda.h} (CUDA 12/13). */
  public static CuResult of(int code) {
    String name = NAMES.get(code);
    return new CuResult(code, name != null ? name : "CUresult " + code + " (not in cuda.h)");
  }

  /** Whether this is {@code CUDA_SUCCESS}. */
  public boolean success() {
    return code == SUCCESS;
  }

  /** Whether {@code cuda.h} defines the code. */
  public boolean known() {
    return NAMES.containsKey(code);
  }

  /** What the code usually means inside a VM with passed-through GPUs, and the fix, if known. */
  public Optional<String> hint() {
    return Optional.ofNullable(HINTS.get(code));
  }

  @Override
  public String toString() {
    return code + " " + name;
  }

  private static Map<Integer, String> hints() {
    Map<Integer, String> h = new TreeMap<>();
    h.put(2, "the driver could not allocate memory while initialising; check the guest's RAM and"
        + " dmesg");
    h.put(3, "the driver loaded but could not initialise the GPU. On HGX B200 this is what a GPU"
        + " placed directly on the guest's root complex gives: it must sit behind a PCIe root"
        + " port (see the PCIe check). Otherwise look for NVRM or Xid lines in dmesg");
    h.put(4, "the driver is shutting down (cuInit called during process exit)");
    h.put(34, "the libcuda.so.1 that was loaded is the CUDA toolkit's stub (.../lib64/stubs), not"
        + " the driver's library: install the NVIDIA driver and take the stubs directory off"
        + " LD_LIBRARY_PATH");
    h.put(46, "the GPUs are unavailable: compute mode is Prohibited or Exclusive-Process and in"
        + " use (nvidia-smi -q -d COMPUTE)");
    h.put(100, "the driver sees no CUDA device: is the nvidia module bound to the GPUs (lspci -k"
        + " -d 10de:), and does CUDA_VISIBLE_DEVICES hide them?");
    h.put(101, "the device ordinal is out of range; check CUDA_VISIBLE_DEVICES");
    h.put(802, "the system is not ready: on an NVSwitch system the NVLink fabric is not up. In"
        + " shared NVSwitch mode the host's Fabric Manager must activate the partition holding"
        + " these GPUs before the VM starts; in full passthrough the guest runs nvidia-fabricmanager"
        + " itself (systemctl status nvidia-fabricmanager)");
    h.put(803, "the user-mode driver (libcuda) and the kernel module are different versions:"
        + " install one driver version (compare /proc/driver/nvidia/version with the libcuda"
        + " package). In shared NVSwitch mode the guest driver must also equal the host's Fabric"
        + " Manager version exactly");
    h.put(804, "the forward-compatibility libcuda (cuda-compat) does not support this GPU: take"
        + " the compat directory off the library path");
    h.put(999, "an unknown driver error: look for NVRM or Xid lines in dmesg");
    return Map.copyOf(h);
  }

  private static Map<Integer, String> names() {
    Map<Integer, String> n = new TreeMap<>();
    put(n, 0, "SUCCESS");
    put(n, 1, "ERROR_INVALID_VALUE");
    put(n, 2, "ERROR_OUT_OF_MEMORY");
    put(n, 3, "ERROR_NOT_INITIALIZED");
    put(n, 4, "ERROR_DEINITIALIZED");
    put(n, 5, "ERROR_PROFILER_DISABLED");
    put(n, 6, "ERROR_PROFILER_NOT_INITIALIZED");
    put(n, 7, "ERROR_PROFILER_ALREADY_STARTED");
    put(n, 8, "ERROR_PROFILER_ALREADY_STOPPED");
    put(n, 34, "ERROR_STUB_LIBRARY");
    put(n, 46, "ERROR_DEVICE_UNAVAILABLE");
    put(n, 100, "ERROR_NO_DEVICE");
    put(n, 101, "ERROR_INVALID_DEVICE");
    put(n, 102, "ERROR_DEVICE_NOT_LICENSED");
    put(n, 200, "ERROR_INVALID_IMAGE");
    put(n, 201, "ERROR_INVALID_CONTEXT");
    put(n, 202, "ERROR_CONTEXT_ALREADY_CURRENT");
    put(n, 205, "ERROR_MAP_FAILED");
    put(n, 206, "ERROR_UNMAP_FAILED");
    put(n, 207, "ERROR_ARRAY_IS_MAPPED");
    put(n, 208, "ERROR_ALREADY_MAPPED");
    put(n, 209, "ERROR_NO_BINARY_FOR_GPU");
    put(n, 210, "ERROR_ALREADY_ACQUIRED");
    put(n, 211, "ERROR_NOT_MAPPED");
    put(n, 212, "ERROR_NOT_MAPPED_AS_ARRAY");
    put(n, 213, "ERROR_NOT_MAPPED_AS_POINTER");
    put(n, 214, "ERROR_ECC_UNCORRECTABLE");
    put(n, 215, "ERROR_UNSUPPORTED_LIMIT");
    put(n, 216, "ERROR_CONTEXT_ALREADY_IN_USE");
    put(n, 217, "ERROR_PEER_ACCESS_UNSUPPORTED");
    put(n, 218, "ERROR_INVALID_PTX");
    put(n, 219, "ERROR_INVALID_GRAPHICS_CONTEXT");
    put(n, 220, "ERROR_NVLINK_UNCORRECTABLE");
    put(n, 221, "ERROR_JIT_COMPILER_NOT_FOUND");
    put(n, 222, "ERROR_UNSUPPORTED_PTX_VERSION");
    put(n, 223, "ERROR_JIT_COMPILATION_DISABLED");
    put(n, 224, "ERROR_UNSUPPORTED_EXEC_AFFINITY");
    put(n, 225, "ERROR_UNSUPPORTED_DEVSIDE_SYNC");
    put(n, 226, "ERROR_CONTAINED");
    put(n, 300, "ERROR_INVALID_SOURCE");
    put(n, 301, "ERROR_FILE_NOT_FOUND");
    put(n, 302, "ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND");
    put(n, 303, "ERROR_SHARED_OBJECT_INIT_FAILED");
    put(n, 304, "ERROR_OPERATING_SYSTEM");
    put(n, 400, "ERROR_INVALID_HANDLE");
    put(n, 401, "ERROR_ILLEGAL_STATE");
    put(n, 402, "ERROR_LOSSY_QUERY");
    put(n, 500, "ERROR_NOT_FOUND");
    put(n, 600, "ERROR_NOT_READY");
    put(n, 700, "ERROR_ILLEGAL_ADDRESS");
    put(n, 701, "ERROR_LAUNCH_OUT_OF_RESOURCES");
    put(n, 702, "ERROR_LAUNCH_TIMEOUT");
    put(n, 703, "ERROR_LAUNCH_INCOMPATIBLE_TEXTURING");
    put(n, 704, "ERROR_PEER_ACCESS_ALREADY_ENABLED");
    put(n, 705, "ERROR_PEER_ACCESS_NOT_ENABLED");
    put(n, 708, "ERROR_PRIMARY_CONTEXT_ACTIVE");
    put(n, 709, "ERROR_CONTEXT_IS_DESTROYED");
    put(n, 710, "ERROR_ASSERT");
    put(n, 711, "ERROR_TOO_MANY_PEERS");
    put(n, 712, "ERROR_HOST_MEMORY_ALREADY_REGISTERED");
    put(n, 713, "ERROR_HOST_MEMORY_NOT_REGISTERED");
    put(n, 714, "ERROR_HARDWARE_STACK_ERROR");
    put(n, 715, "ERROR_ILLEGAL_INSTRUCTION");
    put(n, 716, "ERROR_MISALIGNED_ADDRESS");
    put(n, 717, "ERROR_INVALID_ADDRESS_SPACE");
    put(n, 718, "ERROR_INVALID_PC");
    put(n, 719, "ERROR_LAUNCH_FAILED");
    put(n, 720, "ERROR_COOPERATIVE_LAUNCH_TOO_LARGE");
    put(n, 721, "ERROR_TENSOR_MEMORY_LEAK");
    put(n, 800, "ERROR_NOT_PERMITTED");
    put(n, 801, "ERROR_NOT_SUPPORTED");
    put(n, 802, "ERROR_SYSTEM_NOT_READY");
    put(n, 803, "ERROR_SYSTEM_DRIVER_MISMATCH");
    put(n, 804, "ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE");
    put(n, 805, "ERROR_MPS_CONNECTION_FAILED");
    put(n, 806, "ERROR_MPS_RPC_FAILURE");
    put(n, 807, "ERROR_MPS_SERVER_NOT_READY");
    put(n, 808, "ERROR_MPS_MAX_CLIENTS_REACHED");
    put(n, 809, "ERROR_MPS_MAX_CONNECTIONS_REACHED");
    put(n, 810, "ERROR_MPS_CLIENT_TERMINATED");
    put(n, 811, "ERROR_CDP_NOT_SUPPORTED");
    put(n, 812, "ERROR_CDP_VERSION_MISMATCH");
    put(n, 900, "ERROR_STREAM_CAPTURE_UNSUPPORTED");
    put(n, 901, "ERROR_STREAM_CAPTURE_INVALIDATED");
    put(n, 902, "ERROR_STREAM_CAPTURE_MERGE");
    put(n, 903, "ERROR_STREAM_CAPTURE_UNMATCHED");
    put(n, 904, "ERROR_STREAM_CAPTURE_UNJOINED");
    put(n, 905, "ERROR_STREAM_CAPTURE_ISOLATION");
    put(n, 906, "ERROR_STREAM_CAPTURE_IMPLICIT");
    put(n, 907, "ERROR_CAPTURED_EVENT");
    put(n, 908, "ERROR_STREAM_CAPTURE_WRONG_THREAD");
    put(n, 909, "ERROR_TIMEOUT");
    put(n, 910, "ERROR_GRAPH_EXEC_UPDATE_FAILURE");
    put(n, 911, "ERROR_EXTERNAL_DEVICE");
    put(n, 912, "ERROR_INVALID_CLUSTER_SIZE");
    put(n, 913, "ERROR_FUNCTION_NOT_LOADED");
    put(n, 914, "ERROR_INVALID_RESOURCE_TYPE");
    put(n, 915, "ERROR_INVALID_RESOURCE_CONFIGURATION");
    put(n, 916, "ERROR_KEY_ROTATION");
    put(n, 999, "ERROR_UNKNOWN");
    return Map.copyOf(n);
  }

  private static void put(Map<Integer, String> names, int code, String suffix) {
    names.put(code, "CUDA_" + suffix);
  }
}
