package io.gpuvirt.fabric.fmpm;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.fabric.FmAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The {@link FabricManager} port over NVIDIA's {@code fmpm} tool, run through a
 * {@link CommandRunner} (what ubicloud does). Each call is one fmpm run; its JSON is read with
 * Jackson and its exit status mapped back to the Fabric Manager return code (a shell sees
 * {@code code & 0xff}: 239 is PARTITION_ID_IN_USE, 238 PARTITION_ID_NOT_IN_USE).
 *
 * <pre>{@code
 * FabricManager fm = FmpmFabricManager.create(CommandRunner.system(),
 *     FmpmOptions.defaults().withProgram("/usr/bin/fmpm"));
 * fm.ensureActive(3);     // accepts exit 239, as ubicloud does
 * }</pre>
 *
 * <p>An fmpm run that hangs until its timeout is reported as TIMEOUT. {@code --set-activated-list}
 * is verified by listing afterwards, because fmpm releases before its 2026-04 fix never counted the
 * ids they parsed and told Fabric Manager that nothing is active.
 */
public final class FmpmFabricManager implements FabricManager {
  private final CommandRunner runner;
  private final FmpmOptions options;
  private volatile boolean closed;

  private FmpmFabricManager(CommandRunner runner, FmpmOptions options) {
    this.runner = runner;
    this.options = options;
  }

  /** A client that runs fmpm through {@code runner}. Nothing runs until the first call. */
  public static FmpmFabricManager create(CommandRunner runner, FmpmOptions options) {
    return new FmpmFabricManager(runner, options);
  }

  @Override
  public List<FabricPartition> listPartitions() {
    String op = "list partitions";
    return FmpmOutput.partitions(op, run(op, "-l").stdout());
  }

  @Override
  public void activate(int partitionId) {
    String op = "activate partition " + partitionId;
    requirePartitionId(op, partitionId);
    run(op, "-a", Integer.toString(partitionId));
  }

  @Override
  public void deactivate(int partitionId) {
    String op = "deactivate partition " + partitionId;
    requirePartitionId(op, partitionId);
    run(op, "-d", Integer.toString(partitionId));
  }

  /**
   * Runs {@code fmpm --set-activated-list} (ids comma separated, no spaces, as fmpm expects) and
   * checks with a listing that Fabric Manager now has exactly these partitions active. Duplicate ids
   * are refused before fmpm runs (old fmpm releases loop forever on them).
   *
   * @throws FabricManagerProtocolException when fmpm reported success but the listing differs (an
   *     fmpm from before the fix)
   */
  @Override
  public void setActivatedPartitions(Collection<Integer> partitionIds) {
    String op = "set activated partitions " + partitionIds;
    List<Integer> ids = List.copyOf(partitionIds);
    if (ids.size() > 64 || new HashSet<>(ids).size() != ids.size()) {
      throw new FabricManagerException(op, FmReturnCode.BADPARAM,
          "the list must hold at most 64 distinct partition ids");
    }
    ids.forEach(id -> requirePartitionId(op, id));
    run(op, "--set-activated-list",
        ids.stream().map(String::valueOf).collect(Collectors.joining(",")));
    TreeSet<Integer> active = new TreeSet<>();
    listPartitions().stream().filter(FabricPartition::active).forEach(p -> active.add(p.id()));
    if (!active.equals(new TreeSet<>(ids))) {
      throw new FabricManagerProtocolException(op, "fmpm reported success but Fabric Manager now "
          + "lists " + active + " as active; this fmpm does not pass the list on (releases before "
          + "the 2026-04 fix never count the ids); upgrade fmpm, or use the libnvfm client "
          + "(--fabric native)");
    }
  }

  @Override
  public List<Integer> unsupportedPartitionIds() {
    String op = "list unsupported partitions";
    return FmpmOutput.unsupported(op, run(op, "--list-unsupported-partitions").stdout());
  }

  @Override
  public NvlinkFailedDevices nvlinkFailedDevices() {
    String op = "get NVLink failed devices";
    return FmpmOutput.nvlinkFailed(op, run(op, "--get-nvlink-failed-devices").stdout());
  }

  /** Nothing to release: each call is its own fmpm run. Later calls are refused. */
  @Override
  public void close() {
    closed = true;
  }

  /** The options this client runs fmpm with. */
  public FmpmOptions options() {
    return options;
  }

  /** The argv for one fmpm run: the program, the address options, then {@code args}. */
  List<String> argv(String... args) {
    List<String> argv = new ArrayList<>();
    argv.add(options.program());
    options.address().ifPresent(a -> {
      argv.add(a.kind() == FmAddress.Kind.UNIX ? "--unix-domain-socket" : "--hostname");
      argv.add(a.value());
    });
    argv.addAll(List.of(args));
    return argv;
  }

  private CommandResult run(String op, String... args) {
    if (closed) {
      throw new FabricManagerException(op, FmReturnCode.CONNECTION_NOT_VALID,
          "this fmpm client is closed; create a new one");
    }
    CommandResult r;
    try {
      r = runner.run(Command.of(argv(args)).withTimeout(options.timeout()));
    } catch (CommandException e) {
      if (e.timedOut()) {
        throw new FabricManagerException(op, FmReturnCode.TIMEOUT, options.program()
            + " got no answer within " + options.timeout().toSeconds() + " s and was killed; "
            + FmReturnCode.TIMEOUT.meaning(), e);
      }
      throw e;
    }
    if (r.exitCode() == 0) {
      return r;
    }
    String said = (r.stdout() + " " + r.stderr()).strip().replace('\n', ' ');
    Optional<FmReturnCode> code = FmReturnCode.fromExitStatus(r.exitCode());
    if (code.isEmpty()) {
      throw new FabricManagerProtocolException(op, options.program() + " exited with status "
          + r.exitCode() + ", which is no Fabric Manager return code ('" + said
          + "'); check the fmpm arguments and that fmpm works when run by hand");
    }
    throw new FabricManagerException(op, code.get(), code.get().meaning() + "; fmpm said: '"
        + said + "'");
  }

  private static void requirePartitionId(String op, int id) {
    if (id < 0 || id >= 64) {
      throw new FabricManagerException(op, FmReturnCode.BADPARAM,
          "partition ids are 0 to 63; list them with 'gpuvirt partitions list'");
    }
  }

  @Override
  public String toString() {
    return "fmpm client (" + options.program() + options.address().map(a -> " " + a).orElse("")
        + ")";
  }
}
