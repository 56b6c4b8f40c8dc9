package io.gpuvirt.fabric.moduleid;

import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/** The NVML functions module-id discovery needs, by their versioned symbols. */
interface NvmlLibrary extends Library {
  int NVML_SUCCESS = 0;

  int nvmlInit_v2();

  int nvmlShutdown();

  int nvmlDeviceGetCount_v2(IntByReference count);

  int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device);

  int nvmlDeviceGetPciInfo_v3(Pointer device, Pointer pciInfo);

  int nvmlDeviceGetModuleId(Pointer device, IntByReference moduleId);

  String nvmlErrorString(int result);

  /** {@code nvmlPciInfo_t} (68 bytes). */
  @FieldOrder({"busIdLegacy", "domain", "bus", "device", "pciDeviceId", "pciSubSystemId",
      "busId"})
  class PciInfo extends Structure {
    public byte[] busIdLegacy = new byte[16];
    public int domain;
    public int bus;
    public int device;
    public int pciDeviceId;
    public int pciSubSystemId;
    public byte[] busId = new byte[32];
  }
}
