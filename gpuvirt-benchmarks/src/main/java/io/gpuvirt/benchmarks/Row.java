package io.gpuvirt.benchmarks;

import java.util.Objects;

/**
 * One row of the performance table: a figure of issue 18, its goal, what this run measured, the
 * baseline measured beside it, their ratio and whether the goal is met.
 *
 * @param figure what is measured
 * @param goal the goal
 * @param measured the value measured (or why it was not)
 * @param baseline the baseline measured in the same run (empty text where the goal is absolute)
 * @param ratio measured / baseline as text ({@code 0.48x}), or {@code -}
 * @param verdict met, not met, or skipped
 */
public record Row(String figure, String goal, String measured, String baseline, String ratio,
    Verdict verdict) {

  /** Whether a row's goal is met. */
  public enum Verdict {
    /** Measured, and the goal is met. */
    MET("met"),
    /** Measured, and the goal is not met. */
    NOT_MET("not met"),
    /** Not measured: a tool or file it needs is missing ({@link Row#measured} says which). */
    SKIPPED("skipped"),
    /** Measured beside the row that holds the goal, for comparison; no goal of its own. */
    COMPARISON("comparison");

    private final String text;

    Verdict(String text) {
      this.text = text;
    }

    /** {@code met}, {@code not met}, {@code skipped} or {@code comparison}. */
    public String text() {
      return text;
    }

    /** {@link #MET} when {@code met}, else {@link #NOT_MET}. */
    public static Verdict of(boolean met) {
      return met ? MET : NOT_MET;
    }
  }

  /** Checks that no field is null. */
  public Row {
    Objects.requireNonNull(figure, "figure");
    Objects.requireNonNull(goal, "goal");
    Objects.requireNonNull(measured, "measured");
    Objects.requireNonNull(baseline, "baseline");
    Objects.requireNonNull(ratio, "ratio");
    Objects.requireNonNull(verdict, "verdict");
  }

  /** A row that was not measured, {@code why} naming what is missing and how to get it. */
  public static Row skipped(String figure, String goal, String why) {
    return new Row(figure, goal, "skipped: " + why, "", "-", Verdict.SKIPPED);
  }

  /** {@code value} as a ratio, {@code 0.48x}. */
  public static String ratio(double value) {
    return String.format("%.2fx", value);
  }
}
