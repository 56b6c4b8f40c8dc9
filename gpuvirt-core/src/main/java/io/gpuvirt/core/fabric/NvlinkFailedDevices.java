package io.gpuvirt.core.fabric;

import java.util.List;

/**
 * The devices Fabric Manager reports with failed NVLinks ({@code fmGetNvlinkFailedDevices}). On
 * HGX H100 and later Fabric Manager always reports none.
 *
 * @param gpus GPUs with failed NVLink ports
 * @param switches NVSwitches with failed NVLink ports
 */
public record NvlinkFailedDevices(List<NvlinkFailedDevice> gpus,
    List<NvlinkFailedDevice> switches) {
  private static final NvlinkFailedDevices NONE = new NvlinkFailedDevices(List.of(), List.of());

  public NvlinkFailedDevices {
    gpus = List.copyOf(gpus);
    switches = List.copyOf(switches);
  }

  /** No failed devices. */
  public static NvlinkFailedDevices none() {
    return NONE;
  }

  /** Whether no device has a failed NVLink. */
  public boolean isEmpty() {
    return gpus.isEmpty() && switches.isEmpty();
  }
}
