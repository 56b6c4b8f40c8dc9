package io.gpuvirt.core.gpuhost;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How gpuvirt reaches one host: its root, the {@link Sysfs} seam every read and write goes
 * through, the {@link CommandRunner} external programs ({@code nvidia-smi}, {@code fmpm}) run
 * through, and a line that describes it. A real host is {@link #real(Path)}; a {@link HostProvider}
 * (the testkit's, for a simulated host) supplies others.
 *
 * @param root the host root ({@code /} for this machine)
 * @param sysfs the host seam for that root
 * @param commands where external programs run
 * @param description the host in words, for output ({@code host root /},
 *     {@code simulated hgx-b200 at /tmp/x})
 * @param simulated whether this is a simulated host
 */
public record HostEnvironment(Path root, Sysfs sysfs, CommandRunner commands, String description,
    boolean simulated) {
  public HostEnvironment {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(sysfs, "sysfs");
    Objects.requireNonNull(commands, "commands");
    Objects.requireNonNull(description, "description");
    if (description.isBlank()) {
      throw new InvalidValueException("a host environment needs a description, was blank");
    }
  }

  /** The real host at {@code root}: plain sysfs and the programs of this machine. */
  public static HostEnvironment real(Path root) {
    return new HostEnvironment(root, Sysfs.at(root), CommandRunner.system(), "host root " + root,
        false);
  }
}
