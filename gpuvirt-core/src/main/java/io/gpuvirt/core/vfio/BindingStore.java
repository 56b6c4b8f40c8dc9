package io.gpuvirt.core.vfio;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.internal.AtomicFiles;
import io.gpuvirt.core.internal.BoundedFiles;
import io.gpuvirt.core.internal.DirectoryLock;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The bindings gpuvirt made on a host, kept in a state directory so that a later process can put
 * the devices back on their original drivers: {@value #FILE}, replaced atomically (temporary file,
 * fsync, rename, fsync of the directory) under an exclusive lock on {@value #LOCK} that orders
 * threads and processes.
 *
 * <pre>{@code
 * BindingStore store = BindingStore.open(Path.of("/var/lib/gpuvirt"));
 * try (BindingStore.Session session = store.lock()) {
 *   List<StoredBinding> held = session.bindings();
 *   // ... bind or restore, then
 *   session.replace(updated);
 * }
 * }</pre>
 *
 * <p>A file that is corrupt or of a newer format is refused, never reset.
 */
public final class BindingStore {
  /** The file name of the bindings in the state directory. */
  public static final String FILE = "bindings.json";
  /** The lock file name in the state directory. */
  public static final String LOCK = "bindings.lock";

  private static final String FORMAT = "gpuvirt-bindings";
  private static final int VERSION = 1;
  private static final Set<String> FIELDS = Set.of("address", "iommuGroup", "driver",
      "originalDriver", "originalOverride", "boundByGpuvirt", "phase");
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(SerializationFeature.INDENT_OUTPUT)
      .build();

  private final Path directory;
  private final Path file;

  private BindingStore(Path directory) {
    this.directory = directory;
    this.file = directory.resolve(FILE);
  }

  /**
   * Opens the store in {@code directory}, creating the directory if it is missing.
   *
   * @throws GpuvirtException if the directory cannot be created
   */
  public static BindingStore open(Path directory) {
    Objects.requireNonNull(directory, "directory");
    try {
      Files.createDirectories(directory);
    } catch (IOException e) {
      throw new GpuvirtException("cannot create the state directory " + directory + " (" + e
          + "); pass a writable directory with --state or run as root", e);
    }
    return new BindingStore(directory);
  }

  /** The state directory. */
  public Path directory() {
    return directory;
  }

  /** The bindings file, {@code <directory>/}{@value #FILE}. */
  public Path file() {
    return file;
  }

  /**
   * Waits for and takes the store's exclusive lock. Not reentrant: one operation takes it once.
   *
   * @throws GpuvirtException if the lock file cannot be created or locked
   */
  public Session lock() {
    Path lockFile = directory.resolve(LOCK);
    try {
      return new Session(DirectoryLock.acquire(lockFile));
    } catch (IOException | RuntimeException e) {
      throw new GpuvirtException("cannot lock the binding store " + lockFile + " (" + e
          + "); check that the state directory is writable by this user", e);
    }
  }

  /** The stored bindings, read under the lock. */
  public List<StoredBinding> bindings() {
    try (Session session = lock()) {
      return session.bindings();
    }
  }

  /** The store while its lock is held: read and replace the bindings, then close. */
  public final class Session implements AutoCloseable {
    private final DirectoryLock lock;

    private Session(DirectoryLock lock) {
      this.lock = lock;
    }

    /**
     * The stored bindings in address order; none when there is no file yet.
     *
     * @throws GpuvirtException if the file cannot be read or is not a bindings file this version
     *     understands; the message names the file and the fix
     */
    public List<StoredBinding> bindings() {
      byte[] bytes;
      try {
        bytes = BoundedFiles.read(file, BoundedFiles.STATE_FILE_MAX);
      } catch (NoSuchFileException e) {
        return List.of();
      } catch (BoundedFiles.RefusedFileException e) {
        throw new GpuvirtException("refusing the binding store " + file + ": it is " + e.found()
            + ", not a bindings file; restore it from a backup", e);
      } catch (IOException e) {
        throw new GpuvirtException("cannot read the binding store " + file + " (" + e
            + "); check its permissions", e);
      }
      return decode(file, bytes);
    }

    /**
     * Replaces the stored bindings, durably.
     *
     * @throws InvalidValueException if two bindings name the same device
     * @throws GpuvirtException if the file cannot be written; it then holds the previous bindings
     */
    public void replace(Collection<StoredBinding> bindings) {
      byte[] bytes = encode(bindings);
      try {
        AtomicFiles.replace(file, bytes);
      } catch (IOException e) {
        throw new GpuvirtException("cannot write the binding store " + file + " (" + e
            + "); it still holds the previous bindings; check free space and permissions of "
            + directory, e);
      }
    }

    @Override
    public void close() {
      lock.close();
    }
  }

  static byte[] encode(Collection<StoredBinding> bindings) {
    TreeMap<PciAddress, StoredBinding> byAddress = new TreeMap<>();
    for (StoredBinding s : bindings) {
      if (byAddress.put(s.binding().address(), s) != null) {
        throw new InvalidValueException("two stored bindings for "
            + s.binding().address() + "; keep one");
      }
    }
    ObjectNode root = MAPPER.createObjectNode();
    root.put("format", FORMAT);
    root.put("version", VERSION);
    ArrayNode list = root.putArray("bindings");
    for (StoredBinding s : byAddress.values()) {
      DeviceBinding b = s.binding();
      ObjectNode node = list.addObject();
      node.put("address", b.address().toString());
      node.put("iommuGroup", b.iommuGroup());
      node.put("driver", b.driver());
      node.put("originalDriver", b.originalDriver().orElse(null));
      node.put("originalOverride", b.originalOverride().orElse(null));
      node.put("boundByGpuvirt", b.boundByGpuvirt());
      node.put("phase", s.phase().name());
    }
    try {
      return (MAPPER.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode bindings", e);
    }
  }

  static List<StoredBinding> decode(Path file, byte[] bytes) {
    JsonNode root;
    try {
      root = MAPPER.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw corrupt(file, "it is not JSON (" + e.getOriginalMessage() + ")");
    } catch (IOException e) {
      throw corrupt(file, "it is not JSON (" + e.getMessage() + ")");
    }
    if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText(null))) {
      throw corrupt(file, "it has no \"format\": \"" + FORMAT + "\"");
    }
    JsonNode version = root.path("version");
    if (!version.isInt() || version.intValue() < 1) {
      throw corrupt(file, "\"version\" is not a positive integer");
    }
    if (version.intValue() > VERSION) {
      throw new GpuvirtException("the binding store " + file + " has format version "
          + version.intValue() + ", newer than this gpuvirt understands (" + VERSION
          + "); use the gpuvirt that wrote it");
    }
    JsonNode list = root.path("bindings");
    if (!list.isArray()) {
      throw corrupt(file, "\"bindings\" is not a list");
    }
    List<StoredBinding> out = new ArrayList<>();
    TreeMap<PciAddress, Boolean> seen = new TreeMap<>();
    for (JsonNode node : list) {
      StoredBinding s = binding(file, node);
      if (seen.put(s.binding().address(), Boolean.TRUE) != null) {
        throw corrupt(file, s.binding().address() + " is listed twice");
      }
      out.add(s);
    }
    out.sort(Comparator.comparing(s -> s.binding().address()));
    return List.copyOf(out);
  }

  private static StoredBinding binding(Path file, JsonNode node) {
    if (!node.isObject()) {
      throw corrupt(file, "a binding is not an object: " + node);
    }
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!FIELDS.contains(name)) {
        throw corrupt(file, "unknown field \"" + name + "\" in " + node);
      }
    }
    try {
      PciAddress address = PciAddress.parse(text(node, "address").orElseThrow(
          () -> new InvalidValueException("no address")));
      JsonNode group = node.path("iommuGroup");
      if (!group.isInt()) {
        throw new InvalidValueException("iommuGroup is not a number");
      }
      String driver = BindRequest.checkDriverName(text(node, "driver").orElseThrow(
          () -> new InvalidValueException("no driver")));
      Optional<String> original = text(node, "originalDriver").map(BindRequest::checkDriverName);
      Optional<String> override = text(node, "originalOverride").map(BindRequest::checkDriverName);
      JsonNode byGpuvirt = node.path("boundByGpuvirt");
      if (!byGpuvirt.isBoolean()) {
        throw new InvalidValueException("boundByGpuvirt is not true or false");
      }
      StoredBinding.Phase phase = StoredBinding.Phase.valueOf(text(node, "phase").orElseThrow(
          () -> new InvalidValueException("no phase")));
      return new StoredBinding(new DeviceBinding(address, group.intValue(), original, override,
          driver, byGpuvirt.booleanValue()), phase);
    } catch (IllegalArgumentException | GpuvirtException e) {
      throw corrupt(file, "bad binding " + node + ": " + e.getMessage());
    }
  }

  private static Optional<String> text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isTextual()) {
      throw new InvalidValueException(field + " is not a string");
    }
    return Optional.of(value.textValue());
  }

  private static GpuvirtException corrupt(Path file, String why) {
    return new GpuvirtException("the binding store " + file + " is corrupt: " + why
        + "; nothing was changed. Fix or move the file aside (devices it lists stay on their VFIO"
        + " driver until restored by hand)");
  }
}
