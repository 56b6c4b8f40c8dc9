package io.gpuvirt.qemu.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * libvirt's real QEMU driver, in-process: {@code virsh -c 'qemu:///embed?root=DIR'
 * domxml-to-native qemu-argv}, which prints the exact command libvirt would run for a domain.
 */
public final class Libvirt {
  private final Path root;

  private Libvirt(Path root) {
    this.root = root;
  }

  /**
   * An embedded driver rooted at {@code dir}, with the qemu.conf that keeps it from re-probing
   * QEMU on every call (user and group root).
   */
  public static Libvirt embeddedAt(Path dir) {
    try {
      Files.createDirectories(dir.resolve("etc"));
      Files.writeString(dir.resolve("etc/qemu.conf"), "user = \"root\"\ngroup = \"root\"\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Libvirt(dir);
  }

  /** The command libvirt derives from the domain in {@code xml}, as virsh prints it. */
  public CommandResult toNative(Path xml) {
    return CommandRunner.system().run(Command.of(List.of(Tools.virsh(), "-c",
        "qemu:///embed?root=" + root, "domxml-to-native", "qemu-argv", xml.toString()))
        .withTimeout(Duration.ofMinutes(2)));
  }

  /** The argv of the command libvirt derives, without the environment before the program. */
  public List<String> argv(Path xml) {
    CommandResult r = toNative(xml);
    assertEquals(0, r.exitCode(), "domxml-to-native: " + r.stderr());
    List<String> words = words(r.stdout());
    int program = 0;
    while (program < words.size() && words.get(program).matches("[A-Z_]+=.*")) {
      program++;
    }
    return List.copyOf(words.subList(program, words.size()));
  }

  /** The words of a command line as virsh prints it: spaces between, '...' quoting, \ escapes. */
  public static List<String> words(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean quoted = false;
    boolean any = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\'') {
        quoted = !quoted;
        any = true;
      } else if (c == '\\' && !quoted && i + 1 < line.length()) {
        word.append(line.charAt(++i));
        any = true;
      } else if (Character.isWhitespace(c) && !quoted) {
        if (any) {
          out.add(word.toString());
          word.setLength(0);
          any = false;
        }
      } else {
        word.append(c);
        any = true;
      }
    }
    if (any) {
      out.add(word.toString());
    }
    return out;
  }
}
