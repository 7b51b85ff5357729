package org.cyclediffusion.core.tensor;

import java.util.Arrays;
import java.util.List;

/**
 * A small dense row-major float32 tensor on the host: latents, embeddings, pixels.
 *
 * <p>Deliberately minimal: the heavy lifting happens in a backend; everything the sampler does is
 * element-wise on arrays of a few thousand floats. The backing array is exposed ({@link #data()})
 * because copying it for every scheduler step would be the only cost worth measuring.
 */
public final class FloatTensor {
    private final int[] shape;
    private final float[] data;

    public FloatTensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                    + " elements, the data has " + data.length);
        }
        this.shape = shape.clone();
        this.data = data;
    }

    public static FloatTensor zeros(int... shape) {
        return new FloatTensor(new float[Math.toIntExact(numel(shape))], shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        return n;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public int rank() {
        return shape.length;
    }

    public int size() {
        return data.length;
    }

    /** The backing array (not a copy). */
    public float[] data() {
        return data;
    }

    public float get(int... index) {
        return data[offset(index)];
    }

    public void set(float value, int... index) {
        data[offset(index)] = value;
    }

    private int offset(int[] index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index of rank " + index.length + " for shape " + Arrays.toString(shape));
        }
        int off = 0;
        for (int i = 0; i < shape.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " outside " + Arrays.toString(shape));
            }
            off = off * shape[i] + index[i];
        }
        return off;
    }

    public FloatTensor reshape(int... newShape) {
        return new FloatTensor(data, newShape);
    }

    public FloatTensor copy() {
        return new FloatTensor(data.clone(), shape);
    }

    /** Elements per row along axis 0. */
    public int rowSize() {
        return shape.length == 0 ? 1 : data.length / Math.max(1, shape[0]);
    }

    /** Rows [from, to) along axis 0, copied. */
    public FloatTensor rows(int from, int to) {
        if (from < 0 || to > shape[0] || from > to) {
            throw new IndexOutOfBoundsException("rows [" + from + ", " + to + ") of " + Arrays.toString(shape));
        }
        int rs = rowSize();
        int[] s = shape.clone();
        s[0] = to - from;
        return new FloatTensor(Arrays.copyOfRange(data, from * rs, to * rs), s);
    }

    public FloatTensor row(int i) {
        return rows(i, i + 1);
    }

    /** Concatenation along axis 0; all other axes must agree. */
    public static FloatTensor cat(List<FloatTensor> parts) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("cat of no tensors");
        }
        int[] first = parts.get(0).shape;
        int rows = 0;
        int total = 0;
        for (FloatTensor p : parts) {
            if (p.shape.length != first.length
                    || !Arrays.equals(Arrays.copyOfRange(p.shape, 1, p.shape.length), Arrays.copyOfRange(first, 1, first.length))) {
                throw new IllegalArgumentException("cat: shape " + Arrays.toString(p.shape) + " does not match " + Arrays.toString(first));
            }
            rows += p.shape[0];
            total += p.data.length;
        }
        float[] out = new float[total];
        int off = 0;
        for (FloatTensor p : parts) {
            System.arraycopy(p.data, 0, out, off, p.data.length);
            off += p.data.length;
        }
        int[] s = first.clone();
        s[0] = rows;
        return new FloatTensor(out, s);
    }

    public static FloatTensor cat(FloatTensor... parts) {
        return cat(Arrays.asList(parts));
    }

    /** Each row along axis 0 repeated {@code times} times in place: torch's {@code repeat_interleave(times, dim=0)}. */
    public FloatTensor repeatInterleave(int times) {
        int rs = rowSize();
        int[] s = shape.clone();
        s[0] = shape[0] * times;
        float[] out = new float[data.length * times];
        for (int r = 0; r < shape[0]; r++) {
            for (int k = 0; k < times; k++) {
                System.arraycopy(data, r * rs, out, (r * times + k) * rs, rs);
            }
        }
        return new FloatTensor(out, s);
    }

    public boolean allFinite() {
        for (float v : data) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    public float maxAbsDiff(FloatTensor other) {
        if (!Arrays.equals(shape, other.shape)) {
            throw new IllegalArgumentException("shapes differ: " + Arrays.toString(shape) + " vs " + Arrays.toString(other.shape));
        }
        float m = 0;
        for (int i = 0; i < data.length; i++) {
            m = Math.max(m, Math.abs(data[i] - other.data[i]));
        }
        return m;
    }

    @Override
    public String toString() {
        return "FloatTensor" + Arrays.toString(shape);
    }
}
