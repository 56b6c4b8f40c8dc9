package io.gpuvirt.fabric.nvfm;

import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * The 11 functions {@code libnvfm.so.1} exports. Every function returns an {@code fmReturn_t}.
 * Structs are passed as pointers to memory the caller wrote (see {@link NvfmStructs}).
 */
interface NvfmLibrary extends Library {
  int fmLibInit();

  int fmLibShutdown();

  int fmConnect(Pointer connectParams, PointerByReference handle);

  int fmDisconnect(Pointer handle);

  int fmGetSupportedFabricPartitions(Pointer handle, Pointer partitionList);

  int fmActivateFabricPartition(Pointer handle, int partitionId);

  int fmActivateFabricPartitionWithVFs(Pointer handle, int partitionId, Pointer vfList,
      int numVfs);

  int fmDeactivateFabricPartition(Pointer handle, int partitionId);

  int fmSetActivatedFabricPartitions(Pointer handle, Pointer activatedList);

  int fmGetNvlinkFailedDevices(Pointer handle, Pointer failedDevices);

  int fmGetUnsupportedFabricPartitions(Pointer handle, Pointer unsupportedList);
}
