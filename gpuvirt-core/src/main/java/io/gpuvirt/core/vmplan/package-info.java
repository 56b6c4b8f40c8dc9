/**
 * The VM-planner port: {@link io.gpuvirt.core.vmplan.VmPlanner} turns a lease into a
 * {@link io.gpuvirt.core.vmplan.VmPlan}; gpuvirt-qemu implements it.
 */
package io.gpuvirt.core.vmplan;
