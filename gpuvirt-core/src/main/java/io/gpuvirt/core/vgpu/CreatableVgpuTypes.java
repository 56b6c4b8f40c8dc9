package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The contents of a VF's {@code nvidia/creatable_vgpu_types}: the driver prints the header
 * {@code ID    : vGPU Name} and then one {@code %-5d : %s} line per type that can be created on
 * that VF now. A header-only file means the GPU is full.
 */
public final class CreatableVgpuTypes {
  static final String HEADER = "ID    : vGPU Name";

  /** One line: a creatable type's id and name. */
  public record Entry(int id, String name) {}

  private CreatableVgpuTypes() {}

  /**
   * Parses the file strictly.
   *
   * @param text the file's contents
   * @param source the file's path, named in errors
   * @return the entries in file order, empty when only the header is present
   * @throws InvalidValueException naming the file, the line and what was expected
   */
  public static List<Entry> parse(String text, String source) {
    List<String> lines = new ArrayList<>(text.lines().toList());
    if (lines.isEmpty() || !lines.get(0).strip().equals(HEADER)) {
      throw new InvalidValueException(source + ": first line must be '" + HEADER + "', found '"
          + (lines.isEmpty() ? "" : lines.get(0)) + "'; is this a vGPU VF on the NVIDIA driver?");
    }
    List<Entry> entries = new ArrayList<>();
    Set<Integer> seen = new HashSet<>();
    for (int i = 1; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      int colon = line.indexOf(':');
      String idText = colon < 0 ? "" : line.substring(0, colon).strip();
      String name = colon < 0 ? "" : line.substring(colon + 1).strip();
      if (!idText.matches("[0-9]{1,9}") || name.isEmpty()) {
        throw new InvalidValueException(source + " line " + (i + 1) + ": '" + line
            + "' is not '<id> : <name>'");
      }
      int id = Integer.parseInt(idText);
      if (id == 0 || !seen.add(id)) {
        throw new InvalidValueException(source + " line " + (i + 1) + ": id " + id
            + (id == 0 ? " is not a type" : " listed twice"));
      }
      entries.add(new Entry(id, name));
    }
    return List.copyOf(entries);
  }

  /** Renders entries as the driver does ({@code %-5d : %s}); the testkit's kernel model uses it. */
  public static String render(List<Entry> entries) {
    StringBuilder b = new StringBuilder(HEADER).append('\n');
    for (Entry e : entries) {
      b.append(String.format("%-5d : %s%n", e.id(), e.name()));
    }
    return b.toString();
  }
}
