package io.gpuvirt.qemu.command;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.vmplan.VmPlan;
import io.gpuvirt.qemu.QemuVersion;
import java.util.List;
import java.util.Objects;

/**
 * What {@link QemuCommandBuilder} produced: the argv (program first, every option value
 * escaped), the plan that explains each choice, and where every device went: gpuvirt-qemu's
 * {@link VmPlan}, as {@link QemuVmPlanner} hands it to the provisioner.
 *
 * @param argv the command line, program first, ready for {@code CommandRunner} or a unit file
 * @param plan the decisions, in the order they were made
 * @param rootPorts the root ports, cold-plugged first, then the empty hotplug ports
 * @param devices the passed-through functions and where the guest sees them
 * @param aperture the 64-bit MMIO aperture the devices need
 * @param requiredPhysBits the guest physical address bits the aperture needs after guest RAM
 * @param qemuVersion the QEMU version the command was built for
 * @param machine the VM-level settings (machine, CPU, memory, firmware, disk), typed
 * @param expanderBuses the {@code pxb-pcie} buses of NUMA placement, empty without it
 */
public record QemuArgs(List<String> argv, List<Decision> plan, List<RootPort> rootPorts,
    List<PlacedDevice> devices, MmioAperture aperture, int requiredPhysBits,
    QemuVersion qemuVersion, GuestMachine machine, List<ExpanderBus> expanderBuses)
    implements VmPlan {

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT);

  public QemuArgs {
    argv = List.copyOf(argv);
    plan = List.copyOf(plan);
    rootPorts = List.copyOf(rootPorts);
    devices = List.copyOf(devices);
    expanderBuses = List.copyOf(expanderBuses);
    Objects.requireNonNull(aperture, "aperture");
    Objects.requireNonNull(qemuVersion, "qemuVersion");
    Objects.requireNonNull(machine, "machine");
  }

  /** The plan's decisions, one line each ({@link Decision#toString()}), in order. */
  @Override
  public List<String> describe() {
    return plan.stream().map(Decision::toString).toList();
  }

  /** The plan entries the operator should act on. */
  public List<Decision> warnings() {
    return plan.stream().filter(Decision::warning).toList();
  }

  /** The plan entries of one topic. */
  public List<Decision> plan(Decision.Topic topic) {
    return plan.stream().filter(d -> d.topic() == topic).toList();
  }

  /** The empty hotplug root ports, for {@code device_add}. */
  public List<RootPort> hotplugPorts() {
    return rootPorts.stream().filter(RootPort::hotplug).toList();
  }

  /**
   * The argv as one POSIX shell command to copy and paste: every element quoted where the shell
   * would read it otherwise, an option and its value on one line, lines joined by backslash-newline
   * continuations. It is for a person at a shell; programs run {@link #argv()} as a list.
   */
  public String toShell() {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < argv.size(); i++) {
      String a = argv.get(i);
      boolean pair = i > 0 && a.startsWith("-") && i + 1 < argv.size()
          && !argv.get(i + 1).startsWith("-");
      if (i > 0) {
        s.append(" \\\n  ");
      }
      s.append(shellQuote(a));
      if (pair) {
        s.append(' ').append(shellQuote(argv.get(++i)));
      }
    }
    return s.append('\n').toString();
  }

  /** {@code word} as the shell reads it back: bare when safe, else in single quotes. */
  static String shellQuote(String word) {
    if (!word.isEmpty() && word.chars().allMatch(c -> (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "_@%+=:,./-".indexOf(c) >= 0)) {
      return word;
    }
    return "'" + word.replace("'", "'\\''") + "'";
  }

  /** The argv, the plan and the placement as a JSON document. */
  public String toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("qemuVersion", qemuVersion.toString());
    ArrayNode args = root.putArray("argv");
    argv.forEach(args::add);
    ArrayNode planNode = root.putArray("plan");
    for (Decision d : plan) {
      ObjectNode n = planNode.addObject();
      n.put("topic", d.topic().name());
      n.put("subject", d.subject());
      n.put("choice", d.choice());
      n.put("reason", d.reason());
      d.cost().ifPresent(c -> n.put("cost", c));
      n.put("warning", d.warning());
    }
    ArrayNode ports = root.putArray("rootPorts");
    for (RootPort p : rootPorts) {
      ObjectNode n = ports.addObject();
      n.put("id", p.id());
      n.put("addr", p.addr());
      n.put("chassis", p.chassis());
      n.put("slot", p.slot());
      n.put("hotplug", p.hotplug());
    }
    ArrayNode devs = root.putArray("devices");
    for (PlacedDevice d : devices) {
      ObjectNode n = devs.addObject();
      n.put("host", d.host().toString());
      n.put("id", d.id());
      n.put("rootPort", d.rootPort());
      n.put("function", d.function());
      n.put("role", d.role().name());
    }
    ObjectNode ap = root.putObject("aperture");
    ap.put("requiredBytes", aperture.requiredBytes());
    ap.put("headroomBytes", aperture.headroomBytes());
    ap.put("sizeBytes", aperture.sizeBytes());
    ap.put("sizeMiB", aperture.sizeMiB());
    ArrayNode windows = ap.putArray("windows");
    for (MmioAperture.PortWindow w : aperture.windows()) {
      ObjectNode n = windows.addObject();
      n.put("port", w.port());
      n.put("offset", w.offset());
      n.put("size", w.size());
      n.put("alignment", w.alignment());
    }
    root.put("requiredPhysBits", requiredPhysBits);
    try {
      return JSON.writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new GpuvirtException("could not write the QEMU plan as JSON: " + e.getMessage(), e);
    }
  }
}
