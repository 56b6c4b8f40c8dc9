package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A mig-parted config file: named configs, each a list of entries.
 *
 * @param configs config name → entries, in file order; at least one config, each with at least one
 *     entry
 */
public record MigPartedConfig(Map<String, List<MigConfigEntry>> configs) {
  /** The only version mig-parted (and gpuvirt) reads and writes. */
  public static final String VERSION = "v1";

  /** Validates that there is at least one config and each has entries. */
  public MigPartedConfig {
    Map<String, List<MigConfigEntry>> copy = new LinkedHashMap<>();
    configs.forEach((name, entries) -> {
      if (name.isBlank() || entries.isEmpty()) {
        throw new InvalidValueException(
            "mig-configs: config '" + name + "' needs a name and at least one entry");
      }
      copy.put(name, List.copyOf(entries));
    });
    if (copy.isEmpty()) {
      throw new InvalidValueException("mig-configs: at least one config is required");
    }
    configs = Collections.unmodifiableMap(copy);
  }

  /**
   * The entries of one config.
   *
   * @throws InvalidValueException naming the configs the file has
   */
  public List<MigConfigEntry> entries(String name) {
    List<MigConfigEntry> entries = configs.get(name);
    if (entries == null) {
      throw new InvalidValueException(
          "mig-config '" + name + "' is not in the file; it has " + String.join(", ",
              configs.keySet()));
    }
    return entries;
  }
}
