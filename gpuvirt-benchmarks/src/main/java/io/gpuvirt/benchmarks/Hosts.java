package io.gpuvirt.benchmarks;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;

/** The simulated hosts the benchmarks measure, by name, written under {@link Settings#dir()}. */
public final class Hosts {
  /** The simulated HGX B200 preset (61 functions). */
  public static final String B200 = "hgx-b200";
  /** The prefix of a many-boards host: {@code hgx-b200-x71} is 71 B200 boards (4,118 functions). */
  public static final String BOARDS_PREFIX = "hgx-b200-x";

  private Hosts() {}

  /** {@value #B200} or {@code hgx-b200-xN} ({@link HostProfile#manyB200Boards(int) N boards}). */
  public static HostProfile profile(String name) {
    if (name.equals(B200)) {
      return HostProfile.hgxB200();
    }
    if (name.startsWith(BOARDS_PREFIX)) {
      try {
        return HostProfile.manyB200Boards(Integer.parseInt(name.substring(BOARDS_PREFIX.length())));
      } catch (NumberFormatException e) {
        // named below
      }
    }
    throw new InvalidValueException("benchmark host '" + name + "' is neither " + B200 + " nor "
        + BOARDS_PREFIX + "N (N boards)");
  }

  /** The name of the host of {@code boards} B200 boards. */
  public static String boards(int boards) {
    return BOARDS_PREFIX + boards;
  }

  /** Writes the host {@code name} into {@code scratch} (as {@code host}), kept until closed. */
  public static SimulatedHost write(String name, Scratch scratch) {
    return SimulatedHost.create(profile(name), scratch.dir().resolve("host"));
  }
}
