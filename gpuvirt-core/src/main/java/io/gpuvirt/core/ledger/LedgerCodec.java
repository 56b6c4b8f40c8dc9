package io.gpuvirt.core.ledger;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.mig.MigAssignment;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.ledger.LedgerRecords.BarRecord;
import io.gpuvirt.core.ledger.LedgerRecords.DeviceRecord;
import io.gpuvirt.core.ledger.LedgerRecords.GroupRecord;
import io.gpuvirt.core.ledger.LedgerRecords.LeaseRecord;
import io.gpuvirt.core.ledger.LedgerRecords.LedgerFile;
import io.gpuvirt.core.ledger.LedgerRecords.MigRecord;
import io.gpuvirt.core.ledger.LedgerRecords.RequestRecord;
import io.gpuvirt.core.ledger.LedgerRecords.ResetRecord;
import io.gpuvirt.core.ledger.LedgerRecords.VgpuRecord;
import io.gpuvirt.core.alloc.DeviceReset;
import io.gpuvirt.core.alloc.LeaseOrigin;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuSeries;
import io.gpuvirt.core.vgpu.VgpuType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.UUID;

/** Reads and writes the ledger file format (see {@link LedgerRecords}), strictly. */
final class LedgerCodec {
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(SerializationFeature.INDENT_OUTPUT)
      .build();

  private LedgerCodec() {}

  /** The file's bytes for these leases, sorted by owner (no generation: before the journal). */
  static byte[] encode(Collection<Lease> leases) {
    return encode(leases, 0);
  }

  /** The file's bytes for these leases, sorted by owner, as snapshot {@code generation}. */
  static byte[] encode(Collection<Lease> leases, long generation) {
    List<LeaseRecord> records = leases.stream()
        .sorted(java.util.Comparator.comparing(Lease::owner)).map(LedgerCodec::toRecord).toList();
    try {
      return (MAPPER.writeValueAsString(new LedgerFile(LedgerRecords.FORMAT,
          LedgerRecords.VERSION, generation == 0 ? null : generation, records)) + "\n")
          .getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode the lease ledger", e);
    }
  }

  /** The snapshot generation of a ledger file's bytes (already decoded once); 0 when absent. */
  static long generation(byte[] bytes) {
    try {
      JsonNode g = MAPPER.readTree(bytes).get("generation");
      return g == null || !g.canConvertToLong() ? 0 : g.asLong();
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** One journal record as one line of compact JSON (no line break inside). */
  static String encodeJournalRecord(long seq, List<Lease> put, List<String> remove) {
    try {
      return MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(
          new LedgerRecords.JournalRecord(seq, put.stream().map(LedgerCodec::toRecord).toList(),
              List.copyOf(remove)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode a lease journal record", e);
    }
  }

  /** A journal record read back: what it puts and removes. */
  record JournalEntry(long seq, List<Lease> put, List<String> remove) {}

  /**
   * One journal record from its line, strictly.
   *
   * @throws InvalidValueException naming what is wrong
   */
  static JournalEntry decodeJournalRecord(String json) {
    LedgerRecords.JournalRecord r;
    try {
      JsonNode tree = MAPPER.readTree(json);
      if (tree == null || !tree.isObject()) {
        throw new InvalidValueException("a journal record must be a JSON object");
      }
      JsonNode put = tree.get("put");
      if (put != null && put.isArray()) {
        for (JsonNode lease : put) {
          if (lease.isObject() && !lease.has("vgpus")) {
            ((ObjectNode) lease).putArray("vgpus");
          }
          if (lease.isObject() && !lease.has("migs")) {
            ((ObjectNode) lease).putArray("migs");
          }
        }
      }
      r = MAPPER.treeToValue(tree, LedgerRecords.JournalRecord.class);
    } catch (IOException e) {
      throw new InvalidValueException("not a journal record (" + oneLine(e.getMessage()) + ")");
    }
    if (r.seq() < 1 || r.put() == null || r.remove() == null) {
      throw new InvalidValueException("a journal record needs seq >= 1, put and remove");
    }
    List<Lease> leases = new ArrayList<>();
    for (LeaseRecord lr : r.put()) {
      try {
        leases.add(toLease(lr));
      } catch (RuntimeException e) {
        throw new InvalidValueException("the lease of '" + (lr == null ? null : lr.owner())
            + "' is invalid (" + oneLine(String.valueOf(e.getMessage())) + ")");
      }
    }
    for (String owner : r.remove()) {
      if (owner == null) {
        throw new InvalidValueException("a journal record removes a null owner");
      }
    }
    return new JournalEntry(r.seq(), List.copyOf(leases), List.copyOf(r.remove()));
  }

  /** One lease in the ledger's record form, as JSON text. */
  static String encode(Lease lease) {
    try {
      return MAPPER.writeValueAsString(toRecord(lease));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode the lease of " + lease.owner(), e);
    }
  }

  /** Leases in the ledger's record form, as a JSON array. */
  static String encodeList(List<Lease> leases) {
    try {
      return MAPPER.writeValueAsString(leases.stream().map(LedgerCodec::toRecord).toList());
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode leases", e);
    }
  }

  /**
   * The leases of a ledger file, by owner.
   *
   * @throws LedgerFormatException naming the file and what is wrong with it
   */
  static TreeMap<String, Lease> decode(Path file, byte[] bytes) {
    return decodeSnapshot(file, bytes).leases();
  }

  /**
   * A ledger file decoded once: its leases by owner, the format version it was written in and its
   * snapshot generation (0 when absent).
   */
  record Snapshot(TreeMap<String, Lease> leases, int version, long generation) {}

  /**
   * The leases, version and generation of a ledger file, from one parse.
   *
   * @throws LedgerFormatException naming the file and what is wrong with it
   */
  static Snapshot decodeSnapshot(Path file, byte[] bytes) {
    JsonNode tree;
    try {
      tree = MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw corrupt(file, "it is not valid JSON (" + oneLine(e.getMessage()) + ")", e);
    }
    if (tree == null || !tree.isObject()) {
      throw corrupt(file, "it is empty or not a JSON object", null);
    }
    JsonNode format = tree.get("format");
    if (format == null || !format.isTextual() || !format.asText().equals(LedgerRecords.FORMAT)) {
      throw corrupt(file, "its \"format\" is not \"" + LedgerRecords.FORMAT + "\"", null);
    }
    JsonNode version = tree.get("version");
    if (version == null || !version.isInt() || version.asInt() < 1) {
      throw corrupt(file, "its \"version\" is missing or not a positive integer", null);
    }
    if (version.asInt() > LedgerRecords.VERSION) {
      throw new LedgerFormatException(file, "lease ledger " + file + " has format version "
          + version.asInt() + ", written by a newer gpuvirt; this one reads version "
          + LedgerRecords.VERSION + " and will not touch it. Upgrade gpuvirt on this host "
          + "(never delete the ledger: its leases keep two VMs from sharing a GPU)");
    }
    int writtenVersion = version.asInt();
    if (writtenVersion == 1) {
      migrateVersion1((ObjectNode) tree);
    }
    addMissingVgpus(tree);
    JsonNode generation = tree.get("generation");
    long generationNumber = 0;
    if (generation == null) {
      ((ObjectNode) tree).putNull("generation");
    } else if (!generation.isIntegralNumber() || generation.asLong() < 1) {
      throw corrupt(file, "its \"generation\" is not a positive integer", null);
    } else {
      generationNumber = generation.asLong();
    }
    LedgerFile ledger;
    try {
      ledger = MAPPER.treeToValue(tree, LedgerFile.class);
    } catch (IOException e) {
      throw corrupt(file, "its content does not match format version " + version.asInt() + " ("
          + oneLine(e.getMessage()) + ")", e);
    }
    if (ledger.leases() == null) {
      throw corrupt(file, "\"leases\" is null", null);
    }
    TreeMap<String, Lease> leases = new TreeMap<>();
    for (LeaseRecord r : ledger.leases()) {
      Lease lease;
      try {
        lease = toLease(r);
      } catch (RuntimeException e) {
        throw corrupt(file, "the lease of '" + (r == null ? null : r.owner()) + "' is invalid ("
            + oneLine(e.getMessage()) + ")", e);
      }
      if (leases.put(lease.owner(), lease) != null) {
        throw corrupt(file, "owner " + lease.owner() + " has two leases", null);
      }
    }
    conflict(leases.values()).ifPresent(what -> {
      throw corrupt(file, what, null);
    });
    return new Snapshot(leases, writtenVersion, generationNumber);
  }

  /**
   * The first thing two of these leases both hold (an IOMMU group, a device, a vGPU, a VF held
   * whole and as a vGPU, a MIG instance, or a GPU held whole and by a MIG instance), in words;
   * empty when they hold disjoint resources.
   */
  static java.util.Optional<String> conflict(Collection<Lease> leases) {
    Map<Integer, String> groups = new HashMap<>();
    Map<PciAddress, String> devices = new HashMap<>();
    Map<String, String> vgpuHolders = new HashMap<>();
    for (Lease lease : leases) {
      for (LeasedGroup g : lease.groups()) {
        String other = groups.put(g.number(), lease.owner());
        if (other != null) {
          return java.util.Optional.of("IOMMU group " + g.number() + " is leased to both " + other
              + " and " + lease.owner());
        }
        for (LeasedDevice d : g.devices()) {
          String holder = devices.put(d.address(), lease.owner());
          if (holder != null) {
            return java.util.Optional.of(d.address() + " is leased to both " + holder + " and "
                + lease.owner());
          }
        }
      }
    }
    for (Lease lease : leases) {
      for (VgpuAssignment v : lease.vgpus()) {
        String holder = vgpuHolders.put(v.sysfsPath(), lease.owner());
        if (holder != null) {
          return java.util.Optional.of("vGPU " + v.sysfsPath() + " is leased to both " + holder
              + " and " + lease.owner());
        }
        if (v.vf().isPresent() && devices.containsKey(v.vf().get())) {
          return java.util.Optional.of(v.vf().get() + " is leased whole to "
              + devices.get(v.vf().get()) + " and as a vGPU to " + lease.owner());
        }
      }
    }
    Map<String, String> migHolders = new HashMap<>();
    for (Lease lease : leases) {
      for (MigAssignment m : lease.migs()) {
        String holder = migHolders.put(m.key(), lease.owner());
        if (holder != null) {
          return java.util.Optional.of("MIG instance " + m.key() + " is leased to both " + holder
              + " and " + lease.owner());
        }
        if (devices.containsKey(m.gpu())) {
          return java.util.Optional.of(m.gpu() + " is leased whole to " + devices.get(m.gpu())
              + " and by a MIG instance to " + lease.owner());
        }
      }
    }
    return java.util.Optional.empty();
  }

  /**
   * One lease from its record form ({@link #encode(Lease)}), strictly.
   *
   * @throws io.gpuvirt.core.InvalidValueException naming what is wrong
   */
  static Lease decodeLease(String json) {
    try {
      JsonNode tree = MAPPER.readTree(json);
      if (tree == null || !tree.isObject()) {
        throw new io.gpuvirt.core.InvalidValueException("a lease record must be a JSON object, not "
            + oneLine(json));
      }
      if (!tree.has("vgpus")) {
        ((ObjectNode) tree).putArray("vgpus");
      }
      if (!tree.has("migs")) {
        ((ObjectNode) tree).putArray("migs");
      }
      return toLease(MAPPER.treeToValue(tree, LeaseRecord.class));
    } catch (IOException e) {
      throw new io.gpuvirt.core.InvalidValueException("not a lease record (" + oneLine(
          e.getMessage()) + ")");
    } catch (io.gpuvirt.core.InvalidValueException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new io.gpuvirt.core.InvalidValueException("invalid lease record (" + oneLine(
          String.valueOf(e.getMessage())) + ")");
    }
  }

  /** The format version of a ledger file's bytes (already decoded once, so well-formed). */
  static int version(byte[] bytes) {
    try {
      return MAPPER.readTree(bytes).get("version").asInt();
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * Version 1 to 2, on the tree: a version 1 lease was made by provisioning and recorded neither
   * the devices' driver_override (taken as none: teardown clears it, as version 1 did), nor the
   * VFIO driver (unknown: teardown then takes any VFIO driver the device is on as gpuvirt's), nor
   * a reset.
   * Fields a version 1 file should not have are left for the strict reader to refuse.
   */
  private static void migrateVersion1(ObjectNode tree) {
    tree.put("version", LedgerRecords.VERSION);
    JsonNode leases = tree.get("leases");
    if (leases == null || !leases.isArray()) {
      return;
    }
    for (JsonNode lease : leases) {
      if (!lease.isObject() || lease.has("origin")) {
        continue;
      }
      ((ObjectNode) lease).put("origin", LeaseOrigin.PROVISION.name());
      ((ObjectNode) lease).putNull("expiresAt");
      JsonNode groups = lease.get("groups");
      if (groups == null || !groups.isArray()) {
        continue;
      }
      for (JsonNode group : groups) {
        JsonNode devices = group.get("devices");
        if (devices == null || !devices.isArray()) {
          continue;
        }
        for (JsonNode device : devices) {
          if (device.isObject()) {
            ObjectNode d = (ObjectNode) device;
            d.putNull("originalOverride");
            d.putNull("vfioDriver");
            d.putNull("reset");
          }
        }
      }
    }
  }

  /** A lease without {@code vgpus} (every lease before vGPU leases, and any without) has none. */
  private static void addMissingVgpus(JsonNode tree) {
    JsonNode leases = tree.get("leases");
    if (leases == null || !leases.isArray()) {
      return;
    }
    for (JsonNode lease : leases) {
      if (lease.isObject() && !lease.has("vgpus")) {
        ((ObjectNode) lease).putArray("vgpus");
      }
      if (lease.isObject() && !lease.has("migs")) {
        ((ObjectNode) lease).putArray("migs");
      }
    }
  }

  private static LedgerFormatException corrupt(Path file, String what, Throwable cause) {
    return new LedgerFormatException(file, "lease ledger " + file + " is corrupt: " + what
        + ". gpuvirt will not reset it; restore it from a backup or repair it by hand (each "
        + "lease names its owner and IOMMU groups), then retry", cause);
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }

  private static LeaseRecord toRecord(Lease lease) {
    AllocationRequest q = lease.request();
    RequestRecord request = new RequestRecord(q.count(), q.selector().toString(),
        q.placement().name(), q.allowedForeign().stream().map(PciAddress::toString).toList());
    List<GroupRecord> groups = lease.groups().stream().map(g -> new GroupRecord(g.number(),
        g.devices().stream().map(LedgerCodec::toRecord).toList())).toList();
    return new LeaseRecord(lease.owner(), lease.origin().name(), lease.state().name(),
        lease.createdAt().toString(), lease.expiresAt().map(Instant::toString).orElse(null),
        request, lease.partitionId().isPresent() ? lease.partitionId().getAsInt() : null,
        lease.reasons(), groups, lease.vgpus().stream().map(LedgerCodec::toRecord).toList(),
        lease.migs().stream().map(m -> new MigRecord(m.gpu().toString(), m.profile(),
            m.profileId(), m.placement().toString(), m.gpuInstanceId().isPresent()
                ? m.gpuInstanceId().getAsInt() : null)).toList());
  }

  private static MigAssignment toMig(MigRecord r) {
    return new MigAssignment(PciAddress.parse(require(r.gpu(), "migs.gpu")),
        require(r.profile(), "migs.profile"), r.profileId(),
        MigPlacement.parse(require(r.placement(), "migs.placement")),
        r.gpuInstanceId() == null ? OptionalInt.empty() : OptionalInt.of(r.gpuInstanceId()));
  }

  private static VgpuRecord toRecord(VgpuAssignment v) {
    VgpuType t = v.type();
    return new VgpuRecord(v.pf().toString(), v.vf().map(PciAddress::toString).orElse(null),
        v.mdev().map(UUID::toString).orElse(null), t.id(), t.name(), t.series().name(),
        t.framebufferMib(), t.maxInstances(), t.migBacked());
  }

  private static VgpuAssignment toVgpu(VgpuRecord r) {
    VgpuType type = new VgpuType(r.typeId(), require(r.typeName(), "vgpus.typeName"),
        VgpuSeries.valueOf(require(r.series(), "vgpus.series")), r.framebufferMib(),
        r.maxInstances(), r.migBacked());
    PciAddress pf = PciAddress.parse(require(r.pf(), "vgpus.pf"));
    return new VgpuAssignment(pf, Optional.ofNullable(r.vf()).map(PciAddress::parse),
        Optional.ofNullable(r.mdev()).map(LedgerCodec::parseUuid), type);
  }

  private static UUID parseUuid(String text) {
    if (!text.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")) {
      throw new InvalidValueException("mdev UUID '" + text + "' is not a lower-case UUID");
    }
    return UUID.fromString(text);
  }

  private static DeviceRecord toRecord(LeasedDevice d) {
    return new DeviceRecord(d.address().toString(), d.role().name(), d.id().toString(),
        d.subsystem().toString(), d.pciClass().toString(), d.numaNode(),
        d.originalDriver().orElse(null), d.originalOverride().orElse(null),
        d.vfioDriver().orElse(null),
        d.reset().map(r -> new ResetRecord(r.driver(), r.methods())).orElse(null),
        d.physicalFunction().map(PciAddress::toString).orElse(null),
        d.moduleId().isPresent() ? d.moduleId().getAsInt() : null,
        d.bars().stream().map(b -> new BarRecord(b.index(), b.start(), b.size(), b.is64Bit(),
            b.prefetchable(), b.io())).toList());
  }

  private static Lease toLease(LeaseRecord r) {
    RequestRecord q = require(r.request(), "request");
    AllocationRequest request = AllocationRequest.builder(r.owner())
        .count(q.count())
        .selector(DeviceSelector.parse(q.selector()))
        .placement(Placement.valueOf(require(q.placement(), "placement")))
        .allowForeign(require(q.allowedForeign(), "allowedForeign").stream()
            .map(PciAddress::parse).toList())
        .build();
    List<LeasedGroup> groups = new ArrayList<>();
    for (GroupRecord g : require(r.groups(), "groups")) {
      List<LeasedDevice> devices = new ArrayList<>();
      for (DeviceRecord d : require(g.devices(), "devices")) {
        devices.add(new LeasedDevice(PciAddress.parse(d.address()),
            DeviceRole.valueOf(require(d.role(), "role")), PciId.parse(d.id()),
            PciId.parse(d.subsystem()), parseClass(d.pciClass()), d.numaNode(),
            Optional.ofNullable(d.originalDriver()).map(BindRequest::checkDriverName),
            Optional.ofNullable(d.originalOverride()).map(BindRequest::checkDriverName),
            require(d.bars(), "bars").stream().map(b -> new Bar(b.index(), b.start(), b.size(),
                b.is64Bit(), b.prefetchable(), b.io())).toList(),
            Optional.ofNullable(d.physicalFunction()).map(PciAddress::parse),
            d.moduleId() == null ? OptionalInt.empty() : OptionalInt.of(d.moduleId()),
            Optional.ofNullable(d.vfioDriver()).map(BindRequest::checkDriverName),
            Optional.ofNullable(d.reset()).map(x -> new DeviceReset(
                require(x.driver(), "reset.driver"), require(x.methods(), "reset.methods")))));
      }
      groups.add(new LeasedGroup(g.number(), devices));
    }
    return new Lease(r.owner(), LeaseOrigin.valueOf(require(r.origin(), "origin")),
        LeaseState.valueOf(require(r.state(), "state")), request, groups,
        r.partition() == null ? OptionalInt.empty() : OptionalInt.of(r.partition()),
        require(r.reasons(), "reasons"), Instant.parse(require(r.createdAt(), "createdAt")),
        Optional.ofNullable(r.expiresAt()).map(Instant::parse),
        require(r.vgpus(), "vgpus").stream().map(LedgerCodec::toVgpu).toList(),
        require(r.migs(), "migs").stream().map(LedgerCodec::toMig).toList());
  }

  private static PciClass parseClass(String text) {
    if (text == null || !text.matches("0x[0-9a-f]{6}")) {
      throw new InvalidValueException("class '" + text + "' is not 0x and 6 hex digits");
    }
    return new PciClass(Integer.parseInt(text.substring(2), 16));
  }

  private static <T> T require(T value, String field) {
    if (value == null) {
      throw new InvalidValueException("\"" + field + "\" is null");
    }
    return value;
  }
}
