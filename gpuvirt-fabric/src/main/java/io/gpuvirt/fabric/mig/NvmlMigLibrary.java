package io.gpuvirt.fabric.mig;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.gpuvirt.fabric.nvml.NvmlCore;

/**
 * The NVML calls {@link NvmlMigBackend} makes, by the symbols {@code libnvidia-ml.so.1} exports
 * (versioned where NVML versions them), with the x86_64 struct layouts of {@code nvml.h}
 * (sizes and offsets in {@code shared/reference/VGPU_MIG.md} §5). Handles ({@code nvmlDevice_t},
 * {@code nvmlGpuInstance_t}, {@code nvmlComputeInstance_t}) are opaque pointers; arrays of them
 * are passed as native memory of {@code count} pointers.
 */
interface NvmlMigLibrary extends NvmlCore {
  int nvmlDeviceGetName(Pointer device, byte[] name, int length);

  int nvmlDeviceGetMigMode(Pointer device, IntByReference current, IntByReference pending);

  int nvmlDeviceSetMigMode(Pointer device, int mode, IntByReference activationStatus);

  int nvmlDeviceGetGpuInstanceProfileInfo(Pointer device, int profile,
      GpuInstanceProfileInfo info);

  int nvmlDeviceCreateGpuInstance(Pointer device, int profileId, PointerByReference gpuInstance);

  int nvmlDeviceGetGpuInstances(Pointer device, int profileId, Pointer gpuInstances,
      IntByReference count);

  int nvmlDeviceGetGpuInstanceById(Pointer device, int id, PointerByReference gpuInstance);

  int nvmlGpuInstanceGetInfo(Pointer gpuInstance, GpuInstanceInfo info);

  int nvmlGpuInstanceDestroy(Pointer gpuInstance);

  int nvmlGpuInstanceGetComputeInstanceProfileInfo(Pointer gpuInstance, int profile,
      int engineProfile, ComputeInstanceProfileInfo info);

  int nvmlGpuInstanceCreateComputeInstance(Pointer gpuInstance, int profileId,
      PointerByReference computeInstance);

  int nvmlGpuInstanceGetComputeInstances(Pointer gpuInstance, int profileId,
      Pointer computeInstances, IntByReference count);

  int nvmlGpuInstanceGetComputeInstanceById(Pointer gpuInstance, int id,
      PointerByReference computeInstance);

  int nvmlComputeInstanceGetInfo_v2(Pointer computeInstance, ComputeInstanceInfo info);

  int nvmlComputeInstanceDestroy(Pointer computeInstance);

  /**
   * {@code nvmlGpuInstanceProfileInfo_t} (48 bytes): {@code id} is the profile id that
   * {@code nvmlDeviceCreateGpuInstance} takes (19 for {@code 1g.*}), not the constant asked for.
   */
  @FieldOrder({"id", "isP2pSupported", "sliceCount", "instanceCount", "multiprocessorCount",
      "copyEngineCount", "decoderCount", "encoderCount", "jpegCount", "ofaCount",
      "memorySizeMB"})
  class GpuInstanceProfileInfo extends Structure {
    public int id;
    public int isP2pSupported;
    public int sliceCount;
    public int instanceCount;
    public int multiprocessorCount;
    public int copyEngineCount;
    public int decoderCount;
    public int encoderCount;
    public int jpegCount;
    public int ofaCount;
    public long memorySizeMB;
  }

  /**
   * {@code nvmlGpuInstanceInfo_t} (24 bytes); the {@code nvmlGpuInstancePlacement_t} at offset
   * 16 is flattened into {@code placementStart}/{@code placementSize}.
   */
  @FieldOrder({"device", "id", "profileId", "placementStart", "placementSize"})
  class GpuInstanceInfo extends Structure {
    public Pointer device;
    public int id;
    public int profileId;
    public int placementStart;
    public int placementSize;
  }

  /** {@code nvmlComputeInstanceProfileInfo_t} (36 bytes). */
  @FieldOrder({"id", "sliceCount", "instanceCount", "multiprocessorCount",
      "sharedCopyEngineCount", "sharedDecoderCount", "sharedEncoderCount", "sharedJpegCount",
      "sharedOfaCount"})
  class ComputeInstanceProfileInfo extends Structure {
    public int id;
    public int sliceCount;
    public int instanceCount;
    public int multiprocessorCount;
    public int sharedCopyEngineCount;
    public int sharedDecoderCount;
    public int sharedEncoderCount;
    public int sharedJpegCount;
    public int sharedOfaCount;
  }

  /**
   * {@code nvmlComputeInstanceInfo_t} (32 bytes); its placement (compute slices within the GPU
   * instance) at offset 24, flattened.
   */
  @FieldOrder({"device", "gpuInstance", "id", "profileId", "placementStart", "placementSize"})
  class ComputeInstanceInfo extends Structure {
    public Pointer device;
    public Pointer gpuInstance;
    public int id;
    public int profileId;
    public int placementStart;
    public int placementSize;
  }
}
