package io.gpuvirt.core.vfio;

import io.gpuvirt.core.pci.PciAddress;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The outcome of {@link VfioBinder#restore}.
 *
 * @param restored devices put back on their original driver (or left unbound if they had none)
 * @param untouched devices left as they are, with the reason: gpuvirt did not bind them, or they
 *     are no longer on the VFIO driver gpuvirt put them on
 */
public record RestoreResult(List<PciAddress> restored, Map<PciAddress, String> untouched) {
  public RestoreResult {
    restored = List.copyOf(restored);
    untouched = java.util.Collections.unmodifiableMap(new TreeMap<>(untouched));
  }
}
