package io.gpuvirt.core.doctor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The distribution family a host's fixes are written for, read from {@code /etc/os-release}
 * ({@code ID} and {@code ID_LIKE}, os-release(5)): Debian and Ubuntu regenerate GRUB and the
 * initramfs with {@code update-grub} and {@code update-initramfs}, the RHEL family (RHEL, Fedora,
 * CentOS, Rocky, AlmaLinux, Oracle Linux) with {@code grubby} and {@code dracut}.
 */
enum OsFamily {
  DEBIAN, RHEL, UNKNOWN;

  private static final Set<String> DEBIAN_IDS = Set.of("debian", "ubuntu");
  private static final Set<String> RHEL_IDS = Set.of("rhel", "fedora", "centos", "rocky",
      "almalinux", "ol");

  /** The family named by os-release text; {@link #UNKNOWN} when it names neither. */
  static OsFamily of(String osRelease) {
    List<String> ids = new ArrayList<>();
    for (String line : osRelease.lines().map(String::strip).toList()) {
      if (line.startsWith("ID=") || line.startsWith("ID_LIKE=")) {
        String value = line.substring(line.indexOf('=') + 1).strip();
        if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
            || value.startsWith("'") && value.endsWith("'"))) {
          value = value.substring(1, value.length() - 1);
        }
        for (String id : value.split("\\s+")) {
          if (!id.isEmpty()) {
            ids.add(id.toLowerCase(Locale.ROOT));
          }
        }
      }
    }
    for (String id : ids) {
      if (RHEL_IDS.contains(id)) {
        return RHEL;
      }
      if (DEBIAN_IDS.contains(id)) {
        return DEBIAN;
      }
    }
    return UNKNOWN;
  }

  /** The command that rebuilds the initramfs. */
  String initramfsCommand() {
    return this == RHEL ? "dracut -f" : "update-initramfs -u";
  }

  /** A note for an unknown family: which commands the fix assumed and the RHEL-family ones. */
  String assumptionNote() {
    return this == UNKNOWN ? " (commands for Debian/Ubuntu; /etc/os-release names neither"
        + " family: on RHEL, Fedora and the like use grubby --update-kernel=ALL --args=... and"
        + " dracut -f)" : "";
  }
}
