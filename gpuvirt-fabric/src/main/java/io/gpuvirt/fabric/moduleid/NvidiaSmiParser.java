package io.gpuvirt.fabric.moduleid;

import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.pci.PciAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads module ids from the text of {@code nvidia-smi -q}. The fields of a GPU's section are read
 * at any indentation: nvidia-smi indents them, but the same text pasted into a ticket or a web
 * page often loses it (the seed post's excerpt does), and the section still belongs to the
 * {@code GPU 00000000:17:00.0} line before it.
 */
final class NvidiaSmiParser {
  private static final Pattern GPU = Pattern.compile(
      "^GPU\\s+([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7])\\s*$");
  private static final Pattern MODULE_ID = Pattern.compile("^\\s*Module I[dD]\\s*:\\s*(.*?)\\s*$");
  private static final Pattern BUS_ID = Pattern.compile("^\\s*Bus Id\\s*:\\s*(\\S+)\\s*$");
  private static final Pattern DRIVER = Pattern.compile("^Driver Version\\s*:\\s*(\\S+)\\s*$");
  private static final Pattern ATTACHED = Pattern.compile("^Attached GPUs\\s*:\\s*(\\d+)\\s*$");

  private NvidiaSmiParser() {}

  static NvidiaSmiReport parse(String text, String source) {
    Optional<String> driver = Optional.empty();
    Optional<Integer> attached = Optional.empty();
    Map<PciAddress, List<String>> moduleLines = new LinkedHashMap<>();
    PciAddress current = null;
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      Matcher m;
      if ((m = GPU.matcher(line)).matches()) {
        current = PciAddress.parse(m.group(1));
        if (moduleLines.put(current, new ArrayList<>()) != null) {
          throw fail(source, "GPU " + current + " appears twice");
        }
      } else if (current == null && (m = DRIVER.matcher(line)).matches()) {
        driver = Optional.of(m.group(1));
      } else if (current == null && (m = ATTACHED.matcher(line)).matches()) {
        attached = Optional.of(Integer.parseInt(m.group(1)));
      } else if (current != null && (m = MODULE_ID.matcher(line)).matches()) {
        moduleLines.get(current).add(m.group(1));
      } else if (current != null && (m = BUS_ID.matcher(line)).matches()) {
        PciAddress bus;
        try {
          bus = PciAddress.parse(m.group(1));
        } catch (RuntimeException e) {
          throw fail(source, "line " + (i + 1) + ": Bus Id '" + m.group(1) + "' of GPU " + current
              + " is not a PCI address");
        }
        if (!bus.equals(current)) {
          throw fail(source, "line " + (i + 1) + ": the section of GPU " + current
              + " has Bus Id " + bus);
        }
      }
    }
    if (moduleLines.isEmpty()) {
      throw fail(source, "it lists no GPU (no 'GPU 00000000:17:00.0' section); is the nvidia "
          + "driver loaded and are the GPUs bound to it?");
    }
    if (attached.isPresent() && attached.get() != moduleLines.size()) {
      throw fail(source, "it says 'Attached GPUs : " + attached.get() + "' but has "
          + moduleLines.size() + " GPU sections; the output is truncated");
    }
    Map<Integer, PciAddress> byModuleId = new TreeMap<>();
    for (Map.Entry<PciAddress, List<String>> e : moduleLines.entrySet()) {
      PciAddress gpu = e.getKey();
      List<String> values = e.getValue().stream().distinct().toList();
      if (values.isEmpty() || values.equals(List.of("N/A"))) {
        throw fail(source, "GPU " + gpu + " has no Module ID; module ids need driver r535 or "
            + "later on an HGX baseboard");
      }
      if (values.size() > 1) {
        throw fail(source, "GPU " + gpu + " has two different module ids " + values);
      }
      int id;
      try {
        if (!values.get(0).matches("-?[0-9]{1,9}")) { // ASCII digits only, as nvidia-smi prints
          throw new NumberFormatException(values.get(0));
        }
        id = Integer.parseInt(values.get(0));
      } catch (NumberFormatException ex) {
        throw fail(source, "GPU " + gpu + " has Module ID '" + values.get(0)
            + "', not a number");
      }
      if (id < 0) {
        throw fail(source, "GPU " + gpu + " has negative Module ID " + id);
      }
      PciAddress other = byModuleId.put(id, gpu);
      if (other != null) {
        throw fail(source, "GPUs " + other + " and " + gpu + " both have module id " + id
            + (id == 0 ? " (0 means the GPU is not on an NVSwitch baseboard: this host has no "
                + "Fabric Manager partitions)" : ""));
      }
    }
    return new NvidiaSmiReport(driver, new ModuleIdMap(byModuleId));
  }

  private static ModuleIdDiscoveryException fail(String source, String why) {
    return new ModuleIdDiscoveryException("could not read GPU module ids from " + source + ": "
        + why);
  }
}
