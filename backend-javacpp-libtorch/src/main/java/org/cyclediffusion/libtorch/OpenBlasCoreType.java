package org.cyclediffusion.libtorch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * Whether {@code OPENBLAS_CORETYPE} holds LibTorch's matrix products back on this CPU.
 *
 * <p>LibTorch's fp32 GEMMs (every linear layer, the products inside {@code scaled_dot_product_attention})
 * run on the bundled OpenBLAS, a {@code DYNAMIC_ARCH} build that picks its kernels from the CPU when it
 * loads. Left alone it picks the AVX-512 kernels ({@code SkylakeX}) on an AVX-512 CPU. The variable
 * forces a core; {@code Haswell} (AVX2) on an AVX-512 CPU made a full SD 1.5 UNet step 1.5× slower
 * ({@code UNetStepBenchmark}, runs interleaved; the figures are in the README).
 *
 * <p>We warn and never override: a user sets the variable on purpose (the usual reason is a hypervisor
 * that advertises AVX-512 but faults on it, where overriding would crash the process), and a process
 * cannot change its own environment before OpenBLAS reads it anyway.
 */
final class OpenBlasCoreType {
    /** OpenBLAS's x86-64 core names (its {@code driver/others/dynamic.c}) whose kernels stop short of AVX-512. */
    private static final Set<String> BELOW_AVX512 = Set.of("katmai", "coppermine", "northwood", "prescott", "banias", "atom",
            "core2", "penryn", "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "sandybridge",
            "bobcat", "bulldozer", "piledriver", "steamroller", "excavator", "haswell", "zen");

    private OpenBlasCoreType() {
    }

    /** The warning for this process ({@code OPENBLAS_CORETYPE}, {@code /proc/cpuinfo}), or null when there is nothing to say. */
    static String warning() {
        String forced = System.getenv("OPENBLAS_CORETYPE");
        if (forced == null) {
            return null;
        }
        String cpuinfo;
        try {
            cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
        } catch (IOException | RuntimeException e) {
            return null; // not Linux, or not readable: no way to tell what the CPU could do
        }
        return warning(forced, cpuinfo);
    }

    /**
     * @param forced  the value of {@code OPENBLAS_CORETYPE}
     * @param cpuinfo the text of {@code /proc/cpuinfo}
     */
    static String warning(String forced, String cpuinfo) {
        boolean avx512 = cpuinfo.lines().anyMatch(l -> l.startsWith("flags") && (" " + l + " ").contains(" avx512f "));
        if (!avx512 || !BELOW_AVX512.contains(forced.trim().toLowerCase(Locale.ROOT))) {
            return null;
        }
        return "OPENBLAS_CORETYPE=" + forced.trim() + " pins OpenBLAS to kernels without AVX-512 on this AVX-512 CPU: LibTorch's"
                + " matrix products (linear layers, attention) lose their AVX-512 kernels (an SD 1.5 UNet step measured 1.5x slower);"
                + " unset it to let OpenBLAS pick its kernels, unless it is set to work around a CPU or hypervisor fault";
    }
}
