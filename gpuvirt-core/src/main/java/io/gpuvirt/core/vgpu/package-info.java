/**
 * NVIDIA vGPU: the model and the host steps of the vendor-specific path.
 *
 * <ul>
 *   <li>Model: vGPU types ({@link io.gpuvirt.core.vgpu.VgpuType}), a per-card type catalogue
 *       ({@link io.gpuvirt.core.vgpu.VgpuTypeCatalogue}), a physical GPU's vGPU capability
 *       ({@link io.gpuvirt.core.vgpu.VgpuCapability}: vendor-specific VFs or legacy mdev,
 *       {@link io.gpuvirt.core.vgpu.VgpuInterface}) and one vGPU handed to a VM
 *       ({@link io.gpuvirt.core.vgpu.VgpuAssignment}: a VF or an mdev UUID, and its type).
 *   <li>Host steps ({@link io.gpuvirt.core.vgpu.VgpuDevices}, through the Sysfs and CommandRunner
 *       seams): {@code sriov-manage -e}, the strict parser of a VF's
 *       {@code nvidia/creatable_vgpu_types} ({@link io.gpuvirt.core.vgpu.CreatableVgpuTypes}),
 *       activation and deactivation through {@code nvidia/current_vgpu_type}.
 * </ul>
 */
package io.gpuvirt.core.vgpu;
