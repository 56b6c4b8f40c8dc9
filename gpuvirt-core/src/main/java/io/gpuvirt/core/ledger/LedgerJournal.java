package io.gpuvirt.core.ledger;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.internal.AtomicFiles;
import io.gpuvirt.core.internal.BoundedFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * The append-only journal beside the ledger snapshot ({@code leases.journal}): the commits made
 * since the snapshot was written, one checksummed line each, so a commit costs one append and one
 * fsync instead of a whole-file replacement (two fsyncs and a rename).
 *
 * <pre>
 * {"format":"gpuvirt-lease-journal","version":1,"generation":7,"snapshot":"5e1f0a2b"}
 * 1f2e3d4c {"seq":1,"put":[{...lease...}],"remove":[]}
 * 9a8b7c6d {"seq":2,"put":[],"remove":["vm-42"]}
 * </pre>
 *
 * <p>The header names the snapshot the records extend, by its generation and the CRC-32C of its
 * bytes (so a {@code leases.json} replaced or edited by hand under a journal is noticed, never
 * silently overlaid or dropped); each record line is the CRC-32C
 * of its JSON (8 hex digits), a space, the JSON and a newline, with sequence numbers 1, 2, 3...
 * Reading: a journal of the snapshot's generation is replayed over it; one of an older generation
 * was folded into the snapshot already (a crash between writing the snapshot and removing the
 * journal) and is ignored. A last line without its newline or checksum is an append a crash
 * interrupted before it was acknowledged: it is ignored, and the next append cuts it off. Anything
 * else (a bad header, a bad record before the last, a gap in the sequence, a journal newer than
 * its snapshot) is a {@link LedgerFormatException}: gpuvirt never guesses which leases were meant.
 */
final class LedgerJournal {
  static final String FILE = "leases.journal";
  static final String FORMAT = "gpuvirt-lease-journal";
  static final int VERSION = 1;
  private static final Pattern HEADER = Pattern.compile(
      "\\{\"format\":\"" + FORMAT + "\",\"version\":([0-9]{1,9}),\"generation\":([0-9]{1,18}),"
      + "\"snapshot\":\"([0-9a-f]{8})\"\\}");

  /**
   * What a journal file holds: the generation and checksum of the snapshot it extends, its
   * records, and where its valid part ends; {@code bytes} are the file's bytes as read (at least
   * {@code validLength} of them; never changed), so that a later read can tell whether the file
   * still starts with them.
   */
  record Contents(long generation, long snapshotCrc, List<LedgerCodec.JournalEntry> records,
      long validLength, long fileLength, byte[] bytes) {

    /** Whether the file ends with an interrupted append that the next append must cut off. */
    boolean tornTail() {
      return validLength != fileLength;
    }

    long nextSeq() {
      return records.size() + 1L;
    }

    /**
     * What the file holds once {@code lines} (the lines of {@code entries}, in order) were
     * appended after its valid part: the same without decoding them again.
     */
    Contents appended(List<LedgerCodec.JournalEntry> entries, byte[] lines) {
      byte[] next = Arrays.copyOf(bytes, Math.toIntExact(validLength + lines.length));
      System.arraycopy(lines, 0, next, (int) validLength, lines.length);
      List<LedgerCodec.JournalEntry> all = new ArrayList<>(records);
      all.addAll(entries);
      return new Contents(generation, snapshotCrc, List.copyOf(all), next.length, next.length,
          next);
    }

    /** Whether {@code file} starts with the valid part of these contents. */
    private boolean prefixOf(byte[] file) {
      return file.length >= validLength
          && Arrays.equals(file, 0, (int) validLength, bytes, 0, (int) validLength);
    }
  }

  private LedgerJournal() {}

  /**
   * The journal at {@code file}, or empty when there is none.
   *
   * @throws LedgerFormatException when it is not a journal or is corrupt before its last line
   * @throws LedgerException when it cannot be read
   */
  static Optional<Contents> read(Path file) {
    return read(file, Optional.empty());
  }

  /**
   * The same, reusing what {@code known} (an earlier read of this journal) parsed when the file
   * still starts with exactly the bytes it parsed: only the records appended since are decoded,
   * and when there are none, {@code known} itself is returned.
   */
  static Optional<Contents> read(Path file, Optional<Contents> known) {
    byte[] bytes;
    try {
      if (Files.isSymbolicLink(file)) {
        throw corrupt(file, "it is a symbolic link, not the journal gpuvirt writes", null);
      }
      bytes = BoundedFiles.read(file, BoundedFiles.STATE_FILE_MAX);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (BoundedFiles.RefusedFileException e) {
      throw corrupt(file, "it is " + e.found() + ", not a journal file", e);
    } catch (IOException e) {
      throw new LedgerException(file, "cannot read the lease journal " + file + " (" + e
          + "); check its permissions", e);
    }
    return Optional.of(parse(file, bytes, known));
  }

  /** Parses the journal's bytes (see the class comment). */
  static Contents parse(Path file, byte[] bytes) {
    return parse(file, bytes, Optional.empty());
  }

  private static Contents parse(Path file, byte[] bytes, Optional<Contents> known) {
    if (known.isPresent() && known.get().prefixOf(bytes)) {
      Contents k = known.get();
      if (bytes.length == k.fileLength() && k.validLength() == k.fileLength()) {
        return k;
      }
      return parseRecords(file, bytes, k.generation(), k.snapshotCrc(),
          new ArrayList<>(k.records()), (int) k.validLength());
    }
    int end = indexOf(bytes, 0);
    if (end < 0) {
      throw corrupt(file, "its header line is incomplete", null);
    }
    String header = new String(bytes, 0, end, StandardCharsets.UTF_8);
    Matcher m = HEADER.matcher(header);
    if (!m.matches()) {
      throw corrupt(file, "its first line is not a gpuvirt lease journal header", null);
    }
    int version = Integer.parseInt(m.group(1));
    if (version != VERSION) {
      throw new LedgerFormatException(file, "lease journal " + file + " has version " + version
          + "; this gpuvirt reads version " + VERSION + " and will not touch it. Upgrade gpuvirt"
          + " on this host (never delete the journal: it holds the latest leases)");
    }
    long generation = Long.parseLong(m.group(2));
    long snapshotCrc = Long.parseLong(m.group(3), 16);
    return parseRecords(file, bytes, generation, snapshotCrc, new ArrayList<>(), end + 1);
  }

  /** Parses the record lines from {@code start}, after {@code records}. */
  private static Contents parseRecords(Path file, byte[] bytes, long generation, long snapshotCrc,
      List<LedgerCodec.JournalEntry> records, int start) {
    int lineNumber = records.size() + 1;
    while (start < bytes.length) {
      lineNumber++;
      int lineEnd = indexOf(bytes, start);
      Optional<LedgerCodec.JournalEntry> entry = lineEnd < 0 ? Optional.empty()
          : record(file, bytes, start, lineEnd);
      if (entry.isEmpty()) {
        boolean last = lineEnd < 0 || lineEnd == bytes.length - 1;
        if (last) {
          break; // an append that a crash interrupted: never acknowledged
        }
        throw corrupt(file, "line " + lineNumber + " fails its checksum, and records follow it",
            null);
      }
      if (entry.get().seq() != records.size() + 1L) {
        throw corrupt(file, "line " + lineNumber + " has sequence number " + entry.get().seq()
            + " where " + (records.size() + 1) + " was due", null);
      }
      records.add(entry.get());
      start = lineEnd + 1;
    }
    return new Contents(generation, snapshotCrc, List.copyOf(records), start, bytes.length,
        bytes);
  }

  /** The record of one line, or empty when its checksum does not match (a torn write). */
  private static Optional<LedgerCodec.JournalEntry> record(Path file, byte[] bytes, int start,
      int end) {
    if (end - start < 10 || bytes[start + 8] != ' ') {
      return Optional.empty();
    }
    String crcText = new String(bytes, start, 8, StandardCharsets.US_ASCII);
    if (!crcText.matches("[0-9a-f]{8}")) {
      return Optional.empty();
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, start + 9, end - start - 9);
    if (crc.getValue() != Long.parseLong(crcText, 16)) {
      return Optional.empty();
    }
    String json = new String(bytes, start + 9, end - start - 9, StandardCharsets.UTF_8);
    try {
      return Optional.of(LedgerCodec.decodeJournalRecord(json));
    } catch (GpuvirtException e) {
      // The checksum matched, so this is what gpuvirt wrote: a record it cannot read is corrupt.
      throw corrupt(file, "a record is invalid: " + e.getMessage(), e);
    }
  }

  private static int indexOf(byte[] bytes, int from) {
    for (int i = from; i < bytes.length; i++) {
      if (bytes[i] == '\n') {
        return i;
      }
    }
    return -1;
  }

  /** The leases of {@code snapshot} with every record of {@code journal} applied, in order. */
  static TreeMap<String, Lease> replay(Map<String, Lease> snapshot, Contents journal) {
    TreeMap<String, Lease> leases = new TreeMap<>(snapshot);
    for (LedgerCodec.JournalEntry e : journal.records()) {
      e.remove().forEach(leases::remove);
      e.put().forEach(l -> leases.put(l.owner(), l));
    }
    return leases;
  }

  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  /** The line of one record: checksum, space, compact JSON, newline. */
  static byte[] line(long seq, List<Lease> put, List<String> remove) {
    byte[] json = LedgerCodec.encodeJournalRecord(seq, put, remove)
        .getBytes(StandardCharsets.UTF_8);
    CRC32C crc = new CRC32C();
    crc.update(json);
    byte[] out = new byte[json.length + 10];
    long value = crc.getValue();
    for (int i = 0; i < 8; i++) {
      out[i] = HEX[(int) (value >>> (28 - 4 * i)) & 0xf];
    }
    out[8] = ' ';
    System.arraycopy(json, 0, out, 9, json.length);
    out[out.length - 1] = '\n';
    return out;
  }

  static byte[] header(long generation, long snapshotCrc) {
    return ("{\"format\":\"" + FORMAT + "\",\"version\":" + VERSION + ",\"generation\":"
        + generation + ",\"snapshot\":\"" + String.format("%08x", snapshotCrc) + "\"}\n")
        .getBytes(StandardCharsets.US_ASCII);
  }

  /** The CRC-32C of a snapshot's bytes, as the header records it. */
  static long crc(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return crc.getValue();
  }

  /**
   * Starts the journal of the snapshot ({@code generation}, {@code snapshotCrc}) with its first
   * records (one line each), replacing any journal there (one of an older generation): written
   * whole, then renamed into place.
   *
   * @return the bytes written
   */
  static byte[] create(Path file, long generation, long snapshotCrc, byte[] firstRecord)
      throws IOException {
    byte[] h = header(generation, snapshotCrc);
    byte[] all = new byte[h.length + firstRecord.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(firstRecord, 0, all, h.length, firstRecord.length);
    AtomicFiles.replace(file, all);
    return all;
  }

  /**
   * Appends records (one line each, in one write) after the journal's valid part (cutting off an
   * interrupted append), then forces them to the disk: the commit point of all of them.
   */
  static void append(Path file, Contents current, byte[] record) throws IOException {
    try (FileChannel out = FileChannel.open(file, StandardOpenOption.WRITE,
        LinkOption.NOFOLLOW_LINKS)) {
      if (current.tornTail() || out.size() != current.validLength()) {
        out.truncate(current.validLength());
      }
      ByteBuffer buffer = ByteBuffer.wrap(record);
      long position = current.validLength();
      while (buffer.hasRemaining()) {
        position += out.write(buffer, position);
      }
      out.force(false);
    }
  }

  /** Removes the journal once the snapshot holds it (durably: the directory is synced). */
  static void remove(Path file) throws IOException {
    if (Files.deleteIfExists(file)) {
      AtomicFiles.syncDirectory(file.toAbsolutePath().getParent());
    }
  }

  private static LedgerFormatException corrupt(Path file, String what, Throwable cause) {
    return new LedgerFormatException(file, "lease journal " + file + " is corrupt: " + what
        + ". gpuvirt will not guess which leases were meant; restore the state directory from a "
        + "backup or repair the journal by hand (each line after the first is one commit), then "
        + "retry", cause);
  }
}
