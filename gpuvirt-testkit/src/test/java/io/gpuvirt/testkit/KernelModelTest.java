package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.nio.file.FileSystemException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The kernel model reacts to sysfs writes the way Linux does (SYSFS.md §5-6). */
final class KernelModelTest {
  private static final String GPU = "0000:01:00.0";
  private static final String AUDIO = "0000:01:00.1";
  private static final String DEV = "/sys/bus/pci/devices/" + GPU;
  private static final String PROBE = "/sys/bus/pci/drivers_probe";

  private SimulatedHost host;
  private Sysfs sysfs;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.workstation();
    sysfs = host.sysfs();
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private Optional<String> driver(String bdf) {
    return sysfs.readLink("/sys/bus/pci/devices/" + bdf + "/driver")
        .map(ContractReader::basename);
  }

  private boolean listedBy(String driver, String bdf) {
    return sysfs.exists("/sys/bus/pci/drivers/" + driver + "/" + bdf);
  }

  private PciDevice read(String bdf) {
    return ContractReader.device(sysfs, PciAddress.parse(bdf));
  }

  /** The errno text of a failed write, as the exception's cause reports it. */
  private String errno(Runnable write) {
    HostAccessException e = assertThrows(HostAccessException.class, write::run);
    return e.getCause() instanceof FileSystemException
        && ((FileSystemException) e.getCause()).getReason() != null
        ? ((FileSystemException) e.getCause()).getReason() : "other: " + e.getMessage();
  }

  private void toVfio(String bdf) {
    sysfs.write("/sys/bus/pci/devices/" + bdf + "/driver_override", "vfio-pci");
    if (driver(bdf).isPresent()) {
      sysfs.write("/sys/bus/pci/devices/" + bdf + "/driver/unbind", bdf);
    }
    sysfs.write(PROBE, bdf);
  }

  // ---- driver_override ------------------------------------------------------------------------

  @Test
  void driverOverride_write_readsBack() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    assertEquals("vfio-pci\n", sysfs.read(DEV + "/driver_override"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "\n"})
  void driverOverride_emptyOrNewline_clearsToNull(String value) {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    sysfs.write(DEV + "/driver_override", value);
    assertEquals("(null)\n", sysfs.read(DEV + "/driver_override"));
  }

  @Test
  void driverOverride_trailingNewline_isCut() {
    sysfs.write(DEV + "/driver_override", "vfio-pci\n");
    assertEquals(Optional.of("vfio-pci"), read(GPU).driverOverride());
  }

  @Test
  void driverOverride_write_doesNotUnbind() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    assertEquals(Optional.of("nvidia"), driver(GPU));
  }

  @Test
  void driverOverride_pageSizedValue_failsWithEinval() {
    assertEquals("Invalid argument",
        errno(() -> sysfs.write(DEV + "/driver_override", "x".repeat(4096))));
  }

  // ---- unbind -----------------------------------------------------------------------------------

  @Test
  void deviceDriverUnbind_removesBothLinks() {
    sysfs.write(DEV + "/driver/unbind", GPU);
    assertEquals(List.of(Optional.empty(), false), List.of(driver(GPU), listedBy("nvidia", GPU)));
  }

  @Test
  void driverDirUnbind_removesBothLinks() {
    sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", GPU + "\n");
    assertEquals(List.of(Optional.empty(), false), List.of(driver(GPU), listedBy("nvidia", GPU)));
  }

  @Test
  void unbind_fromADriverTheDeviceIsNotOn_failsWithEnodev() {
    assertEquals("No such device",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/unbind", GPU)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"01:00.0", "0000:01:00.7", "garbage", "0000:01:00.0 ", "../x"})
  void unbind_ofNoSuchDevice_failsWithEnodev(String value) {
    assertEquals("No such device",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", value)));
  }

  @Test
  void unbind_failure_changesNothing() {
    errno(() -> sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", "garbage"));
    assertEquals(Optional.of("nvidia"), driver(GPU));
  }

  // ---- drivers_probe ----------------------------------------------------------------------------

  @Test
  void driversProbe_withOverride_bindsTheOverrideDriver() {
    toVfio(GPU);
    assertEquals(List.of(Optional.of("vfio-pci"), true),
        List.of(driver(GPU), listedBy("vfio-pci", GPU)));
  }

  @Test
  void driversProbe_withoutOverride_bindsTheDefaultDriver() {
    toVfio(GPU);
    sysfs.write(DEV + "/driver_override", "\n");
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write(PROBE, GPU);
    assertEquals(Optional.of("nvidia"), driver(GPU));
  }

  @Test
  void driversProbe_overrideNamingAnUnloadedDriver_leavesTheDeviceUnbound() {
    sysfs.write(DEV + "/driver_override", "none");
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write(PROBE, GPU);
    assertEquals(Optional.empty(), driver(GPU));
  }

  @Test
  void driversProbe_overrideThatIsNoDriverName_leavesTheDeviceUnbound() {
    sysfs.write(DEV + "/driver_override", "../../../../etc");
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write(PROBE, GPU);
    assertEquals(Optional.empty(), driver(GPU));
  }

  @Test
  void driversProbe_ofABoundDevice_changesNothing() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    sysfs.write(PROBE, GPU);
    assertEquals(Optional.of("nvidia"), driver(GPU));
  }

  @Test
  void driversProbe_ofNoSuchDevice_failsWithEnodev() {
    assertEquals("No such device", errno(() -> sysfs.write(PROBE, "0000:42:00.0")));
  }

  @Test
  void driversProbe_defaultDriverNotLoaded_leavesTheDeviceUnbound() {
    HostProfile p = HostProfile.workstation().toBuilder().unloadDriver("nvidia").build();
    try (SimulatedHost h = SimulatedHost.create(p)) {
      h.sysfs().write(PROBE, GPU);
      assertEquals(Optional.empty(), h.sysfs().readLink(DEV + "/driver"));
    }
  }

  // ---- bind -------------------------------------------------------------------------------------

  @Test
  void bind_ofAnUnboundDeviceTheDriverMatches_binds() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU);
    assertEquals(Optional.of("vfio-pci"), driver(GPU));
  }

  @Test
  void bind_ofABoundDevice_failsWithEbusy() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    assertEquals("Device or resource busy",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU)));
  }

  @Test
  void bind_withoutOverrideOrId_failsWithEnodev() {
    sysfs.write(DEV + "/driver/unbind", GPU);
    assertEquals("No such device",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU)));
  }

  @Test
  void bind_toADriverThatIsNotLoaded_failsWithNoSuchFile() {
    HostAccessException e = assertThrows(HostAccessException.class,
        () -> sysfs.write("/sys/bus/pci/drivers/nouveau/bind", GPU));
    assertTrue(e.getMessage().contains("no such file or directory"), e.getMessage());
  }

  // ---- new_id / remove_id -----------------------------------------------------------------------

  @Test
  void newId_bindsUnboundDevicesWithThatId() {
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write("/sys/bus/pci/devices/" + AUDIO + "/driver/unbind", AUDIO);
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "10de 27b0");
    assertEquals(List.of(Optional.of("vfio-pci"), Optional.empty()),
        List.of(driver(GPU), driver(AUDIO)));
  }

  @Test
  void newId_leavesBoundDevicesAlone() {
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "10de 27b0");
    assertEquals(Optional.of("nvidia"), driver(GPU));
  }

  @Test
  void newId_letsBindMatchTheDevice() {
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "0x10de 0x27b0");
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU);
    assertEquals(Optional.of("vfio-pci"), driver(GPU));
  }

  @Test
  void newId_twice_failsWithEexist() {
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "10de 27b0");
    assertEquals("File exists",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "10de 27b0")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "10de", "zz 27b0", "10de:27b0"})
  void newId_malformed_failsWithEinval(String value) {
    assertEquals("Invalid argument",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", value)));
  }

  @Test
  void removeId_ofAnIdNeverAdded_failsWithEnodev() {
    assertEquals("No such device",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/remove_id", "10de 27b0")));
  }

  @Test
  void removeId_stopsTheDriverMatching() {
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "10de 27b0");
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/remove_id", "10de 27b0");
    sysfs.write(DEV + "/driver/unbind", GPU);
    assertEquals("No such device",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU)));
  }

  // ---- reset ------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"1", "1\n", "0x1"})
  void reset_one_resetsTheFunction(String value) {
    sysfs.write(DEV + "/reset", value);
    assertEquals(1, host.resetCount(PciAddress.parse(GPU)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "2", "yes", ""})
  void reset_otherValues_failWithEinval(String value) {
    assertEquals("Invalid argument", errno(() -> sysfs.write(DEV + "/reset", value)));
  }

  @Test
  void reset_onADeviceWithoutReset_failsWithNoSuchFile() {
    HostAccessException e = assertThrows(HostAccessException.class,
        () -> sysfs.write("/sys/bus/pci/devices/" + AUDIO + "/reset", "1"));
    assertTrue(e.getMessage().contains("no such file or directory"), e.getMessage());
  }

  @Test
  void reset_read_failsWithEacces() {
    assertEquals("Permission denied", errno(() -> sysfs.read(DEV + "/reset")));
  }

  // ---- read-only files, errors ------------------------------------------------------------------

  @Test
  void readOnlyAttribute_write_failsWithEaccesAndChangesNothing() {
    assertEquals(List.of("Permission denied", "0x10de\n"), List.of(
        errno(() -> sysfs.write(DEV + "/vendor", "0x8086")), sysfs.read(DEV + "/vendor")));
  }

  @Test
  void failure_namesThePathAndTheKernelReason() {
    HostAccessException e = assertThrows(HostAccessException.class,
        () -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/unbind", GPU));
    assertEquals(List.of("/sys/bus/pci/drivers/vfio-pci/unbind", true), List.of(e.path(),
        e.getMessage().contains("writing '" + GPU + "' to /sys/bus/pci/drivers/vfio-pci/unbind "
            + "failed: No such device")));
  }

  @Test
  void writeCount_countsEveryWriteFailedOnesIncluded() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    errno(() -> sysfs.write(DEV + "/reset", "0"));
    sysfs.write(DEV + "/driver/unbind", GPU);
    assertEquals(3, host.writeCount());
  }

  // ---- VFIO group node ----------------------------------------------------------------------------

  @Test
  void bindingToVfio_createsTheGroupNodeAndUnbindingTheLastMemberRemovesIt() {
    int group = read(GPU).iommuGroup().getAsInt();
    toVfio(GPU);
    boolean created = sysfs.exists("/dev/vfio/" + group);
    sysfs.write(DEV + "/driver/unbind", GPU);
    assertEquals(List.of(true, false), List.of(created, sysfs.exists("/dev/vfio/" + group)));
  }

  // ---- remove / rescan --------------------------------------------------------------------------

  @Test
  void remove_takesTheDeviceAndItsLinksAway() {
    int group = read(GPU).iommuGroup().getAsInt();
    sysfs.write(DEV + "/remove", "1");
    assertEquals(List.of(false, false, List.of("0000:00:01.0", AUDIO)), List.of(sysfs.exists(DEV),
        sysfs.exists("/sys/bus/pci/drivers/nvidia/" + GPU),
        sysfs.list("/sys/kernel/iommu_groups/" + group + "/devices")));
  }

  @Test
  void rescan_bringsRemovedDevicesBackBoundAsAtBoot() {
    sysfs.write("/sys/bus/pci/devices/0000:00:01.0/remove", "1");
    sysfs.write("/sys/bus/pci/rescan", "1");
    assertEquals(host.expectedTopology().devices(), ContractReader.scan(sysfs).devices());
  }

  // ---- whole sequences --------------------------------------------------------------------------

  @Test
  void seedPostSequence_movesTheGpuToVfioAndBack() {
    // S001: unbind from nvidia, set the override, probe, clear the override; and back.
    sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", GPU);
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    sysfs.write(PROBE, GPU);
    sysfs.write(DEV + "/driver_override", "\n");
    Optional<String> onVfio = driver(GPU);
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/unbind", GPU);
    sysfs.write(DEV + "/driver_override", "nvidia");
    sysfs.write(PROBE, GPU);
    sysfs.write(DEV + "/driver_override", "\n");
    assertEquals(List.of(Optional.of("vfio-pci"), Optional.of("nvidia"), Optional.empty()),
        List.of(onVfio, driver(GPU), read(GPU).driverOverride()));
  }

  @Test
  void libvirtSequence_releaseRestoresTheDefaultDriver() {
    toVfio(GPU);
    sysfs.write(DEV + "/driver_override", "\n");
    sysfs.write(DEV + "/driver/unbind", GPU);
    sysfs.write(PROBE, GPU);
    assertEquals(host.expectedTopology().devices(), ContractReader.scan(sysfs).devices());
  }
}
