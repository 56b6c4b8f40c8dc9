package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProgressListener;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The provisioning process of the crash and multi-process tests, run in a child JVM on a site
 * another process made ({@link SimulatedSite#open}):
 *
 * <ul>
 *   <li>{@code ROOT MODE provision OWNER COUNT STOP} and {@code ROOT MODE teardown OWNER STOP}:
 *       STOP is a step name (stop when it starts), {@code write:N} (stop before the N-th sysfs
 *       write) or {@code none}. At the stop it prints {@code STOPPED AT <stop>} and waits to be
 *       killed; otherwise it prints {@code DONE}.
 *   <li>{@code ROOT MODE bind OWNER reset|noreset ADDR[,ADDR...] STOP} and
 *       {@code ROOT MODE restore ADDR[,ADDR...] STOP}: the same for a manual binding (a lease of
 *       origin BIND) and its restore.
 *   <li>{@code ROOT MODE provision-all COUNT OWNER...}: provisions each owner and prints
 *       {@code BOUND <owner> <groups> <partition>} per lease.
 *   <li>{@code ROOT MODE serve}: reads {@link Operation} lines on standard input and runs each
 *       with one provisioner, answering {@code ANSWER <n> <outcome>} for the n-th line (from 1);
 *       ends at end of input.
 * </ul>
 *
 * MODE is {@code partitions} or {@code groups}.
 */
final class ProvisionWorker {
  static final String STOPPED = "STOPPED AT ";
  static final String ANSWER = "ANSWER ";

  private ProvisionWorker() {}

  public static void main(String[] args) {
    Path root = Path.of(args[0]);
    boolean partitions = args[1].equals("partitions");
    String command = args[2];
    try (SimulatedSite site = SimulatedSite.open(root, partitions)) {
      switch (command) {
        case "provision" -> {
          Provisioner p = stopping(site, args[5]);
          p.provision(AllocationRequest.builder(args[3]).count(Integer.parseInt(args[4])).build());
        }
        case "teardown" -> stopping(site, args[4]).teardown(args[3]);
        case "bind" -> stopping(site, args[6]).bind(args[3], Operation.bindRequest(args[4],
            args[5]));
        case "restore" -> stopping(site, args[4]).restore(Operation.addresses(args[3]));
        case "serve" -> serve(site);
        case "provision-all" -> {
          int count = Integer.parseInt(args[3]);
          List<String> owners = Arrays.asList(args).subList(4, args.length);
          Provisioner p = site.provisioner();
          for (String owner : owners) {
            Provisioned vm = p.provision(AllocationRequest.builder(owner).count(count).build());
            Lease l = vm.lease();
            say("BOUND " + owner + " " + l.groupNumbers() + " " + l.partitionId());
          }
        }
        default -> throw new IllegalArgumentException("unknown command " + command);
      }
      say("DONE");
    }
  }

  private static void serve(SimulatedSite site) {
    Provisioner p = site.provisioner();
    java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
        System.in, java.nio.charset.StandardCharsets.UTF_8));
    try {
      int n = 0;
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        n++;
        say(ANSWER + n + " " + Operation.run(p, line));
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static Provisioner stopping(SimulatedSite site, String stop) {
    if (stop.startsWith("write:")) {
      int n = Integer.parseInt(stop.substring("write:".length()));
      return site.provisioner(new InterruptingSysfs(site.host().sysfs(), n, () -> halt(stop)))
          .build();
    }
    ProgressListener listener = stop.equals("none") ? ProgressListener.NONE : new ProgressListener() {
      private boolean stopped;

      @Override
      public void onEvent(ProgressEvent e) {
        if (!stopped && e.kind() == ProgressEvent.Kind.STARTED && e.step().name().equals(stop)) {
          stopped = true;
          halt(stop);
        }
      }
    };
    return site.provisioner(listener);
  }

  /** Announces the stop and waits to be killed. */
  private static void halt(String where) {
    say(STOPPED + where);
    try {
      Thread.sleep(Long.MAX_VALUE);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting to be killed", e);
    }
  }

  private static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
