package org.cyclediffusion.libtorch;

import java.util.function.LongSupplier;

/**
 * A value that garbage collection can still change (live native objects, mappings of a file),
 * read once the collections stop changing it: what earlier tests in the same JVM dropped without
 * closing is freed by a collection and JavaCPP's deallocator thread, or unmapped by the cleaner of
 * a {@code FileChannel.map} buffer, at a moment no test chooses. Reading from this state before a
 * check keeps their leftovers out of it.
 */
final class Settled {

    private Settled() {
    }

    /**
     * Collects and re-reads {@code value} until two reads agree (at most 20 rounds of 50 ms, about
     * a second). An interrupt stops the waiting, keeps the thread's flag and returns the last read.
     */
    static long value(LongSupplier value) {
        long last = -1;
        long now = value.getAsLong();
        for (int i = 0; i < 20 && now != last; i++) {
            System.gc();
            try {
                Thread.sleep(50); // the deallocator thread and the cleaner act on what the collection found
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            last = now;
            now = value.getAsLong();
        }
        return now;
    }
}
