package io.gpuvirt.testkit.fabric;

/** Where {@code nvidia-smi -q} prints a GPU's module id. */
public enum NvidiaSmiFormat {
  /** Drivers before 580: a top-level {@code Module ID : 1} line in each GPU section. */
  MODULE_ID_LINE,
  /** 580 drivers: {@code Module Id : 1} inside the {@code Platform Info} block. */
  PLATFORM_INFO
}
