package io.gpuvirt.qemu.command;

import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.qemu.QemuFirmware;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The VM-level part of a plan, typed, as {@link QemuCommandBuilder} decided it: what the argv
 * says in {@code -machine}, {@code -accel}, {@code -cpu}, {@code -m}, {@code -smp}, the firmware
 * drives, {@code -fw_cfg} and the boot disk. Renderings other than the argv (libvirt domain XML)
 * read it from here instead of taking the argv apart.
 *
 * @param binary the QEMU binary, argv[0]
 * @param accelerator KVM, or TCG for tests
 * @param smm whether the machine needs {@code smm=on} (a firmware that requires SMM)
 * @param cpu the {@code -cpu} value: model and address-width properties
 * @param memoryMiB guest RAM
 * @param cpus virtual CPUs
 * @param firmware the UEFI firmware, when one was given
 * @param disk the boot disk, when one was given
 * @param fwCfg the {@code -fw_cfg} value that sets OVMF's 64-bit aperture, when it is needed
 * @param extraArguments arguments appended as given
 * @param numaNodes the guest NUMA nodes (NUMA placement), empty for one flat node
 * @param architecture the guest architecture: x86_64 ({@code q35}) or aarch64 ({@code virt})
 * @param machineOption the whole {@code -machine} value ({@code q35},
 *     {@code virt,gic-version=3,highmem=on})
 * @param gpuNodes the CPU-less, memory-less guest NUMA nodes of the GPUs and the
 *     {@code acpi-generic-initiator} that ties each to its device (aarch64 on QEMU 9.2+), empty
 *     otherwise
 */
public record GuestMachine(String binary, Accelerator accelerator, boolean smm, QemuOption cpu,
    long memoryMiB, int cpus, Optional<QemuFirmware> firmware, Optional<Disk> disk,
    Optional<QemuOption> fwCfg, List<String> extraArguments, List<NumaNode> numaNodes,
    CpuArchitecture architecture, String machineOption, List<GpuNode> gpuNodes) {

  public GuestMachine {
    Objects.requireNonNull(binary, "binary");
    Objects.requireNonNull(accelerator, "accelerator");
    Objects.requireNonNull(cpu, "cpu");
    Objects.requireNonNull(firmware, "firmware");
    Objects.requireNonNull(disk, "disk");
    Objects.requireNonNull(fwCfg, "fwCfg");
    extraArguments = List.copyOf(extraArguments);
    numaNodes = List.copyOf(numaNodes);
    Objects.requireNonNull(architecture, "architecture");
    Objects.requireNonNull(machineOption, "machineOption");
    gpuNodes = List.copyOf(gpuNodes);
  }

  /**
   * A guest NUMA node that belongs to one passed-through GPU (NVIDIA's Grace layout: the first
   * for the device's coherent memory, the others for MIG instances), tied to it by an ACPI
   * generic initiator.
   *
   * @param nodeId the guest node id
   * @param device the QEMU id of the GPU's vfio-pci device ({@code hostdev0})
   * @param initiator the {@code acpi-generic-initiator} object's id
   */
  public record GpuNode(int nodeId, String device, String initiator) {
    public GpuNode {
      Objects.requireNonNull(device, "device");
      Objects.requireNonNull(initiator, "initiator");
    }
  }

  /**
   * A guest NUMA node: its CPUs and memory, and the host node whose devices it holds.
   *
   * @param id the guest node id
   * @param hostNode the host NUMA node it mirrors
   * @param firstCpu its first virtual CPU
   * @param cpuCount how many virtual CPUs it has
   * @param memoryMiB its memory
   */
  public record NumaNode(int id, int hostNode, int firstCpu, int cpuCount, long memoryMiB) {
    /** Its CPUs as QEMU and libvirt write a range: {@code 0-3}, or {@code 4}. */
    public String cpuRange() {
      return cpuCount == 1 ? Integer.toString(firstCpu)
          : firstCpu + "-" + (firstCpu + cpuCount - 1);
    }
  }

  /**
   * A boot disk image, attached as a virtio block device.
   *
   * @param path the image file
   * @param format its format ({@code raw}, {@code qcow2}, ...)
   */
  public record Disk(String path, String format) {
    public Disk {
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(format, "format");
    }
  }
}
