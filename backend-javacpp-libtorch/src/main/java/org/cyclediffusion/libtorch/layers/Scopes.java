package org.cyclediffusion.libtorch.layers;

import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Runs one layer's work in its own {@link PointerScope}, so its temporaries (and their native
 * storage) are freed when the layer returns rather than at the end of the whole forward pass:
 * full-size activations would otherwise pile up to several GB. Only the result survives, handed
 * to the enclosing scope.
 */
public final class Scopes {
    private Scopes() {
    }

    /**
     * {@code body} must return a tensor it created (not one of its inputs): the result is moved
     * from the child scope to the enclosing one, which then owns it.
     */
    public static Tensor inChildScope(Supplier<Tensor> body) {
        PointerScope parent = PointerScope.getInnerScope();
        Tensor out;
        try (PointerScope child = new PointerScope()) {
            out = body.get();
            out.retainReference(); // outlives the child scope's release
        }
        if (parent != null) {
            parent.attach(out); // +1 owned by the parent ...
            out.releaseReference(); // ... and our extra reference dropped
        }
        return out;
    }

    /**
     * {@code layer(x)}, then frees {@code x} at once rather than when the enclosing scope closes: for a
     * chain of blocks (the VAE's), where each block's input is dead once its output exists. Otherwise
     * every block's output stays alive to the end of the pass, the heap grows by all of them, and in a
     * VM each new page is a dear first touch. {@code x} must be a tensor this pass made and nothing
     * reads afterwards, never the caller's input; a result that views {@code x} keeps its storage.
     */
    public static Tensor consume(Tensor x, UnaryOperator<Tensor> layer) {
        Tensor y = layer.apply(x);
        if (y != x) {
            x.close(); // the scope's own release of it later is a no-op
        }
        return y;
    }
}
