package io.gpuvirt.fabric.mig;

/** NVML's {@code nvmlReturn_t} values, by name and by the text {@code nvidia-smi} prints. */
final class NvmlReturn {
  static final int SUCCESS = 0;
  static final int UNINITIALIZED = 1;
  static final int INVALID_ARGUMENT = 2;
  static final int NOT_SUPPORTED = 3;
  static final int NO_PERMISSION = 4;
  static final int NOT_FOUND = 6;
  static final int DRIVER_NOT_LOADED = 9;
  static final int RESET_REQUIRED = 16;
  static final int IN_USE = 19;
  static final int INSUFFICIENT_RESOURCES = 23;

  private static final String[] NAMES = {"SUCCESS", "UNINITIALIZED", "INVALID_ARGUMENT",
    "NOT_SUPPORTED", "NO_PERMISSION", "ALREADY_INITIALIZED", "NOT_FOUND", "INSUFFICIENT_SIZE",
    "INSUFFICIENT_POWER", "DRIVER_NOT_LOADED", "TIMEOUT", "IRQ_ISSUE", "LIBRARY_NOT_FOUND",
    "FUNCTION_NOT_FOUND", "CORRUPTED_INFOROM", "GPU_IS_LOST", "RESET_REQUIRED",
    "OPERATING_SYSTEM", "LIB_RM_VERSION_MISMATCH", "IN_USE", "MEMORY", "NO_DATA",
    "VGPU_ECC_NOT_SUPPORTED", "INSUFFICIENT_RESOURCES", "FREQ_NOT_SUPPORTED",
    "ARGUMENT_VERSION_MISMATCH", "DEPRECATED", "NOT_READY", "GPU_NOT_FOUND", "INVALID_STATE"};
  private static final String[] TEXTS = {"Success", "Uninitialized", "Invalid Argument",
    "Not Supported", "Insufficient Permissions", "Already Initialized", "Not Found",
    "Insufficient Size", "Insufficient External Power", "Driver Not Loaded", "Timeout",
    "Interrupt request issue", "NVML Shared Library Not Found", "Function Not Found",
    "Corrupted infoROM", "GPU is lost", "GPU requires reset", "The operating system has blocked "
        + "the request", "RM has detected an NVML/RM version mismatch", "In use by another client",
    "Insufficient Memory", "No data", "The requested vgpu operation is not available on target "
        + "device, becasue ECC is enabled", "Insufficient Resources", "Frequency not supported",
    "Argument version mismatch", "Deprecated", "Not Ready", "GPU Not Found", "Invalid State"};

  private NvmlReturn() {}

  /** {@code NVML_ERROR_INSUFFICIENT_RESOURCES (23): Insufficient Resources}. */
  static String describe(int code) {
    if (code >= 0 && code < NAMES.length) {
      return (code == 0 ? "NVML_" : "NVML_ERROR_") + NAMES[code] + " (" + code + "): "
          + TEXTS[code];
    }
    return code == 999 ? "NVML_ERROR_UNKNOWN (999): Unknown Error"
        : "an undocumented NVML return code " + code;
  }

  /** What to do about it, or empty. */
  static String fix(int code) {
    return switch (code) {
      case INSUFFICIENT_RESOURCES -> ". The GPU has no free placement for it: destroy instances, "
          + "or create the larger profiles first";
      case IN_USE -> ". Stop the processes using the GPU (nvidia-smi shows them; on DGX also nvsm "
          + "and dcgm), destroy its compute instances first, and retry";
      case NOT_SUPPORTED -> ". The GPU's MIG mode may be off: turn MIG on (setMode, then a GPU "
          + "reset) or use a MIG-capable GPU";
      case NO_PERMISSION -> ". MIG management needs root, or read access to "
          + "/proc/driver/nvidia/capabilities/mig/config";
      case DRIVER_NOT_LOADED -> ". Load the NVIDIA kernel driver (modprobe nvidia)";
      case UNINITIALIZED -> ". The backend was closed; open a new one";
      default -> "";
    };
  }
}
