package io.gpuvirt.benchmarks.ledger;

import io.gpuvirt.benchmarks.Hosts;
import io.gpuvirt.benchmarks.Scratch;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue 18's "durable allocate + release" row: one cycle through {@link LeaseLedger} (allocate 2
 * GPUs for one owner, release them: two committed operations) against its baseline, a bare loop
 * of the same number of fsynced commits on the same disk.
 *
 * <p>The ledger is a fresh state directory under {@code gpuvirt.benchmarks.dir} (default
 * {@code java.io.tmpdir}) holding 10 other leases of 2 GPUs each, on the topology of 5 simulated
 * B200 boards (40 GPUs, one IOMMU group each; written to {@code gpuvirt.benchmarks.treeDir},
 * scanned once, deleted). A <em>bare commit</em> appends one record of the ledger's size (the
 * bytes of {@code leases.json} holding all 11 leases, the cycle's included, after
 * {@link LeaseLedger#compact}: the whole state, larger than the ledger's own journal record of one
 * change) to a file in the same directory with {@link FileChannel#write} and makes it durable
 * with {@code force(false)} (fdatasync(2)); a bare cycle is two of them, as a cycle is two
 * commits. The ledger compacts its journal by itself (every 64 commits) inside the measured
 * cycles. The bare file is emptied before each iteration. Sample time per cycle; the table
 * compares throughputs (the reciprocal of the mean time per cycle).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class LedgerCycleBenchmark {
  /** The owner whose lease each cycle allocates and releases. */
  static final String OWNER = "bench";
  /** Boards of the host: 40 GPUs. */
  static final int BOARDS = 5;

  private Scratch scratch;
  private Scratch tree;
  private Topology topology;
  private LeaseLedger ledger;
  private AllocationRequest request;
  private FileChannel bare;
  private ByteBuffer record;

  /** The ledger with 10 other leases, the record of its size and the bare file. */
  @Setup(Level.Trial)
  public void open() throws IOException {
    scratch = Scratch.create("ledger");
    tree = Scratch.forTree("ledger-host");
    topology = topology(tree.dir().resolve("host"));
    tree.close();
    ledger = LeaseLedger.open(scratch.dir().resolve("state"));
    for (int i = 0; i < 10; i++) {
      ledger.allocate(AllocationRequest.builder("background-" + i).count(2).build(), topology);
    }
    request = AllocationRequest.builder(OWNER).count(2).build();
    ledger.allocate(request, topology);
    ledger.compact();
    record = ByteBuffer.wrap(Files.readAllBytes(ledger.file()));
    ledger.release(OWNER);
    ledger.compact();
    bare = FileChannel.open(scratch.dir().resolve("bare-commits"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE, StandardOpenOption.APPEND);
  }

  /** Empties the bare file. */
  @Setup(Level.Iteration)
  public void emptyBareFile() throws IOException {
    bare.truncate(0);
    bare.force(true);
  }

  /** Closes the bare file and deletes the directory. */
  @TearDown(Level.Trial)
  public void close() throws IOException {
    bare.close();
    scratch.close();
  }

  /** Allocate and release through the durable ledger. */
  @Benchmark
  public Optional<Lease> ledgerCycle() {
    ledger.allocate(request, topology);
    return ledger.release(OWNER);
  }

  /** The baseline: two bare commits (append a record of the ledger's size, fdatasync). */
  @Benchmark
  public long bareCommits() throws IOException {
    return bareCommit() + bareCommit();
  }

  private long bareCommit() throws IOException {
    record.rewind();
    long written = 0;
    while (record.hasRemaining()) {
      written += bare.write(record);
    }
    bare.force(false);
    return written;
  }

  /** The topology of {@value #BOARDS} B200 boards, scanned from a host written to {@code dir}. */
  static Topology topology(Path dir) {
    try (SimulatedHost host = SimulatedHost.create(Hosts.profile(Hosts.boards(BOARDS)), dir)) {
      return TopologyScanner.scan(Sysfs.at(host.root()));
    } catch (GpuvirtException e) {
      throw new GpuvirtException("benchmark: cannot write the ledger's host to " + dir + ": "
          + e.getMessage(), e);
    }
  }
}
