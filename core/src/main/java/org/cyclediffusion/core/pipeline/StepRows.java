package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The rows one denoising step of an edit sends through the UNet, and how each chain reads its
 * prediction back. diffusers stacks four blocks of {@code batch} rows: (source ∅, target ∅,
 * source c, target c). A chain without guidance needs only its conditional block, so its ∅ block is
 * left out and the others keep their order: a step's UNet output is always diffusers' with blocks
 * removed, which is what the intermediate traces compare.
 *
 * <p>This is what makes the default edit three rows instead of four: at {@code source_guidance_scale
 * = 1} the source chain's guided prediction u + 1·(c − u) is c but for rounding (see
 * {@link EditRequest#sourceGuided()}).
 *
 * <p>A tensor "in chain layout" is one chain's part of a step: {@code [∅; c]} when the chain is
 * guided, {@code c} when not.
 */
final class StepRows {
    private final boolean sourceGuided;
    private final boolean targetGuided;
    private final int batch;

    /** One block of the step: whose it is and whether it is the unconditional (∅) one. */
    private record Block(boolean source, boolean uncond) {
    }

    private final List<Block> blocks = new ArrayList<>();

    StepRows(boolean sourceGuided, boolean targetGuided, int batch) {
        this.sourceGuided = sourceGuided;
        this.targetGuided = targetGuided;
        this.batch = batch;
        if (sourceGuided) {
            blocks.add(new Block(true, true));
        }
        if (targetGuided) {
            blocks.add(new Block(false, true));
        }
        blocks.add(new Block(true, false));
        blocks.add(new Block(false, false));
    }

    /** Rows of one step: {@code batch} per block. */
    int rows() {
        return blocks.size() * batch;
    }

    /** {@code x} in chain layout: twice when guided (the same latents under ∅ and under c). */
    static FloatTensor chainInput(FloatTensor x, boolean guided) {
        return guided ? FloatTensor.cat(x, x) : x;
    }

    /** The step's rows from the two chains' tensors, each in chain layout (latents, states or outputs). */
    FloatTensor stack(FloatTensor source, FloatTensor target) {
        List<FloatTensor> parts = new ArrayList<>(blocks.size());
        for (Block b : blocks) {
            parts.add(b.source() ? block(source, sourceGuided, b.uncond()) : block(target, targetGuided, b.uncond()));
        }
        return FloatTensor.cat(parts);
    }

    /** The source chain's part of a step's output, in chain layout. */
    FloatTensor source(FloatTensor out) {
        return unstack(out, true, sourceGuided);
    }

    /** The target chain's part of a step's output, in chain layout. */
    FloatTensor target(FloatTensor out) {
        return unstack(out, false, targetGuided);
    }

    /**
     * A chain's noise prediction from its output in chain layout: classifier-free guidance
     * ε̂ = ε(∅) + g·(ε(c) − ε(∅)) when guided, ε(c) when not.
     */
    static FloatTensor prediction(FloatTensor chainOut, boolean guided, double scale) {
        if (!guided) {
            return chainOut;
        }
        int b = chainOut.dim(0) / 2;
        return guide(chainOut.rows(0, b), chainOut.rows(b, 2 * b), scale);
    }

    /** diffusers' arithmetic, in float32 and its order: {@code u + g * (c - u)}. */
    static FloatTensor guide(FloatTensor uncond, FloatTensor cond, double scale) {
        float g = (float) scale;
        float[] u = uncond.data();
        float[] c = cond.data();
        float[] out = new float[u.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = u[i] + g * (c[i] - u[i]);
        }
        return new FloatTensor(out, uncond.shape());
    }

    private FloatTensor block(FloatTensor chain, boolean guided, boolean uncond) {
        int expected = (guided ? 2 : 1) * batch;
        if (chain.dim(0) != expected) {
            throw new IllegalArgumentException("chain tensor of " + chain.dim(0) + " rows: expected " + expected);
        }
        int from = guided && !uncond ? batch : 0;
        return chain.rows(from, from + batch);
    }

    private FloatTensor unstack(FloatTensor out, boolean source, boolean guided) {
        if (out.dim(0) != rows()) {
            throw new IllegalArgumentException("step output of " + out.dim(0) + " rows: expected " + rows());
        }
        FloatTensor uncond = null;
        FloatTensor cond = null;
        for (int i = 0; i < blocks.size(); i++) {
            Block b = blocks.get(i);
            if (b.source() == source) {
                FloatTensor rows = out.rows(i * batch, (i + 1) * batch);
                if (b.uncond()) {
                    uncond = rows;
                } else {
                    cond = rows;
                }
            }
        }
        return guided ? FloatTensor.cat(uncond, cond) : cond;
    }
}
