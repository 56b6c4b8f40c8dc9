package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.BindResult;
import io.gpuvirt.core.vfio.BindingStore;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.GroupRefusedException;
import io.gpuvirt.core.vfio.RestoreResult;
import io.gpuvirt.core.vfio.StoredBinding;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.core.vfio.VfioGroupNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt bind [--driver NAME] BDF... [--allow BDF]... [--reset]} binds the IOMMU groups of
 * the devices to a VFIO driver; {@code gpuvirt bind --restore BDF...} puts the groups back on the
 * drivers they had. Both take {@code [--root DIR] [--state DIR] [--json]}. What was bound is kept
 * in {@code <state>/bindings.json}, so a later process can restore it.
 */
@Command(name = "bind", mixinStandardHelpOptions = true,
    description = {"Bind the IOMMU groups of the given devices to vfio-pci (or a variant driver),"
        + " or restore them to the drivers they had.",
        "Every endpoint of each device's group is bound (the audio function goes with its GPU);"
            + " a group with an endpoint that was not asked for is refused unless allowed with"
            + " --allow. The original drivers are recorded in the state directory; --restore puts"
            + " back exactly what gpuvirt bound and nothing else. A failure at any step puts every"
            + " device back where it was."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:bound (or already bound) / restored",
        "1:refused, nothing changed: a foreign device in a group, the IOMMU off, a partial"
            + " group, or a restore of a device gpuvirt has no record of",
        "2:error: bad arguments, an unknown device, an unreadable host or state, or a failed"
            + " step (rolled back; the message names the device, the step and the fix)"})
final class BindCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "BDF",
      description = "PCI addresses (0000:17:00.0) of devices whose groups to bind or restore.")
  List<String> devices = new ArrayList<>();

  @Option(names = "--driver", paramLabel = "NAME", defaultValue = BindRequest.VFIO_PCI,
      description = "The VFIO driver to bind to (default: ${DEFAULT-VALUE}; a variant such as"
          + " nvgrace_gpu_vfio_pci).")
  String driver;

  @Option(names = "--restore",
      description = "Put the groups of the given devices back on the drivers they had before"
          + " gpuvirt bound them.")
  boolean restore;

  @Option(names = "--allow", paramLabel = "BDF",
      description = "An endpoint that may be bound along with a requested device because it"
          + " shares its IOMMU group (a NIC behind a switch without ACS). Repeatable.")
  List<String> allow = new ArrayList<>();

  @Option(names = "--reset",
      description = "Function-reset each device that offers it, on its host driver, before"
          + " binding.")
  boolean reset;

  @Option(names = "--root", paramLabel = "DIR", defaultValue = "/",
      description = "Host root that holds sys/ (default: ${DEFAULT-VALUE}).")
  Path root;

  @Option(names = "--state", paramLabel = "DIR",
      description = "State directory for bindings.json (default: /var/lib/gpuvirt, or"
          + " <root>/var/lib/gpuvirt with --root).")
  Path state;

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Override
  public Integer call() {
    if (restore && (spec.commandLine().getParseResult().hasMatchedOption("--driver")
        || !allow.isEmpty() || reset)) {
      throw new ParameterException(spec.commandLine(),
          "--restore takes only BDFs, --root, --state and --json (not --driver, --allow or"
              + " --reset): it puts back the drivers recorded at bind time");
    }
    List<PciAddress> addresses = devices.stream().map(PciAddress::parse).distinct().toList();
    List<PciAddress> allowed = allow.stream().map(PciAddress::parse).toList();
    PrintWriter err = spec.commandLine().getErr();
    try (HostContext host = HostContext.open(root, state)) {
      Sysfs sysfs = host.sysfs();
      TopologyScanner.scan(sysfs);
      BindingStore store = BindingStore.open(host.stateDirectory());
      return restore ? restore(sysfs, store, addresses) : bind(sysfs, store, addresses, allowed);
    } catch (GroupRefusedException e) {
      err.println("gpuvirt: refused: " + e.getMessage());
      return Cli.REFUSED;
    }
  }

  private int bind(Sysfs sysfs, BindingStore store, List<PciAddress> addresses,
      List<PciAddress> allowed) {
    BindRequest request = BindRequest.builder().devices(addresses).allowForeignDevices(allowed)
        .driver(driver).resetBeforeBind(reset).build();
    VfioBinder binder = VfioBinder.on(sysfs);
    try (BindingStore.Session session = store.lock()) {
      TreeMap<PciAddress, StoredBinding> stored = byAddress(session.bindings());
      List<PciDevice> planned = binder.plan(request);
      List<PciAddress> interrupted = planned.stream().map(PciDevice::address)
          .filter(a -> stored.containsKey(a)
              && stored.get(a).phase() == StoredBinding.Phase.BINDING).toList();
      if (!interrupted.isEmpty()) {
        spec.commandLine().getErr().println("gpuvirt: refused: an earlier bind of " + interrupted
            + " was interrupted; run 'gpuvirt bind --restore " + interrupted.get(0)
            + "' first to put it back, then bind again");
        return Cli.REFUSED;
      }
      List<StoredBinding> intents = new ArrayList<>();
      for (PciDevice d : planned) {
        if (!d.driver().equals(Optional.of(request.driver()))) {
          intents.add(new StoredBinding(new DeviceBinding(d.address(),
              d.iommuGroup().getAsInt(), d.driver(), d.driverOverride(), request.driver(), true),
              StoredBinding.Phase.BINDING));
        }
      }
      TreeMap<PciAddress, StoredBinding> journal = new TreeMap<>(stored);
      intents.forEach(s -> journal.put(s.binding().address(), s));
      if (!intents.isEmpty()) {
        session.replace(journal.values());
      }
      BindResult result;
      try {
        result = binder.bind(request);
      } catch (RuntimeException e) {
        keepUnfinished(session, stored, intents, sysfs, e);
        throw e;
      }
      TreeMap<PciAddress, StoredBinding> done = new TreeMap<>(stored);
      for (DeviceBinding b : result.devices()) {
        StoredBinding earlier = stored.get(b.address());
        if (b.boundByGpuvirt() || earlier == null
            || earlier.phase() == StoredBinding.Phase.BINDING) {
          done.put(b.address(), new StoredBinding(b, StoredBinding.Phase.BOUND));
        }
      }
      session.replace(done.values());
      printBound(result, store);
      return Cli.OK;
    }
  }

  /**
   * After a failed bind or recovery: drops the journal entries whose device is back in its
   * original state and keeps the others (as {@code BINDING}, for a later {@code --restore}). If the
   * host cannot even be read, every entry is kept.
   */
  private static void keepUnfinished(BindingStore.Session session,
      Map<PciAddress, StoredBinding> stored, List<StoredBinding> journal, Sysfs sysfs,
      RuntimeException failure) {
    try {
      TreeMap<PciAddress, StoredBinding> after = new TreeMap<>(stored);
      journal.forEach(s -> after.remove(s.binding().address()));
      stillMoved(sysfs, journal).forEach(s -> after.put(s.binding().address(), s));
      session.replace(after.values());
    } catch (RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  /** The journal entries whose device is not back in its original driver and override. */
  private static List<StoredBinding> stillMoved(Sysfs sysfs, List<StoredBinding> intents) {
    Topology now = TopologyScanner.scan(sysfs);
    List<StoredBinding> out = new ArrayList<>();
    for (StoredBinding s : intents) {
      DeviceBinding b = s.binding();
      Optional<PciDevice> d = now.device(b.address());
      if (d.isPresent() && (!d.get().driver().equals(b.originalDriver())
          || !d.get().driverOverride().equals(b.originalOverride()))) {
        out.add(s);
      }
    }
    return out;
  }

  private int restore(Sysfs sysfs, BindingStore store, List<PciAddress> addresses) {
    VfioBinder binder = VfioBinder.on(sysfs);
    try (BindingStore.Session session = store.lock()) {
      TreeMap<PciAddress, StoredBinding> stored = byAddress(session.bindings());
      List<PciAddress> unknown = addresses.stream().filter(a -> !stored.containsKey(a)).toList();
      if (!unknown.isEmpty()) {
        spec.commandLine().getErr().println("gpuvirt: refused: gpuvirt has no record of binding "
            + unknown.stream().map(Object::toString).collect(Collectors.joining(", "))
            + " (" + store.file() + "); it restores only devices it bound itself. Nothing was"
            + " changed. Check --state, or use 'gpuvirt topology' to see the drivers now");
        return Cli.REFUSED;
      }
      Set<Integer> groups = addresses.stream().map(a -> stored.get(a).binding().iommuGroup())
          .collect(Collectors.toCollection(TreeSet::new));
      List<DeviceBinding> pending = new ArrayList<>();
      List<DeviceBinding> bound = new ArrayList<>();
      for (StoredBinding s : stored.values()) {
        if (groups.contains(s.binding().iommuGroup())) {
          (s.phase() == StoredBinding.Phase.BINDING ? pending : bound).add(s.binding());
        }
      }
      List<RestoreResult> results = new ArrayList<>();
      if (!pending.isEmpty()) {
        List<StoredBinding> journal = pending.stream()
            .map(b -> new StoredBinding(b, StoredBinding.Phase.BINDING)).toList();
        try {
          results.add(binder.recover(pending));
        } catch (RuntimeException e) {
          keepUnfinished(session, stored, journal, sysfs, e);
          throw e;
        }
        pending.forEach(b -> stored.remove(b.address()));
        session.replace(stored.values());
      }
      if (!bound.isEmpty()) {
        results.add(binder.restore(bound));
        bound.forEach(b -> stored.remove(b.address()));
        session.replace(stored.values());
      }
      printRestored(results, pending, bound);
      return Cli.OK;
    }
  }

  private static TreeMap<PciAddress, StoredBinding> byAddress(Collection<StoredBinding> list) {
    TreeMap<PciAddress, StoredBinding> map = new TreeMap<>();
    list.forEach(s -> map.put(s.binding().address(), s));
    return map;
  }

  private void printBound(BindResult result, BindingStore store) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      ObjectNode node = JSON.createObjectNode();
      node.put("operation", "bind");
      node.put("driver", driver);
      node.put("alreadyBound", result.alreadyBound());
      ArrayNode list = node.putArray("devices");
      for (DeviceBinding b : result.devices()) {
        ObjectNode d = list.addObject();
        d.put("address", b.address().toString());
        d.put("iommuGroup", b.iommuGroup());
        d.put("originalDriver", b.originalDriver().orElse(null));
        d.put("driver", b.driver());
        d.put("boundByGpuvirt", b.boundByGpuvirt());
      }
      ArrayNode groups = node.putArray("groups");
      for (VfioGroupNode g : result.groups()) {
        ObjectNode n = groups.addObject();
        n.put("iommuGroup", g.iommuGroup());
        n.put("groupNode", g.groupNode());
        ArrayNode cdevs = n.putArray("deviceNodes");
        g.deviceNodes().forEach(cdevs::add);
      }
      node.put("state", store.file().toString());
      out.println(node.toPrettyString());
    } else {
      for (DeviceBinding b : result.devices()) {
        out.printf("%s  group %d  %s%n", b.address(), b.iommuGroup(), b.boundByGpuvirt()
            ? b.originalDriver().orElse("no driver") + " -> " + b.driver()
            : "already on " + b.driver() + ", left alone");
      }
      for (VfioGroupNode g : result.groups()) {
        out.printf("group %d: %s%s%n", g.iommuGroup(), g.groupNode(), g.deviceNodes().isEmpty()
            ? "" : " (" + String.join(", ", g.deviceNodes()) + ")");
      }
      out.println(result.alreadyBound() ? "nothing to do: every device was already bound"
          : "recorded in " + store.file() + "; undo with 'gpuvirt bind --restore "
              + result.devices().get(0).address() + "'");
    }
    out.flush();
  }

  private void printRestored(List<RestoreResult> results, List<DeviceBinding> pending,
      List<DeviceBinding> bound) {
    Map<PciAddress, DeviceBinding> bindings = new TreeMap<>();
    pending.forEach(b -> bindings.put(b.address(), b));
    bound.forEach(b -> bindings.put(b.address(), b));
    TreeSet<PciAddress> restored = new TreeSet<>();
    TreeMap<PciAddress, String> untouched = new TreeMap<>();
    for (RestoreResult r : results) {
      restored.addAll(r.restored());
      untouched.putAll(r.untouched());
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      ObjectNode node = JSON.createObjectNode();
      node.put("operation", "restore");
      ArrayNode list = node.putArray("restored");
      for (PciAddress a : restored) {
        DeviceBinding b = bindings.get(a);
        ObjectNode d = list.addObject();
        d.put("address", a.toString());
        d.put("iommuGroup", b.iommuGroup());
        d.put("driver", b.originalDriver().orElse(null));
      }
      ArrayNode left = node.putArray("untouched");
      untouched.forEach((a, why) -> left.addObject().put("address", a.toString())
          .put("reason", why));
      out.println(node.toPrettyString());
    } else {
      for (PciAddress a : restored) {
        DeviceBinding b = bindings.get(a);
        out.printf("%s  group %d  %s -> %s%n", a, b.iommuGroup(), b.driver(),
            b.originalDriver().orElse("no driver"));
      }
      untouched.forEach((a, why) -> out.printf("%s  left alone: %s%n", a, why));
    }
    out.flush();
  }
}
