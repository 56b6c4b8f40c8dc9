package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Collection;
import java.util.Collections;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A request for devices: "4 GPUs of type 10de:2901 for vm-42".
 *
 * <pre>{@code
 * AllocationRequest request = AllocationRequest.builder("vm-42")
 *     .count(4)
 *     .selector(DeviceSelector.parse("10de:2901"))
 *     .build();
 * }</pre>
 *
 * @param owner who the devices are for: 1 to 128 characters, letters, digits and {@code . _ : @ -},
 *     starting with a letter or digit (see {@link #checkOwner})
 * @param count how many devices matching {@code selector} the lease must hold, exactly; 1 or more
 * @param selector which devices count toward the request
 * @param placement where the devices should sit relative to each other
 * @param allowedForeign endpoints that may come along in a requested device's IOMMU group although
 *     the request did not ask for them (a NIC behind a switch without ACS); without this a group
 *     holding such a device is not a candidate
 */
public record AllocationRequest(String owner, int count, DeviceSelector selector,
    Placement placement, SortedSet<PciAddress> allowedForeign) {

  private static final Pattern OWNER = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}");

  public AllocationRequest {
    checkOwner(owner);
    if (count < 1) {
      throw new InvalidValueException("request for " + owner + ": count must be 1 or more, was "
          + count);
    }
    Objects.requireNonNull(selector, "selector");
    Objects.requireNonNull(placement, "placement");
    allowedForeign = Collections.unmodifiableSortedSet(new TreeSet<>(allowedForeign));
  }

  /**
   * Checks an owner id and returns it. The one rule for owner ids, everywhere (requests, leases,
   * the ledger, the CLI's {@code --owner}): 1 to 128 ASCII characters, the first an ASCII letter or
   * digit, the rest ASCII letters, digits and {@code . _ : @ -}; as a pattern
   * {@code [A-Za-z0-9][A-Za-z0-9._:@-]{0,127}}. So no spaces, no line breaks, no non-ASCII letters,
   * and no leading {@code @}, {@code -} or {@code .} (which a shell or CLI could read as an
   * argument file, an option or a hidden path). Examples: {@code vm-42},
   * {@code tenant7:vm-0001.eu-west}.
   *
   * @throws InvalidValueException naming the id (control and non-ASCII characters shown as
   *     Java-style unicode escapes, so the message stays on one line) and the characters allowed
   */
  public static String checkOwner(String owner) {
    if (owner == null || !OWNER.matcher(owner).matches()) {
      throw new InvalidValueException("invalid owner id '"
          + io.gpuvirt.core.internal.Printable.shown(owner) + "': use 1 to 128 letters, "
          + "digits and . _ : @ -, starting with a letter or digit (for example vm-42)");
    }
    return owner;
  }

  /** A builder for a request of one GPU of any kind, placed {@link Placement#SAME_NUMA_NODE}. */
  public static Builder builder(String owner) {
    return new Builder(owner);
  }

  /** Builds {@link AllocationRequest} values. */
  public static final class Builder {
    private final String owner;
    private int count = 1;
    private DeviceSelector selector = DeviceSelector.anyGpu();
    private Placement placement = Placement.SAME_NUMA_NODE;
    private final SortedSet<PciAddress> allowedForeign = new TreeSet<>();

    private Builder(String owner) {
      this.owner = owner;
    }

    /** How many devices; default 1. */
    public Builder count(int value) {
      this.count = value;
      return this;
    }

    /** Which devices; default {@link DeviceSelector#anyGpu()}. */
    public Builder selector(DeviceSelector value) {
      this.selector = Objects.requireNonNull(value, "selector");
      return this;
    }

    /** Where; default {@link Placement#SAME_NUMA_NODE}. */
    public Builder placement(Placement value) {
      this.placement = Objects.requireNonNull(value, "placement");
      return this;
    }

    /** Allows one foreign endpoint to come along in a requested device's group. */
    public Builder allowForeign(PciAddress address) {
      this.allowedForeign.add(Objects.requireNonNull(address, "address"));
      return this;
    }

    /** Allows foreign endpoints to come along in requested devices' groups. */
    public Builder allowForeign(Collection<PciAddress> addresses) {
      addresses.forEach(this::allowForeign);
      return this;
    }

    /** Validates and builds. */
    public AllocationRequest build() {
      return new AllocationRequest(owner, count, selector, placement, allowedForeign);
    }
  }
}
