package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A {@link Topology} as JSON, and back: {@code fromJson(toJson(t))} holds the same devices, groups
 * and source as {@code t}.
 *
 * <p>The document is plain: addresses, ids and classes as the strings Linux prints
 * ({@code "0000:17:00.0"}, {@code "10de:2901"}, {@code "0x030200"}), BAR start addresses as hex
 * strings (they do not fit a JSON number exactly), sizes and counts as numbers, and a field that
 * has no value (no driver, no IOMMU group, not a bridge) left out rather than written as null.
 *
 * <pre>{@code
 * {
 *   "format" : 1,
 *   "source" : "host root /",
 *   "devices" : [ {
 *     "address" : "0000:17:00.0", "id" : "10de:2901", "subsystem" : "10de:1999",
 *     "class" : "0x030200", "revision" : "0xa1", "driver" : "nvidia", "iommuGroup" : 17,
 *     "numaNode" : 0, "bars" : [ { "index" : 0, "start" : "0x228000000000", "size" : 67108864,
 *     "is64Bit" : true, "prefetchable" : true, "io" : false } ], "parent" : "0000:16:00.0",
 *     "rootBus" : "0000:14", "resettable" : true, "label" : "#GPU0" } ],
 *   "iommuGroups" : [ { "number" : 17, "members" : [ "0000:17:00.0" ] } ]
 * }
 * }</pre>
 */
public final class TopologyJson {
  /** The version of the document layout written in {@code "format"}. */
  public static final int FORMAT = 1;

  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private TopologyJson() {}

  /** The topology as an indented JSON document. */
  public static String toJson(Topology topology) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("format", FORMAT);
    root.put("source", topology.source());
    ArrayNode devices = root.putArray("devices");
    for (PciDevice d : topology.devices()) {
      devices.add(device(d));
    }
    ArrayNode groups = root.putArray("iommuGroups");
    for (IommuGroup g : topology.iommuGroups()) {
      ObjectNode n = groups.addObject();
      n.put("number", g.number());
      ArrayNode members = n.putArray("members");
      g.members().forEach(m -> members.add(m.toString()));
      if (!g.nonPciMembers().isEmpty()) {
        ArrayNode others = n.putArray("nonPciMembers");
        g.nonPciMembers().forEach(others::add);
      }
    }
    try {
      return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new GpuvirtException("could not write topology of " + topology.source()
          + " as JSON: " + e.getOriginalMessage(), e);
    }
  }

  private static ObjectNode device(PciDevice d) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("address", d.address().toString());
    n.put("id", d.id().toString());
    n.put("subsystem", d.subsystem().toString());
    n.put("class", d.pciClass().toString());
    n.put("revision", String.format("0x%02x", d.revision()));
    d.driver().ifPresent(v -> n.put("driver", v));
    d.driverOverride().ifPresent(v -> n.put("driverOverride", v));
    d.iommuGroup().ifPresent(v -> n.put("iommuGroup", v));
    n.put("numaNode", d.numaNode());
    ArrayNode bars = n.putArray("bars");
    for (Bar b : d.bars()) {
      ObjectNode bar = bars.addObject();
      bar.put("index", b.index());
      bar.put("start", "0x" + Long.toHexString(b.start()));
      bar.put("size", b.size());
      bar.put("is64Bit", b.is64Bit());
      bar.put("prefetchable", b.prefetchable());
      bar.put("io", b.io());
    }
    d.parent().ifPresent(v -> n.put("parent", v.toString()));
    n.put("rootBus", d.rootBus());
    d.busRange().ifPresent(r -> {
      ObjectNode range = n.putObject("busRange");
      range.put("secondary", r.secondary());
      range.put("subordinate", r.subordinate());
    });
    d.portType().ifPresent(v -> n.put("portType", v.name()));
    d.sriov().ifPresent(s -> {
      ObjectNode sriov = n.putObject("sriov");
      sriov.put("totalVfs", s.totalVfs());
      sriov.put("numVfs", s.numVfs());
      ArrayNode vfs = sriov.putArray("virtualFunctions");
      s.virtualFunctions().forEach(vf -> vfs.add(vf.toString()));
    });
    d.physicalFunction().ifPresent(v -> n.put("physicalFunction", v.toString()));
    n.put("resettable", d.resettable());
    d.label().ifPresent(v -> n.put("label", v));
    return n;
  }

  /**
   * Reads a document written by {@link #toJson}. Fields this version does not know are ignored.
   *
   * @throws GpuvirtException naming the field (as in {@code devices[3].bars[0].size}) that is
   *     missing or has a value of the wrong kind, or saying the text is not JSON
   */
  public static Topology fromJson(String json) {
    JsonNode root;
    try {
      root = MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new GpuvirtException("invalid topology JSON: " + e.getOriginalMessage()
          + "; pass a document written by 'gpuvirt topology --json'", e);
    }
    Reader r = new Reader(root, "");
    if (!r.node.isObject()) {
      throw r.bad("a JSON object");
    }
    int format = r.integer("format");
    if (format != FORMAT) {
      throw r.field("format").bad("format " + FORMAT + " (this version of gpuvirt reads only that)");
    }
    List<PciDevice> devices = r.array("devices", TopologyJson::readDevice);
    List<IommuGroup> groups = r.array("iommuGroups", g -> r.build(g, () ->
        new IommuGroup(g.integer("number"), g.array("members", Reader::address),
            g.optional("nonPciMembers").isPresent() ? g.array("nonPciMembers", Reader::text)
                : List.of())));
    String source = r.text("source");
    return r.build(r, () -> new Topology(source, devices, groups));
  }

  private static PciDevice readDevice(Reader d) {
    PciDevice.Builder b = PciDevice.builder(d.field("address").address());
    b.id(d.build(d.field("id"), () -> PciId.parse(d.text("id"))));
    b.subsystem(d.build(d.field("subsystem"), () -> PciId.parse(d.text("subsystem"))));
    b.pciClass(new PciClass(d.field("class").hex(0xffffff)));
    b.revision(d.field("revision").hex(0xff));
    d.optional("driver").ifPresent(v -> b.driver(v.text()));
    d.optional("driverOverride").ifPresent(v -> b.driverOverride(v.text()));
    d.optional("iommuGroup").ifPresent(v -> b.iommuGroup(v.integer()));
    b.numaNode(d.integer("numaNode"));
    b.bars(d.array("bars", bar -> bar.build(bar, () -> new Bar(bar.integer("index"),
        bar.field("start").hexLong(), bar.field("size").longValue(), bar.bool("is64Bit"),
        bar.bool("prefetchable"), bar.bool("io")))));
    d.optional("parent").ifPresent(v -> b.parent(v.address()));
    b.rootBus(d.text("rootBus"));
    d.optional("busRange").ifPresent(v -> b.busRange(v.build(v, () ->
        new BusRange(v.integer("secondary"), v.integer("subordinate")))));
    d.optional("portType").ifPresent(v -> b.portType(v.build(v, () ->
        PciePortType.valueOf(v.text()))));
    d.optional("sriov").ifPresent(v -> b.sriov(v.build(v, () -> new Sriov(v.integer("totalVfs"),
        v.integer("numVfs"), v.array("virtualFunctions", Reader::address)))));
    d.optional("physicalFunction").ifPresent(v -> b.physicalFunction(v.address()));
    b.resettable(d.bool("resettable"));
    d.optional("label").ifPresent(v -> b.label(v.text()));
    return d.build(d, b::build);
  }

  /** A node and its place in the document, for messages. */
  private static final class Reader {
    final JsonNode node;
    final String where;

    Reader(JsonNode node, String where) {
      this.node = node;
      this.where = where;
    }

    Reader field(String name) {
      JsonNode child = node.get(name);
      Reader r = new Reader(child, where.isEmpty() ? name : where + "." + name);
      if (child == null || child.isNull()) {
        throw r.bad("a value (the field is missing)");
      }
      return r;
    }

    Optional<Reader> optional(String name) {
      JsonNode child = node.get(name);
      return child == null || child.isNull() ? Optional.empty()
          : Optional.of(field(name));
    }

    String text() {
      if (!node.isTextual()) {
        throw bad("a string");
      }
      return node.textValue();
    }

    String text(String name) {
      return field(name).text();
    }

    int integer() {
      if (!node.isIntegralNumber() || !node.canConvertToInt()) {
        throw bad("a whole number");
      }
      return node.intValue();
    }

    int integer(String name) {
      return field(name).integer();
    }

    long longValue() {
      if (!node.isIntegralNumber() || !node.canConvertToLong()) {
        throw bad("a whole number");
      }
      return node.longValue();
    }

    boolean bool(String name) {
      Reader r = field(name);
      if (!r.node.isBoolean()) {
        throw r.bad("true or false");
      }
      return r.node.booleanValue();
    }

    int hex(int max) {
      long v = hexLong();
      if (v > max) {
        throw bad(String.format("a hex string up to 0x%x", max));
      }
      return (int) v;
    }

    long hexLong() {
      String t = text();
      if (!t.matches("0x[0-9a-fA-F]{1,16}")) {
        throw bad("a hex string like 0x1f");
      }
      return Long.parseUnsignedLong(t.substring(2), 16);
    }

    PciAddress address() {
      String t = text();
      try {
        return PciAddress.parse(t);
      } catch (InvalidPciAddressException e) {
        throw bad("a PCI address (" + e.getMessage() + ")");
      }
    }

    <T> List<T> array(String name, Function<Reader, T> element) {
      Reader r = field(name);
      if (!r.node.isArray()) {
        throw r.bad("an array");
      }
      List<T> values = new ArrayList<>();
      for (int i = 0; i < r.node.size(); i++) {
        values.add(element.apply(new Reader(r.node.get(i), r.where + "[" + i + "]")));
      }
      return values;
    }

    /** Runs a constructor, turning its validation error into a message that names this place. */
    <T> T build(Reader at, Supplier<T> constructor) {
      try {
        return constructor.get();
      } catch (IllegalArgumentException | InvalidValueException e) {
        throw at.bad("a valid value (" + e.getMessage() + ")");
      }
    }

    GpuvirtException bad(String expected) {
      String found = node == null ? "nothing" : abbreviate(node.toString());
      return new GpuvirtException("invalid topology JSON at " + (where.isEmpty() ? "top level"
          : where) + ": expected " + expected + ", found " + found
          + "; pass a document written by 'gpuvirt topology --json'");
    }

    private static String abbreviate(String s) {
      return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
  }
}
