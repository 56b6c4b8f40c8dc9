/**
 * NVIDIA vGPU model: vGPU types ({@link io.gpuvirt.core.vgpu.VgpuType}), a per-card type catalogue
 * ({@link io.gpuvirt.core.vgpu.VgpuTypeCatalogue}) and the strict parser of a VF's
 * {@code nvidia/creatable_vgpu_types} ({@link io.gpuvirt.core.vgpu.CreatableVgpuTypes}).
 */
package io.gpuvirt.core.vgpu;
