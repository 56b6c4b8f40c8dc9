/**
 * What a QEMU binary is and can do: {@link io.gpuvirt.qemu.QemuVersion} (from
 * {@code --version} or QMP), {@link io.gpuvirt.qemu.QemuCapabilities} (machine types,
 * accelerators, device properties) and {@link io.gpuvirt.qemu.QemuProbe}, which reads them from
 * the binary through a {@code CommandRunner}.
 *
 * <pre>{@code
 * QemuCapabilities caps = QemuProbe.probe(CommandRunner.system(), "qemu-system-x86_64");
 * caps.version();                                   // 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)
 * caps.hasProperty("vfio-pci", "x-nv-gpudirect-clique");
 * }</pre>
 */
package io.gpuvirt.qemu;
