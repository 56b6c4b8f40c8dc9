package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigEngines;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigProfileTable;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Pure parsers of {@code nvidia-smi mig} output: the tables of {@code -lgip}, {@code -lgipp},
 * {@code -lgi} and {@code -lci}, and the messages of {@code -cgi}/{@code -cci}/{@code -dci}/
 * {@code -dgi}, in the formats of {@code shared/reference/VGPU_MIG.md} §3 and NEXT.md §3. GPU-instance
 * ids come from this output, never predicted. Anything that is not exactly one of the known forms
 * is a {@link NvidiaSmiFormatException} naming the line; nothing here runs a program.
 */
public final class NvidiaSmiMig {
  private NvidiaSmiMig() {}

  /** One profile row of {@code -lgip} (two lines in the table). */
  public record ProfileRow(int gpu, String name, int profileId, int free, int total,
      BigDecimal memoryGiB, boolean p2p, int multiprocessors, int decoders, int encoders,
      int copyEngines, int jpegs, int ofas) {}

  /** One line of {@code -lgipp}: the placements of one profile on one GPU. */
  public record PlacementRow(int gpu, int profileId, List<Integer> starts, int size) {
    /** Copies the list. */
    public PlacementRow {
      starts = List.copyOf(starts);
    }
  }

  /** One row of {@code -lgi}. */
  public record GpuInstanceRow(int gpu, String name, int profileId, int gpuInstanceId,
      MigPlacement placement) {}

  /** One row of {@code -lci}; the placement column only where the driver prints it. */
  public record ComputeInstanceRow(int gpu, int gpuInstanceId, String name, int profileId,
      int computeInstanceId, Optional<MigPlacement> placement) {}

  /** One success message of {@code -cgi}, {@code -cci}, {@code -dci} or {@code -dgi}. */
  public sealed interface Message {}

  /** {@code Successfully created GPU instance ID  2 on GPU  0 using profile MIG 3g.20gb (ID  9)}. */
  public record GpuInstanceCreated(int gpu, int gpuInstanceId, String profileName, int profileId)
      implements Message {}

  /**
   * {@code Successfully created compute instance [ID  0 ]on GPU  0 GPU instance ID  2 using profile
   * MIG 3g.20gb (ID  2)}; {@code -cci} prints no compute-instance id.
   */
  public record ComputeInstanceCreated(int gpu, int gpuInstanceId,
      OptionalInt computeInstanceId, String profileName, int profileId) implements Message {}

  /** {@code Successfully destroyed compute instance ID  0 from GPU  0 GPU instance ID  1}. */
  public record ComputeInstanceDestroyed(int gpu, int gpuInstanceId, int computeInstanceId)
      implements Message {}

  /** {@code Successfully destroyed GPU instance ID  1 from GPU  0}. */
  public record GpuInstanceDestroyed(int gpu, int gpuInstanceId) implements Message {}

  private static final Pattern LGIP_ROW = Pattern.compile(
      "\\|\\s*(\\d+)\\s+MIG\\s+(\\S+)\\s+(\\d+)\\s+(\\d+)/(\\d+)\\s+(\\d+\\.\\d+)\\s+(Yes|No)"
          + "\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*\\|");
  private static final Pattern LGIP_ROW2 = Pattern.compile(
      "\\|\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*\\|");
  private static final Pattern LGIPP = Pattern.compile(
      "GPU\\s+(\\d+)\\s+Profile ID\\s+(\\d+)\\s+Placements?\\s*:\\s*\\{(\\d+(?:,\\d+)*)\\}:(\\d+)");
  private static final Pattern LGI_ROW = Pattern.compile(
      "\\|\\s*(\\d+)\\s+MIG\\s+(\\S+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+):(\\d+)\\s*\\|");
  private static final Pattern LCI_ROW = Pattern.compile(
      "\\|\\s*(\\d+)\\s+(\\d+)\\s+MIG\\s+(\\S+)\\s+(\\d+)\\s+(\\d+)(?:\\s+(\\d+):(\\d+))?\\s*\\|");
  private static final Pattern GI_CREATED = Pattern.compile(
      "Successfully created GPU instance ID\\s+(\\d+) on GPU\\s+(\\d+) using profile MIG (\\S+)"
          + " \\(ID\\s+(\\d+)\\)");
  private static final Pattern CI_CREATED = Pattern.compile(
      "Successfully created compute instance (?:ID\\s+(\\d+) )?on GPU\\s+(\\d+) GPU instance ID"
          + "\\s+(\\d+) using profile MIG (\\S+) \\(ID\\s+(\\d+)\\)");
  private static final Pattern CI_DESTROYED = Pattern.compile(
      "Successfully destroyed compute instance ID\\s+(\\d+) from GPU\\s+(\\d+) GPU instance ID"
          + "\\s+(\\d+)");
  private static final Pattern GI_DESTROYED = Pattern.compile(
      "Successfully destroyed GPU instance ID\\s+(\\d+) from GPU\\s+(\\d+)");

  /** Parses {@code nvidia-smi mig -lgip}. */
  public static List<ProfileRow> parseProfiles(String output) {
    Table t = Table.of("mig -lgip", output, "Free/Total");
    List<ProfileRow> rows = new ArrayList<>();
    for (int i = 0; i < t.rows.size(); i++) {
      Matcher m = t.match(i, LGIP_ROW, "expected a profile row (GPU, MIG name, ID, Free/Total, "
          + "GiB, P2P, SM, DEC, ENC)");
      if (i + 1 >= t.rows.size()) {
        throw t.error(i, "profile row without its second line (CE, JPEG, OFA)");
      }
      Matcher n = t.match(++i, LGIP_ROW2, "expected the profile's second line (CE, JPEG, OFA)");
      int free = num(m, 4);
      int total = num(m, 5);
      if (free > total) {
        throw t.error(i - 1, "free instances " + free + " exceed total " + total);
      }
      rows.add(new ProfileRow(num(m, 1), name(t, i - 1, m.group(2)), num(m, 3), free, total,
          new BigDecimal(m.group(6)), m.group(7).equals("Yes"), num(m, 8), num(m, 9),
          num(m, 10), num(n, 1), num(n, 2), num(n, 3)));
    }
    return List.copyOf(rows);
  }

  /** Parses {@code nvidia-smi mig -lgipp}; blank lines are skipped. */
  public static List<PlacementRow> parsePlacements(String output) {
    List<PlacementRow> rows = new ArrayList<>();
    String[] lines = output.split("\\R", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty()) {
        continue;
      }
      Matcher m = LGIPP.matcher(line);
      if (!m.matches()) {
        throw new NvidiaSmiFormatException("mig -lgipp", i + 1, line,
            "expected 'GPU  N Profile ID  N Placements: {a,b,...}:size'");
      }
      List<Integer> starts = Arrays.stream(m.group(3).split(",")).map(Integer::valueOf).toList();
      for (int k = 1; k < starts.size(); k++) {
        if (starts.get(k) <= starts.get(k - 1)) {
          throw new NvidiaSmiFormatException("mig -lgipp", i + 1, line,
              "placement starts do not ascend");
        }
      }
      rows.add(new PlacementRow(num(m, 1), num(m, 2), starts, num(m, 4)));
    }
    return List.copyOf(rows);
  }

  /** Parses {@code nvidia-smi mig -lgi}. */
  public static List<GpuInstanceRow> parseGpuInstances(String output) {
    Table t = Table.of("mig -lgi", output, "Start:Size");
    List<GpuInstanceRow> rows = new ArrayList<>();
    for (int i = 0; i < t.rows.size(); i++) {
      Matcher m = t.match(i, LGI_ROW, "expected a GPU instance row (GPU, MIG name, profile ID, "
          + "instance ID, start:size)");
      rows.add(new GpuInstanceRow(num(m, 1), name(t, i, m.group(2)), num(m, 3), num(m, 4),
          placement(t, i, m, 5)));
    }
    return List.copyOf(rows);
  }

  /** Parses {@code nvidia-smi mig -lci}. */
  public static List<ComputeInstanceRow> parseComputeInstances(String output) {
    Table t = Table.of("mig -lci", output, "Instance");
    List<ComputeInstanceRow> rows = new ArrayList<>();
    for (int i = 0; i < t.rows.size(); i++) {
      Matcher m = t.match(i, LCI_ROW, "expected a compute instance row (GPU, GPU instance ID, "
          + "MIG name, profile ID, instance ID)");
      String name = m.group(3);
      if (!name.matches("([1-8]c\\.)?[1-8]g\\.[0-9]+gb(\\+[a-z.]+|-[a-z]+)?")) {
        throw t.error(i, "compute-instance profile name '" + name + "' is not [Nc.]Ng.Mgb");
      }
      Optional<MigPlacement> at = m.group(6) == null ? Optional.empty()
          : Optional.of(placement(t, i, m, 6));
      rows.add(new ComputeInstanceRow(num(m, 1), num(m, 2), name, num(m, 4), num(m, 5), at));
    }
    return List.copyOf(rows);
  }

  /**
   * Parses the success messages of {@code -cgi [-C]}, {@code -cci}, {@code -dci} and {@code -dgi};
   * blank lines are skipped. Any other line (a failure such as "Insufficient Resources" among
   * them) is a {@link NvidiaSmiFormatException} that quotes it.
   */
  public static List<Message> parseMessages(String command, String output) {
    List<Message> messages = new ArrayList<>();
    String[] lines = output.split("\\R", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty()) {
        continue;
      }
      Matcher m;
      if ((m = GI_CREATED.matcher(line)).matches()) {
        messages.add(new GpuInstanceCreated(num(m, 2), num(m, 1),
            name(command, i, line, m.group(3)), num(m, 4)));
      } else if ((m = CI_CREATED.matcher(line)).matches()) {
        OptionalInt ci = m.group(1) == null ? OptionalInt.empty() : OptionalInt.of(num(m, 1));
        messages.add(new ComputeInstanceCreated(num(m, 2), num(m, 3), ci, m.group(4),
            num(m, 5)));
      } else if ((m = CI_DESTROYED.matcher(line)).matches()) {
        messages.add(new ComputeInstanceDestroyed(num(m, 2), num(m, 3), num(m, 1)));
      } else if ((m = GI_DESTROYED.matcher(line)).matches()) {
        messages.add(new GpuInstanceDestroyed(num(m, 2), num(m, 1)));
      } else {
        throw new NvidiaSmiFormatException(command, i + 1, line,
            "not a MIG success message");
      }
    }
    return List.copyOf(messages);
  }

  /**
   * A profile table from a real GPU's {@code -lgip} and {@code -lgipp} (GPU 0's rows, or the
   * given GPU's): what an integrator supplies instead of a built-in table with inferred values.
   * Max instances is {@code -lgip}'s total, memory its GiB, compute slices the name's {@code Ng}.
   *
   * @throws InvalidValueException when a profile has no placements or the values do not form a
   *     valid table
   */
  public static MigProfileTable profileTable(String model, List<Integer> pciDeviceIds, int gpu,
      List<ProfileRow> profiles, List<PlacementRow> placements) {
    List<GpuInstanceProfile> out = new ArrayList<>();
    for (ProfileRow p : profiles) {
      if (p.gpu() != gpu) {
        continue;
      }
      PlacementRow at = placements.stream()
          .filter(r -> r.gpu() == gpu && r.profileId() == p.profileId()).findFirst()
          .orElseThrow(() -> new InvalidValueException(
              "nvidia-smi mig -lgipp has no placements for profile " + p.name() + " (ID "
                  + p.profileId() + ") on GPU " + gpu));
      int compute = Integer.parseInt(p.name().substring(0, p.name().indexOf('g')));
      long mib = p.memoryGiB().multiply(BigDecimal.valueOf(1024))
          .setScale(0, RoundingMode.HALF_UP).longValueExact();
      out.add(new GpuInstanceProfile(p.profileId(), p.name(), compute, at.size(), mib,
          OptionalInt.of(p.multiprocessors()),
          Optional.of(new MigEngines(p.copyEngines(), p.decoders(), p.encoders(), p.jpegs(),
              p.ofas())),
          p.total(), at.starts(), false));
    }
    return new MigProfileTable(model, pciDeviceIds, 7, 8, out);
  }

  private static int num(Matcher m, int group) {
    try {
      return Integer.parseInt(m.group(group));
    } catch (NumberFormatException e) {
      throw new InvalidValueException("number '" + m.group(group) + "' is too large", e);
    }
  }

  private static String name(Table t, int row, String name) {
    try {
      return GpuInstanceProfile.checkName(name);
    } catch (InvalidValueException e) {
      throw t.error(row, e.getMessage());
    }
  }

  private static String name(String command, int line, String text, String name) {
    try {
      GpuInstanceProfile.checkName(name);
      return name;
    } catch (InvalidValueException e) {
      throw new NvidiaSmiFormatException(command, line + 1, text, e.getMessage());
    }
  }

  private static MigPlacement placement(Table t, int row, Matcher m, int group) {
    try {
      return new MigPlacement(num(m, group), num(m, group + 1));
    } catch (InvalidValueException e) {
      throw t.error(row, e.getMessage());
    }
  }

  /**
   * An nvidia-smi box table: {@code +---+} borders, a title line, header lines up to the
   * {@code |===|} separator (which must name {@code headerWord}), then data lines.
   */
  private static final class Table {
    private final String command;
    private final List<String> rows = new ArrayList<>();
    private final List<Integer> lineNumbers = new ArrayList<>();

    private Table(String command) {
      this.command = command;
    }

    static Table of(String command, String output, String headerWord) {
      Table t = new Table(command);
      String[] lines = output.split("\\R", -1);
      boolean header = true;
      StringBuilder headerText = new StringBuilder();
      for (int i = 0; i < lines.length; i++) {
        String line = lines[i].strip();
        if (line.isEmpty() || line.matches("\\+-+\\+")) {
          continue;
        }
        if (!line.startsWith("|") || !line.endsWith("|")) {
          throw new NvidiaSmiFormatException(command, i + 1, line, "not a table line");
        }
        if (header) {
          if (line.matches("\\|=+\\|")) {
            header = false;
            if (!headerText.toString().contains(headerWord)) {
              throw new NvidiaSmiFormatException(command, i + 1, "",
                  "the table header does not have the column " + headerWord);
            }
          } else {
            headerText.append(line);
          }
          continue;
        }
        t.rows.add(line);
        t.lineNumbers.add(i + 1);
      }
      if (header) {
        throw new NvidiaSmiFormatException(command, 0, "",
            "no table header (no |===| line) in " + lines.length + " lines");
      }
      return t;
    }

    Matcher match(int row, Pattern p, String expected) {
      Matcher m = p.matcher(rows.get(row));
      if (!m.matches()) {
        throw error(row, expected);
      }
      return m;
    }

    NvidiaSmiFormatException error(int row, String problem) {
      return new NvidiaSmiFormatException(command, lineNumbers.get(row), rows.get(row), problem);
    }
  }
}
