package io.gpuvirt.qemu.command;

/** The QEMU accelerator ({@code -accel}). Device passthrough needs KVM; TCG is for tests. */
public enum Accelerator {
  /** Linux KVM: what a GPU VM runs on. */
  KVM("kvm"),
  /** QEMU's emulator: boots the layout without KVM (tests, CI). */
  TCG("tcg");

  private final String qemuName;

  Accelerator(String qemuName) {
    this.qemuName = qemuName;
  }

  /** The name {@code -accel} takes. */
  public String qemuName() {
    return qemuName;
  }
}
