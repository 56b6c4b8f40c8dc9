package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.qemu.testing.Hosts;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class PassthroughDevicesTest {

  @Test
  void clique_outOfRangeIsRefused() {
    assertThrows(InvalidValueException.class, () -> PassthroughDevices.builder()
        .addAll(Hosts.b200Vm(2).units()).gpudirectClique(16).build());
  }

  @Test
  void clique_withoutGpusIsRefused() {
    assertThrows(InvalidValueException.class, () -> PassthroughDevices.builder()
        .add(PassthroughUnit.fabric(Hosts.nvswitch("0000:07:00.0"))).gpudirectClique(0).build());
  }

  @Test
  void build_emptyIsRefused() {
    assertThrows(InvalidValueException.class, () -> PassthroughDevices.builder().build());
  }

  @Test
  void unit_moreThanSevenCompanionsIsRefused() {
    List<PciDevice> companions = new ArrayList<>();
    for (int f = 1; f < 8; f++) {
      companions.add(Hosts.cx7("0000:05:00." + f));
    }
    companions.add(Hosts.cx7("0000:05:01.0"));
    assertThrows(InvalidValueException.class,
        () -> PassthroughUnit.fabric(Hosts.cx7("0000:05:00.0"), companions));
  }

  @Test
  void unit_bridgeIsRefused() {
    PciDevice bridge = PciDevice.builder(PciAddress.parse("0000:04:00.0"))
        .pciClass(new PciClass(0x060400)).busRange(new BusRange(5, 5)).build();
    assertThrows(InvalidValueException.class,
        () -> PassthroughUnit.other(bridge, List.of()));
  }

  @Test
  void gpus_listsOnlyGpuUnits() {
    assertEquals(8, Hosts.b200FullPassthrough().gpus().size());
  }
}
