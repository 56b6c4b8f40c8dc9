package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * mig-parted's apply, assert and export on a simulated HGX B200 through the nvidia-smi backend,
 * with mig-parted's own default config; and a fault at every step of an apply, after which the
 * GPUs are as they were.
 */
final class MigConfiguratorTest {
  private SimulatedHost host;
  private MigBackend backend;
  private MigPartedConfig defaults;

  @BeforeEach
  void b200() throws IOException {
    host = SimulatedHost.hgxB200();
    backend = NvidiaSmiMigBackend.on(GpuHost.environment(host.root()).commands());
    try (var in = getClass().getResourceAsStream("/mig-parted/config-default-excerpt.yaml")) {
      defaults = MigPartedYaml.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8),
          "config-default-excerpt.yaml");
    }
  }

  @AfterEach
  void close() {
    host.close();
  }

  private static MigPartedConfig yaml(String text) {
    return MigPartedYaml.parse(text, "test.yaml");
  }

  /** Each GPU's mode and GPU-instance profile counts: what "as it was" means. */
  private static Map<Integer, String> shape(MigConfigurator mig) {
    Map<Integer, String> out = new TreeMap<>();
    for (MigGpuState s : mig.states()) {
      out.put(s.index(), s.mode() + " " + s.layout().profileCounts());
    }
    return out;
  }

  @Test
  void apply_allBalanced_configuresEveryB200AndAssertMatches() {
    MigConfigurator mig = MigConfigurator.on(backend);

    MigConfigurator.ApplyResult r = mig.apply(defaults, "all-balanced");

    assertEquals(8, r.configured().size(), r.toString());
    assertTrue(mig.check(defaults, "all-balanced").matches(),
        mig.check(defaults, "all-balanced").differences().toString());
    assertEquals(Map.of("1g.23gb", 2, "2g.45gb", 1, "3g.90gb", 1),
        mig.states().get(0).layout().profileCounts());
  }

  @Test
  void apply_again_changesNothing() {
    MigConfigurator mig = MigConfigurator.on(backend);
    mig.apply(defaults, "all-balanced");
    Map<Integer, String> before = shape(mig);

    MigConfigurator.ApplyResult again = mig.apply(defaults, "all-balanced");

    assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), again.unchanged());
    assertEquals(before, shape(mig));
  }

  @Test
  void apply_allDisabledAfterBalanced_destroysEverythingAndTurnsMigOff() {
    MigConfigurator mig = MigConfigurator.on(backend);
    mig.apply(defaults, "all-balanced");

    mig.apply(defaults, "all-disabled");

    assertTrue(mig.states().stream().allMatch(s -> s.mode().equals(MigMode.DISABLED)));
    assertTrue(mig.check(defaults, "all-disabled").matches());
  }

  @Test
  void apply_skipReset_leavesTheModePendingAndCreatesNothing() {
    MigConfigurator mig = MigConfigurator.on(backend).skipReset(true);

    MigConfigurator.ApplyResult r = mig.apply(defaults, "all-balanced");

    assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), r.resetRequired());
    assertTrue(backend.gpus().stream().allMatch(g -> g.mode().changePending()));
    MigConfigurator.Assertion check = mig.check(defaults, "all-balanced");
    assertFalse(check.matches());
    assertTrue(check.differences().stream().anyMatch(d -> d.contains("is pending; reset")),
        check.differences().toString());
  }

  @Test
  void apply_orderTheDriverRefuses_stillFitsByPlanning() {
    // created in file order (1g first), the 3g.90gb would find no placement on a B200
    MigPartedConfig c = yaml("version: v1\nmig-configs:\n  mixed:\n    - devices: [0]\n"
        + "      mig-enabled: true\n      mig-devices:\n        \"1g.23gb\": 2\n"
        + "        \"2g.45gb\": 1\n        \"3g.90gb\": 1\n    - devices: all\n"
        + "      mig-enabled: false\n");
    MigConfigurator mig = MigConfigurator.on(backend);

    mig.apply(c, "mixed");

    assertTrue(mig.check(c, "mixed").matches(), mig.check(c, "mixed").differences().toString());
  }

  @Test
  void apply_configThatDoesNotFit_changesNothing() {
    MigPartedConfig tooMuch = yaml("version: v1\nmig-configs:\n  big:\n    - devices: all\n"
        + "      mig-enabled: true\n      mig-devices:\n        \"7g.180gb\": 2\n");
    MigConfigurator mig = MigConfigurator.on(backend);
    Map<Integer, String> before = shape(mig);

    assertThrows(io.gpuvirt.core.mig.MigPlanException.class, () -> mig.apply(tooMuch, "big"));
    assertThrows(InvalidValueException.class, () -> mig.apply(defaults, "no-such-config"));
    assertEquals(before, shape(mig));
  }

  @Test
  void export_afterApply_assertsAgainstTheSameGpusAndRoundTripsThroughYaml() {
    MigConfigurator mig = MigConfigurator.on(backend);
    mig.apply(defaults, "all-balanced");

    MigPartedConfig exported = MigPartedYaml.parse(MigPartedYaml.write(mig.export("current")),
        "exported.yaml");

    assertTrue(mig.check(exported, "current").matches());
  }

  // ---- a fault at every step --------------------------------------------------------------

  /** Fails the n-th mutating call (and, with {@code times} > 1, the ones after it). */
  private static final class Failing extends SteppingMigBackend {
    private final int failAt;
    private final int times;
    private int calls;

    Failing(MigBackend real, int failAt, int times) {
      super(real);
      this.failAt = failAt;
      this.times = times;
    }

    @Override
    void before(String what) {
      calls++;
      if (calls >= failAt && calls < failAt + times) {
        throw new MigBackendException("injected failure at call " + calls + " (" + what + ")");
      }
    }
  }

  /** Two GPUs, from balanced to another layout: every kind of step happens. */
  private static final String TWO_GPUS = "version: v1\nmig-configs:\n  start:\n"
      + "    - devices: [0, 1]\n      mig-enabled: true\n      mig-devices:\n"
      + "        \"3g.90gb\": 2\n    - devices: all\n      mig-enabled: false\n"
      + "  next:\n    - devices: [0]\n      mig-enabled: true\n      mig-devices:\n"
      + "        \"1g.23gb\": 2\n        \"2g.45gb\": 1\n        \"3g.90gb\": 1\n"
      + "    - devices: [1]\n      mig-enabled: false\n"
      + "    - devices: [2]\n      mig-enabled: true\n      mig-devices:\n"
      + "        \"4g.90gb\": 1\n    - devices: all\n      mig-enabled: false\n";

  @Test
  void apply_faultAtEveryStep_putsEveryGpuBackAsItWas() {
    MigPartedConfig c = yaml(TWO_GPUS);
    MigConfigurator.on(backend).apply(c, "start");
    Map<Integer, String> before = shape(MigConfigurator.on(backend));
    Failing counter = new Failing(backend, Integer.MAX_VALUE, 0);
    MigConfigurator.on(counter).apply(c, "next");
    int steps = counter.calls;
    MigConfigurator.on(backend).apply(c, "start");
    assertEquals(before, shape(MigConfigurator.on(backend)));
    assertTrue(steps > 10, steps + " steps");

    List<String> failures = new ArrayList<>();
    for (int k = 1; k <= steps; k++) {
      MigConfigurator mig = MigConfigurator.on(new Failing(backend, k, 1));
      try {
        mig.apply(c, "next");
        failures.add("step " + k + ": no failure");
      } catch (MigApplyException e) {
        if (!e.getMessage().contains("was put back as it was")) {
          failures.add("step " + k + ": " + e.getMessage());
        }
      }
      Map<Integer, String> after = shape(MigConfigurator.on(backend));
      if (!after.equals(before)) {
        failures.add("step " + k + ": left " + after + ", was " + before);
        MigConfigurator.on(backend).apply(c, "start");
      }
    }
    assertEquals(List.of(), failures);
  }

  @Test
  void apply_faultAndFailedRestore_namesWhatIsLeft() {
    MigPartedConfig c = yaml(TWO_GPUS);
    MigConfigurator.on(backend).apply(c, "start");

    MigApplyException e = assertThrows(MigApplyException.class,
        () -> MigConfigurator.on(new Failing(backend, 3, 1000)).apply(c, "next"));

    assertTrue(e.getMessage().contains("Putting the GPUs back failed too"), e.getMessage());
    assertTrue(e.getMessage().contains("GPU 1 was MIG ENABLED with {3g.90gb=2}, could not be put"
        + " back"), e.getMessage());
  }

  @Test
  void apply_gpuHeldByALease_isRefusedNamingTheOwnerAndChangesNothing() {
    io.gpuvirt.core.ledger.LeaseLedger ledger = io.gpuvirt.core.ledger.LeaseLedger.open(
        host.root().resolve("var/lib/gpuvirt"));
    ledger.allocate(io.gpuvirt.core.alloc.AllocationRequest.builder("vm-1").count(1)
        .selector(io.gpuvirt.core.alloc.DeviceSelector.parse("0000:3d:00.0")).build(),
        io.gpuvirt.core.pci.TopologyScanner.scan(host.sysfs()));
    MigConfigurator mig = MigConfigurator.on(backend).protecting(ledger);
    Map<Integer, String> before = shape(mig);

    MigApplyException e = assertThrows(MigApplyException.class,
        () -> mig.apply(defaults, "all-balanced"));

    assertTrue(e.getMessage().contains("GPU 1 (0000:3d:00.0, NVIDIA B200) is leased to vm-1"),
        e.getMessage());
    assertEquals(before, shape(mig));
  }
}
