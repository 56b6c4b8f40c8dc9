package io.gpuvirt.examples.cli;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Shared CLI plumbing: exit codes, error printing and the rules every argument passes before a
 * command runs.
 *
 * <ul>
 *   <li>No argument files: picocli's {@code @FILE} expansion is off, so {@code --owner @F} is the
 *       owner id {@code @F} (and refused), never the content of the file F.
 *   <li>Numbers: every {@code int}/{@code long} option and parameter takes ASCII digits only
 *       ({@code [0-9]+}): no sign, no {@code 0x}, no Arabic-Indic or full-width digits.
 *   <li>Owner ids: every {@code --owner} goes through {@link AllocationRequest#checkOwner}.
 *   <li>A bad argument is one line on stderr and exit code 2; nothing has run yet.
 * </ul>
 */
final class Cli {
  /** The operation succeeded. */
  static final int OK = 0;
  /** The operation was refused or the host is not ready. */
  static final int REFUSED = 1;
  /** Any other error. */
  static final int ERROR = 2;

  private static final Pattern ASCII_DIGITS = Pattern.compile("[0-9]{1,19}");

  private Cli() {}

  /** The command line of {@code root} and all its subcommands, with the rules above. */
  static CommandLine commandLine(Object root) {
    return configure(new CommandLine(root));
  }

  /**
   * The command line of {@code root} with one subcommand, {@code type} under {@code name}, with
   * the rules above: what runs that subcommand without building the others.
   */
  static CommandLine commandLine(Object root, String name, Class<?> type) {
    CommandLine cl = new CommandLine(root);
    cl.addSubcommand(name, type);
    return configure(cl);
  }

  /** Applies the rules to {@code cl} and the subcommands it has now (picocli copies them down). */
  private static CommandLine configure(CommandLine cl) {
    cl.setExpandAtFiles(false);
    cl.registerConverter(Integer.class, v -> (int) number(v, Integer.MAX_VALUE));
    cl.registerConverter(Integer.TYPE, v -> (int) number(v, Integer.MAX_VALUE));
    cl.registerConverter(Long.class, v -> number(v, Long.MAX_VALUE));
    cl.registerConverter(Long.TYPE, v -> number(v, Long.MAX_VALUE));
    cl.setExitCodeExceptionMapper(e -> ERROR);
    cl.setExecutionExceptionHandler((e, cmd, parseResult) -> {
      boolean json = wantsJson(parseResult);
      if (e instanceof GpuvirtException || e instanceof IllegalArgumentException) {
        // Bad input, or a refusal with its reason: the message says it all, no stack trace.
        cmd.getErr().println("gpuvirt: " + e.getMessage());
      } else {
        cmd.getErr().println("gpuvirt: unexpected error: " + e);
        e.printStackTrace(cmd.getErr());
      }
      if (json) {
        printJsonError(cmd, errorKind(e), String.valueOf(e.getMessage()), ERROR);
      }
      return ERROR;
    });
    cl.setParameterExceptionHandler((e, args) -> {
      CommandLine failed = e.getCommandLine();
      String message = oneLine(e.getMessage());
      failed.getErr().println("gpuvirt: " + message + " (see '"
          + failed.getCommandSpec().qualifiedName() + " --help')");
      if (java.util.Arrays.asList(args).contains("--json")) {
        printJsonError(failed, "usage", message, ERROR);
      }
      return ERROR;
    });
    return cl;
  }

  /**
   * Whether the command that ran asked for JSON ({@code --json}, or {@code --format json}): then
   * an error is also a JSON object on stdout, {@code {"error": {"kind", "message", "exitCode"}}}.
   */
  static boolean wantsJson(CommandLine.ParseResult parseResult) {
    CommandLine.ParseResult p = parseResult;
    while (p.hasSubcommand()) {
      p = p.subcommand();
    }
    return (p.hasMatchedOption("--json") && Boolean.TRUE.equals(p.matchedOptionValue("--json",
        Boolean.FALSE))) || "json".equals(p.matchedOptionValue("--format", ""));
  }

  /** The error's kind in the JSON error object: what a program branches on. */
  static String errorKind(Exception e) {
    if (e instanceof InvalidValueException || e instanceof IllegalArgumentException) {
      return "invalid-value";
    }
    if (e instanceof GpuvirtException) {
      return "error";
    }
    return "unexpected";
  }

  /**
   * A refusal: the reason on stderr and, when {@code json}, as a JSON error of kind {@code
   * refused} on stdout.
   *
   * @return {@link #REFUSED}
   */
  static int refuse(CommandLine cmd, boolean json, String message) {
    cmd.getErr().println("gpuvirt: " + message);
    cmd.getErr().flush();
    if (json) {
      printJsonError(cmd, "refused", message, REFUSED);
    }
    return REFUSED;
  }

  /** Prints {@code {"error": {"kind": ..., "message": ..., "exitCode": N}}} on stdout. */
  static void printJsonError(CommandLine cmd, String kind, String message, int exitCode) {
    com.fasterxml.jackson.databind.node.ObjectNode root =
        new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
    com.fasterxml.jackson.databind.node.ObjectNode error = root.putObject("error");
    error.put("kind", kind);
    error.put("message", message);
    error.put("exitCode", exitCode);
    cmd.getOut().println(root.toPrettyString());
    cmd.getOut().flush();
  }

  /**
   * A non-negative decimal number of ASCII digits, at most {@code max}.
   *
   * @throws CommandLine.TypeConversionException quoting the value; picocli adds the option name
   */
  static long number(String value, long max) {
    if (!ASCII_DIGITS.matcher(value).matches()) {
      throw new CommandLine.TypeConversionException("'" + printable(value)
          + "' is not a number: use the ASCII digits 0-9 only (no sign, no 0x, no other digits)");
    }
    long n;
    try {
      n = Long.parseLong(value);
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 0 || n > max) {
      throw new CommandLine.TypeConversionException("'" + value + "' is larger than " + max);
    }
    return n;
  }

  /** Checks an owner id with the library's one rule, for {@code --owner} options. */
  static final class OwnerConverter implements CommandLine.ITypeConverter<String> {
    @Override
    public String convert(String value) {
      try {
        return AllocationRequest.checkOwner(value);
      } catch (InvalidValueException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /** The text with line breaks shown as {@code \n}, so that an error stays on one line. */
  static String oneLine(String text) {
    return String.valueOf(text).replace("\r", "\\r").replace("\n", "\\n");
  }

  /** The text with control and non-ASCII characters shown as Java-style unicode escapes. */
  static String printable(String text) {
    StringBuilder s = new StringBuilder();
    text.chars().limit(64).forEach(c -> s.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c)
        : String.format("\\u%04x", c)));
    return text.length() > 64 ? s + "..." : s.toString();
  }
}
