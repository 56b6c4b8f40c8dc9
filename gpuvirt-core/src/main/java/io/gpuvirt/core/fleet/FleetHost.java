package io.gpuvirt.core.fleet;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A host as the fleet sees it.
 *
 * @param heartbeatDeadline when the host must beat again; past it, it is never allocated
 * @param lost whether it was marked lost ({@link Fleet#markLost}); its leases are kept
 * @param freeSizes the request sizes it can serve now
 */
public record FleetHost(String name, Optional<Instant> heartbeatAt,
    Optional<Instant> heartbeatDeadline, boolean lost, int gpus, int freeGpus, int partitions,
    List<Integer> freeSizes) {
  public FleetHost {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(heartbeatAt, "heartbeatAt");
    Objects.requireNonNull(heartbeatDeadline, "heartbeatDeadline");
    freeSizes = List.copyOf(freeSizes);
  }

  /**
   * Checks a host name with the fleet's one rule (the schema's CHECK): 1 to 253 ASCII letters,
   * digits, {@code .}, {@code _} or {@code -}, starting with a letter or digit.
   *
   * @return the name
   * @throws io.gpuvirt.core.InvalidValueException naming the name and the rule
   */
  public static String checkName(String name) {
    return HostNames.check(name);
  }
}
