/**
 * QEMU's machine protocol: {@link io.gpuvirt.qemu.qmp.QmpClient} (Jackson over a Unix domain
 * socket: greeting and capabilities negotiation, commands with timeouts, events,
 * {@code query-pci}, {@code device-list-properties}, {@code device_add} and {@code device_del}
 * that waits for {@code DEVICE_DELETED}), and {@link io.gpuvirt.qemu.qmp.PassthroughTopologyCheck},
 * which confirms from {@code query-pci} that every passed-through device sits behind its root
 * port.
 *
 * <pre>{@code
 * try (QmpClient qmp = QmpClient.connect(Path.of("/run/gpuvirt/vm-42.qmp"), Duration.ofSeconds(10))) {
 *   qmp.deviceAdd(Map.of("driver", "vfio-pci", "host", "0000:41:00.0", "id", "gpu1", "bus", "hp0"));
 *   qmp.deviceDel("gpu1", Duration.ofSeconds(60));
 * }
 * }</pre>
 */
package io.gpuvirt.qemu.qmp;
