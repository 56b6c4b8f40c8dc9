package io.gpuvirt.qemu.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.qemu.QemuFirmware;
import io.gpuvirt.qemu.command.ExpanderBus;
import io.gpuvirt.qemu.command.LargeBarPolicy;
import io.gpuvirt.qemu.command.PassthroughDevices;
import io.gpuvirt.qemu.command.PhysBits;
import io.gpuvirt.qemu.command.PlacedDevice;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.command.QemuOption;
import io.gpuvirt.qemu.command.RootPort;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.Libvirt;
import io.gpuvirt.qemu.testing.RecordedQemu;
import io.gpuvirt.qemu.testing.Tools;
import io.gpuvirt.qemu.vgpu.VgpuQemuDevices;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The domain XML of every plan variant, checked by libvirt itself at three levels: its RNG schema
 * ({@code virt-xml-validate}), its generic parser ({@code virsh -c test:///default define}) and its
 * real QEMU driver, in-process ({@code virsh -c qemu:///embed?root=DIR domxml-to-native}). The
 * argv the QEMU driver derives must place every device behind the same root port, at the same
 * function, with the same vfio-pci properties as gpuvirt's own argv.
 */
final class LibvirtAcceptsDomainTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final CommandRunner RUNNER = CommandRunner.system();

  @TempDir static Path dir;
  private static Libvirt libvirt;

  @BeforeAll
  static void embeddedDriver() {
    libvirt = Libvirt.embeddedAt(dir.resolve("embed"));
  }

  static Stream<Arguments> variants() {
    LargeBarPolicy romOff = LargeBarPolicy.defaults().toBuilder().romBarOff(true).build();
    LargeBarPolicy always = LargeBarPolicy.defaults().toBuilder()
        .noMmap(LargeBarPolicy.NoMmapMode.ALWAYS).build();
    LargeBarPolicy never = LargeBarPolicy.defaults().toBuilder()
        .noMmap(LargeBarPolicy.NoMmapMode.NEVER).build();
    Stream<Arguments> everyB200CountAndPolicy = Stream.of(1, 2, 4, 8).flatMap(n -> Stream.of(
        variant(n + " B200, x-no-mmap auto", b -> b.devices(Hosts.b200Vm(n))),
        variant(n + " B200, x-no-mmap always", b -> b.devices(Hosts.b200Vm(n))
            .largeBarPolicy(always)),
        variant(n + " B200, x-no-mmap never", b -> b.devices(Hosts.b200Vm(n))
            .largeBarPolicy(never)),
        variant(n + " B200, rombar=0", b -> b.devices(Hosts.b200Vm(n)).largeBarPolicy(romOff))));
    return Stream.concat(everyB200CountAndPolicy, Stream.of(
        variant("1 B200", b -> b.devices(Hosts.b200Vm(1))),
        variant("2 B200, x-no-mmap never", b -> b.devices(Hosts.b200Vm(2))
            .largeBarPolicy(never)),
        variant("4 B200, clique, rombar=0", b -> b.devices(PassthroughDevices.builder()
            .addAll(Hosts.b200Vm(4).units()).gpudirectClique(2).build()).largeBarPolicy(romOff)),
        variant("8 B200 (x-no-mmap, aperture), own variable store", b -> b
            .devices(Hosts.b200Vm(8)).firmware(QemuFirmware.of(
                "/usr/share/OVMF/OVMF_CODE_4M.fd", "/var/lib/gpuvirt/vm-42_VARS.fd"))),
        variant("B200 full passthrough + hotplug ports", b -> b
            .devices(Hosts.b200FullPassthrough()).hotplugPorts(2)),
        variant("H100 full passthrough, packed ports", b -> b
            .devices(Hosts.h100FullPassthrough())),
        variant("workstation GPU + audio companion, fixed phys-bits, x-no-mmap always", b -> b
            .devices(PassthroughDevices.of(List.of(Hosts.consumerGpuWithAudio())))
            .physBits(PhysBits.fixed(40)).largeBarPolicy(always)),
        variant("2 B200 with a boot disk", b -> b.devices(Hosts.b200Vm(2))
            .disk("/var/lib/gpuvirt/vm-42.qcow2", "qcow2")),
        variant("8 B200, NUMA placement (two nodes)", b -> b.devices(Hosts.b200Vm(8))
            .cpus(8).numaPlacement(true)),
        variant("4 B200 on node 0 + 1 on node 1, NUMA placement, hotplug port", b -> b
            .devices(PassthroughDevices.of(Stream.of("17", "3d", "60", "70", "98")
                .map(bus -> io.gpuvirt.qemu.command.PassthroughUnit.gpu(
                    Hosts.b200("0000:" + bus + ":00.0"))).toList()))
            .cpus(5).numaPlacement(true).hotplugPorts(1)),
        variant("2 B200 on one node, NUMA placement asked (flat)", b -> b
            .devices(Hosts.b200Vm(2)).numaPlacement(true))));
  }

  private static Arguments variant(String name, UnaryOperator<QemuCommandBuilder> v) {
    return Arguments.of(name, v);
  }

  /** A plan with the host's OVMF (its shared variable template) unless the variant sets one. */
  private static QemuArgs plan(UnaryOperator<QemuCommandBuilder> variant) {
    QemuCommandBuilder b = QemuCommandBuilder.forQemu(RecordedQemu.capabilities())
        .memoryMiB(64 * 1024);
    QemuFirmware.find(Sysfs.host(), Tools.QEMU).ifPresent(b::firmware);
    return variant.apply(b).build();
  }

  private static Path write(String name, String xml) {
    try {
      return Files.writeString(dir.resolve(name.replaceAll("[^A-Za-z0-9]+", "-") + ".xml"), xml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static CommandResult run(String... argv) {
    return RUNNER.run(Command.of(List.of(argv)).withTimeout(Duration.ofMinutes(2)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void schema_everyVariant_validates(String name, UnaryOperator<QemuCommandBuilder> variant) {
    String domain = LibvirtDomain.builder(plan(variant)).name("vm-42").build().xml();
    CommandResult r = run(Tools.virtXmlValidate(), write(name, domain).toString(), "domain");
    assertEquals(0, r.exitCode(), name + ": " + r.stdout() + r.stderr() + domain);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void genericParser_everyVariant_defines(String name, UnaryOperator<QemuCommandBuilder> variant) {
    Path xml = write(name, LibvirtDomain.builder(plan(variant)).name("vm-42").build().xml());
    CommandResult r = run(Tools.virsh(), "-c", "test:///default", "define", xml.toString());
    assertTrue(r.exitCode() == 0 && r.stdout().contains("Domain 'vm-42' defined"),
        name + ": " + r.stdout() + r.stderr());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void qemuDriver_everyVariant_derivesTheSameLayout(String name,
      UnaryOperator<QemuCommandBuilder> variant) {
    QemuArgs plan = plan(variant);
    Path xml = write(name, LibvirtDomain.builder(plan).name("vm-42").build().xml());
    List<String> argv = libvirt.argv(xml);
    assertEquals(Layout.ofPlan(plan), Layout.ofLibvirt(argv), name + "\nlibvirt argv: " + argv);
  }

  @Test
  void maxphysaddrLimit_forcedOnLibvirt90_isRejectedByItsSchema() {
    QemuArgs plan = plan(b -> b.devices(Hosts.h100FullPassthrough())
        .physBits(PhysBits.hostLimitedTo(46)));
    String xml = LibvirtDomain.builder(plan).name("vm-42").libvirtVersion(LibvirtVersion.of(9, 2,
        0)).build().xml();
    CommandResult r = run(Tools.virtXmlValidate(), write("limit", xml).toString(), "domain");
    assertTrue(xml.contains("limit=\"46\"") && r.exitCode() != 0, r.stdout() + r.stderr());
  }

  @Test
  void iommufdForcedOnLibvirt90_isRejectedByItsSchema() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)));
    QemuArgs iommufd = new QemuArgs(p.argv(), p.plan(), p.rootPorts(), p.devices().stream()
        .map(d -> new PlacedDevice(d.host(), d.id(), d.rootPort(), d.function(), d.role(),
            d.option().with("iommufd", "iommufd0"))).toList(), p.aperture(),
        p.requiredPhysBits(), p.qemuVersion(), p.machine(), p.expanderBuses());
    String xml = LibvirtDomain.builder(iommufd).name("vm-42").iommufd(true).build().xml();
    CommandResult r = run(Tools.virtXmlValidate(), write("iommufd", xml).toString(), "domain");
    assertTrue(xml.contains("iommufd=\"yes\"") && r.exitCode() != 0, r.stdout() + r.stderr());
  }

  private static final io.gpuvirt.core.vgpu.VgpuType L40S_Q = io.gpuvirt.core.vgpu
      .VgpuTypeCatalogue.l40s().types().get(0);
  private static final io.gpuvirt.core.pci.PciAddress L40S = io.gpuvirt.core.pci.PciAddress
      .parse("0000:3d:00.0");

  @Test
  void vgpuVfs_nextToAWholeGpu_passAllThreeLevelsWithEachVfBehindItsPort() {
    QemuArgs plan = plan(b -> b.devices(Hosts.b200Vm(1)));
    VgpuQemuDevices.Plan vgpus = VgpuQemuDevices.plan(List.of(
        io.gpuvirt.core.vgpu.VgpuAssignment.onVf(L40S, io.gpuvirt.core.pci.PciAddress.parse(
            "0000:3d:00.4"), L40S_Q),
        io.gpuvirt.core.vgpu.VgpuAssignment.onVf(L40S, io.gpuvirt.core.pci.PciAddress.parse(
            "0000:3d:00.5"), L40S_Q)));
    Path xml = write("vgpu-vf", LibvirtDomain.builder(plan).name("vm-42").vgpus(vgpus).build()
        .xml());

    assertEquals(0, run(Tools.virtXmlValidate(), xml.toString(), "domain").exitCode());
    assertEquals(0, run(Tools.virsh(), "-c", "test:///default", "define", xml.toString())
        .exitCode());
    List<String> argv = libvirt.argv(xml);
    String joined = String.join(" ", argv);
    assertTrue(joined.contains("\"host\":\"0000:3d:00.4\",\"id\":\"ua-vgpu0\",\"bus\":\"ua-vgpurp0\"")
        && joined.contains("\"host\":\"0000:3d:00.5\",\"id\":\"ua-vgpu1\",\"bus\":\"ua-vgpurp1\""),
        joined);
  }

  @Test
  void vgpuMdev_passesTheSchemaAndTheGenericParserWithTheMdevsUuid() {
    QemuArgs plan = plan(b -> b.devices(Hosts.b200Vm(1)));
    java.util.UUID uuid = java.util.UUID.fromString("0b1e9d3c-6f4a-4d5e-9a1b-2c3d4e5f6a7b");
    VgpuQemuDevices.Plan vgpus = VgpuQemuDevices.plan(List.of(
        io.gpuvirt.core.vgpu.VgpuAssignment.onMdev(L40S, uuid, L40S_Q)));
    String domain = LibvirtDomain.builder(plan).name("vm-42").vgpus(vgpus).build().xml();
    Path xml = write("vgpu-mdev", domain);

    assertTrue(domain.contains("<uuid>" + uuid + "</uuid>")
        && domain.contains("<address uuid=\"" + uuid + "\"/>"), domain);
    assertEquals(0, run(Tools.virtXmlValidate(), xml.toString(), "domain").exitCode(), domain);
    assertEquals(0, run(Tools.virsh(), "-c", "test:///default", "define", xml.toString())
        .exitCode(), domain);
  }

  /**
   * Where the devices sit, as both argvs say it: each user-aliased root port's pcie.0 slot and
   * function, and each host function's port, guest function and vfio-pci properties.
   */
  record Layout(Map<String, String> ports, Map<String, Map<String, String>> devices) {
    static Layout ofPlan(QemuArgs plan) {
      Map<String, String> ports = new TreeMap<>();
      for (ExpanderBus x : plan.expanderBuses()) {
        ports.put(x.id(), "pxb-pcie " + slotFunction(x.addr()) + " bus_nr " + x.busNr()
            + " numa_node " + x.guestNode());
      }
      for (RootPort p : plan.rootPorts()) {
        ports.put(p.id(), p.bus() + " " + slotFunction(p.addr()) + " chassis " + p.chassis()
            + p.option().get("hotplug").map(h -> " hotplug " + bool(h)).orElse("")
            + p.pref64Reserve().map(s -> " pref64 " + io.gpuvirt.core.pci.PciSizes.bytes(s)).orElse(""));
      }
      Map<String, Map<String, String>> devices = new TreeMap<>();
      for (PlacedDevice d : plan.devices()) {
        devices.put(d.host().toString(), properties(d.option().properties().stream()
            .map(p -> Map.entry(p.key(), p.value())).toList()));
      }
      return new Layout(ports, devices);
    }

    static Layout ofLibvirt(List<String> argv) {
      Map<String, String> ports = new TreeMap<>();
      Map<String, Map<String, String>> devices = new TreeMap<>();
      Iterator<String> words = argv.iterator();
      while (words.hasNext()) {
        if (!words.next().equals("-device") || !words.hasNext()) {
          continue;
        }
        JsonNode d = json(words.next());
        String id = d.path("id").asText();
        if (d.path("driver").asText().equals("pxb-pcie")) {
          ports.put(id.replaceFirst("^ua-", ""), "pxb-pcie " + slotFunction(d.path("addr")
              .asText()) + " bus_nr " + d.path("bus_nr").asInt() + " numa_node "
              + d.path("numa_node").asInt());
        } else if (d.path("driver").asText().equals("pcie-root-port") && id.startsWith("ua-")) {
          ports.put(id.substring(3), d.path("bus").asText().replaceFirst("^ua-", "") + " "
              + slotFunction(d.path("addr").asText()) + " chassis "
              + d.path("chassis").asInt()
              + (d.has("hotplug") ? " hotplug " + d.path("hotplug").asText() : "")
              + (d.has("pref64-reserve") ? " pref64 " + d.path("pref64-reserve").asLong() : ""));
        } else if (d.path("driver").asText().equals("vfio-pci")) {
          List<Map.Entry<String, String>> props = new ArrayList<>();
          d.fields().forEachRemaining(f -> props.add(Map.entry(f.getKey(), f.getValue().asText())));
          devices.put(d.path("host").asText(), properties(props));
        }
      }
      return new Layout(ports, devices);
    }

    /** The properties that place and configure a vfio-pci device, normalised. */
    private static Map<String, String> properties(List<Map.Entry<String, String>> props) {
      Map<String, String> out = new TreeMap<>();
      for (Map.Entry<String, String> p : props) {
        switch (p.getKey()) {
          case "driver", "id", "host" -> { }
          case "bus" -> out.put("bus", p.getValue().replaceFirst("^ua-", ""));
          case "addr" -> out.put("addr", slotFunction(p.getValue()));
          case "multifunction", "x-no-mmap" -> out.put(p.getKey(), bool(p.getValue()));
          default -> out.put(p.getKey(), p.getValue());
        }
      }
      return out;
    }

    private static String bool(String v) {
      return Boolean.toString(v.equals("on") || v.equals("true"));
    }

    /** {@code 0x10}, {@code 0x10.0}, {@code 0x10.0x1} as "slot 16 function 1". */
    private static String slotFunction(String addr) {
      String[] parts = addr.split("\\.");
      int function = parts.length > 1 ? Integer.decode(parts[1]) : 0;
      return "slot " + Integer.decode(parts[0]) + " function " + function;
    }

    private static JsonNode json(String value) {
      try {
        return value.startsWith("{") ? JSON.readTree(value) : JSON.valueToTree(
            QemuOption.parse(value).properties().stream().collect(java.util.stream.Collectors
                .toMap(QemuOption.Property::key, QemuOption.Property::value)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
