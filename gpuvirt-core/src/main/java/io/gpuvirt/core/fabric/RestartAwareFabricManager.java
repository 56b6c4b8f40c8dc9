package io.gpuvirt.core.fabric;

import io.gpuvirt.core.pci.PciAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link FabricManager} that brings a Fabric Manager restarted in resiliency mode
 * ({@code --restart}, {@code FABRIC_MODE_RESTART=1}) back into service by itself.
 *
 * <p>Such a Fabric Manager refuses every query, activation and deactivation with NOT_CONFIGURED
 * until the hypervisor tells it, with {@code fmSetActivatedFabricPartitions}, which partitions are
 * still active (an empty list when none), and exits if it is not told within its deadline (about
 * 60 s). When a call through this decorator is refused with NOT_CONFIGURED, it sends the partition
 * ids gpuvirt's leases hold (from the supplier given to {@link #wrap}) and retries the call once.
 * If Fabric Manager turns out not to be waiting for the list (it is merely still starting), the
 * call fails with the original NOT_CONFIGURED refusal and a message that says to retry.
 *
 * <pre>{@code
 * FabricManager fm = RestartAwareFabricManager.wrap(
 *     NvfmFabricManager.connect(NvfmOptions.defaults()), ledger::activePartitionIds);
 * fm.listPartitions();   // after a restart: first sends the leased partitions, then lists
 * }</pre>
 *
 * <p>Recovery calls {@link #resyncIfRestarted()} before anything else, so the list reaches Fabric
 * Manager within its deadline even when no other call is due. The supplier is called on the thread
 * of the refused call, only when a list is sent. Calls are not serialised: when two callers send
 * the list at once, the second sees NOT_SUPPORTED (Fabric Manager no longer waits) and simply
 * retries its call.
 */
public final class RestartAwareFabricManager implements FabricManager {
  private static final Logger LOG = LoggerFactory.getLogger(RestartAwareFabricManager.class);

  private final FabricManager delegate;
  private final Supplier<? extends Collection<Integer>> activePartitions;

  private RestartAwareFabricManager(FabricManager delegate,
      Supplier<? extends Collection<Integer>> activePartitions) {
    this.delegate = delegate;
    this.activePartitions = activePartitions;
  }

  /**
   * Wraps {@code delegate}.
   *
   * @param delegate the Fabric Manager client to call; closed with this one
   * @param activePartitions the ids of the partitions gpuvirt's leases hold, asked each time a
   *     restarted Fabric Manager waits for them (empty when no lease holds a partition)
   */
  public static RestartAwareFabricManager wrap(FabricManager delegate,
      Supplier<? extends Collection<Integer>> activePartitions) {
    Objects.requireNonNull(delegate, "delegate");
    Objects.requireNonNull(activePartitions, "activePartitions");
    return new RestartAwareFabricManager(delegate, activePartitions);
  }

  /**
   * Tells Fabric Manager the leased partitions if it waits for them after a restart in resiliency
   * mode; recovery calls this before anything else. It probes with a listing.
   *
   * @return true if Fabric Manager waited and the list was sent, false if it did not wait
   * @throws FabricManagerException NOT_CONFIGURED when Fabric Manager is still starting (retry),
   *     CONNECTION_NOT_VALID when it does not run (after a missed deadline it has exited), or the
   *     refusal of the list
   */
  public boolean resyncIfRestarted() {
    return call(delegate::listPartitions).resynced();
  }

  @Override
  public List<FabricPartition> listPartitions() {
    return call(delegate::listPartitions).value();
  }

  @Override
  public void activate(int partitionId) {
    call(() -> {
      delegate.activate(partitionId);
      return null;
    });
  }

  @Override
  public void activateWithVirtualFunctions(int partitionId, List<PciAddress> virtualFunctions) {
    call(() -> {
      delegate.activateWithVirtualFunctions(partitionId, virtualFunctions);
      return null;
    });
  }

  @Override
  public void deactivate(int partitionId) {
    call(() -> {
      delegate.deactivate(partitionId);
      return null;
    });
  }

  /** Passes the list on as given; nothing is retried. */
  @Override
  public void setActivatedPartitions(Collection<Integer> partitionIds) {
    try {
      delegate.setActivatedPartitions(partitionIds);
    } catch (FabricManagerException e) {
      throw explained(e);
    }
  }

  @Override
  public List<Integer> unsupportedPartitionIds() {
    return call(delegate::unsupportedPartitionIds).value();
  }

  @Override
  public NvlinkFailedDevices nvlinkFailedDevices() {
    return call(delegate::nvlinkFailedDevices).value();
  }

  /** Closes the wrapped client. */
  @Override
  public void close() {
    delegate.close();
  }

  @Override
  public String toString() {
    return "restart-aware " + delegate;
  }

  // ---- the retry --------------------------------------------------------------------------------

  private record Outcome<T>(T value, boolean resynced) {}

  private <T> Outcome<T> call(Supplier<T> work) {
    FabricManagerException refused;
    try {
      return new Outcome<>(work.get(), false);
    } catch (FabricManagerException e) {
      if (e.returnCode() != FmReturnCode.NOT_CONFIGURED) {
        throw explained(e);
      }
      refused = e;
    }
    boolean sent = sendLeasedPartitions(refused);
    try {
      return new Outcome<>(work.get(), sent);
    } catch (FabricManagerException e) {
      if (!sent && e.returnCode() == FmReturnCode.NOT_CONFIGURED) {
        throw stillStarting(refused, FmReturnCode.NOT_SUPPORTED);
      }
      throw explained(e);
    }
  }

  /**
   * Sends the leased partitions after {@code refused}.
   *
   * @return true if sent, false if Fabric Manager did not wait for them (NOT_SUPPORTED: another
   *     client sent them first, or it was merely starting and has finished)
   */
  private boolean sendLeasedPartitions(FabricManagerException refused) {
    List<Integer> ids = leasedPartitionIds();
    LOG.info("Fabric Manager refused '{}' with NOT_CONFIGURED; if it was restarted in resiliency "
        + "mode it waits for the active partitions: offering the {} partition(s) gpuvirt's leases "
        + "hold: {}", refused.operation(), ids.size(), ids);
    try {
      delegate.setActivatedPartitions(ids);
    } catch (FabricManagerException e) {
      switch (e.returnCode()) {
        case NOT_SUPPORTED -> {
          LOG.info("Fabric Manager does not wait for the list of active partitions ({}); "
              + "retrying '{}' once", e.getMessage(), refused.operation());
          return false;
        }
        case NOT_CONFIGURED -> throw stillStarting(refused, e.returnCode());
        case CONNECTION_NOT_VALID -> throw new FabricManagerException(e.operation(),
            e.returnCode(), "Fabric Manager was restarted in resiliency mode and has exited, most "
                + "likely because its deadline (about 60 s) for the list of active partitions "
                + "passed (" + e.getMessage() + "); restart nvidia-fabricmanager (systemctl "
                + "restart nvidia-fabricmanager) and retry: gpuvirt sends the leased partitions "
                + ids + " first", e);
        default -> throw new FabricManagerException(e.operation(), e.returnCode(),
            "Fabric Manager, restarted in resiliency mode, refused the partitions gpuvirt's "
                + "leases hold " + ids + " (" + e.getMessage() + "); compare the leases "
                + "('gpuvirt leases') with 'gpuvirt partitions list' and fix them before its "
                + "deadline (about 60 s) passes, or it exits", e);
      }
    }
    LOG.warn("Fabric Manager was restarted in resiliency mode: sent it the {} partition(s) "
        + "gpuvirt's leases hold, {}, as the active ones; retrying '{}'", ids.size(), ids,
        refused.operation());
    return true;
  }

  private List<Integer> leasedPartitionIds() {
    Collection<Integer> leased = Objects.requireNonNull(activePartitions.get(),
        "the supplier of active partitions returned null");
    TreeSet<Integer> ids = new TreeSet<>();
    for (Integer id : leased) {
      ids.add(Objects.requireNonNull(id, "the supplier of active partitions gave a null id"));
    }
    if (ids.size() != leased.size()) {
      LOG.warn("the supplier of active partitions listed a partition twice ({}); sending each "
          + "once", leased);
    }
    return new ArrayList<>(ids);
  }

  private static FabricManagerException stillStarting(FabricManagerException refused,
      FmReturnCode listAnswer) {
    return new FabricManagerException(refused.operation(), refused.returnCode(),
        "Fabric Manager is still starting (it refused the call, and answered the list of active "
            + "partitions with " + listAnswer + ", so it does not wait for one after a restart); "
            + "retry in a few seconds; if it lasts, see 'systemctl status nvidia-fabricmanager' "
            + "and /var/log/fabricmanager.log", refused);
  }

  /** Adds what a refusal may mean after a restart; other refusals pass unchanged. */
  private static FabricManagerException explained(FabricManagerException e) {
    if (e.returnCode() != FmReturnCode.CONNECTION_NOT_VALID) {
      return e;
    }
    return new FabricManagerException(e.operation(), e.returnCode(), "Fabric Manager does not "
        + "answer (" + e.getMessage() + "); if it was restarted in resiliency mode (--restart, "
        + "FABRIC_MODE_RESTART=1) it exits when the list of active partitions does not reach it "
        + "within its deadline (about 60 s): restart nvidia-fabricmanager (systemctl restart "
        + "nvidia-fabricmanager) and retry; gpuvirt sends the leased partitions first", e);
  }
}
