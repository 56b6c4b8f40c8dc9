package io.gpuvirt.qemu.libvirt;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciSizes;
import io.gpuvirt.qemu.QemuFirmware;
import io.gpuvirt.qemu.command.Accelerator;
import io.gpuvirt.qemu.command.ExpanderBus;
import io.gpuvirt.qemu.command.GuestMachine;
import io.gpuvirt.qemu.command.PlacedDevice;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuOption;
import io.gpuvirt.qemu.command.RootPort;
import io.gpuvirt.qemu.vgpu.VgpuQemuDevices;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * A libvirt domain XML rendered from a VM plan ({@link QemuArgs}): the same root ports, the same
 * devices behind them with the same properties, the same firmware, aperture and address width,
 * in libvirt's terms. It lays nothing out itself: every position comes from the plan, and
 * {@link #describe()} says how each part of the plan was expressed.
 *
 * <ul>
 *   <li>each root port is a {@code pcie-root-port} controller at the plan's slot and function,
 *       with its chassis and {@code hotplug='off'}, aliased {@code ua-rp0} ...;
 *   <li>each passed-through function is a {@code <hostdev mode='subsystem' type='pci'
 *       managed='no'>} with {@code <driver name='vfio'/>} (gpuvirt has bound it to vfio-pci
 *       already), its host address as source and its root port's bus as guest address,
 *       aliased {@code ua-hostdev0} ...; {@code rombar=0} is {@code <rom bar='off'/>};
 *   <li>vfio-pci properties libvirt has no element for ({@code x-no-mmap},
 *       {@code x-nv-gpudirect-clique}) and root-port reservations ({@code pref64-reserve}) go
 *       through {@code <qemu:override>}, which libvirt applies only to devices with a
 *       user alias ({@code ua-} prefix), hence the aliases;
 *   <li>OVMF's aperture ({@code -fw_cfg name=opt/ovmf/X-PciMmio64Mb}) and any extra arguments go
 *       through {@code <qemu:commandline>};
 *   <li>the address width is {@code <maxphysaddr>}: {@code mode='passthrough'} for
 *       {@code host-phys-bits=on}, {@code mode='emulate' bits='N'} for a fixed width; a
 *       {@code host-phys-bits-limit} needs libvirt 9.2's {@code limit} attribute and is refused
 *       for an older libvirt;
 *   <li>no USB controller and no memory balloon, so libvirt adds no devices of its own on
 *       {@code pcie.0} besides the boot disk.
 * </ul>
 *
 * <pre>{@code
 * String xml = LibvirtDomain.builder(plan).name("vm-42").build().xml();
 * }</pre>
 */
public final class LibvirtDomain {
  /** The QEMU namespace of libvirt's domain XML. */
  public static final String QEMU_NAMESPACE = "http://libvirt.org/schemas/domain/qemu/1.0";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}");
  private static final Pattern SLOT_FUNCTION = Pattern.compile("0x([0-9a-f]{1,2})\\.([0-7])");
  private static final LibvirtVersion MAXPHYSADDR_LIMIT = LibvirtVersion.of(9, 2, 0);
  /** vfio-pci properties the XML carries natively (or that libvirt sets itself). */
  private static final Set<String> NATIVE = Set.of("host", "id", "bus", "addr", "multifunction",
      "rombar", "iommufd");

  private final String xml;
  private final List<String> describe;

  private LibvirtDomain(String xml, List<String> describe) {
    this.xml = xml;
    this.describe = List.copyOf(describe);
  }

  /** A builder for the domain of {@code plan}. */
  public static Builder builder(QemuArgs plan) {
    return new Builder(plan);
  }

  /** The domain XML, for {@code virsh define} or to merge into a platform's own domain. */
  public String xml() {
    return xml;
  }

  /** How each part of the plan was expressed in libvirt's terms, one line each. */
  public List<String> describe() {
    return describe;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LibvirtDomain other && xml.equals(other.xml)
        && describe.equals(other.describe);
  }

  @Override
  public int hashCode() {
    return xml.hashCode();
  }

  @Override
  public String toString() {
    return xml;
  }

  /** Options of a rendering; {@link #name} is required. */
  public static final class Builder {
    private final QemuArgs plan;
    private String name;
    private LibvirtVersion version = LibvirtVersion.DEBIAN_12;
    private Optional<String> nvram = Optional.empty();
    private boolean iommufd;
    private Optional<VgpuQemuDevices.Plan> vgpus = Optional.empty();

    private Builder(QemuArgs plan) {
      this.plan = Objects.requireNonNull(plan, "plan");
    }

    /**
     * The domain's name: a letter or digit, then letters, digits and {@code . _ : @ + -}, at most
     * 128 (every lease owner is one).
     */
    public Builder name(String value) {
      Objects.requireNonNull(value, "name");
      if (!NAME.matcher(value).matches()) {
        throw new LibvirtException("domain name '" + value + "' is not a name libvirt and file"
            + " systems take safely: use letters, digits and . _ : @ + - (at most 128, starting"
            + " with a letter or digit), e.g. the lease's owner");
      }
      this.name = value;
      return this;
    }

    /**
     * The libvirt the XML is for (default {@link LibvirtVersion#DEBIAN_12}, 9.0.0): features a
     * version lacks are refused instead of emitted.
     */
    public Builder libvirtVersion(LibvirtVersion value) {
      this.version = Objects.requireNonNull(value, "libvirtVersion");
      return this;
    }

    /**
     * Where this VM's copy of the UEFI variable store lives when the plan's firmware has only
     * the shared template (default: libvirt's own per-domain path under its nvram directory).
     */
    public Builder nvram(String path) {
      Objects.requireNonNull(path, "nvram");
      if (path.isEmpty() || path.charAt(0) != '/') {
        throw new LibvirtException("nvram path '" + path + "' must be absolute");
      }
      this.nvram = Optional.of(path);
      return this;
    }

    /**
     * Whether the target libvirt takes {@code <driver name='vfio' iommufd='yes'/>} (false by
     * default: libvirt 9.0's schema rejects it, and the release that added it is not
     * established, so it is the caller's to say). A plan that uses iommufd is refused for a
     * libvirt without it.
     */
    public Builder iommufd(boolean supported) {
      this.iommufd = supported;
      return this;
    }

    /**
     * The VM's vGPUs, as {@link VgpuQemuDevices#plan} placed them: each behind its own root port,
     * a VF as a PCI {@code <hostdev managed='no'>} of the VF (it stays on the NVIDIA vGPU host
     * driver), an mdev as {@code <hostdev type='mdev' model='vfio-pci'>} with the domain's
     * {@code <uuid>} the first mdev's, as the guest driver expects.
     */
    public Builder vgpus(VgpuQemuDevices.Plan value) {
      this.vgpus = Optional.of(Objects.requireNonNull(value, "vgpus"));
      return this;
    }

    /**
     * Renders the domain.
     *
     * @throws LibvirtException when the plan is inconsistent (a host device twice, two devices
     *     on one guest function, a device behind an unknown port) or needs a feature this
     *     libvirt lacks; nothing is rendered
     */
    public LibvirtDomain build() {
      if (name == null) {
        throw new LibvirtException("no domain name given; call name(...) before build()");
      }
      return new Rendering(plan, name, version, nvram, iommufd, vgpus).render();
    }
  }

  /** One rendering: the document and the lines that explain it. */
  private static final class Rendering {
    private final QemuArgs plan;
    private final String name;
    private final LibvirtVersion version;
    private final Optional<String> nvram;
    private final boolean iommufd;
    private final Optional<VgpuQemuDevices.Plan> vgpus;
    private final List<String> describe = new ArrayList<>();
    private final Document doc;
    private final Map<String, Integer> controllerIndex = new HashMap<>();
    private final List<Element> overrides = new ArrayList<>();
    private final List<String> commandline = new ArrayList<>();

    Rendering(QemuArgs plan, String name, LibvirtVersion version, Optional<String> nvram,
        boolean iommufd, Optional<VgpuQemuDevices.Plan> vgpus) {
      this.plan = plan;
      this.iommufd = iommufd;
      this.vgpus = vgpus;
      this.name = name;
      this.version = version;
      this.nvram = nvram;
      try {
        this.doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().newDocument();
      } catch (ParserConfigurationException e) {
        throw new IllegalStateException("the JDK's XML document builder is unavailable", e);
      }
    }

    LibvirtDomain render() {
      checkPlan();
      GuestMachine m = plan.machine();
      if (m.architecture() != io.gpuvirt.core.host.CpuArchitecture.X86_64) {
        throw new LibvirtException("the plan is for an " + m.architecture().kernelName()
            + " guest (" + m.machineOption() + "); the domain XML renderer writes x86_64 q35"
            + " domains only so far: run the QEMU argv of the plan instead");
      }
      Element domain = doc.createElement("domain");
      doc.appendChild(domain);
      domain.setAttribute("type", m.accelerator() == Accelerator.KVM ? "kvm" : "qemu");
      domain.setAttribute("xmlns:qemu", QEMU_NAMESPACE);
      text(domain, "name", name);
      vgpus.flatMap(VgpuQemuDevices.Plan::uuid).ifPresent(u -> text(domain, "uuid",
          u.toString()));
      Element memory = text(domain, "memory", Long.toString(m.memoryMiB()));
      memory.setAttribute("unit", "MiB");
      text(domain, "vcpu", Integer.toString(m.cpus())).setAttribute("placement", "static");
      os(domain, m);
      Element features = child(domain, "features");
      child(features, "acpi");
      if (m.smm()) {
        child(features, "smm").setAttribute("state", "on");
      }
      Element cpuElement = cpu(domain, m.cpu());
      numa(cpuElement, m);
      Element devices = child(domain, "devices");
      if (m.binary().startsWith("/")) {
        text(devices, "emulator", m.binary());
        describe.add("<emulator> " + m.binary() + ", the binary the plan was built for");
      } else {
        describe.add("no <emulator>: the plan's QEMU is '" + m.binary() + "', not a path;"
            + " libvirt runs its default x86_64 emulator");
      }
      Element root = child(devices, "controller");
      root.setAttribute("type", "pci");
      root.setAttribute("index", "0");
      root.setAttribute("model", "pcie-root");
      rootPorts(devices);
      Element usb = child(devices, "controller");
      usb.setAttribute("type", "usb");
      usb.setAttribute("model", "none");
      m.disk().ifPresent(d -> disk(devices, d));
      hostdevs(devices);
      vgpus.ifPresent(v -> vgpuDevices(devices, v));
      child(devices, "memballoon").setAttribute("model", "none");
      describe.add("no USB controller, no memory balloon: libvirt adds no device of its own to"
          + " the plan's layout");
      m.fwCfg().ifPresent(fw -> {
        commandline.addAll(List.of("-fw_cfg", fw.render()));
        describe.add("-fw_cfg " + fw.render() + " in <qemu:commandline>: libvirt has no element"
            + " for OVMF's 64-bit aperture");
      });
      if (!m.extraArguments().isEmpty()) {
        commandline.addAll(m.extraArguments());
        describe.add("extra arguments " + m.extraArguments() + " in <qemu:commandline>");
      }
      if (!commandline.isEmpty()) {
        Element cl = doc.createElement("qemu:commandline");
        domain.appendChild(cl);
        for (String arg : commandline) {
          Element a = doc.createElement("qemu:arg");
          a.setAttribute("value", arg);
          cl.appendChild(a);
        }
      }
      if (!overrides.isEmpty()) {
        Element override = doc.createElement("qemu:override");
        domain.appendChild(override);
        overrides.forEach(override::appendChild);
      }
      return new LibvirtDomain(serialize(), describe);
    }

    /** Refuses a plan libvirt would reject or silently change. */
    private void checkPlan() {
      Set<String> ports = new HashSet<>();
      Set<String> portAddrs = new HashSet<>();
      for (ExpanderBus x : plan.expanderBuses()) {
        if (!portAddrs.add("pcie.0 " + x.addr())) {
          throw new LibvirtException("the plan puts two devices at pcie.0 " + x.addr());
        }
      }
      for (RootPort p : plan.rootPorts()) {
        if (!ports.add(p.id())) {
          throw new LibvirtException("the plan has root port " + p.id() + " twice");
        }
        if (!portAddrs.add(p.bus() + " " + p.addr())) {
          throw new LibvirtException("the plan puts two devices at " + p.bus() + " " + p.addr()
              + " (root port " + p.id() + " is the second)");
        }
      }
      Set<PciAddress> hosts = new HashSet<>();
      Set<String> guest = new HashSet<>();
      for (PlacedDevice d : plan.devices()) {
        if (!hosts.add(d.host())) {
          throw new LibvirtException("the plan passes " + d.host() + " through twice; a host"
              + " function can be given to a VM once");
        }
        if (!ports.contains(d.rootPort())) {
          throw new LibvirtException(d.host() + " sits behind root port " + d.rootPort()
              + ", which the plan does not have");
        }
        if (!guest.add(d.rootPort() + "/" + d.function())) {
          throw new LibvirtException("the plan puts " + d.host() + " on guest function "
              + d.function() + " behind " + d.rootPort() + ", where another device already sits");
        }
        if (d.host().domain() > 0xffff) {
          throw new LibvirtException(d.host() + " is in PCI domain " + Integer.toHexString(
              d.host().domain()) + " (behind Intel VMD): libvirt's PCI addresses have 16-bit"
              + " domains, and a device behind VMD cannot be assigned anyway; disable VMD for"
              + " the GPUs' slots in the firmware setup");
        }
      }
    }

    private void os(Element domain, GuestMachine m) {
      Element os = child(domain, "os");
      Element type = text(os, "type", "hvm");
      type.setAttribute("arch", "x86_64");
      type.setAttribute("machine", "q35");
      if (m.firmware().isEmpty()) {
        describe.add("no <loader>: the plan has no UEFI firmware (QEMU's default, SeaBIOS)");
        return;
      }
      QemuFirmware fw = m.firmware().get();
      if (!fw.codeFormat().equals("raw") && !version.isAtLeast(LibvirtVersion.of(9, 2, 0))) {
        throw new LibvirtException("firmware " + fw.code() + " is " + fw.codeFormat()
            + "; libvirt " + version + " loads raw pflash images only (format= needs 9.2);"
            + " give a raw OVMF build");
      }
      Element loader = text(os, "loader", fw.code());
      loader.setAttribute("readonly", "yes");
      loader.setAttribute("type", "pflash");
      if (fw.requiresSmm()) {
        loader.setAttribute("secure", "yes");
      }
      if (!fw.codeFormat().equals("raw")) {
        loader.setAttribute("format", fw.codeFormat());
      }
      String line = "<loader type='pflash'> " + fw.code() + " (from " + fw.source() + ")";
      if (fw.vars().isPresent()) {
        if (fw.varsTemplate()) {
          Element vars = child(os, "nvram");
          nvram.ifPresent(vars::setTextContent);
          vars.setAttribute("template", fw.vars().get());
          line += "; <nvram template=" + fw.vars().get() + ">: libvirt copies the template"
              + " to " + nvram.orElse("its per-domain nvram file") + " once, so UEFI variables"
              + " persist (the argv attaches the template with snapshot=on instead)";
        } else {
          text(os, "nvram", fw.vars().get());
          line += "; <nvram> " + fw.vars().get() + ", this VM's own variable store";
        }
      }
      describe.add(line);
    }

    /** The guest NUMA cells of NUMA placement, inside {@code <cpu>}. */
    private void numa(Element cpu, GuestMachine m) {
      if (m.numaNodes().isEmpty()) {
        return;
      }
      Element numa = child(cpu, "numa");
      for (GuestMachine.NumaNode n : m.numaNodes()) {
        Element cell = child(numa, "cell");
        cell.setAttribute("id", Integer.toString(n.id()));
        cell.setAttribute("cpus", n.cpuRange());
        cell.setAttribute("memory", Long.toString(n.memoryMiB()));
        cell.setAttribute("unit", "MiB");
      }
      describe.add(m.numaNodes().size() + " x <cell> in <cpu><numa>: the plan's guest NUMA nodes"
          + " (CPUs and memory split as in its -numa options)");
    }

    private Element cpu(Element domain, QemuOption cpu) {
      String model = cpu.head().orElse("host");
      Element el = child(domain, "cpu");
      if (model.equals("host")) {
        el.setAttribute("mode", "host-passthrough");
        el.setAttribute("check", "none");
      } else if (model.equals("max")) {
        el.setAttribute("mode", "maximum");
        el.setAttribute("check", "none");
      } else {
        el.setAttribute("mode", "custom");
        el.setAttribute("match", "exact");
        text(el, "model", model).setAttribute("fallback", "forbid");
      }
      boolean hostBits = cpu.get("host-phys-bits").map(LibvirtDomain::isOn).orElse(false);
      Optional<String> limit = cpu.get("host-phys-bits-limit");
      Optional<String> bits = cpu.get("phys-bits");
      if (hostBits) {
        Element max = child(el, "maxphysaddr");
        max.setAttribute("mode", "passthrough");
        String line = "<cpu mode='" + el.getAttribute("mode") + "'> with <maxphysaddr"
            + " mode='passthrough'/>: -cpu " + cpu.render();
        if (limit.isPresent()) {
          if (!version.isAtLeast(MAXPHYSADDR_LIMIT)) {
            throw new LibvirtException("the plan caps the guest address width at "
                + limit.get() + " bits (host-phys-bits-limit); libvirt " + version + " has no"
                + " <maxphysaddr limit=> (it needs " + MAXPHYSADDR_LIMIT + "): use PhysBits.fixed("
                + limit.get() + ") for this libvirt, or render for a newer one");
          }
          max.setAttribute("limit", limit.get());
          line += ", limit='" + limit.get() + "'";
        }
        describe.add(line);
      } else if (bits.isPresent()) {
        Element max = child(el, "maxphysaddr");
        max.setAttribute("mode", "emulate");
        max.setAttribute("bits", bits.get());
        describe.add("<cpu> with <maxphysaddr mode='emulate' bits='" + bits.get() + "'/>: -cpu "
            + cpu.render());
      } else {
        describe.add("<cpu mode='" + el.getAttribute("mode") + "'>: -cpu " + cpu.render());
      }
      return el;
    }

    private void rootPorts(Element devices) {
      int index = 1;
      controllerIndex.put("pcie.0", 0);
      for (ExpanderBus x : plan.expanderBuses()) {
        int[] sf = slotFunction("expander bus " + x.id(), x.addr());
        controllerIndex.put(x.id(), index);
        Element c = controller(devices, index, "pcie-expander-bus", "pxb-pcie");
        Element target = child(c, "target");
        target.setAttribute("busNr", Integer.toString(x.busNr()));
        text(target, "node", Integer.toString(x.guestNode()));
        child(c, "alias").setAttribute("name", alias(x.id()));
        pciAddress(c, 0, sf[0], sf[1]);
        index++;
      }
      if (!plan.expanderBuses().isEmpty()) {
        describe.add(plan.expanderBuses().size() + " x <controller model='pcie-expander-bus'>"
            + " (pxb-pcie) with the plan's busNr and guest <node>, each before its root ports");
      }
      for (RootPort p : plan.rootPorts()) {
        int[] sf = slotFunction("root port " + p.id(), p.addr());
        Integer bus = controllerIndex.get(p.bus());
        if (bus == null) {
          throw new LibvirtException("root port " + p.id() + " sits on bus " + p.bus()
              + ", which the plan does not have");
        }
        controllerIndex.put(p.id(), index);
        Element address = rootPort(devices, index, p.id(), p.chassis(),
            p.option().get("hotplug").map(LibvirtDomain::isOff).orElse(false), bus, sf);
        if (p.option().get("multifunction").map(LibvirtDomain::isOn).orElse(false)) {
          address.setAttribute("multifunction", "on");
        }
        p.pref64Reserve().ifPresent(size -> overrides.add(override(alias(p.id()),
            Map.of("pref64-reserve", Long.toString(PciSizes.bytes(size))))));
        index++;
      }
      describe.add(plan.rootPorts().size() + " x <controller model='pcie-root-port'> at the"
          + " plan's pcie.0 slots, aliases ua-<id> (libvirt's bus index = position + 1)"
          + (plan.rootPorts().stream().anyMatch(p -> p.pref64Reserve().isPresent())
              ? "; pref64-reserve through <qemu:override>: libvirt has no attribute for it" : ""));
    }

    private void hostdevs(Element devices) {
      Map<String, Integer> functionsBehind = new HashMap<>();
      plan.devices().forEach(d -> functionsBehind.merge(d.rootPort(), 1, Integer::sum));
      for (PlacedDevice d : plan.devices()) {
        Element h = child(devices, "hostdev");
        h.setAttribute("mode", "subsystem");
        h.setAttribute("type", "pci");
        h.setAttribute("managed", "no");
        Element driver = child(h, "driver");
        driver.setAttribute("name", "vfio");
        if (d.option().get("iommufd").isPresent()) {
          if (!iommufd) {
            throw new LibvirtException("the plan gives " + d.host() + " to QEMU through iommufd,"
                + " and libvirt " + version + " has no <driver iommufd='yes'/> (9.0's schema"
                + " rejects it); plan without QemuCommandBuilder.hostIommufd for this libvirt,"
                + " or say it has it with LibvirtDomain.Builder.iommufd(true)");
          }
          driver.setAttribute("iommufd", "yes");
        }
        sourceAddress(h, d.host());
        String alias = alias(d.id());
        child(h, "alias").setAttribute("name", alias);
        if (d.option().get("rombar").map(v -> v.equals("0")).orElse(false)) {
          child(h, "rom").setAttribute("bar", "off");
        }
        Element guest = pciAddress(h, controllerIndex.get(d.rootPort()), 0, d.function());
        if (d.function() == 0 && functionsBehind.get(d.rootPort()) > 1) {
          guest.setAttribute("multifunction", "on");
        }
        Map<String, String> props = new LinkedHashMap<>();
        for (QemuOption.Property p : d.option().properties()) {
          if (!NATIVE.contains(p.key())) {
            props.put(p.key(), p.value());
          }
        }
        if (!props.isEmpty()) {
          overrides.add(override(alias, props));
        }
      }
      describe.add(plan.devices().size() + " x <hostdev type='pci' managed='no'> with <driver"
          + " name='vfio'/> (gpuvirt binds vfio-pci itself), each behind its plan's root port;"
          + " properties libvirt has no element for (x-no-mmap, x-nv-gpudirect-clique) through"
          + " <qemu:override> on the ua- alias");
    }

    /** The vGPUs: a root port each, then a VF or mdev hostdev behind it. */
    private void vgpuDevices(Element devices, VgpuQemuDevices.Plan v) {
      int index = controllerIndex.values().stream().mapToInt(Integer::intValue).max().orElse(0)
          + 1;
      Set<String> used = new HashSet<>();
      plan.rootPorts().forEach(p -> used.add(p.bus() + " " + p.addr()));
      plan.expanderBuses().forEach(x -> used.add("pcie.0 " + x.addr()));
      Set<PciAddress> hosts = new HashSet<>();
      plan.devices().forEach(d -> hosts.add(d.host()));
      for (VgpuQemuDevices.Device d : v.devices()) {
        String port = d.rootPort().get("id").orElseThrow();
        String addr = d.rootPort().get("addr").orElseThrow();
        if (!used.add("pcie.0 " + addr)) {
          throw new LibvirtException("vGPU root port " + port + " at pcie.0 " + addr + " collides"
              + " with a root port of the plan; plan the vGPUs from a free slot");
        }
        d.assignment().vf().ifPresent(vf -> {
          if (!hosts.add(vf)) {
            throw new LibvirtException("VF " + vf + " is passed through twice");
          }
        });
        int[] sf = slotFunction("vGPU root port " + port, addr);
        rootPort(devices, index, port,
            Integer.parseInt(d.rootPort().get("chassis").orElseThrow()), true, 0, sf);
        Element h = child(devices, "hostdev");
        h.setAttribute("mode", "subsystem");
        h.setAttribute("managed", "no");
        if (d.assignment().vf().isPresent()) {
          PciAddress vf = d.assignment().vf().get();
          h.setAttribute("type", "pci");
          child(h, "driver").setAttribute("name", "vfio");
          sourceAddress(h, vf);
        } else {
          h.setAttribute("type", "mdev");
          h.setAttribute("model", "vfio-pci");
          child(child(h, "source"), "address").setAttribute("uuid",
              d.assignment().mdev().orElseThrow().toString());
        }
        child(h, "alias").setAttribute("name", alias(d.device().get("id").orElseThrow()));
        pciAddress(h, index, 0, 0);
        describe.add(d.explanation() + " (libvirt: " + (d.assignment().vf().isPresent()
            ? "a PCI hostdev of the VF" : "a type='mdev' hostdev") + " behind controller "
            + index + ")");
        index++;
      }
    }

    private void disk(Element devices, GuestMachine.Disk d) {
      Element disk = child(devices, "disk");
      disk.setAttribute("type", "file");
      disk.setAttribute("device", "disk");
      Element driver = child(disk, "driver");
      driver.setAttribute("name", "qemu");
      driver.setAttribute("type", d.format());
      child(disk, "source").setAttribute("file", d.path());
      Element target = child(disk, "target");
      target.setAttribute("dev", "vda");
      target.setAttribute("bus", "virtio");
      child(disk, "boot").setAttribute("order", "1");
      describe.add("<disk> " + d.path() + " (" + d.format() + ") on virtio, boot order 1;"
          + " libvirt places it on a root port of its own after the plan's");
    }

    /** A {@code <qemu:device>} override setting frontend properties of {@code alias}. */
    private Element override(String alias, Map<String, String> properties) {
      Element device = doc.createElement("qemu:device");
      device.setAttribute("alias", alias);
      Element frontend = doc.createElement("qemu:frontend");
      device.appendChild(frontend);
      properties.forEach((key, value) -> {
        Element p = doc.createElement("qemu:property");
        p.setAttribute("name", key);
        p.setAttribute("type", value.equals("true") || value.equals("false")
            || value.equals("on") || value.equals("off") ? "bool"
            : value.chars().allMatch(Character::isDigit) && !value.isEmpty() ? "unsigned"
            : "string");
        p.setAttribute("value", value.equals("on") ? "true" : value.equals("off") ? "false"
            : value);
        frontend.appendChild(p);
      });
      return device;
    }

    /**
     * A {@code pcie-root-port} controller at {@code index} with its chassis, alias and address
     * on controller {@code bus}; returns the address element.
     */
    private Element rootPort(Element devices, int index, String id, int chassis,
        boolean hotplugOff, int bus, int[] slotFunction) {
      Element c = controller(devices, index, "pcie-root-port", "pcie-root-port");
      Element target = child(c, "target");
      target.setAttribute("chassis", Integer.toString(chassis));
      if (hotplugOff) {
        target.setAttribute("hotplug", "off");
      }
      child(c, "alias").setAttribute("name", alias(id));
      return pciAddress(c, bus, slotFunction[0], slotFunction[1]);
    }

    /** A PCI controller of {@code model} (its QEMU device {@code modelName}) at {@code index}. */
    private Element controller(Element devices, int index, String model, String modelName) {
      Element c = child(devices, "controller");
      c.setAttribute("type", "pci");
      c.setAttribute("index", Integer.toString(index));
      c.setAttribute("model", model);
      child(c, "model").setAttribute("name", modelName);
      return c;
    }

    /** The host function a hostdev passes through, as its {@code <source><address>}. */
    private void sourceAddress(Element hostdev, PciAddress a) {
      Element src = child(child(hostdev, "source"), "address");
      src.setAttribute("domain", String.format("0x%04x", a.domain()));
      src.setAttribute("bus", String.format("0x%02x", a.bus()));
      src.setAttribute("slot", String.format("0x%02x", a.device()));
      src.setAttribute("function", String.format("0x%x", a.function()));
    }

    private Element pciAddress(Element parent, int bus, int slot, int function) {
      Element a = child(parent, "address");
      a.setAttribute("type", "pci");
      a.setAttribute("domain", "0x0000");
      a.setAttribute("bus", String.format("0x%02x", bus));
      a.setAttribute("slot", String.format("0x%02x", slot));
      a.setAttribute("function", String.format("0x%x", function));
      return a;
    }

    private Element child(Element parent, String tag) {
      Element e = doc.createElement(tag);
      parent.appendChild(e);
      return e;
    }

    private Element text(Element parent, String tag, String content) {
      Element e = child(parent, tag);
      e.setTextContent(content);
      return e;
    }

    private String serialize() {
      try {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.INDENT, "yes");
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        t.setOutputProperty("{http://xml.apache.org/xslt}indent-amount", "2");
        StringWriter out = new StringWriter();
        t.transform(new DOMSource(doc), new StreamResult(out));
        return out.toString();
      } catch (TransformerException e) {
        throw new IllegalStateException("the JDK's XML serializer failed on a DOM it built", e);
      }
    }
  }

  /** libvirt's user alias for a plan id: {@code ua-} and the id, '.' as '-'. */
  static String alias(String id) {
    return "ua-" + id.replace('.', '-');
  }

  /** A QEMU boolean property's value read as true ({@code on} or {@code true}). */
  static boolean isOn(String value) {
    return value.equals("on") || value.equals("true");
  }

  /** A QEMU boolean property's value read as false ({@code off} or {@code false}). */
  static boolean isOff(String value) {
    return value.equals("off") || value.equals("false");
  }

  /** {@code 0x10.0} as slot 0x10 and function 0, or a refusal naming {@code what}. */
  static int[] slotFunction(String what, String addr) {
    Matcher sf = SLOT_FUNCTION.matcher(addr);
    if (!sf.matches()) {
      throw new LibvirtException(what + " has address '" + addr + "', not slot.function"
          + " (0x10.0)");
    }
    return new int[] {Integer.parseInt(sf.group(1), 16), Integer.parseInt(sf.group(2))};
  }
}
