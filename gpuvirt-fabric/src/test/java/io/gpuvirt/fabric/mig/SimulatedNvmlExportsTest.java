package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.NativeLibrary;
import io.gpuvirt.testkit.SimulatedNvml;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The binding and the simulated library agree on the symbols: every function the backend calls
 * is one the simulated library lists and exports, under the name the real libnvidia-ml uses.
 */
final class SimulatedNvmlExportsTest {
  @Test
  void binding_callsExactlyTheFunctionsTheSimulationListsBesidesErrorString() {
    TreeSet<String> bound = new TreeSet<>(Arrays.stream(NvmlMigLibrary.class.getMethods())
        .map(Method::getName).toList());
    TreeSet<String> listed = new TreeSet<>(SimulatedNvml.FUNCTIONS);
    listed.removeAll(List.of("nvmlErrorString", "nvmlDeviceGetGpuInstancePossiblePlacements_v2"));

    assertEquals(listed, bound);
  }

  @Test
  void build_exportsEveryListedFunction() {
    NativeLibrary lib = NativeLibrary.getInstance(NvmlFixture.built().toString());

    for (String f : SimulatedNvml.FUNCTIONS) {
      assertDoesNotThrow(() -> lib.getFunction(f), f);
    }
  }
}
