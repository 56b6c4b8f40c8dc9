package io.gpuvirt.fabric.mig;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads and writes mig-parted's config YAML with the rules of mig-parted's {@code api/spec/v1}:
 * {@code version} must be {@code v1}; the only keys are {@code version} and {@code mig-configs}
 * at the top and {@code device-filter}, {@code devices}, {@code mig-enabled}, {@code mig-devices}
 * in an entry; {@code devices} and {@code mig-enabled} are required, {@code mig-devices} too when
 * MIG is enabled and absent or empty when it is not; {@code device-filter} is one string or a list;
 * {@code devices} is {@code all} or a list of indices. Every error names the line and key path.
 */
public final class MigPartedYaml {
  private static final YAMLFactory FACTORY = YAMLFactory.builder()
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
      .build();

  private MigPartedYaml() {}

  /**
   * Parses a config.
   *
   * @param yaml the file's text
   * @param source the file's name for messages
   * @throws MigPartedFormatException naming the line and key of the first problem
   */
  public static MigPartedConfig parse(String yaml, String source) {
    Node root;
    try (JsonParser parser = FACTORY.createParser(yaml)) {
      if (parser.nextToken() == null) {
        throw new MigPartedFormatException(source, 0, "", "the file is empty; expected "
            + "'version: v1' and 'mig-configs'");
      }
      root = read(parser, source, "");
      if (parser.nextToken() != null) {
        throw new MigPartedFormatException(source, line(parser), "",
            "more than one YAML document; expected one");
      }
    } catch (JsonProcessingException e) {
      int line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
      throw new MigPartedFormatException(source, line, "",
          "malformed YAML: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Reader(source).config(root);
  }

  /** Writes a config as YAML that {@link #parse} reads back to an equal config. */
  public static String write(MigPartedConfig config) {
    StringWriter out = new StringWriter();
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("version", MigPartedConfig.VERSION);
      g.writeObjectFieldStart("mig-configs");
      for (Map.Entry<String, List<MigConfigEntry>> c : config.configs().entrySet()) {
        g.writeArrayFieldStart(c.getKey());
        for (MigConfigEntry e : c.getValue()) {
          g.writeStartObject();
          if (!e.deviceFilter().isEmpty()) {
            g.writeArrayFieldStart("device-filter");
            for (MigDeviceFilter f : e.deviceFilter()) {
              g.writeString(f.toString());
            }
            g.writeEndArray();
          }
          if (e.devices().isEmpty()) {
            g.writeStringField("devices", "all");
          } else {
            g.writeArrayFieldStart("devices");
            for (int i : e.devices().get()) {
              g.writeNumber(i);
            }
            g.writeEndArray();
          }
          g.writeBooleanField("mig-enabled", e.migEnabled());
          if (e.migEnabled()) {
            g.writeObjectFieldStart("mig-devices");
            for (Map.Entry<String, Integer> d : e.migDevices().entrySet()) {
              g.writeNumberField(d.getKey(), d.getValue());
            }
            g.writeEndObject();
          }
          g.writeEndObject();
        }
        g.writeEndArray();
      }
      g.writeEndObject();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  // --- a small tree that keeps line numbers ----------------------------------------------------

  private sealed interface Node permits MapNode, ListNode, Scalar {
    int line();
  }

  private record MapNode(int line, Map<String, Node> entries) implements Node {}

  private record ListNode(int line, List<Node> items) implements Node {}

  private record Scalar(int line, JsonToken kind, String text) implements Node {}

  private static int line(JsonParser p) {
    return p.currentTokenLocation().getLineNr();
  }

  private static Node read(JsonParser p, String source, String path) throws IOException {
    JsonToken t = p.currentToken();
    int line = line(p);
    if (t == JsonToken.START_OBJECT) {
      Map<String, Node> entries = new LinkedHashMap<>();
      while (p.nextToken() != JsonToken.END_OBJECT) {
        String key = p.currentName();
        int keyLine = line(p);
        p.nextToken();
        String childPath = path.isEmpty() ? key : path + "." + key;
        Node value = read(p, source, childPath);
        if (entries.put(key, value) != null) {
          throw new MigPartedFormatException(source, keyLine, childPath, "duplicate key");
        }
      }
      return new MapNode(line, entries);
    }
    if (t == JsonToken.START_ARRAY) {
      List<Node> items = new ArrayList<>();
      while (p.nextToken() != JsonToken.END_ARRAY) {
        items.add(read(p, source, path + "[" + items.size() + "]"));
      }
      return new ListNode(line, items);
    }
    return new Scalar(line, t, p.getText());
  }

  /** Turns the tree into the config, with mig-parted's rules. */
  private static final class Reader {
    private final String source;

    Reader(String source) {
      this.source = source;
    }

    private MigPartedFormatException error(Node at, String path, String problem) {
      return new MigPartedFormatException(source, at.line(), path, problem);
    }

    private MapNode map(Node n, String path, Set<String> allowed) {
      if (!(n instanceof MapNode m)) {
        throw error(n, path, "expected a mapping");
      }
      for (Map.Entry<String, Node> e : m.entries().entrySet()) {
        if (!allowed.contains(e.getKey())) {
          String key = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
          throw error(e.getValue(), key, "unexpected key; expected one of "
              + String.join(", ", new TreeSet<>(allowed)));
        }
      }
      return m;
    }

    private String string(Node n, String path) {
      if (!(n instanceof Scalar s) || s.kind() != JsonToken.VALUE_STRING) {
        throw error(n, path, "expected a string");
      }
      return s.text();
    }

    MigPartedConfig config(Node root) {
      MapNode top = map(root, "", Set.of("version", "mig-configs"));
      Node version = top.entries().get("version");
      if (version == null) {
        throw error(root, "version", "missing; expected 'version: v1'");
      }
      if (!(version instanceof Scalar v) || !MigPartedConfig.VERSION.equals(v.text())) {
        throw error(version, "version", "unknown version "
            + (version instanceof Scalar s ? "'" + s.text() + "'" : "") + "; expected v1");
      }
      Node configs = top.entries().get("mig-configs");
      if (configs == null) {
        throw error(root, "mig-configs", "missing; at least one config is required");
      }
      Map<String, List<MigConfigEntry>> out = new LinkedHashMap<>();
      if (!(configs instanceof MapNode cm) || cm.entries().isEmpty()) {
        throw error(configs, "mig-configs", "expected a mapping of at least one config");
      }
      for (Map.Entry<String, Node> c : cm.entries().entrySet()) {
        String path = "mig-configs." + c.getKey();
        if (!(c.getValue() instanceof ListNode list) || list.items().isEmpty()) {
          throw error(c.getValue(), path, "expected a list of at least one entry");
        }
        List<MigConfigEntry> entries = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
          entries.add(entry(list.items().get(i), path + "[" + i + "]"));
        }
        out.put(c.getKey(), entries);
      }
      return new MigPartedConfig(out);
    }

    private MigConfigEntry entry(Node n, String path) {
      MapNode m = map(n, path,
          Set.of("device-filter", "devices", "mig-enabled", "mig-devices"));
      for (String required : List.of("devices", "mig-enabled")) {
        if (!m.entries().containsKey(required)) {
          throw error(n, path + "." + required, "missing required key");
        }
      }
      List<MigDeviceFilter> filters = new ArrayList<>();
      Node f = m.entries().get("device-filter");
      if (f != null) {
        String fp = path + ".device-filter";
        List<Node> items = f instanceof ListNode l ? l.items() : List.of(f);
        if (items.isEmpty()) {
          throw error(f, fp, "empty list; remove the key to select every GPU");
        }
        for (Node item : items) {
          try {
            filters.add(MigDeviceFilter.parse(string(item, fp)));
          } catch (MigPartedFormatException e) {
            throw e;
          } catch (InvalidValueException e) {
            throw error(item, fp, e.getMessage());
          }
        }
      }
      Node d = m.entries().get("devices");
      String dp = path + ".devices";
      Optional<List<Integer>> devices;
      if (d instanceof Scalar s && s.kind() == JsonToken.VALUE_STRING) {
        if (!s.text().equals("all")) {
          throw error(d, dp, "'" + s.text() + "' is not 'all' or a list of GPU indices");
        }
        devices = Optional.empty();
      } else if (d instanceof ListNode l) {
        List<Integer> indices = new ArrayList<>();
        for (Node item : l.items()) {
          if (!(item instanceof Scalar s) || s.kind() != JsonToken.VALUE_NUMBER_INT) {
            throw error(item, dp, "expected a GPU index (0, 1, ...)");
          }
          indices.add(integer(s, dp));
        }
        devices = Optional.of(indices);
      } else {
        throw error(d, dp, "expected 'all' or a list of GPU indices");
      }
      Node e = m.entries().get("mig-enabled");
      if (!(e instanceof Scalar s)
          || (s.kind() != JsonToken.VALUE_TRUE && s.kind() != JsonToken.VALUE_FALSE)) {
        throw error(e, path + ".mig-enabled", "expected true or false");
      }
      boolean enabled = s.kind() == JsonToken.VALUE_TRUE;
      Map<String, Integer> migDevices = new LinkedHashMap<>();
      Node md = m.entries().get("mig-devices");
      String mp = path + ".mig-devices";
      if (md == null && enabled) {
        throw error(n, mp, "missing; required when mig-enabled is true ({} for none)");
      }
      if (md != null && !(md instanceof Scalar sc && sc.kind() == JsonToken.VALUE_NULL)) {
        if (!(md instanceof MapNode mm)) {
          throw error(md, mp, "expected a mapping of profile name to count");
        }
        for (Map.Entry<String, Node> p : mm.entries().entrySet()) {
          String pp = mp + "." + p.getKey();
          if (!(p.getValue() instanceof Scalar c) || c.kind() != JsonToken.VALUE_NUMBER_INT) {
            throw error(p.getValue(), pp, "expected a count");
          }
          try {
            GpuInstanceProfile.checkName(p.getKey());
          } catch (InvalidValueException x) {
            throw error(p.getValue(), pp, x.getMessage());
          }
          migDevices.put(p.getKey(), integer(c, pp));
        }
        if (!enabled && !migDevices.isEmpty()) {
          throw error(md, mp, "MIG devices given while mig-enabled is false");
        }
      }
      try {
        return new MigConfigEntry(filters, devices, enabled, migDevices);
      } catch (InvalidValueException x) {
        throw error(n, path, x.getMessage());
      }
    }

    private int integer(Scalar s, String path) {
      try {
        int v = Integer.parseInt(s.text());
        if (v < 0) {
          throw error(s, path, "negative value " + v);
        }
        return v;
      } catch (NumberFormatException x) {
        throw error(s, path, "'" + s.text() + "' is not a small integer");
      }
    }
  }
}
