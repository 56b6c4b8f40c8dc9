package io.gpuvirt.fabric.nvml;

import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The NVML calls every gpuvirt use of {@code libnvidia-ml.so.1} starts with (initialise, find the
 * GPUs and their PCI addresses, shut down), by their versioned symbols, and {@code nvmlPciInfo_t}.
 * Module-id discovery and the MIG backend extend it with their own calls. Not part of the API: the
 * package is not exported (only opened to JNA, which reads the struct reflectively).
 */
public interface NvmlCore extends Library {
  /** {@code NVML_SUCCESS}. */
  int NVML_SUCCESS = 0;

  int nvmlInit_v2();

  int nvmlShutdown();

  int nvmlDeviceGetCount_v2(IntByReference count);

  int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device);

  int nvmlDeviceGetPciInfo_v3(Pointer device, PciInfo pci);

  /** {@code nvmlPciInfo_t} (68 bytes). */
  @FieldOrder({"busIdLegacy", "domain", "bus", "device", "pciDeviceId", "pciSubSystemId",
      "busId"})
  class PciInfo extends Structure {
    public byte[] busIdLegacy = new byte[16];
    public int domain;
    public int bus;
    public int device;
    /** The PCI device id in the upper 16 bits, the vendor (0x10de) in the lower. */
    public int pciDeviceId;
    public int pciSubSystemId;
    public byte[] busId = new byte[32];
  }
}
