package io.gpuvirt.testkit.fabric;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON the way jsoncpp's {@code StyledWriter} prints it, as {@code fmpm} does: keys in byte order
 * (jsoncpp keeps members in a {@code std::map}), three-space indent, {@code "key" : value}, short
 * arrays of scalars on one line as {@code [ 1, 2 ]}, a newline at the end. (The exact layout is
 * inferred from jsoncpp; no captured fmpm output was available.)
 */
final class StyledJson {
  private static final int RIGHT_MARGIN = 74;
  private static final String INDENT = "   ";

  private StyledJson() {}

  static String write(JsonNode value) {
    StringBuilder out = new StringBuilder();
    writeValue(out, value, "");
    out.append('\n');
    return out.toString();
  }

  private static void writeValue(StringBuilder out, JsonNode v, String indent) {
    if (v.isObject()) {
      if (v.isEmpty()) {
        out.append("{}");
        return;
      }
      Map<String, JsonNode> sorted = new TreeMap<>();
      v.properties().forEach(e -> sorted.put(e.getKey(), e.getValue()));
      out.append("{\n");
      String inner = indent + INDENT;
      int i = 0;
      for (Map.Entry<String, JsonNode> e : sorted.entrySet()) {
        out.append(inner).append(quote(e.getKey())).append(" : ");
        writeValue(out, e.getValue(), inner);
        out.append(++i < sorted.size() ? ",\n" : "\n");
      }
      out.append(indent).append('}');
    } else if (v.isArray()) {
      if (v.isEmpty()) {
        out.append("[]");
        return;
      }
      List<String> scalars = new ArrayList<>();
      boolean multiline = v.size() * 3 >= RIGHT_MARGIN;
      int length = 2 + (v.size() - 1) * 2;
      for (JsonNode item : v) {
        if (item.isContainerNode() && !item.isEmpty()) {
          multiline = true;
          break;
        }
        String text = scalar(item);
        scalars.add(text);
        length += text.length();
      }
      if (!multiline && length <= RIGHT_MARGIN) {
        out.append("[ ").append(String.join(", ", scalars)).append(" ]");
        return;
      }
      out.append("[\n");
      String inner = indent + INDENT;
      for (int i = 0; i < v.size(); i++) {
        out.append(inner);
        writeValue(out, v.get(i), inner);
        out.append(i + 1 < v.size() ? ",\n" : "\n");
      }
      out.append(indent).append(']');
    } else {
      out.append(scalar(v));
    }
  }

  private static String scalar(JsonNode v) {
    if (v.isObject()) {
      return "{}";
    }
    if (v.isArray()) {
      return "[]";
    }
    return v.isTextual() ? quote(v.textValue()) : v.toString();
  }

  private static String quote(String s) {
    return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(s)) + "\"";
  }
}
