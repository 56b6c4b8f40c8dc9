package io.gpuvirt.core.doctor;

import java.util.List;
import java.util.Optional;

/**
 * The exact fix for a finding: the text of a file to write (gpuvirt never writes it) and the
 * commands to run afterwards.
 *
 * @param summary one line saying what the fix does
 * @param file the host file to create or edit, if the fix is a file
 * @param content the text for that file (or the line to put in it)
 * @param commands commands to run after editing, in order ({@code update-grub}, {@code reboot})
 */
public record Fix(String summary, Optional<String> file, String content, List<String> commands) {
  public Fix {
    commands = List.copyOf(commands);
  }

  /** Renders the fix as text an operator can follow. */
  public String render() {
    StringBuilder sb = new StringBuilder(summary).append('\n');
    file.ifPresent(f -> sb.append("  in ").append(f).append(":\n"));
    if (!content.isEmpty()) {
      content.lines().forEach(l -> sb.append("    ").append(l).append('\n'));
    }
    if (!commands.isEmpty()) {
      sb.append("  then run:\n");
      commands.forEach(c -> sb.append("    ").append(c).append('\n'));
    }
    return sb.toString();
  }
}
