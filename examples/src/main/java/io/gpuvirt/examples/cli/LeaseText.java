package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.ITypeConverter;

/** Text and JSON renderings of leases shared by the lease commands. */
final class LeaseText {
  /** The {@code --state} default, shown in help. */
  static final String DEFAULT_STATE = LeaseLedger.DEFAULT_STATE_DIRECTORY_NAME;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private LeaseText() {}

  /** A lease: a headline, one line per device with its name from {@code names}, then the reasons. */
  static String describe(Lease lease, PciNames names) {
    StringBuilder s = new StringBuilder();
    s.append(lease.owner()).append(": ").append(lease.request().count()).append(" x ")
        .append(lease.request().selector()).append(", IOMMU groups ")
        .append(lease.groups().isEmpty() ? "none" : join(lease.groupNumbers()));
    if (!lease.numaNodes().isEmpty()) {
      s.append(", NUMA ").append(join(List.copyOf(lease.numaNodes())));
    }
    lease.partitionId().ifPresent(p -> s.append(", partition ").append(p));
    s.append(" (").append(lease.origin() == io.gpuvirt.core.alloc.LeaseOrigin.BIND
        ? "manual binding, " : "").append(lease.state()).append(", ").append(lease.createdAt())
        .append(lease.expiresAt().map(t -> ", reserved until " + t).orElse("")).append(")\n");
    for (LeasedDevice d : lease.devices()) {
      s.append(String.format("  %s  %s [%04x] %-15s group %-4d NUMA %-3d driver %-14s BARs %s%s"
          + "  (%s)%n",
          d.address(), d.id(), d.pciClass().baseAndSub(), d.role().name().toLowerCase(Locale.ROOT),
          groupOf(lease, d), d.numaNode(), d.originalDriver().orElse("none"),
          d.bars().isEmpty() ? "none"
              : d.bars().stream().map(Bar::humanSize).collect(Collectors.joining(" ")),
          (d.originalOverride().map(o -> "  driver_override " + o).orElse("")
              + d.vfioDriver().map(v -> "  on " + v).orElse("")
              + d.reset().map(r -> "  reset: " + r).orElse("")), names.describe(d.id())));
    }
    for (VgpuAssignment v : lease.vgpus()) {
      s.append("  vGPU ").append(v.type().id()).append(" (").append(v.type().name())
          .append(") on ").append(v.vf().map(vf -> "VF " + vf).orElseGet(() -> "mdev "
              + v.mdev().orElseThrow())).append(" of ").append(v.pf()).append('\n');
    }
    lease.migs().forEach(m -> s.append("  MIG ").append(m).append('\n'));
    lease.reasons().forEach(r -> s.append("  why: ").append(r).append('\n'));
    return s.toString();
  }

  /** One table row per lease, its requested devices named from {@code names}. */
  static String table(List<Lease> leases, PciNames names) {
    String format = "%-20s %-9s %-10s %-8s %-20s %-6s %-10s %s  %s%n";
    StringBuilder s = new StringBuilder(String.format(format, "OWNER", "ORIGIN", "STATE",
        "DEVICES", "IOMMU GROUPS", "NUMA", "PARTITION", "CREATED", "NAMES"));
    for (Lease l : leases) {
      s.append(String.format(format, l.owner(), l.origin().name().toLowerCase(Locale.ROOT),
          l.state(), l.requestedDevices().size(),
          join(l.groupNumbers()), join(List.copyOf(l.numaNodes())),
          l.partitionId().isPresent() ? String.valueOf(l.partitionId().getAsInt()) : "-",
          l.createdAt() + l.expiresAt().map(t -> " (reserved until " + t + ")").orElse(""),
          Stream.of(l.requestedDevices().stream().map(d -> names.describe(d.id())),
              l.vgpus().stream().map(v -> "vGPU " + v.type().name() + " on "
                  + v.vf().map(Object::toString).orElseGet(() -> v.mdev().orElseThrow()
                      .toString())), l.migs().stream().map(m -> "MIG " + m))
              .flatMap(x -> x).distinct().collect(Collectors.joining(", "))));
    }
    return s.toString();
  }

  /** Pretty-prints a JSON document. */
  static String pretty(String json) {
    try {
      return JSON.writeValueAsString(JSON.readTree(json)) + "\n";
    } catch (JsonProcessingException e) {
      throw new GpuvirtException("cannot render JSON output: " + e.getOriginalMessage(), e);
    }
  }

  private static int groupOf(Lease lease, LeasedDevice d) {
    return lease.groups().stream().filter(g -> g.devices().contains(d)).findFirst().orElseThrow()
        .number();
  }

  private static String join(List<Integer> numbers) {
    return numbers.stream().map(String::valueOf).collect(Collectors.joining(","));
  }

  /** Reads {@code same-numa-node}, {@code SAME_NUMA_NODE}, {@code spread}, ... */
  static final class PlacementConverter implements ITypeConverter<Placement> {
    @Override
    public Placement convert(String value) {
      try {
        return Placement.valueOf(value.toUpperCase(Locale.ROOT).replace('-', '_'));
      } catch (IllegalArgumentException | InvalidValueException e) {
        throw new picocli.CommandLine.TypeConversionException("'" + value
            + "' is not a placement: use same-numa-node, same-pcie-switch or spread");
      }
    }
  }
}
