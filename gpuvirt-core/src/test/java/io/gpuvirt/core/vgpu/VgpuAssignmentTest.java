package io.gpuvirt.core.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

final class VgpuAssignmentTest {
  private static final PciAddress PF = PciAddress.parse("0000:3d:00.0");
  private static final PciAddress VF = PciAddress.parse("0000:3d:00.4");
  private static final VgpuType Q1 = VgpuTypeCatalogue.l40s().require("L40S-1Q");

  @Test
  void onVf_isVendorSpecificAndOpensTheVfsSysfsDirectory() {
    VgpuAssignment a = VgpuAssignment.onVf(PF, VF, Q1);
    assertEquals(List.of(VgpuInterface.VENDOR_SPECIFIC, "/sys/bus/pci/devices/0000:3d:00.4"),
        List.of(a.vgpuInterface(), a.sysfsPath()));
  }

  @Test
  void onMdev_isLegacyAndOpensTheMdevDirectory() {
    UUID uuid = UUID.fromString("e4042b96-e63d-56cf-bcc8-4e6eecccc12e");
    VgpuAssignment a = VgpuAssignment.onMdev(PF, uuid, Q1);
    assertEquals(List.of(VgpuInterface.LEGACY_MDEV,
        "/sys/bus/mdev/devices/e4042b96-e63d-56cf-bcc8-4e6eecccc12e"),
        List.of(a.vgpuInterface(), a.sysfsPath()));
  }

  @Test
  void new_bothOrNeitherOfVfAndMdev_isRefused() {
    assertThrows(InvalidValueException.class, () -> new VgpuAssignment(PF, Optional.of(VF),
        Optional.of(UUID.randomUUID()), Q1));
    assertThrows(InvalidValueException.class, () -> new VgpuAssignment(PF, Optional.empty(),
        Optional.empty(), Q1));
  }

  @Test
  void onVf_thePfItself_isRefused() {
    assertThrows(InvalidValueException.class, () -> VgpuAssignment.onVf(PF, PF, Q1));
  }

  @Test
  void capability_moreVfsThanTotal_isRefused() {
    assertThrows(InvalidValueException.class,
        () -> new VgpuCapability(PF, new PciId(0x10de, 0x26b9), 0,
            VgpuInterface.VENDOR_SPECIFIC, 0, List.of(VF)));
  }
}
