package org.cyclediffusion.libtorch;

import org.bytedeco.javacpp.Pointer;

/**
 * JavaCPP's count of live native objects, for tests that check a pass leaves none behind.
 *
 * <p>{@link Pointer#totalCount()} also counts objects earlier tests dropped without closing.
 * Any collection during the pass being checked (the pass allocates Java wrappers too) finds
 * them unreachable, and JavaCPP's deallocator thread then frees them, so the count can fall in
 * the middle of the pass (a CI run once counted 1376 before a full-size forward pass and 1374
 * after it). Counting from a settled state removes them first; the count after the pass is then
 * taken as is, so an object the pass itself leaks is still counted.
 */
public final class NativeObjects {

    private NativeObjects() {
    }

    /** The live count once collections stop changing it (at most about a second of waiting). */
    public static long settledCount() {
        long last = -1;
        long now = Pointer.totalCount();
        for (int i = 0; i < 20 && now != last; i++) {
            System.gc();
            try {
                Thread.sleep(50); // JavaCPP's deallocator thread frees what the collection enqueued
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            last = now;
            now = Pointer.totalCount();
        }
        return now;
    }
}
