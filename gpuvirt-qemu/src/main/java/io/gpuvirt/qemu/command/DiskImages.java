package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.qemu.QemuException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads a disk image's format from its header, the way {@code qemu-img info} does for the formats
 * with a signature, so that the command names the format and QEMU never guesses it at boot (a
 * guest can write a qcow2 header into a raw image; QEMU warns when it probes).
 *
 * <pre>{@code
 * String format = DiskImages.probeFormat(Path.of("/var/lib/vm-42/disk.qcow2"));  // "qcow2"
 * }</pre>
 */
public final class DiskImages {
  private static final int HEADER = 64;

  private DiskImages() {}

  /**
   * {@code qcow2}, {@code qed}, {@code vmdk}, {@code vdi}, {@code vhdx} or {@code vpc} when the
   * header carries that format's signature, else {@code raw}.
   *
   * @throws InvalidValueException when the path is not a regular file (a block device has no
   *     header to read: give its format, {@code raw})
   * @throws QemuException when it cannot be read
   */
  public static String probeFormat(Path image) {
    if (!Files.isRegularFile(image)) {
      throw new InvalidValueException("disk " + image + " is not a regular file"
          + (Files.exists(image, LinkOption.NOFOLLOW_LINKS) ? "" : " (it does not exist)")
          + "; give an existing image, or its format for a block device");
    }
    byte[] head = new byte[HEADER];
    int n = 0;
    try (InputStream in = Files.newInputStream(image)) {
      int r;
      while (n < HEADER && (r = in.read(head, n, HEADER - n)) > 0) {
        n += r;
      }
    } catch (IOException e) {
      throw new QemuException("cannot read the header of disk " + image + ": " + e.getMessage()
          + "; check that the file is readable", e);
    }
    byte[] h = Arrays.copyOf(head, n);
    if (starts(h, new byte[] {'Q', 'F', 'I', (byte) 0xfb})) {
      return "qcow2";
    }
    if (starts(h, new byte[] {'Q', 'E', 'D', 0})) {
      return "qed";
    }
    if (starts(h, ascii("KDMV"))) {
      return "vmdk";
    }
    if (starts(h, ascii("vhdxfile"))) {
      return "vhdx";
    }
    if (starts(h, ascii("conectix"))) {
      return "vpc";
    }
    // VDI: signature 0xbeda107f at offset 64 is past the header read; its text banner is at 0
    if (starts(h, ascii("<<< ")) && new String(h, StandardCharsets.ISO_8859_1)
        .contains("VirtualBox Disk Image")) {
      return "vdi";
    }
    return "raw";
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static boolean starts(byte[] h, byte[] magic) {
    return h.length >= magic.length && Arrays.equals(h, 0, magic.length, magic, 0, magic.length);
  }
}
