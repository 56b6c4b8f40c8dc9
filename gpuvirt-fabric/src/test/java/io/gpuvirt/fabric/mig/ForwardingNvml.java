package io.gpuvirt.fabric.mig;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The real (simulated) libnvidia-ml with one answer changed: a test overrides the call whose
 * answer it corrupts and forwards everything else, so the backend meets a driver that misbehaves
 * in exactly one way.
 */
class ForwardingNvml implements NvmlMigLibrary {
  final NvmlMigLibrary real;

  ForwardingNvml(NvmlMigLibrary real) {
    this.real = real;
  }

  @Override
  public int nvmlInit_v2() {
    return real.nvmlInit_v2();
  }

  @Override
  public int nvmlShutdown() {
    return real.nvmlShutdown();
  }

  @Override
  public int nvmlDeviceGetCount_v2(IntByReference count) {
    return real.nvmlDeviceGetCount_v2(count);
  }

  @Override
  public int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device) {
    return real.nvmlDeviceGetHandleByIndex_v2(index, device);
  }

  @Override
  public int nvmlDeviceGetPciInfo_v3(Pointer device, PciInfo pci) {
    return real.nvmlDeviceGetPciInfo_v3(device, pci);
  }

  @Override
  public int nvmlDeviceGetName(Pointer device, byte[] name, int length) {
    return real.nvmlDeviceGetName(device, name, length);
  }

  @Override
  public int nvmlDeviceGetMigMode(Pointer device, IntByReference current,
      IntByReference pending) {
    return real.nvmlDeviceGetMigMode(device, current, pending);
  }

  @Override
  public int nvmlDeviceSetMigMode(Pointer device, int mode, IntByReference activationStatus) {
    return real.nvmlDeviceSetMigMode(device, mode, activationStatus);
  }

  @Override
  public int nvmlDeviceGetGpuInstanceProfileInfo(Pointer device, int profile,
      GpuInstanceProfileInfo info) {
    return real.nvmlDeviceGetGpuInstanceProfileInfo(device, profile, info);
  }

  @Override
  public int nvmlDeviceCreateGpuInstance(Pointer device, int profileId,
      PointerByReference gpuInstance) {
    return real.nvmlDeviceCreateGpuInstance(device, profileId, gpuInstance);
  }

  @Override
  public int nvmlDeviceGetGpuInstances(Pointer device, int profileId, Pointer gpuInstances,
      IntByReference count) {
    return real.nvmlDeviceGetGpuInstances(device, profileId, gpuInstances, count);
  }

  @Override
  public int nvmlDeviceGetGpuInstanceById(Pointer device, int id,
      PointerByReference gpuInstance) {
    return real.nvmlDeviceGetGpuInstanceById(device, id, gpuInstance);
  }

  @Override
  public int nvmlGpuInstanceGetInfo(Pointer gpuInstance, GpuInstanceInfo info) {
    return real.nvmlGpuInstanceGetInfo(gpuInstance, info);
  }

  @Override
  public int nvmlGpuInstanceDestroy(Pointer gpuInstance) {
    return real.nvmlGpuInstanceDestroy(gpuInstance);
  }

  @Override
  public int nvmlGpuInstanceGetComputeInstanceProfileInfo(Pointer gpuInstance, int profile,
      int engineProfile, ComputeInstanceProfileInfo info) {
    return real.nvmlGpuInstanceGetComputeInstanceProfileInfo(gpuInstance, profile, engineProfile,
        info);
  }

  @Override
  public int nvmlGpuInstanceCreateComputeInstance(Pointer gpuInstance, int profileId,
      PointerByReference computeInstance) {
    return real.nvmlGpuInstanceCreateComputeInstance(gpuInstance, profileId, computeInstance);
  }

  @Override
  public int nvmlGpuInstanceGetComputeInstances(Pointer gpuInstance, int profileId,
      Pointer computeInstances, IntByReference count) {
    return real.nvmlGpuInstanceGetComputeInstances(gpuInstance, profileId, computeInstances,
        count);
  }

  @Override
  public int nvmlGpuInstanceGetComputeInstanceById(Pointer gpuInstance, int id,
      PointerByReference computeInstance) {
    return real.nvmlGpuInstanceGetComputeInstanceById(gpuInstance, id, computeInstance);
  }

  @Override
  public int nvmlComputeInstanceGetInfo_v2(Pointer computeInstance, ComputeInstanceInfo info) {
    return real.nvmlComputeInstanceGetInfo_v2(computeInstance, info);
  }

  @Override
  public int nvmlComputeInstanceDestroy(Pointer computeInstance) {
    return real.nvmlComputeInstanceDestroy(computeInstance);
  }
}
