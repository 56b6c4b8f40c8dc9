package io.gpuvirt.core.doctor;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vfio.VfioDriverRule;
import io.gpuvirt.core.vfio.VfioDrivers;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Host readiness for GPU passthrough ("doctor"): reads the kernel command line, IOMMU groups,
 * loaded modules, {@code /etc/modules-load.d}, {@code /etc/modprobe.d} and the GPUs' drivers, and
 * says for each thing whether it is ready, with the evidence and the exact fix. It never writes a
 * file or reboots anything: it prints what to do.
 *
 * <pre>{@code
 * ReadinessReport report = HostDoctor.examine(Sysfs.host(), GpuDriverPolicy.STATIC_VFIO);
 * System.out.print(report.render());
 * }</pre>
 */
public final class HostDoctor {
  private static final List<String> VFIO_MODULES = List.of("vfio", "vfio_iommu_type1", "vfio_pci");
  private static final String VFIO_DRIVER = "vfio-pci";
  private static final String GRUB_FILE = "/etc/default/grub";
  private static final String GRUB_KEY = "GRUB_CMDLINE_LINUX_DEFAULT";

  private final Sysfs sysfs;
  private final GpuDriverPolicy policy;
  private final String cmdline;
  private final List<String> cmdlineArgs;
  private final OsFamily os;
  private final VfioDriverRule rule;
  private final CpuArchitecture arch;

  private HostDoctor(Sysfs sysfs, GpuDriverPolicy policy, VfioDriverRule rule) {
    this.sysfs = Objects.requireNonNull(sysfs, "sysfs");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.rule = Objects.requireNonNull(rule, "rule");
    this.arch = CpuArchitecture.of(sysfs);
    this.cmdline = readOptional("/proc/cmdline").orElse("").strip();
    this.cmdlineArgs = List.of(cmdline.split("\\s+"));
    this.os = OsFamily.of(readOptional("/etc/os-release")
        .or(() -> readOptional("/usr/lib/os-release")).orElse(""));
  }

  /**
   * Examines the host behind {@code sysfs} under the given driver policy, with the standard rule
   * for VFIO variant drivers ({@link VfioDriverRule#standard()}).
   */
  public static ReadinessReport examine(Sysfs sysfs, GpuDriverPolicy policy) {
    return examine(sysfs, policy, VfioDriverRule.standard());
  }

  /**
   * Examines the host behind {@code sysfs} under the given driver policy; {@code rule} says which
   * VFIO driver each GPU goes to (and so which variant driver modules must be loaded). The CPU
   * architecture ({@code /proc/cpuinfo}) decides the IOMMU checks: VT-d/AMD-Vi and
   * {@code iommu=pt} on x86_64, SMMUv3 and {@code iommu.passthrough=1} on arm64.
   */
  public static ReadinessReport examine(Sysfs sysfs, GpuDriverPolicy policy,
      VfioDriverRule rule) {
    return new HostDoctor(sysfs, policy, rule).run();
  }

  private ReadinessReport run() {
    Topology topology = TopologyScanner.scan(sysfs);
    List<String> args = cmdlineArgs;
    List<Finding> findings = new ArrayList<>();
    if (arch == CpuArchitecture.AARCH64) {
      findings.add(smmuPresent(topology));
    }
    findings.add(iommuEnabled(topology, cmdline, args));
    findings.add(arch == CpuArchitecture.AARCH64 ? armPassthrough(args, topology)
        : iommuPassthrough(args, topology));
    findings.add(vfioLoaded());
    findings.addAll(variantDriversLoaded(topology));
    findings.add(vfioEarly());
    findings.add(vfioIds(topology, args));
    findings.add(hostDriverBlacklist());
    findings.addAll(gpuDrivers(topology));
    findings.addAll(foreignGroupMembers(topology));
    return new ReadinessReport(sysfs.root().toString(), findings);
  }

  private Finding iommuEnabled(Topology topology, String cmdline, List<String> args) {
    List<String> evidence = new ArrayList<>(List.of("/proc/cmdline: " + cmdline,
        "/sys/kernel/iommu_groups: " + topology.iommuGroups().size() + " groups"));
    grubDefault().ifPresent(g -> evidence.add(GRUB_FILE + ": " + GRUB_KEY + "=\"" + g + "\""));
    if (topology.iommuEnabled()) {
      return new Finding("iommu.enabled", Severity.OK, "the IOMMU is on ("
          + topology.iommuGroups().size() + " IOMMU groups)", evidence, Optional.empty());
    }
    List<String> off = args.stream().filter(a -> a.equals("intel_iommu=off")
        || a.equals("amd_iommu=off") || a.equals("iommu=off")).toList();
    boolean asked = args.contains("intel_iommu=on") || amd();
    String why;
    if (arch == CpuArchitecture.AARCH64) {
      why = "no IOMMU groups: the SMMUv3 is not probed (see the iommu.smmu finding)";
    } else if (!off.isEmpty()) {
      why = "the kernel command line turns it off (" + String.join(" ", off) + ")";
    } else if (asked) {
      why = "the kernel command line allows it but no IOMMU groups exist; enable "
          + (amd() ? "AMD-Vi (IOMMU)" : "VT-d") + " in the firmware setup";
    } else {
      why = "no IOMMU groups and no intel_iommu=on on the kernel command line";
    }
    return new Finding("iommu.enabled", Severity.ERROR, "the IOMMU is off: " + why, evidence,
        Optional.of(grubFix(topology)));
  }

  /** arm64: an SMMU registered with the IOMMU core ({@code /sys/class/iommu/smmu3.*}). */
  private Finding smmuPresent(Topology topology) {
    List<String> units = sysfs.isDirectory("/sys/class/iommu") ? sysfs.list("/sys/class/iommu")
        : List.of();
    List<String> smmus = units.stream().filter(u -> u.startsWith("smmu")).toList();
    List<String> evidence = List.of("/sys/class/iommu: " + (units.isEmpty() ? "empty"
        : String.join(" ", units)), "/sys/module/arm_smmu_v3 "
        + (sysfs.isDirectory("/sys/module/arm_smmu_v3") ? "exists" : "missing (or built in)"));
    if (!smmus.isEmpty()) {
      return new Finding("iommu.smmu", Severity.OK, "arm64 host: " + smmus.size()
          + " SMMU(s) registered (" + smmus.get(0) + (smmus.size() > 1 ? ", ..." : "") + ")",
          evidence, Optional.empty());
    }
    return new Finding("iommu.smmu", Severity.ERROR, "arm64 host without an SMMU: no"
        + " /sys/class/iommu/smmu3.* entry, so no device can be isolated for a VM", evidence,
        Optional.of(new Fix("load the SMMUv3 driver now and at every boot; if it is loaded and"
            + " still no SMMU appears, enable the SMMU (ACPI IORT) in the firmware setup",
            Optional.of("/etc/modules-load.d/arm-smmu-v3.conf"), "arm_smmu_v3\n",
            List.of("modprobe arm_smmu_v3", os.initramfsCommand(), "reboot"))));
  }

  /**
   * arm64 spells x86's {@code iommu=pt} {@code iommu.passthrough=1} (kernel-parameters.txt); an
   * arm64 kernel ignores {@code iommu=pt}.
   */
  private Finding armPassthrough(List<String> args, Topology topology) {
    Optional<String> set = args.stream().filter(a -> a.startsWith("iommu.passthrough="))
        .reduce((a, b) -> b);
    boolean on = set.map(a -> List.of("1", "y", "Y", "on")
        .contains(a.substring(a.indexOf('=') + 1))).orElse(false);
    if (on) {
      return new Finding("iommu.passthrough", Severity.OK, set.get() + " is set: host devices"
          + " keep identity-mapped DMA", List.of("/proc/cmdline contains " + set.get()),
          Optional.empty());
    }
    String why = set.isPresent() ? set.get() + " is on the kernel command line"
        : args.contains("iommu=pt") ? "the kernel command line has iommu=pt, which is x86's"
            + " option and ignored on arm64; arm64 needs iommu.passthrough=1"
            : "iommu.passthrough=1 is not on the kernel command line";
    return new Finding("iommu.passthrough", Severity.WARNING, why + ": host DMA goes through"
        + " SMMU translation, which costs throughput", List.of("/proc/cmdline: " + cmdline),
        Optional.of(grubFix(topology)));
  }

  /**
   * The VFIO variant driver modules the GPUs need by the driver rule
   * ({@code nvgrace_gpu_vfio_pci} for Grace-attached GPUs): each must be loaded, or provisioning
   * cannot bind them.
   */
  private List<Finding> variantDriversLoaded(Topology topology) {
    java.util.TreeMap<String, List<PciDevice>> needed = new java.util.TreeMap<>();
    for (PciDevice gpu : topology.gpus()) {
      if (!gpu.isVirtualFunction()) {
        rule.variantFor(gpu.id()).ifPresent(d -> needed.computeIfAbsent(d,
            k -> new ArrayList<>()).add(gpu));
      }
    }
    List<Finding> out = new ArrayList<>();
    for (var e : needed.entrySet()) {
      String driver = e.getKey();
      List<PciDevice> gpus = e.getValue();
      String module = driver.replace('-', '_');
      boolean loaded = sysfs.isDirectory(HostPaths.join("/sys/module", module));
      boolean registered = sysfs.isDirectory(HostPaths.join("/sys/bus/pci/drivers", driver));
      List<String> evidence = List.of("/sys/module/" + module + (loaded ? " exists" : " missing"),
          "/sys/bus/pci/drivers/" + driver + (registered ? " exists" : " missing"),
          "driver rule: " + rule.explain(gpus.get(0)));
      String which = gpus.stream().map(g -> g.address() + " (" + g.id() + ")")
          .collect(java.util.stream.Collectors.joining(", "));
      if (loaded && registered) {
        out.add(new Finding("vfio.variant", Severity.OK, "the VFIO variant driver " + driver
            + " is loaded for " + which, evidence, Optional.empty()));
      } else {
        String modprobeName = module.replace('_', '-');
        out.add(new Finding("vfio.variant", Severity.ERROR, "the VFIO variant driver " + driver
            + " is not loaded; provisioning binds " + which + " to it", evidence,
            Optional.of(new Fix("load " + modprobeName + " (Linux 6.9 or later) now and at every"
                + " boot", Optional.of("/etc/modules-load.d/vfio.conf"),
                String.join("\n", VFIO_MODULES) + "\n" + modprobeName + "\n",
                List.of("modprobe " + modprobeName, os.initramfsCommand())))));
      }
    }
    return out;
  }

  private Finding iommuPassthrough(List<String> args, Topology topology) {
    if (args.contains("iommu=pt")) {
      return new Finding("iommu.passthrough", Severity.OK, "iommu=pt is set: host devices keep"
          + " identity-mapped DMA", List.of("/proc/cmdline contains iommu=pt"), Optional.empty());
    }
    return new Finding("iommu.passthrough", Severity.WARNING, "iommu=pt is not on the kernel"
        + " command line: host DMA goes through IOMMU translation, which costs throughput",
        List.of("/proc/cmdline lacks iommu=pt"), Optional.of(grubFix(topology)));
  }

  private Finding vfioLoaded() {
    List<String> missing = new ArrayList<>();
    List<String> evidence = new ArrayList<>();
    for (String module : VFIO_MODULES) {
      boolean present = sysfs.isDirectory(HostPaths.join("/sys/module", module));
      evidence.add("/sys/module/" + module + (present ? " exists" : " missing"));
      if (!present) {
        missing.add(module);
      }
    }
    if (missing.isEmpty()) {
      return new Finding("vfio.loaded", Severity.OK, "vfio, vfio_iommu_type1 and vfio_pci are"
          + " loaded", evidence, Optional.empty());
    }
    return new Finding("vfio.loaded", Severity.ERROR, "VFIO modules not loaded: " + missing,
        evidence, Optional.of(new Fix("load the VFIO modules now and at every boot",
            Optional.of("/etc/modules-load.d/vfio.conf"), String.join("\n", VFIO_MODULES) + "\n",
            List.of("modprobe -a " + String.join(" ", VFIO_MODULES), os.initramfsCommand()))));
  }

  private Finding vfioEarly() {
    Set<String> listed = new TreeSet<>();
    List<String> evidence = new ArrayList<>();
    for (String file : confFiles("/etc/modules-load.d")) {
      for (String line : contentLines(file)) {
        if (VFIO_MODULES.contains(line) || VFIO_MODULES.contains(line.replace('-', '_'))) {
          listed.add(line.replace('-', '_'));
          evidence.add(file + ": " + line);
        }
      }
    }
    if (listed.containsAll(VFIO_MODULES)) {
      return new Finding("vfio.early", Severity.OK, "the VFIO modules load at boot", evidence,
          Optional.empty());
    }
    return new Finding("vfio.early", Severity.WARNING, "the VFIO modules are not all listed in"
        + " /etc/modules-load.d: after a reboot the GPUs may be claimed by another driver first",
        evidence.isEmpty() ? List.of("no vfio module in /etc/modules-load.d/*.conf") : evidence,
        Optional.of(new Fix("load the VFIO modules early at boot",
            Optional.of("/etc/modules-load.d/vfio.conf"), String.join("\n", VFIO_MODULES) + "\n",
            List.of(os.initramfsCommand()))));
  }

  private Finding vfioIds(Topology topology, List<String> args) {
    Set<String> wanted = passthroughIds(topology);
    Set<String> claimed = new TreeSet<>();
    List<String> evidence = new ArrayList<>();
    for (String arg : args) {
      if (arg.startsWith("vfio-pci.ids=") || arg.startsWith("vfio_pci.ids=")) {
        evidence.add("/proc/cmdline: " + arg);
        claimed.addAll(idsOf(arg.substring(arg.indexOf('=') + 1)));
      }
    }
    for (String file : confFiles("/etc/modprobe.d")) {
      for (String line : contentLines(file)) {
        String[] words = line.split("\\s+");
        if (words.length >= 3 && words[0].equals("options")
            && (words[1].equals("vfio-pci") || words[1].equals("vfio_pci"))) {
          for (int i = 2; i < words.length; i++) {
            if (words[i].startsWith("ids=")) {
              evidence.add(file + ": " + line);
              claimed.addAll(idsOf(words[i].substring(4)));
            }
          }
        }
      }
    }
    if (policy == GpuDriverPolicy.REBIND_PER_VM) {
      if (!claimed.isEmpty() && claimed.stream().anyMatch(wanted::contains)) {
        return new Finding("vfio.ids", Severity.WARNING, "vfio-pci claims " + claimed
            + " at boot, but in rebind-per-VM mode the GPUs must start on the host driver (Fabric"
            + " Manager needs them there); remove vfio-pci.ids from the kernel command line and"
            + " any 'options vfio-pci ids=' line from /etc/modprobe.d", evidence,
            Optional.of(grubFix(topology)));
      }
      return new Finding("vfio.ids", Severity.OK, "vfio-pci does not claim the GPUs at boot"
          + " (right for rebind-per-VM)", evidence, Optional.empty());
    }
    if (wanted.isEmpty() || claimed.containsAll(wanted)) {
      return new Finding("vfio.ids", wanted.isEmpty() ? Severity.INFO : Severity.OK,
          wanted.isEmpty() ? "no GPUs on this host" : "vfio-pci claims " + wanted + " at boot",
          evidence, Optional.empty());
    }
    TreeSet<String> missing = new TreeSet<>(wanted);
    missing.removeAll(claimed);
    return new Finding("vfio.ids", Severity.WARNING, "vfio-pci does not claim " + missing
        + " at boot: after a reboot the GPUs start on the host driver",
        evidence.isEmpty() ? List.of("no vfio-pci.ids on /proc/cmdline or in /etc/modprobe.d")
            : evidence, Optional.of(grubFix(topology)));
  }

  private Finding hostDriverBlacklist() {
    Set<String> blacklisted = new TreeSet<>();
    List<String> evidence = new ArrayList<>();
    for (String file : confFiles("/etc/modprobe.d")) {
      for (String line : contentLines(file)) {
        String[] words = line.split("\\s+");
        if (words.length == 2 && words[0].equals("blacklist")) {
          blacklisted.add(words[1]);
          evidence.add(file + ": " + line);
        }
      }
    }
    // the kernel (module_blacklist=), modprobe (modprobe.blacklist=) and dracut's initramfs
    // (rd.driver.blacklist=) each take a comma list on the command line
    for (String arg : cmdlineArgs) {
      for (String key : List.of("modprobe.blacklist=", "rd.driver.blacklist=",
          "module_blacklist=")) {
        if (arg.startsWith(key)) {
          evidence.add("/proc/cmdline: " + arg);
          for (String module : arg.substring(key.length()).split(",")) {
            if (!module.isEmpty()) {
              blacklisted.add(module.replace('-', '_'));
            }
          }
        }
      }
    }
    List<String> needed = policy == GpuDriverPolicy.STATIC_VFIO
        ? List.of("nouveau", "nvidia", "nvidia_drm", "nvidiafb") : List.of("nouveau");
    List<String> missing = needed.stream().filter(m -> !blacklisted.contains(m)).toList();
    if (policy == GpuDriverPolicy.REBIND_PER_VM && blacklisted.contains("nvidia")) {
      return new Finding("driver.blacklist", Severity.ERROR, "nvidia is blacklisted, but in"
          + " rebind-per-VM mode the GPUs return to nvidia between tenants and Fabric Manager"
          + " needs it", evidence, Optional.of(new Fix("blacklist only nouveau",
              Optional.of("/etc/modprobe.d/blacklist-nvidia.conf"),
              "blacklist nouveau\noptions nouveau modeset=0\n",
              List.of(os.initramfsCommand(), "reboot"))));
    }
    if (missing.isEmpty()) {
      return new Finding("driver.blacklist", Severity.OK, "host GPU drivers blacklisted: "
          + needed, evidence, Optional.empty());
    }
    String content = policy == GpuDriverPolicy.STATIC_VFIO
        ? "blacklist nouveau\noptions nouveau modeset=0\nblacklist nvidia\nblacklist nvidia_drm\n"
            + "blacklist nvidiafb\n"
        : "blacklist nouveau\noptions nouveau modeset=0\n";
    return new Finding("driver.blacklist", Severity.WARNING, "not blacklisted: " + missing
        + (policy == GpuDriverPolicy.STATIC_VFIO
            ? "; a host driver may grab the GPUs before vfio-pci at boot"
            : "; nouveau may grab the GPUs at boot"),
        evidence.isEmpty() ? List.of("no blacklist lines in /etc/modprobe.d/*.conf") : evidence,
        Optional.of(new Fix("keep the host GPU drivers off the GPUs" + os.assumptionNote(),
            Optional.of("/etc/modprobe.d/blacklist-nvidia.conf"), content,
            List.of(os.initramfsCommand(), "reboot"))));
  }

  private List<Finding> gpuDrivers(Topology topology) {
    List<Finding> out = new ArrayList<>();
    for (PciDevice gpu : topology.gpus()) {
      if (gpu.isVirtualFunction()) {
        continue;
      }
      String driver = gpu.driver().orElse("none");
      String where = gpu.address() + " (" + gpu.id() + ")";
      List<String> evidence = List.of(gpu.address().sysfsPath("driver") + " -> " + driver);
      String wanted = rule.driverFor(gpu);
      List<String> ruled = new ArrayList<>(evidence);
      ruled.add("driver rule: " + rule.explain(gpu));
      if (driver.equals(wanted)) {
        out.add(new Finding("gpu.driver", Severity.OK, where + " is on " + driver, ruled,
            Optional.empty()));
      } else if (VfioDrivers.isVfioDriver(driver)) {
        out.add(new Finding("gpu.driver", rule.variantFor(gpu.id()).isPresent()
            ? Severity.WARNING : Severity.OK, where + " is on " + driver
            + (rule.variantFor(gpu.id()).isPresent() ? ", not " + wanted + ": " + rule.explain(gpu)
                : ""), ruled, rule.variantFor(gpu.id()).isPresent() && policy
                    == GpuDriverPolicy.STATIC_VFIO ? Optional.of(new Fix("bind it to " + wanted
                        + " instead, once no VM uses it", Optional.empty(), "",
                        List.of("gpuvirt bind --driver " + wanted + " " + gpu.address())))
                    : Optional.empty()));
      } else if (policy == GpuDriverPolicy.REBIND_PER_VM) {
        out.add(new Finding("gpu.driver", Severity.INFO, where + " is on " + driver
            + "; gpuvirt binds it to " + wanted + " when a VM gets it", ruled, Optional.empty()));
      } else {
        out.add(new Finding("gpu.driver", Severity.ERROR, where + " is on " + driver
            + ", not " + wanted, ruled, Optional.of(new Fix("bind it to " + wanted + " now",
                Optional.empty(), "", List.of("gpuvirt bind --driver " + wanted + " "
                    + gpu.address())))));
      }
    }
    return out;
  }

  private List<Finding> foreignGroupMembers(Topology topology) {
    List<Finding> out = new ArrayList<>();
    for (IommuGroup group : topology.iommuGroups()) {
      List<PciDevice> members = topology.members(group);
      List<PciDevice> gpus = members.stream().filter(PciDevice::isGpu).toList();
      if (gpus.isEmpty()) {
        continue;
      }
      Set<PciAddress> gpuSlots = new TreeSet<>();
      gpus.forEach(g -> gpuSlots.add(slot(g)));
      List<PciDevice> foreign = members.stream()
          .filter(m -> !m.isBridge() && !m.isGpu() && !gpuSlots.contains(slot(m))).toList();
      if (foreign.isEmpty()) {
        continue;
      }
      List<String> evidence = new ArrayList<>();
      foreign.forEach(f -> evidence.add("/sys/kernel/iommu_groups/" + group.number()
          + "/devices/" + f.address() + " (" + f.id() + ", class " + f.pciClass() + ", driver "
          + f.driver().orElse("none") + ")"));
      out.add(new Finding("group.foreign", Severity.ERROR, "IOMMU group " + group.number()
          + " holds GPU " + gpus.get(0).address() + " and " + foreign.size()
          + " unrelated endpoint(s): the GPU can only be passed through together with them",
          evidence, Optional.of(new Fix("allow the other devices explicitly (gpuvirt bind"
              + " --allow BDF), or move the GPU to a slot behind a switch with ACS",
              Optional.empty(), "", List.of()))));
    }
    return out;
  }

  /**
   * The GRUB line this host needs: the options already in {@code GRUB_CMDLINE_LINUX_DEFAULT} (read
   * from {@code /etc/default/grub} when it is there) without any IOMMU or vfio-pci.ids option,
   * then the IOMMU options and, for static VFIO, {@code vfio-pci.ids} of the GPUs' functions.
   */
  private Fix grubFix(Topology topology) {
    if (os == OsFamily.RHEL) {
      return grubbyFix(topology);
    }
    Optional<String> current = grubDefault();
    List<String> words = new ArrayList<>();
    for (String word : current.orElse("").strip().split("\\s+")) {
      if (!word.isEmpty() && !word.startsWith("intel_iommu=") && !word.startsWith("amd_iommu=")
          && !word.startsWith("iommu=") && !word.startsWith("iommu.passthrough=")
          && !word.startsWith("vfio-pci.ids=")
          && !word.startsWith("vfio_pci.ids=")) {
        words.add(word);
      }
    }
    words.addAll(iommuOptions(topology));
    String summary = current.isPresent()
        ? "set the kernel command line in " + GRUB_FILE + " (the options there are kept)"
        : "add these options to " + GRUB_KEY + " in " + GRUB_FILE
            + " (keep the options already there)";
    if (amd()) {
      summary += "; on AMD the IOMMU is on by default once AMD-Vi/IOMMU is enabled in the"
          + " firmware setup";
    }
    return new Fix(summary + os.assumptionNote(), Optional.of(GRUB_FILE),
        GRUB_KEY + "=\"" + String.join(" ", words) + "\"",
        List.of("update-grub", "update-initramfs -u", "reboot"));
  }

  /** The kernel options passthrough needs here: the IOMMU on, pass-through, static vfio ids. */
  private List<String> iommuOptions(Topology topology) {
    List<String> words = new ArrayList<>();
    if (arch == CpuArchitecture.AARCH64) {
      words.add("iommu.passthrough=1"); // arm64: the SMMU is on when present; no intel_iommu
    } else {
      if (!amd()) {
        words.add("intel_iommu=on");
      }
      words.add("iommu=pt");
    }
    Set<String> ids = passthroughIds(topology);
    if (policy == GpuDriverPolicy.STATIC_VFIO && !ids.isEmpty()) {
      words.add("vfio-pci.ids=" + String.join(",", ids));
    }
    return words;
  }

  /**
   * The RHEL-family fix: {@code grubby} sets the options on every installed kernel (it edits the
   * BLS entries, so {@code /etc/default/grub} is not the place), removing the IOMMU and vfio-pci
   * options on the running command line that disagree.
   */
  private Fix grubbyFix(Topology topology) {
    List<String> add = iommuOptions(topology);
    List<String> remove = cmdlineArgs.stream().filter(a -> !add.contains(a)
        && (a.startsWith("intel_iommu=") || a.startsWith("amd_iommu=") || a.startsWith("iommu=")
            || a.startsWith("iommu.passthrough=")
            || a.startsWith("vfio-pci.ids=") || a.startsWith("vfio_pci.ids="))).toList();
    String grubby = "grubby --update-kernel=ALL"
        + (remove.isEmpty() ? "" : " --remove-args=\"" + String.join(" ", remove) + "\"")
        + " --args=\"" + String.join(" ", add) + "\"";
    String summary = "set the kernel command line of every installed kernel with grubby";
    if (amd()) {
      summary += "; on AMD the IOMMU is on by default once AMD-Vi/IOMMU is enabled in the"
          + " firmware setup";
    }
    return new Fix(summary, Optional.empty(), "", List.of(grubby, "dracut -f", "reboot"));
  }

  /** The value of {@code GRUB_CMDLINE_LINUX_DEFAULT} in {@code /etc/default/grub}, if set. */
  private Optional<String> grubDefault() {
    for (String line : contentLines(GRUB_FILE)) {
      if (line.startsWith(GRUB_KEY + "=")) {
        String value = line.substring(GRUB_KEY.length() + 1).strip();
        if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
            || value.startsWith("'") && value.endsWith("'"))) {
          value = value.substring(1, value.length() - 1);
        }
        return Optional.of(value);
      }
    }
    return Optional.empty();
  }

  private boolean amd() {
    return readOptional("/proc/cpuinfo").orElse("").contains("AuthenticAMD");
  }

  /** vendor:device ids of the GPUs and of the other functions of their slots, sorted. */
  private static Set<String> passthroughIds(Topology topology) {
    Set<PciAddress> gpuSlots = new TreeSet<>();
    topology.gpus().stream().filter(g -> !g.isVirtualFunction())
        .forEach(g -> gpuSlots.add(slot(g)));
    Set<String> ids = new TreeSet<>();
    for (PciDevice d : topology.devices()) {
      if (!d.isBridge() && gpuSlots.contains(slot(d))) {
        ids.add(d.id().toString());
      }
    }
    return ids;
  }

  private static Set<String> idsOf(String list) {
    Set<String> ids = new LinkedHashSet<>();
    for (String id : list.split(",")) {
      String[] parts = id.split(":");
      if (parts.length >= 2) {
        ids.add((parts[0] + ":" + parts[1]).toLowerCase(java.util.Locale.ROOT));
      }
    }
    return ids;
  }

  /** The slot of a device: its address with function 0. */
  private static PciAddress slot(PciDevice d) {
    return d.address().withFunction(0);
  }

  private List<String> confFiles(String dir) {
    if (!sysfs.isDirectory(dir)) {
      return List.of();
    }
    return sysfs.list(dir).stream().filter(n -> n.endsWith(".conf"))
        .map(n -> HostPaths.join(dir, n)).toList();
  }

  private List<String> contentLines(String file) {
    return readOptional(file).orElse("").lines().map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
  }

  private Optional<String> readOptional(String path) {
    if (!sysfs.exists(path)) {
      return Optional.empty();
    }
    try {
      return Optional.of(sysfs.read(path));
    } catch (GpuvirtException e) {
      return Optional.empty();
    }
  }
}
