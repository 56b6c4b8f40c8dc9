package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.internal.AtomicFiles;
import io.gpuvirt.core.internal.BoundedFiles;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.vfio.BindingStore;
import io.gpuvirt.core.vfio.StoredBinding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The ledger in a state directory: a snapshot ({@value #LEDGER}) and the journal of the commits
 * made since ({@value LedgerJournal#FILE}, see {@link LedgerJournal}). A commit appends one
 * checksummed record to the journal and fsyncs it (one fsync); every
 * {@value #COMPACT_AFTER_RECORDS} records (or {@value #COMPACT_AFTER_BYTES} bytes) a commit instead
 * writes the whole state as the next snapshot generation and removes the journal. A snapshot is
 * replaced atomically: write a temporary file, fsync it, rename it over the ledger, fsync the
 * directory. A crash at any point leaves the old state or the new one, never a torn one: an append
 * a crash interrupted was never acknowledged and is cut off by the next; a journal left behind by
 * a crash during compaction is of an older generation and ignored. The first commit, the upgrade
 * of an older file and a commit that converts {@code bindings.json} write a snapshot. Writers hold
 * the {@link LedgerLock}; readers need no lock (they read the snapshot, then the journal, and read
 * again if a compaction came between). {@link #compact} folds the journal into the snapshot on
 * request (before reading or editing {@value #LEDGER} by hand).
 *
 * <p>State written by gpuvirt 0.1 is upgraded here: a version 1 {@code leases.json} is read as
 * version 2 and, before the first version 2 write replaces it, copied to
 * {@value #LEDGER_V1_BACKUP}; the bindings {@code gpuvirt bind} kept in {@code bindings.json} become
 * leases ({@link LegacyBindings}) and the file is renamed to {@value #BINDINGS_V1_BACKUP} once a
 * ledger holding them is on disk.
 *
 * <p>This is the default {@link LeaseStore} ({@link LeaseStore#jsonFile}): a transaction takes the
 * directory's lock ({@value #LOCK}), reads the file afresh and replaces it when the leases changed;
 * the operation lock is {@value #OPERATIONS_LOCK}.
 */
final class LedgerStore implements LeaseStore {
  static final String LEDGER = "leases.json";
  static final String TEMP = LEDGER + AtomicFiles.TEMP_SUFFIX;
  static final String LOCK = "leases.lock";
  static final String LEDGER_V1_BACKUP = "leases.json.v1.bak";
  static final String BINDINGS_V1_BACKUP = "bindings.json.v1.bak";
  static final String OPERATIONS_LOCK = "operations.lock";
  /** A commit after this many journal records writes a snapshot instead. */
  static final int COMPACT_AFTER_RECORDS = 64;
  /** A commit once the journal has this many bytes writes a snapshot instead. */
  static final long COMPACT_AFTER_BYTES = 1L << 20;
  private static final int READ_ATTEMPTS = 5;

  /** The most transactions of one JVM committed together (one write, one fsync). */
  static final int MAX_BATCH = 64;
  /** The threads of this JVM committing to each state directory, by its lock file's key. */
  private static final ConcurrentHashMap<Path, Group> GROUPS = new ConcurrentHashMap<>();

  private final Path directory;
  private final Path file;
  /** The snapshot this store decoded last, by its bytes' CRC-32C and length (never mutated). */
  private volatile Decoded lastSnapshot;
  /** The journal this store parsed last: the next read decodes only what was appended since. */
  private volatile LedgerJournal.Contents lastJournal;
  /**
   * The state this store loaded or committed last (its leases never mutated): a load that finds
   * the same snapshot bytes and the same journal reuses it without replaying the journal.
   */
  private volatile State lastState;

  /** A decoded snapshot and what identifies its bytes. */
  private record Decoded(long crc, int length, TreeMap<String, Lease> leases, long generation,
      int version) {}

  LedgerStore(Path directory) {
    this.directory = directory;
    this.file = directory.resolve(LEDGER);
  }

  Path file() {
    return file;
  }

  Path directory() {
    return directory;
  }

  Path lockFile() {
    return directory.resolve(LOCK);
  }

  Path journalFile() {
    return directory.resolve(LedgerJournal.FILE);
  }

  /**
   * The committed state as read: the leases (never mutated), and what the next commit needs to
   * know about the files (the snapshot's bytes, their CRC-32C, version and generation, and its
   * journal if it has one).
   */
  private record State(TreeMap<String, Lease> leases, byte[] snapshot, long snapshotCrc,
      int version, long generation, Optional<LedgerJournal.Contents> journal) {
    boolean hasSnapshot() {
      return snapshot != null;
    }

    /** Whether these are the snapshot bytes ({@code crc} theirs) and journal of this state. */
    boolean holds(byte[] bytes, long crc, Optional<LedgerJournal.Contents> j) {
      boolean sameSnapshot = bytes == null ? snapshot == null
          : snapshot != null && snapshot.length == bytes.length && snapshotCrc == crc;
      return sameSnapshot && journal.isPresent() == j.isPresent()
          && (j.isEmpty() || journal.get() == j.get());
    }
  }

  /**
   * Reads the snapshot, then its journal. Unlocked, a journal newer than the snapshot means a
   * compaction ran between the two reads: read again. Locked (no writer can run), it means the
   * snapshot was replaced by an older copy or removed, and is refused. Both files are read whole
   * every time; what was decoded before is reused only for bytes equal to those it came from.
   */
  private State load(boolean locked) {
    for (int attempt = 1; ; attempt++) {
      byte[] bytes = readBytes();
      TreeMap<String, Lease> snapshot;
      long generation;
      int version = LedgerRecords.VERSION;
      long crc = 0;
      if (bytes == null) {
        snapshot = new TreeMap<>();
        generation = 0;
      } else {
        // Reading the bytes is cheap; decoding them is not: reuse the last decode of these bytes.
        crc = LedgerJournal.crc(bytes);
        Decoded known = lastSnapshot;
        if (known == null || known.crc() != crc || known.length() != bytes.length) {
          LedgerCodec.Snapshot decoded = LedgerCodec.decodeSnapshot(file, bytes);
          known = new Decoded(crc, bytes.length, decoded.leases(), decoded.generation(),
              decoded.version());
          lastSnapshot = known;
        }
        snapshot = known.leases();
        generation = known.generation();
        version = known.version();
      }
      Optional<LedgerJournal.Contents> journal = LedgerJournal.read(journalFile(),
          Optional.ofNullable(lastJournal));
      journal.ifPresent(j -> lastJournal = j);
      State cached = lastState;
      if (cached != null && cached.holds(bytes, crc, journal)) {
        return cached;
      }
      if (journal.isEmpty() && !locked && attempt < READ_ATTEMPTS
          && !Arrays.equals(bytes, readBytes())) {
        continue; // a compaction replaced the snapshot and removed the journal between the reads
      }
      if (journal.isEmpty() || journal.get().generation() < generation) {
        // none, or one a crash left behind after its records went into this snapshot
        State state = new State(snapshot, bytes, crc, version, generation, Optional.empty());
        if (journal.isEmpty()) {
          lastState = state;
        }
        return state;
      }
      LedgerJournal.Contents j = journal.get();
      if (j.generation() == generation && bytes != null
          && j.snapshotCrc() == crc) {
        TreeMap<String, Lease> leases = LedgerJournal.replay(snapshot, j);
        LedgerCodec.conflict(leases.values()).ifPresent(what -> {
          throw new LedgerFormatException(journalFile(), "lease journal " + journalFile()
              + " replayed over " + file + " gives conflicting leases: " + what + ". gpuvirt"
              + " will not guess; restore the state directory from a backup", null);
        });
        State state = new State(leases, bytes, crc, version, generation, journal);
        lastState = state;
        return state;
      }
      if (!locked && attempt < READ_ATTEMPTS) {
        continue;
      }
      String found = bytes == null ? "missing" : j.generation() == generation
          ? "not the file the journal was started on (edited or replaced since)"
          : "generation " + generation + ", older than the journal's " + j.generation();
      throw new LedgerFormatException(file, "the lease ledger " + file + " is " + found
          + ", while " + journalFile() + " holds " + j.records().size() + " commits made after"
          + " the snapshot it was started on. gpuvirt will not guess which leases are true:"
          + " restore the leases.json that belongs to the journal (or the whole state directory"
          + " from a backup). To edit leases.json by hand, first fold the journal into it"
          + " (gpuvirt leases --compact, or LeaseLedger.compact(), with no gpuvirt operation"
          + " running)", null);
    }
  }

  @Override
  public String location() {
    return file.toString();
  }

  @Override
  public <T> T transact(Function<TreeMap<String, Lease>, T> change) {
    return transact(Optional.empty(), Instant.EPOCH, change);
  }

  /** The threads of one JVM committing to one state directory, and the batch they fill now. */
  private static final class Group {
    final ReentrantLock mutex = new ReentrantLock();
    final Condition changed = mutex.newCondition();
    /** The batch a new transaction joins; null when none is filling. */
    Batch open;
  }

  /**
   * Transactions of one JVM committed together (group commit): the first to come (the leader)
   * takes the lock and loads the state; each member, on its own thread and one at a time, applies
   * its change to the state the members before it left; the leader writes all their records in
   * one append and one fsync, then releases the lock; every member returns once that is durable.
   */
  private static final class Batch {
    /** The state loaded under the lock; null until the leader loaded it. */
    State base;
    /** A failure of the leader before {@link #base} was loaded: the members try again alone. */
    boolean abandoned;
    /** {@link #base} with the changes of the members applied so far (never mutated). */
    TreeMap<String, Lease> leases;
    boolean snapshotDue;
    /** Whether a member converted an earlier release's bindings (the batch writes a snapshot). */
    boolean legacy;
    /** Whether a member found no bindings to convert. */
    boolean legacyAbsent;
    long nextSeq;
    final List<LedgerCodec.JournalEntry> entries = new ArrayList<>();
    final List<byte[]> lines = new ArrayList<>();
    /** Whether a member changed the leases. */
    boolean changed;
    int members;
    /** Members that joined and have not applied their change yet. */
    int pending;
    boolean done;
    /** Why the commit failed, once {@link #done}; null when it is durable. */
    RuntimeException failure;
  }

  /** What one member's change gave: its result, or what it threw. */
  private record Outcome<T>(T result, Throwable thrown, boolean sawUncommitted,
      boolean changed) {}

  /**
   * As {@link #transact(Function)}; given the host's topology, it first converts an earlier
   * release's {@code bindings.json} into leases stamped {@code now}. Threads of this JVM that
   * transact at the same time are committed together (see {@link Batch}): their changes run one at
   * a time, each on the leases the one before left, and each returns only once all are durable.
   */
  <T> T transact(Optional<Topology> topology, Instant now,
      Function<TreeMap<String, Lease>, T> change) {
    Group group = group();
    if (group.mutex.isHeldByCurrentThread()) {
      throw notReentrant();
    }
    while (true) {
      Batch batch;
      boolean leader;
      group.mutex.lock();
      try {
        if (group.open == null || group.open.members >= MAX_BATCH) {
          group.open = new Batch();
          leader = true;
        } else {
          leader = false;
        }
        batch = group.open;
        batch.members++;
        batch.pending++;
      } finally {
        group.mutex.unlock();
      }
      LedgerLock lock = null;
      if (leader) {
        State base;
        try {
          lock = lock(lockFile());
          base = load(true);
        } catch (RuntimeException | Error e) {
          if (lock != null) {
            lock.close();
          }
          abandon(group, batch);
          throw e;
        }
        open(group, batch, base);
      }
      Outcome<T> mine;
      group.mutex.lock();
      try {
        while (batch.base == null && !batch.abandoned) {
          group.changed.awaitUninterruptibly();
        }
        if (batch.abandoned) {
          batch.pending--;
          continue; // the leader could not lock or load: try again, as a leader if need be
        }
        mine = apply(batch, topology, now, change);
        batch.pending--;
        group.changed.signalAll();
        if (leader) {
          while (batch.pending > 0) {
            group.changed.awaitUninterruptibly();
          }
          if (group.open == batch) {
            group.open = null; // closed: whoever comes now starts the next batch
          }
        }
      } finally {
        group.mutex.unlock();
      }
      RuntimeException failure;
      if (leader) {
        failure = null;
        try {
          if (batch.changed) {
            commit(batch);
          }
        } catch (RuntimeException e) {
          failure = e;
        } catch (Error e) {
          failure = new LedgerException(file, "the commit of the lease ledger " + file
              + " failed (" + e + "); the ledger keeps its previous leases", e);
          throw e;
        } finally {
          lock.close();
          finish(group, batch, failure);
        }
      } else {
        group.mutex.lock();
        try {
          while (!batch.done) {
            group.changed.awaitUninterruptibly();
          }
          failure = batch.failure;
        } finally {
          group.mutex.unlock();
        }
      }
      return outcome(mine, failure, leader);
    }
  }

  /** This JVM's group for this state directory. */
  private Group group() {
    Path key;
    try {
      key = io.gpuvirt.core.internal.DirectoryLock.key(lockFile());
    } catch (IOException e) {
      key = lockFile();
    }
    return GROUPS.computeIfAbsent(key, k -> new Group());
  }

  private LedgerException notReentrant() {
    return new LedgerException(lockFile(), "cannot lock the lease ledger: " + lockFile()
        + " is already held by this thread (a ledger operation called from inside another on the"
        + " same state directory); it is not reentrant: make the inner call after the outer one"
        + " returns");
  }

  /** The leader loaded the state under the lock: the members may apply their changes. */
  private static void open(Group group, Batch batch, State base) {
    group.mutex.lock();
    try {
      batch.base = base;
      batch.leases = base.leases();
      batch.nextSeq = base.journal().map(LedgerJournal.Contents::nextSeq).orElse(1L);
      batch.snapshotDue = !base.hasSnapshot() || base.version() < LedgerRecords.VERSION
          || base.journal().map(j -> j.records().size() >= COMPACT_AFTER_RECORDS
              || j.validLength() >= COMPACT_AFTER_BYTES).orElse(false);
      group.changed.signalAll();
    } finally {
      group.mutex.unlock();
    }
  }

  /** The leader failed before loading: the batch is given up, its members start again. */
  private static void abandon(Group group, Batch batch) {
    group.mutex.lock();
    try {
      batch.abandoned = true;
      batch.pending--;
      if (group.open == batch) {
        group.open = null;
      }
      group.changed.signalAll();
    } finally {
      group.mutex.unlock();
    }
  }

  private static void finish(Group group, Batch batch, RuntimeException failure) {
    group.mutex.lock();
    try {
      batch.done = true;
      batch.failure = failure;
      group.changed.signalAll();
    } finally {
      group.mutex.unlock();
    }
  }

  /**
   * Applies one member's change (holding the group's mutex) to a copy of the batch's leases and,
   * when it changed them and nothing conflicts, makes the copy the batch's leases and adds its
   * journal record.
   */
  private <T> Outcome<T> apply(Batch batch, Optional<Topology> topology, Instant now,
      Function<TreeMap<String, Lease>, T> change) {
    boolean sawUncommitted = batch.changed;
    TreeMap<String, Lease> before = batch.leases;
    TreeMap<String, Lease> leases = new TreeMap<>(before);
    try {
      boolean converted = false;
      if (topology.isPresent() && !batch.legacy && !batch.legacyAbsent) {
        if (hasLegacyBindings()) {
          LegacyBindings.convert(legacyBindings(), topology.get(), leases, now);
          converted = true;
        } else {
          batch.legacyAbsent = true;
        }
      }
      T result = change.apply(leases);
      if (!converted && same(leases, before)) {
        return new Outcome<>(result, null, sawUncommitted, false);
      }
      Optional<String> conflict = LedgerCodec.conflict(leases.values());
      if (conflict.isPresent()) {
        throw new LedgerException(file, "refusing to write the lease ledger " + file + ": "
            + conflict.get() + "; nothing was written, the ledger keeps its previous leases");
      }
      if (!batch.snapshotDue && !converted && !batch.legacy) {
        List<Lease> put = new ArrayList<>();
        leases.forEach((owner, lease) -> {
          Lease old = before.get(owner);
          if (lease != old && !lease.equals(old)) {
            put.add(lease);
          }
        });
        List<String> removed = before.keySet().stream().filter(o -> !leases.containsKey(o))
            .toList();
        long seq = batch.nextSeq;
        byte[] line = LedgerJournal.line(seq, put, removed);
        batch.nextSeq++;
        batch.entries.add(new LedgerCodec.JournalEntry(seq, List.copyOf(put), removed));
        batch.lines.add(line);
      }
      batch.legacy |= converted;
      batch.leases = leases;
      batch.changed = true;
      return new Outcome<>(result, null, sawUncommitted, true);
    } catch (RuntimeException | Error e) {
      return new Outcome<>(null, e, sawUncommitted, false);
    }
  }

  /** Whether two maps of leases hold the same leases (the same objects, mostly). */
  private static boolean same(TreeMap<String, Lease> a, TreeMap<String, Lease> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (var e : a.entrySet()) {
      Lease other = b.get(e.getKey());
      if (other != e.getValue() && !e.getValue().equals(other)) {
        return false;
      }
    }
    return true;
  }

  /**
   * What the member's call gives: its result once its batch is durable; its own exception; or,
   * when the commit failed and its change (or what it saw) was part of it, the failure.
   */
  @SuppressWarnings("unchecked")
  private <T> T outcome(Outcome<T> mine, RuntimeException failure, boolean leader) {
    if (failure != null && (mine.changed() || mine.sawUncommitted())) {
      if (leader) {
        throw failure;
      }
      throw new LedgerException(file, failure.getMessage(), failure);
    }
    if (mine.thrown() instanceof RuntimeException e) {
      throw e;
    }
    if (mine.thrown() instanceof Error e) {
      throw e;
    }
    return mine.result();
  }

  /**
   * Takes the lock of {@code lockFile}, creating the state directory first when it is missing
   * (the first change creates it).
   */
  private LedgerLock lock(Path lockFile) {
    try {
      return LedgerLock.acquire(lockFile);
    } catch (LedgerException e) {
      // Missing (or created by another process since the attempt): create it, try once more.
      createDirectory();
      return LedgerLock.acquire(lockFile);
    }
  }

  /**
   * Folds the journal into a new snapshot, so that {@value #LEDGER} alone holds every lease (for
   * reading or editing it by hand); nothing when there is no journal.
   *
   * @return how many journal records were folded
   */
  int compact() {
    if (Files.notExists(directory)) {
      return 0;
    }
    if (group().mutex.isHeldByCurrentThread()) {
      throw notReentrant();
    }
    try (LedgerLock lock = LedgerLock.acquire(lockFile())) {
      State state = load(true);
      int records = state.journal().map(j -> j.records().size()).orElse(0);
      if (state.journal().isPresent()) {
        writeSnapshot(state, state.leases(), false);
      } else if (Files.exists(journalFile(), LinkOption.NOFOLLOW_LINKS)) {
        removeJournal(); // one a crash left behind, already in the snapshot
      }
      return records;
    }
  }

  /** Commits the batch: one append of its records, or a new snapshot when one is due. */
  private void commit(Batch batch) {
    State state = batch.base;
    if (batch.snapshotDue || batch.legacy) {
      writeSnapshot(state, batch.leases, batch.legacy);
      return;
    }
    int length = 0;
    for (byte[] line : batch.lines) {
      length += line.length;
    }
    byte[] lines = new byte[length];
    int at = 0;
    for (byte[] line : batch.lines) {
      System.arraycopy(line, 0, lines, at, line.length);
      at += line.length;
    }
    LedgerJournal.Contents next;
    try {
      if (state.journal().isPresent()) {
        LedgerJournal.Contents j = state.journal().get();
        LedgerJournal.append(journalFile(), j, lines);
        next = j.appended(batch.entries, lines);
      } else {
        byte[] all = LedgerJournal.create(journalFile(), state.generation(), state.snapshotCrc(),
            lines);
        next = new LedgerJournal.Contents(state.generation(), state.snapshotCrc(),
            List.copyOf(batch.entries), all.length, all.length, all);
      }
    } catch (IOException e) {
      throw new LedgerException(journalFile(), "cannot append to the lease journal "
          + journalFile() + " (" + e + "); the ledger keeps its previous leases; check free "
          + "space and permissions of " + directory, e);
    }
    lastJournal = next;
    lastState = new State(batch.leases, state.snapshot(), state.snapshotCrc(), state.version(),
        state.generation(), Optional.of(next));
  }

  /** Writes {@code leases} as the next snapshot generation, then removes the folded journal. */
  private void writeSnapshot(State state, TreeMap<String, Lease> leases, boolean legacy) {
    long generation = state.generation() + 1;
    byte[] bytes = write(leases.values(), legacy, generation);
    long crc = LedgerJournal.crc(bytes);
    TreeMap<String, Lease> written = new TreeMap<>(leases);
    lastSnapshot = new Decoded(crc, bytes.length, written, generation, LedgerRecords.VERSION);
    lastJournal = null;
    removeJournal();
    lastState = new State(written, bytes, crc, LedgerRecords.VERSION, generation,
        Optional.empty());
  }

  private void removeJournal() {
    try {
      LedgerJournal.remove(journalFile());
    } catch (IOException e) {
      // The snapshot is durable and newer than the journal, which every reader ignores now.
      throw new LedgerException(journalFile(), "the lease ledger " + file + " was written, but "
          + "the journal it replaces could not be removed (" + e + "); it is ignored from now "
          + "on; remove " + journalFile() + " by hand", e);
    }
  }

  @Override
  public <T> T underOperationLock(Supplier<T> work) {
    try (LedgerLock lock = lock(directory.resolve(OPERATIONS_LOCK))) {
      return work.get();
    }
  }

  private void createDirectory() {
    try {
      Files.createDirectories(directory);
    } catch (IOException e) {
      throw new LedgerException(directory, "cannot create the gpuvirt state directory "
          + directory + " (" + e + "); create it or choose another with --state", e);
    }
  }

  /** The leases on disk (the snapshot and its journal), by owner; none before the first commit. */
  @Override
  public TreeMap<String, Lease> read() {
    return new TreeMap<>(load(false).leases());
  }

  /** The file's bytes, or null when there is no ledger file. */
  private byte[] readBytes() {
    try {
      if (Files.isSymbolicLink(file) && !Files.exists(file)) {
        throw new LedgerFormatException(file, "the lease ledger " + file + " is a dangling"
            + " symbolic link (a symbolic link to a file that does not exist); gpuvirt will not take it for an empty ledger (the"
            + " leases it pointed to would be forgotten). Restore the file it points to or remove"
            + " the link");
      }
      return BoundedFiles.read(file, BoundedFiles.STATE_FILE_MAX);
    } catch (NoSuchFileException e) {
      return null;
    } catch (BoundedFiles.RefusedFileException e) {
      throw new LedgerFormatException(file, "refusing the lease ledger " + file + ": it is "
          + e.found() + ", not a ledger file; restore leases.json from a backup", e);
    } catch (IOException e) {
      throw new LedgerException(file, "cannot read the lease ledger " + file + " (" + e
          + "); check its permissions", e);
    }
  }

  /** Whether a {@code bindings.json} of gpuvirt 0.1 waits to be converted into leases. */
  boolean hasLegacyBindings() {
    return Files.exists(directory.resolve(BindingStore.FILE), LinkOption.NOFOLLOW_LINKS);
  }

  /** The bindings of gpuvirt 0.1's {@code bindings.json}, strictly read. */
  List<StoredBinding> legacyBindings() {
    try {
      return BindingStore.open(directory).bindings();
    } catch (io.gpuvirt.core.GpuvirtException e) {
      throw new LedgerFormatException(directory.resolve(BindingStore.FILE), "cannot convert "
          + directory.resolve(BindingStore.FILE) + ", the bindings of an earlier gpuvirt, into"
          + " leases: " + e.getMessage() + ". gpuvirt will not guess; repair or restore the file"
          + " (it names each bound device and its original driver), then retry", e);
    }
  }

  /**
   * Replaces the ledger with these leases as snapshot {@code generation}, durably (see
   * {@link AtomicFiles}). The first write over
   * a version 1 file keeps a copy of it first. With {@code legacyImported}, the converted
   * {@code bindings.json} is renamed to its backup once the new ledger is durable.
   */
  byte[] write(Collection<Lease> leases, boolean legacyImported, long generation) {
    byte[] bytes = LedgerCodec.encode(leases, generation);
    java.util.Optional<String> conflict = LedgerCodec.conflict(leases);
    if (conflict.isPresent()) {
      throw new LedgerException(file, "refusing to write the lease ledger " + file + ": "
          + conflict.get() + "; nothing was written, the ledger keeps its previous leases");
    }
    try {
      Files.createDirectories(directory);
      byte[] old = readBytes();
      Path backup = directory.resolve(LEDGER_V1_BACKUP);
      Decoded known = lastSnapshot;
      boolean current = old != null && known != null && known.length() == old.length
          && known.crc() == LedgerJournal.crc(old) && known.version() == LedgerRecords.VERSION;
      if (old != null && !current && LedgerCodec.version(old) < LedgerRecords.VERSION
          && !Files.exists(backup)) {
        AtomicFiles.replace(backup, old);
      }
      AtomicFiles.replace(file, bytes);
      if (legacyImported) {
        Files.move(directory.resolve(BindingStore.FILE), directory.resolve(BINDINGS_V1_BACKUP),
            StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        AtomicFiles.syncDirectory(directory);
      }
      return bytes;
    } catch (IOException e) {
      throw new LedgerException(file, "cannot write the lease ledger " + file + " (" + e
          + "); the ledger holds either the previous or the new leases; check free space and "
          + "permissions of "
          + directory, e);
    }
  }
}
