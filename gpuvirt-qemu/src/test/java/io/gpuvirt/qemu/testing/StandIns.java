package io.gpuvirt.qemu.testing;

import io.gpuvirt.qemu.command.PlacedDevice;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Replaces the {@code vfio-pci} devices of a generated argv with emulated PCIe endpoints at the
 * same place (same id, bus, addr, multifunction), so the machine and root-port layout boots
 * without the host devices.
 */
public final class StandIns {
  /** The stand-in: an NVMe controller, a PCI Express endpoint with a 64-bit BAR. */
  public static final String DRIVER = "nvme";

  private StandIns() {}

  /** The argv with every passed-through device replaced by a stand-in. */
  public static List<String> argv(QemuArgs args) {
    Map<String, PlacedDevice> byOption = args.devices().stream()
        .collect(Collectors.toMap(d -> d.option().render(), Function.identity()));
    List<String> out = new ArrayList<>();
    for (String a : args.argv()) {
      PlacedDevice d = byOption.get(a);
      out.add(d == null ? a : standIn(d).render());
    }
    return out;
  }

  /** The stand-in option for one placed device. */
  public static QemuOption standIn(PlacedDevice d) {
    QemuOption o = QemuOption.of(DRIVER).with("serial", d.id()).with("id", d.id())
        .with("bus", d.rootPort()).with("addr", d.option().get("addr").orElseThrow());
    if (d.option().get("multifunction").isPresent()) {
      o = o.with("multifunction", d.option().get("multifunction").get());
    }
    return o;
  }
}
