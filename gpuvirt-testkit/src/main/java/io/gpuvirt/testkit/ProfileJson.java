package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import java.util.Map;
import java.util.Optional;

/**
 * A {@link HostProfile} as JSON (the {@code .gpuvirt-profile.json} of a host root), written and read
 * field by field so the file format does not depend on class internals.
 */
final class ProfileJson {
  static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final int FORMAT = 1;

  private ProfileJson() {}

  static String write(HostProfile p) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("format", FORMAT);
    root.put("name", p.name());
    root.put("cmdline", p.cmdline());
    ArrayNode drivers = root.putArray("drivers");
    p.drivers().forEach(drivers::add);
    ArrayNode modules = root.putArray("modules");
    p.modules().forEach(modules::add);
    if (p.fabricMode().isPresent()) {
      root.put("fabricMode", p.fabricMode().getAsInt());
    }
    ObjectNode files = root.putObject("files");
    p.files().forEach(files::put);
    root.put("architecture", p.architecture().kernelName());
    ArrayNode nodes = root.putArray("numaNodes");
    for (NumaNodeSpec n : p.numaNodes()) {
      ObjectNode o = nodes.addObject().put("id", n.id()).put("cpuList", n.cpuList())
          .put("memoryBytes", n.memoryBytes());
      n.gpuMemoryOf().ifPresent(g -> o.put("gpuMemoryOf", g.toString()));
    }
    ObjectNode platform = root.putObject("platformDevices");
    p.platformDevices().forEach(platform::put);
    ArrayNode devices = root.putArray("devices");
    for (DeviceSpec d : p.devices()) {
      devices.add(device(d));
    }
    try {
      return MAPPER.writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write profile " + p.name() + " as JSON", e);
    }
  }

  private static ObjectNode device(DeviceSpec d) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("address", d.address().toString());
    d.parent().ifPresent(v -> n.put("parent", v.toString()));
    n.put("id", d.id().toString());
    n.put("subsystem", d.subsystem().toString());
    n.put("class", d.pciClass().toString());
    n.put("revision", d.revision());
    d.busRange().ifPresent(r -> n.putArray("busRange").add(r.secondary()).add(r.subordinate()));
    d.portType().ifPresent(t -> n.put("portType", t.name()));
    ArrayNode bars = n.putArray("bars");
    d.bars().forEach(b -> bars.add(bar(b)));
    n.put("numaNode", d.numaNode());
    d.iommuGroup().ifPresent(g -> n.put("iommuGroup", g));
    d.driver().ifPresent(v -> n.put("driver", v));
    d.moduleId().ifPresent(v -> n.put("moduleId", v));
    n.put("resettable", d.resettable());
    d.label().ifPresent(v -> n.put("label", v));
    n.put("acs", d.acs());
    d.sriov().ifPresent(s -> {
      ObjectNode o = n.putObject("sriov");
      o.put("totalVfs", s.totalVfs());
      o.put("vfDeviceId", String.format("%04x", s.vfDeviceId()));
      o.put("firstVfOffset", s.firstVfOffset());
      o.put("vfStride", s.vfStride());
      o.set("vfBar", bar(s.vfBar()));
      o.put("enabledVfs", s.enabledVfs());
      s.vfDriver().ifPresent(v -> o.put("vfDriver", v));
    });
    if (!d.mounts().isEmpty()) {
      ArrayNode mounts = n.putArray("mounts");
      for (DeviceSpec.MountSpec m : d.mounts()) {
        mounts.addObject().put("namespace", m.namespace()).put("partition", m.partition())
            .put("mountPoint", m.mountPoint()).put("fsType", m.fsType());
      }
    }
    return n;
  }

  private static ObjectNode bar(Bar b) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("index", b.index());
    n.put("start", "0x" + Long.toHexString(b.start()));
    n.put("size", "0x" + Long.toHexString(b.size()));
    n.put("is64Bit", b.is64Bit());
    n.put("prefetchable", b.prefetchable());
    n.put("io", b.io());
    return n;
  }

  /**
   * Reads a profile.
   *
   * @throws InvalidValueException naming {@code source} and the bad field
   */
  static HostProfile read(String json, String source) {
    try {
      JsonNode root = MAPPER.readTree(json);
      if (root == null || root.path("format").asInt() != FORMAT) {
        throw new InvalidValueException("format " + FORMAT + " expected");
      }
      HostProfile.Builder b = HostProfile.builder().name(text(root, "name"))
          .cmdline(text(root, "cmdline"));
      for (JsonNode d : root.path("drivers")) {
        b.loadDriver(d.asText());
      }
      for (JsonNode m : root.path("modules")) {
        b.loadModule(m.asText());
      }
      if (root.hasNonNull("fabricMode")) {
        b.fabricMode(root.get("fabricMode").asInt());
      }
      for (Map.Entry<String, JsonNode> e : root.path("files").properties()) {
        b.file(e.getKey(), e.getValue().asText());
      }
      for (JsonNode d : root.path("devices")) {
        b.device(device(d));
      }
      if (root.hasNonNull("architecture")) {
        b.architecture(CpuArchitecture.parse(text(root, "architecture")));
      }
      for (JsonNode n : root.path("numaNodes")) {
        b.numaNode(new NumaNodeSpec(n.path("id").asInt(), text(n, "cpuList"),
            n.path("memoryBytes").asLong(), n.hasNonNull("gpuMemoryOf")
                ? Optional.of(PciAddress.parse(text(n, "gpuMemoryOf"))) : Optional.empty()));
      }
      for (Map.Entry<String, JsonNode> e : root.path("platformDevices").properties()) {
        b.platformDevice(e.getKey(), e.getValue().asInt());
      }
      return b.build();
    } catch (JsonProcessingException | RuntimeException e) {
      throw new InvalidValueException("cannot read the host profile in " + source + ": "
          + e.getMessage() + "; the directory was not written by this testkit version", e);
    }
  }

  private static DeviceSpec device(JsonNode n) {
    DeviceSpec.Builder b = DeviceSpec.builder(PciAddress.parse(text(n, "address")))
        .parent(n.hasNonNull("parent") ? PciAddress.parse(text(n, "parent")) : null)
        .id(PciId.parse(text(n, "id"))).subsystem(PciId.parse(text(n, "subsystem")))
        .pciClass(new PciClass(Integer.decode(text(n, "class"))))
        .revision(n.path("revision").asInt())
        .busRange(n.hasNonNull("busRange")
            ? new BusRange(n.get("busRange").get(0).asInt(), n.get("busRange").get(1).asInt())
            : null)
        .portType(n.hasNonNull("portType") ? PciePortType.valueOf(text(n, "portType")) : null)
        .numaNode(n.path("numaNode").asInt(-1))
        .driver(n.hasNonNull("driver") ? text(n, "driver") : null)
        .resettable(n.path("resettable").asBoolean())
        .label(n.hasNonNull("label") ? text(n, "label") : null)
        .acs(n.path("acs").asBoolean());
    for (JsonNode bar : n.path("bars")) {
      b.addBar(bar(bar));
    }
    if (n.hasNonNull("iommuGroup")) {
      b.iommuGroup(n.get("iommuGroup").asInt());
    }
    if (n.hasNonNull("moduleId")) {
      b.moduleId(n.get("moduleId").asInt());
    }
    for (JsonNode m : n.path("mounts")) {
      b.mount(text(m, "namespace"), m.path("partition").asInt(), text(m, "mountPoint"),
          text(m, "fsType"));
    }
    if (n.hasNonNull("sriov")) {
      JsonNode s = n.get("sriov");
      b.sriov(new DeviceSpec.SriovSpec(s.path("totalVfs").asInt(),
          Integer.parseInt(text(s, "vfDeviceId"), 16), s.path("firstVfOffset").asInt(),
          s.path("vfStride").asInt(), bar(s.get("vfBar")), s.path("enabledVfs").asInt(),
          Optional.ofNullable(s.hasNonNull("vfDriver") ? text(s, "vfDriver") : null)));
    }
    return b.build();
  }

  private static Bar bar(JsonNode n) {
    return new Bar(n.path("index").asInt(), Long.decode(text(n, "start")),
        Long.decode(text(n, "size")), n.path("is64Bit").asBoolean(),
        n.path("prefetchable").asBoolean(), n.path("io").asBoolean());
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual()) {
      throw new InvalidValueException("field '" + field + "' missing or not text");
    }
    return v.asText();
  }
}
