package io.gpuvirt.qemu.qmp;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.CpuArchitecture;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.QemuVersion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client of QEMU's machine protocol (QMP) over a Unix domain socket ({@code -qmp
 * unix:/run/vm.qmp,server=on,wait=off}).
 *
 * <p>{@link #connect} reads QEMU's greeting and negotiates capabilities; then commands run one at
 * a time, each waiting up to a timeout for its reply. Events that arrive meanwhile are kept (the
 * most recent {@value #EVENT_BUFFER}) for {@link #awaitEvent} and {@link #drainEvents}. When QEMU
 * exits or closes the socket, every waiting and later call fails with {@link QmpClosedException}.
 *
 * <pre>{@code
 * try (QmpClient qmp = QmpClient.connect(Path.of("/run/gpuvirt/vm-42.qmp"), Duration.ofSeconds(10))) {
 *   QemuVersion v = qmp.queryVersion();
 *   qmp.deviceAdd(Map.of("driver", "vfio-pci", "host", "0000:41:00.0", "id", "gpu1", "bus", "hp0"));
 *   qmp.deviceDel("gpu1", Duration.ofSeconds(30));   // returns when the guest has released it
 * }
 * }</pre>
 */
public final class QmpClient implements AutoCloseable {
  /** How many unclaimed events are kept; older ones are dropped. */
  public static final int EVENT_BUFFER = 1024;

  private static final Logger LOG = LoggerFactory.getLogger(QmpClient.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNode CLOSED = JSON.createObjectNode().put("closed", true);

  private final Path socket;
  private final SocketChannel channel;
  private final Duration timeout;
  private final BlockingQueue<JsonNode> replies = new LinkedBlockingQueue<>();
  private final ReentrantLock eventLock = new ReentrantLock();
  private final Condition eventArrived = eventLock.newCondition();
  private final Deque<QmpEvent> events = new ArrayDeque<>();
  private final Object commandLock = new Object();
  private final AtomicLong ids = new AtomicLong();
  private final Thread reader;
  private volatile boolean closed;
  private volatile Throwable closeCause;
  private volatile JsonNode greeting;

  private QmpClient(Path socket, SocketChannel channel, Duration timeout) {
    this.socket = socket;
    this.channel = channel;
    this.timeout = timeout;
    this.reader = new Thread(this::readLoop, "qmp-reader " + socket.getFileName());
    this.reader.setDaemon(true);
  }

  /**
   * Connects to a QMP socket, waiting up to {@code timeout} for QEMU to create it and greet, and
   * negotiates capabilities. {@code timeout} is also each later command's reply timeout.
   *
   * @throws QmpException when nothing listens on the socket within the timeout, or the peer does
   *     not speak QMP
   */
  public static QmpClient connect(Path socket, Duration timeout) {
    Objects.requireNonNull(socket, "socket");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new InvalidValueException("QMP timeout must be positive, was " + timeout);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    SocketChannel ch = null;
    IOException last = null;
    while (ch == null) {
      try {
        ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
      } catch (IOException e) {
        last = e;
        if (System.nanoTime() > deadline) {
          throw new QmpException("cannot connect to QMP socket " + socket + " within "
              + timeout.toMillis() + " ms: " + e.getMessage() + "; check that QEMU runs with"
              + " -qmp unix:" + socket + ",server=on,wait=off", e);
        }
        sleep(Duration.ofMillis(20));
      }
    }
    LOG.debug("connected to {} (after {})", socket, last == null ? "first try" : last.toString());
    QmpClient client = new QmpClient(socket, ch, timeout);
    client.reader.start();
    try {
      client.awaitGreeting(deadline);
      client.execute("qmp_capabilities");
    } catch (RuntimeException e) {
      client.close();
      throw e;
    }
    return client;
  }

  /** The socket this client is connected to. */
  public Path socket() {
    return socket;
  }

  /** The QEMU version from the greeting. */
  public QemuVersion greetingVersion() {
    return version(greeting.path("QMP").path("version"), "greeting");
  }

  /** Whether the connection is still open. */
  public boolean isOpen() {
    return !closed;
  }

  /** Runs a command without arguments and returns its {@code return} value. */
  public JsonNode execute(String command) {
    return execute(command, Map.of(), timeout);
  }

  /** Runs a command and returns its {@code return} value. */
  public JsonNode execute(String command, Map<String, ?> arguments) {
    return execute(command, arguments, timeout);
  }

  /**
   * Runs a command and returns its {@code return} value, waiting at most {@code wait} for the
   * reply.
   *
   * @throws QmpErrorException when QEMU answers with an error
   * @throws QmpTimeoutException when no reply comes in time
   * @throws QmpClosedException when the connection is or becomes closed
   */
  public JsonNode execute(String command, Map<String, ?> arguments, Duration wait) {
    Objects.requireNonNull(command, "command");
    Objects.requireNonNull(arguments, "arguments");
    synchronized (commandLock) {
      String id = "gpuvirt-" + ids.incrementAndGet();
      ObjectNode message = JSON.createObjectNode();
      message.put("execute", command);
      if (!arguments.isEmpty()) {
        message.set("arguments", JSON.valueToTree(arguments));
      }
      message.put("id", id);
      send(command, message);
      long deadline = System.nanoTime() + wait.toNanos();
      while (true) {
        JsonNode reply;
        try {
          reply = replies.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new QmpException("interrupted while waiting for the reply to '" + command
              + "' on " + socket, e);
        }
        if (reply == null) {
          throw new QmpTimeoutException("QEMU did not answer '" + command + "' on " + socket
              + " within " + wait.toMillis() + " ms; QEMU may be stuck (a large-BAR mapping"
              + " stall, a paused VM); check the QEMU process and its log");
        }
        if (reply == CLOSED) {
          replies.offer(CLOSED);
          throw closedException("waiting for the reply to '" + command + "'");
        }
        if (!id.equals(reply.path("id").asText())) {
          LOG.debug("dropping stale QMP reply {}", reply);
          continue;
        }
        if (reply.has("error")) {
          JsonNode error = reply.get("error");
          throw new QmpErrorException(command, error.path("class").asText("GenericError"),
              error.path("desc").asText(""));
        }
        return reply.path("return");
      }
    }
  }

  /** QMP {@code query-version}. */
  public QemuVersion queryVersion() {
    return version(execute("query-version"), "query-version");
  }

  /**
   * QMP {@code query-pci}: the devices on the guest's root buses, each bridge with the devices
   * behind it as far as the firmware has numbered its buses.
   */
  public List<QmpPciDevice> queryPci() {
    JsonNode buses = execute("query-pci");
    List<QmpPciDevice> out = new ArrayList<>();
    for (JsonNode bus : buses) {
      for (JsonNode d : bus.path("devices")) {
        out.add(pciDevice(d));
      }
    }
    return List.copyOf(out);
  }

  /**
   * QMP {@code device-list-properties}: the property names of a device type in the running
   * binary.
   *
   * @throws QmpErrorException ({@code DeviceNotFound}) when the binary has no such type
   */
  public List<String> deviceListProperties(String typename) {
    List<String> names = new ArrayList<>();
    for (JsonNode p : execute("device-list-properties", Map.of("typename", typename))) {
      names.add(p.path("name").asText());
    }
    return List.copyOf(names);
  }

  /**
   * The running binary's capabilities, read through QMP the way {@link QemuProbe} reads them from
   * the command line: version, machines, accelerators, and the properties of
   * {@link QemuProbe#DEFAULT_DEVICE_TYPES} and {@code extraDeviceTypes}.
   */
  public QemuCapabilities capabilities(List<String> extraDeviceTypes) {
    QemuCapabilities.Builder caps = QemuCapabilities.builder(queryVersion());
    List<String> machines = new ArrayList<>();
    for (JsonNode m : execute("query-machines")) {
      machines.add(m.path("name").asText());
      if (m.hasNonNull("alias")) {
        machines.add(m.get("alias").asText());
      }
    }
    caps.machines(machines);
    List<String> accels = new ArrayList<>();
    for (JsonNode t : execute("qom-list-types", Map.of("implements", "accel"))) {
      String name = t.path("name").asText();
      if (name.endsWith("-accel") && !t.path("abstract").asBoolean(false)) {
        accels.add(name.substring(0, name.length() - "-accel".length()));
      }
    }
    caps.accelerators(accels);
    CpuArchitecture arch = CpuArchitecture.parse(execute("query-target").path("arch").asText());
    caps.architecture(arch);
    List<String> objects = new ArrayList<>();
    for (JsonNode t : execute("qom-list-types", Map.of("implements", "user-creatable",
        "abstract", false))) {
      objects.add(t.path("name").asText());
    }
    caps.objects(objects);
    Set<String> types = new LinkedHashSet<>(arch == CpuArchitecture.AARCH64
        ? QemuProbe.DEFAULT_AARCH64_DEVICE_TYPES : QemuProbe.DEFAULT_DEVICE_TYPES);
    types.addAll(extraDeviceTypes);
    for (String type : types) {
      try {
        caps.device(type, deviceListProperties(type));
      } catch (QmpErrorException e) {
        if (!"DeviceNotFound".equals(e.errorClass())) {
          throw e;
        }
        caps.absentDevice(type);
      }
    }
    return caps.build();
  }

  /**
   * QMP {@code device_add}: adds a device with these properties ({@code driver} and {@code id}
   * required; values as JSON strings, numbers or booleans), usually a {@code vfio-pci} device
   * into an empty hotplug root port.
   */
  public void deviceAdd(Map<String, ?> properties) {
    if (!properties.containsKey("driver") || !properties.containsKey("id")) {
      throw new InvalidValueException("device_add needs 'driver' and 'id', got "
          + properties.keySet());
    }
    execute("device_add", properties);
  }

  /**
   * QMP {@code device_del}, then waits for {@code DEVICE_DELETED} of that id: {@code device_del}
   * only asks the guest to release the device, and the host device stays with QEMU until the
   * guest does (or the VM resets).
   *
   * @throws QmpTimeoutException when the guest does not release it in time
   */
  public void deviceDel(String id, Duration wait) {
    Objects.requireNonNull(id, "id");
    long start = System.nanoTime();
    execute("device_del", Map.of("id", id), wait);
    Duration left = wait.minusNanos(System.nanoTime() - start);
    try {
      awaitEvent("DEVICE_DELETED", e -> e.text("device").filter(id::equals).isPresent(),
          left.isNegative() ? Duration.ZERO : left);
    } catch (QmpTimeoutException e) {
      throw new QmpTimeoutException("device " + id + " was not released by the guest within "
          + wait.toMillis() + " ms after device_del; the guest OS must acknowledge the unplug"
          + " (or the VM must reset); the host device stays with QEMU until then");
    }
  }

  /**
   * Waits for an event named {@code name} that matches {@code filter}, taking it from the buffer
   * if it already arrived.
   *
   * @throws QmpTimeoutException when none arrives in time
   * @throws QmpClosedException when the connection closes first
   */
  public QmpEvent awaitEvent(String name, Predicate<QmpEvent> filter, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    eventLock.lock();
    try {
      while (true) {
        for (Iterator<QmpEvent> it = events.iterator(); it.hasNext(); ) {
          QmpEvent e = it.next();
          if (e.name().equals(name) && filter.test(e)) {
            it.remove();
            return e;
          }
        }
        if (closed) {
          throw closedException("waiting for event " + name);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new QmpTimeoutException("no " + name + " event on " + socket + " within "
              + wait.toMillis() + " ms");
        }
        eventArrived.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new QmpException("interrupted while waiting for event " + name + " on " + socket, e);
    } finally {
      eventLock.unlock();
    }
  }

  /** Takes every buffered event, oldest first. */
  public List<QmpEvent> drainEvents() {
    eventLock.lock();
    try {
      List<QmpEvent> out = List.copyOf(events);
      events.clear();
      return out;
    } finally {
      eventLock.unlock();
    }
  }

  /** Closes the socket; QEMU keeps running. Idempotent. */
  @Override
  public void close() {
    markClosed(null);
    try {
      channel.close();
    } catch (IOException e) {
      LOG.debug("closing {}: {}", socket, e.toString());
    }
  }

  private void awaitGreeting(long deadline) {
    while (greeting == null) {
      if (closed) {
        throw closedException("waiting for QEMU's greeting");
      }
      if (System.nanoTime() > deadline) {
        throw new QmpTimeoutException("no QMP greeting on " + socket + " in time; is this a"
            + " QMP socket (-qmp, not -monitor)?");
      }
      sleep(Duration.ofMillis(5));
    }
  }

  private void send(String command, ObjectNode message) {
    if (closed) {
      throw closedException("sending '" + command + "'");
    }
    byte[] bytes;
    try {
      bytes = (JSON.writeValueAsString(message) + "\r\n").getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new QmpException("cannot encode QMP command '" + command + "': " + e.getMessage(), e);
    }
    LOG.debug("QMP {} -> {}", socket, message);
    ByteBuffer buf = ByteBuffer.wrap(bytes);
    try {
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
    } catch (IOException e) {
      markClosed(e);
      throw closedException("sending '" + command + "'");
    }
  }

  /** The longest QMP message accepted (a query-pci of a large VM is well below it). */
  static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  private void readLoop() {
    ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    try {
      while (true) {
        buf.clear();
        int n = channel.read(buf);
        if (n < 0) {
          markClosed(null);
          return;
        }
        buf.flip();
        while (buf.hasRemaining()) {
          byte b = buf.get();
          if (b == '\n') {
            dispatch(line.toByteArray());
            line.reset();
          } else if (line.size() >= MAX_MESSAGE_BYTES) {
            throw new QmpException(socket + " sent more than " + MAX_MESSAGE_BYTES
                + " bytes without a newline; this is not a QMP peer, closing");
          } else {
            line.write(b);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      markClosed(e);
    }
  }

  private void dispatch(byte[] bytes) {
    String text = new String(bytes, StandardCharsets.UTF_8).strip();
    if (text.isEmpty()) {
      return;
    }
    JsonNode msg;
    try {
      msg = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new QmpException("not QMP on " + socket + ": '" + abbreviate(text) + "'", e);
    }
    LOG.debug("QMP {} <- {}", socket, abbreviate(text));
    if (msg.has("QMP")) {
      greeting = msg;
    } else if (msg.has("event")) {
      JsonNode ts = msg.path("timestamp");
      Instant when = Instant.ofEpochSecond(ts.path("seconds").asLong(),
          ts.path("microseconds").asLong() * 1000);
      QmpEvent event = new QmpEvent(msg.get("event").asText(), msg.get("data"), when);
      eventLock.lock();
      try {
        if (events.size() >= EVENT_BUFFER) {
          events.removeFirst();
        }
        events.addLast(event);
        eventArrived.signalAll();
      } finally {
        eventLock.unlock();
      }
    } else if (msg.has("return") || msg.has("error")) {
      replies.offer(msg);
    } else {
      LOG.debug("ignoring unknown QMP message {}", abbreviate(text));
    }
  }

  private void markClosed(Throwable cause) {
    if (closed) {
      return;
    }
    closeCause = cause;
    closed = true;
    replies.offer(CLOSED);
    eventLock.lock();
    try {
      eventArrived.signalAll();
    } finally {
      eventLock.unlock();
    }
  }

  private QmpClosedException closedException(String doing) {
    Throwable cause = closeCause;
    return new QmpClosedException("QMP connection " + socket + " is closed (" + doing + "): "
        + (cause == null ? "QEMU closed the socket or exited, or the client was closed"
            : cause.toString()) + "; check whether the QEMU process is still running", cause);
  }

  private static QemuVersion version(JsonNode v, String where) {
    JsonNode q = v.path("qemu");
    if (!q.path("major").isInt() || !q.path("minor").isInt() || !q.path("micro").isInt()) {
      throw new QmpException("QMP " + where + " has no qemu.major/minor/micro: " + v);
    }
    String pkg = v.path("package").asText("").strip();
    if (pkg.startsWith("(") && pkg.endsWith(")")) {
      pkg = pkg.substring(1, pkg.length() - 1);
    }
    return new QemuVersion(q.get("major").asInt(), q.get("minor").asInt(),
        q.get("micro").asInt(), pkg);
  }

  private static QmpPciDevice pciDevice(JsonNode d) {
    JsonNode id = d.path("id");
    OptionalInt secondary = OptionalInt.empty();
    List<QmpPciDevice> children = new ArrayList<>();
    if (d.has("pci_bridge")) {
      JsonNode bridge = d.get("pci_bridge");
      secondary = OptionalInt.of(bridge.path("bus").path("secondary").asInt());
      for (JsonNode c : bridge.path("devices")) {
        children.add(pciDevice(c));
      }
    }
    List<QmpPciDevice.Region> regions = new ArrayList<>();
    for (JsonNode r : d.path("regions")) {
      regions.add(new QmpPciDevice.Region(r.path("bar").asInt(),
          "memory".equals(r.path("type").asText()), r.path("address").asLong(),
          r.path("size").asLong(), r.path("prefetch").asBoolean(false),
          r.path("mem_type_64").asBoolean(false)));
    }
    return new QmpPciDevice(d.path("bus").asInt(), d.path("slot").asInt(),
        d.path("function").asInt(), new PciClass(d.path("class_info").path("class").asInt() << 8),
        new PciId(id.path("vendor").asInt(), id.path("device").asInt()),
        d.path("qdev_id").asText(""), secondary, children, regions);
  }

  private static String abbreviate(String s) {
    return s.length() <= 300 ? s : s.substring(0, 297) + "...";
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new QmpException("interrupted while connecting to QMP", e);
    }
  }
}
