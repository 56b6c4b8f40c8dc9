package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.testkit.BridgeWindows.Range;
import io.gpuvirt.testkit.BridgeWindows.Windows;

/**
 * The PCI configuration space of a simulated function, as the {@code config} file holds it: a type
 * 0 or type 1 header, a capability list (power management, MSI, PCI Express, and a subsystem-id
 * capability on bridges) and, for PCI Express functions, extended capabilities (AER, ACS where the
 * port has it, SR-IOV on physical functions). 256 bytes, or 4096 with extended capabilities.
 */
final class ConfigSpace {
  static final int CAP_PM = 0x40;
  static final int CAP_MSI = 0x48;
  static final int CAP_EXP = 0x60;
  static final int CAP_SSVID = 0xa0;
  static final int EXT_AER = 0x100;
  static final int EXT_ACS = 0x148;
  static final int EXT_SRIOV = 0x160;

  /** Offsets in the SR-IOV extended capability. */
  static final int SRIOV_CTRL = 0x08;
  static final int SRIOV_NUM_VFS = 0x10;

  private ConfigSpace() {}

  /** What the header needs beyond the device's own spec. */
  record Context(boolean multifunction, boolean virtualFunction, Windows windows, int irq,
      int numVfs, int portNumber) {}

  static byte[] build(DeviceSpec d, Context ctx) {
    boolean express = d.portType().isPresent();
    byte[] c = new byte[express ? 4096 : 256];
    put16(c, 0x00, d.id().vendor());
    put16(c, 0x02, d.id().device());
    boolean hasIo = d.bars().stream().anyMatch(Bar::io)
        || ctx.windows() != null && ctx.windows().io().isPresent();
    put16(c, 0x04, 0x0006 | (hasIo ? 0x0001 : 0));
    put16(c, 0x06, 0x0010);
    c[0x08] = (byte) d.revision();
    c[0x09] = (byte) d.pciClass().code();
    c[0x0a] = (byte) (d.pciClass().code() >> 8);
    c[0x0b] = (byte) (d.pciClass().code() >> 16);
    c[0x0e] = (byte) ((d.isBridge() ? 1 : 0) | (ctx.multifunction() ? 0x80 : 0));
    if (!ctx.virtualFunction()) {
      for (Bar bar : d.bars()) {
        int reg = 0x10 + 4 * bar.index();
        put32(c, reg, (int) (bar.start() & (bar.io() ? ~0x3L : ~0xfL)) | typeBits(bar));
        if (bar.is64Bit()) {
          put32(c, reg + 4, (int) (bar.start() >>> 32));
        }
      }
    }
    if (d.isBridge()) {
      c[0x18] = (byte) d.address().bus();
      c[0x19] = (byte) d.busRange().get().secondary();
      c[0x1a] = (byte) d.busRange().get().subordinate();
      Windows w = ctx.windows();
      if (w != null && w.io().isPresent()) {
        Range io = w.io().get();
        c[0x1c] = (byte) ((io.start() >> 8) & 0xf0);
        c[0x1d] = (byte) ((io.end() >> 8) & 0xf0);
      } else {
        c[0x1c] = (byte) 0xf0;
        c[0x1d] = 0;
      }
      if (w != null && w.mem().isPresent()) {
        Range m = w.mem().get();
        put16(c, 0x20, (int) ((m.start() >> 16) & 0xfff0));
        put16(c, 0x22, (int) ((m.end() >> 16) & 0xfff0));
      } else {
        put16(c, 0x20, 0xfff0);
        put16(c, 0x22, 0x0000);
      }
      if (w != null && w.pref().isPresent()) {
        Range p = w.pref().get();
        put16(c, 0x24, (int) ((p.start() >> 16) & 0xfff0) | 0x1);
        put16(c, 0x26, (int) ((p.end() >> 16) & 0xfff0) | 0x1);
        put32(c, 0x28, (int) (p.start() >>> 32));
        put32(c, 0x2c, (int) (p.end() >>> 32));
      } else {
        put16(c, 0x24, 0xfff1);
        put16(c, 0x26, 0x0001);
      }
    } else {
      put16(c, 0x2c, d.subsystem().vendor());
      put16(c, 0x2e, d.subsystem().device());
    }
    c[0x34] = (byte) CAP_PM;
    c[0x3c] = (byte) (ctx.irq() & 0xff);
    c[0x3d] = (byte) (ctx.virtualFunction() ? 0 : 1);

    // Power management: version 3, D3hot capable, no soft reset.
    c[CAP_PM] = 0x01;
    c[CAP_PM + 1] = (byte) CAP_MSI;
    put16(c, CAP_PM + 2, 0x0003);
    put16(c, CAP_PM + 4, 0x0008);
    // MSI: 64-bit capable, disabled.
    c[CAP_MSI] = 0x05;
    int afterMsi = express ? CAP_EXP : d.isBridge() ? CAP_SSVID : 0;
    c[CAP_MSI + 1] = (byte) afterMsi;
    put16(c, CAP_MSI + 2, 0x0080);
    if (express) {
      writeExpress(c, d, ctx);
    }
    if (d.isBridge()) {
      c[CAP_SSVID] = 0x0d;
      c[CAP_SSVID + 1] = 0;
      put16(c, CAP_SSVID + 4, d.subsystem().vendor());
      put16(c, CAP_SSVID + 6, d.subsystem().device());
    }
    if (express) {
      writeExtended(c, d, ctx);
    }
    return c;
  }

  private static void writeExpress(byte[] c, DeviceSpec d, Context ctx) {
    PciePortType type = d.portType().get();
    boolean port = type == PciePortType.ROOT_PORT || type == PciePortType.SWITCH_DOWNSTREAM;
    int e = CAP_EXP;
    c[e] = 0x10;
    c[e + 1] = (byte) (d.isBridge() ? CAP_SSVID : 0);
    put16(c, e + 0x02, 0x0002 | (type.code() << 4) | (port ? 0x0100 : 0));
    // Device capabilities: max payload 256, role-based error reporting, FLR when resettable.
    boolean flr = d.resettable() && !d.isBridge();
    put32(c, e + 0x04, 0x00008001 | (flr ? 0x10000000 : 0));
    put16(c, e + 0x08, 0x2030);
    // Link: 32 GT/s x16, data-link-layer active reporting on downstream-facing ports.
    put32(c, e + 0x0c, 0x00000105 | (port ? 0x00100000 : 0) | (ctx.portNumber() << 24));
    put16(c, e + 0x12, 0x0105 | (port ? 0x2000 : 0));
    if (port) {
      put32(c, e + 0x14, (ctx.portNumber() & 0x1fff) << 19);
      put16(c, e + 0x1a, 0x0040);
    }
    put32(c, e + 0x24, 0x00000010 | (d.sriov().isPresent() ? 0x00000020 : 0));
    put32(c, e + 0x2c, 0x0000003e);
    put16(c, e + 0x30, 0x0005);
  }

  private static void writeExtended(byte[] c, DeviceSpec d, Context ctx) {
    boolean acs = d.acs() && d.isBridge();
    boolean sriov = d.sriov().isPresent() && !ctx.virtualFunction();
    int afterAer = acs ? EXT_ACS : sriov ? EXT_SRIOV : 0;
    // AER, version 2.
    put32(c, EXT_AER, 0x0001 | (2 << 16) | (afterAer << 20));
    put32(c, EXT_AER + 0x14, 0x00002000);
    if (acs) {
      put32(c, EXT_ACS, 0x000d | (1 << 16) | ((sriov ? EXT_SRIOV : 0) << 20));
      put16(c, EXT_ACS + 4, 0x005f);
      put16(c, EXT_ACS + 6, 0x001d);
    }
    if (sriov) {
      DeviceSpec.SriovSpec s = d.sriov().get();
      put32(c, EXT_SRIOV, 0x0010 | (1 << 16));
      put32(c, EXT_SRIOV + 0x04, 0x00000000);
      put16(c, EXT_SRIOV + 0x0c, s.totalVfs());
      put16(c, EXT_SRIOV + 0x0e, s.totalVfs());
      put16(c, EXT_SRIOV + 0x14, s.firstVfOffset());
      put16(c, EXT_SRIOV + 0x16, s.vfStride());
      put16(c, EXT_SRIOV + 0x1a, s.vfDeviceId());
      put32(c, EXT_SRIOV + 0x1c, 0x00000553);
      put32(c, EXT_SRIOV + 0x20, 0x00000001);
      Bar vf = s.vfBar();
      put32(c, EXT_SRIOV + 0x24, (int) (vf.start() & ~0xfL) | typeBits(vf));
      if (vf.is64Bit()) {
        put32(c, EXT_SRIOV + 0x28, (int) (vf.start() >>> 32));
      }
      setNumVfs(c, ctx.numVfs());
    }
  }

  /** Updates NumVFs and the VF Enable / VF MSE bits of a PF's config space in place. */
  static void setNumVfs(byte[] c, int numVfs) {
    put16(c, EXT_SRIOV + SRIOV_NUM_VFS, numVfs);
    put16(c, EXT_SRIOV + SRIOV_CTRL, numVfs > 0 ? 0x0009 : 0x0000);
  }

  /** The low bits of a BAR register: I/O, or memory type and prefetchable. */
  static int typeBits(Bar bar) {
    if (bar.io()) {
      return 0x1;
    }
    return (bar.is64Bit() ? 0x4 : 0) | (bar.prefetchable() ? 0x8 : 0);
  }

  static void put16(byte[] c, int off, int v) {
    c[off] = (byte) v;
    c[off + 1] = (byte) (v >> 8);
  }

  static void put32(byte[] c, int off, int v) {
    put16(c, off, v);
    put16(c, off + 2, v >> 16);
  }
}
