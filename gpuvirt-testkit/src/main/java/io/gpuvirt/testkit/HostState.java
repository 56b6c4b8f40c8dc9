package io.gpuvirt.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
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
 * The kernel state that has no sysfs file of its own: pending faults, the drivers' dynamic ids
 * ({@code new_id}) and a count of function resets. Kept in {@code .gpuvirt-state.json} in the host
 * root so that every process working on the host sees it; read and written under the tree lock.
 */
final class HostState {
  /** A dynamic id added through {@code new_id}; -1 stands for PCI_ANY_ID. */
  record DynamicId(int vendor, int device, int subVendor, int subDevice) {
    boolean matches(PciId id, PciId subsystem) {
      return vendor == id.vendor() && device == id.device()
          && (subVendor < 0 || subVendor == subsystem.vendor())
          && (subDevice < 0 || subDevice == subsystem.device());
    }

    @Override
    public String toString() {
      return String.format("%04x %04x", vendor, device)
          + (subVendor < 0 && subDevice < 0 ? "" : String.format(" %x %x", subVendor, subDevice));
    }
  }

  final List<Fault> faults = new ArrayList<>();
  final Map<String, List<DynamicId>> dynamicIds = new TreeMap<>();
  final Map<PciAddress, Integer> resets = new TreeMap<>();
  /** GPUs in vGPU heterogeneous (mixed-size) mode ({@code nvidia-smi vgpu -shm 1}). */
  final java.util.Set<PciAddress> heterogeneousVgpu = new java.util.TreeSet<>();
  /**
   * MIG-backed vGPUs: the VF carrying one, to the id of the GPU instance of its physical function
   * that the vGPU occupies.
   */
  final Map<PciAddress, Integer> migVgpus = new TreeMap<>();
  private boolean dirty;

  static HostState load(Path root) throws IOException {
    HostState s = new HostState();
    Path file = root.resolve(HostTree.STATE_FILE);
    if (!Files.exists(file)) {
      return s;
    }
    JsonNode n = ProfileJson.MAPPER.readTree(Files.readString(file));
    for (JsonNode f : n.path("faults")) {
      s.faults.add(new Fault(Fault.Kind.valueOf(f.path("kind").asText()),
          f.hasNonNull("device") ? Optional.of(PciAddress.parse(f.get("device").asText()))
              : Optional.empty(),
          f.hasNonNull("path") ? Optional.of(f.get("path").asText()) : Optional.empty(),
          f.path("remaining").asInt()));
    }
    for (Map.Entry<String, JsonNode> e : n.path("dynamicIds").properties()) {
      List<DynamicId> list = new ArrayList<>();
      for (JsonNode id : e.getValue()) {
        list.add(new DynamicId(id.get(0).asInt(), id.get(1).asInt(), id.get(2).asInt(),
            id.get(3).asInt()));
      }
      s.dynamicIds.put(e.getKey(), list);
    }
    for (Map.Entry<String, JsonNode> e : n.path("resets").properties()) {
      s.resets.put(PciAddress.parse(e.getKey()), e.getValue().asInt());
    }
    for (JsonNode a : n.path("heterogeneousVgpu")) {
      s.heterogeneousVgpu.add(PciAddress.parse(a.asText()));
    }
    for (Map.Entry<String, JsonNode> e : n.path("migVgpus").properties()) {
      s.migVgpus.put(PciAddress.parse(e.getKey()), e.getValue().asInt());
    }
    return s;
  }

  void saveIfChanged(Path root) throws IOException {
    if (!dirty) {
      return;
    }
    ObjectNode n = ProfileJson.MAPPER.createObjectNode();
    ArrayNode faultArray = n.putArray("faults");
    for (Fault f : faults) {
      ObjectNode o = faultArray.addObject();
      o.put("kind", f.kind().name());
      f.device().ifPresent(d -> o.put("device", d.toString()));
      f.path().ifPresent(p -> o.put("path", p));
      o.put("remaining", f.remaining());
    }
    ObjectNode idObject = n.putObject("dynamicIds");
    dynamicIds.forEach((driver, list) -> {
      ArrayNode a = idObject.putArray(driver);
      list.forEach(id -> a.addArray().add(id.vendor()).add(id.device()).add(id.subVendor())
          .add(id.subDevice()));
    });
    ObjectNode resetObject = n.putObject("resets");
    resets.forEach((a, c) -> resetObject.put(a.toString(), c));
    ArrayNode mixed = n.putArray("heterogeneousVgpu");
    heterogeneousVgpu.forEach(a -> mixed.add(a.toString()));
    ObjectNode migObject = n.putObject("migVgpus");
    migVgpus.forEach((vf, gi) -> migObject.put(vf.toString(), gi));
    Path tmp = root.resolve(HostTree.STATE_FILE + ".tmp");
    Files.writeString(tmp, ProfileJson.MAPPER.writeValueAsString(n));
    Files.move(tmp, root.resolve(HostTree.STATE_FILE), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    dirty = false;
  }

  void changed() {
    dirty = true;
  }

  /** Fires the first fault of this kind on this device, if any: true when one fired. */
  boolean fire(Fault.Kind kind, PciAddress device) {
    for (int i = 0; i < faults.size(); i++) {
      if (faults.get(i).matches(kind, device)) {
        fire(i);
        return true;
      }
    }
    return false;
  }

  /** Fires the first fault of this kind on this path, if any: true when one fired. */
  boolean fire(Fault.Kind kind, String hostPath) {
    for (int i = 0; i < faults.size(); i++) {
      if (faults.get(i).matches(kind, hostPath)) {
        fire(i);
        return true;
      }
    }
    return false;
  }

  private void fire(int i) {
    Fault f = faults.get(i);
    if (!f.isPersistent()) {
      Optional<Fault> next = f.fired();
      if (next.isPresent()) {
        faults.set(i, next.get());
      } else {
        faults.remove(i);
      }
      changed();
    }
  }
}
