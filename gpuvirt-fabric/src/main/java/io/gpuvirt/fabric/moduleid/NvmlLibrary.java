package io.gpuvirt.fabric.moduleid;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import io.gpuvirt.fabric.nvml.NvmlCore;


/** The NVML functions module-id discovery needs, by their versioned symbols. */
interface NvmlLibrary extends NvmlCore {
  int nvmlDeviceGetModuleId(Pointer device, IntByReference moduleId);

  String nvmlErrorString(int result);
}
