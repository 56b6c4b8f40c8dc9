package io.gpuvirt.qemu.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.qemu.command.PassthroughDevices;
import io.gpuvirt.qemu.command.PhysBits;
import io.gpuvirt.qemu.command.PlacedDevice;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** What the rendering writes for a plan, and the plans it refuses before libvirt sees them. */
final class LibvirtDomainTest {
  private static QemuArgs plan(UnaryOperator<QemuCommandBuilder> variant) {
    return variant.apply(QemuCommandBuilder.forQemu(RecordedQemu.capabilities())
        .memoryMiB(64 * 1024)).build();
  }

  private static QemuArgs withDevices(QemuArgs p, List<PlacedDevice> devices) {
    return new QemuArgs(p.argv(), p.plan(), p.rootPorts(), devices, p.aperture(),
        p.requiredPhysBits(), p.qemuVersion(), p.machine(), p.expanderBuses());
  }

  private static String xml(QemuArgs plan) {
    return LibvirtDomain.builder(plan).name("vm-42").build().xml();
  }

  @Test
  void xml_fourB200WithClique_eachGpuAHostdevBehindItsPortWithTheCliqueOverridden() {
    String xml = xml(plan(b -> b.devices(PassthroughDevices.builder()
        .addAll(Hosts.b200Vm(4).units()).gpudirectClique(3).build())));

    assertTrue(xml.split("<hostdev ", -1).length - 1 == 4
        && xml.split("model=\"pcie-root-port\"", -1).length - 1 == 4
        && xml.contains("<qemu:device alias=\"ua-hostdev3\">")
        && xml.contains("name=\"x-nv-gpudirect-clique\" type=\"unsigned\" value=\"3\"")
        && xml.contains("managed=\"no\"") && xml.contains("<driver name=\"vfio\"/>"), xml);
  }

  @Test
  void xml_companionFunction_isFunctionOneOfAMultifunctionGuestDevice() {
    String xml = xml(plan(b -> b.devices(PassthroughDevices.of(List.of(
        Hosts.consumerGpuWithAudio())))));

    assertTrue(xml.contains("<alias name=\"ua-hostdev0-1\"/>")
        && xml.contains("function=\"0x0\" multifunction=\"on\"")
        && xml.contains("bus=\"0x01\" domain=\"0x0000\" function=\"0x1\""), xml);
  }

  @Test
  void xml_aperture_goesOnTheQemuCommandLine() {
    QemuArgs plan = plan(b -> b.devices(Hosts.b200Vm(8)));
    String fwCfg = plan.machine().fwCfg().orElseThrow().render();

    assertTrue(xml(plan).contains("<qemu:arg value=\"" + fwCfg + "\"/>"), xml(plan));
  }

  @Test
  void describe_everyPartOfThePlan_saysHowItWasExpressed() {
    List<String> lines = LibvirtDomain.builder(plan(b -> b.devices(Hosts.b200Vm(8))))
        .name("vm-42").build().describe();

    assertTrue(lines.stream().anyMatch(l -> l.startsWith("8 x <hostdev"))
        && lines.stream().anyMatch(l -> l.contains("pcie-root-port"))
        && lines.stream().anyMatch(l -> l.startsWith("-fw_cfg"))
        && lines.stream().anyMatch(l -> l.contains("maxphysaddr")), String.join("\n", lines));
  }

  @Test
  void build_hostDeviceTwice_isRefusedNamingIt() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(2)));
    List<PlacedDevice> twice = new ArrayList<>(p.devices());
    PlacedDevice first = p.devices().get(0);
    PlacedDevice second = p.devices().get(1);
    twice.set(1, new PlacedDevice(first.host(), second.id(), second.rootPort(),
        second.function(), second.role(), second.option()));

    LibvirtException e = assertThrows(LibvirtException.class, () -> xml(withDevices(p, twice)));
    assertTrue(e.getMessage().contains(first.host() + " through twice"), e.getMessage());
  }

  @Test
  void build_twoDevicesOnOneGuestFunction_isRefused() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(2)));
    PlacedDevice first = p.devices().get(0);
    PlacedDevice second = p.devices().get(1);
    List<PlacedDevice> clash = List.of(first, new PlacedDevice(second.host(), second.id(),
        first.rootPort(), first.function(), second.role(), second.option()));

    LibvirtException e = assertThrows(LibvirtException.class, () -> xml(withDevices(p, clash)));
    assertTrue(e.getMessage().contains("where another device already sits"), e.getMessage());
  }

  @Test
  void build_deviceBehindIntelVmd_isRefusedWithTheReason() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)));
    PlacedDevice d = p.devices().get(0);
    List<PlacedDevice> vmd = List.of(new PlacedDevice(PciAddress.parse("10000:01:00.0"), d.id(),
        d.rootPort(), d.function(), d.role(), d.option()));

    LibvirtException e = assertThrows(LibvirtException.class, () -> xml(withDevices(p, vmd)));
    assertTrue(e.getMessage().contains("16-bit"), e.getMessage());
  }

  @Test
  void build_addressWidthLimitForLibvirt90_isRefusedSayingWhichVersionHasIt() {
    QemuArgs p = plan(b -> b.devices(Hosts.h100FullPassthrough())
        .physBits(PhysBits.hostLimitedTo(46)));

    LibvirtException e = assertThrows(LibvirtException.class, () -> xml(p));
    assertTrue(e.getMessage().contains("9.2.0") && e.getMessage().contains("PhysBits.fixed(46)"),
        e.getMessage());
  }

  @Test
  void name_withASlash_isRefused() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)));
    LibvirtException e = assertThrows(LibvirtException.class,
        () -> LibvirtDomain.builder(p).name("../vm"));
    assertTrue(e.getMessage().contains("'../vm'"), e.getMessage());
  }

  @Test
  void build_withoutAName_isRefused() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)));
    assertThrows(LibvirtException.class, () -> LibvirtDomain.builder(p).build());
  }

  @Test
  void libvirtVersion_parsesWhatVirshPrints() {
    assertEquals(LibvirtVersion.of(9, 0, 0), LibvirtVersion.parse("9.0.0\n"));
    assertThrows(InvalidValueException.class, () -> LibvirtVersion.parse("nine"));
  }

  @Test
  void build_iommufdPlanForALibvirtWithoutIt_isRefused() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)).hostIommufd(
        new io.gpuvirt.qemu.command.HostIommufd(true, true)));
    QemuArgs iommufd = withDevices(p, p.devices().stream().map(d -> new PlacedDevice(d.host(),
        d.id(), d.rootPort(), d.function(), d.role(), d.option().with("iommufd", "iommufd0")))
        .toList());

    LibvirtException e = assertThrows(LibvirtException.class, () -> xml(iommufd));
    assertTrue(e.getMessage().contains("iommufd='yes'"), e.getMessage());
    assertTrue(LibvirtDomain.builder(iommufd).name("vm-42").iommufd(true).build().xml()
        .contains("<driver iommufd=\"yes\" name=\"vfio\"/>"));
  }

  @Test
  void xml_ownVariableStore_isTheNvramAndTheNameKeepsOwnerCharacters() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)).firmware(io.gpuvirt.qemu.QemuFirmware.of(
        "/usr/share/OVMF/OVMF_CODE_4M.fd", "/var/lib/gpuvirt/vm-42_VARS.fd")));
    String xml = LibvirtDomain.builder(p).name("tenant-1:vm-42@eu").build().xml();

    assertTrue(xml.contains("<name>tenant-1:vm-42@eu</name>")
        && xml.contains("<loader readonly=\"yes\" type=\"pflash\">/usr/share/OVMF/OVMF_CODE_4M.fd")
        && xml.contains("<nvram>/var/lib/gpuvirt/vm-42_VARS.fd</nvram>"), xml);
  }

  @Test
  void nvram_relativePath_isRefused() {
    QemuArgs p = plan(b -> b.devices(Hosts.b200Vm(1)));
    assertThrows(LibvirtException.class, () -> LibvirtDomain.builder(p).nvram("vars.fd"));
  }
}
