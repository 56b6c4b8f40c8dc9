package io.gpuvirt.fabric.mig;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.pci.PciAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntSupplier;

/**
 * {@link MigBackend} over NVML ({@code libnvidia-ml.so.1}) through JNA:
 * {@code nvmlDeviceGetMigMode} / {@code SetMigMode}, the GPU-instance profiles ({@code nvmlDeviceGetGpuInstanceProfileInfo},
 * asked for each {@code NVML_GPU_INSTANCE_PROFILE_*} constant until NVML answers
 * INVALID_ARGUMENT), {@code nvmlDeviceGetGpuInstances} and {@code nvmlGpuInstanceGetInfo} for the
 * layout, {@code nvmlDeviceCreateGpuInstance} then the full-size compute instance
 * ({@code nvmlGpuInstanceGetComputeInstanceProfileInfo}, {@code CreateComputeInstance}), the
 * compute-instance listing ({@code nvmlGpuInstanceGetComputeInstances},
 * {@code nvmlComputeInstanceGetInfo_v2}) and the destroy calls.
 *
 * <pre>{@code
 * NvmlMigOptions options = NvmlMigOptions.defaults();
 * try (NvmlMigBackend mig = NvmlMigBackend.open(options, CommandRunner.system())) {
 *   mig.gpus().forEach(g -> System.out.println(g.describe() + ": " + g.mode()));
 * }
 * }</pre>
 *
 * <p><b>Reset.</b> NVML has no call that resets a GPU (and {@code nvmlDeviceResetGpuLockedClocks}
 * is about clocks), so {@link #reset} runs {@code nvidia-smi -r -i N} through the
 * {@link CommandRunner} it was opened with ({@link NvmlMigOptions#nvidiaSmi()} names the program).
 *
 * <p>Ids and placements are read back from the driver, never predicted. Every NVML failure is a
 * {@link MigBackendException} naming the GPU, the call and the return code
 * ({@code NVML_ERROR_INSUFFICIENT_RESOURCES (23): Insufficient Resources}) with the fix; an answer
 * that cannot be true (a count beyond the buffer, a profile id the table does not have, a
 * placement the profile does not allow) is refused the same way. A create that fails after the GPU
 * instance exists destroys it again, so a failed operation changes nothing. Calls are serialised;
 * {@link #close} shuts NVML down ({@code nvmlShutdown}).
 */
public final class NvmlMigBackend implements MigBackend, AutoCloseable {
  /** More GPUs than this from {@code nvmlDeviceGetCount_v2} is a broken answer. */
  static final int MAX_GPUS = 64;
  /** Profile constants asked for before giving up on an NVML that never says INVALID_ARGUMENT. */
  static final int MAX_PROFILE_CONSTANTS = 64;
  /** Handles one listing call may return; the real maximum is 8 (one per memory slice). */
  static final int MAX_INSTANCES = 64;
  /** {@code NVML_COMPUTE_INSTANCE_PROFILE_COUNT} of the reference. */
  static final int COMPUTE_PROFILE_CONSTANTS = 9;
  private static final int ENGINE_PROFILE_SHARED = 0;

  private final NvmlMigLibrary nvml;
  private final NvmlMigOptions options;
  private final CommandRunner runner;
  private final ReentrantLock lock = new ReentrantLock();
  private boolean open = true;

  NvmlMigBackend(NvmlMigLibrary nvml, NvmlMigOptions options, CommandRunner runner) {
    this.nvml = nvml;
    this.options = options;
    this.runner = runner;
  }

  /**
   * Loads {@link NvmlMigOptions#library()} and initialises NVML ({@code nvmlInit_v2}).
   *
   * @param runner runs {@code nvidia-smi -r} for {@link #reset}
   * @throws MigBackendException naming the library when it cannot be loaded or initialised
   */
  public static NvmlMigBackend open(NvmlMigOptions options, CommandRunner runner) {
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(runner, "runner");
    NvmlMigLibrary nvml;
    try {
      nvml = Native.load(options.library(), NvmlMigLibrary.class);
    } catch (UnsatisfiedLinkError e) {
      throw new MigBackendException("could not load NVML from " + options.library() + ": "
          + e.getMessage() + "; install the NVIDIA driver (it ships " + NvmlMigOptions
          .DEFAULT_LIBRARY + ") or pass the library's path (NvmlMigOptions.withLibrary)", e);
    }
    return over(nvml, options, runner);
  }

  /** The backend over an already loaded binding: initialises it. */
  static NvmlMigBackend over(NvmlMigLibrary nvml, NvmlMigOptions options, CommandRunner runner) {
    NvmlMigBackend backend = new NvmlMigBackend(nvml, options, runner);
    backend.check("NVML at " + options.library(), "nvmlInit_v2", backend.call("nvmlInit_v2",
        nvml::nvmlInit_v2));
    return backend;
  }

  // ---- the port ------------------------------------------------------------------------------

  /** The MIG-capable GPUs (those whose {@code nvmlDeviceGetMigMode} is supported), by index. */
  @Override
  public List<MigGpu> gpus() {
    return locked(() -> {
      IntByReference count = new IntByReference();
      check("NVML", "nvmlDeviceGetCount_v2", call("nvmlDeviceGetCount_v2",
          () -> nvml.nvmlDeviceGetCount_v2(count)));
      if (count.getValue() < 0 || count.getValue() > MAX_GPUS) {
        throw new MigBackendException("NVML at " + options.library() + ": nvmlDeviceGetCount_v2 "
            + "reported " + Integer.toUnsignedString(count.getValue()) + " GPUs, beyond the "
            + MAX_GPUS + " a host can hold; the library is not a working NVML");
      }
      List<MigGpu> gpus = new ArrayList<>();
      for (int i = 0; i < count.getValue(); i++) {
        Device d = device(i);
        IntByReference current = new IntByReference();
        IntByReference pending = new IntByReference();
        int rc = call("nvmlDeviceGetMigMode",
            () -> nvml.nvmlDeviceGetMigMode(d.handle(), current, pending));
        if (rc == NvmlReturn.NOT_SUPPORTED) {
          continue; // a GPU without MIG
        }
        check(d.describe(), "nvmlDeviceGetMigMode", rc);
        gpus.add(new MigGpu(i, d.address(), d.pciDeviceId(), name(d),
            new MigMode(state(d, current.getValue()), state(d, pending.getValue()))));
      }
      return List.copyOf(gpus);
    });
  }

  @Override
  public MigMode setMode(int gpu, boolean enabled) {
    return locked(() -> {
      Device d = device(gpu);
      IntByReference activation = new IntByReference();
      check(d.describe(), "nvmlDeviceSetMigMode(" + (enabled ? "ENABLE" : "DISABLE") + ")",
          call("nvmlDeviceSetMigMode",
              () -> nvml.nvmlDeviceSetMigMode(d.handle(), enabled ? 1 : 0, activation)));
      // activationStatus says why a change is pending (RESET_REQUIRED, IN_USE); the mode read
      // back below shows it either way.
      return mode(d);
    });
  }

  /**
   * Resets the GPU with {@code nvidia-smi -r -i N} (NVML has no reset call): a pending mode change
   * takes effect and every instance is gone.
   */
  @Override
  public void reset(int gpu) {
    List<String> argv = List.of(options.nvidiaSmi(), "-r", "-i", String.valueOf(gpu));
    CommandResult r = runner.run(Command.of(argv).withTimeout(NvidiaSmiMigBackend.TIMEOUT));
    if (r.timedOut() || r.exitCode() != 0) {
      String answer = (r.stderr().strip() + " " + r.stdout().strip()).strip().replace("\n", " / ");
      throw new MigBackendException("resetting GPU " + gpu + " failed (NVML has no reset call; "
          + "it runs " + String.join(" ", argv) + "): " + (r.timedOut() ? "killed after "
              + r.elapsed().toSeconds() + " s" : "exit " + r.exitCode() + ": " + answer)
          + ". Stop the processes using the GPU and retry; where a reset is not supported "
          + "(a GPU passed through to a VM), reboot");
    }
  }

  @Override
  public MigLayout layout(int gpu, MigProfileTable table) {
    Objects.requireNonNull(table, "table");
    return locked(() -> {
      Device d = device(gpu);
      requireMig(d, "listing the GPU instances");
      List<GpuInstance> instances = new ArrayList<>();
      for (Gi gi : gpuInstances(d)) {
        Optional<GpuInstanceProfile> profile = table.profiles().stream()
            .filter(p -> p.id() == gi.profileId()).findFirst();
        if (profile.isEmpty()) {
          throw new MigBackendException(d.describe() + ": NVML reports GPU instance " + gi.id()
              + " of profile id " + gi.profileId() + ", which the " + table.model()
              + " table does not have (" + table.profileNames() + "); pass the table of this "
              + "GPU's model");
        }
        instances.add(gpuInstance(d, gi, profile.get()));
      }
      try {
        return new MigLayout(table, instances);
      } catch (GpuvirtException e) {
        throw new MigBackendException(d.describe() + ": the GPU instances NVML reports are not "
            + "a valid " + table.model() + " layout: " + e.getMessage(), e);
      }
    });
  }

  @Override
  public List<ComputeInstance> computeInstances(int gpu) {
    return locked(() -> {
      Device d = device(gpu);
      requireMig(d, "listing the compute instances");
      Optional<MigProfileTable> table = options.tables().stream()
          .filter(t -> t.appliesTo(d.pciDeviceId())).findFirst();
      List<ComputeInstance> out = new ArrayList<>();
      for (Gi gi : gpuInstances(d)) {
        for (Ci ci : computeInstances(d, gi)) {
          String giName = table.flatMap(t -> t.profiles().stream()
                  .filter(p -> p.id() == gi.profileId()).findFirst())
              .map(GpuInstanceProfile::name)
              .orElseGet(() -> gi.slices() + "g." + (gi.memoryMiB() + 1023) / 1024 + "gb");
          String name = ci.slices() == gi.slices() ? giName : ci.slices() + "c." + giName;
          try {
            out.add(new ComputeInstance(ci.id(), gi.id(), name, ci.profileId()));
          } catch (GpuvirtException e) {
            throw new MigBackendException(d.describe() + ": NVML reports compute instance "
                + ci.id() + " of GPU instance " + gi.id() + " that cannot be: "
                + e.getMessage(), e);
          }
        }
      }
      out.sort(Comparator.comparingInt(ComputeInstance::gpuInstanceId)
          .thenComparingInt(ComputeInstance::id));
      return List.copyOf(out);
    });
  }

  @Override
  public GpuInstance createGpuInstance(int gpu, GpuInstanceProfile profile) {
    Objects.requireNonNull(profile, "profile");
    return locked(() -> {
      Device d = device(gpu);
      String what = "nvmlDeviceCreateGpuInstance(profile " + profile.id() + ", " + profile.name()
          + ")";
      PointerByReference out = new PointerByReference();
      check(d.describe(), what, call("nvmlDeviceCreateGpuInstance",
          () -> nvml.nvmlDeviceCreateGpuInstance(d.handle(), profile.id(), out)));
      Pointer handle = out.getValue();
      try {
        Gi gi = gpuInstanceInfo(d, handle, "reading back the GPU instance " + what + " made");
        if (gi.profileId() != profile.id()) {
          throw new MigBackendException(d.describe() + ": " + what + " made GPU instance "
              + gi.id() + " of profile id " + gi.profileId() + ", not " + profile.id()
              + "; the library is not a working NVML");
        }
        GpuInstance created = gpuInstance(d, gi, profile);
        createDefaultComputeInstance(d, handle, created);
        return created;
      } catch (GpuvirtException e) {
        // leave the GPU as it was: the instance goes again
        int rc = call("nvmlGpuInstanceDestroy", () -> nvml.nvmlGpuInstanceDestroy(handle));
        if (rc != NvmlReturn.SUCCESS) {
          e.addSuppressed(new MigBackendException(d.describe() + ": destroying the half-made "
              + "GPU instance again failed with " + NvmlReturn.describe(rc)));
        }
        throw e;
      }
    });
  }

  @Override
  public void destroyComputeInstance(int gpu, int gpuInstanceId, int computeInstanceId) {
    locked(() -> {
      Device d = device(gpu);
      Pointer gi = gpuInstanceById(d, gpuInstanceId);
      PointerByReference ci = new PointerByReference();
      String where = d.describe() + " GPU instance " + gpuInstanceId;
      check(where, "nvmlGpuInstanceGetComputeInstanceById(" + computeInstanceId + ")",
          call("nvmlGpuInstanceGetComputeInstanceById",
              () -> nvml.nvmlGpuInstanceGetComputeInstanceById(gi, computeInstanceId, ci)));
      check(where, "nvmlComputeInstanceDestroy(" + computeInstanceId + ")",
          call("nvmlComputeInstanceDestroy", () -> nvml.nvmlComputeInstanceDestroy(
              ci.getValue())));
      return null;
    });
  }

  @Override
  public void destroyGpuInstance(int gpu, int gpuInstanceId) {
    locked(() -> {
      Device d = device(gpu);
      Pointer gi = gpuInstanceById(d, gpuInstanceId);
      check(d.describe(), "nvmlGpuInstanceDestroy(" + gpuInstanceId + ")",
          call("nvmlGpuInstanceDestroy", () -> nvml.nvmlGpuInstanceDestroy(gi)));
      return null;
    });
  }

  /** Shuts NVML down ({@code nvmlShutdown}); later calls are refused. Idempotent. */
  @Override
  public void close() {
    lock.lock();
    try {
      if (open) {
        open = false;
        call("nvmlShutdown", nvml::nvmlShutdown);
      }
    } finally {
      lock.unlock();
    }
  }

  // ---- devices -------------------------------------------------------------------------------

  /** A device handle with what messages need. */
  private record Device(int index, Pointer handle, PciAddress address, int pciDeviceId) {
    String describe() {
      return "GPU " + index + " (" + address + ")";
    }
  }

  private Device device(int index) {
    if (index < 0 || index >= MAX_GPUS) {
      throw new MigBackendException("GPU index " + index + " is out of range 0.." + (MAX_GPUS - 1));
    }
    PointerByReference handle = new PointerByReference();
    check("GPU " + index, "nvmlDeviceGetHandleByIndex_v2", call("nvmlDeviceGetHandleByIndex_v2",
        () -> nvml.nvmlDeviceGetHandleByIndex_v2(index, handle)));
    NvmlMigLibrary.PciInfo pci = new NvmlMigLibrary.PciInfo();
    check("GPU " + index, "nvmlDeviceGetPciInfo_v3", call("nvmlDeviceGetPciInfo_v3",
        () -> nvml.nvmlDeviceGetPciInfo_v3(handle.getValue(), pci)));
    PciAddress address;
    try {
      address = new PciAddress(pci.domain, pci.bus, pci.device, function(pci));
    } catch (GpuvirtException e) {
      throw new MigBackendException("GPU " + index + ": nvmlDeviceGetPciInfo_v3 gave no valid "
          + "PCI address (" + text(pci.busId) + "): " + e.getMessage(), e);
    }
    return new Device(index, handle.getValue(), address, pci.pciDeviceId >>> 16);
  }

  /** The function number: not a field of nvmlPciInfo_t, only the last digit of its bus id. */
  private static int function(NvmlMigLibrary.PciInfo pci) {
    String id = text(pci.busId);
    int dot = id.lastIndexOf('.');
    return dot >= 0 && dot == id.length() - 2 ? Character.digit(id.charAt(dot + 1), 8) : 0;
  }

  private String name(Device d) {
    byte[] buf = new byte[96];
    check(d.describe(), "nvmlDeviceGetName", call("nvmlDeviceGetName",
        () -> nvml.nvmlDeviceGetName(d.handle(), buf, buf.length)));
    String name = text(buf).strip();
    return name.isEmpty() ? "NVIDIA GPU" : name;
  }

  private static String text(byte[] bytes) {
    int n = 0;
    while (n < bytes.length && bytes[n] != 0) {
      n++;
    }
    return new String(bytes, 0, n, StandardCharsets.US_ASCII);
  }

  private MigMode mode(Device d) {
    IntByReference current = new IntByReference();
    IntByReference pending = new IntByReference();
    check(d.describe(), "nvmlDeviceGetMigMode", call("nvmlDeviceGetMigMode",
        () -> nvml.nvmlDeviceGetMigMode(d.handle(), current, pending)));
    return new MigMode(state(d, current.getValue()), state(d, pending.getValue()));
  }

  private static MigMode.State state(Device d, int value) {
    return switch (value) {
      case 0 -> MigMode.State.DISABLED;
      case 1 -> MigMode.State.ENABLED;
      default -> throw new MigBackendException(d.describe() + ": nvmlDeviceGetMigMode reported "
          + "mode " + value + "; NVML defines only 0 (disabled) and 1 (enabled)");
    };
  }

  private void requireMig(Device d, String what) {
    if (!mode(d).enabled()) {
      throw new MigBackendException(d.describe() + ": " + what + " needs MIG on, and it is off; "
          + "turn it on (setMode, then reset)");
    }
  }

  // ---- GPU instances -------------------------------------------------------------------------

  /** A GPU-instance profile as NVML reports it. */
  private record Profile(int constant, int id, int slices, int instances, long memoryMiB) {}

  /** A GPU instance as NVML reports it. */
  private record Gi(Pointer handle, int id, int profileId, MigPlacement placement, int slices,
      long memoryMiB) {}

  /** A compute instance as NVML reports it. */
  private record Ci(int id, int profileId, int slices) {}

  /** The GPU's profiles: each constant asked for until NVML answers INVALID_ARGUMENT. */
  private List<Profile> profiles(Device d) {
    List<Profile> out = new ArrayList<>();
    for (int constant = 0; constant < MAX_PROFILE_CONSTANTS; constant++) {
      NvmlMigLibrary.GpuInstanceProfileInfo info = new NvmlMigLibrary.GpuInstanceProfileInfo();
      int c = constant;
      int rc = call("nvmlDeviceGetGpuInstanceProfileInfo",
          () -> nvml.nvmlDeviceGetGpuInstanceProfileInfo(d.handle(), c, info));
      if (rc == NvmlReturn.INVALID_ARGUMENT) {
        return List.copyOf(out);
      }
      if (rc == NvmlReturn.NOT_SUPPORTED) {
        continue;
      }
      check(d.describe(), "nvmlDeviceGetGpuInstanceProfileInfo(" + constant + ")", rc);
      if (info.instanceCount < 0 || info.instanceCount > MAX_INSTANCES || info.sliceCount < 1
          || info.sliceCount > 8) {
        throw new MigBackendException(d.describe() + ": nvmlDeviceGetGpuInstanceProfileInfo("
            + constant + ") reported profile id " + info.id + " with " + info.sliceCount
            + " slices and " + info.instanceCount + " instances, which no GPU has; the library "
            + "is not a working NVML");
      }
      out.add(new Profile(constant, info.id, info.sliceCount, info.instanceCount,
          info.memorySizeMB));
    }
    throw new MigBackendException(d.describe() + ": nvmlDeviceGetGpuInstanceProfileInfo answered "
        + "every profile constant up to " + MAX_PROFILE_CONSTANTS + " without INVALID_ARGUMENT; "
        + "the library is not a working NVML");
  }

  /** Every GPU instance on the GPU, by profile. */
  private List<Gi> gpuInstances(Device d) {
    List<Gi> out = new ArrayList<>();
    for (Profile p : profiles(d)) {
      Memory handles = new Memory((long) MAX_INSTANCES * Native.POINTER_SIZE);
      handles.clear();
      IntByReference count = new IntByReference();
      String what = "nvmlDeviceGetGpuInstances(profile " + p.id() + ")";
      check(d.describe(), what, call("nvmlDeviceGetGpuInstances",
          () -> nvml.nvmlDeviceGetGpuInstances(d.handle(), p.id(), handles, count)));
      int n = count.getValue();
      if (n < 0 || n > p.instances() || n > MAX_INSTANCES) {
        throw new MigBackendException(d.describe() + ": " + what + " reported "
            + Integer.toUnsignedString(n) + " GPU instances; the profile holds at most "
            + p.instances() + ". The library is not a working NVML; nothing was changed");
      }
      for (int i = 0; i < n; i++) {
        Gi gi = gpuInstanceInfo(d, handles.getPointer((long) i * Native.POINTER_SIZE),
            "nvmlGpuInstanceGetInfo");
        if (gi.profileId() != p.id()) {
          throw new MigBackendException(d.describe() + ": GPU instance " + gi.id() + " listed "
              + "under profile id " + p.id() + " reports profile id " + gi.profileId()
              + "; the library is not a working NVML");
        }
        out.add(new Gi(gi.handle(), gi.id(), gi.profileId(), gi.placement(), p.slices(),
            p.memoryMiB()));
      }
    }
    out.sort(Comparator.comparingInt(Gi::id));
    return out;
  }

  private Gi gpuInstanceInfo(Device d, Pointer handle, String what) {
    if (handle == null) {
      throw new MigBackendException(d.describe() + ": " + what + ": NVML returned a null GPU "
          + "instance handle");
    }
    NvmlMigLibrary.GpuInstanceInfo info = new NvmlMigLibrary.GpuInstanceInfo();
    check(d.describe(), "nvmlGpuInstanceGetInfo", call("nvmlGpuInstanceGetInfo",
        () -> nvml.nvmlGpuInstanceGetInfo(handle, info)));
    try {
      return new Gi(handle, info.id, info.profileId,
          new MigPlacement(info.placementStart, info.placementSize), 0, 0);
    } catch (GpuvirtException e) {
      throw new MigBackendException(d.describe() + ": nvmlGpuInstanceGetInfo reported GPU "
          + "instance " + info.id + " at " + info.placementStart + ":" + info.placementSize
          + ", which is no placement: " + e.getMessage(), e);
    }
  }

  private static GpuInstance gpuInstance(Device d, Gi gi, GpuInstanceProfile profile) {
    try {
      return new GpuInstance(gi.id(), profile, gi.placement());
    } catch (GpuvirtException e) {
      throw new MigBackendException(d.describe() + ": NVML reports GPU instance " + gi.id()
          + " of " + profile.name() + " at " + gi.placement() + ", which cannot be: "
          + e.getMessage(), e);
    }
  }

  private Pointer gpuInstanceById(Device d, int id) {
    PointerByReference gi = new PointerByReference();
    check(d.describe(), "nvmlDeviceGetGpuInstanceById(" + id + ")",
        call("nvmlDeviceGetGpuInstanceById",
            () -> nvml.nvmlDeviceGetGpuInstanceById(d.handle(), id, gi)));
    return gi.getValue();
  }

  // ---- compute instances ---------------------------------------------------------------------

  /** {@code NVML_COMPUTE_INSTANCE_PROFILE_*} of the full-size compute instance of N slices. */
  static int fullComputeProfile(int slices) {
    return switch (slices) {
      case 1 -> 0;
      case 2 -> 1;
      case 3 -> 2;
      case 4 -> 3;
      case 7 -> 4;
      case 8 -> 5;
      case 6 -> 6;
      default -> throw new MigBackendException("no NVML compute-instance profile spans " + slices
          + " slices");
    };
  }

  private void createDefaultComputeInstance(Device d, Pointer gi, GpuInstance created) {
    int constant = fullComputeProfile(created.profile().computeSlices());
    String where = d.describe() + " GPU instance " + created.id();
    NvmlMigLibrary.ComputeInstanceProfileInfo info =
        new NvmlMigLibrary.ComputeInstanceProfileInfo();
    check(where, "nvmlGpuInstanceGetComputeInstanceProfileInfo(" + constant + ")",
        call("nvmlGpuInstanceGetComputeInstanceProfileInfo",
            () -> nvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, constant,
                ENGINE_PROFILE_SHARED, info)));
    if (info.sliceCount != created.profile().computeSlices()) {
      throw new MigBackendException(where + ": the full-size compute-instance profile "
          + constant + " has " + info.sliceCount + " slices, not the GPU instance's "
          + created.profile().computeSlices());
    }
    PointerByReference ci = new PointerByReference();
    check(where, "nvmlGpuInstanceCreateComputeInstance(profile " + info.id + ")",
        call("nvmlGpuInstanceCreateComputeInstance",
            () -> nvml.nvmlGpuInstanceCreateComputeInstance(gi, info.id, ci)));
  }

  private List<Ci> computeInstances(Device d, Gi gi) {
    String where = d.describe() + " GPU instance " + gi.id();
    List<Ci> out = new ArrayList<>();
    for (int constant = 0; constant < COMPUTE_PROFILE_CONSTANTS; constant++) {
      NvmlMigLibrary.ComputeInstanceProfileInfo info =
          new NvmlMigLibrary.ComputeInstanceProfileInfo();
      int c = constant;
      int rc = call("nvmlGpuInstanceGetComputeInstanceProfileInfo",
          () -> nvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi.handle(), c,
              ENGINE_PROFILE_SHARED, info));
      if (rc == NvmlReturn.NOT_SUPPORTED || rc == NvmlReturn.INVALID_ARGUMENT) {
        continue;
      }
      check(where, "nvmlGpuInstanceGetComputeInstanceProfileInfo(" + constant + ")", rc);
      Memory handles = new Memory((long) MAX_INSTANCES * Native.POINTER_SIZE);
      handles.clear();
      IntByReference count = new IntByReference();
      String what = "nvmlGpuInstanceGetComputeInstances(profile " + info.id + ")";
      check(where, what, call("nvmlGpuInstanceGetComputeInstances",
          () -> nvml.nvmlGpuInstanceGetComputeInstances(gi.handle(), info.id, handles, count)));
      int n = count.getValue();
      if (n < 0 || n > MAX_INSTANCES || n > Math.max(1, info.instanceCount)) {
        throw new MigBackendException(where + ": " + what + " reported "
            + Integer.toUnsignedString(n) + " compute instances; the profile holds at most "
            + info.instanceCount + ". The library is not a working NVML; nothing was changed");
      }
      for (int i = 0; i < n; i++) {
        Pointer handle = handles.getPointer((long) i * Native.POINTER_SIZE);
        NvmlMigLibrary.ComputeInstanceInfo ci = new NvmlMigLibrary.ComputeInstanceInfo();
        check(where, "nvmlComputeInstanceGetInfo_v2", call("nvmlComputeInstanceGetInfo_v2",
            () -> nvml.nvmlComputeInstanceGetInfo_v2(handle, ci)));
        out.add(new Ci(ci.id, ci.profileId, info.sliceCount));
      }
    }
    return out;
  }

  // ---- calls ---------------------------------------------------------------------------------

  /** Work done under the backend's lock, refused once closed. */
  private interface Work<T> {
    T run();
  }

  private <T> T locked(Work<T> work) {
    lock.lock();
    try {
      if (!open) {
        throw new MigBackendException("this NVML backend (" + options.library() + ") is closed; "
            + "open a new one");
      }
      return work.run();
    } finally {
      lock.unlock();
    }
  }

  /** One NVML call; a missing symbol (an older driver) is named. */
  private int call(String function, IntSupplier invocation) {
    try {
      return invocation.getAsInt();
    } catch (UnsatisfiedLinkError e) {
      throw new MigBackendException(options.library() + " has no " + function + ": "
          + e.getMessage() + "; MIG through NVML needs a driver of the R450 branch or later "
          + "(a data-center driver with MIG)", e);
    }
  }

  private void check(String where, String call, int rc) {
    if (rc != NvmlReturn.SUCCESS) {
      throw new MigBackendException(where + ": " + call + " failed with "
          + NvmlReturn.describe(rc) + NvmlReturn.fix(rc));
    }
  }
}
