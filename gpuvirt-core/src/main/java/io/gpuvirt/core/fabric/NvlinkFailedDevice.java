package io.gpuvirt.core.fabric;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.List;
import java.util.Optional;

/**
 * A GPU or NVSwitch on which Fabric Manager found failed NVLink ports.
 *
 * @param uuid the device UUID as Fabric Manager reports it (may be empty)
 * @param pciBusId the PCI bus id as Fabric Manager reports it ({@code 00000000:17:00.0}; may be empty)
 * @param failedPorts the NVLink port numbers that failed, in the order reported
 */
public record NvlinkFailedDevice(String uuid, String pciBusId, List<Integer> failedPorts) {
  public NvlinkFailedDevice {
    if (uuid == null || pciBusId == null) {
      throw new InvalidValueException("uuid and pciBusId must not be null; use \"\" when unknown");
    }
    failedPorts = List.copyOf(failedPorts);
    for (int port : failedPorts) {
      if (port < 0) {
        throw new InvalidValueException("NVLink port must be 0 or more, was " + port
            + " for device '" + pciBusId + "'");
      }
    }
  }

  /** The PCI address, when Fabric Manager reported a valid one. */
  public Optional<PciAddress> address() {
    return PciAddress.isValid(pciBusId) ? Optional.of(PciAddress.parse(pciBusId)) : Optional.empty();
  }
}
