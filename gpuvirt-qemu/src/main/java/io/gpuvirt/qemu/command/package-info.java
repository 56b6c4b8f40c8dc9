/**
 * The QEMU command builder: from the devices of one VM to an argv that gives the guest the PCIe
 * hierarchy CUDA needs, with a plan that explains each choice.
 *
 * <p>Inputs: {@link io.gpuvirt.qemu.command.PassthroughDevices} (units of host functions, each
 * behind its own root port, and an optional GPUDirect clique), the probed
 * {@link io.gpuvirt.qemu.QemuCapabilities}, and a {@link io.gpuvirt.qemu.command.LargeBarPolicy}.
 * Output: {@link io.gpuvirt.qemu.command.QemuArgs} with the argv, the
 * {@link io.gpuvirt.qemu.command.Decision plan}, the placement of every device, and the
 * {@link io.gpuvirt.qemu.command.MmioAperture 64-bit aperture}. Option values go through
 * {@link io.gpuvirt.qemu.command.QemuOption}, which escapes them.
 *
 * <p>A four-GPU VM on an HGX B200, started and checked:
 *
 * <pre>{@code
 * Topology host = TopologyScanner.scan(Sysfs.host());
 * PassthroughDevices.Builder vm = PassthroughDevices.builder().gpudirectClique(0);
 * for (String bdf : List.of("0000:17:00.0", "0000:3d:00.0", "0000:60:00.0", "0000:70:00.0")) {
 *   vm.add(PassthroughUnit.gpu(host.device(PciAddress.parse(bdf)).orElseThrow()));
 * }
 * CommandRunner runner = CommandRunner.system();
 * QemuCapabilities caps = QemuProbe.probe(runner, "qemu-system-x86_64");
 * QemuArgs args = QemuCommandBuilder.forQemu(caps)
 *     .memoryMiB(1024 * 1024)
 *     .devices(vm.build())
 *     .extraArguments(List.of("-smp", "64", "-display", "none",
 *         "-qmp", "unix:/run/gpuvirt/vm-42.qmp,server=on,wait=off"))
 *     .build();
 * args.plan().forEach(d -> log.info("{}", d));       // why x-no-mmap, why the aperture, ...
 * // start args.argv() under your supervisor (a systemd unit, say), then:
 * try (QmpClient qmp = QmpClient.connect(Path.of("/run/gpuvirt/vm-42.qmp"), Duration.ofSeconds(30))) {
 *   TopologyReport report = PassthroughTopologyCheck.await(qmp, args, Duration.ofMinutes(5));
 *   if (!report.ok()) {
 *     throw new IllegalStateException(report.toString());
 *   }
 * }
 * }</pre>
 */
package io.gpuvirt.qemu.command;
