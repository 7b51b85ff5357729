package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The warning for an {@code OPENBLAS_CORETYPE} that keeps OpenBLAS below what the CPU can do. */
class OpenBlasCoreTypeTest {
    private static final String AVX512 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl\n";
    private static final String AVX2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n";

    @Test
    void haswellOnAnAvx512CpuIsNamedWithTheWayOut() {
        String w = OpenBlasCoreType.warning("Haswell", AVX512);
        assertTrue(w != null && w.contains("OPENBLAS_CORETYPE=Haswell") && w.contains("unset it"), String.valueOf(w));
        assertTrue(OpenBlasCoreType.warning(" haswell ", AVX512) != null, "OpenBLAS matches core names case-insensitively");
    }

    @Test
    void nothingToSayWhenTheForcedCoreFitsTheCpu() {
        assertNull(OpenBlasCoreType.warning("Haswell", AVX2), "an AVX2 CPU loses nothing to Haswell kernels");
        assertNull(OpenBlasCoreType.warning("SkylakeX", AVX512));
        assertNull(OpenBlasCoreType.warning("SapphireRapids", AVX512));
        assertNull(OpenBlasCoreType.warning("NoSuchCore", AVX512), "OpenBLAS ignores an unknown name and detects the core itself");
        assertNull(OpenBlasCoreType.warning("Haswell", "flags\t\t: avx512fx\n"), "a flag is matched whole");
    }
}
