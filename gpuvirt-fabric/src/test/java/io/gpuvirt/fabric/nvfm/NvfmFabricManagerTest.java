package io.gpuvirt.fabric.nvfm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.jna.Library;
import com.sun.jna.Native;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.fabric.ExternalTools;
import io.gpuvirt.fabric.FmAddress;
import io.gpuvirt.testkit.fabric.ConnectAttempt;
import io.gpuvirt.testkit.fabric.FmGeneration;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import io.gpuvirt.testkit.fabric.SimulatedNvfmLibrary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What only the libnvfm client does: connect parameters, library life cycle, threads. */
final class NvfmFabricManagerTest {
  private static Path library;
  @TempDir Path dir;
  private SimulatedFabric fabric;

  /** libc's setenv, so the simulated library finds the state for TCP connections. */
  interface LibC extends Library {
    int setenv(String name, String value, int overwrite);
  }

  @BeforeAll
  static void buildLibrary() {
    library = ExternalTools.simulatedNvfm();
  }

  @BeforeEach
  void createFabric() {
    fabric = SimulatedFabric.hgxB200(dir.resolve("fabricmanager.json"));
  }

  private NvfmOptions overSocket() {
    return NvfmOptions.defaults().withLibrary(library.toString())
        .withAddress(FmAddress.unixSocket(fabric.stateFile().toString()));
  }

  private ConnectAttempt lastAttempt() {
    List<ConnectAttempt> all = fabric.connectAttempts();
    return all.get(all.size() - 1);
  }

  @Test
  void connect_610Library_sendsV2ParametersWithUnixType() {
    NvfmFabricManager.connect(overSocket()).close();
    assertEquals(new ConnectAttempt(0x02000110L, fabric.stateFile().toString(), 1000, 1, 2, 0),
        lastAttempt());
  }

  @Test
  void connect_535FabricManager_fallsBackToV1() {
    fabric.setGeneration(FmGeneration.R535);
    NvfmFabricManager.connect(overSocket()).close();
    assertEquals(List.of(0x02000110L, 0x0100010CL), fabric.connectAttempts().stream()
        .map(ConnectAttempt::version).toList());
  }

  @Test
  void connect_535FabricManager_reportsV1InUse() {
    fabric.setGeneration(FmGeneration.R535);
    try (NvfmFabricManager fm = NvfmFabricManager.connect(overSocket())) {
      assertEquals(NvfmStructs.CONNECT_PARAMS_V1_VERSION, fm.connectParamsVersion());
    }
  }

  @Test
  void connect_timeout_isPassedInMilliseconds() {
    NvfmFabricManager.connect(
        overSocket().withTimeout(Duration.ofMillis(2500))).close();
    assertEquals(2500, lastAttempt().timeoutMs());
  }

  @Test
  void connect_tcpAddress_sendsInetTypeAndTheAddress() {
    Native.load("c", LibC.class).setenv(SimulatedNvfmLibrary.STATE_ENV,
        fabric.stateFile().toString(), 1);
    NvfmFabricManager.connect(NvfmOptions.defaults()
        .withLibrary(library.toString()).withAddress(FmAddress.tcp("127.0.0.1"))).close();
    assertEquals(new ConnectAttempt(0x02000110L, "127.0.0.1", 1000, 0, 1, 0), lastAttempt());
  }

  @Test
  void connect_tcpAddressNobodyListensOn_refusedWithConnectionNotValid() {
    Native.load("c", LibC.class).setenv(SimulatedNvfmLibrary.STATE_ENV,
        fabric.stateFile().toString(), 1);
    FabricManagerException e = assertThrows(FabricManagerException.class,
        () -> NvfmFabricManager.connect(NvfmOptions.defaults().withLibrary(library.toString())
            .withAddress(FmAddress.tcp("127.0.0.1:7000"))));
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, e.returnCode());
  }

  @Test
  void connect_socketWithoutFabricManager_refusedWithConnectionNotValid() {
    FabricManagerException e = assertThrows(FabricManagerException.class,
        () -> NvfmFabricManager.connect(overSocket().withAddress(
            FmAddress.unixSocket(dir.resolve("nothing/here.sock").toString()))));
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, e.returnCode());
  }

  @Test
  void connect_missingLibrary_namesThePackageToInstall() {
    FabricManagerProtocolException e = assertThrows(FabricManagerProtocolException.class,
        () -> NvfmFabricManager.connect(overSocket()
            .withLibrary(dir.resolve("libnvfm.so.1").toString())));
    assertTrue(e.getMessage().contains("libnvfm1"), e.getMessage());
  }

  @Test
  void close_oneOfTwoConnections_otherStillWorks() {
    NvfmFabricManager first = NvfmFabricManager.connect(overSocket());
    try (NvfmFabricManager second = NvfmFabricManager.connect(overSocket())) {
      first.close();
      assertEquals(15, second.listPartitions().size());
    }
  }

  @Test
  void connect_afterEveryConnectionClosed_initialisesTheLibraryAgain() {
    NvfmFabricManager.connect(overSocket()).close();
    try (NvfmFabricManager fm = NvfmFabricManager.connect(overSocket())) {
      assertEquals(15, fm.listPartitions().size());
    }
  }

  @Test
  void connections_fromManyThreads_allWork() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int single = 8 + t;
        results.add(pool.submit(() -> {
          int seen = 0;
          for (int i = 0; i < 5; i++) {
            try (NvfmFabricManager fm = NvfmFabricManager.connect(overSocket())) {
              fm.ensureActive(single);
              seen += fm.listPartitions().size();
              fm.ensureInactive(single);
            }
          }
          return seen;
        }));
      }
      int total = 0;
      for (Future<Integer> f : results) {
        total += f.get(60, TimeUnit.SECONDS);
      }
      assertEquals(8 * 5 * 15, total);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void activateWithVirtualFunctions_activatesThePartition() {
    fabric.setFabricMode(2);
    try (NvfmFabricManager fm = NvfmFabricManager.connect(overSocket())) {
      fm.activateWithVirtualFunctions(8, List.of(PciAddress.parse("0000:60:00.4")));
      assertTrue(fm.listPartitions().stream().filter(FabricPartition::active)
          .anyMatch(p -> p.id() == 8));
    }
  }

  @Test
  void listPartitions_unknownReturnCode_refusedAsProtocolError() throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode state = (ObjectNode) json.readTree(Files.readString(fabric.stateFile()));
    state.withArray("faults").addObject().put("operation", "LIST").put("kind", "RETURN_CODE")
        .put("returnCode", -42).put("remaining", 1);
    Files.writeString(fabric.stateFile(), json.writeValueAsString(state));
    try (NvfmFabricManager fm = NvfmFabricManager.connect(overSocket())) {
      FabricManagerProtocolException e = assertThrows(FabricManagerProtocolException.class,
          fm::listPartitions);
      assertTrue(e.getMessage().contains("-42"), e.getMessage());
    }
  }
}
