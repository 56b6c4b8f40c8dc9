package io.gpuvirt.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The MIG side of the simulated NVIDIA driver: per GPU its mode (current and pending) and its GPU
 * and compute instances, kept in {@value #STATE_FILE} under the host root so that every process
 * (and every {@code nvidia-smi} run) sees the same GPUs. The simulated {@code nvidia-smi} reads and
 * changes it; tests read it to check what a backend did.
 *
 * <p>It behaves as the driver is documented to: a mode change stays pending until the GPU is
 * reset; a reset applies it and destroys every instance; a GPU instance is placed where
 * {@link MigLayout#driverPlacement} says (the highest free start the profile allows), or refused
 * with "Insufficient Resources"; a GPU instance with compute instances cannot be destroyed ("In use
 * by another client"), nor MIG disabled while instances exist. GPU-instance ids: 0 for the
 * full-GPU profile, else the lowest free id from 1 <i>(inferred; the real driver's ids follow its
 * own table and must never be predicted: backends read them back)</i>. Only GPUs on the
 * {@code nvidia} driver whose device id has a built-in {@link MigProfileTable} are visible.
 *
 * <p>The file is also the state of the simulated {@code libnvidia-ml} ({@link SimulatedNvml}),
 * which is C without tables of its own: besides {@code gpus} (the per-GPU state, by address) it
 * carries {@code devices}, every NVIDIA GPU of the host in index order with its device id, name and
 * (where it has one) its profile table with NVML's profile constants. Both sides change it under
 * the host's lock ({@code .gpuvirt.lock}: a POSIX lock here, an open-file-description lock in C,
 * which conflict) and replace it atomically (a temporary file, then a rename).
 */
public final class SimulatedMig {
  /** The state file, relative to the host root. */
  public static final String STATE_FILE = ".gpuvirt-mig.json";

  private final SimulatedHost host;

  private SimulatedMig(SimulatedHost host) {
    this.host = host;
  }

  /** The MIG state of {@code host}'s GPUs. */
  public static SimulatedMig of(SimulatedHost host) {
    return new SimulatedMig(host);
  }

  /** One compute instance. */
  record Ci(int id, int profileId, String name) {}

  /** One GPU instance with its compute instances. */
  record Gi(int id, int profileId, MigPlacement placement, List<Ci> cis) {
    Gi {
      cis = List.copyOf(cis);
    }
  }

  /** One GPU's MIG state. */
  record GpuMig(MigMode mode, List<Gi> gis) {
    GpuMig {
      gis = List.copyOf(gis);
    }

    static final GpuMig OFF = new GpuMig(MigMode.DISABLED, List.of());
  }

  /** A GPU nvidia-smi sees: its index, address, table and state. */
  record Visible(int index, PciAddress address, int deviceId, String name, MigProfileTable table,
      GpuMig state) {
    MigLayout layout() {
      List<GpuInstance> instances = new ArrayList<>();
      for (Gi gi : state.gis()) {
        instances.add(new GpuInstance(gi.id(), table.profile(gi.profileId()), gi.placement()));
      }
      return new MigLayout(table, instances);
    }
  }

  /** Work on the state under the host's lock; a change is saved when {@code work} returns. */
  interface Change<T> {
    T apply(List<Visible> gpus, Map<PciAddress, GpuMig> state);
  }

  <T> T transact(Change<T> work) {
    try {
      return TreeLock.with(host.root(), () -> {
        Map<PciAddress, GpuMig> state = load();
        Map<PciAddress, GpuMig> before = new TreeMap<>(state);
        T result = work.apply(visible(state), state);
        if (!state.equals(before)) {
          save(state);
        }
        return result;
      });
    } catch (IOException e) {
      throw new GpuvirtException("simulated MIG state of " + host.root() + ": " + e, e);
    }
  }

  /**
   * Writes the state file now, with every GPU's table, even when nothing changed: what a process
   * that reads only the file (the simulated {@code libnvidia-ml}) needs before the first change.
   */
  public void publish() {
    try {
      TreeLock.with(host.root(), () -> {
        save(load());
        return null;
      });
    } catch (IOException e) {
      throw new GpuvirtException("simulated MIG state of " + host.root() + ": " + e, e);
    }
  }

  /** The MIG mode of the GPU at {@code address} (off for a GPU never touched). */
  public MigMode mode(PciAddress address) {
    return transact((gpus, state) -> state.getOrDefault(address, GpuMig.OFF).mode());
  }

  /** The GPU instances on the GPU at {@code address}, with its model's built-in table. */
  public MigLayout layout(PciAddress address) {
    return transact((gpus, state) -> gpus.stream().filter(g -> g.address().equals(address))
        .findFirst().map(Visible::layout).orElseThrow(() -> new GpuvirtException("no MIG-capable"
            + " GPU on the nvidia driver at " + address + " on " + host.root())));
  }

  /**
   * The ids of the GPU instances of the GPU at {@code address} that MIG-backed vGPUs occupy (a VF
   * carrying a MIG-backed type, see {@code VgpuModel}): the driver refuses to destroy them, to
   * reset the GPU or to turn MIG off while they are there.
   */
  java.util.Set<Integer> occupiedByVgpus(PciAddress address) {
    try {
      java.util.Set<Integer> out = new java.util.TreeSet<>();
      HostState.load(host.root()).migVgpus.forEach((vf, gi) -> {
        Optional<String> pf = host.sysfs().readLink("/sys/bus/pci/devices/" + vf + "/physfn");
        if (pf.map(l -> l.substring(l.lastIndexOf('/') + 1))
            .equals(Optional.of(address.toString()))) {
          out.add(gi);
        }
      });
      return out;
    } catch (IOException e) {
      throw new GpuvirtException("simulated vGPU state of " + host.root() + ": " + e, e);
    }
  }

  /** How many compute instances the GPU at {@code address} has. */
  public int computeInstanceCount(PciAddress address) {
    return transact((gpus, state) -> state.getOrDefault(address, GpuMig.OFF).gis().stream()
        .mapToInt(g -> g.cis().size()).sum());
  }

  private List<Visible> visible(Map<PciAddress, GpuMig> state) {
    List<Visible> out = new ArrayList<>();
    int index = 0;
    for (DeviceSpec d : host.profile().devices()) {
      if (d.id().vendor() != 0x10de || !d.pciClass().isGpu()) {
        continue;
      }
      Optional<String> driver = host.sysfs().readLink("/sys/bus/pci/devices/" + d.address()
          + "/driver").map(l -> l.substring(l.lastIndexOf('/') + 1));
      if (!driver.equals(Optional.of("nvidia"))) {
        continue; // bound to VFIO or unbound: the NVIDIA driver does not see it
      }
      Optional<MigProfileTable> table = MigProfileTable.builtInFor(d.id().device());
      int i = index++;
      table.ifPresent(t -> out.add(new Visible(i, d.address(), d.id().device(),
          productName(d.id().device()), t, state.getOrDefault(d.address(), GpuMig.OFF))));
    }
    return out;
  }

  static String productName(int deviceId) {
    return switch (deviceId) {
      case 0x2901 -> "NVIDIA B200";
      case 0x2330 -> "NVIDIA H100 80GB HBM3";
      case 0x2321 -> "NVIDIA H100 NVL";
      case 0x2335 -> "NVIDIA H200";
      case 0x2941 -> "NVIDIA GB200";
      default -> "NVIDIA GPU " + Integer.toHexString(deviceId);
    };
  }

  /** The id the simulated driver gives a new GPU instance of {@code profile}. */
  static int nextGpuInstanceId(GpuMig gpu, GpuInstanceProfile profile, MigProfileTable table) {
    if (profile.computeSlices() == table.computeSlices()) {
      return 0;
    }
    for (int id = 1; ; id++) {
      int candidate = id;
      if (gpu.gis().stream().noneMatch(g -> g.id() == candidate)) {
        return id;
      }
    }
  }

  // ---- the state file ---------------------------------------------------------------------------

  private Map<PciAddress, GpuMig> load() throws IOException {
    return read(host.root());
  }

  /** The MIG state kept under host root {@code root}, by GPU (a GPU never touched is absent). */
  static Map<PciAddress, GpuMig> read(Path hostRoot) throws IOException {
    Map<PciAddress, GpuMig> state = new TreeMap<>();
    Path file = hostRoot.resolve(STATE_FILE);
    if (!Files.exists(file)) {
      return state;
    }
    JsonNode root = ProfileJson.MAPPER.readTree(Files.readString(file));
    for (Map.Entry<String, JsonNode> e : root.path("gpus").properties()) {
      JsonNode g = e.getValue();
      MigMode mode = new MigMode(MigMode.State.valueOf(g.path("current").asText()),
          MigMode.State.valueOf(g.path("pending").asText()));
      List<Gi> gis = new ArrayList<>();
      for (JsonNode gi : g.path("gpuInstances")) {
        List<Ci> cis = new ArrayList<>();
        for (JsonNode ci : gi.path("computeInstances")) {
          cis.add(new Ci(ci.path("id").asInt(), ci.path("profileId").asInt(),
              ci.path("name").asText()));
        }
        gis.add(new Gi(gi.path("id").asInt(), gi.path("profileId").asInt(),
            MigPlacement.parse(gi.path("placement").asText()), cis));
      }
      state.put(PciAddress.parse(e.getKey()), new GpuMig(mode, gis));
    }
    return state;
  }

  /**
   * NVML's {@code NVML_GPU_INSTANCE_PROFILE_*} constant for a profile (VGPU_MIG.md §4:
   * {@code 1_SLICE}→19, {@code 1_SLICE_REV1} (+me)→20, {@code 1_SLICE_REV2} (1g, double
   * memory)→15, then by compute slices).
   */
  static int nvmlProfileConstant(GpuInstanceProfile p) {
    if (p.name().contains("+me")) {
      return 0x7;
    }
    if (p.computeSlices() == 1 && p.memorySlices() == 2) {
      return 0x9;
    }
    return FakeNvidiaSmiMig.fullComputeProfileId(p.computeSlices());
  }

  private void devices(ArrayNode out) {
    for (DeviceSpec d : host.profile().devices()) {
      if (d.id().vendor() != 0x10de || !d.pciClass().isGpu()) {
        continue;
      }
      ObjectNode o = out.addObject();
      o.put("address", d.address().toString());
      o.put("deviceId", d.id().device());
      o.put("name", productName(d.id().device()));
      MigProfileTable.builtInFor(d.id().device()).ifPresent(t -> {
        ObjectNode table = o.putObject("table");
        table.put("model", t.model());
        table.put("computeSlices", t.computeSlices());
        table.put("memorySlices", t.memorySlices());
        ArrayNode profiles = table.putArray("profiles");
        for (GpuInstanceProfile p : t.profiles()) {
          ObjectNode n = profiles.addObject();
          n.put("id", p.id());
          n.put("nvmlProfile", nvmlProfileConstant(p));
          n.put("name", p.name());
          n.put("computeSlices", p.computeSlices());
          n.put("memorySlices", p.memorySlices());
          n.put("memoryMiB", p.memoryMiB());
          n.put("multiprocessors", p.multiprocessors().orElse(0));
          n.put("copyEngines", p.engines().map(e -> e.copyEngines()).orElse(0));
          n.put("decoders", p.engines().map(e -> e.decoders()).orElse(0));
          n.put("encoders", p.engines().map(e -> e.encoders()).orElse(0));
          n.put("jpegs", p.engines().map(e -> e.jpegs()).orElse(0));
          n.put("ofas", p.engines().map(e -> e.ofas()).orElse(0));
          n.put("maxInstances", p.maxInstances());
          ArrayNode starts = n.putArray("placementStarts");
          p.placementStarts().forEach(starts::add);
        }
      });
    }
  }

  private void save(Map<PciAddress, GpuMig> state) throws IOException {
    ObjectNode root = ProfileJson.MAPPER.createObjectNode();
    root.put("format", 1);
    devices(root.putArray("devices"));
    ObjectNode gpus = root.putObject("gpus");
    state.forEach((a, g) -> {
      ObjectNode o = gpus.putObject(a.toString());
      o.put("current", g.mode().current().name());
      o.put("pending", g.mode().pending().name());
      ArrayNode gis = o.putArray("gpuInstances");
      for (Gi gi : g.gis()) {
        ObjectNode n = gis.addObject();
        n.put("id", gi.id());
        n.put("profileId", gi.profileId());
        n.put("placement", gi.placement().toString());
        ArrayNode cis = n.putArray("computeInstances");
        gi.cis().forEach(ci -> cis.addObject().put("id", ci.id()).put("profileId", ci.profileId())
            .put("name", ci.name()));
      }
    });
    Path tmp = host.root().resolve(STATE_FILE + ".tmp");
    Files.writeString(tmp, ProfileJson.MAPPER.writeValueAsString(root));
    Files.move(tmp, host.root().resolve(STATE_FILE), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }
}
