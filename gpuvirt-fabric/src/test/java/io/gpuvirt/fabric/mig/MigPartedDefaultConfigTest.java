package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigPlan;
import io.gpuvirt.core.mig.MigPlanException;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.mig.PlannedInstance;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * NVIDIA's own default mig-parted config (an excerpt, see the resource's .source): it parses, every
 * entry for a model gpuvirt has a table for plans on that model, the plan created in its order by
 * the driver's rule asserts as matching, and export round-trips.
 */
final class MigPartedDefaultConfigTest {
  static final String FILE = "config-default-excerpt.yaml";

  static String text() {
    try (InputStream in = MigPartedDefaultConfigTest.class.getResourceAsStream(
        "/mig-parted/" + FILE)) {
      if (in == null) {
        throw new IllegalStateException("test resource /mig-parted/" + FILE + " is missing");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The GPU models each no-filter config is meant for, from the file's comments. */
  private static final Map<String, List<MigProfileTable>> FOR = Map.ofEntries(
      Map.entry("all-1g.10gb.me", List.of(MigProfileTable.h100Sxm80Gb())),
      Map.entry("all-1g.20gb", List.of(MigProfileTable.h100Sxm80Gb())),
      Map.entry("all-1g.12gb", List.of(MigProfileTable.h100Nvl94Gb())),
      Map.entry("all-1g.12gb.me", List.of(MigProfileTable.h100Nvl94Gb())),
      Map.entry("all-1g.18gb", List.of(MigProfileTable.h200())),
      Map.entry("all-1g.18gb.me", List.of(MigProfileTable.h200())),
      Map.entry("all-1g.23gb", List.of(MigProfileTable.b200())),
      Map.entry("all-1g.23gb.me", List.of(MigProfileTable.b200())),
      Map.entry("all-1g.35gb", List.of(MigProfileTable.h200())),
      Map.entry("all-1g.45gb", List.of(MigProfileTable.b200())),
      Map.entry("all-1g.47gb", List.of(MigProfileTable.gb200())),
      Map.entry("all-disabled", MigProfileTable.builtIn()),
      Map.entry("all-enabled", MigProfileTable.builtIn()));

  private static MigGpuState gpu(MigProfileTable table, MigMode mode, MigLayout layout) {
    return new MigGpuState(0, table.pciDeviceIds().get(0), mode, layout);
  }

  /** Creates the plan in its order the way the driver places instances without placements. */
  private static MigLayout applyByDriverOrder(MigPlan plan) {
    MigLayout layout = plan.existing();
    int id = 1;
    for (PlannedInstance p : plan.creations()) {
      MigPlacement at = layout.driverPlacement(p.profile()).orElseThrow();
      assertEquals(p.placement(), at, "driver placement of " + p);
      layout = layout.with(new GpuInstance(id++, p.profile(), at));
    }
    return layout;
  }

  @Test
  void defaultConfig_everyEntryForAKnownModel_plansAppliesAndAsserts() {
    MigPartedConfig config = MigPartedYaml.parse(text(), FILE);
    assertEquals(16, config.configs().size());
    int checked = 0;
    for (Map.Entry<String, List<MigConfigEntry>> c : config.configs().entrySet()) {
      for (MigConfigEntry entry : c.getValue()) {
        List<MigProfileTable> tables = entry.deviceFilter().isEmpty()
            ? FOR.get(c.getKey())
            : entry.deviceFilter().stream()
                .flatMap(f -> MigProfileTable.builtInFor(f.device()).stream()).toList();
        assertTrue(tables != null, "no model listed for " + c.getKey());
        for (MigProfileTable table : tables) {
          String where = c.getKey() + " on " + table.model();
          MigGpuState before = gpu(table, MigMode.DISABLED, MigLayout.empty(table));
          MigTarget target = MigParted.plan(config, c.getKey(), before);
          assertEquals(entry, target.entry(), where);
          MigLayout after = target.plan().map(MigPartedDefaultConfigTest::applyByDriverOrder)
              .orElse(MigLayout.empty(table));
          MigMode mode = entry.migEnabled() ? MigMode.ENABLED : MigMode.DISABLED;
          MigGpuState applied = gpu(table, mode, after);
          MigCheck check = MigParted.check(config, c.getKey(), applied);
          assertTrue(check.matches(), where + ": " + check.differences());
          // a GPU with MIG off matches exactly the entries that want MIG off
          assertEquals(!entry.migEnabled(), MigParted.check(config, c.getKey(), before).matches(),
              where);

          MigPartedConfig exported = MigParted.export("exported", List.of(applied));
          String yaml = MigPartedYaml.write(exported);
          assertEquals(exported, MigPartedYaml.parse(yaml, "export"), where + ":\n" + yaml);
          assertTrue(MigParted.check(exported, "exported", applied).matches(), where);
          checked++;
        }
      }
    }
    assertTrue(checked >= 30, "checked " + checked);
  }

  @Test
  void allBalanced_onB200_isTheExpectedLayout() {
    MigPartedConfig config = MigPartedYaml.parse(text(), FILE);
    MigProfileTable b200 = MigProfileTable.b200();
    MigTarget target = MigParted.plan(config, "all-balanced",
        new MigGpuState(3, 0x2901, MigMode.ENABLED, MigLayout.empty(b200)));
    MigPlan plan = target.plan().orElseThrow();
    assertEquals("9,14,19,19", plan.profileIdList());
    assertEquals(List.of("3g.90gb@4:4", "2g.45gb@2:2", "1g.23gb@1:1", "1g.23gb@0:1"),
        plan.creations().stream().map(Object::toString).toList());
  }

  @Test
  void allBalanced_onAGpuWithoutAnEntry_namesTheFilterToAdd() {
    MigPartedConfig config = MigPartedYaml.parse(text(), FILE);
    // An H100 80 GB table under a device id the config does not list (made-up 0x23ff).
    MigProfileTable table = MigProfileTable.h100Sxm80Gb();
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> MigParted.plan(config, "all-balanced",
            new MigGpuState(1, 0x23ff, MigMode.ENABLED, MigLayout.empty(table))));
    assertTrue(e.getMessage().startsWith(
        "mig-config 'all-balanced' has no entry for GPU 1 (H100 80GB, 10de:23ff)"), e.getMessage());
    assertTrue(e.getMessage().endsWith(
        "add an entry with device-filter 0x23FF10DE or choose another config"), e.getMessage());
  }

  @Test
  void entryWithAProfileTheModelLacks_isAnInvalidValueNamingConfigAndGpu() {
    MigPartedConfig config = MigPartedYaml.parse(text(), FILE);
    MigProfileTable b200 = MigProfileTable.b200();
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> MigParted.plan(config, "all-1g.20gb",
            new MigGpuState(0, 0x2901, MigMode.ENABLED, MigLayout.empty(b200))));
    assertTrue(e.getMessage().startsWith("mig-config 'all-1g.20gb' on GPU 0 (B200, 10de:2901): "
        + "mig-configs.all-1g.20gb[0].mig-devices: MIG profile '1g.20gb' does not exist on B200"),
        e.getMessage());
  }

  @Test
  void entryThatDoesNotFitTheGpu_isAPlanErrorNamingTheEntry() {
    MigPartedConfig config = MigPartedYaml.parse("""
        version: v1
        mig-configs:
          too-much:
            - device-filter: "0x233010DE"
              devices: all
              mig-enabled: false
            - device-filter: "0x290110DE"
              devices: all
              mig-enabled: true
              mig-devices: {"4g.90gb": 1, "3g.90gb": 1, "1g.23gb": 1}
        """, "t.yaml");
    MigProfileTable b200 = MigProfileTable.b200();
    MigPlanException e = assertThrows(MigPlanException.class,
        () -> MigParted.plan(config, "too-much",
            new MigGpuState(0, 0x2901, MigMode.ENABLED, MigLayout.empty(b200))));
    assertTrue(e.getMessage().startsWith("mig-config 'too-much' on GPU 0 (B200, 10de:2901): "
        + "mig-configs.too-much[1].mig-devices: cannot place"), e.getMessage());
  }

  @Test
  void check_pendingModeOrOtherInstances_listsEachDifference() {
    MigPartedConfig config = MigPartedYaml.parse(text(), FILE);
    MigProfileTable b200 = MigProfileTable.b200();
    MigGpuState pending = new MigGpuState(0, 0x2901,
        new MigMode(MigMode.State.DISABLED, MigMode.State.ENABLED), MigLayout.empty(b200));
    MigCheck check = MigParted.check(config, "all-1g.23gb", pending);
    assertFalse(check.matches());
    assertEquals(List.of(
        "GPU 0 (B200, 10de:2901): MIG mode is DISABLED, the config wants ENABLED",
        "GPU 0 (B200, 10de:2901): MIG mode change to ENABLED is pending; reset the GPU"),
        check.differences());

    MigLayout one = MigLayout.empty(b200)
        .with(new GpuInstance(13, b200.profile("1g.23gb"), new MigPlacement(6, 1)));
    check = MigParted.check(config, "all-1g.23gb", new MigGpuState(0, 0x2901, MigMode.ENABLED, one));
    assertEquals(List.of("GPU 0 (B200, 10de:2901): GPU instances are {1g.23gb=1}, the config "
        + "wants {1g.23gb=7}"), check.differences());
  }

  @Test
  void unknownConfigName_namesTheConfigsThereAre() {
    MigPartedConfig config = MigPartedYaml.parse(text(), FILE);
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> config.entries("all-balancd"));
    assertTrue(e.getMessage().startsWith("mig-config 'all-balancd' is not in the file; it has "
        + "all-disabled, all-enabled, all-1g.10gb"), e.getMessage());
  }
}
