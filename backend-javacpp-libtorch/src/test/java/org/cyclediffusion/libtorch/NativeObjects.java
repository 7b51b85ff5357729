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
 * taken as is, so an object the pass itself leaks is still counted. Settling did not always free all
 * of them (the same 1376 -> 1374 recurred on an AMD EPYC CI run): the full-size UNet check allows the
 * count to fall and fails when it rises.
 */
public final class NativeObjects {

    private NativeObjects() {
    }

    /** The live count once collections stop changing it ({@link Settled#value}). */
    public static long settledCount() {
        return Settled.value(Pointer::totalCount);
    }
}
