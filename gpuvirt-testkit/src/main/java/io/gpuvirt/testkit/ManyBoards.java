package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A large host for scaling measurements ({@link HostProfile#manyB200Boards(int)}, used by the
 * {@code gpuvirt-benchmarks} module): {@code boards} copies of the {@link HostProfile#hgxB200()}
 * baseboard (8 GPUs with their switches and NICs, the 4 NVLink-management ConnectX-7 PFs, 2 NVMe
 * drives: 58 functions), board {@code k} in PCI domain {@code k}. Not a preset: no real host looks
 * like this, but its tree has the shape and depth of a real one at {@code 58 * boards} functions.
 *
 * <p>What is changed from the preset so that {@link HostProfile.Builder#build()} accepts it: the
 * BMC's display (the ASPEED VGA, its AST1150 bridge and their root port) is left out (a host has one
 * BMC, and 71 copies of its 64M of 32-bit memory would not fit below 4G); board {@code k}'s BARs
 * (and VF BARs) above 4G are shifted by {@code k * 2^46}, those below 4G by {@code k * 2M}, so no
 * two regions overlap across domains; IOMMU group numbers are shifted past the previous board's;
 * only board 0 keeps the GPU module ids, which must be unique on a host.
 */
final class ManyBoards {
  /** The functions of one board. */
  static final int FUNCTIONS_PER_BOARD = 58;
  /** The most boards: 71 boards are about 4,100 functions. */
  static final int MAX_BOARDS = 512;

  private static final long HIGH_STRIDE = 1L << 46;
  private static final long LOW_STRIDE = 2L << 20;
  private static final long FOUR_G = 1L << 32;

  private ManyBoards() {}

  /**
   * The profile of {@code boards} B200 baseboards, one PCI domain each.
   *
   * @throws InvalidValueException for fewer than 1 or more than {@value #MAX_BOARDS} boards
   */
  static HostProfile profile(int boards) {
    if (boards < 1 || boards > MAX_BOARDS) {
      throw new InvalidValueException("a many-boards host needs 1 to " + MAX_BOARDS
          + " boards, was " + boards);
    }
    HostProfile b200 = HostProfile.hgxB200();
    List<DeviceSpec> board = withoutBmc(b200.devices());
    int groups = 1 + board.stream().mapToInt(d -> d.iommuGroup().orElse(0)).max().orElse(0);
    HostProfile.Builder out = b200.toBuilder().name("hgx-b200-x" + boards);
    b200.devices().forEach(d -> out.removeDevice(d.address()));
    for (int k = 0; k < boards; k++) {
      for (DeviceSpec d : board) {
        out.device(onBoard(d, k, k * groups));
      }
    }
    return out.build();
  }

  /** The preset's devices without the BMC's display and the bridges that only lead to it. */
  private static List<DeviceSpec> withoutBmc(List<DeviceSpec> devices) {
    Set<PciAddress> dropped = new HashSet<>();
    devices.stream().filter(d -> PciId.isBmcDisplayVendor(d.id().vendor()))
        .forEach(d -> dropped.add(d.address()));
    boolean changed = true;
    while (changed) {
      changed = false;
      for (DeviceSpec d : devices) {
        boolean hasChildren = devices.stream().anyMatch(c -> c.parent().equals(
            Optional.of(d.address())));
        boolean allDropped = devices.stream().filter(c -> c.parent().equals(
            Optional.of(d.address()))).allMatch(c -> dropped.contains(c.address()));
        if (d.isBridge() && hasChildren && allDropped && dropped.add(d.address())) {
          changed = true;
        }
      }
    }
    return devices.stream().filter(d -> !dropped.contains(d.address())).toList();
  }

  private static DeviceSpec onBoard(DeviceSpec d, int k, int groupOffset) {
    OptionalInt group = d.iommuGroup().isPresent()
        ? OptionalInt.of(d.iommuGroup().getAsInt() + groupOffset) : OptionalInt.empty();
    return new DeviceSpec(inDomain(d.address(), k), d.parent().map(p -> inDomain(p, k)), d.id(),
        d.subsystem(), d.pciClass(), d.revision(), d.busRange(), d.portType(),
        d.bars().stream().map(b -> shifted(b, k)).toList(), d.numaNode(), group, d.driver(),
        k == 0 ? d.moduleId() : OptionalInt.empty(), d.resettable(), d.label(), d.acs(),
        d.sriov().map(s -> new DeviceSpec.SriovSpec(s.totalVfs(), s.vfDeviceId(),
            s.firstVfOffset(), s.vfStride(), shifted(s.vfBar(), k), s.enabledVfs(), s.vfDriver())),
        d.mounts());
  }

  private static PciAddress inDomain(PciAddress a, int domain) {
    return new PciAddress(domain, a.bus(), a.device(), a.function());
  }

  private static Bar shifted(Bar b, int k) {
    long shift = b.start() >= FOUR_G ? k * HIGH_STRIDE : k * LOW_STRIDE;
    return new Bar(b.index(), b.start() + shift, b.size(), b.is64Bit(), b.prefetchable(), b.io());
  }
}
