package org.cyclediffusion.libtorch;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The seeded initialisation of a random-weight model, chosen so that activations stay O(1) through
 * the deep full-size networks: weights of rank ≥ 2 (matrices, kernels, embedding tables) have
 * standard deviation 1/sqrt(fan_in), norm scales 1 ± 0.1, biases and other vectors 0.02 — the rule
 * the LibTorch tests' {@code RandomWeights} uses — drawn uniformly (U(−a, a) with a = √3·std, the
 * same variance as torch's default {@code kaiming_uniform_}-style init and fast to draw in Java).
 * Each tensor has its own stream, seeded from the model seed and the tensor's name, so a tensor's
 * values do not depend on which other tensors are written or in what order.
 */
final class RandomInit {
    private static final int CHUNK = 1 << 15;

    private RandomInit() {
    }

    /** Standard deviation of the tensor's values. */
    static double std(String name, long[] shape) {
        if (shape.length >= 2) {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) {
                fanIn *= shape[i];
            }
            return 1 / Math.sqrt(fanIn);
        }
        return isNormScale(name, shape) ? 0.1 : 0.02;
    }

    /** Mean of the tensor's values: 1 for a norm's scale, else 0. */
    static double mean(String name, long[] shape) {
        return isNormScale(name, shape) ? 1 : 0;
    }

    /** The weight of a LayerNorm or GroupNorm: {@code layer_norm1}, {@code pre_layrnorm}, {@code group_norm}, {@code conv_norm_out}, {@code norm1}. */
    static boolean isNormScale(String name, long[] shape) {
        if (shape.length != 1 || !name.endsWith(".weight")) {
            return false;
        }
        String layer = name.substring(0, name.lastIndexOf('.'));
        String last = layer.substring(layer.lastIndexOf('.') + 1);
        return last.contains("norm"); // "layrnorm" too
    }

    /** Writes {@code numel(shape)} little-endian float32 values of tensor {@code name} for {@code seed}. */
    static void writeF32(String name, long[] shape, long seed, OutputStream out) throws IOException {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        SplittableRandom rng = new SplittableRandom(mix(seed, name));
        float a = (float) (Math.sqrt(3) * std(name, shape));
        float m = (float) mean(name, shape);
        float[] chunk = new float[CHUNK];
        ByteBuffer bytes = ByteBuffer.allocate(4 * CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < n; ) {
            int k = (int) Math.min(CHUNK, n - done);
            for (int i = 0; i < k; i++) {
                // 24 random bits → a float uniform in [-1, 1)
                chunk[i] = m + a * ((rng.nextInt() >> 8) * 0x1.0p-23f);
            }
            bytes.clear();
            bytes.asFloatBuffer().put(chunk, 0, k);
            out.write(bytes.array(), 0, 4 * k);
            done += k;
        }
    }

    /** Writes {@code numel(shape)} copies of {@code value} as little-endian float32. */
    static void writeConstant(long[] shape, float value, OutputStream out) throws IOException {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value);
        for (long i = 0; i < n; i++) {
            out.write(b.array());
        }
    }

    /** The seed of one tensor's stream: the model seed mixed with a 64-bit FNV-1a hash of the name. */
    static long mix(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte c : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (c & 0xff)) * 0x100000001b3L;
        }
        return new SplittableRandom(seed ^ h).nextLong();
    }
}
