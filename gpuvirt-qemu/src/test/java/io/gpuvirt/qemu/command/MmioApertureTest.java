package io.gpuvirt.qemu.command;

import static io.gpuvirt.qemu.testing.Hosts.GIB;
import static io.gpuvirt.qemu.testing.Hosts.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.qemu.testing.Hosts;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

final class MmioApertureTest {
  private static final long TIB = 1L << 40;

  private static MmioAperture of(List<PciDevice> devicesOnePerPort, long headroom) {
    MmioAperture.Builder b = MmioAperture.builder().headroomBytes(headroom);
    for (int i = 0; i < devicesOnePerPort.size(); i++) {
      b.port("rp" + i, List.of(devicesOnePerPort.get(i)));
    }
    return b.build();
  }

  @Test
  void eightB200s_requireThreeAndThreeQuarterTiBPlus96MiB() {
    assertEquals(3 * TIB + 768 * GIB + 96 * MIB, of(Hosts.b200s(8), GIB).requiredBytes());
  }

  @Test
  void eightB200s_needA4TiBAperture() {
    assertEquals(4194304, of(Hosts.b200s(8), GIB).sizeMiB());
  }

  @Test
  void eightB200s_windowsStartEvery512GiB() {
    List<Long> offsets = of(Hosts.b200s(8), GIB).windows().stream()
        .map(MmioAperture.PortWindow::offset).toList();
    List<Long> expected = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      expected.add(i * 512 * GIB);
    }
    assertEquals(expected, offsets);
  }

  @Test
  void oneB200_windowIs256GiBPlus96MiB() {
    assertEquals(256 * GIB + 96 * MIB, of(Hosts.b200s(1), GIB).windows().get(0).size());
  }

  @Test
  void oneB200_needs512GiB() {
    assertEquals(512 * GIB, of(Hosts.b200s(1), GIB).sizeBytes());
  }

  @Test
  void eightH100s_need2TiB() {
    List<PciDevice> h100s = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      h100s.add(Hosts.h100(String.format("0000:%02x:00.0", 0x10 + i)));
    }
    assertEquals(2 * TIB, of(h100s, GIB).sizeBytes());
  }

  @Test
  void nonPrefetchableAnd32BitBars_stayOutOfTheAperture() {
    PciDevice d = PciDevice.builder(PciAddress.parse("0000:01:00.0"))
        .addBar(new Bar(0, 0, 16 * MIB, false, false, false))
        .addBar(new Bar(1, 0, 64 * MIB, true, false, false))
        .addBar(new Bar(3, 0, 256 * MIB, false, true, false)).build();
    assertEquals(0, of(List.of(d), 0).requiredBytes());
  }

  @Test
  void reservedPort_takesItsReservationAtItsAlignment() {
    MmioAperture a = MmioAperture.builder().port("rp0", Hosts.b200s(1))
        .reservedPort("hp0", 512 * GIB).headroomBytes(0).build();
    assertEquals(512 * GIB + 256 * GIB + 96 * MIB, a.requiredBytes());
  }

  @Test
  void requiredPhysBits_eightB200sWith2TiBOfRam() {
    assertEquals(43, of(Hosts.b200s(8), GIB).requiredPhysBits(2 * TIB));
  }

  @Test
  void requiredPhysBits_oneB200With256MiBOfRamFitsIn40Bits() {
    assertEquals(40, of(Hosts.b200s(1), GIB).requiredPhysBits(256 * MIB));
  }

  @Test
  void randomBarSets_layoutIsValid() {
    for (long seed = 0; seed < 1000; seed++) {
      Random r = new Random(seed);
      List<List<PciDevice>> ports = randomPorts(r);
      MmioAperture a = build(ports, r.nextInt(3) * GIB);
      String why = "seed " + seed + ": " + a;
      checkLayout(a, ports, why);
    }
  }

  @Test
  void randomBarSets_sizeIsAPowerOfTwoCoveringRequiredAndHeadroom() {
    for (long seed = 0; seed < 1000; seed++) {
      Random r = new Random(seed);
      long headroom = r.nextInt(3) * GIB;
      MmioAperture a = build(randomPorts(r), headroom);
      assertTrue(Long.bitCount(a.sizeBytes()) == 1
          && a.sizeBytes() >= a.requiredBytes() + headroom
          && a.sizeBytes() < 2 * Math.max(a.requiredBytes() + headroom, MIB), "seed " + seed
          + ": " + a);
    }
  }

  @Test
  void randomBarSets_portOrderDoesNotChangeTheSize() {
    for (long seed = 0; seed < 1000; seed++) {
      Random r = new Random(seed);
      List<List<PciDevice>> ports = randomPorts(r);
      List<List<PciDevice>> shuffled = new ArrayList<>(ports);
      Collections.shuffle(shuffled, r);
      assertEquals(build(ports, 0).requiredBytes(), build(shuffled, 0).requiredBytes(),
          "seed " + seed);
    }
  }

  @Test
  void randomBarSets_addingADeviceNeverShrinksTheAperture() {
    for (long seed = 0; seed < 1000; seed++) {
      Random r = new Random(seed);
      List<List<PciDevice>> ports = randomPorts(r);
      List<List<PciDevice>> more = new ArrayList<>(ports);
      more.add(List.of(randomDevice(r, 0x80)));
      assertTrue(build(more, 0).requiredBytes() >= build(ports, 0).requiredBytes(),
          "seed " + seed);
    }
  }

  @Test
  void randomBarSets_requiredCoversEveryBar() {
    for (long seed = 0; seed < 1000; seed++) {
      Random r = new Random(seed);
      List<List<PciDevice>> ports = randomPorts(r);
      long sum = ports.stream().flatMap(List::stream).flatMap(d -> d.bars().stream())
          .filter(b -> b.is64Bit() && b.prefetchable()).mapToLong(Bar::size).sum();
      assertTrue(build(ports, 0).requiredBytes() >= sum, "seed " + seed);
    }
  }

  private static void checkLayout(MmioAperture a, List<List<PciDevice>> ports, String why) {
    long prevEnd = 0;
    List<MmioAperture.PortWindow> ws = new ArrayList<>(a.windows());
    ws.sort((x, y) -> Long.compare(x.offset(), y.offset()));
    int bars = 0;
    for (MmioAperture.PortWindow w : ws) {
      if (w.offset() < prevEnd || w.offset() % w.alignment() != 0 || w.size() % MIB != 0
          || w.end() > a.requiredBytes()) {
        fail(why + ": bad window " + w);
      }
      prevEnd = w.end();
      long barEnd = w.offset();
      for (MmioAperture.PlacedBar b : w.bars()) {
        if (b.offset() < barEnd || b.offset() % b.size() != 0 || b.offset() + b.size() > w.end()
            || Long.bitCount(b.size()) != 1) {
          fail(why + ": bad BAR " + b + " in " + w);
        }
        barEnd = b.offset() + b.size();
        bars++;
      }
    }
    long expectedBars = ports.stream().flatMap(List::stream).flatMap(d -> d.bars().stream())
        .filter(b -> b.is64Bit() && b.prefetchable()).count();
    assertEquals(expectedBars, bars, why);
  }

  private static MmioAperture build(List<List<PciDevice>> ports, long headroom) {
    MmioAperture.Builder b = MmioAperture.builder().headroomBytes(headroom);
    for (int i = 0; i < ports.size(); i++) {
      b.port("rp" + i, ports.get(i));
    }
    return b.build();
  }

  private static List<List<PciDevice>> randomPorts(Random r) {
    List<List<PciDevice>> ports = new ArrayList<>();
    int n = r.nextInt(10);
    for (int i = 0; i < n; i++) {
      List<PciDevice> fns = new ArrayList<>();
      int f = 1 + r.nextInt(3);
      for (int k = 0; k < f; k++) {
        fns.add(randomDevice(r, i * 8 + k));
      }
      ports.add(fns);
    }
    return ports;
  }

  private static PciDevice randomDevice(Random r, int n) {
    PciDevice.Builder d = PciDevice.builder(new PciAddress(0, 1 + n / 8, 0, n % 8));
    for (int i = 0; i < 6; i++) {
      int kind = r.nextInt(4);
      if (kind == 0) {
        continue;
      }
      // sizes from 4 KiB to 512 GiB, mostly powers of two, sometimes not (rounded up)
      long size = 1L << (12 + r.nextInt(28));
      if (r.nextInt(8) == 0) {
        size += 4096;
      }
      d.addBar(new Bar(i, 0, size, kind != 1, kind == 3, false));
    }
    return d.build();
  }
}
