package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;

/**
 * The answer of {@link MigParted#check}: whether a GPU matches a config, and if not, each
 * difference in words.
 *
 * @param matches true when the GPU is as the config says
 * @param differences what differs, empty when it matches
 */
public record MigCheck(boolean matches, List<String> differences) {
  /** Copies the list; a match has no differences. */
  public MigCheck {
    differences = List.copyOf(differences);
    if (matches != differences.isEmpty()) {
      throw new InvalidValueException("a match has no differences and a mismatch has some");
    }
  }
}
