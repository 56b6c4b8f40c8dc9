/**
 * MIG (Multi-Instance GPU): the model and the rules, with no NVIDIA software in sight.
 *
 * <p>A MIG-capable GPU has a {@link io.gpuvirt.core.mig.MigMode} (current and pending, since a mode
 * change takes effect only after a GPU reset or reboot) and, per GPU model, a
 * {@link io.gpuvirt.core.mig.MigProfileTable} of {@link io.gpuvirt.core.mig.GpuInstanceProfile}s:
 * {@code 3g.90gb} takes 3 of 7 compute slices and 4 of 8 memory slices and may start only at memory
 * slice 0 or 4 ({@code {0,4}:4}). The built-in tables (B200, H100 80 GB, H100 NVL 94 GB, H200,
 * GB200) come from NVIDIA's MIG user guide, {@code nvidia-smi mig -lgip/-lgipp} dumps and
 * mig-parted's default config; what is inferred rather than read off a real GPU is marked
 * {@link io.gpuvirt.core.mig.GpuInstanceProfile#inferred()}, and an integrator who has the real
 * dump supplies its own table.
 *
 * <p>A {@link io.gpuvirt.core.mig.MigLayout} is the GPU instances that exist on one GPU;
 * {@link io.gpuvirt.core.mig.MigPlanner} turns a wanted multiset of profiles into placements and a
 * creation order that the driver accepts, or a {@link io.gpuvirt.core.mig.MigPlanException} that
 * says exactly which profile does not fit and what is free.
 *
 * <p>Adapters to NVIDIA's tools ({@code nvidia-smi mig}, NVML, mig-parted's YAML) live in
 * gpuvirt-fabric, as for Fabric Manager.
 */
package io.gpuvirt.core.mig;
