package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * A run whose first argument names a command builds only that command (start-up), and prints and
 * exits exactly as the whole command tree does.
 */
final class LazySubcommandsTest {
  /** Every command path of the whole tree ("vgpu types"), but picocli's {@code help}. */
  private static Map<String, CommandLine> commands(CommandLine cl, String prefix,
      Map<String, CommandLine> into) {
    cl.getSubcommands().forEach((name, sub) -> {
      if (!(sub.getCommandSpec().userObject() instanceof CommandLine.HelpCommand)) {
        String path = (prefix + " " + name).strip();
        into.put(path, sub);
        commands(sub, path, into);
      }
    });
    return into;
  }

  private static Map<String, CommandLine> commands() {
    return commands(Cli.commandLine(new GpuvirtCli()), "", new TreeMap<>());
  }

  @Test
  void subcommand_everyTopLevelCommand_isTheClassTheRootAnnotationLists() {
    Map<String, Optional<Class<?>>> expected = new TreeMap<>();
    Map<String, Optional<Class<?>>> actual = new TreeMap<>();
    Cli.commandLine(new GpuvirtCli()).getSubcommands().forEach((name, sub) -> {
      Object command = sub.getCommandSpec().userObject();
      expected.put(name, command instanceof CommandLine.HelpCommand ? Optional.empty()
          : Optional.of(command.getClass()));
      actual.put(name, GpuvirtCli.subcommand(name));
    });
    assertEquals(expected, actual);
  }

  @Test
  void subcommand_notACommandName_isEmpty() {
    assertEquals(List.of(), Stream.of("", "nosuch", "Topology", "topolgy", "--help", "-h",
            "--version", "help", "types", "vgpu types")
        .filter(name -> GpuvirtCli.subcommand(name).isPresent()).toList());
  }

  @Test
  void commandLine_namedCommand_buildsOnlyThatCommand() {
    assertEquals(List.of("topology"), List.copyOf(GpuvirtCli.commandLine("topology", "--root",
        "/nonexistent").getSubcommands().keySet()));
  }

  @Test
  void commandLine_helpVersionUsageOrUnknownCommand_buildsTheWholeTree() {
    List<String> all = List.copyOf(Cli.commandLine(new GpuvirtCli()).getSubcommands().keySet());
    for (String[] args : List.of(new String[0], new String[] {"--help"},
        new String[] {"--version"}, new String[] {"help", "topology"},
        new String[] {"topolgy"})) {
      assertEquals(all, List.copyOf(GpuvirtCli.commandLine(args).getSubcommands().keySet()),
          String.join(" ", args));
    }
  }

  @Test
  void everyCommand_helpVersionAndBadArguments_printAndExitAsTheWholeTree() {
    List<String> differences = new ArrayList<>();
    int runs = 0;
    for (Map.Entry<String, CommandLine> command : commands().entrySet()) {
      List<List<String>> suffixes = new ArrayList<>(List.of(List.of("--help"), List.of("-h"),
          List.of("--version"), List.of("-V"), List.of("--bogus"), List.of("--bogus", "--json"),
          List.of("--root")));
      if (!command.getValue().getSubcommands().isEmpty()) {
        suffixes.add(List.of()); // a command group alone: its usage error
      }
      for (List<String> suffix : suffixes) {
        String[] args = Stream.concat(Stream.of(command.getKey().split(" ")), suffix.stream())
            .toArray(String[]::new);
        CliRun whole = CliRun.on(Cli.commandLine(new GpuvirtCli()), args);
        CliRun lazy = CliRun.of(args);
        runs++;
        if (!whole.equals(lazy)) {
          differences.add("gpuvirt " + String.join(" ", args) + ":\n  whole tree " + whole
              + "\n  lazy       " + lazy);
        }
      }
    }
    assertEquals(List.of(), differences, runs + " runs compared");
  }

  @Test
  void topLevelHelp_listsEveryCommandInOrder() {
    CliRun help = CliRun.of("--help");
    List<String> lines = help.out().lines().toList();
    List<String> listed = lines.subList(lines.indexOf("Commands:") + 1, lines.size()).stream()
        .filter(line -> line.matches("  \\S.*")).map(line -> line.strip().split(" ")[0])
        .toList();
    assertEquals(List.of(0, "Usage: gpuvirt [-hV] [COMMAND]",
            "GPU passthrough orchestration for Linux/KVM.",
            List.of("provision", "teardown", "status", "recover", "qemu-args", "simulate",
                "topology", "doctor", "bind", "allocate", "release", "leases", "reconcile",
                "partitions", "module-ids", "guest-check", "vgpu", "mig", "fleet", "help")),
        List.of(help.exitCode(), lines.get(0), lines.get(1), listed));
  }
}
