package io.gpuvirt.fabric.fmpm;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.NvlinkFailedDevice;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.fabric.PartitionGpu;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Reads the JSON fmpm prints: jsoncpp's rendering of the libnvfm structs, keyed by the C field
 * names. Key order and layout do not matter; missing fields, wrong types, counts that disagree with
 * the arrays, and anything that is not JSON are refused with a message that quotes the output.
 */
final class FmpmOutput {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_PARTITIONS = 64;
  private static final int MAX_GPUS = 16;
  private static final int MAX_SWITCHES = 12;
  private static final int MAX_PORTS = 64;

  private final String operation;
  private final String text;

  private FmpmOutput(String operation, String text) {
    this.operation = operation;
    this.text = text;
  }

  static List<FabricPartition> partitions(String operation, String stdout) {
    FmpmOutput out = new FmpmOutput(operation, stdout);
    JsonNode root = out.root();
    List<FabricPartition> partitions = new ArrayList<>();
    for (JsonNode p : out.array(root, "partitionInfo", "numPartitions", MAX_PARTITIONS)) {
      int id = out.uint(p, "partitionId", MAX_PARTITIONS - 1);
      List<PartitionGpu> gpus = new ArrayList<>();
      for (JsonNode g : out.array(p, "gpuInfo", "numGpus", MAX_GPUS)) {
        gpus.add(new PartitionGpu(out.uint(g, "physicalId", Integer.MAX_VALUE),
            out.uint(g, "numNvLinksAvailable", Integer.MAX_VALUE),
            out.uint(g, "maxNumNvLinks", Integer.MAX_VALUE),
            out.uint(g, "nvlinkLineRateMBps", Integer.MAX_VALUE)));
      }
      boolean active = out.flag(p, "isActive");
      try {
        partitions.add(new FabricPartition(id, active, gpus));
      } catch (IllegalArgumentException | InvalidValueException e) {
        throw out.bad(e.getMessage());
      }
    }
    if (partitions.stream().map(FabricPartition::id).distinct().count() != partitions.size()) {
      throw out.bad("a partition id is listed twice");
    }
    partitions.sort(Comparator.comparingInt(FabricPartition::id));
    return List.copyOf(partitions);
  }

  static List<Integer> unsupported(String operation, String stdout) {
    FmpmOutput out = new FmpmOutput(operation, stdout);
    JsonNode root = out.root();
    List<Integer> ids = new ArrayList<>();
    for (JsonNode p : out.array(root, "partitionInfo", "numPartitions", MAX_PARTITIONS)) {
      ids.add(out.uint(p, "partitionId", MAX_PARTITIONS - 1));
    }
    return ids.stream().sorted().toList();
  }

  static NvlinkFailedDevices nvlinkFailed(String operation, String stdout) {
    FmpmOutput out = new FmpmOutput(operation, stdout);
    JsonNode root = out.root();
    return new NvlinkFailedDevices(out.failed(root, "gpuInfo", "numGpus", MAX_GPUS),
        out.failed(root, "switchInfo", "numSwitches", MAX_SWITCHES));
  }

  private List<NvlinkFailedDevice> failed(JsonNode root, String array, String count, int max) {
    List<NvlinkFailedDevice> devices = new ArrayList<>();
    for (JsonNode d : array(root, array, count, max)) {
      List<Integer> ports = new ArrayList<>();
      for (JsonNode p : array(d, "portNum", "numPorts", MAX_PORTS)) {
        if (!p.canConvertToInt() || !p.isIntegralNumber() || p.intValue() < 0) {
          throw bad("port number " + p + " is not a non-negative integer");
        }
        ports.add(p.intValue());
      }
      devices.add(new NvlinkFailedDevice(string(d, "uuid"), string(d, "pciBusId"), ports));
    }
    return devices;
  }

  private JsonNode root() {
    int start = text.indexOf('{');
    if (start < 0) {
      throw bad("it printed no JSON object");
    }
    try {
      JsonNode root = JSON.readTree(text.substring(start));
      if (root == null || !root.isObject()) {
        throw bad("it printed no JSON object");
      }
      return root;
    } catch (JsonProcessingException e) {
      throw bad("its JSON is malformed or truncated (" + e.getOriginalMessage() + ")");
    }
  }

  private List<JsonNode> array(JsonNode parent, String field, String countField, int max) {
    JsonNode a = parent.get(field);
    int count = uint(parent, countField, max);
    if (a == null || a.isNull()) {
      if (count == 0) {
        return List.of();
      }
      throw bad("\"" + field + "\" is missing while \"" + countField + "\" is " + count);
    }
    if (!a.isArray()) {
      throw bad("\"" + field + "\" is not an array");
    }
    if (a.size() != count) {
      throw bad("\"" + countField + "\" is " + count + " but \"" + field + "\" has " + a.size()
          + " entries");
    }
    List<JsonNode> items = new ArrayList<>();
    a.forEach(items::add);
    return items;
  }

  private int uint(JsonNode parent, String field, int max) {
    JsonNode v = parent.get(field);
    if (v == null) {
      throw bad("field \"" + field + "\" is missing");
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0
        || v.longValue() > max) {
      throw bad("field \"" + field + "\" is " + v + ", not an integer from 0 to " + max);
    }
    return v.intValue();
  }

  private boolean flag(JsonNode parent, String field) {
    JsonNode v = parent.get(field);
    if (v != null && v.isBoolean()) {
      return v.booleanValue();
    }
    return uint(parent, field, 1) == 1;
  }

  private String string(JsonNode parent, String field) {
    JsonNode v = parent.get(field);
    if (v == null || !v.isTextual()) {
      throw bad("field \"" + field + "\" is " + v + ", not a string");
    }
    return v.textValue();
  }

  private FabricManagerProtocolException bad(String why) {
    String shown = text.strip();
    if (shown.length() > 300) {
      shown = shown.substring(0, 300) + "...";
    }
    return new FabricManagerProtocolException(operation, "could not read fmpm's output: " + why
        + "; output was: '" + shown + "'; check that fmpm and nvidia-fabricmanager are from the "
        + "same release");
  }
}
