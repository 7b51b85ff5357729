package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cyclediffusion.core.CycleDiffusionException;
import org.junit.jupiter.api.Test;

/** Every resource closed in the given order whatever the others throw; the first failure reported, the rest suppressed on it. */
class CloseablesTest {
    private final List<String> closed = new ArrayList<>();

    /** A resource that records its closing and then throws {@code failure} (when not null). */
    private AutoCloseable resource(String name, Exception failure) {
        return new AutoCloseable() {
            @Override
            public void close() throws Exception {
                closed.add(name);
                if (failure != null) {
                    throw failure;
                }
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }

    @Test
    void closesInIterationOrderAndSkipsNulls() {
        Closeables.closeAll(Arrays.asList(resource("a", null), null, resource("b", null), resource("c", null)));
        assertEquals(List.of("a", "b", "c"), closed);
    }

    @Test
    void firstFailureIsThrownAfterAllAreClosedWithTheLaterOnesSuppressed() {
        IllegalStateException first = new IllegalStateException("first");
        IllegalArgumentException second = new IllegalArgumentException("second");
        IOException third = new IOException("third");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> Closeables.closeAll(resource("a", null),
                resource("b", first), null, resource("c", second), resource("d", null), resource("e", third)));
        assertSame(first, thrown);
        assertEquals(List.of("a", "b", "c", "d", "e"), closed);
        assertArrayEquals(new Throwable[] {second, third}, thrown.getSuppressed());
    }

    @Test
    void aCheckedFirstFailureIsWrappedWithTheResourceNamedAndCarriesTheRest() {
        IOException first = new IOException("disk gone");
        IllegalStateException second = new IllegalStateException("second");
        CycleDiffusionException thrown = assertThrows(CycleDiffusionException.class,
                () -> Closeables.closeAll(resource("shard 1", first), resource("shard 2", second)));
        assertSame(first, thrown.getCause());
        assertEquals("closing shard 1 failed: disk gone", thrown.getMessage());
        assertArrayEquals(new Throwable[] {second}, thrown.getSuppressed());
        assertEquals(List.of("shard 1", "shard 2"), closed);
    }

    @Test
    void anErrorIsThrownAsItIsOnceTheOthersAreClosed() {
        AssertionError first = new AssertionError("first");
        AutoCloseable error = () -> {
            closed.add("error");
            throw first;
        };
        AssertionError thrown = assertThrows(AssertionError.class, () -> Closeables.closeAll(error, resource("b", null)));
        assertSame(first, thrown);
        assertEquals(List.of("error", "b"), closed);
    }

    @Test
    void anInterruptReportedByCloseIsKeptOnTheThread() {
        InterruptedException interrupted = new InterruptedException("interrupted while flushing");
        try {
            CycleDiffusionException thrown = assertThrows(CycleDiffusionException.class, () -> Closeables.closeAll(resource("a", interrupted)));
            assertSame(interrupted, thrown.getCause());
            assertTrue(Thread.currentThread().isInterrupted());
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void nothingThrownWhenAllClose() {
        Closeables.closeAll(List.of());
        Closeables.closeAll(resource("a", null), null);
        assertEquals(List.of("a"), closed);
    }

    @Test
    void closeAfterAddsEveryFailureToThePrimaryAndReturnsIt() {
        RuntimeException primary = new RuntimeException("load failed");
        IOException a = new IOException("a");
        IllegalStateException c = new IllegalStateException("c");
        RuntimeException returned = Closeables.closeAfter(primary, resource("a", a), null, resource("b", null), resource("c", c));
        assertSame(primary, returned);
        assertEquals(List.of("a", "b", "c"), closed);
        assertArrayEquals(new Throwable[] {a, c}, primary.getSuppressed());
    }

    @Test
    void closeAfterDoesNotSuppressThePrimaryIntoItself() {
        // A resource whose close rethrows the failure it was closed after (one shared exception).
        IllegalStateException primary = new IllegalStateException("broken");
        Closeables.closeAfter(primary, List.of(resource("a", primary), resource("b", null)));
        assertEquals(List.of("a", "b"), closed);
        assertEquals(0, primary.getSuppressed().length);
    }

    @Test
    void closeAllDoesNotSuppressTheFirstFailureIntoItself() {
        IllegalStateException shared = new IllegalStateException("shared");
        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> Closeables.closeAll(resource("a", shared), resource("b", shared)));
        assertSame(shared, thrown);
        assertEquals(0, thrown.getSuppressed().length);
        assertEquals(List.of("a", "b"), closed);
    }
}
