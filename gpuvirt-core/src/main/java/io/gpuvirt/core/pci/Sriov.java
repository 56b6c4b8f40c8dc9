package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;

/**
 * SR-IOV state of a physical function.
 *
 * @param totalVfs {@code sriov_totalvfs}
 * @param numVfs {@code sriov_numvfs}, the VFs enabled now
 * @param virtualFunctions the enabled VFs ({@code virtfnN} links), in VF-index order
 */
public record Sriov(int totalVfs, int numVfs, List<PciAddress> virtualFunctions) {
  public Sriov {
    virtualFunctions = List.copyOf(virtualFunctions);
    if (totalVfs < 0 || numVfs < 0 || numVfs > totalVfs) {
      throw new InvalidValueException("invalid SR-IOV counts: " + numVfs + " of " + totalVfs);
    }
  }
}
