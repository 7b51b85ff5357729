package org.cyclediffusion.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.spi.DType;
import org.junit.jupiter.api.Test;

/** {@code --dtype} of the Spark job: a type, {@code auto} (left to each executor), or an error naming the flag. */
class JobOptionsTest {
    private static JobOptions withDType(String dtype) {
        return new JobOptions("models/sd", "m.jsonl", "out", "libtorch", "cpu", dtype, true, false, 0);
    }

    @Test
    void autoIsLeftToTheExecutors() {
        JobOptions auto = withDType("Auto");
        assertTrue(auto.autoDType());
        assertNull(auto.loaderOptions().dtype(), "decided on the executor, not on the driver");
        assertFalse(withDType("bf16").autoDType());
        assertEquals(DType.BFLOAT16, withDType("bf16").loaderOptions().dtype());
        assertFalse(withDType(null).autoDType());
    }

    @Test
    void anUnknownTypeNamesTheFlag() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> withDType("fp64").loaderOptions());
        assertTrue(e.getMessage().startsWith("--dtype: "), e.getMessage());
    }
}
