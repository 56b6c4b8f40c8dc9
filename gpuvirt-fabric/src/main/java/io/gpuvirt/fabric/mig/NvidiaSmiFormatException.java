package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;

/**
 * Output of {@code nvidia-smi mig} that gpuvirt cannot read: a garbled table row, a missing header,
 * a message of an unknown form. The message names the command, the line number and the line.
 * Nothing was changed on the strength of it.
 */
public class NvidiaSmiFormatException extends InvalidValueException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception for the command's output line (1-based, 0 for the whole output). */
  public NvidiaSmiFormatException(String command, int line, String text, String problem) {
    super("nvidia-smi " + command + " output" + (line > 0 ? " line " + line : "") + ": "
        + problem + (text.isEmpty() ? "" : ": '" + text + "'")
        + "; is this an nvidia-smi version gpuvirt has not seen? Report the output");
  }
}
