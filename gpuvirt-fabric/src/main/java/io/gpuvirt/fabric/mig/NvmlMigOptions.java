package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.MigProfileTable;
import java.util.List;
import java.util.Objects;

/**
 * How {@link NvmlMigBackend} reaches the driver: which NVML library, which {@code nvidia-smi}
 * resets GPUs (NVML has no call for a GPU reset), and the profile tables that name the compute
 * instances it lists.
 *
 * <pre>{@code
 * NvmlMigOptions o = NvmlMigOptions.defaults()
 *     .withLibrary("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1");
 * }</pre>
 *
 * @param library the library to load: a file name searched the usual way
 *     ({@value #DEFAULT_LIBRARY}) or a path
 * @param nvidiaSmi the program {@link NvmlMigBackend#reset} runs as {@code nvidia-smi -r -i N}
 * @param tables the profile tables, found by PCI device id, that give a compute instance its
 *     profile name ({@code 3g.90gb}); NVML's v1 profile info carries no name
 */
public record NvmlMigOptions(String library, String nvidiaSmi, List<MigProfileTable> tables) {
  /** NVML's SONAME, what the NVIDIA driver installs. */
  public static final String DEFAULT_LIBRARY = "libnvidia-ml.so.1";
  /** The {@code nvidia-smi} on {@code PATH}. */
  public static final String DEFAULT_NVIDIA_SMI = "nvidia-smi";

  /** Validates the names and copies the tables. */
  public NvmlMigOptions {
    if (library == null || library.isBlank() || library.indexOf('\0') >= 0) {
      throw new InvalidValueException("name the NVML library to load, for example "
          + DEFAULT_LIBRARY + " or its path; was '" + library + "'");
    }
    if (nvidiaSmi == null || nvidiaSmi.isBlank() || nvidiaSmi.indexOf('\0') >= 0) {
      throw new InvalidValueException("name the nvidia-smi program that resets GPUs, for example "
          + DEFAULT_NVIDIA_SMI + "; was '" + nvidiaSmi + "'");
    }
    Objects.requireNonNull(tables, "tables");
    tables = List.copyOf(tables);
  }

  /** {@value #DEFAULT_LIBRARY}, {@value #DEFAULT_NVIDIA_SMI}, the built-in tables. */
  public static NvmlMigOptions defaults() {
    return new NvmlMigOptions(DEFAULT_LIBRARY, DEFAULT_NVIDIA_SMI, MigProfileTable.builtIn());
  }

  /** These options with another library (a file name or a path). */
  public NvmlMigOptions withLibrary(String newLibrary) {
    return new NvmlMigOptions(newLibrary, nvidiaSmi, tables);
  }

  /** These options with another {@code nvidia-smi} for resets. */
  public NvmlMigOptions withNvidiaSmi(String newNvidiaSmi) {
    return new NvmlMigOptions(library, newNvidiaSmi, tables);
  }

  /** These options with other profile tables. */
  public NvmlMigOptions withTables(List<MigProfileTable> newTables) {
    return new NvmlMigOptions(library, nvidiaSmi, newTables);
  }
}
